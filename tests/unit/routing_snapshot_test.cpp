// Tests for the routing side of src/config/snapshot.cpp: group variants of an alias in
// resolve(), models_for(groups), target health shared through a HealthRegistry, API key
// instances, and routing_metrics().
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <set>

#include "config/snapshot.h"

namespace torii {
namespace {
namespace json = boost::json;

const std::string kMockUrl = "http://127.0.0.1:7777";

ProviderConfig provider(std::string name, int port, std::vector<std::string> models) {
  ProviderConfig p;
  p.name = std::move(name);
  p.kind = "openai-compatible";
  p.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  p.models = std::move(models);
  return p;
}

RouteConfig route(std::string name, std::string group,
                  std::vector<RouteTargetConfig> targets) {
  RouteConfig r;
  r.name = std::move(name);
  r.group = std::move(group);
  r.targets = std::move(targets);
  return r;
}

Config grouped() {
  Config c;
  ProviderConfig a = provider("a", 9001, {"m1"});
  a.api_key.value = "ka0";
  SecretRef k1, k2;
  k1.value = "ka1";
  k2.value = "ka2";
  a.extra_api_keys = {k1, k2};
  a.rate_limit_cooldown = std::chrono::milliseconds(2'500);
  a.breaker.consecutive_failures = 2;
  c.providers.push_back(std::move(a));
  c.providers.push_back(provider("b", 9002, {"m1", "m2"}));
  c.routes.push_back(route("smart", "", {{"a", "m1"}}));
  c.routes.push_back(route("smart", "premium", {{"b", "m1", 1, 1}, {"b", "m2", 2, 0}}));
  c.routes.push_back(route("vip", "premium", {{"b", "m2"}}));
  RouteConfig ruled = route("ruled", "", {{"a", "m1"}});
  RouteRuleConfig rule;
  RuleCondition cond;
  cond.subject = RuleCondition::Subject::group;
  cond.values = {"premium"};
  rule.when = {cond};
  rule.route = "vip";
  ruled.rules.push_back(rule);
  c.routes.push_back(std::move(ruled));
  c.egress.allow_networks = {"127.0.0.0/8"};  // the providers are on loopback
  return c;
}

std::shared_ptr<const Snapshot> build(Config c, routing::HealthRegistry* reg = nullptr) {
  auto r = build_snapshot(std::move(c), kMockUrl, reg);
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return *r;
}

std::set<std::string> model_ids(const std::string& body) {
  std::set<std::string> ids;
  json::value v = json::parse(body);
  for (const auto& m : v.at("data").as_array()) ids.insert(std::string(m.at("id").as_string()));
  return ids;
}

TEST(RoutingSnapshot, ResolvePicksTheCallersGroupVariant) {
  auto s = build(grouped());
  Route scratch;
  const std::vector<std::string> premium{"premium"}, other{"other"}, both{"other", "premium"};
  const Route* p = s->resolve("smart", &premium, scratch);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->group, "premium");
  ASSERT_EQ(p->targets.size(), 2u);
  const Route* e = s->resolve("smart", nullptr, scratch);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->group.empty());
  EXPECT_EQ(e->targets[0].model, "m1");
  EXPECT_EQ(e->targets[0].provider->name(), "a");
  const Route* o = s->resolve("smart", &other, scratch);
  EXPECT_EQ(o, e);
  EXPECT_EQ(s->resolve("smart", &both, scratch), p);
}

TEST(RoutingSnapshot, GroupOnlyAliasIsHiddenFromOthers) {
  auto s = build(grouped());
  Route scratch;
  const std::vector<std::string> premium{"premium"}, other{"other"};
  EXPECT_EQ(s->resolve("vip", nullptr, scratch), nullptr);
  EXPECT_EQ(s->resolve("vip", &other, scratch), nullptr);
  const Route* v = s->resolve("vip", &premium, scratch);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->targets[0].model, "m2");
}

TEST(RoutingSnapshot, ModelsForListsGroupRoutesOnlyToMembers) {
  auto s = build(grouped());
  const std::vector<std::string> premium{"premium"}, other{"other"};
  const std::set<std::string> base{"a/m1", "b/m1", "b/m2", "smart", "ruled"};
  EXPECT_EQ(model_ids(s->models_for(nullptr)), base);
  EXPECT_EQ(model_ids(s->models_for(&other)), base);
  std::set<std::string> with_vip = base;
  with_vip.insert("vip");
  EXPECT_EQ(model_ids(s->models_for(&premium)), with_vip);
  EXPECT_EQ(model_ids(s->models_json), base);
  // "smart" appears once although it has two variants.
  json::value v = json::parse(s->models_for(&premium));
  int smart = 0;
  for (const auto& m : v.at("data").as_array()) smart += m.at("id").as_string() == "smart";
  EXPECT_EQ(smart, 1);
}

TEST(RoutingSnapshot, TargetsAreWiredToProviderSettings) {
  auto s = build(grouped());
  Route scratch;
  const Route* e = s->resolve("smart", nullptr, scratch);
  ASSERT_NE(e, nullptr);
  const Target& t = e->targets[0];
  EXPECT_EQ(t.breaker, &s->config.providers[0].breaker);
  EXPECT_EQ(t.breaker->consecutive_failures, 2);
  EXPECT_EQ(t.rate_limit_cooldown.count(), 2'500);
  ASSERT_NE(t.health, nullptr);
  ASSERT_NE(e->state, nullptr);
  // Priorities become tiers: m2 (priority 0) first.
  const std::vector<std::string> premium{"premium"};
  const Route* p = s->resolve("smart", &premium, scratch);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->targets[0].model, "m2");
  EXPECT_EQ(p->targets[1].model, "m1");
  EXPECT_EQ(p->tiers.size(), 2u);
  EXPECT_NE(p->state, e->state);  // each variant has its own counters
  // Rules are carried over.
  const Route* ruled = s->resolve("ruled", nullptr, scratch);
  ASSERT_NE(ruled, nullptr);
  ASSERT_EQ(ruled->rules.size(), 1u);
  EXPECT_EQ(ruled->rules[0].route, "vip");
}

TEST(RoutingSnapshot, ExtraApiKeysMakeKeyInstances) {
  auto s = build(grouped());
  Route scratch;
  const Route* e = s->resolve("smart", nullptr, scratch);
  ASSERT_NE(e, nullptr);
  const Target& t = e->targets[0];
  ASSERT_EQ(t.keys.size(), 3u);
  EXPECT_EQ(t.keys[0], t.provider);
  EXPECT_EQ(t.provider, s->provider_by_name.at("a"));
  std::set<const Provider*> distinct(t.keys.begin(), t.keys.end());
  EXPECT_EQ(distinct.size(), 3u);
  for (const Provider* k : t.keys) {
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->name(), "a");
  }
  EXPECT_EQ(s->key_instances.size(), 2u);
  EXPECT_EQ(s->providers.size(), 2u);
  // A provider with one key has one instance; unlisted models get every key too.
  const Route* b = s->resolve("b/m1", nullptr, scratch);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->targets[0].keys.size(), 1u);
  const Route* u = s->resolve("a/unlisted", nullptr, scratch);
  ASSERT_EQ(u, &scratch);
  EXPECT_EQ(u->targets[0].keys.size(), 3u);
}

TEST(RoutingSnapshot, TooManyKeysIsAnError) {
  Config c = grouped();
  c.providers[0].extra_api_keys.resize(routing::TargetHealth::kMaxKeys);  // 17 keys in all
  for (auto& k : c.providers[0].extra_api_keys) k.value = "x";
  auto r = build_snapshot(std::move(c), kMockUrl);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("at most 16 API keys"), std::string::npos)
      << r.error().message;
}

TEST(RoutingSnapshot, HealthIsPerProviderModelWithinASnapshot) {
  auto s = build(grouped());
  Route scratch;
  const std::vector<std::string> premium{"premium"};
  const Route* p = s->resolve("smart", &premium, scratch);
  const Route* direct = s->resolve("b/m1", nullptr, scratch);
  const Route* vip = s->resolve("vip", &premium, scratch);
  ASSERT_TRUE(p && direct && vip);
  // b/m1 in the premium variant and as a listed model: one health; b/m2 in two routes: one.
  EXPECT_EQ(p->targets[1].health.get(), direct->targets[0].health.get());
  EXPECT_EQ(p->targets[0].health.get(), vip->targets[0].health.get());
  EXPECT_NE(p->targets[0].health.get(), p->targets[1].health.get());
  // Unlisted models of a provider share "<provider>/*".
  Route s1, s2;
  const Route* u1 = s->resolve("a/x1", nullptr, s1);
  const Route* u2 = s->resolve("a/x2", nullptr, s2);
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ(u1->targets[0].health.get(), u2->targets[0].health.get());
  EXPECT_EQ(u1->targets[0].health.get(), s->provider_slots.at("a").unlisted.get());
  EXPECT_NE(u1->targets[0].health.get(), s->resolve("a/m1", nullptr, s1)->targets[0].health.get());
}

TEST(RoutingSnapshot, HealthSharedAcrossSnapshotsOfOneRegistry) {
  routing::HealthRegistry reg;
  auto s1 = build(grouped(), &reg);
  auto s2 = build(grouped(), &reg);
  Route scratch;
  const Route* r1 = s1->resolve("smart", nullptr, scratch);
  const Route* r2 = s2->resolve("smart", nullptr, scratch);
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->targets[0].health.get(), r2->targets[0].health.get());
  EXPECT_EQ(s1->provider_slots.at("a").unlisted.get(), s2->provider_slots.at("a").unlisted.get());
  // Without a registry each snapshot starts fresh.
  auto s3 = build(grouped());
  auto s4 = build(grouped());
  const Route* r3 = s3->resolve("smart", nullptr, scratch);
  const Route* r4 = s4->resolve("smart", nullptr, scratch);
  ASSERT_TRUE(r3 && r4);
  EXPECT_NE(r3->targets[0].health.get(), r4->targets[0].health.get());
  EXPECT_NE(r3->targets[0].health.get(), r1->targets[0].health.get());
  // An open breaker carries over a reload that keeps the target.
  const BreakerConfig& bc = *r1->targets[0].breaker;
  for (int i = 0; i < bc.consecutive_failures; ++i) {
    bool probe = false;
    ASSERT_TRUE(r1->targets[0].health->acquire(bc, routing::now_ns(), probe));
    r1->targets[0].health->finish(bc, probe, routing::TryResult::failure, 10, 0, 0,
                                  routing::now_ns());
  }
  EXPECT_EQ(r2->targets[0].health->state(), routing::BreakerState::open);
  auto s5 = build(grouped(), &reg);
  EXPECT_EQ(s5->resolve("smart", nullptr, scratch)->targets[0].health->state(),
            routing::BreakerState::open);
}

TEST(RoutingSnapshot, RoutingMetrics) {
  auto s = build(grouped());
  Route scratch;
  const Route* e = s->resolve("smart", nullptr, scratch);
  ASSERT_NE(e, nullptr);
  // A success of 1.5 s (the latency sample), then two failed calls open a's breaker
  // (consecutive_failures 2); one call in flight on b/m2.
  const Target& t = e->targets[0];
  {
    bool probe = false;
    ASSERT_TRUE(t.health->acquire(*t.breaker, routing::now_ns(), probe));
    t.health->finish(*t.breaker, probe, routing::TryResult::success, 1'500'000, 0, 0,
                     routing::now_ns());
  }
  for (int i = 0; i < 2; ++i) {
    bool probe = false;
    ASSERT_TRUE(t.health->acquire(*t.breaker, routing::now_ns(), probe));
    t.health->finish(*t.breaker, probe, routing::TryResult::failure, 10, 0, 0,
                     routing::now_ns());
  }
  const std::vector<std::string> premium{"premium"};
  const Target& m2 = s->resolve("vip", &premium, scratch)->targets[0];
  bool probe = false;
  ASSERT_TRUE(m2.health->acquire(*m2.breaker, routing::now_ns(), probe));  // held: in flight
  e->state->budget.on_request(routing::now_ns());
  EXPECT_FALSE(e->state->budget.try_retry(0, 0, routing::now_ns()));

  const std::string m = s->routing_metrics();
  auto has = [&](const std::string& line) {
    EXPECT_NE(m.find(line), std::string::npos) << "missing: " << line << "\n" << m;
  };
  has("# TYPE torii_target_breaker_state gauge");
  has("torii_target_breaker_state{provider=\"a\",model=\"m1\"} 1\n");
  has("torii_target_breaker_state{provider=\"b\",model=\"m1\"} 0\n");
  has("torii_target_breaker_state{provider=\"a\",model=\"*\"} 0\n");
  has("torii_target_inflight{provider=\"b\",model=\"m2\"} 1\n");
  has("torii_target_inflight{provider=\"a\",model=\"m1\"} 0\n");
  has("torii_target_latency_ewma_seconds{provider=\"a\",model=\"m1\"} 1.5");
  has("torii_target_calls_total{provider=\"a\",model=\"m1\"} 3\n");
  has("torii_target_failures_total{provider=\"a\",model=\"m1\"} 2\n");
  has("torii_target_breaker_opened_total{provider=\"a\",model=\"m1\"} 1\n");
  has("# TYPE torii_route_retries_total counter");
  has("torii_route_retries_total{route=\"smart\"} 0\n");
  has("torii_route_retries_total{route=\"smart@premium\"} 0\n");
  has("torii_route_retry_budget_exhausted_total{route=\"smart\"} 1\n");
  has("torii_route_retry_budget_exhausted_total{route=\"vip@premium\"} 0\n");
  // One series per target, not per route using it.
  std::size_t n = 0;
  for (std::size_t at = 0; (at = m.find("torii_target_calls_total{provider=\"b\",model=\"m2\"}",
                                         at)) != std::string::npos;
       ++at)
    ++n;
  EXPECT_EQ(n, 1u);
  // Direct "<provider>/<model>" routes have no route series.
  EXPECT_EQ(m.find("route=\"a/m1\""), std::string::npos);
  m2.health->finish(*m2.breaker, probe, routing::TryResult::neutral, 0, 0, 0, routing::now_ns());
}

}  // namespace
}  // namespace torii
