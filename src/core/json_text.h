#pragma once
// Small helpers to write JSON text by hand on hot paths (stream chunks), where building a
// boost::json::value first would cost an allocation per key. Output is always valid JSON.
#include <cstdint>
#include <string>
#include <string_view>

namespace torii {

// Appends `s` as a quoted JSON string (escaping quotes, backslashes and control characters;
// bytes >= 0x80 are copied as they are, so valid UTF-8 stays valid).
void append_json_string(std::string& out, std::string_view s);
// Appends a decimal integer.
void append_json_int(std::string& out, int64_t v);

}  // namespace torii
