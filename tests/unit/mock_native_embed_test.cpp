// The mock's native embeddings endpoints (Cohere /v2/embed, Bedrock /model/{id}/invoke, Ollama
// /api/embed): their checks and answer shapes, errors in each vendor's shape; then each adapter's
// request answered by its endpoint and decoded back (the two sides are written apart).
#include <cmath>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "providers/bedrock/bedrock.h"
#include "providers/cohere.h"
#include "providers/ollama.h"
#include "tools/mock/mock_embedding.h"
#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace {
namespace json = boost::json;

const MockEndpoint& endpoint(std::string_view name) {
  for (const MockEndpoint* e : mock_endpoints())
    if (e->name() == name) return *e;
  ADD_FAILURE() << "no endpoint " << name;
  return *mock_endpoints().front();
}

struct Sent {
  std::string method = "POST", path;
  Headers headers;
  std::string body;
};

MockAnswer send(const Sent& s) {
  static MockJobs jobs;
  const MockEndpoint* ep = nullptr;
  for (const MockEndpoint* e : mock_endpoints())
    if (!ep && e->matches(s.method, s.path)) ep = e;
  if (!ep) {
    ADD_FAILURE() << "no endpoint matches " << s.path;
    return {};
  }
  MockRequest req{s.method, s.path, s.path, s.headers, s.body};
  return ep->answer(req, MockKnobs{}, jobs);
}

// What an adapter's request puts on the wire: its header block and extra headers.
Sent wire(const UpstreamRequest& r) {
  Sent s;
  s.method = r.method;
  s.path = r.path;
  std::string_view block = r.header_block;
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    const std::size_t colon = line.find(": ");
    if (colon != std::string_view::npos)
      s.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
  for (const auto& h : r.headers) s.headers.push_back(h);
  s.body = r.body;
  return s;
}

json::object parsed(const MockAnswer& a) { return json::parse(a.body).as_object(); }

std::vector<float> floats(const json::value& v) {
  std::vector<float> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<float>(x.to_number<double>()));
  return out;
}

const Headers kBearer{{"Authorization", "Bearer k"}};
const Headers kSigV4{{"Authorization",
                      "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/bedrock/aws4_request, "
                      "SignedHeaders=content-type;host;x-amz-date, Signature=abc"},
                     {"X-Amz-Date", "20150830T123600Z"}};

// --- Cohere ----------------------------------------------------------------------------------

TEST(MockCohereEmbed, AnswersEmbeddingsByType) {
  auto a = send({"POST", "/v2/embed", kBearer,
                 R"({"model":"embed-v4.0","texts":["reset my password","hi"],)"
                 R"("input_type":"search_query","embedding_types":["float"],"output_dimension":256})"});
  ASSERT_EQ(a.status, 200) << a.body;
  auto o = parsed(a);
  const auto& list = o.at("embeddings").at("float").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(floats(list[0]), mock_embedding("reset my password", 256));
  EXPECT_EQ(o.at("texts").at(1).as_string(), "hi");
  EXPECT_EQ(o.at("response_type").as_string(), "embeddings_by_type");
  // about one token per 4 bytes, at least 1 each: 4 + 1
  EXPECT_EQ(o.at("meta").at("billed_units").at("input_tokens").as_int64(), 5);
  // The model's default size: 1536 for v4, 1024 for v3.
  auto v3 = send({"POST", "/v2/embed", kBearer,
                  R"({"model":"embed-english-v3.0","texts":["x"],"input_type":"clustering"})"});
  ASSERT_EQ(v3.status, 200);
  EXPECT_EQ(parsed(v3).at("embeddings").at("float").at(0).as_array().size(), 1024u);
}

TEST(MockCohereEmbed, ChecksWhatCohereRequires) {
  auto no_key = send({"POST", "/v2/embed", {}, R"({"model":"m","texts":["a"],"input_type":"clustering"})"});
  EXPECT_EQ(no_key.status, 401);
  EXPECT_TRUE(parsed(no_key).contains("message"));  // Cohere's {"id","message"}
  EXPECT_TRUE(parsed(no_key).contains("id"));
  auto status = [](std::string body) {
    return send({"POST", "/v2/embed", kBearer, std::move(body)}).status;
  };
  EXPECT_EQ(status(R"({"model":"m","texts":["a"]})"), 400);  // input_type required
  EXPECT_EQ(status(R"({"texts":["a"],"input_type":"clustering"})"), 400);
  EXPECT_EQ(status(R"({"model":"m","texts":[],"input_type":"clustering"})"), 400);
  EXPECT_EQ(status(R"({"model":"m","texts":["a"],"input_type":"other"})"), 400);
  EXPECT_EQ(status(R"({"model":"embed-english-v3.0","texts":["a"],"input_type":"clustering",)"
                   R"("output_dimension":256})"),
            400);
  EXPECT_EQ(status(R"({"model":"embed-v4.0","texts":["a"],"input_type":"clustering",)"
                   R"("output_dimension":300})"),
            400);
  std::string many = R"({"model":"m","input_type":"clustering","texts":[)";
  for (int i = 0; i < 97; ++i) many += std::string(i ? "," : "") + "\"t\"";
  EXPECT_EQ(status(many + "]}"), 400);
  EXPECT_EQ(send({"GET", "/v2/embed", kBearer, ""}).status, 405);
}

// --- Bedrock ---------------------------------------------------------------------------------

TEST(MockBedrockInvoke, TitanV2) {
  EXPECT_FALSE(endpoint("bedrock-invoke").matches("POST", "/model/m/converse"));
  auto a = send({"POST", "/model/amazon.titan-embed-text-v2%3A0/invoke", kSigV4,
                 R"({"inputText":"hello there","dimensions":256,"normalize":true})"});
  ASSERT_EQ(a.status, 200) << a.body;
  auto o = parsed(a);
  EXPECT_EQ(floats(o.at("embedding")), mock_embedding("hello there", 256));
  EXPECT_EQ(floats(o.at("embeddingsByType").at("float")), mock_embedding("hello there", 256));
  EXPECT_EQ(o.at("inputTextTokenCount").as_int64(), 2);
  auto dflt = send({"POST", "/model/amazon.titan-embed-text-v2:0/invoke", kSigV4,
                    R"({"inputText":"x"})"});
  EXPECT_EQ(parsed(dflt).at("embedding").as_array().size(), 1024u);
}

TEST(MockBedrockInvoke, ChecksWhatBedrockRequires) {
  auto unsigned_ = send({"POST", "/model/amazon.titan-embed-text-v2:0/invoke",
                         {{"Authorization", "Bearer k"}}, R"({"inputText":"x"})"});
  EXPECT_EQ(unsigned_.status, 403);
  EXPECT_EQ(find_header(unsigned_.headers, "x-amzn-errortype"), "AccessDeniedException");
  EXPECT_TRUE(parsed(unsigned_).contains("message"));
  auto status = [](std::string model, std::string body) {
    return send({"POST", "/model/" + model + "/invoke", kSigV4, std::move(body)});
  };
  auto batch = status("amazon.titan-embed-text-v2:0", R"({"inputText":["a","b"]})");
  EXPECT_EQ(batch.status, 400);
  EXPECT_EQ(find_header(batch.headers, "x-amzn-errortype"), "ValidationException");
  EXPECT_EQ(status("amazon.titan-embed-text-v2:0", R"({"texts":["a"]})").status, 400);
  EXPECT_EQ(status("amazon.titan-embed-text-v2:0", R"({"inputText":"a","dimensions":300})").status,
            400);
  // G1 takes inputText only.
  auto g1 = status("amazon.titan-embed-text-v1", R"({"inputText":"a","normalize":true})");
  EXPECT_EQ(g1.status, 400);
  EXPECT_NE(g1.body.find("extraneous key [normalize]"), std::string::npos);
  EXPECT_EQ(status("amazon.titan-embed-text-v1", R"({"inputText":"a"})").status, 200);
  EXPECT_EQ(status("cohere.embed-english-v3", R"({"texts":["a"]})").status, 400);  // input_type
  EXPECT_EQ(status("meta.llama3-8b-instruct-v1:0", R"({"inputText":"a"})").status, 400);
}

TEST(MockBedrockInvoke, CohereEmbedShapes) {
  auto floats_shape = send({"POST", "/model/cohere.embed-english-v3/invoke", kSigV4,
                            R"({"texts":["a","b"],"input_type":"search_document"})"});
  ASSERT_EQ(floats_shape.status, 200) << floats_shape.body;
  auto o = parsed(floats_shape);
  EXPECT_EQ(o.at("response_type").as_string(), "embeddings_floats");
  ASSERT_EQ(o.at("embeddings").as_array().size(), 2u);
  EXPECT_EQ(floats(o.at("embeddings").at(1)), mock_embedding("b", 1024));
  auto by_type = send({"POST", "/model/cohere.embed-v4:0/invoke", kSigV4,
                       R"({"texts":["a"],"input_type":"search_query","embedding_types":["float"],)"
                       R"("output_dimension":512})"});
  ASSERT_EQ(by_type.status, 200) << by_type.body;
  EXPECT_EQ(floats(parsed(by_type).at("embeddings").at("float").at(0)), mock_embedding("a", 512));
}

// --- Ollama ----------------------------------------------------------------------------------

TEST(MockOllamaEmbed, AnswersAndChecks) {
  auto a = send({"POST", "/api/embed", {}, R"({"model":"nomic-embed-text","input":"hello"})"});
  ASSERT_EQ(a.status, 200) << a.body;
  auto o = parsed(a);
  EXPECT_EQ(o.at("model").as_string(), "nomic-embed-text");
  EXPECT_EQ(floats(o.at("embeddings").at(0)), mock_embedding("hello", 768));
  EXPECT_EQ(o.at("prompt_eval_count").as_int64(), 1);
  auto small = send({"POST", "/api/embed", {}, R"({"model":"m","input":["a","b"],"dimensions":32})"});
  ASSERT_EQ(small.status, 200);
  EXPECT_EQ(parsed(small).at("embeddings").at(1).as_array().size(), 32u);
  auto bad = send({"POST", "/api/embed", {}, R"({"input":"a"})"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(parsed(bad).contains("error"));  // Ollama's {"error":"…"}
  EXPECT_EQ(send({"POST", "/api/embed", {}, R"({"model":"m","input":[1,2]})"}).status, 400);
  EXPECT_EQ(send({"POST", "/api/embed", {}, R"({"model":"m","input":"a","truncate":"yes"})"}).status,
            400);
}

// --- adapter -> mock -> adapter ----------------------------------------------------------------

struct RoundTrip {
  json::object body;
  std::vector<std::string> ignored;
  ModalityCall call;
  RoundTrip(std::string_view text, std::string_view model) : body(json::parse(text).as_object()) {
    call.modality = Modality::embeddings;
    call.body = &body;
    call.upstream_model = model;
    call.ignored = &ignored;
  }
  // The client's answer, through the mock.
  json::object run(const Provider& p) {
    auto r = p.encode_modality(call);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return {};
    MockAnswer a = send(wire(*r));
    EXPECT_EQ(a.status, 200) << a.body;
    auto reply = p.decode_modality(call, 0, a.content_type, std::move(a.body));
    EXPECT_TRUE(reply.ok()) << reply.error().message;
    if (!reply.ok()) return {};
    return json::parse(reply->body).as_object();
  }
};

std::time_t fixed_clock() { return 1440938160; }

TEST(NativeEmbedRoundTrip, CohereThroughTheMock) {
  ProviderConfig c;
  c.name = "co";
  c.kind = "cohere";
  c.api_key.value = "k";
  auto p = make_cohere(c, Endpoint{});
  ASSERT_TRUE(p.ok());
  RoundTrip t(R"({"input":["reset my password","hello"],"dimensions":256})", "embed-v4.0");
  auto answer = t.run(**p);
  ASSERT_EQ(answer.at("data").as_array().size(), 2u);
  EXPECT_EQ(floats(answer.at("data").at(0).at("embedding")), mock_embedding("reset my password", 256));
  EXPECT_EQ(answer.at("usage").at("prompt_tokens").as_int64(), 5);
}

TEST(NativeEmbedRoundTrip, BedrockTitanAndCohereThroughTheMock) {
  ProviderConfig c;
  c.name = "aws";
  c.kind = "bedrock";
  c.region = "us-east-1";
  c.aws_access_key_id.value = "AKIDEXAMPLE";
  c.aws_secret_access_key.value = "secret";
  auto ep = make_endpoint("http://127.0.0.1:9999", "", {});
  ASSERT_TRUE(ep.ok());
  auto p = make_bedrock_with_clock(c, std::move(*ep), &fixed_clock);
  ASSERT_TRUE(p.ok());
  RoundTrip titan(R"({"input":"hello there","dimensions":512})", "amazon.titan-embed-text-v2:0");
  auto a = titan.run(**p);
  EXPECT_EQ(floats(a.at("data").at(0).at("embedding")), mock_embedding("hello there", 512));
  EXPECT_EQ(a.at("usage").at("prompt_tokens").as_int64(), 2);
  RoundTrip co(R"({"input":["a","b"],"input_type":"search_query"})", "cohere.embed-english-v3");
  auto b = co.run(**p);
  ASSERT_EQ(b.at("data").as_array().size(), 2u);
  EXPECT_EQ(floats(b.at("data").at(1).at("embedding")), mock_embedding("b", 1024));
  RoundTrip g1(R"({"input":"x"})", "amazon.titan-embed-text-v1");
  EXPECT_EQ(g1.run(**p).at("data").at(0).at("embedding").as_array().size(), 1536u);
}

TEST(NativeEmbedRoundTrip, OllamaThroughTheMock) {
  ProviderConfig c;
  c.name = "ol";
  c.kind = "ollama";
  c.options["keep_alive"] = "5m";
  auto p = make_ollama(c, Endpoint{});
  ASSERT_TRUE(p.ok());
  RoundTrip t(R"({"input":["a b c d e f","x"],"dimensions":16,"encoding_format":"base64"})",
              "nomic-embed-text");
  auto answer = t.run(**p);
  ASSERT_EQ(answer.at("data").as_array().size(), 2u);
  EXPECT_TRUE(answer.at("data").at(0).at("embedding").is_string());
  EXPECT_EQ(answer.at("usage").at("prompt_tokens").as_int64(), 3);  // 11 bytes -> 2, then 1
}

}  // namespace
}  // namespace torii
