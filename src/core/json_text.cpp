#include "core/json_text.h"

#include <bit>
#include <charconv>
#include <cstring>

namespace torii {

namespace {

// The index of the first byte at or after `i` that JSON needs escaped ('"', '\\', < 0x20), or
// s.size(). Eight bytes at a time (SWAR): base64 images and long texts are mostly clean runs.
std::size_t next_special(std::string_view s, std::size_t i) {
  if constexpr (std::endian::native == std::endian::little) {
    constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      // A byte's high bit is set in `hit` when it is < 0x20, == '"' or == '\\'. Each test
      // may flag bytes above a true hit (borrows), never below one: the lowest flag is exact.
      const uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
      const uint64_t hit = ((w - ones * 0x20) | (quote - ones) | (slash - ones)) & ~w & highs;
      // ~w clears bytes >= 0x80 (UTF-8), whose own high bit is set; for the quote and slash
      // tests ~w is the same as ~quote / ~slash on the high bit, since '"' and '\\' < 0x80.
      if (hit) return i + (std::countr_zero(hit) >> 3);
    }
  }
  for (; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\') return i;
  }
  return i;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  std::size_t run = 0;  // start of the current run of bytes that need no escaping
  for (std::size_t i = next_special(s, 0); i < s.size(); i = next_special(s, run)) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_json_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace torii
