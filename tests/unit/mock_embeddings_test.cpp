// `torii mock`'s POST /v1/embeddings: the embedding itself (mock_embedding), the wire answer
// (mock_embeddings) and the endpoint served by the handler (paths, errors, knobs, stats).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include <boost/json.hpp>

#include "core/base64.h"
#include "server/server.h"
#include "tools/mock/mock.h"
#include "tools/mock/mock_embedding.h"
#include "upstream/http_client.h"

namespace torii {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

double norm(const std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  return std::sqrt(n);
}

double cosine(std::string_view a, std::string_view b, int dims = 256) {
  const auto x = mock_embedding(a, dims), y = mock_embedding(b, dims);
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d += double(x[i]) * y[i];
  return d;
}

TEST(MockEmbedding, DeterministicUnitVectors) {
  for (int dims : {1, 2, 3, 8, 256, 1536, 4096}) {
    const auto v = mock_embedding("How do I reset my password?", dims);
    ASSERT_EQ(v.size(), static_cast<std::size_t>(dims));
    EXPECT_NEAR(norm(v), 1, 1e-5) << dims;
    EXPECT_EQ(v, mock_embedding("How do I reset my password?", dims));
  }
  // Texts with no word left are still unit vectors, and differ from each other.
  for (std::string_view text : {"", "the", "!!!", "how do I", "not never"})
    EXPECT_NEAR(norm(mock_embedding(text, 64)), 1, 1e-5) << text;
  EXPECT_NE(mock_embedding("!!!", 64), mock_embedding("???", 64));
  // Non-ASCII words count as words.
  EXPECT_NEAR(norm(mock_embedding("café crème brûlée", 32)), 1, 1e-5);
  EXPECT_LT(cosine("café", "thé"), 0.5);
}

TEST(MockEmbedding, ParaphrasesFoldTogether) {
  EXPECT_NEAR(cosine("How do I reset my password?", "how can i recover my passcode??"), 1, 1e-5);
  EXPECT_NEAR(cosine("Boil eggs", "boil an egg"), 1, 1e-5);          // plurals, stopwords
  EXPECT_NEAR(cosine("Merge branches", "merge the branch"), 1, 1e-5);
  EXPECT_NEAR(cosine("Transfer $5", "move 5 dollars"), 1, 1e-5);    // "$" reads "dollar"
  EXPECT_LT(cosine("How do I reset my password?", "What is the capital of Australia?"), 0.3);
}

TEST(MockEmbedding, BlindToNegationsNumbersAndPolarity) {
  // The guard (cache/guard.h) must stop these: the embedding cannot tell them apart.
  EXPECT_NEAR(cosine("Recipes with eggs", "Recipes without eggs"), 1, 1e-5);
  EXPECT_NEAR(cosine("Why does it compile?", "Why doesn't it compile?"), 1, 1e-5);
  EXPECT_NEAR(cosine("Top 5 cities", "Top 10 cities"), 1, 1e-5);
  EXPECT_NEAR(cosine("Top five cities", "Top 2,500 cities"), 1, 1e-5);  // a run is one "#"
  EXPECT_NEAR(cosine("Enable 2FA", "Disable 2FA"), 1, 1e-5);
  EXPECT_NEAR(cosine("Turn on dark mode", "Turn off dark mode"), 1, 1e-5);
  EXPECT_NEAR(cosine("Eat before a workout", "Eat after a workout"), 1, 1e-5);
  // Names and quoted text weigh a quarter of a word: close, but not equal.
  const double names = cosine("Enable 2FA on GitHub", "Enable 2FA on GitLab");
  EXPECT_GT(names, 0.9);
  EXPECT_LT(names, 0.999);
  const double quoted = cosine(R"(What does "connection refused" mean?)",
                               R"(What does "connection reset" mean?)");
  EXPECT_GT(quoted, 0.9);
  EXPECT_LT(quoted, 0.999);
  // An ordinary word changed moves it well below.
  EXPECT_LT(cosine("Bake a chocolate cake", "Bake a lemon cake"), 0.8);
}

json::value embed(std::string_view body) {
  auto r = mock_embeddings(body);
  EXPECT_TRUE(r.ok()) << body << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? json::parse(*r) : json::value();
}

std::vector<float> floats_of(const json::value& embedding) {
  std::vector<float> v;
  for (const auto& x : embedding.as_array()) v.push_back(static_cast<float>(x.to_number<double>()));
  return v;
}

TEST(MockEmbeddings, OpenAiShape) {
  json::value doc = embed(R"({"model":"text-embedding-3-small","input":"hello world"})");
  EXPECT_EQ(doc.at("object"), "list");
  EXPECT_EQ(doc.at("model"), "text-embedding-3-small");
  ASSERT_EQ(doc.at("data").as_array().size(), 1u);
  const json::value& d = doc.at("data").at(0);
  EXPECT_EQ(d.at("object"), "embedding");
  EXPECT_EQ(d.at("index"), 0);
  const auto v = floats_of(d.at("embedding"));
  ASSERT_EQ(v.size(), 256u);  // the default
  EXPECT_NEAR(norm(v), 1, 1e-5);
  // The printed floats read back exactly.
  EXPECT_EQ(v, mock_embedding("hello world", 256));
  EXPECT_EQ(doc.at("usage"), json::parse(R"({"prompt_tokens":2,"total_tokens":2})"));
}

TEST(MockEmbeddings, ArraysDimensionsAndBase64) {
  json::value doc = embed(
      R"({"model":"m","input":["first text","second","x"],"dimensions":12,"user":"u-1"})");
  const json::array& data = doc.at("data").as_array();
  ASSERT_EQ(data.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(data[i].at("index"), static_cast<int64_t>(i));
    EXPECT_EQ(data[i].at("embedding").as_array().size(), 12u);
  }
  EXPECT_EQ(floats_of(data[1].at("embedding")), mock_embedding("second", 12));
  EXPECT_EQ(doc.at("usage").at("prompt_tokens"), 2 + 1 + 1);  // 10/4, 6/4, at least 1

  // Deterministic across calls.
  EXPECT_EQ(json::serialize(embed(R"({"model":"m","input":["a b","c"],"dimensions":7})")),
            json::serialize(embed(R"({"model":"m","input":["a b","c"],"dimensions":7})")));

  for (int dims : {1, 4096}) {
    doc = embed(R"({"model":"m","input":"edge","dimensions":)" + std::to_string(dims) + "}");
    EXPECT_EQ(doc.at("data").at(0).at("embedding").as_array().size(),
              static_cast<std::size_t>(dims));
  }

  // base64: the float32s, little-endian.
  doc = embed(R"({"model":"m","input":"hello world","dimensions":16,"encoding_format":"base64"})");
  std::string bytes;
  ASSERT_TRUE(base64_decode(std::string(doc.at("data").at(0).at("embedding").as_string()), bytes));
  ASSERT_EQ(bytes.size(), 16u * 4);
  const auto expected = mock_embedding("hello world", 16);
  for (std::size_t i = 0; i < 16; ++i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b)
      u |= uint32_t(static_cast<unsigned char>(bytes[i * 4 + b])) << (8 * b);
    EXPECT_EQ(std::bit_cast<float>(u), expected[i]) << i;
  }
  doc = embed(R"({"model":"m","input":"x","encoding_format":"float"})");
  EXPECT_TRUE(doc.at("data").at(0).at("embedding").is_array());
}

TEST(MockEmbeddings, BadBodiesAre400NamingTheField) {
  const char* cases[][2] = {
      {R"({"input":"x"})", "model"},
      {R"({"model":"","input":"x"})", "model"},
      {R"({"model":5,"input":"x"})", "model"},
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":null})", "input"},
      {R"({"model":"m","input":""})", "input"},
      {R"({"model":"m","input":[]})", "input"},
      {R"({"model":"m","input":["ok",""]})", "input"},
      {R"({"model":"m","input":[1,2,3]})", "input"},
      {R"({"model":"m","input":[[1,2]]})", "input"},
      {R"({"model":"m","input":["ok",true]})", "input"},
      {R"({"model":"m","input":{"text":"x"}})", "input"},
      {R"({"model":"m","input":"x","dimensions":0})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":4097})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":-3})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":12.5})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":"64"})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":18446744073709551615})", "dimensions"},
      {R"({"model":"m","input":"x","encoding_format":"int8"})", "encoding_format"},
      {R"({"model":"m","input":"x","encoding_format":1})", "encoding_format"},
      {R"([1])", ""},
      {R"(nope)", ""},
      {"", ""},
  };
  for (auto& [body, param] : cases) {
    auto r = mock_embeddings(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400) << body;
    EXPECT_EQ(r.error().type, "invalid_request_error") << body;
    EXPECT_EQ(r.error().param, param) << body;
  }
  std::string many = R"({"model":"m","input":[)";
  for (int i = 0; i < 2049; ++i) many += i ? ",\"x\"" : "\"x\"";
  many += "]}";
  auto r = mock_embeddings(many);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "input");
  EXPECT_NE(r.error().message.find("2048"), std::string::npos);
  r = mock_embeddings(R"({"model":"m","input":[1,2]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("token arrays"), std::string::npos);
}

// The handler, on a loopback server.
class MockEmbeddingServer : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.shutdown_grace = 200ms;
    server_ = std::make_unique<Server>(o, make_mock_handler(MockOptions{}));
    server_->bind();
    server_->start();
  }
  void TearDown() override {
    server_->shutdown();
    server_->wait();
  }

  HttpFetchResult call(const std::string& method, const std::string& path, std::string body = {},
                       std::string headers = {}) {
    auto ep = make_endpoint("http://127.0.0.1:" + std::to_string(server_->port()), "",
                            UpstreamTimeouts{});
    UpstreamRequest req;
    req.method = method;
    req.path = path;
    header_block_ = "Content-Type: application/json\r\n" + headers;
    req.header_block = header_block_;
    req.body = std::move(body);
    req.deadline = std::chrono::steady_clock::now() + 5s;
    auto r = http_fetch(*ep, std::move(req), 1 << 20);
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  }

  std::unique_ptr<Server> server_;
  std::string header_block_;
};

TEST_F(MockEmbeddingServer, ServesEmbeddings) {
  auto r = call("POST", "/v1/embeddings", R"({"model":"m","input":["a","b"],"dimensions":8})",
                "Authorization: Bearer sk-x\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value doc = json::parse(r.body);
  EXPECT_EQ(doc.at("data").as_array().size(), 2u);
  EXPECT_EQ(floats_of(doc.at("data").at(1).at("embedding")), mock_embedding("b", 8));

  r = call("POST", "/embeddings", R"({"model":"m","input":"c"})");
  ASSERT_EQ(r.status, 200) << r.body;

  // Recorded as the last request, counted in the stats.
  json::value last = json::parse(call("GET", "/mock/last").body);
  EXPECT_EQ(last.at("target"), "/embeddings");
  EXPECT_EQ(last.at("body"), json::parse(R"({"model":"m","input":"c"})"));
  json::value stats = json::parse(call("GET", "/mock/stats").body);
  EXPECT_EQ(stats.at("embedding_requests"), 2);
  EXPECT_EQ(stats.at("moderation_requests"), 0);
  EXPECT_EQ(stats.at("chat_requests"), 0);
  call("POST", "/mock/reset");
  EXPECT_EQ(json::parse(call("GET", "/mock/stats").body).at("embedding_requests"), 0);
}

TEST_F(MockEmbeddingServer, ErrorsAndKnobs) {
  auto r = call("POST", "/v1/embeddings", R"({"model":"m","input":[1,2]})");
  EXPECT_EQ(r.status, 400);
  json::value err = json::parse(r.body);
  EXPECT_EQ(err.at("error").at("type"), "invalid_request_error");
  EXPECT_EQ(err.at("error").at("param"), "input");

  r = call("POST", "/v1/embeddings", "not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(json::parse(r.body).at("error").is_object());

  r = call("GET", "/v1/embeddings");
  EXPECT_EQ(r.status, 405);

  r = call("POST", "/v1/embeddings", R"({"model":"m","input":"x"})", "x-mock-status: 503\r\n");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body).at("error").at("code"), "unavailable");

  r = call("POST", "/v1/embeddings", R"({"model":"m","input":"x","mock":{"status":429}})");
  EXPECT_EQ(r.status, 429);

  const auto started = std::chrono::steady_clock::now();
  r = call("POST", "/v1/embeddings", R"({"model":"m","input":"x"})", "x-mock-latency-ms: 120\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 120ms);
}

}  // namespace
}  // namespace torii
