#include "identity/authz.h"

#include "providers/provider.h"

namespace torii::identity {

Authorizer::Authorizer(const AuthorizationConfig& cfg) : default_allow_(cfg.default_allow) {
  using S = RuleCondition::Subject;
  for (const auto& r : cfg.rules) {
    bool per_target = false;
    for (const auto& c : r.when) {
      per_target = per_target || c.subject == S::model || c.subject == S::provider;
      needs_time_ = needs_time_ || c.subject == S::time || c.subject == S::weekday;
    }
    (per_target ? target_rules_ : request_rules_).push_back(Rule{&r, per_target});
  }
  active_ = !cfg.rules.empty() || !cfg.default_allow;
}

bool Authorizer::all_hold(const Rule& r, const routing::RuleInput& in) const {
  for (const auto& c : r.config->when)
    if (!routing::matches(c, in)) return false;
  return true;
}

AuthzDecision Authorizer::check(routing::RuleInput& in, const Route& route) const {
  AuthzDecision d;
  bool allowed = default_allow_;
  in.target_provider = {};
  in.target_model = {};
  for (const Rule& r : request_rules_) {
    if (!all_hold(r, in)) continue;
    if (r.config->deny) {
      d.denied_by = &r.config->id;
      return d;
    }
    allowed = true;
  }
  if (target_rules_.empty()) {
    if (!allowed) d.denied_by = &default_id_;
    return d;
  }
  // Per target: a deny removes it; without an allow (request- or target-level) under default
  // deny, it is removed too. The first refusal names the rule when all are removed.
  const std::string* first = nullptr;
  const std::size_t n = std::min<std::size_t>(route.targets.size(), 64);
  for (std::size_t i = 0; i < n; ++i) {
    const Target& t = route.targets[i];
    in.target_provider = t.provider->name();
    in.target_model = t.model;
    bool target_allowed = allowed;
    const std::string* denied = nullptr;
    for (const Rule& r : target_rules_) {
      if (!all_hold(r, in)) continue;
      if (r.config->deny) {
        denied = &r.config->id;
        break;
      }
      target_allowed = true;
    }
    if (!denied && !target_allowed) denied = &default_id_;
    if (denied) {
      d.denied_targets |= uint64_t{1} << i;
      if (!first) first = denied;
    }
  }
  in.target_provider = {};
  in.target_model = {};
  if (n > 0 && d.denied_targets == (n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1)) {
    d.denied_by = first;
    d.denied_targets = 0;
  }
  return d;
}

}  // namespace torii::identity
