#include "core/multipart.h"

#include <strings.h>

#include <atomic>
#include <chrono>
#include <cstdio>

namespace torii {

namespace {

ApiError bad(std::string why) {
  return ApiError::invalid_request("malformed multipart/form-data body: " + std::move(why), {},
                                   "invalid_multipart");
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 2046's bchars, the characters a boundary may hold.
bool boundary_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// Parameters of a header value ("form-data; name=\"a\"; filename=b"): calls f(name, value)
// for each, quoted strings unescaped. False when a quoted string is not closed.
template <class F>
bool for_each_param(std::string_view v, F&& f) {
  std::size_t i = v.find(';');
  while (i != std::string_view::npos && i < v.size()) {
    ++i;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    const std::size_t eq = v.find('=', i);
    if (eq == std::string_view::npos) return true;
    std::string_view name = trim(v.substr(i, eq - i));
    std::string value;
    std::size_t j = eq + 1;
    while (j < v.size() && (v[j] == ' ' || v[j] == '\t')) ++j;
    if (j < v.size() && v[j] == '"') {
      ++j;
      bool closed = false;
      for (; j < v.size(); ++j) {
        if (v[j] == '\\' && j + 1 < v.size()) {
          value.push_back(v[++j]);
        } else if (v[j] == '"') {
          closed = true;
          ++j;
          break;
        } else {
          value.push_back(v[j]);
        }
      }
      if (!closed) return false;
      i = v.find(';', j);
    } else {
      const std::size_t end = v.find(';', j);
      value = std::string(trim(v.substr(j, end == std::string_view::npos ? v.npos : end - j)));
      i = end;
    }
    f(name, std::move(value));
  }
  return true;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semi)), "multipart/form-data")) return std::nullopt;
  std::optional<std::string> boundary;
  const bool closed = for_each_param(content_type, [&](std::string_view name, std::string value) {
    if (iequals(name, "boundary") && !boundary) boundary = std::move(value);
  });
  if (!closed || !boundary || boundary->empty() || boundary->size() > 70 ||
      boundary->back() == ' ')
    return std::nullopt;
  for (char c : *boundary)
    if (!boundary_char(c)) return std::nullopt;
  return boundary;
}

MultipartParser::MultipartParser(std::string boundary, Limits limits)
    : delimiter_("\r\n--" + boundary), limits_(limits) {}

Result<void> MultipartParser::fail(std::string why) {
  error_ = bad(std::move(why));
  return *error_;
}

Result<void> MultipartParser::parse_headers(std::string_view block) {
  Span& part = parts_.back();
  bool disposition = false;
  while (!block.empty()) {
    std::size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail("a part header is not 'Name: value'");
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-disposition")) {
      const std::size_t semi = value.find(';');
      if (!iequals(trim(value.substr(0, semi)), "form-data"))
        return fail("a part's Content-Disposition is not form-data");
      disposition = true;
      bool named = false;
      const bool closed = for_each_param(value, [&](std::string_view n, std::string v) {
        if (iequals(n, "name")) {
          part.name = std::move(v);
          named = true;
        } else if (iequals(n, "filename")) {
          part.filename = std::move(v);
          if (part.filename.empty()) part.filename = "upload";
        }
      });
      if (!closed) return fail("a quoted string in Content-Disposition is not closed");
      if (!named || part.name.empty()) return fail("a part has no name");
    } else if (iequals(name, "content-type")) {
      part.content_type = std::string(value);
    }
  }
  if (!disposition) return fail("a part has no Content-Disposition");
  return {};
}

Result<void> MultipartParser::feed(std::string_view all) {
  if (error_) return *error_;
  const std::string_view delim = delimiter_;
  for (;;) {
    switch (state_) {
      case State::preamble: {
        // The first delimiter may open the body (no CRLF before it).
        if (at_ == 0) {
          const std::string_view first = delim.substr(2);
          if (all.size() < first.size()) {
            if (first.substr(0, all.size()) == all) return {};
          } else if (all.substr(0, first.size()) == first) {
            at_ = first.size();
            state_ = State::after_delimiter;
            continue;
          }
        }
        const std::size_t found = all.find(delim, at_);
        if (found == std::string_view::npos) {
          if (all.size() > 1024) return fail("no boundary in its first 1024 bytes");
          return {};
        }
        at_ = found + delim.size();
        state_ = State::after_delimiter;
        continue;
      }
      case State::after_delimiter: {
        std::size_t i = at_;
        while (i < all.size() && (all[i] == ' ' || all[i] == '\t')) ++i;  // transport padding
        if (i + 2 > all.size()) return {};
        if (all.substr(i, 2) == "--") {
          state_ = State::done;
          at_ = i + 2;
          return {};
        }
        if (all.substr(i, 2) != "\r\n") return fail("a boundary is not followed by CRLF");
        if (parts_.size() >= limits_.max_parts)
          return fail("more than " + std::to_string(limits_.max_parts) + " parts");
        parts_.emplace_back();
        at_ = i + 2;
        parts_.back().begin = at_;  // the headers' start, for now
        state_ = State::headers;
        continue;
      }
      case State::headers: {
        const std::size_t start = parts_.back().begin;
        // A part without headers starts with its blank line.
        std::size_t end;
        if (all.size() >= start + 2 && all.substr(start, 2) == "\r\n") {
          end = start;
        } else {
          end = all.find("\r\n\r\n", at_ > start + 3 ? at_ - 3 : start);
          if (end == std::string_view::npos) {
            if (all.size() - start > limits_.max_header_bytes)
              return fail("a part's headers exceed " + std::to_string(limits_.max_header_bytes) +
                          " bytes");
            at_ = all.size();
            return {};
          }
          end += 2;  // the block keeps its last line's CRLF out: [start, end - 2)
        }
        if (end - start > limits_.max_header_bytes)
          return fail("a part's headers exceed " + std::to_string(limits_.max_header_bytes) +
                      " bytes");
        std::string_view block = all.substr(start, end > start ? end - start - 2 : 0);
        if (auto r = parse_headers(block); !r) return r;
        at_ = end + 2;
        parts_.back().begin = at_;
        state_ = State::data;
        continue;
      }
      case State::data: {
        Span& part = parts_.back();
        const std::size_t found = all.find(delim, at_);
        const std::size_t size = (found == std::string_view::npos ? all.size() : found) - part.begin;
        if (part.filename.empty() && size > limits_.max_field_bytes)
          return fail("field '" + part.name + "' exceeds " +
                      std::to_string(limits_.max_field_bytes) + " bytes");
        if (found == std::string_view::npos) {
          // The delimiter may straddle the end: resume where it could begin.
          at_ = std::max(at_, all.size() >= delim.size() ? all.size() - delim.size() + 1 : 0);
          return {};
        }
        part.end = found;
        at_ = found + delim.size();
        state_ = State::after_delimiter;
        continue;
      }
      case State::done:
        return {};
    }
  }
}

Result<Form> MultipartParser::finish(std::string_view all) {
  if (auto r = feed(all); !r) return r.error();
  if (state_ != State::done)
    return bad(parts_.empty() ? "no parts (is the boundary right?)"
                              : "the body ends before the closing boundary");
  Form form;
  form.parts.reserve(parts_.size());
  for (auto& s : parts_) {
    FormPart& p = form.parts.emplace_back();
    p.name = std::move(s.name);
    p.filename = std::move(s.filename);
    p.content_type = std::move(s.content_type);
    p.data = all.substr(s.begin, s.end - s.begin);
  }
  return form;
}

MultipartWriter::MultipartWriter() {
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "torii-%016llx-%08x", static_cast<unsigned long long>(now),
                counter.fetch_add(1, std::memory_order_relaxed));
  boundary_ = buf;
}

std::string MultipartWriter::content_type() const {
  return "multipart/form-data; boundary=" + boundary_;
}

namespace {
// A quoted-string value: quotes and backslashes escaped, line breaks dropped.
void append_quoted(std::string& out, std::string_view v) {
  out.push_back('"');
  for (char c : v) {
    if (c == '\r' || c == '\n') continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}
}  // namespace

void MultipartWriter::field(std::string_view name, std::string_view value) {
  body_ += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=";
  append_quoted(body_, name);
  body_ += "\r\n\r\n";
  body_ += value;
  body_ += "\r\n";
}

void MultipartWriter::file(std::string_view name, std::string_view filename,
                           std::string_view content_type, std::string_view data) {
  body_.reserve(body_.size() + data.size() + 256);
  body_ += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=";
  append_quoted(body_, name);
  body_ += "; filename=";
  append_quoted(body_, filename.empty() ? "upload" : filename);
  body_ += "\r\nContent-Type: ";
  body_ += content_type.empty() ? std::string_view("application/octet-stream") : content_type;
  body_ += "\r\n\r\n";
  body_ += data;
  body_ += "\r\n";
}

std::string MultipartWriter::close() {
  body_ += "--" + boundary_ + "--\r\n";
  return std::move(body_);
}

}  // namespace torii
