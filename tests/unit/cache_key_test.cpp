// The cache key (src/cache/key.h), the usage zeroing of stored answers (src/cache/replay.h),
// the `cache:` config and the embeddings codecs the semantic cache calls.
#include "cache/key.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cache/replay.h"
#include "config/config.h"
#include "providers/ollama.h"
#include "providers/openai_compatible.h"
#include "providers/vendors.h"
#include "upstream/endpoint.h"

namespace torii {
namespace {
namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

cache::Keys keys(std::string_view body, InboundApi api = InboundApi::openai_chat,
                 std::string_view scope = "00000000000000aa", std::string_view route = "r\nl/m",
                 bool stream = false, std::string_view digest = "d") {
  static json::object held;
  held = obj(body);
  cache::KeyInput in;
  in.scope = scope;
  in.api = api;
  in.stream = stream;
  in.route_targets = route;
  in.answers_digest = digest;
  in.request = &held;
  return cache::make_keys(in);
}

const char* kChat =
    R"({"model":"a","temperature":0,"messages":[{"role":"system","content":"S"},{"role":"user","content":"hello"}]})";

TEST(CacheKey, CanonicalKeyOrderAndNumbers) {
  auto a = keys(kChat);
  auto b = keys(R"({"messages":[{"content":"S","role":"system"},{"content":"hello","role":"user"}],"temperature":0.0,"model":"a"})");
  EXPECT_EQ(a.exact, b.exact);
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_EQ(a.exact.substr(0, 17), "00000000000000aa:");
  EXPECT_EQ(a.exact.size(), 16u + 1 + 64);
  EXPECT_EQ(a.last_user_text, "hello");
}

TEST(CacheKey, EverythingThatShapesTheAnswerChangesIt) {
  const auto base = keys(kChat).exact;
  EXPECT_NE(keys(R"({"model":"b","temperature":0,"messages":[{"role":"system","content":"S"},{"role":"user","content":"hello"}]})").exact, base);
  EXPECT_NE(keys(R"({"model":"a","temperature":0.2,"messages":[{"role":"system","content":"S"},{"role":"user","content":"hello"}]})").exact, base);
  EXPECT_NE(keys(R"({"model":"a","temperature":0,"tools":[],"messages":[{"role":"system","content":"S"},{"role":"user","content":"hello"}]})").exact, base);
  EXPECT_NE(keys(R"({"model":"a","temperature":0,"messages":[{"role":"system","content":"T"},{"role":"user","content":"hello"}]})").exact, base);
  EXPECT_NE(keys(R"({"model":"a","temperature":0,"messages":[{"role":"system","content":"S"},{"role":"user","content":"hello!"}]})").exact, base);
  EXPECT_NE(keys(kChat, InboundApi::anthropic_messages).exact, base);
  EXPECT_NE(keys(kChat, InboundApi::openai_chat, "00000000000000bb").exact, base);
  EXPECT_NE(keys(kChat, InboundApi::openai_chat, "00000000000000aa", "r\nl/other").exact, base);
  EXPECT_NE(keys(kChat, InboundApi::openai_chat, "00000000000000aa", "r\nl/m", true).exact, base);
  EXPECT_NE(keys(kChat, InboundApi::openai_chat, "00000000000000aa", "r\nl/m", false, "e").exact, base);
  // A string and a number with the same text differ; so do "1" and 1.
  EXPECT_NE(keys(R"({"model":"a","seed":1,"messages":[{"role":"user","content":"x"}]})").exact,
            keys(R"({"model":"a","seed":"1","messages":[{"role":"user","content":"x"}]})").exact);
}

TEST(CacheKey, WhoIsAskingIsTheScopeNotTheKey) {
  const auto base = keys(kChat).exact;
  EXPECT_EQ(keys(R"({"model":"a","temperature":0,"user":"u1","metadata":{"x":"y"},"messages":[{"role":"system","content":"S"},{"role":"user","content":"hello"}]})").exact, base);
}

TEST(CacheKey, PartitionIsEverythingButTheLastUserTurn) {
  auto a = keys(kChat);
  auto b = keys(R"({"model":"a","temperature":0,"messages":[{"role":"system","content":"S"},{"role":"user","content":"bonjour"}]})");
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_NE(a.exact, b.exact);
  // An earlier turn differs: another conversation, another partition.
  auto c = keys(R"({"model":"a","temperature":0,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"r"},{"role":"user","content":"hello"}]})");
  EXPECT_NE(a.partition, c.partition);
  // Text parts are joined; a non-text part leaves nothing to embed.
  auto parts = keys(R"({"model":"a","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
  EXPECT_EQ(parts.last_user_text, "a\nb");
  auto image = keys(R"({"model":"a","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:,"}}]}]})");
  EXPECT_EQ(image.last_user_text, "");
  // A conversation that does not end with the user (a prefill): nothing to embed.
  auto prefill = keys(R"({"model":"a","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"{"}]})", InboundApi::anthropic_messages);
  EXPECT_EQ(prefill.last_user_text, "");
  EXPECT_EQ(keys(R"({"model":"a","input":"hi there"})", InboundApi::openai_responses).last_user_text, "hi there");
  EXPECT_EQ(keys(R"({"model":"a","prompt":"once upon"})", InboundApi::openai_completions).last_user_text, "once upon");
}

TEST(CacheKey, Scopes) {
  Principal p;
  p.id = "alice";
  std::vector<std::string> groups{"b", "a"};
  p.groups = &groups;
  EXPECT_EQ(cache::tenant_of(p, "consumer"), "consumer:alice");
  EXPECT_EQ(cache::tenant_of(p, "group"), "group:a,b");
  EXPECT_EQ(cache::tenant_of(p, "shared"), "shared");
  EXPECT_NE(cache::scope_digest("consumer:alice"), cache::scope_digest("consumer:bob"));
  EXPECT_EQ(cache::scope_digest("x").size(), 16u);
}

TEST(CacheKey, Uncacheable) {
  EXPECT_EQ(cache::uncacheable(obj(R"({"temperature":0})"), 0), "");
  EXPECT_EQ(cache::uncacheable(obj(R"({"temperature":0.5})"), 0), "temperature");
  EXPECT_EQ(cache::uncacheable(obj(R"({})"), 0), "temperature");  // the default is 1
  EXPECT_EQ(cache::uncacheable(obj(R"({})"), 1), "");
  EXPECT_EQ(cache::uncacheable(obj(R"({"temperature":0,"previous_response_id":"r1"})"), 2), "stateful");
}

TEST(CacheReplay, ZeroesUsageInWholeAnswers) {
  auto openai = cache::zero_usage_json(
      R"({"id":"x","choices":[{"message":{"content":"12 apples"}}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":3}}})");
  ASSERT_TRUE(openai);
  auto v = json::parse(*openai).as_object();
  EXPECT_EQ(v["usage"].as_object()["total_tokens"].as_int64(), 0);
  EXPECT_EQ(v["usage"].as_object()["prompt_tokens_details"].as_object()["cached_tokens"].as_int64(), 0);
  EXPECT_EQ(v["choices"].as_array()[0].as_object()["message"].as_object()["content"].as_string(), "12 apples");
  EXPECT_FALSE(cache::zero_usage_json("not json"));
  EXPECT_EQ(*cache::zero_usage_json(R"({"a":1})"), R"({"a":1})");
}

TEST(CacheReplay, ZeroesUsageInStreams) {
  const std::string anthropic =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi 42\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":5}}\n\n";
  auto out = cache::zero_usage_sse(anthropic);
  ASSERT_TRUE(out);
  EXPECT_NE(out->find("\"input_tokens\":0"), std::string::npos);
  EXPECT_NE(out->find("\"output_tokens\":0}"), std::string::npos);
  EXPECT_EQ(out->find("\"input_tokens\":9"), std::string::npos);
  EXPECT_NE(out->find("hi 42"), std::string::npos);
  EXPECT_NE(out->find("event: content_block_delta\n"), std::string::npos);
  const std::string openai = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\r\n\r\ndata: [DONE]\r\n\r\n";
  auto o = cache::zero_usage_sse(openai);
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":0}}\r\n\r\ndata: [DONE]\r\n\r\n");
  EXPECT_FALSE(cache::zero_usage_sse("data: {\"usage\": broken\n\n"));
}

TEST(CacheConfigTest, LoadsAndChecks) {
  const std::string base = R"(
providers:
  - {name: local, kind: openai-compatible, base_url: "http://127.0.0.1:9999/v1", models: [m1, e1]}
routes:
  - {name: chat, targets: [local/m1]}
  - {name: off, targets: [local/m1], cache: false}
egress: {allow_networks: [127.0.0.0/8]}
)";
  auto ok = parse_config(base + "cache: {ttl_seconds: 60, max_temperature: 0.5, scope: group, routes: [chat],\n"
                         "  semantic: {embedding_model: local/e1, threshold: 0.95, dimensions: 256}}\n", "t.yaml");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->cache.enabled);
  EXPECT_EQ(ok->cache.ttl.count(), 60000);
  EXPECT_EQ(ok->cache.scope, "group");
  EXPECT_TRUE(ok->cache.semantic.enabled);
  EXPECT_EQ(ok->cache.semantic.dimensions, 256);
  EXPECT_EQ(ok->cache.answers_digest.size(), 32u);
  EXPECT_FALSE(ok->routes[1].cache);
  auto err = [&](const std::string& yaml) {
    auto r = parse_config(base + yaml, "t.yaml");
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(err("cache: {scope: planet}\n").find("cache.scope"), std::string::npos);
  EXPECT_NE(err("cache: {max_temperature: 3}\n").find("cache.max_temperature"), std::string::npos);
  EXPECT_NE(err("cache: {routes: [nope]}\n").find("names no route"), std::string::npos);
  EXPECT_NE(err("cache: {semantic: {threshold: 0.9}}\n").find("embedding_model"), std::string::npos);
  EXPECT_NE(err("cache: {semantic: {embedding_model: ghost}}\n").find("names no route"), std::string::npos);
  EXPECT_NE(err("cache: {store: disk}\n").find("memory or redis"), std::string::npos);
  EXPECT_NE(err("cache: {colour: red}\n").find("colour"), std::string::npos);
  // The guardrails shape answers: another guardrail config, another digest.
  auto g1 = parse_config(base + "cache: {}\nguardrails: {checks: [{id: a, kind: pii}]}\n", "t.yaml");
  auto g2 = parse_config(base + "cache: {}\nguardrails: {checks: [{id: a, kind: secrets}]}\n", "t.yaml");
  ASSERT_TRUE(g1 && g2);
  EXPECT_NE(g1->cache.answers_digest, g2->cache.answers_digest);
}

TEST(Embeddings, OpenAiDecode) {
  auto r = decode_openai_embeddings("p", R"({"data":[{"index":1,"embedding":[0.5,1]},{"index":0,"embedding":[1,0]}],"usage":{"prompt_tokens":4,"total_tokens":4}})");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->vectors.size(), 2u);
  EXPECT_FLOAT_EQ(r->vectors[0][0], 1.0f);
  EXPECT_FLOAT_EQ(r->vectors[1][0], 0.5f);
  EXPECT_EQ(r->usage.prompt_tokens, 4);
  for (const char* bad : {"nope", R"({"data":{}})", R"({"data":[{"embedding":"x"}]})",
                          R"({"data":[{"index":5,"embedding":[1]}]})",
                          R"({"data":[{"embedding":[1]},{"embedding":[1,2]}]})",
                          R"({"data":[{"embedding":[]}]})"}) {
    auto e = decode_openai_embeddings("p", bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().status, 502);
  }
}

std::string encoded_path(std::string_view kind, std::string_view base) {
  ProviderConfig c;
  c.name = "p";
  c.kind = std::string(kind);
  c.api_key.value = "k";
  auto ep = make_endpoint(std::string(base), "", UpstreamTimeouts{});
  EXPECT_TRUE(ep.ok());
  auto p = make_openai_compatible(c, *find_vendor(kind), std::move(*ep));
  const std::string inputs[1] = {"hello"};
  auto r = p->encode_embeddings(EmbeddingsCall{"emb", inputs, 256});
  EXPECT_TRUE(r) << r.error().message;
  auto body = json::parse(r->body).as_object();
  EXPECT_EQ(body["model"].as_string(), "emb");
  EXPECT_EQ(body["input"].as_array().size(), 1u);
  EXPECT_EQ(body["dimensions"].as_int64(), 256);
  return r->path;
}

TEST(Embeddings, OpenAiCompatiblePaths) {
  EXPECT_EQ(encoded_path("openai", "https://api.openai.com/v1"), "/v1/embeddings");
  EXPECT_EQ(encoded_path("mistral", "https://api.mistral.ai/v1"), "/v1/embeddings");
  // Azure: the deployment's path and the api-version stay.
  EXPECT_EQ(encoded_path("azure", "https://r.openai.azure.com"),
            "/openai/deployments/emb/embeddings?api-version=2024-10-21");
}

TEST(Embeddings, Ollama) {
  ProviderConfig c;
  c.name = "ol";
  c.kind = "ollama";
  auto p = make_ollama(c, Endpoint{});
  ASSERT_TRUE(p);
  EXPECT_TRUE((*p)->capabilities().embeddings);
  const std::string inputs[2] = {"a", "b"};
  auto r = (*p)->encode_embeddings(EmbeddingsCall{"nomic-embed-text", inputs, 0});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/api/embed");
  auto body = json::parse(r->body).as_object();
  EXPECT_FALSE(body.contains("dimensions"));
  auto d = (*p)->decode_embeddings(R"({"model":"m","embeddings":[[0.1,0.2],[0.3,0.4]],"prompt_eval_count":7})");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->vectors.size(), 2u);
  EXPECT_EQ(d->usage.prompt_tokens, 7);
  EXPECT_FALSE((*p)->decode_embeddings(R"({"embeddings":[[0.1],[0.2,0.3]]})"));
  EXPECT_FALSE((*p)->decode_embeddings(R"({"embeddings":"x"})"));
}

}  // namespace
}  // namespace torii
