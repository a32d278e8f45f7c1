#include "quota/money.h"

namespace torii::quota {

std::optional<int64_t> parse_micros(std::string_view s) {
  constexpr int64_t kMaxWhole = 1'000'000'000'000;  // 1e12 USD
  if (s.empty()) return std::nullopt;
  int64_t whole = 0, frac = 0;
  std::size_t i = 0, digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
    whole = whole * 10 + (s[i] - '0');
    if (whole > kMaxWhole) return std::nullopt;
  }
  int decimals = 0;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
      if (++decimals > 6) return std::nullopt;
      frac = frac * 10 + (s[i] - '0');
    }
    if (decimals == 0) return std::nullopt;  // "25." is a typo, not a number
  }
  if (i != s.size() || digits == 0) return std::nullopt;
  for (int d = decimals; d < 6; ++d) frac *= 10;
  return whole * 1'000'000 + frac;
}

std::string format_micros(int64_t micros) {
  std::string out;
  uint64_t m = micros < 0 ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  if (micros < 0) out += '-';
  out += std::to_string(m / 1'000'000);
  std::string frac = std::to_string(m % 1'000'000);
  out += '.';
  out.append(6 - frac.size(), '0');
  out += frac;
  return out;
}

}  // namespace torii::quota
