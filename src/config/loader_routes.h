#pragma once
// The `routes:` part of the config loader: targets, strategy, retry, failover and rules, and
// the cross-checks once providers and routes are known (docs/CONFIG.md, docs/ROUTING.md).
// Internal to src/config.
#include "config/yaml_reader.h"

namespace torii::config_detail {

class RoutesLoader : public YamlReader {
 public:
  using YamlReader::YamlReader;

 protected:
  void routes(const YAML::Node& v, const std::string& path, Config& cfg);
  // Cross-references, once providers and routes are both known.
  void check_routes(const Config& cfg);
  // One rule condition (routing's `when:` and authorization's); `authz` admits the subjects only
  // authorization understands (consumer, key, claim, model, provider, param, time, weekday).
  void condition(const YAML::Node& v, const std::string& path, RuleCondition& out,
                 bool authz = false);
  // A `when:`: one condition, or a non-empty list of them (all must hold).
  void conditions(const YAML::Node& v, const std::string& path, std::vector<RuleCondition>& out,
                  bool authz = false);

 private:
  struct RouteLines {
    int name = 0;
    std::vector<int> targets;
    std::vector<int> rules;
  };
  void route_target(const YAML::Node& v, const std::string& path, RouteTargetConfig& out);
  void retry(const YAML::Node& v, const std::string& path, RetryConfig& out);
  void failover_on(const YAML::Node& v, const std::string& path, FailoverConfig& out);
  void rules(const YAML::Node& v, const std::string& path, RouteConfig& r, RouteLines& lines);
  // `prompts:` (docs/PROMPTS.md): the ids are checked once `prompts:` is read (check_prompts).
  void route_prompts(const YAML::Node& v, const std::string& path, RoutePromptsConfig& out);

  std::vector<RouteLines> route_lines_;
};

}  // namespace torii::config_detail
