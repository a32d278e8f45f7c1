#pragma once
// The quota parts of the config loader (docs/QUOTAS.md): `quotas:` (store, limits, budgets) and
// `prices:`. Internal to src/config.
#include "config/loader_identity.h"

namespace torii::config_detail {

class QuotasLoader : public IdentityLoader {
 public:
  using IdentityLoader::IdentityLoader;

 protected:
  void quotas(const YAML::Node& v, const std::string& path, Config& cfg);
  void prices(const YAML::Node& v, const std::string& path, Config& cfg);

 protected:
  void redis(const YAML::Node& v, const std::string& path, RedisConfig& out);

 private:
  void redis_url(const YAML::Node& v, const std::string& path, RedisConfig& out);
  void scope(const YAML::Node& v, const std::string& path, std::vector<QuotaScope>& out);
  void limit(const YAML::Node& v, const std::string& path, RateLimitConfig& out);
  void budget(const YAML::Node& v, const std::string& path, BudgetConfig& out);
};

}  // namespace torii::config_detail
