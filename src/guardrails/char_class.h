#pragma once
// Byte classes for the scanner's detectors (ASCII only; bytes >= 0x80 are in no class).
namespace torii::guardrails::detail {

constexpr bool is_digit(unsigned char c) { return static_cast<unsigned>(c - '0') < 10u; }
constexpr bool is_upper(unsigned char c) { return static_cast<unsigned>(c - 'A') < 26u; }
constexpr bool is_lower(unsigned char c) { return static_cast<unsigned>(c - 'a') < 26u; }
constexpr bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
constexpr bool is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }
constexpr bool is_hex(unsigned char c) {
  return is_digit(c) || static_cast<unsigned>((c | 0x20) - 'a') < 6u;
}

}  // namespace torii::guardrails::detail
