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

 private:
  void sink(const YAML::Node& v, const std::string& path, AuditSinkConfig& out);
  void http_url(const YAML::Node& v, const std::string& path, std::string& out);
};

}  // namespace torii::config_detail
