#include "quota/prices.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <stdexcept>

#include "quota/money.h"

namespace torii::quota {

extern const char kBuiltinPricesYaml[];  // generated from config/prices.yaml (CMakeLists.txt)

std::string_view builtin_prices_yaml() { return kBuiltinPricesYaml; }

Price complete(const PriceConfig& p) {
  Price out;
  out.input = std::max<int64_t>(p.input, 0);
  out.output = std::max<int64_t>(p.output, 0);
  out.cached_input = p.cached_input >= 0 ? p.cached_input : out.input;
  out.cache_write = p.cache_write >= 0 ? p.cache_write : out.input;
  out.reasoning = p.reasoning >= 0 ? p.reasoning : out.output;
  out.image = p.image;
  out.audio_second = p.audio_second;
  out.character = p.character;
  return out;
}

int64_t cost_micros(const Price& price, const Usage& u) {
  auto n = [](int64_t v) { return std::max<int64_t>(v, 0); };
  const int64_t cached = n(u.cached_tokens), written = n(u.cache_write_tokens);
  const int64_t plain_in = std::max<int64_t>(n(u.prompt_tokens) - cached - written, 0);
  const int64_t reasoning = std::min(n(u.reasoning_tokens), n(u.completion_tokens));
  const int64_t plain_out = n(u.completion_tokens) - reasoning;
  // micro-USD per 1M tokens × tokens: 1e-12 USD units; < 2^127 by far, exact.
  __int128 pico = static_cast<__int128>(plain_in) * price.input +
                  static_cast<__int128>(cached) * price.cached_input +
                  static_cast<__int128>(written) * price.cache_write +
                  static_cast<__int128>(plain_out) * price.output +
                  static_cast<__int128>(reasoning) * price.reasoning;
  // The modalities' units, on the same 1e-12 USD scale: images × per image, milliseconds of
  // audio × per second, characters × per 1M characters.
  if (price.image >= 0) pico += static_cast<__int128>(n(u.images)) * price.image * 1'000'000;
  if (price.audio_second >= 0)
    pico += static_cast<__int128>(n(u.audio_ms)) * price.audio_second * 1'000;
  if (price.character >= 0) pico += static_cast<__int128>(n(u.characters)) * price.character;
  // (A 64-bit division by the constant is a multiply; a 128-bit one is a library call.)
  if (pico <= INT64_MAX - 999'999) return (static_cast<int64_t>(pico) + 999'999) / 1'000'000;
  return static_cast<int64_t>((pico + 999'999) / 1'000'000);
}

std::optional<std::string> set_price_field(PriceConfig& p, std::string_view field,
                                           std::string_view usd) {
  int64_t* slot = field == "input"          ? &p.input
                  : field == "output"       ? &p.output
                  : field == "cached_input" ? &p.cached_input
                  : field == "cache_write"  ? &p.cache_write
                  : field == "reasoning"    ? &p.reasoning
                  : field == "image"        ? &p.image
                  : field == "audio_second" ? &p.audio_second
                  : field == "character"    ? &p.character
                                            : nullptr;
  if (!slot)
    return "unknown price '" + std::string(field) +
           "' (input, output, cached_input, cache_write, reasoning, image, audio_second, "
           "character)";
  auto m = parse_micros(usd);
  if (!m)
    return "must be a USD amount with at most 6 decimals, got '" + std::string(usd) + "'";
  *slot = *m;
  return std::nullopt;
}

namespace {

struct Builtin {
  std::map<std::string, Price, std::less<>> table;
  std::string date;
};

// The built-in table, parsed once. It ships with the binary, so an error in it is a bug that
// tests/unit/quota_test.cpp catches; here it throws.
const Builtin& builtin() {
  static const Builtin b = [] {
    Builtin out;
    YAML::Node root = YAML::Load(std::string(builtin_prices_yaml()));
    out.date = root["date"].as<std::string>();
    for (const auto& kv : root["models"]) {
      PriceConfig pc;
      for (const auto& f : kv.second)
        if (auto e = set_price_field(pc, f.first.Scalar(), f.second.Scalar()))
          throw std::runtime_error("config/prices.yaml: " + kv.first.Scalar() + ": " + *e);
      out.table.emplace(kv.first.Scalar(), complete(pc));
    }
    return out;
  }();
  return b;
}

}  // namespace

PriceTable::PriceTable(const std::map<std::string, PriceConfig>& overrides)
    : builtin_(&builtin().table), date_(builtin().date) {
  for (const auto& [name, pc] : overrides) {
    if (!name.empty() && name.back() == '*')
      override_prefixes_.emplace_back(name.substr(0, name.size() - 1), complete(pc));
    else
      overrides_.emplace(name, complete(pc));
  }
  std::sort(override_prefixes_.begin(), override_prefixes_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

const Price* PriceTable::lookup(const std::map<std::string, Price, std::less<>>& table,
                                std::string_view model) {
  if (auto it = table.find(model); it != table.end()) return &it->second;
  // The longest entry the name starts with, followed by '-' (a dated or suffixed version).
  for (std::size_t cut = model.rfind('-'); cut != std::string_view::npos && cut > 0;
       cut = model.rfind('-', cut - 1)) {
    if (auto it = table.find(model.substr(0, cut)); it != table.end()) return &it->second;
  }
  return nullptr;
}

const Price* PriceTable::find(std::string_view provider, std::string_view model) const {
  if (!overrides_.empty()) {
    std::string full;
    full.reserve(provider.size() + 1 + model.size());
    full.append(provider).append("/").append(model);
    if (auto it = overrides_.find(full); it != overrides_.end()) return &it->second;
    if (auto it = overrides_.find(model); it != overrides_.end()) return &it->second;
  }
  for (const auto& [prefix, price] : override_prefixes_) {
    // "prefix*" matches "provider/model" or the bare model.
    const bool with_provider = prefix.find('/') != std::string::npos;
    std::string_view subject = model;
    std::string full;
    if (with_provider) {
      full.append(provider).append("/").append(model);
      subject = full;
    }
    if (subject.substr(0, prefix.size()) == prefix) return &price;
  }
  for (std::string_view m = model;;) {
    if (const Price* p = lookup(*builtin_, m)) return p;
    // Bedrock's "us.anthropic.claude-…": drop a leading lowercase "word." and retry.
    const auto dot = m.find('.');
    const auto dash = m.find('-');
    if (dot == std::string_view::npos || (dash != std::string_view::npos && dash < dot)) break;
    m = m.substr(dot + 1);
  }
  return nullptr;
}

}  // namespace torii::quota
