// Hive V3 adapter: image generation encoded to the exact upstream request, answers decoded into
// OpenAI's shape, refusals and ignored hints, errors; then through the mock's Hive endpoint.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "providers/hive.h"
#include "providers/registry.h"
#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;
namespace {

std::unique_ptr<Provider> make(std::string key = "hive-secret") {
  ProviderConfig c;
  c.name = "hv";
  c.kind = "hive";
  c.api_key.value = std::move(key);
  Endpoint ep;
  ep.base_path = "/api/v3";
  auto p = make_hive(c, std::move(ep));
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

struct Call {
  json::object body;
  std::vector<std::string> ignored;
  ModalityCall call;
  Call(std::string_view body_json, std::string_view model = "black-forest-labs/flux-schnell",
       Modality m = Modality::image_generation) {
    body = json::parse(body_json).as_object();
    call.modality = m;
    call.body = &body;
    call.upstream_model = model;
    call.ignored = &ignored;
  }
  Call(const Call&) = delete;  // `call` points into it
};

Headers headers_of(const UpstreamRequest& r) {
  Headers out;
  std::string_view block = r.header_block;
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    const std::size_t colon = line.find(':');
    out.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    block.remove_prefix(eol + 2);
  }
  for (const auto& h : r.headers) out.push_back(h);
  return out;
}

TEST(Hive, IsAKindWithAKeyAndNoChat) {
  const ProviderKind* k = find_provider_kind("hive");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->default_base_url, "https://api.thehive.ai/api/v3");
  EXPECT_TRUE(k->key_required);
  auto p = make();
  EXPECT_TRUE(p->capabilities().image_generation);
  EXPECT_FALSE(p->capabilities().image_edit);
  EXPECT_FALSE(p->capabilities().chat);
  ChatRequest q;
  std::vector<std::string> ignored;
  ChatCall chat;
  chat.request = &q;
  chat.ignored = &ignored;
  EXPECT_EQ(p->encode_chat(chat).error().status, 400);
  EXPECT_EQ(p->decode_chat("{}", false).error().status, 502);
}

TEST(Hive, EncodesImageGeneration) {
  auto p = make();
  Call c(R"({"model":"hv/flux","prompt":"a red fox","n":2,"size":"1024x768",
             "response_format":"url","quality":"hd","style":"vivid","user":"u1"})");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/api/v3/black-forest-labs/flux-schnell");
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"input":{"prompt":"a red fox",
      "image_size":{"width":1024,"height":768},"num_images":2,"output_format":"png"}})"));
  const Headers h = headers_of(*r);
  EXPECT_EQ(find_header(h, "authorization"), "Bearer hive-secret");
  EXPECT_EQ(find_header(h, "content-type"), "application/json");
  EXPECT_EQ(c.ignored, (std::vector<std::string>{"quality", "style", "user"}));
}

TEST(Hive, DefaultsAndOutputFormats) {
  auto p = make();
  Call c(R"({"prompt":"a cat","size":"auto"})", "hive/flux-schnell-enhanced");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/api/v3/hive/flux-schnell-enhanced");
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"input":{"prompt":"a cat","num_images":1,"output_format":"png"}})"));
  Call jpeg(R"({"prompt":"a cat","output_format":"jpeg"})");
  r = p->encode_modality(jpeg.call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(r->body).at("input").at("output_format"), "jpeg");
}

TEST(Hive, RefusesWhatChangesTheAnswer) {
  auto p = make();
  struct Case {
    std::string_view body, param;
  };
  for (const Case& k : {Case{R"({"prompt":"x","response_format":"b64_json"})", "response_format"},
                        Case{R"({"prompt":"x","output_format":"webp"})", "output_format"},
                        Case{R"({"prompt":"x","size":"big"})", "size"},
                        Case{R"({"prompt":"x","size":"10x"})", "size"},
                        Case{R"({"prompt":"x","n":0})", "n"},
                        Case{R"({"prompt":"x","n":"2"})", "n"},
                        Case{R"({"prompt":""})", "prompt"}}) {
    Call c(k.body);
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r.ok()) << k.body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, k.param) << k.body;
  }
  for (std::string_view model : {"", "a//b", "../secrets", "a/./b"}) {
    Call c(R"({"prompt":"x"})", model);
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r.ok()) << model;
    EXPECT_EQ(r.error().param, "model");
  }
  Call odd(R"({"prompt":"x"})", "org/model name");
  auto r = p->encode_modality(odd.call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/api/v3/org/model%20name");
  Call speech(R"({"input":"x","voice":"v"})", "m", Modality::speech);
  EXPECT_FALSE(p->encode_modality(speech.call).ok());
}

TEST(Hive, DecodesImages) {
  auto p = make();
  Call c(R"({"prompt":"a red fox","n":2})");
  auto r = p->decode_modality(c.call, 0, "application/json", R"({"id":"t-1",
      "model":"black-forest-labs/flux-schnell","version":"1",
      "input":{"prompt":"a red fox","num_images":2},
      "output":[{"url":"https://cdn.example/a.png"},{"url":"https://cdn.example/b.png"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->content_type, "application/json");
  json::object o = json::parse(r->body).as_object();
  EXPECT_TRUE(o["created"].is_int64());
  EXPECT_EQ(o["data"], json::parse(R"([{"url":"https://cdn.example/a.png"},
                                      {"url":"https://cdn.example/b.png"}])"));
  EXPECT_EQ(r->usage.images, 2);
  EXPECT_FALSE(r->next.has_value());
}

TEST(Hive, BadAnswersAre502) {
  auto p = make();
  Call c(R"({"prompt":"x"})");
  for (std::string_view body : {"<html>", R"({"output":[]})", R"({"id":"t"})",
                                R"({"output":[{"url":""}]})", R"({"output":[{"url":"u"},3]})"}) {
    auto r = p->decode_modality(c.call, 0, "application/json", std::string(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 502);
    EXPECT_NE(r.error().message.find("'hv'"), std::string::npos);
  }
}

TEST(Hive, MapsErrors) {
  auto p = make();
  ApiError e = p->map_error(400, R"({"status_code":400,"message":"prompt was flagged"})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("prompt was flagged"), std::string::npos);
  e = p->map_error(400, R"({"error":{"message":"bad size"}})", "");
  EXPECT_NE(e.message.find("bad size"), std::string::npos);
  e = p->map_error(403, R"({"message":"forbidden"})", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.code, "upstream_auth");
  e = p->map_error(429, R"({"message":"slow"})", "5");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after, "5");
}

// --- through the mock ------------------------------------------------------------------------

MockAnswer send(const UpstreamRequest& r) {
  static MockJobs jobs;
  const Headers headers = headers_of(r);
  for (const MockEndpoint* e : mock_endpoints()) {
    if (!e->matches(r.method, r.path)) continue;
    EXPECT_EQ(e->name(), "hive-images");
    const MockRequest req{r.method, r.path, r.path, headers, r.body};
    return e->answer(req, MockKnobs{}, jobs);
  }
  ADD_FAILURE() << "no mock endpoint for " << r.path;
  return {};
}

TEST(HiveMock, GeneratesThroughTheMock) {
  auto p = make();
  Call c(R"({"prompt":"a red fox","n":3,"size":"512x512","output_format":"jpeg"})");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok());
  MockAnswer a = send(*r);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(json::parse(a.body).at("model"), "black-forest-labs/flux-schnell");
  auto out = p->decode_modality(c.call, 0, a.content_type, std::move(a.body));
  ASSERT_TRUE(out.ok()) << out.error().message;
  const json::value answer = json::parse(out->body);
  const json::array& data = answer.at("data").as_array();
  ASSERT_EQ(data.size(), 3u);
  for (const auto& d : data)
    EXPECT_TRUE(std::string_view(d.at("url").as_string()).ends_with(".jpg"));
  EXPECT_EQ(out->usage.images, 3);
}

TEST(HiveMock, RequiresTheBearerKeyAndAPrompt) {
  auto p = make("");
  Call c(R"({"prompt":"x"})");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok());
  MockAnswer a = send(*r);
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(p->map_error(a.status, a.body, "").code, "upstream_auth");

  auto keyed = make();
  r = keyed->encode_modality(c.call);
  ASSERT_TRUE(r.ok());
  r->body = R"({"input":{"num_images":1}})";
  a = send(*r);
  EXPECT_EQ(a.status, 400);
  ApiError e = keyed->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("input.prompt"), std::string::npos);
  r->body = R"({"input":{"prompt":"x","output_format":"webp"}})";
  EXPECT_EQ(send(*r).status, 400);
}

}  // namespace
}  // namespace torii
