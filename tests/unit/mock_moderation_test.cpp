// `torii mock`'s POST /v1/moderations: the scoring rules (mock_moderation), and the endpoint
// served by the handler (paths, method, errors, knobs, stats), plus the glue knob end to end.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "server/server.h"
#include "tools/mock/mock.h"
#include "tools/mock/mock_wire.h"
#include "upstream/http_client.h"

namespace torii {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::value moderate(std::string_view body, std::int64_t n = 1) {
  auto r = mock_moderation(body, n);
  EXPECT_TRUE(r.ok()) << body << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? json::parse(*r) : json::value();
}

TEST(MockModeration, ScoresEachCategoryByItsWord) {
  json::value doc = moderate(R"({"input":"Some VIOLENCE, no hateful words"})", 7);
  EXPECT_EQ(doc.at("id"), "modr-mock-7");
  EXPECT_EQ(doc.at("model"), "omni-moderation-latest");
  ASSERT_EQ(doc.at("results").as_array().size(), 1u);
  const json::value& r = doc.at("results").at(0);
  EXPECT_EQ(r.at("flagged"), true);
  EXPECT_EQ(r.at("categories"), json::parse(R"({"hate":false,"harassment":false,
      "self-harm":false,"sexual":false,"violence":true})"));
  EXPECT_EQ(r.at("category_scores").at("violence").as_double(), 0.9);
  EXPECT_EQ(r.at("category_scores").at("hate").as_double(), 0.01);  // "hateful" is another word
}

TEST(MockModeration, OneResultPerInputInOrder) {
  json::value doc = moderate(
      R"({"model":"text-moderation-007",
          "input":["hello","self-harm talk","self harm","Hate-speech and sexual","harassment!"]})");
  EXPECT_EQ(doc.at("model"), "text-moderation-007");
  const json::array& results = doc.at("results").as_array();
  ASSERT_EQ(results.size(), 5u);
  auto hits = [&](std::size_t i) {
    std::string out;
    for (const auto& [name, v] : results[i].at("categories").as_object())
      if (v.as_bool()) out += std::string(name) + " ";
    return out;
  };
  EXPECT_EQ(hits(0), "");
  EXPECT_EQ(results[0].at("flagged"), false);
  EXPECT_EQ(hits(1), "self-harm ");
  EXPECT_EQ(hits(2), "");  // "self-harm" literally
  EXPECT_EQ(hits(3), "hate sexual ");
  EXPECT_EQ(hits(4), "harassment ");
  EXPECT_EQ(results[4].at("flagged"), true);
  EXPECT_EQ(moderate(R"({"input":[]})").at("results").as_array().size(), 0u);
}

TEST(MockModeration, BadBodiesAre400NamingTheField) {
  const char* cases[][2] = {
      {R"({"input":5})", "input"},
      {R"({"input":["ok",5]})", "input"},
      {R"({"input":{"text":"x"}})", "input"},
      {R"({})", "input"},
      {R"({"input":"x","model":7})", "model"},
      {R"([1])", ""},
      {R"(nope)", ""},
  };
  for (auto& [body, param] : cases) {
    auto r = mock_moderation(body, 1);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400) << body;
    EXPECT_EQ(r.error().param, param) << body;
  }
}

// The handler, on a loopback server.
class MockServer : public ::testing::Test {
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

TEST_F(MockServer, ServesModerations) {
  auto r = call("POST", "/v1/moderations", R"({"input":["pure violence","fine"]})",
                "Authorization: Bearer sk-x\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value doc = json::parse(r.body);
  EXPECT_EQ(doc.at("id"), "modr-mock-1");
  EXPECT_EQ(doc.at("results").at(0).at("flagged"), true);
  EXPECT_EQ(doc.at("results").at(1).at("flagged"), false);

  r = call("POST", "/moderations", R"({"input":"hate"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("id"), "modr-mock-2");

  // Recorded as the last request, counted in the stats.
  json::value last = json::parse(call("GET", "/mock/last").body);
  EXPECT_EQ(last.at("target"), "/moderations");
  EXPECT_EQ(last.at("body"), json::parse(R"({"input":"hate"})"));
  json::value stats = json::parse(call("GET", "/mock/stats").body);
  EXPECT_EQ(stats.at("moderation_requests"), 2);
  EXPECT_EQ(stats.at("chat_requests"), 0);
  call("POST", "/mock/reset");
  EXPECT_EQ(json::parse(call("GET", "/mock/stats").body).at("moderation_requests"), 0);
}

TEST_F(MockServer, ModerationErrorsAreOpenAiShaped) {
  auto r = call("POST", "/v1/moderations", R"({"input":42})");
  EXPECT_EQ(r.status, 400);
  json::value err = json::parse(r.body);
  EXPECT_EQ(err.at("error").at("type"), "invalid_request_error");
  EXPECT_EQ(err.at("error").at("param"), "input");

  r = call("GET", "/v1/moderations");
  EXPECT_EQ(r.status, 405);

  r = call("POST", "/v1/moderations", R"({"input":"x"})", "x-mock-status: 503\r\n");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body).at("error").at("code"), "unavailable");

  r = call("POST", "/v1/moderations", R"({"input":"x","mock":{"status":429,"retry_after":3}})");
  EXPECT_EQ(r.status, 429);

  r = call("POST", "/v1/moderations", R"({"input":"x"})", "x-mock-bogus: 1\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body).at("error").at("code"), "invalid_mock_knob");
}

TEST_F(MockServer, ModerationLatencyKnob) {
  auto started = std::chrono::steady_clock::now();
  auto r = call("POST", "/v1/moderations", R"({"input":"x"})", "x-mock-latency-ms: 150\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms);
}

TEST_F(MockServer, GlueThroughTheHandler) {
  auto r = call("POST", "/v1/chat/completions",
                R"({"model":"m","messages":[{"role":"user","content":"AKIAIOSF ODNN7EXA MPLE"}],
                    "mock":{"chunks":3,"glue":1}})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value doc = json::parse(r.body);
  EXPECT_EQ(doc.at("choices").at(0).at("message").at("content"), "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(doc.at("usage").at("completion_tokens"), 3);

  r = call("POST", "/v1/chat/completions",
           R"({"model":"m","stream":true,
               "messages":[{"role":"user","content":"AKIAIOSF ODNN7EXA MPLE"}]})",
           "x-mock-chunks: 3\r\nx-mock-glue: 1\r\n");
  ASSERT_EQ(r.status, 200);
  std::string content;
  int events = 0;
  for (std::size_t at = 0; (at = r.body.find("data: {", at)) != std::string::npos; ++at) {
    const std::size_t end = r.body.find("\n\n", at);
    json::value ev = json::parse(r.body.substr(at + 6, end - at - 6));
    const auto& delta = ev.at("choices").at(0).at("delta").as_object();
    if (const auto* c = delta.if_contains("content"); c && !c->as_string().empty()) {
      content += c->as_string();
      ++events;
    }
  }
  EXPECT_EQ(content, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(events, 3);
}

}  // namespace
}  // namespace torii
