// Authorization rules (src/identity/authz.cpp and the authorization conditions of
// src/routing/rules.cpp), from YAML through the snapshot: a table of allow/deny cases,
// including conflicting rules, per-target denials and default deny.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "config/snapshot.h"
#include "identity/authz.h"

namespace torii {
namespace {
namespace json = boost::json;

const char* kProviders = R"(
egress: {allow_networks: [127.0.0.0/8]}
providers:
  - {name: mistral, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [mistral-small, mistral-large]}
  - {name: openai, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [gpt-4o, gpt-4o-mini]}
routes:
  - {name: gpt-4o-mini, targets: [openai/gpt-4o-mini]}
  - {name: smart, targets: [openai/gpt-4o, mistral/mistral-large]}
  - {name: cheap, targets: [mistral/mistral-small]}
)";

std::shared_ptr<const Snapshot> snapshot(const std::string& authz_yaml) {
  auto cfg = parse_config(std::string(kProviders) + authz_yaml, "t.yaml");
  if (!cfg) throw std::runtime_error(cfg.error().message);
  auto s = build_snapshot(std::move(*cfg), "");
  if (!s) throw std::runtime_error(s.error().message);
  return *s;
}

struct Caller {
  std::string consumer = "bob", key = "bob-key";
  std::map<std::string, std::string> metadata;
  std::vector<std::string> groups;
  json::object claims;
};

// The rule id that refuses, "" when allowed; `denied_targets` gets the removed targets.
std::string decide(const Snapshot& s, const Caller& who, const std::string& model,
                   const char* body_json, uint64_t* denied_targets = nullptr, int64_t now = 0) {
  json::object body = json::parse(body_json).as_object();
  Route scratch;
  const Route* route = s.resolve(model, nullptr, scratch);
  if (!route) throw std::runtime_error("no route " + model);
  routing::RuleInput in;
  in.header = [](std::string_view) { return std::string_view(); };
  in.metadata = &who.metadata;
  in.groups = &who.groups;
  in.body = &body;
  in.consumer = who.consumer;
  in.key = who.key;
  in.claims = who.claims.empty() ? nullptr : &who.claims;
  in.model = model;
  in.now = now;
  identity::AuthzDecision d = s.authorizer->check(in, *route);
  if (denied_targets) *denied_targets = d.denied_targets;
  return d.denied_by ? *d.denied_by : std::string();
}

// The issue's example: interns may use only mistral/* and gpt-4o-mini, max_tokens <= 1000,
// never tools.
const char* kInterns = R"(
authorization:
  rules:
    - id: interns-models
      when: [{metadata: team, equals: interns}, {model: ["mistral/*", gpt-4o-mini], not: true}]
    - id: interns-max-tokens
      when: [{metadata: team, equals: interns}, {param: max_tokens, above: 1000}]
    - id: interns-no-tools
      when: [{metadata: team, equals: interns}, {param: tools, exists: true}]
)";

TEST(Authz, InternsTable) {
  auto s = snapshot(kInterns);
  Caller intern;
  intern.metadata = {{"team", "interns"}};
  Caller staff;
  staff.metadata = {{"team", "research"}};
  struct Case {
    const Caller* who;
    const char* model;
    const char* body;
    const char* want;  // "" allowed, else the rule id
  };
  const Case cases[] = {
      {&intern, "mistral/mistral-small", R"({"max_tokens":1000})", ""},
      {&intern, "gpt-4o-mini", R"({"max_tokens":10})", ""},         // the alias name
      {&intern, "openai/gpt-4o-mini", R"({})", ""},                  // its provider/model
      {&intern, "cheap", R"({})", ""},                               // alias to mistral/*
      {&intern, "openai/gpt-4o", R"({})", "interns-models"},
      {&intern, "mistral/mistral-small", R"({"max_tokens":1001})", "interns-max-tokens"},
      {&intern, "mistral/mistral-small", R"({"max_completion_tokens":5000})", "interns-max-tokens"},
      {&intern, "mistral/mistral-small", R"({"max_output_tokens":5000})", "interns-max-tokens"},
      {&intern, "mistral/mistral-small", R"({"tools":[{"type":"function"}]})", "interns-no-tools"},
      {&intern, "mistral/mistral-small", R"({"tools":[]})", ""},  // no tool present
      {&staff, "openai/gpt-4o", R"({"max_tokens":100000,"tools":[{}]})", ""},
  };
  for (const auto& c : cases)
    EXPECT_EQ(decide(*s, *c.who, c.model, c.body), c.want) << c.model << " " << c.body;
}

TEST(Authz, PerTargetDenialRemovesOnlyThatTarget) {
  auto s = snapshot(kInterns);
  Caller intern;
  intern.metadata = {{"team", "interns"}};
  uint64_t denied = 0;
  // "smart" = openai/gpt-4o (denied) + mistral/mistral-large (allowed): the request goes on
  // with the second target only.
  EXPECT_EQ(decide(*s, intern, "smart", "{}", &denied), "");
  EXPECT_EQ(denied, 1u);
  Caller staff;
  EXPECT_EQ(decide(*s, staff, "smart", "{}", &denied), "");
  EXPECT_EQ(denied, 0u);
}

TEST(Authz, DenyWinsOverAllowAndDefaultDeny) {
  auto s = snapshot(R"(
authorization:
  default: deny
  rules:
    - id: staff-may
      effect: allow
      when: {group: staff}
    - id: nobody-streams
      when: {param: stream, equals: "true"}
    - id: mistral-for-all
      effect: allow
      when: {provider: mistral}
    - id: no-large
      when: {model: "*-large"}
)");
  Caller staff;
  staff.groups = {"staff"};
  Caller guest;
  EXPECT_EQ(decide(*s, staff, "openai/gpt-4o", "{}"), "");
  // Allow and deny both match: deny wins.
  EXPECT_EQ(decide(*s, staff, "openai/gpt-4o", R"({"stream":true})"), "nobody-streams");
  EXPECT_EQ(decide(*s, guest, "openai/gpt-4o", "{}"), "default");
  EXPECT_EQ(decide(*s, guest, "mistral/mistral-small", "{}"), "");
  // A target-level allow and a target-level deny on the same target: deny.
  EXPECT_EQ(decide(*s, guest, "mistral/mistral-large", "{}"), "no-large");
  EXPECT_EQ(decide(*s, staff, "mistral/mistral-large", "{}"), "no-large");
  uint64_t denied = 0;
  // smart: openai/gpt-4o (guest: no allow) and mistral/mistral-large (denied): all refused,
  // the first target's reason named.
  EXPECT_EQ(decide(*s, guest, "smart", "{}", &denied), "default");
}

TEST(Authz, PrincipalClaimsKeysHeadersAndTime) {
  auto s = snapshot(R"(
authorization:
  rules:
    - {id: no-contractors, when: {claim: groups, equals: contractors}}
    - {id: alice-only-key, when: [{consumer: alice}, {key: "old-*"}]}
    - {id: hot-temperature, when: {param: temperature, above: 1.5}}
    - {id: office-hours, when: [{metadata: shift, equals: day}, {time: "18:00-09:00"}]}
    - {id: weekend, when: [{metadata: shift, equals: weekday}, {weekday: [sat, sun]}]}
)");
  Caller c;
  c.claims = json::parse(R"({"groups":["staff","contractors"]})").as_object();
  EXPECT_EQ(decide(*s, c, "cheap", "{}"), "no-contractors");
  c.claims = json::parse(R"({"groups":["staff"]})").as_object();
  EXPECT_EQ(decide(*s, c, "cheap", "{}"), "");
  Caller alice;
  alice.consumer = "alice";
  alice.key = "old-laptop";
  EXPECT_EQ(decide(*s, alice, "cheap", "{}"), "alice-only-key");
  alice.key = "new-laptop";
  EXPECT_EQ(decide(*s, alice, "cheap", "{}"), "");
  EXPECT_EQ(decide(*s, alice, "cheap", R"({"temperature":1.6})"), "hot-temperature");
  EXPECT_EQ(decide(*s, alice, "cheap", R"({"temperature":1.5})"), "");
  Caller day;
  day.metadata = {{"shift", "day"}};
  // 2026-11-18 (a Wednesday) at 10:00 and 20:00 UTC; the window wraps midnight.
  const int64_t wed_10h = 1794996000, wed_20h = wed_10h + 10 * 3600, wed_3h = wed_10h - 7 * 3600;
  EXPECT_EQ(decide(*s, day, "cheap", "{}", nullptr, wed_10h), "");
  EXPECT_EQ(decide(*s, day, "cheap", "{}", nullptr, wed_20h), "office-hours");
  EXPECT_EQ(decide(*s, day, "cheap", "{}", nullptr, wed_3h), "office-hours");
  Caller weekday;
  weekday.metadata = {{"shift", "weekday"}};
  EXPECT_EQ(decide(*s, weekday, "cheap", "{}", nullptr, wed_10h), "");
  EXPECT_EQ(decide(*s, weekday, "cheap", "{}", nullptr, wed_10h + 3 * 86400), "weekend");  // Sat
  EXPECT_EQ(decide(*s, weekday, "cheap", "{}", nullptr, wed_10h + 4 * 86400), "weekend");  // Sun
  EXPECT_EQ(decide(*s, weekday, "cheap", "{}", nullptr, wed_10h + 5 * 86400), "");         // Mon
}

TEST(Authz, NoRulesIsInactive) {
  auto s = snapshot("");
  EXPECT_FALSE(s->authorizer->active());
  auto d = snapshot("authorization: {default: deny}\n");
  EXPECT_TRUE(d->authorizer->active());
  Caller c;
  EXPECT_EQ(decide(*d, c, "cheap", "{}"), "default");
}

TEST(Authz, ConfigErrors) {
  for (const auto& [yaml, want] : std::vector<std::pair<std::string, std::string>>{
           {"authorization:\n  rules:\n    - {id: a, when: {model: x, header: y}}\n",
            "needs exactly one of"},
           {"authorization:\n  rules:\n    - {id: a, when: {time: \"9-18\"}}\n", "HH:MM-HH:MM"},
           {"authorization:\n  rules:\n    - {id: a, when: {weekday: funday}}\n", "must be mon"},
           {"authorization:\n  rules:\n    - {id: a, when: {param: colour, equals: x}}\n",
            "must be one of max_tokens"},
           {"authorization:\n  rules:\n    - {id: a}\n    - {id: a}\n", "duplicate rule id 'a'"},
           {"authorization:\n  rules:\n    - {id: default}\n", "'default' is reserved"},
           {"authorization:\n  rules:\n    - {id: a, effect: maybe}\n", "must be allow or deny"},
           {"authorization:\n  default: perhaps\n", "must be allow or deny"},
           {"routes:\n  - {name: r, targets: [openai/gpt-4o], rules: [{when: {model: x}, route: r}]}\n",
            "unknown key"}}) {
    auto cfg = parse_config(yaml, "t.yaml");
    ASSERT_FALSE(cfg) << yaml;
    EXPECT_NE(cfg.error().message.find(want), std::string::npos) << cfg.error().message;
  }
}

}  // namespace
}  // namespace torii
