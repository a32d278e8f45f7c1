#pragma once
// A hand-written matcher of cl100k_base's and o200k_base's split patterns for ASCII text
// (internal to src/tokenizer). Most prompts are mostly ASCII; a PCRE2 call per piece costs about
// half of the tokenizer's time, this a few nanoseconds.
//
// ascii_split(kind, s, i, n) returns the end of the regex's match at i, or 0 when the answer
// depends on a non-ASCII byte (a letter, digit or space run that may go on, a lookahead): the
// caller then asks PCRE2. It follows the patterns' alternatives in order, with the same
// backtracking outcomes; tests/unit/tokenizer_test.cpp compares it with PCRE2 on random text.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace torii::tokenizer {

enum class SplitKind { none, cl100k, o200k };

// The pat_str each kind was written for; anything else gets SplitKind::none (PCRE2 only).
inline constexpr std::string_view kCl100kPattern =
    R"(('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kO200kPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace ascii_detail {

enum : uint8_t { kLower = 1, kUpper = 2, kDigit = 4, kSpace = 8, kNewline = 16, kHigh = 32 };

struct Classes {
  uint8_t c[256];
  constexpr Classes() : c{} {
    for (int b = 'a'; b <= 'z'; ++b) c[b] = kLower;
    for (int b = 'A'; b <= 'Z'; ++b) c[b] = kUpper;
    for (int b = '0'; b <= '9'; ++b) c[b] = kDigit;
    for (int b = 9; b <= 13; ++b) c[b] = kSpace;  // JavaScript's \s, ASCII part
    c[' '] = kSpace;
    c['\r'] = c['\n'] = kSpace | kNewline;
    for (int b = 128; b < 256; ++b) c[b] = kHigh;
  }
};
inline constexpr Classes kClasses{};

inline uint8_t cls(const uint8_t* s, std::size_t i, std::size_t n) {
  return i < n ? kClasses.c[s[i]] : 0;  // past the end: "other", but never kHigh
}
// Letters, digits, spaces and "other" (punctuation, controls): ASCII only.
inline bool other(uint8_t k) { return k == 0; }
inline bool letter(uint8_t k) { return k & (kLower | kUpper); }

// The contraction at i ('s 't 're 've 'm 'll 'd, each in every case the patterns list): its
// length, or 0.
inline std::size_t contraction(const uint8_t* s, std::size_t i, std::size_t n) {
  if (i + 1 >= n || s[i] != '\'') return 0;
  auto lc = [](uint8_t b) { return static_cast<uint8_t>(b | 0x20); };
  uint8_t a = lc(s[i + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < n) {
    uint8_t b = lc(s[i + 2]);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

// End of the run of bytes of class `mask` from i; `bail` set when the run stops at a non-ASCII
// byte (which might belong to it).
inline std::size_t run(const uint8_t* s, std::size_t i, std::size_t n, uint8_t mask, bool& bail) {
  while (i < n && (kClasses.c[s[i]] & mask)) ++i;
  if (i < n && s[i] >= 0x80) bail = true;
  return i;
}
inline std::size_t run_other(const uint8_t* s, std::size_t i, std::size_t n, bool& bail) {
  while (i < n && kClasses.c[s[i]] == 0) ++i;
  if (i < n && s[i] >= 0x80) bail = true;
  return i;
}

// ` ?[^\s\p{L}\p{N}]+[\r\n]*` (o200k: `[\r\n/]*`) at i; 0 when it does not match.
inline std::size_t punct(SplitKind kind, const uint8_t* s, std::size_t i, std::size_t n,
                         bool& bail) {
  std::size_t j = i;
  if (s[j] == ' ') ++j;
  if (j >= n) return 0;
  if (s[j] >= 0x80) {
    bail = true;
    return 0;
  }
  if (!other(kClasses.c[s[j]])) return 0;
  j = run_other(s, j, n, bail);
  if (bail) return 0;
  while (j < n && (s[j] == '\r' || s[j] == '\n' || (kind == SplitKind::o200k && s[j] == '/'))) ++j;
  return j;
}

// `\s*[\r\n]+|\s+(?!\S)|\s+` at i (s[i] is an ASCII space).
inline std::size_t spaces(const uint8_t* s, std::size_t i, std::size_t n, bool& bail) {
  std::size_t last_nl = SIZE_MAX, w = i;
  while (w < n && (kClasses.c[s[w]] & kSpace)) {
    if (kClasses.c[s[w]] & kNewline) last_nl = w;
    ++w;
  }
  if (w < n && s[w] >= 0x80) {
    bail = true;
    return 0;
  }
  if (last_nl != SIZE_MAX) return last_nl + 1;
  if (w == n) return w;
  return w - i >= 2 ? w - 1 : w;
}

}  // namespace ascii_detail

// The end of the piece at i (s[i] < 0x80), or 0: ask PCRE2.
inline std::size_t ascii_split(SplitKind kind, const uint8_t* s, std::size_t i, std::size_t n) {
  using namespace ascii_detail;
  bool bail = false;
  const uint8_t c = kClasses.c[s[i]];
  // The optional one-character prefix of the letter alternatives: not \r, \n, a letter or digit.
  const bool prefixable = !(c & (kNewline | kLower | kUpper | kDigit));

  if (kind == SplitKind::cl100k) {
    if (std::size_t k = contraction(s, i, n)) return i + k;
    std::size_t j = letter(c) ? i : prefixable ? i + 1 : SIZE_MAX;
    if (j != SIZE_MAX && j < n) {
      uint8_t d = kClasses.c[s[j]];
      if (d & kHigh) return 0;
      if (letter(d)) {
        std::size_t e = run(s, j, n, kLower | kUpper, bail);
        return bail ? 0 : e;
      }
    }
  } else {
    std::size_t j = letter(c) ? i : prefixable ? i + 1 : SIZE_MAX;
    if (j != SIZE_MAX && j < n) {
      uint8_t d = kClasses.c[s[j]];
      if (d & kHigh) return 0;
      if (letter(d)) {
        std::size_t u = run(s, j, n, kUpper, bail);
        if (bail) return 0;
        std::size_t l = run(s, u, n, kLower, bail);
        if (bail) return 0;
        return l + contraction(s, l, n);  // [U]*[L]+ when l > u, else [U]+[L]* (u > j)
      }
    }
  }
  if (c & kDigit) {
    std::size_t e = i + 1;
    while (e < n && e < i + 3 && (kClasses.c[s[e]] & kDigit)) ++e;
    if (e < i + 3 && e < n && s[e] >= 0x80) return 0;  // a non-ASCII digit may follow
    return e;
  }
  if (std::size_t e = punct(kind, s, i, n, bail)) return e;
  if (bail) return 0;
  if (c & kSpace) {
    std::size_t e = spaces(s, i, n, bail);
    return bail ? 0 : e;
  }
  return 0;
}

}  // namespace torii::tokenizer
