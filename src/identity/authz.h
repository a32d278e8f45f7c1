#pragma once
// Authorization: the `authorization:` rules, compiled once per config snapshot and evaluated for
// each request once its route is known (docs/SECURITY.md). Deny wins: any matching deny rule
// refuses; with default deny, a request needs a matching allow rule. Rules that read the target
// (model, provider) are evaluated per target of the route, so a denied target is skipped by
// the routing instead of failing the whole request.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "routing/route.h"

namespace torii::identity {

// The outcome for one request.
struct AuthzDecision {
  const std::string* denied_by = nullptr;  // the refusing rule's id ("default"); null: allowed
  uint64_t denied_targets = 0;  // bitmask of route.targets a rule removed (request allowed)
};

class Authorizer {
 public:
  explicit Authorizer(const AuthorizationConfig& cfg);
  // False when there is nothing to evaluate (no rules, default allow).
  bool active() const { return active_; }
  // `in` is filled by the caller with the request and the caller; the target fields are set
  // here for the per-target rules.
  AuthzDecision check(routing::RuleInput& in, const Route& route) const;
  // Whether some rule reads the time (the caller then sets in.now).
  bool needs_time() const { return needs_time_; }

 private:
  struct Rule {
    const AuthzRuleConfig* config;
    bool per_target;  // reads model or provider
  };
  bool all_hold(const Rule& r, const routing::RuleInput& in) const;

  std::vector<Rule> request_rules_, target_rules_;  // declaration order within each
  bool default_allow_ = true;
  bool active_ = false;
  bool needs_time_ = false;
  std::string default_id_ = "default";
};

}  // namespace torii::identity
