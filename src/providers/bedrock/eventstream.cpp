#include "providers/bedrock/eventstream.h"

#include <boost/crc.hpp>

#include <array>

namespace torii::aws {
namespace {

constexpr std::size_t kPrelude = 12;  // total length, headers length, prelude CRC
constexpr std::size_t kOverhead = 16;  // prelude + message CRC

std::uint32_t be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

void put_be32(std::string& out, std::uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out.append(b, 4);
}

void overwrite_be32(std::string& out, std::size_t at, std::uint32_t v) {
  out[at] = static_cast<char>(v >> 24);
  out[at + 1] = static_cast<char>(v >> 16);
  out[at + 2] = static_cast<char>(v >> 8);
  out[at + 3] = static_cast<char>(v);
}

// Value width of a fixed-size type; -1 for length-prefixed; -2 for unknown.
int fixed_width(std::uint8_t type) {
  switch (type) {
    case 0: case 1: return 0;
    case 2: return 1;
    case 3: return 2;
    case 4: return 4;
    case 5: case 8: return 8;
    case 9: return 16;
    case 6: case 7: return -1;
    default: return -2;
  }
}

}  // namespace

std::string_view to_string(EventStreamError e) {
  switch (e) {
    case EventStreamError::none: return "no error";
    case EventStreamError::bad_length: return "bad message length";
    case EventStreamError::bad_prelude_crc: return "bad prelude CRC";
    case EventStreamError::bad_message_crc: return "bad message CRC";
    case EventStreamError::header_overrun: return "header runs past the header block";
    case EventStreamError::bad_header_type: return "unknown header value type";
  }
  return "unknown error";
}

std::uint32_t crc32(std::string_view data, std::uint32_t crc) {
  // The running remainder is the finished CRC xor 0xFFFFFFFF; Boost takes the seed unreflected
  // and reflects it itself for this reflected CRC, so it is bit-reversed first.
  std::uint32_t rem = crc ^ 0xFFFFFFFFu, seed = 0;
  for (int i = 0; i < 32; ++i, rem >>= 1) seed = (seed << 1) | (rem & 1u);
  boost::crc_32_type c(seed);
  c.process_bytes(data.data(), data.size());
  return c.checksum();
}

EventStreamError for_each_event_header(std::string_view raw,
                                       const std::function<void(const EventHeader&)>& on_header) {
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t name_len = static_cast<unsigned char>(raw[i++]);
    if (raw.size() - i < name_len + 1) return EventStreamError::header_overrun;
    EventHeader h;
    h.name = raw.substr(i, name_len);
    i += name_len;
    auto type = static_cast<std::uint8_t>(raw[i++]);
    int width = fixed_width(type);
    if (width == -2) return EventStreamError::bad_header_type;
    std::size_t len = 0;
    if (width >= 0) {
      len = static_cast<std::size_t>(width);
    } else {
      if (raw.size() - i < 2) return EventStreamError::header_overrun;
      len = (std::size_t{static_cast<unsigned char>(raw[i])} << 8) |
            static_cast<unsigned char>(raw[i + 1]);
      i += 2;
    }
    if (raw.size() - i < len) return EventStreamError::header_overrun;
    h.type = static_cast<EventHeaderType>(type);
    h.value = raw.substr(i, len);
    i += len;
    if (on_header) on_header(h);
  }
  return EventStreamError::none;
}

Result<void> EventStreamDecoder::fail(EventStreamError e) {
  if (error_ == EventStreamError::none) error_ = e;
  buf_.clear();
  buf_.shrink_to_fit();
  return ApiError::bad_gateway(
      "upstream event stream is corrupt: " + std::string(to_string(error_)), "upstream_bad_frame");
}

std::size_t EventStreamDecoder::check_prelude(std::string_view p) {
  std::uint32_t total = be32(p.data());
  std::uint32_t headers = be32(p.data() + 4);
  if (crc32(p.substr(0, 8)) != be32(p.data() + 8)) {
    error_ = EventStreamError::bad_prelude_crc;
    return 0;
  }
  if (total < kOverhead || total > max_message_bytes_ || headers > total - kOverhead) {
    error_ = EventStreamError::bad_length;
    return 0;
  }
  return total;
}

bool EventStreamDecoder::decode_frame(std::string_view frame,
                                      const std::function<void(const EventMessage&)>& on_message) {
  std::size_t body = frame.size() - 4;
  if (crc32(frame.substr(0, body)) != be32(frame.data() + body)) {
    error_ = EventStreamError::bad_message_crc;
    return false;
  }
  std::uint32_t headers_len = be32(frame.data() + 4);
  EventMessage m;
  m.raw_headers = frame.substr(kPrelude, headers_len);
  m.payload = frame.substr(kPrelude + headers_len, body - kPrelude - headers_len);
  EventStreamError e = for_each_event_header(m.raw_headers, [&m](const EventHeader& h) {
    if (h.type != EventHeaderType::string || h.name.size() < 2 || h.name[0] != ':') return;
    if (h.name == ":message-type") m.message_type = h.value;
    else if (h.name == ":event-type") m.event_type = h.value;
    else if (h.name == ":exception-type") m.exception_type = h.value;
    else if (h.name == ":content-type") m.content_type = h.value;
    else if (h.name == ":error-code") m.error_code = h.value;
    else if (h.name == ":error-message") m.error_message = h.value;
  });
  if (e != EventStreamError::none) {
    error_ = e;
    return false;
  }
  if (on_message) on_message(m);
  return true;
}

Result<void> EventStreamDecoder::feed(std::string_view bytes,
                                      const std::function<void(const EventMessage&)>& on_message) {
  if (error_ != EventStreamError::none) return fail(error_);
  while (!bytes.empty()) {
    if (buf_.empty()) {
      // Fast path: whole frames straight from the input, no copy.
      if (bytes.size() >= kPrelude) {
        std::size_t total = check_prelude(bytes);
        if (total == 0) return fail(error_);
        if (bytes.size() >= total) {
          if (!decode_frame(bytes.substr(0, total), on_message)) return fail(error_);
          bytes.remove_prefix(total);
          continue;
        }
        buf_.reserve(total);
      }
      buf_.append(bytes);
      return {};
    }
    // Slow path: complete the buffered frame, first its prelude, then the rest.
    if (buf_.size() < kPrelude) {
      std::size_t take = std::min(kPrelude - buf_.size(), bytes.size());
      buf_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buf_.size() < kPrelude) return {};
    }
    std::size_t total = check_prelude(buf_);
    if (total == 0) return fail(error_);
    if (buf_.capacity() < total) buf_.reserve(total);
    std::size_t take = std::min(total - buf_.size(), bytes.size());
    buf_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (buf_.size() < total) return {};
    if (!decode_frame(buf_, on_message)) return fail(error_);
    buf_.clear();
  }
  return {};
}

bool append_event_frame(std::string& out, std::span<const EventHeader> headers,
                        std::string_view payload) {
  std::size_t headers_len = 0;
  for (const auto& h : headers) {
    if (h.name.empty() || h.name.size() > 255) return false;
    int width = fixed_width(static_cast<std::uint8_t>(h.type));
    if (width == -2) return false;
    if (width >= 0 && h.value.size() != static_cast<std::size_t>(width)) return false;
    if (width == -1 && h.value.size() > 0xFFFF) return false;
    headers_len += 1 + h.name.size() + 1 + (width == -1 ? 2 : 0) + h.value.size();
  }
  std::size_t total = kOverhead + headers_len + payload.size();
  if (total > 0xFFFFFFFFu) return false;

  std::size_t start = out.size();
  out.reserve(start + total);
  put_be32(out, static_cast<std::uint32_t>(total));
  put_be32(out, static_cast<std::uint32_t>(headers_len));
  put_be32(out, crc32(std::string_view(out).substr(start, 8)));
  for (const auto& h : headers) {
    out.push_back(static_cast<char>(h.name.size()));
    out.append(h.name);
    out.push_back(static_cast<char>(h.type));
    if (fixed_width(static_cast<std::uint8_t>(h.type)) == -1) {
      out.push_back(static_cast<char>(h.value.size() >> 8));
      out.push_back(static_cast<char>(h.value.size() & 0xFF));
    }
    out.append(h.value);
  }
  out.append(payload);
  std::size_t body = out.size();
  out.append(4, '\0');
  overwrite_be32(out, body, crc32(std::string_view(out).substr(start, body - start)));
  return true;
}

void append_event(std::string& out, std::string_view event_type, std::string_view json_payload) {
  const std::array<EventHeader, 3> headers{EventHeader::string(":event-type", event_type),
                                           EventHeader::string(":content-type", "application/json"),
                                           EventHeader::string(":message-type", "event")};
  append_event_frame(out, headers, json_payload);
}

void append_exception(std::string& out, std::string_view exception_type,
                      std::string_view json_payload) {
  const std::array<EventHeader, 3> headers{
      EventHeader::string(":exception-type", exception_type),
      EventHeader::string(":content-type", "application/json"),
      EventHeader::string(":message-type", "exception")};
  append_event_frame(out, headers, json_payload);
}

}  // namespace torii::aws
