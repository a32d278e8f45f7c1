#pragma once
// UTF-8 checks for the tokenizer (internal to src/tokenizer). PCRE2 in UTF mode needs valid
// input; an invalid one is repaired the way a WHATWG TextDecoder (Node's) decodes it, so that the
// ids equal what js-tiktoken gives for the same bytes read as a JavaScript string.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace torii::tokenizer {

namespace utf8_detail {

// The length of the valid sequence at s[i] (1-4), or 0 when it is invalid or truncated.
inline std::size_t valid_at(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  std::size_t need;
  uint8_t lo = 0x80, hi = 0xbf;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;  // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return 0;
    uint8_t x = b(i + k);
    if (x < lo || x > hi) return 0;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

}  // namespace utf8_detail

// True when s is well-formed UTF-8 (ASCII runs are checked 8 bytes at a time).
inline bool utf8_valid(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    std::size_t len = utf8_detail::valid_at(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// The length of the character at s[i] in valid UTF-8 (1 when s[i] is not a lead byte).
inline std::size_t utf8_char_len(std::string_view s, std::size_t i) {
  std::size_t len = i < s.size() ? utf8_detail::valid_at(s, i) : 1;
  return len == 0 ? 1 : len;
}

// s with each maximal invalid subsequence replaced by U+FFFD (WHATWG decoding).
inline std::string utf8_repair(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = utf8_detail::valid_at(s, i);
    if (len) {
      out.append(s.data() + i, len);
      i += len;
      continue;
    }
    // Skip the lead byte and the continuation bytes that were still acceptable after it.
    std::size_t k = i + 1;
    auto c = static_cast<uint8_t>(s[i]);
    std::size_t need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2
                       : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    uint8_t hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    for (std::size_t got = 0; got < need && k < s.size(); ++got, ++k) {
      auto x = static_cast<uint8_t>(s[k]);
      if (x < lo || x > hi) break;
      lo = 0x80;
      hi = 0xbf;
    }
    out += "\xef\xbf\xbd";
    i = k;
  }
  return out;
}

}  // namespace torii::tokenizer
