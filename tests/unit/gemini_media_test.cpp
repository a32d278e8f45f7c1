// The Gemini provider's modalities besides chat: Imagen image generation (:predict) and
// embeddings (:batchEmbedContents), encoded to the exact upstream request and decoded into
// OpenAI's shapes; refused and ignored fields; bad answers; and, as a conformance check, the
// provider against the mock's Imagen and batchEmbedContents endpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "core/base64.h"
#include "providers/gemini.h"
#include "providers/gemini_media.h"
#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace {
namespace json = boost::json;

constexpr std::string_view kKey = "AIza-secret-key";

std::unique_ptr<Provider> gemini(std::string base_path = "") {
  ProviderConfig c;
  c.name = "gem";
  c.kind = "gemini";
  c.api_key.value = std::string(kKey);
  Endpoint e;
  e.tls = true;
  e.host = "generativelanguage.googleapis.com";
  e.port = 443;
  e.base_path = std::move(base_path);
  auto p = make_gemini(c, std::move(e));
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(*p);
}

// One modality call over a client body (the call points into it: not movable).
struct Call {
  json::object body;
  std::vector<std::string> ignored;
  ModalityCall call;
  Call(Modality m, std::string_view body_json, std::string_view model)
      : body(json::parse(body_json).as_object()) {
    call.modality = m;
    call.body = &body;
    call.upstream_model = model;
    call.ignored = &ignored;
  }
  Call(const Call&) = delete;
};

json::value parse(std::string_view s) { return json::parse(s); }

// The header lines of a prebuilt block as Headers.
Headers header_lines(std::string_view block) {
  Headers out;
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return out;
}

// The mock endpoint's answer to an upstream request, as the mock would give it.
MockAnswer to_mock(const UpstreamRequest& r, MockJobs& jobs, const MockKnobs& knobs = {},
                   std::optional<Headers> headers = std::nullopt) {
  const std::string_view path = std::string_view(r.path).substr(0, r.path.find('?'));
  const Headers h = headers ? *headers : header_lines(r.header_block);
  for (const MockEndpoint* ep : mock_endpoints()) {
    if (!ep->matches(r.method, path)) continue;
    const MockRequest req{r.method, r.path, path, h, r.body};
    return ep->answer(req, knobs, jobs);
  }
  throw std::runtime_error("no mock endpoint for " + r.method + " " + r.path);
}

// --- Imagen ----------------------------------------------------------------------------------

TEST(GeminiImages, CapabilitiesAnnounceEmbeddingsAndImageGeneration) {
  auto p = gemini();
  EXPECT_TRUE(p->capabilities().supports(Modality::embeddings));
  EXPECT_TRUE(p->capabilities().supports(Modality::image_generation));
  EXPECT_FALSE(p->capabilities().supports(Modality::image_edit));
  EXPECT_FALSE(p->capabilities().supports(Modality::speech));
  EXPECT_TRUE(p->capabilities().chat);  // chat is unchanged
}

TEST(GeminiImages, EncodesThePredictRequest) {
  auto p = gemini();
  Call c(Modality::image_generation,
         R"({"model":"gem/imagen","prompt":"a red fox","n":2,"size":"1792x1024",
             "response_format":"b64_json"})",
         "imagen-4.0-generate-001");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/v1beta/models/imagen-4.0-generate-001:predict");
  EXPECT_EQ(r->body,
            R"({"instances":[{"prompt":"a red fox"}],"parameters":{"sampleCount":2,)"
            R"("aspectRatio":"16:9"}})");
  const Headers h = header_lines(r->header_block);
  EXPECT_EQ(find_header(h, "x-goog-api-key"), kKey);
  EXPECT_EQ(find_header(h, "content-type"), "application/json");
  EXPECT_EQ(r->path.find(kKey), std::string::npos);
  EXPECT_TRUE(c.ignored.empty());
}

TEST(GeminiImages, SendsSampleCountAlwaysAndNoRatioWithoutSize) {
  auto p = gemini("/v1beta");  // base_url with the version: not doubled
  Call c(Modality::image_generation, R"({"prompt":"a cat","size":"auto"})", "models/imagen-3");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, "/v1beta/models/imagen-3:predict");
  // Imagen's own default is 4 images; OpenAI's is 1.
  EXPECT_EQ(r->body, R"({"instances":[{"prompt":"a cat"}],"parameters":{"sampleCount":1}})");
}

TEST(GeminiImages, SizesMapToTheNearestAspectRatio) {
  auto p = gemini();
  const std::pair<const char*, const char*> cases[] = {
      {"1024x1024", "1:1"}, {"1024x1792", "9:16"}, {"1536x1024", "4:3"},
      {"1024x1536", "3:4"}, {"512x512", "1:1"},    {"2000x1000", "16:9"}};
  for (const auto& [size, ratio] : cases) {
    Call c(Modality::image_generation,
           std::string(R"({"prompt":"x","size":")") + size + "\"}", "imagen-4.0-generate-001");
    auto r = p->encode_modality(c.call);
    ASSERT_TRUE(r) << size;
    EXPECT_EQ(parse(r->body).at("parameters").at("aspectRatio"), ratio) << size;
  }
}

TEST(GeminiImages, UrlIsAnsweredAsBase64AndHintsAreIgnored) {
  auto p = gemini();
  Call c(Modality::image_generation,
         R"({"prompt":"x","response_format":"url","quality":"hd","style":"vivid","user":"u-1"})",
         "imagen-4.0-generate-001");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(c.ignored, (std::vector<std::string>{"quality", "style", "user", "response_format"}));
  EXPECT_EQ(parse(r->body).at("parameters").as_object().size(), 1u);  // sampleCount only
}

TEST(GeminiImages, RefusesWhatImagenCannotDo) {
  auto p = gemini();
  struct Case {
    const char* body;
    const char* param;
  } cases[] = {
      {R"({"prompt":"x","n":5})", "n"},
      {R"({"prompt":"x","n":0})", "n"},
      {R"({"prompt":"x","size":"huge"})", "size"},
      {R"({"prompt":"x","size":"0x10"})", "size"},
      {R"({"prompt":"x","stream":true})", "stream"},
      {R"({"prompt":"x","response_format":"png"})", "response_format"},
      {R"({"prompt":""})", "prompt"},
      {R"({"n":1})", "prompt"},
  };
  for (const Case& k : cases) {
    Call c(Modality::image_generation, k.body, "imagen-4.0-generate-001");
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r) << k.body;
    EXPECT_EQ(r.error().status, 400) << k.body;
    EXPECT_EQ(r.error().param, k.param) << k.body;
  }
  Call c(Modality::image_generation, R"({"prompt":"x","n":5})", "imagen-4.0-generate-001");
  auto r = p->encode_modality(c.call);
  EXPECT_NE(r.error().message.find("'gem'"), std::string::npos) << r.error().message;
}

TEST(GeminiImages, DecodesPredictionsIntoB64Json) {
  auto p = gemini();
  Call c(Modality::image_generation, R"({"prompt":"x","n":3})", "imagen-4.0-generate-001");
  auto r = p->decode_modality(
      c.call, 0, "application/json",
      R"({"predictions":[{"mimeType":"image/png","bytesBase64Encoded":"AAAA"},
          {"raiFilteredReason":"blocked: people"},
          {"bytesBase64Encoded":"BBBB","mimeType":"image/png","prompt":"an enhanced fox"}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->next);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(r->usage.images, 2);
  json::value v = parse(r->body);
  EXPECT_TRUE(v.at("created").is_int64());
  const json::array& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("b64_json"), "AAAA");
  EXPECT_FALSE(data[0].as_object().contains("url"));
  EXPECT_FALSE(data[0].as_object().contains("revised_prompt"));
  EXPECT_EQ(data[1].at("b64_json"), "BBBB");
  EXPECT_EQ(data[1].at("revised_prompt"), "an enhanced fox");
}

TEST(GeminiImages, EveryImageFilteredIsAContentPolicy400) {
  auto p = gemini();
  Call c(Modality::image_generation, R"({"prompt":"x"})", "imagen-4.0-generate-001");
  for (const char* body : {"{}", R"({"predictions":[{"raiFilteredReason":"unsafe"}]})"}) {
    auto r = p->decode_modality(c.call, 0, "application/json", body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().code, "content_policy_violation");
    EXPECT_NE(r.error().message.find("'gem'"), std::string::npos);
  }
}

TEST(GeminiImages, UndecodableAnswersAre502s) {
  auto p = gemini();
  Call c(Modality::image_generation, R"({"prompt":"x"})", "imagen-4.0-generate-001");
  for (const char* body : {"not json", "[]", R"({"predictions":{}})", R"({"predictions":[1]})",
                           R"({"predictions":[{"mimeType":"image/png"}]})"}) {
    auto r = p->decode_modality(c.call, 0, "application/json", body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().status, 502) << body;
    EXPECT_NE(r.error().message.find("'gem'"), std::string::npos);
  }
  auto late = p->decode_modality(c.call, 1, "application/json", R"({"predictions":[]})");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().status, 502);  // Gemini answers at once: there is no step 1
}

// --- embeddings ------------------------------------------------------------------------------

TEST(GeminiEmbeddings, EncodesTheBatchRequest) {
  auto p = gemini();
  Call c(Modality::embeddings,
         R"({"model":"gem/e","input":["hello","world"],"dimensions":256,
             "encoding_format":"base64","user":"u-1"})",
         "gemini-embedding-001");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, "/v1beta/models/gemini-embedding-001:batchEmbedContents");
  EXPECT_EQ(r->body,
            R"({"requests":[{"model":"models/gemini-embedding-001","content":{"parts":)"
            R"([{"text":"hello"}]},"outputDimensionality":256},{"model":)"
            R"("models/gemini-embedding-001","content":{"parts":[{"text":"world"}]},)"
            R"("outputDimensionality":256}]})");
  EXPECT_EQ(find_header(header_lines(r->header_block), "x-goog-api-key"), kKey);
  EXPECT_EQ(c.ignored, std::vector<std::string>{"user"});
}

TEST(GeminiEmbeddings, OneStringInputAndNoDimensions) {
  auto p = gemini();
  Call c(Modality::embeddings, R"({"input":"only one"})", "text-embedding-004");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, R"({"requests":[{"model":"models/text-embedding-004","content":{"parts":)"
                     R"([{"text":"only one"}]}}]})");
}

TEST(GeminiEmbeddings, RefusesBadInputs) {
  auto p = gemini();
  std::string many = R"({"input":[)";
  for (int i = 0; i < 101; ++i) many += (i ? ",\"t" : "\"t") + std::to_string(i) + "\"";
  many += "]}";
  struct Case {
    std::string body;
    const char* param;
  } cases[] = {
      {many, "input"},
      {R"({"input":[[1,2,3]]})", "input"},
      {R"({"input":5})", "input"},
      {R"({"input":"x","dimensions":0})", "dimensions"},
      {R"({"input":"x","dimensions":"many"})", "dimensions"},
      {R"({"input":"x","encoding_format":"int8"})", "encoding_format"},
  };
  for (const Case& k : cases) {
    Call c(Modality::embeddings, k.body, "gemini-embedding-001");
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r) << k.body;
    EXPECT_EQ(r.error().status, 400) << k.body;
    EXPECT_EQ(r.error().param, k.param) << k.body;
  }
}

TEST(GeminiEmbeddings, DecodesFloatsWithUnknownTokens) {
  auto p = gemini();
  Call c(Modality::embeddings, R"({"input":["a","b"]})", "gemini-embedding-001");
  auto r = p->decode_modality(c.call, 0, "application/json",
                              R"({"embeddings":[{"values":[0.5,-0.25]},{"values":[1,0]}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->usage.prompt_tokens, -1);  // Gemini reports none
  EXPECT_EQ(r->usage.total_tokens, -1);
  json::value v = parse(r->body);
  EXPECT_EQ(v.at("object"), "list");
  EXPECT_EQ(v.at("model"), "gemini-embedding-001");
  const json::array& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("index"), 0);
  EXPECT_EQ(data[0].at("embedding").as_array().size(), 2u);
  EXPECT_DOUBLE_EQ(data[0].at("embedding").at(0).to_number<double>(), 0.5);
  EXPECT_DOUBLE_EQ(data[0].at("embedding").at(1).to_number<double>(), -0.25);
  EXPECT_EQ(data[1].at("index"), 1);
}

TEST(GeminiEmbeddings, DecodesBase64WhenAsked) {
  auto p = gemini();
  Call c(Modality::embeddings, R"({"input":"a","encoding_format":"base64"})", "m");
  auto r = p->decode_modality(c.call, 0, "application/json",
                              R"({"embeddings":[{"values":[0.5,-2]}]})");
  ASSERT_TRUE(r) << r.error().message;
  json::value v = parse(r->body);
  std::string bytes;
  ASSERT_TRUE(base64_decode(v.at("data").at(0).at("embedding").as_string(), bytes));
  ASSERT_EQ(bytes.size(), 8u);
  float f[2];
  std::memcpy(f, bytes.data(), 8);  // little-endian float32s (the test host is little-endian)
  EXPECT_EQ(f[0], 0.5f);
  EXPECT_EQ(f[1], -2.0f);
}

TEST(GeminiEmbeddings, ReadsUsageMetadataWhenPresent) {
  auto p = gemini();
  Call c(Modality::embeddings, R"({"input":"a"})", "m");
  auto r = p->decode_modality(
      c.call, 0, "application/json",
      R"({"embeddings":[{"values":[1]}],"usageMetadata":{"promptTokenCount":7}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->usage.prompt_tokens, 7);
  EXPECT_EQ(parse(r->body).at("usage").at("prompt_tokens"), 7);
}

TEST(GeminiEmbeddings, UndecodableAnswersAre502s) {
  auto p = gemini();
  Call c(Modality::embeddings, R"({"input":["a","b"]})", "m");
  for (const char* body : {"nope", R"({"embeddings":[]})",
                           R"({"embeddings":[{"values":[1]}]})",  // one vector for two inputs
                           R"({"embeddings":[{"values":[1]},{"values":[1,2]}]})",
                           R"({"embeddings":[{"values":[1]},{"values":["x"]}]})",
                           R"({"embeddings":[{"values":[1]},{}]})"}) {
    auto r = p->decode_modality(c.call, 0, "application/json", body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().status, 502) << body;
  }
}

TEST(GeminiEmbeddings, SemanticCacheCallsUseTheSameWire) {
  auto p = gemini();
  const std::string inputs[1] = {"how do I reset my password"};
  auto r = p->encode_embeddings(EmbeddingsCall{"text-embedding-004", inputs, 128});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, "/v1beta/models/text-embedding-004:batchEmbedContents");
  json::value body = parse(r->body);
  EXPECT_EQ(body.at("requests").at(0).at("outputDimensionality"), 128);
  const json::value& part = body.at("requests").at(0).at("content").at("parts").at(0);
  EXPECT_EQ(part.at("text").as_string(), inputs[0]);
  auto d = p->decode_embeddings(R"({"embeddings":[{"values":[0.25,0.75]}]})");
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->vectors.size(), 1u);
  EXPECT_EQ(d->vectors[0], (std::vector<float>{0.25f, 0.75f}));
  EXPECT_FALSE(p->decode_embeddings("{}"));
}

// --- against the mock ------------------------------------------------------------------------

TEST(GeminiMedia, ProviderAndMockAgreeOnImagen) {
  auto p = gemini();
  MockJobs jobs;
  Call c(Modality::image_generation, R"({"prompt":"a lighthouse","n":3,"size":"1024x1792"})",
         "imagen-4.0-generate-001");
  auto rq = p->encode_modality(c.call);
  ASSERT_TRUE(rq);
  MockAnswer a = to_mock(*rq, jobs);
  ASSERT_EQ(a.status, 200) << a.body;
  auto r = p->decode_modality(c.call, 0, a.content_type, std::move(a.body));
  ASSERT_TRUE(r) << r.error().message;
  json::value v = parse(r->body);
  ASSERT_EQ(v.at("data").as_array().size(), 3u);
  EXPECT_EQ(v.at("data").at(2).at("b64_json").as_string(), kMockPngB64);
  EXPECT_EQ(r->usage.images, 3);

  MockKnobs blocked;
  blocked.blocked = 1;
  a = to_mock(*rq, jobs, blocked);
  ASSERT_EQ(a.status, 200);
  auto refused = p->decode_modality(c.call, 0, a.content_type, std::move(a.body));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "content_policy_violation");
}

TEST(GeminiMedia, MockChecksTheKeyAndTheRequest) {
  auto p = gemini();
  MockJobs jobs;
  Call c(Modality::image_generation, R"({"prompt":"x"})", "imagen-4.0-generate-001");
  auto rq = p->encode_modality(c.call);
  ASSERT_TRUE(rq);
  MockAnswer a = to_mock(*rq, jobs, {}, Headers{{"content-type", "application/json"}});
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(parse(a.body).at("error").at("status"), "PERMISSION_DENIED");
  ApiError e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.code, "upstream_auth");

  UpstreamRequest bad = *rq;
  bad.body = R"({"instances":[{"prompt":"x"}],"parameters":{"sampleCount":9}})";
  a = to_mock(bad, jobs);
  EXPECT_EQ(a.status, 400);
  e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("sampleCount"), std::string::npos) << e.message;
  bad.body = R"({"instances":[{"prompt":"x"}],"parameters":{"aspectRatio":"2:1"}})";
  EXPECT_EQ(to_mock(bad, jobs).status, 400);
  bad.body = R"({"instances":[{"prompt":"x"}],"extra":1})";
  EXPECT_EQ(to_mock(bad, jobs).status, 400);
}

TEST(GeminiMedia, ProviderAndMockAgreeOnEmbeddings) {
  auto p = gemini();
  MockJobs jobs;
  Call c(Modality::embeddings,
         R"({"input":["reset my password","reset my password","bake bread"],"dimensions":64})",
         "gemini-embedding-001");
  auto rq = p->encode_modality(c.call);
  ASSERT_TRUE(rq);
  MockAnswer a = to_mock(*rq, jobs);
  ASSERT_EQ(a.status, 200) << a.body;
  auto r = p->decode_modality(c.call, 0, a.content_type, std::move(a.body));
  ASSERT_TRUE(r) << r.error().message;
  const json::value answer = parse(r->body);
  const json::array& data = answer.at("data").as_array();
  ASSERT_EQ(data.size(), 3u);
  std::vector<std::vector<double>> vs;
  for (const auto& d : data) {
    auto& v = vs.emplace_back();
    for (const auto& x : d.at("embedding").as_array()) v.push_back(x.to_number<double>());
  }
  ASSERT_EQ(vs[0].size(), 64u);
  double norm = 0;
  for (double x : vs[0]) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_EQ(vs[0], vs[1]);
  EXPECT_NE(vs[0], vs[2]);

  // The mock's default dimension, and its checks: one model per batch, text required.
  Call d(Modality::embeddings, R"({"input":"x"})", "text-embedding-004");
  rq = p->encode_modality(d.call);
  a = to_mock(*rq, jobs);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(parse(a.body).at("embeddings").at(0).at("values").as_array().size(), 768u);
  UpstreamRequest bad = *rq;
  bad.body = R"({"requests":[{"model":"models/other","content":{"parts":[{"text":"x"}]}}]})";
  EXPECT_EQ(to_mock(bad, jobs).status, 400);
  bad.body = R"({"requests":[{"model":"models/text-embedding-004","content":{"parts":[]}}]})";
  EXPECT_EQ(to_mock(bad, jobs).status, 400);
  bad.body = R"({"requests":[]})";
  EXPECT_EQ(to_mock(bad, jobs).status, 400);
}

}  // namespace
}  // namespace torii
