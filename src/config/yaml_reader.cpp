#include "config/yaml_reader.h"

#include <cmath>

namespace torii::config_detail {

std::optional<double> yaml_number(const YAML::Node& v) {
  if (!v.IsScalar()) return std::nullopt;
  const std::string& s = v.Scalar();
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d))
    return std::nullopt;
  return d;
}

// Levenshtein distance, to suggest the key a typo meant.
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::optional<ApiError> YamlReader::errors() const {
  constexpr std::size_t kMaxErrors = 50;
  if (errors_.empty()) return std::nullopt;
  auto sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string msg;
  for (std::size_t i = 0; i < sorted.size() && i < kMaxErrors; ++i) {
    if (i) msg += '\n';
    msg += sorted[i].second;
  }
  if (sorted.size() > kMaxErrors)
    msg += "\n... and " + std::to_string(sorted.size() - kMaxErrors) + " more errors";
  return ApiError::invalid_request(std::move(msg));
}

}  // namespace torii::config_detail
