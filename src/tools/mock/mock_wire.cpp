#include "tools/mock/mock_wire.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json.hpp>

#include "tools/mock/mock.h"

namespace torii {
namespace json = boost::json;

namespace {

struct KnobSpec {
  std::string_view name;  // body name; the header is x-mock- + name with '-' for '_'
  int MockKnobs::*field;
  int min, max;
};

constexpr int kMaxMs = 3'600'000;
constexpr KnobSpec kKnobs[] = {
    {"latency_ms", &MockKnobs::latency_ms, 0, kMaxMs},
    {"ttft_ms", &MockKnobs::ttft_ms, 0, kMaxMs},
    {"chunks", &MockKnobs::chunks, 0, 100'000},
    {"interval_ms", &MockKnobs::interval_ms, 0, kMaxMs},
    {"tokens_per_chunk", &MockKnobs::tokens_per_chunk, 0, 100},
    {"status", &MockKnobs::status, 0, 599},
    {"fail_percent", &MockKnobs::fail_percent, 0, 100},
    {"retry_after", &MockKnobs::retry_after, 0, 86'400},
    {"reset_after_chunks", &MockKnobs::reset_after_chunks, 0, 100'000},
    {"stall_ms", &MockKnobs::stall_ms, 0, kMaxMs},
    {"stall_after_chunks", &MockKnobs::stall_after_chunks, 0, 100'000},
    {"thinking", &MockKnobs::thinking, 0, 1},
    {"cached_tokens", &MockKnobs::cached_tokens, 0, 100'000'000},
    {"cache_write_tokens", &MockKnobs::cache_write_tokens, 0, 100'000'000},
    {"blocked", &MockKnobs::blocked, 0, 1},
    {"tool_call", &MockKnobs::tool_call, -1, 1},
    {"stream_usage", &MockKnobs::stream_usage, 0, 1},
    {"fail_first", &MockKnobs::fail_first, 0, 1'000'000},
    {"glue", &MockKnobs::glue, 0, 1},
    {"polls", &MockKnobs::polls, 0, 1000},
};

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Matches a header knob name ("latency-ms", any case) against a body name ("latency_ms").
bool header_name_is(std::string_view header_knob, std::string_view name) {
  if (header_knob.size() != name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = ascii_lower(header_knob[i]);
    if (c == '-') c = '_';
    if (c != name[i]) return false;
  }
  return true;
}

ApiError bad_knob(std::string_view name, std::string_view how, const KnobSpec* spec) {
  std::string msg = "mock knob '" + std::string(name) + "' " + std::string(how);
  if (spec) {
    msg += " (an integer from " + std::to_string(spec->min) + " to " + std::to_string(spec->max);
    if (spec->field == &MockKnobs::status) msg += "; 0 or 200-599";
    msg += ")";
  }
  return ApiError::invalid_request(std::move(msg), "mock." + std::string(name),
                                   "invalid_mock_knob");
}

Result<void> set_knob(MockKnobs& knobs, const KnobSpec& spec, std::int64_t v) {
  bool bad_status = spec.field == &MockKnobs::status && v != 0 && v < 200;
  if (v < spec.min || v > spec.max || bad_status)
    return bad_knob(spec.name, "is out of range", &spec);
  knobs.*spec.field = static_cast<int>(v);
  return {};
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Calls fn(text) for each text piece of a message content (string or array of parts).
template <class Fn>
void for_each_text(const json::value& content, Fn&& fn) {
  if (const auto* s = content.if_string()) {
    fn(std::string_view(*s));
    return;
  }
  const auto* parts = content.if_array();
  if (!parts) return;
  for (const auto& part : *parts) {
    const auto* obj = part.if_object();
    if (!obj) continue;
    const auto* text = obj->if_contains("text");
    if (text && text->is_string()) fn(std::string_view(text->get_string()));
  }
}

constexpr std::string_view kFallbackWords[] = {
    "The",   "mock",    "gate",  "opens", "and",   "tokens", "flow",  "through", "torii",
    "like",  "water",   "over",  "old",   "stone", "in",     "a",     "quiet",   "garden",
};

}  // namespace

MockKnobs MockKnobs::from_options(const MockOptions& o) {
  MockKnobs k;
  k.latency_ms = std::max(0, o.latency_ms);
  k.ttft_ms = std::max(0, o.ttft_ms);
  k.chunks = std::max(0, o.chunks);
  k.interval_ms = std::max(0, o.interval_ms);
  k.tokens_per_chunk = std::max(0, o.tokens_per_chunk);
  return k;
}

int MockKnobs::fault_status(int roll, std::int64_t seen) const {
  const bool has_status = status >= 400;
  if (fail_first >= 0) {
    if (seen <= fail_first) return has_status ? status : 500;
    if (fail_percent < 0) return 0;
  }
  if (fail_percent < 0) return has_status ? status : 0;
  if (roll < fail_percent) return has_status ? status : 500;
  return 0;
}

Result<void> apply_header_knobs(MockKnobs& knobs, const Headers& headers) {
  constexpr std::string_view prefix = "x-mock-";
  for (const auto& [name, value] : headers) {
    if (name.size() <= prefix.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < prefix.size() && match; ++i)
      match = ascii_lower(name[i]) == prefix[i];
    if (!match) continue;
    std::string_view knob = std::string_view(name).substr(prefix.size());
    const KnobSpec* spec = nullptr;
    for (const auto& s : kKnobs)
      if (header_name_is(knob, s.name)) spec = &s;
    if (!spec) return bad_knob(name, "is unknown", nullptr);

    std::string_view v = value;
    while (!v.empty() && is_space(v.front())) v.remove_prefix(1);
    while (!v.empty() && is_space(v.back())) v.remove_suffix(1);
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size())
      return bad_knob(spec->name, "is not a number", spec);
    if (auto r = set_knob(knobs, *spec, n); !r) return r;
  }
  return {};
}

Result<void> apply_body_knobs(MockKnobs& knobs, const json::value& mock) {
  if (mock.is_null()) return {};
  const auto* obj = mock.if_object();
  if (!obj)
    return ApiError::invalid_request("'mock' must be an object of knobs", "mock",
                                     "invalid_mock_knob");
  for (const auto& kv : *obj) {
    const KnobSpec* spec = nullptr;
    for (const auto& s : kKnobs)
      if (s.name == std::string_view(kv.key())) spec = &s;
    if (!spec) return bad_knob(kv.key(), "is unknown", nullptr);
    const json::value& v = kv.value();
    if (v.is_null()) continue;  // null keeps the default
    std::int64_t n = 0;
    if (v.is_int64()) {
      n = v.get_int64();
    } else if (v.is_uint64()) {
      n = std::numeric_limits<std::int64_t>::max();  // out of range for every knob
    } else if (v.is_double() && std::isfinite(v.get_double()) &&
               std::trunc(v.get_double()) == v.get_double() && std::abs(v.get_double()) < 1e15) {
      n = static_cast<std::int64_t>(v.get_double());
    } else {
      return bad_knob(spec->name, "is not a number", spec);
    }
    if (auto r = set_knob(knobs, *spec, n); !r) return r;
  }
  return {};
}

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t run = 0;  // start of the current run of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void append_message_text(std::string& out, const json::value& content) {
  bool first = true;
  for_each_text(content, [&](std::string_view text) {
    if (!first) out += ' ';
    first = false;
    out.append(text);
  });
}

std::int64_t estimate_prompt_tokens(const json::value& messages) {
  std::int64_t bytes = 0;
  if (const auto* arr = messages.if_array()) {
    for (const auto& m : *arr) {
      const auto* obj = m.if_object();
      if (!obj) continue;
      if (const auto* content = obj->if_contains("content"))
        for_each_text(*content, [&](std::string_view t) { bytes += std::int64_t(t.size()); });
      // Tool calls are prompt text too when the conversation is sent back.
      const auto* calls = obj->if_contains("tool_calls");
      if (!calls || !calls->is_array()) continue;
      for (const auto& call : calls->get_array()) {
        const auto* fn = call.is_object() ? call.get_object().if_contains("function") : nullptr;
        if (!fn || !fn->is_object()) continue;
        for (std::string_view key : {"name", "arguments"}) {
          const auto* v = fn->get_object().if_contains(key);
          if (v && v->is_string()) bytes += std::int64_t(v->get_string().size());
        }
      }
    }
  }
  return std::max<std::int64_t>(1, (bytes + 3) / 4);
}

MockWords::MockWords(std::string_view text, std::int64_t needed, bool glue) : glue_(glue) {
  collect(text, needed);
}

MockWords::MockWords(const json::value& messages, std::int64_t needed, bool glue) : glue_(glue) {
  std::string text;
  if (const auto* arr = messages.if_array()) {
    for (auto it = arr->rbegin(); it != arr->rend(); ++it) {
      const auto* obj = it->if_object();
      const auto* role = obj ? obj->if_contains("role") : nullptr;
      if (!role || !role->is_string() || role->get_string() != "user") continue;
      if (const auto* content = obj->if_contains("content")) append_message_text(text, *content);
      break;
    }
  }
  collect(text, needed);
}

void MockWords::collect(std::string_view text, std::int64_t needed) {
  std::size_t i = 0;
  while (i < text.size() && std::int64_t(ends_.size()) < needed) {
    while (i < text.size() && is_space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) add(text.substr(start, i - start));
  }
  if (ends_.empty())
    for (std::string_view w : kFallbackWords) add(w);
}

std::string_view MockWords::word(std::size_t i) const {
  const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
  return std::string_view(text_).substr(begin, ends_[i] - 1 - begin);
}

void MockWords::add(std::string_view word) {
  append_json_escaped(text_, word);
  text_ += ' ';
  ends_.push_back(static_cast<std::uint32_t>(text_.size()));
}

void MockWords::append(std::string& out, std::int64_t first, std::int64_t count) const {
  const auto n = static_cast<std::int64_t>(ends_.size());
  if (glue_) {  // word by word, without the spaces (the run copy below keeps them)
    for (std::int64_t k = 0; k < count; ++k)
      out.append(word(static_cast<std::size_t>((first + k) % n)));
    return;
  }
  for (std::int64_t k = 0; k < count;) {
    const std::int64_t i = (first + k) % n;
    // Copy the longest contiguous run at once: words [i, min(n, i + left)).
    const std::int64_t run = std::min(n - i, count - k);
    const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
    const std::size_t end = ends_[i + run - 1];
    out.append(text_, begin, end - begin);
    k += run;
  }
}

ApiError mock_fault_error(int status) {
  std::string msg = "mock: injected failure (status " + std::to_string(status) + ")";
  switch (status) {
    case 400: return ApiError::invalid_request(std::move(msg), {}, "mock_injected");
    case 401: return ApiError::authentication(std::move(msg));
    case 403: return ApiError::permission(std::move(msg));
    case 404: return ApiError::not_found(std::move(msg));
    case 413: return ApiError::too_large(std::move(msg));
    case 429: return ApiError::rate_limited(std::move(msg));
    case 503: return ApiError::unavailable(std::move(msg));
    default: break;
  }
  ApiError e;
  e.status = status;
  e.type = status >= 500 ? "server_error" : "invalid_request_error";
  e.code = "mock_injected";
  e.message = std::move(msg);
  return e;
}

}  // namespace torii
