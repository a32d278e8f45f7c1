#pragma once
// The price table (docs/QUOTAS.md): the built-in table (config/prices.yaml, compiled into the
// binary) under the config's `prices:` overrides, and the cost of a call from its usage.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "providers/canonical.h"

namespace torii::quota {

// A model's prices in micro-USD: per 1M tokens, per image, per audio second, per 1M characters
// (speech). Defaults filled: every token price is set (cached_input and cache_write from
// input, reasoning from output, 0 when nothing is known); image, audio_second and character
// stay -1 when not given.
struct Price {
  int64_t input = 0, output = 0, cached_input = 0, cache_write = 0, reasoning = 0;
  int64_t image = -1, audio_second = -1, character = -1;
};

// Fills a PriceConfig's defaults (see Price).
Price complete(const PriceConfig& p);

// The cost of one call in micro-USD, rounded up: see QUOTAS.md for the formula. Usage fields at
// -1 count as 0.
int64_t cost_micros(const Price& price, const Usage& usage);

// The built-in table's text (config/prices.yaml) and its date.
std::string_view builtin_prices_yaml();

// Sets one field of an entry ("input", "output", "cached_input", "cache_write", "reasoning",
// "image", "audio_second", "character") from its USD text; returns what is wrong, or nothing. Shared by the
// built-in table and the config's `prices:`.
std::optional<std::string> set_price_field(PriceConfig& p, std::string_view field,
                                           std::string_view usd);

class PriceTable {
 public:
  // The built-in table with `overrides` on top (keys "provider/model", "model" or "prefix*").
  explicit PriceTable(const std::map<std::string, PriceConfig>& overrides);

  // The price of `model` at `provider`, or null when unknown: overrides by "provider/model",
  // then "model", then the longest "prefix*"; then the built-in table (exact, then the longest
  // entry followed by '-', then without "us." / "anthropic."-style prefixes).
  const Price* find(std::string_view provider, std::string_view model) const;

  const std::string& date() const { return date_; }

 private:
  static const Price* lookup(const std::map<std::string, Price, std::less<>>& table,
                             std::string_view model);
  std::map<std::string, Price, std::less<>> overrides_;
  std::vector<std::pair<std::string, Price>> override_prefixes_;  // longest first
  const std::map<std::string, Price, std::less<>>* builtin_;
  std::string date_;
};

}  // namespace torii::quota
