#pragma once
// Percent-encoding of one URL path segment (a model id, a deployment, a voice id, a job id):
// everything but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~) becomes %XX.
#include <string>
#include <string_view>

namespace torii {

inline void append_path_segment(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

inline std::string path_segment(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_path_segment(out, s);
  return out;
}

}  // namespace torii
