// build_snapshot and Snapshot::resolve: providers, aliases, model resolution, /v1/models body.
#include "config/snapshot.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <set>

namespace torii {
namespace {
namespace json = boost::json;

const std::string kMockUrl = "http://127.0.0.1:7777";

ProviderConfig provider(std::string name, std::string kind, std::string base_url,
                        std::vector<std::string> models) {
  ProviderConfig p;
  p.name = std::move(name);
  p.kind = std::move(kind);
  p.base_url = std::move(base_url);
  p.models = std::move(models);
  return p;
}

Config two_providers() {
  Config c;
  c.providers.push_back(
      provider("local", "openai-compatible", "http://127.0.0.1:9999/v1", {"m1", "m2"}));
  c.providers.push_back(provider("mock", "mock", "", {"mock-1"}));
  RouteConfig fast;
  fast.name = "fast";
  fast.targets = {{"local", "m1"}, {"mock", "mock-1"}, {"local", "unlisted"}};
  c.routes.push_back(fast);
  c.egress.allow_networks = {"127.0.0.0/8"};  // the providers are on loopback
  return c;
}

std::shared_ptr<const Snapshot> build(Config c) {
  auto r = build_snapshot(std::move(c), kMockUrl);
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return *r;
}

TEST(Snapshot, BuildsProvidersAndEndpoints) {
  auto s = build(two_providers());
  ASSERT_EQ(s->providers.size(), 2u);
  ASSERT_TRUE(s->provider_by_name.count("local"));
  EXPECT_EQ(s->provider_by_name.at("local")->endpoint().port, 9999);
  // Providers of kind "mock" point at the built-in mock.
  const Endpoint& mock = s->provider_by_name.at("mock")->endpoint();
  EXPECT_EQ(mock.port, 7777);
  EXPECT_EQ(mock.base_path, "/v1");
  // No api keys configured, no auth policy: only the audit policy (it feeds /metrics).
  ASSERT_EQ(s->policies.size(), 1u);
  EXPECT_EQ(s->policies[0]->name(), "audit");
}

TEST(Snapshot, ResolveAlias) {
  auto s = build(two_providers());
  Route scratch;
  const Route* r = s->resolve("fast", nullptr, scratch);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r, &scratch);
  EXPECT_EQ(r->name, "fast");
  ASSERT_EQ(r->targets.size(), 3u);
  EXPECT_EQ(r->targets[0].provider->name(), "local");
  EXPECT_EQ(r->targets[0].model, "m1");
  EXPECT_EQ(r->targets[1].provider->name(), "mock");
  EXPECT_EQ(r->targets[1].model, "mock-1");
  EXPECT_EQ(r->targets[2].model, "unlisted");
}

TEST(Snapshot, ResolveListedModel) {
  auto s = build(two_providers());
  Route scratch;
  const Route* r = s->resolve("local/m2", nullptr, scratch);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r, &scratch);
  ASSERT_EQ(r->targets.size(), 1u);
  EXPECT_EQ(r->targets[0].provider, s->provider_by_name.at("local"));
  EXPECT_EQ(r->targets[0].model, "m2");
}

TEST(Snapshot, ResolveUnlistedModelAtKnownProvider) {
  auto s = build(two_providers());
  Route scratch;
  const Route* r = s->resolve("local/other-model", nullptr, scratch);
  ASSERT_EQ(r, &scratch);
  EXPECT_EQ(r->name, "local/other-model");
  ASSERT_EQ(r->targets.size(), 1u);
  EXPECT_EQ(r->targets[0].provider->name(), "local");
  EXPECT_EQ(r->targets[0].model, "other-model");
}

TEST(Snapshot, ResolveModelWithExtraSlashes) {
  auto s = build(two_providers());
  Route scratch;
  const Route* r = s->resolve("local/meta-llama/Llama-3-8B", nullptr, scratch);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->targets[0].provider->name(), "local");
  EXPECT_EQ(r->targets[0].model, "meta-llama/Llama-3-8B");
}

TEST(Snapshot, ResolveUnknown) {
  auto s = build(two_providers());
  Route scratch;
  EXPECT_EQ(s->resolve("nope/m1", nullptr, scratch), nullptr);
  EXPECT_EQ(s->resolve("m1", nullptr, scratch), nullptr);       // no provider prefix, not an alias
  EXPECT_EQ(s->resolve("local/", nullptr, scratch), nullptr);   // empty model
  EXPECT_EQ(s->resolve("", nullptr, scratch), nullptr);
  EXPECT_EQ(s->resolve("/m1", nullptr, scratch), nullptr);
  EXPECT_EQ(s->resolve("FAST", nullptr, scratch), nullptr);     // aliases are case-sensitive
}

TEST(Snapshot, ModelsJsonListsProviderModelsAndAliases) {
  auto s = build(two_providers());
  json::value v = json::parse(s->models_json);
  EXPECT_EQ(v.at("object").as_string(), "list");
  std::set<std::string> ids;
  for (const auto& m : v.at("data").as_array()) {
    EXPECT_EQ(m.at("object").as_string(), "model");
    EXPECT_TRUE(m.at("created").is_number());
    ids.insert(std::string(m.at("id").as_string()));
  }
  EXPECT_EQ(ids, (std::set<std::string>{"local/m1", "local/m2", "mock/mock-1", "fast"}));
}

TEST(Snapshot, ApiKeysAddTheAuthPolicy) {
  Config c = two_providers();
  ApiKeyConfig k;
  k.name = "a";
  k.key.value = "sk-a";
  c.api_keys.push_back(k);
  c.metrics = false;  // no audit policy either
  auto s = build(std::move(c));
  ASSERT_EQ(s->policies.size(), 1u);
  EXPECT_EQ(s->policies[0]->name(), "auth");
}

TEST(Snapshot, Errors) {
  auto err = [](Config c) {
    auto r = build_snapshot(std::move(c), kMockUrl);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.error().message;
  };
  Config unknown_kind;
  unknown_kind.providers.push_back(provider("x", "nosuchvendor", "http://h/v1", {}));
  EXPECT_NE(err(unknown_kind).find("nosuchvendor"), std::string::npos);

  Config no_base;
  no_base.providers.push_back(provider("x", "openai-compatible", "", {}));
  EXPECT_NE(err(no_base).find("base_url"), std::string::npos);

  Config no_key;  // openai needs a key
  no_key.providers.push_back(provider("oa", "openai", "", {}));
  EXPECT_NE(err(no_key).find("api_key"), std::string::npos);

  Config bad_url;
  bad_url.providers.push_back(provider("x", "openai-compatible", "ftp://h/v1", {}));
  EXPECT_NE(err(bad_url).find("'x'"), std::string::npos);

  Config bad_route = two_providers();
  RouteConfig ghost;
  ghost.name = "r";
  ghost.targets = {{"ghost", "m"}};
  bad_route.routes.push_back(ghost);
  EXPECT_NE(err(bad_route).find("ghost/m"), std::string::npos);

}

TEST(Snapshot, DefaultConfigBuilds) {
  auto s = build(default_config());
  Route scratch;
  const Route* r = s->resolve("demo", nullptr, scratch);
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[0].provider->name(), "mock");
  EXPECT_EQ(r->targets[0].model, "mock-1");
  EXPECT_EQ(r->targets[1].provider->name(), "mock-flaky");  // fails 30% of calls
  // audit (first: completes last), auth, quotas, the cache (its key before the guardrails'
  // edits; its answer hooks after theirs), guardrails (last: its answer hooks run first)
  ASSERT_EQ(s->policies.size(), 5u);
  EXPECT_EQ(s->policies[0]->name(), "audit");
  EXPECT_EQ(s->policies[1]->name(), "auth");
  EXPECT_EQ(s->policies[2]->name(), "quota");
  EXPECT_EQ(s->policies[3]->name(), "cache");
  EXPECT_EQ(s->policies[4]->name(), "guardrails");
  EXPECT_NE(s->prices->find("mock", "mock-1"), nullptr);  // the demo's made-up price
}

TEST(SnapshotHolder, SwapKeepsOldAlive) {
  SnapshotHolder h;
  EXPECT_EQ(h.get(), nullptr);
  auto a = build(two_providers());
  h.set(a);
  auto held = h.get();
  h.set(build(default_config()));
  EXPECT_EQ(held, a);
  EXPECT_NE(h.get(), a);
  EXPECT_EQ(held->providers.size(), 2u);  // still usable
}

}  // namespace
}  // namespace torii
