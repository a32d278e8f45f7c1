#pragma once
// Money is an integer count of micro-USD (1e-6 USD) everywhere in torii: never a floating
// point. Prices are micro-USD per 1M tokens (or per image, per audio second).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace torii::quota {

// "25", "25.5", "0.000125" -> micro-USD. Refuses signs, exponents, more than 6 decimals and
// amounts over 1e12 USD. Exact: parsed as decimal text, never through a double.
std::optional<int64_t> parse_micros(std::string_view text);

// 125 -> "0.000125"; -5 -> "-0.000005".
std::string format_micros(int64_t micros);

}  // namespace torii::quota
