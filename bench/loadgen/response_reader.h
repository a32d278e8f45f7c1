#pragma once
// Incremental reader of one HTTP/1.1 response carrying Server-Sent Events, for the bench load
// generator. It takes raw bytes as they arrive (any split), decodes the head, the chunked or
// Content-Length framing, and hands each complete SSE event to a callback. No allocation per
// event beyond the two growing buffers it owns, which are reused across responses.

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace torii::bench {

/// What one SSE event held, as far as the load generator cares.
enum class EventKind { content, other, error, done };

/// Classifies the data of one SSE event (the text after `data:`, all lines joined). A content
/// event carries a non-empty `"content":"..."` string; the role-only first chunk does not.
inline EventKind classify_event(std::string_view data) {
  while (!data.empty() && data.front() == ' ') data.remove_prefix(1);
  if (data.starts_with("[DONE]")) return EventKind::done;
  if (data.starts_with("{\"error\"")) return EventKind::error;
  constexpr std::string_view key = "\"content\":\"";
  auto pos = data.find(key);
  if (pos != std::string_view::npos && pos + key.size() < data.size() &&
      data[pos + key.size()] != '"')
    return EventKind::content;
  return EventKind::other;
}

class ResponseReader {
 public:
  enum class State { head, body, complete, bad };

  /// Forgets the previous response; buffers keep their capacity.
  void reset() {
    state_ = State::head;
    raw_.clear();
    sse_.clear();
    status_ = 0;
    chunked_ = false;
    close_ = false;
    length_ = -1;
    chunk_left_ = 0;
    chunk_phase_ = ChunkPhase::size;
  }

  /// Feeds bytes; calls `on_event(EventKind)` for each complete SSE event. Returns the state.
  template <class OnEvent>
  State feed(std::string_view bytes, OnEvent&& on_event) {
    if (state_ == State::head) {
      raw_.append(bytes);
      auto end = raw_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (raw_.size() > 65536) state_ = State::bad;
        return state_;
      }
      if (!parse_head(std::string_view(raw_).substr(0, end + 2))) return state_ = State::bad;
      state_ = State::body;
      std::string rest = raw_.substr(end + 4);
      raw_.clear();
      if (!chunked_ && length_ == 0) return state_ = State::complete;
      return feed_body(rest, on_event);
    }
    if (state_ == State::body) return feed_body(bytes, on_event);
    return state_;
  }

  /// Called when the peer closed the connection: a body framed by the close is then complete.
  State on_eof() {
    if (state_ == State::body && !chunked_ && length_ < 0) state_ = State::complete;
    return state_;
  }

  int status() const { return status_; }
  bool wants_close() const { return close_; }

 private:
  enum class ChunkPhase { size, data, data_crlf, trailer };

  static bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x | 0x20) == (y | 0x20);
           });
  }

  bool parse_head(std::string_view head) {
    // "HTTP/1.1 200 OK\r\n" then "Name: value\r\n" lines.
    if (head.size() < 12 || !head.starts_with("HTTP/1.")) return false;
    std::from_chars(head.data() + 9, head.data() + 12, status_);
    bool http10 = head[7] == '0';
    close_ = http10;
    auto pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
      auto start = pos + 2;
      pos = head.find("\r\n", start);
      auto line = head.substr(start, (pos == std::string_view::npos ? head.size() : pos) - start);
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      auto name = line.substr(0, colon);
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (iequals(name, "transfer-encoding")) {
        chunked_ = value.find("chunked") != std::string_view::npos;
      } else if (iequals(name, "content-length")) {
        std::int64_t n = -1;
        std::from_chars(value.data(), value.data() + value.size(), n);
        length_ = n;
      } else if (iequals(name, "connection")) {
        if (iequals(value, "close")) close_ = true;
        if (iequals(value, "keep-alive")) close_ = false;
      }
    }
    return status_ >= 100;
  }

  template <class OnEvent>
  State feed_body(std::string_view bytes, OnEvent& on_event) {
    if (!chunked_) {
      if (length_ >= 0) {
        auto take = std::min<std::size_t>(bytes.size(), static_cast<std::size_t>(length_));
        append_sse(bytes.substr(0, take), on_event);
        length_ -= static_cast<std::int64_t>(take);
        if (length_ == 0) state_ = State::complete;
      } else {
        append_sse(bytes, on_event);
      }
      return state_;
    }
    while (!bytes.empty() && state_ == State::body) {
      switch (chunk_phase_) {
        case ChunkPhase::size: {
          // "hex[;ext]\r\n": keep what arrived until the line is whole.
          auto nl = bytes.find('\n');
          raw_.append(bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl + 1));
          bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
          if (nl == std::string_view::npos) {
            if (raw_.size() > 1024) state_ = State::bad;
            break;
          }
          std::size_t n = 0;
          auto [p, ec] = std::from_chars(raw_.data(), raw_.data() + raw_.size(), n, 16);
          if (ec != std::errc() || p == raw_.data()) return state_ = State::bad;
          raw_.clear();
          chunk_left_ = n;
          chunk_phase_ = n == 0 ? ChunkPhase::trailer : ChunkPhase::data;
          break;
        }
        case ChunkPhase::data: {
          auto take = std::min(bytes.size(), chunk_left_);
          append_sse(bytes.substr(0, take), on_event);
          bytes.remove_prefix(take);
          chunk_left_ -= take;
          if (chunk_left_ == 0) chunk_phase_ = ChunkPhase::data_crlf;
          break;
        }
        case ChunkPhase::data_crlf: {
          auto take = std::min(bytes.size(), 2 - raw_.size());
          raw_.append(bytes.substr(0, take));
          bytes.remove_prefix(take);
          if (raw_.size() == 2) {
            if (raw_ != "\r\n") return state_ = State::bad;
            raw_.clear();
            chunk_phase_ = ChunkPhase::size;
          }
          break;
        }
        case ChunkPhase::trailer: {
          raw_.append(bytes);
          bytes = {};
          // No trailers: "\r\n" right away; with trailers: they end with an empty line.
          if (raw_.starts_with("\r\n") || raw_.find("\r\n\r\n") != std::string::npos) {
            state_ = State::complete;
          }
          break;
        }
      }
    }
    return state_;
  }

  template <class OnEvent>
  void append_sse(std::string_view bytes, OnEvent& on_event) {
    for (char c : bytes)
      if (c != '\r') sse_.push_back(c);
    std::size_t start = 0;
    for (;;) {
      auto end = sse_.find("\n\n", start);
      if (end == std::string::npos) break;
      std::string_view event(sse_.data() + start, end - start);
      start = end + 2;
      // Join the data lines; comments and other fields are ignored.
      std::string_view data;
      std::string joined;
      int lines = 0;
      std::size_t p = 0;
      while (p <= event.size()) {
        auto nl = event.find('\n', p);
        auto line = event.substr(p, (nl == std::string_view::npos ? event.size() : nl) - p);
        if (line.starts_with("data:")) {
          line.remove_prefix(5);
          if (lines++ == 0) {
            data = line;
          } else {
            if (lines == 2) joined.assign(data);
            joined.append("\n").append(line);
          }
        }
        if (nl == std::string_view::npos) break;
        p = nl + 1;
      }
      if (lines == 0) continue;
      on_event(classify_event(lines > 1 ? std::string_view(joined) : data));
    }
    sse_.erase(0, start);
  }

  State state_ = State::head;
  std::string raw_;  // the head, a chunk-size line, a chunk's CRLF or the trailer, as it arrives
  std::string sse_;  // decoded body not yet split into events
  int status_ = 0;
  bool chunked_ = false;
  bool close_ = false;
  std::int64_t length_ = -1;
  std::size_t chunk_left_ = 0;
  ChunkPhase chunk_phase_ = ChunkPhase::size;
};

}  // namespace torii::bench
