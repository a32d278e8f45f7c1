#pragma once
// The observability parts of the config loader (docs/AUDIT.md, docs/OBSERVABILITY.md):
// `audit:` (queue, sinks, bodies) and `tracing:` (OTLP). Internal to src/config.
#include "config/loader_quotas.h"

namespace torii::config_detail {

class AuditLoader : public QuotasLoader {
 public:
  using QuotasLoader::QuotasLoader;

 protected:
  void audit(const YAML::Node& v, const std::string& path, Config& cfg);
  void tracing(const YAML::Node& v, const std::string& path, Config& cfg);

 protected:
  // An http(s) URL with a host and no credentials (webhooks).
  void http_url(const YAML::Node& v, const std::string& path, std::string& out);

 private:
  void sink(const YAML::Node& v, const std::string& path, AuditSinkConfig& out);
};

}  // namespace torii::config_detail
