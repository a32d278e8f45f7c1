#pragma once
// Typed lookups in a boost::json object that never throw: a missing key or another type gives
// the empty value. The provider decoders read untrusted upstream JSON with these.
#include <cstdint>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

namespace torii::jsonx {

inline std::string_view sv(const boost::json::string& s) { return {s.data(), s.size()}; }

// The string at `key`, or "".
inline std::string_view str_at(const boost::json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_string() ? sv(v->get_string()) : std::string_view{};
}

// The integer at `key` (a double is truncated), or -1.
inline int64_t int_at(const boost::json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  if (!v) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return -1;
}

inline const boost::json::object* obj_at(const boost::json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

inline const boost::json::array* arr_at(const boost::json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

}  // namespace torii::jsonx
