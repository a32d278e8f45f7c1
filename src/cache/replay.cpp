#include "cache/replay.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace torii::cache {

namespace json = boost::json;

namespace {

void zero_numbers(json::value& v) {
  if (v.is_number()) {
    v = 0;
  } else if (v.is_object()) {
    for (auto& kv : v.get_object()) zero_numbers(kv.value());
  } else if (v.is_array()) {
    for (auto& x : v.get_array()) zero_numbers(x);
  }
}

// Zeroes every "usage" object under `v` (depth-limited: usage sits at most two levels down).
void zero_usage(json::value& v, int depth) {
  if (depth > 3) return;
  if (auto* o = v.if_object()) {
    for (auto& kv : *o) {
      if (kv.key() == "usage" && kv.value().is_object()) zero_numbers(kv.value());
      else zero_usage(kv.value(), depth + 1);
    }
  }
}

std::optional<std::string> rewrite(std::string_view data) {
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) return std::nullopt;
  zero_usage(v, 0);
  return json::serialize(v);
}

}  // namespace

std::optional<std::string> zero_usage_json(std::string_view body) {
  if (body.find("\"usage\"") == std::string_view::npos) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::string(body);
  }
  return rewrite(body);
}

std::optional<std::string> zero_usage_sse(std::string_view stream) {
  std::string out;
  out.reserve(stream.size());
  std::size_t at = 0;
  while (at < stream.size()) {
    std::size_t eol = stream.find('\n', at);
    const std::size_t end = eol == std::string_view::npos ? stream.size() : eol + 1;
    std::string_view line = stream.substr(at, end - at);
    at = end;
    constexpr std::string_view data = "data: ";
    if (line.substr(0, data.size()) == data &&
        line.find("\"usage\"") != std::string_view::npos) {
      std::string_view payload = line.substr(data.size());
      bool cr = false;
      if (!payload.empty() && payload.back() == '\n') payload.remove_suffix(1);
      if (!payload.empty() && payload.back() == '\r') payload.remove_suffix(1), cr = true;
      auto rewritten = rewrite(payload);
      if (!rewritten) return std::nullopt;
      out += data;
      out += *rewritten;
      out += cr ? "\r\n" : "\n";
      continue;
    }
    out += line;
  }
  return out;
}

}  // namespace torii::cache
