#pragma once
// The identity parts of the config loader (docs/SECURITY.md): `auth:` (consumers, API keys,
// JWT issuers), `authorization:`, `vault:` and `egress:`. Internal to src/config.
#include <memory>

#include "config/loader_routes.h"

namespace torii::config_detail {

class IdentityLoader : public RoutesLoader {
 public:
  using RoutesLoader::RoutesLoader;

 protected:
  // `auth:` {consumers, api_keys, jwt} (loader_identity.cpp).
  void auth(const YAML::Node& v, const std::string& path, Config& cfg);
  // `authorization:` {default, rules} (loader_identity.cpp).
  void authorization(const YAML::Node& v, const std::string& path, Config& cfg);
  // Cross-references once everything is read: keys name known consumers, ...
  void check_identity(const Config& cfg);
  // `vault:` (loader_vault.cpp). Runs before every other section, so that their secrets may be
  // ${vault:NAME/KEY} references; sets cfg.vault and the reader's vault.
  void vault(const YAML::Node& v, const std::string& path, Config& cfg);
  // `egress:` {allow_hosts, allow_networks} (loader_egress.cpp).
  void egress(const YAML::Node& v, const std::string& path, Config& cfg);

 private:
  void consumers(const YAML::Node& v, const std::string& path, Config& cfg);
  void api_keys(const YAML::Node& v, const std::string& path, Config& cfg);
  void jwt(const YAML::Node& v, const std::string& path, Config& cfg);
};

}  // namespace torii::config_detail
