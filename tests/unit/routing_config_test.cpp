// Tests for the routing keys of src/config/loader.cpp (parse_config): breaker, health_check,
// api_keys, rate_limit_cooldown_ms, route strategy/targets/retry/failover/rules/group, auth
// groups; and their validation messages ("file:line: key.path: ...").
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace torii {
namespace {

std::string error_of(const std::string& yaml) {
  auto r = parse_config(yaml, "t.yaml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
  return r.ok() ? std::string() : r.error().message;
}

Config ok(const std::string& yaml) {
  auto r = parse_config(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : Config{};
}

constexpr const char* kRouting = R"(providers:
  - name: a
    kind: openai-compatible
    base_url: http://127.0.0.1:9001/v1
    api_keys: ["k1", "k2", "k3"]
    rate_limit_cooldown_ms: 1500
    breaker:
      enabled: true
      consecutive_failures: 3
      error_rate_percent: 40
      min_requests: 7
      window_ms: 20000
      cooldown_ms: 2500
      half_open_probes: 2
    health_check: {path: /health, interval_ms: 3000, timeout_ms: 500}
    models: [m1]
  - name: b
    kind: openai-compatible
    base_url: http://127.0.0.1:9002/v1
    api_key: kb
    breaker: {enabled: false}
    models: [m1]
routes:
  - name: smart
    strategy: weighted
    targets:
      - a/m1
      - {target: b/m1, weight: 3, priority: 1}
    retry:
      attempts: 4
      backoff_ms: 50
      max_backoff_ms: 800
      per_try_timeout_ms: 1200
      deadline_ms: 9000
      budget_percent: 30
      min_retries_per_second: 5
    failover_on: [connect, 5xx, 400, 413]
    failover_on_errors: [context_length_exceeded, "too long"]
    rules:
      - when: {metadata: tier, equals: premium}
        route: smart-premium
      - when: {prompt_tokens_above: 8000}
        route: smart-premium
      - when: [{header: X-Team, in: [a, b]}, {field: /temperature, below: 1}]
        route: other
      - when: {group: beta}
        route: other
      - when: [{field: /user, exists: true}, {prompt_tokens_below: 10}, {metadata: n, above: -5}]
        route: other
  - name: smart-premium
    strategy: p2c
    targets: [b/m1]
  - name: smart
    group: premium
    strategy: lowest_latency
    targets: [b/m1, a/m1]
  - name: other
    targets: [a/m1]
auth:
  api_keys:
    - {name: k, key: "sk-one", groups: [premium, beta], metadata: {tier: premium}}
    - {name: k2, key: "sk-two"}
)";

TEST(RoutingConfig, ProviderRoutingKeys) {
  Config c = ok(kRouting);
  ASSERT_EQ(c.providers.size(), 2u);
  const ProviderConfig& a = c.providers[0];
  EXPECT_EQ(a.api_key.value, "k1");
  ASSERT_EQ(a.extra_api_keys.size(), 2u);
  EXPECT_EQ(a.extra_api_keys[0].value, "k2");
  EXPECT_EQ(a.extra_api_keys[1].value, "k3");
  EXPECT_EQ(a.rate_limit_cooldown.count(), 1500);
  EXPECT_TRUE(a.breaker.enabled);
  EXPECT_EQ(a.breaker.consecutive_failures, 3);
  EXPECT_EQ(a.breaker.error_rate_percent, 40);
  EXPECT_EQ(a.breaker.min_requests, 7);
  EXPECT_EQ(a.breaker.window.count(), 20000);
  EXPECT_EQ(a.breaker.cooldown.count(), 2500);
  EXPECT_EQ(a.breaker.half_open_probes, 2);
  EXPECT_TRUE(a.health_check.enabled);  // present: on
  EXPECT_EQ(a.health_check.path, "/health");
  EXPECT_EQ(a.health_check.interval.count(), 3000);
  EXPECT_EQ(a.health_check.timeout.count(), 500);
  const ProviderConfig& b = c.providers[1];
  EXPECT_EQ(b.api_key.value, "kb");
  EXPECT_TRUE(b.extra_api_keys.empty());
  EXPECT_FALSE(b.breaker.enabled);
  EXPECT_FALSE(b.health_check.enabled);  // absent: off
  EXPECT_EQ(b.rate_limit_cooldown.count(), 1000);  // default
  EXPECT_EQ(b.breaker.consecutive_failures, 5);    // defaults kept
  EXPECT_EQ(b.breaker.cooldown.count(), 5000);
}

TEST(RoutingConfig, RouteStrategyTargetsRetryFailover) {
  Config c = ok(kRouting);
  ASSERT_EQ(c.routes.size(), 4u);
  const RouteConfig& r = c.routes[0];
  EXPECT_EQ(r.name, "smart");
  EXPECT_TRUE(r.group.empty());
  EXPECT_EQ(r.strategy, Strategy::weighted);
  ASSERT_EQ(r.targets.size(), 2u);
  EXPECT_EQ(r.targets[0].provider, "a");
  EXPECT_EQ(r.targets[0].model, "m1");
  EXPECT_EQ(r.targets[0].weight, 1);
  EXPECT_EQ(r.targets[0].priority, 0);
  EXPECT_EQ(r.targets[1].provider, "b");
  EXPECT_EQ(r.targets[1].weight, 3);
  EXPECT_EQ(r.targets[1].priority, 1);
  EXPECT_EQ(r.targets[1].line, 28);
  EXPECT_EQ(r.retry.attempts, 4);
  EXPECT_EQ(r.retry.backoff.count(), 50);
  EXPECT_EQ(r.retry.max_backoff.count(), 800);
  EXPECT_EQ(r.retry.per_try_timeout.count(), 1200);
  EXPECT_EQ(r.retry.deadline.count(), 9000);
  EXPECT_EQ(r.retry.budget_percent, 30);
  EXPECT_EQ(r.retry.min_retries_per_second, 5);
  EXPECT_TRUE(r.failover.connect);
  EXPECT_FALSE(r.failover.reset);
  EXPECT_FALSE(r.failover.timeout);
  EXPECT_TRUE(r.failover.server_errors);
  EXPECT_FALSE(r.failover.rate_limited);
  EXPECT_EQ(r.failover.statuses, (std::vector<int>{400, 413}));
  EXPECT_EQ(r.failover.errors,
            (std::vector<std::string>{"context_length_exceeded", "too long"}));
  EXPECT_EQ(c.routes[1].strategy, Strategy::p2c);
  EXPECT_EQ(c.routes[2].strategy, Strategy::lowest_latency);
  EXPECT_EQ(c.routes[2].group, "premium");
  EXPECT_EQ(c.routes[3].strategy, Strategy::round_robin);  // default
  // Defaults of a route without retry / failover_on.
  const RouteConfig& d = c.routes[3];
  EXPECT_EQ(d.retry.attempts, 0);
  EXPECT_EQ(d.retry.budget_percent, 20);
  EXPECT_EQ(d.retry.min_retries_per_second, 10);
  EXPECT_TRUE(d.failover.connect && d.failover.reset && d.failover.timeout &&
              d.failover.server_errors && d.failover.rate_limited);
  EXPECT_TRUE(d.failover.statuses.empty());
}

TEST(RoutingConfig, EveryStrategyName) {
  const std::pair<const char*, Strategy> names[] = {
      {"round_robin", Strategy::round_robin}, {"weighted", Strategy::weighted},
      {"random", Strategy::random},           {"least_inflight", Strategy::least_inflight},
      {"lowest_latency", Strategy::lowest_latency}, {"p2c", Strategy::p2c}};
  for (const auto& [name, st] : names) {
    Config c = ok(std::string("providers:\n  - {name: a, kind: ollama}\nroutes:\n  - name: r\n"
                              "    strategy: ") + name + "\n    targets: [a/x]\n");
    ASSERT_EQ(c.routes.size(), 1u) << name;
    EXPECT_EQ(c.routes[0].strategy, st) << name;
  }
}

TEST(RoutingConfig, FailoverOnErrorsBeforeFailoverOnIsKept) {
  Config c = ok("providers:\n  - {name: a, kind: ollama}\nroutes:\n  - name: r\n"
                "    failover_on_errors: [ctx]\n    failover_on: [429]\n    targets: [a/x]\n");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].failover.errors, (std::vector<std::string>{"ctx"}));
  EXPECT_TRUE(c.routes[0].failover.rate_limited);
  EXPECT_FALSE(c.routes[0].failover.connect);
}

TEST(RoutingConfig, Rules) {
  Config c = ok(kRouting);
  using S = RuleCondition::Subject;
  using O = RuleCondition::Op;
  const auto& rules = c.routes[0].rules;
  ASSERT_EQ(rules.size(), 5u);
  ASSERT_EQ(rules[0].when.size(), 1u);
  EXPECT_EQ(rules[0].route, "smart-premium");
  EXPECT_EQ(rules[0].when[0].subject, S::metadata);
  EXPECT_EQ(rules[0].when[0].key, "tier");
  EXPECT_EQ(rules[0].when[0].op, O::equals);
  EXPECT_EQ(rules[0].when[0].values, (std::vector<std::string>{"premium"}));
  EXPECT_EQ(rules[0].line, 40);

  ASSERT_EQ(rules[1].when.size(), 1u);
  EXPECT_EQ(rules[1].when[0].subject, S::prompt_tokens);
  EXPECT_EQ(rules[1].when[0].op, O::above);
  EXPECT_EQ(rules[1].when[0].number, 8000);

  ASSERT_EQ(rules[2].when.size(), 2u);
  EXPECT_EQ(rules[2].route, "other");
  EXPECT_EQ(rules[2].when[0].subject, S::header);
  EXPECT_EQ(rules[2].when[0].key, "x-team");  // header names are lower-cased
  EXPECT_EQ(rules[2].when[0].op, O::in);
  EXPECT_EQ(rules[2].when[0].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(rules[2].when[1].subject, S::field);
  EXPECT_EQ(rules[2].when[1].key, "/temperature");
  EXPECT_EQ(rules[2].when[1].op, O::below);
  EXPECT_EQ(rules[2].when[1].number, 1);

  ASSERT_EQ(rules[3].when.size(), 1u);
  EXPECT_EQ(rules[3].when[0].subject, S::group);
  EXPECT_EQ(rules[3].when[0].op, O::equals);
  EXPECT_EQ(rules[3].when[0].values, (std::vector<std::string>{"beta"}));

  ASSERT_EQ(rules[4].when.size(), 3u);
  EXPECT_EQ(rules[4].when[0].subject, S::field);
  EXPECT_EQ(rules[4].when[0].op, O::exists);
  EXPECT_EQ(rules[4].when[1].subject, S::prompt_tokens);
  EXPECT_EQ(rules[4].when[1].op, O::below);
  EXPECT_EQ(rules[4].when[1].number, 10);
  EXPECT_EQ(rules[4].when[2].subject, S::metadata);
  EXPECT_EQ(rules[4].when[2].op, O::above);
  EXPECT_EQ(rules[4].when[2].number, -5);
}

TEST(RoutingConfig, AuthKeyGroups) {
  Config c = ok(kRouting);
  ASSERT_EQ(c.api_keys.size(), 2u);
  EXPECT_EQ(c.api_keys[0].groups, (std::vector<std::string>{"premium", "beta"}));
  EXPECT_EQ(c.api_keys[0].metadata.at("tier"), "premium");
  EXPECT_TRUE(c.api_keys[1].groups.empty());
}

TEST(RoutingConfig, SameNameDifferentGroupsAllowed) {
  Config c = ok("providers:\n  - {name: a, kind: ollama}\nroutes:\n"
                "  - {name: r, targets: [a/x]}\n"
                "  - {name: r, group: g1, targets: [a/y]}\n"
                "  - {name: r, group: g2, targets: [a/z]}\n");
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[1].group, "g1");
  EXPECT_EQ(c.routes[2].group, "g2");
}

TEST(RoutingConfig, BreakerWithOneTriggerOffIsFine) {
  Config c = ok("providers:\n  - name: a\n    kind: ollama\n"
                "    breaker: {consecutive_failures: 0}\n"
                "  - name: b\n    kind: ollama\n"
                "    breaker: {consecutive_failures: 0, error_rate_percent: 0, enabled: false}\n");
  ASSERT_EQ(c.providers.size(), 2u);
  EXPECT_EQ(c.providers[0].breaker.consecutive_failures, 0);
  EXPECT_EQ(c.providers[0].breaker.error_rate_percent, 50);
  EXPECT_FALSE(c.providers[1].breaker.enabled);
}

TEST(RoutingConfig, SixtyFourTargetsAllowed) {
  std::string y = "providers:\n  - {name: a, kind: ollama}\nroutes:\n  - name: r\n    targets:\n";
  for (int i = 0; i < 64; ++i) y += "      - a/m" + std::to_string(i) + "\n";
  Config c = ok(y);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].targets.size(), 64u);
}

// --- errors ----------------------------------------------------------------------------------

struct BadCase {
  const char* yaml;
  const char* expected;  // a substring of the message: "file:line: path: ..."
};

class RoutingConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(RoutingConfigErrors, NamesFileLineAndPath) {
  const std::string msg = error_of(GetParam().yaml);
  EXPECT_NE(msg.find(GetParam().expected), std::string::npos)
      << "message: " << msg << "\nexpected: " << GetParam().expected;
}

#define P "providers:\n  - {name: a, kind: ollama}\nroutes:\n"

INSTANTIATE_TEST_SUITE_P(
    RoutingValidation, RoutingConfigErrors,
    ::testing::Values(
        BadCase{P "  - name: r\n    strategy: fastest\n    targets: [a/x]\n",
                "t.yaml:5: routes[0].strategy: unknown strategy 'fastest'"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    failover_on: [connect, 3xx]\n",
                "t.yaml:6: routes[0].failover_on[1]: must be connect, reset, timeout, 5xx, 429 "
                "or an HTTP status from 400 to 599, got '3xx'"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    failover_on: [200]\n",
                "t.yaml:6: routes[0].failover_on[0]: must be connect"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    failover_on: 5xx\n",
                "t.yaml:6: routes[0].failover_on: must be a list"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n      - when: {group: g}\n"
                  "        route: nowhere\n",
                "t.yaml:7: routes[0].rules[0].route: unknown route 'nowhere'"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n      - when: {group: g}\n"
                  "        route: s\n  - name: s\n    targets: [a/y]\n    rules:\n"
                  "      - when: {group: h}\n        route: r\n",
                "t.yaml:7: routes[0].rules[0].route: route 's' has rules of its own"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n      - when: {equals: x}\n"
                  "        route: r\n",
                "t.yaml:7: routes[0].rules[0].when: needs exactly one of header, metadata"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n"
                  "      - when: {header: x, metadata: y, equals: z}\n        route: r\n",
                "t.yaml:7: routes[0].rules[0].when: needs exactly one of header, metadata"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n      - when: {header: x}\n"
                  "        route: r\n",
                "t.yaml:7: routes[0].rules[0].when: needs exactly one of equals, in, exists"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n"
                  "      - when: {header: x, equals: a, in: [b]}\n        route: r\n",
                "t.yaml:7: routes[0].rules[0].when: needs exactly one of equals, in, exists"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n"
                  "      - when: [{header: x, equals: a}, {metadata: m}]\n        route: r\n",
                "t.yaml:7: routes[0].rules[0].when[1]: needs exactly one of equals"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n"
                  "      - when: {prompt_tokens_above: 5, equals: a}\n        route: r\n",
                "routes[0].rules[0].when: needs exactly one of equals"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n"
                  "      - when: {field: temperature, below: 1}\n        route: r\n",
                "t.yaml:7: routes[0].rules[0].when.field: must be a JSON pointer"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n      - when: []\n"
                  "        route: r\n",
                "t.yaml:7: routes[0].rules[0].when: must not be empty"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n      - route: r\n",
                "routes[0].rules[0].when: is required"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n"
                  "      - when: {header: x, exists: false}\n        route: r\n",
                "routes[0].rules[0].when.exists: only 'exists: true' is supported"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    rules:\n"
                  "      - when: {header: x, in: []}\n        route: r\n",
                "routes[0].rules[0].when.in: must not be empty"},
        BadCase{"providers:\n  - name: a\n    kind: openai-compatible\n"
                "    base_url: http://h/v1\n    api_key: k\n    api_keys: [k1, k2]\n",
                "providers[0].api_keys: give api_key or api_keys, not both"},
        BadCase{"providers:\n  - name: a\n    kind: openai-compatible\n"
                "    base_url: http://h/v1\n    api_keys: []\n",
                "t.yaml:5: providers[0].api_keys: must be a list of at least one key"},
        BadCase{P "  - {name: r, group: g, targets: [a/x]}\n"
                  "  - {name: r, group: g, targets: [a/y]}\n",
                "t.yaml:5: routes[1].name: duplicate route name 'r' for group 'g' (also "
                "routes[0])"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    breaker:\n"
                "      consecutive_failures: 0\n      error_rate_percent: 0\n",
                "t.yaml:5: providers[0].breaker: consecutive_failures and error_rate_percent "
                "are both 0"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    breaker: {half_open_probes: 0}\n",
                "t.yaml:4: providers[0].breaker.half_open_probes: must be a positive integer"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    breaker: {error_rate_percent: 101}\n",
                "t.yaml:4: providers[0].breaker.error_rate_percent: must be at most 100"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    breaker: {enabled: yes please}\n",
                "t.yaml:4: providers[0].breaker.enabled: must be true or false"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    breaker: {cooldown: 5}\n",
                "t.yaml:4: providers[0].breaker.cooldown: unknown key"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    health_check: {path: models}\n",
                "t.yaml:4: providers[0].health_check.path: must start with '/'"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    rate_limit_cooldown_ms: 0\n",
                "t.yaml:4: providers[0].rate_limit_cooldown_ms: must be a positive integer"},
        BadCase{P "  - name: r\n    targets:\n      - {target: a/x, weight: 0}\n",
                "t.yaml:6: routes[0].targets[0].weight: must be a positive integer"},
        BadCase{P "  - name: r\n    targets:\n      - {target: a/x, priority: -1}\n",
                "t.yaml:6: routes[0].targets[0].priority: must be at least 0"},
        BadCase{P "  - name: r\n    targets:\n      - {weight: 2}\n",
                "t.yaml:6: routes[0].targets[0].target: is required"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    retry: {attempts: 0}\n",
                "t.yaml:6: routes[0].retry.attempts: must be a positive integer"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    retry: {budget_percent: -1}\n",
                "t.yaml:6: routes[0].retry.budget_percent: must be at least 0"},
        BadCase{P "  - name: r\n    targets: [a/x]\n    retry: {tries: 3}\n",
                "t.yaml:6: routes[0].retry.tries: unknown key"},
        BadCase{"auth:\n  api_keys:\n    - {name: k, key: v, groups: premium}\n",
                "t.yaml:3: auth.api_keys[0].groups: must be a list"}));

#undef P

TEST(RoutingConfig, MoreThanSixtyFourTargets) {
  std::string y = "providers:\n  - {name: a, kind: ollama}\nroutes:\n  - name: r\n    targets:\n";
  for (int i = 0; i < 65; ++i) y += "      - a/m" + std::to_string(i) + "\n";
  const std::string msg = error_of(y);
  EXPECT_NE(msg.find("t.yaml:6: routes[0].targets: at most 64 targets"), std::string::npos)
      << msg;
}

TEST(RoutingConfig, RuleToSelfHasRules) {
  const std::string msg =
      error_of("providers:\n  - {name: a, kind: ollama}\nroutes:\n  - name: r\n"
               "    targets: [a/x]\n    rules:\n      - when: {group: g}\n        route: r\n");
  EXPECT_NE(msg.find("t.yaml:7: routes[0].rules[0].route: route 'r' has rules of its own"),
            std::string::npos)
      << msg;
}

TEST(RoutingConfig, RuleToGroupVariantWithRulesIsRefused) {
  // Rules go one level deep across every variant of an alias.
  const std::string msg = error_of(
      "providers:\n  - {name: a, kind: ollama}\nroutes:\n"
      "  - name: r\n    targets: [a/x]\n    rules:\n      - when: {group: g}\n        route: s\n"
      "  - {name: s, targets: [a/y]}\n"
      "  - name: s\n    group: g\n    targets: [a/z]\n    rules:\n"
      "      - when: {group: h}\n        route: t\n"
      "  - {name: t, targets: [a/w]}\n");
  EXPECT_NE(msg.find("routes[0].rules[0].route: route 's' has rules of its own"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace torii
