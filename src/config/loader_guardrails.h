#pragma once
// The guardrails part of the config loader (docs/GUARDRAILS.md): `guardrails:` (on_deny,
// refusal, stream_holdback, checks). Internal to src/config.
#include "config/loader_audit.h"

namespace torii::config_detail {

class GuardrailsLoader : public AuditLoader {
 public:
  using AuditLoader::AuditLoader;

 protected:
  void guardrails(const YAML::Node& v, const std::string& path, Config& cfg);
  // After every section is read: route names, judge models and moderation providers exist.
  void check_guardrails(Config& cfg);

 private:
  void check(const YAML::Node& v, const std::string& path, GuardrailConfig& out);
};

// A YAML node as JSON (a JSON Schema written in YAML): scalars become integers, numbers,
// booleans or null when they read as such (unquoted), else strings.
boost::json::value yaml_to_json(const YAML::Node& n);

}  // namespace torii::config_detail
