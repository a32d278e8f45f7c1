#pragma once
// Test support for the JSON splice (core/json_splice.h) and the passthrough encoders that use
// it: request bodies that are hard on a text scanner (escaped quotes, backslash runs, braces
// and commas inside strings, nested "model" keys, unicode, odd whitespace, duplicate keys), a
// seeded generator of many more, and a deep JSON comparison.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace torii::test_bodies {

// Hand-written bodies. Every one is valid JSON (an object).
inline std::vector<std::string> tricky() {
  return {
      R"({"model":"alias","messages":[{"role":"user","content":"hi"}]})",
      "  \n\t{ \"model\" : \"alias\" ,\r\n \"messages\" : [ ] , \"stream\" : true }  \n",
      R"({"messages":[{"role":"user","content":"say \"model\": \"x\", then }"}],"model":"a"})",
      R"({"model":"a","messages":[{"model":"inner","content":[{"model":{"model":1}}]}]})",
      R"({"model":"a","x":"ends in a backslash \\","y":"\\\"","z":"\\\\\\\\"})",
      R"({"model":"a","u":"h\u00e9llo \ud83d\ude00 caf)" "\xc3\xa9" R"( \u0000 \/","k\u00e9y":1})",
      "{\"model\":\"a\",\"\xe2\x98\x83 snow\":\"\xf0\x9f\x98\x80\",\"messages\":[]}",
      R"({"model":"first","messages":[],"model":"last"})",
      R"({"stream":false,"model":"a","stream":true,"stream_options":null,"stream_options":{}})",
      R"({"model":"a","max_completion_tokens":10,"max_tokens":20,"max_completion_tokens":30})",
      R"({"model":"a","max_completion_tokens":10})",
      R"({"model":"a","stream_options":{"include_usage":false,"x":[1,{"include_usage":0}]}})",
      R"({"model":"a","stream_options":{"include_usage":false,"include_usage":null}})",
      R"({"model":"a","stream_options":null})",
      R"({"model":"a","n":-0,"t":1.50,"big":18446744073709551615,"e":-3.75E+2,"z":0})",
      R"({"model":"a","e":{},"a":[],"deep":[[[[{"a":[{"b":"]}"}]}]]]],"t":true,"f":false,"n":null})",
      R"({"model":"a","":"empty key","messages":[{"content":"{[\"]}"}]})",
      R"({})",
      R"({"only":"no model"})",
  };
}

namespace detail {

inline std::string ws(std::mt19937& rng) {
  static const char* kWs[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
  return kWs[rng() % 7];
}

inline std::string string_value(std::mt19937& rng) {
  static const char* kPieces[] = {
      "plain", " ", "\\\"", "\\\\", "\\n", "\\t", "\\/", "\\u00e9", "\\ud83d\\ude00", "\\u0000",
      "{", "}", "[", "]", ",", ":", "\xc3\xa9", "\xe2\x98\x83", "model", "\\\\\\\"", "\\\\\\\\"};
  std::string s = "\"";
  const int n = static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) s += kPieces[rng() % (sizeof kPieces / sizeof *kPieces)];
  return s + "\"";
}

inline std::string value(std::mt19937& rng, int depth);

inline std::string key(std::mt19937& rng) {
  static const char* kKeys[] = {"model",      "messages", "stream",
                                "stream_options", "max_tokens", "max_completion_tokens",
                                "include_usage",  "x",        "content",
                                "\xc3\xa9",       "",         "a b"};
  return std::string("\"") + kKeys[rng() % (sizeof kKeys / sizeof *kKeys)] + "\"";
}

inline std::string value(std::mt19937& rng, int depth) {
  static const char* kScalars[] = {"0",   "-1",    "1.5",  "-3.75e2", "18446744073709551615",
                                   "true", "false", "null", "1.50",   "-0"};
  const unsigned pick = rng() % (depth > 3 ? 2 : 4);
  if (pick == 0) return kScalars[rng() % (sizeof kScalars / sizeof *kScalars)];
  if (pick == 1) return string_value(rng);
  const bool object = pick == 2;
  std::string s = object ? "{" : "[";
  const int n = static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) {
    if (i) s += ws(rng) + "," + ws(rng);
    if (object) s += key(rng) + ws(rng) + ":" + ws(rng);
    s += value(rng, depth + 1);
  }
  return s + (object ? "}" : "]");
}

}  // namespace detail

// A random object body: top-level keys drawn from a small pool (so duplicates and the keys the
// encoders edit are frequent), values of any kind, whitespace anywhere it may go.
inline std::string random_body(std::mt19937& rng) {
  std::string s = detail::ws(rng) + "{" + detail::ws(rng);
  const int n = static_cast<int>(rng() % 9);
  for (int i = 0; i < n; ++i) {
    if (i) s += detail::ws(rng) + "," + detail::ws(rng);
    s += detail::key(rng) + detail::ws(rng) + ":" + detail::ws(rng) + detail::value(rng, 0);
  }
  return s + detail::ws(rng) + "}" + detail::ws(rng);
}

// Deep equality where doubles may differ in the last bits (Boost.JSON 1.81's default number
// parser is fast, not exact, so a re-serialised double can re-parse one ulp away).
inline bool same(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() || b.is_double()) {
    if (!a.is_number() || !b.is_number()) return false;
    const double x = a.to_number<double>(), y = b.to_number<double>();
    return x == y || std::fabs(x - y) <= std::max(std::fabs(x), std::fabs(y)) * 1e-14;
  }
  if (a.kind() != b.kind()) return a == b;  // int64 vs uint64 of the same value compare equal
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      auto other = y.if_contains(kv.key());
      if (!other || !same(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace torii::test_bodies
