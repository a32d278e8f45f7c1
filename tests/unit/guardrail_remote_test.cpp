// The remote guardrail kinds (webhook, llm_judge, moderation), built from YAML through
// parse_config and build_snapshot, against a loopback test server and the in-process torii
// mock: their verdicts, their failures (timeout, non-2xx, unreadable answers, unreachable,
// egress) with fail_open and without, the judge's cache, and what each sends.
#include "guardrails/remote.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "config/snapshot.h"
#include "http_test_server.h"
#include "pipeline/request_context.h"
#include "routing/route.h"
#include "server/server.h"
#include "tools/mock/mock.h"

namespace torii::guardrails {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::HttpTestServer;

// One io_context for every check: UpstreamClient::local() (per thread) pools connections bound
// to the context that made them.
net::io_context& ioc() {
  static net::io_context ctx;
  return ctx;
}

std::vector<Text> texts(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<Text> out;
  for (const auto& [role, value] : list) out.push_back(Text{role, value});
  return out;
}

// Runs one check to completion on this thread.
Outcome check(const Guardrail& g, const std::vector<Text>& t, const RequestContext* ctx = nullptr,
              Phase phase = Phase::before) {
  Subject s;
  s.phase = phase;
  s.texts = &t;
  if (ctx) {  // what the policy's subject_of fills in
    s.request_id = ctx->request_id;
    s.consumer = ctx->principal.id;
    if (ctx->route) s.route = ctx->route->name;
    s.model = ctx->model;
  }
  Outcome out;
  out.reason = "stale";  // a check starts from a clean outcome
  std::exception_ptr error;
  bool finished = false;
  net::co_spawn(ioc(), g.check_async(s, out), [&](std::exception_ptr e) {
    error = e;
    finished = true;
  });
  ioc().restart();
  ioc().run();
  if (error) std::rethrow_exception(error);
  EXPECT_TRUE(finished);
  return out;
}

// The snapshot and its first guardrail (which points into the snapshot's config).
struct Built {
  std::shared_ptr<const Snapshot> snapshot;
  std::unique_ptr<Guardrail> guardrail;
  const Guardrail& operator*() const { return *guardrail; }
  const Guardrail* operator->() const { return guardrail.get(); }
};

Result<Built> try_build(const std::string& yaml, const std::string& mock_url = "") {
  auto cfg = parse_config(yaml, "t.yaml");
  if (!cfg) return cfg.error();
  auto snap = build_snapshot(std::move(*cfg), mock_url);
  if (!snap) return snap.error();
  Built b;
  b.snapshot = *snap;
  auto g = make_remote_guardrail(b.snapshot->config.guardrails.checks.at(0), *b.snapshot);
  if (!g) return g.error();
  b.guardrail = std::move(*g);
  return b;
}

Built build(const std::string& yaml, const std::string& mock_url = "") {
  auto b = try_build(yaml, mock_url);
  if (!b) throw std::runtime_error(b.error().message);
  return std::move(*b);
}

// A loopback port nobody listens on.
uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// ------------------------------------------------------------------ verdicts and prompts

TEST(JudgeVerdict, TheFirstObjectWithANumericScore) {
  auto v =
      parse_judge_verdict(R"(Sure. {"note":1} {"score": 0.8, "reason": "insults"} {"score":0})");
  ASSERT_TRUE(v);
  EXPECT_DOUBLE_EQ(v->score, 0.8);
  EXPECT_EQ(v->reason, "insults");
  v = parse_judge_verdict(R"({"score":"high"} then {"score":1})");  // a string score is skipped
  ASSERT_TRUE(v);
  EXPECT_DOUBLE_EQ(v->score, 1);
  EXPECT_EQ(v->reason, "");
  v = parse_judge_verdict("```json\n{\"score\": 0.25,\n \"reason\": 7}\n```");
  ASSERT_TRUE(v);
  EXPECT_DOUBLE_EQ(v->score, 0.25);
  EXPECT_EQ(v->reason, "");  // not a string
  const std::string long_reason(500, 'r');
  v = parse_judge_verdict(R"({"score":0.5,"reason":")" + long_reason + "\"}");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->reason.size(), kMaxRemoteReason);
}

TEST(JudgeVerdict, ElseTheFirstNumberInZeroOneStandingAlone) {
  auto score = [](std::string_view text) {
    auto v = parse_judge_verdict(text);
    return v ? v->score : -1.0;
  };
  EXPECT_DOUBLE_EQ(score("0.7"), 0.7);
  EXPECT_DOUBLE_EQ(score("Score: 1."), 1);
  EXPECT_DOUBLE_EQ(score("As gpt-4o, v1.2 says 10, -0.5, 1st 0.35 then 0.9"), 0.35);
  EXPECT_DOUBLE_EQ(score("{broken json 0.6"), 0.6);
  EXPECT_DOUBLE_EQ(score("0"), 0);
  EXPECT_EQ(score("no verdict here"), -1);
  EXPECT_EQ(score("7 out of 10"), -1);
  EXPECT_EQ(score("1.2.3"), -1);
  EXPECT_EQ(score(""), -1);
}

TEST(JudgePrompt, RendersTheTextsAsRoleLines) {
  auto t = texts({{"system", "be nice"}, {"user", "hi"}, {"", "raw"}, {"user", ""}});
  EXPECT_EQ(render_judge_prompt("Judge:\n{{text}}\nEnd {{text}}", t),
            "Judge:\nsystem: be nice\nuser: hi\nraw\nEnd system: be nice\nuser: hi\nraw");
  EXPECT_EQ(render_judge_prompt("Rate this.", t), "Rate this.\n\nsystem: be nice\nuser: hi\nraw");
  EXPECT_EQ(render_judge_prompt("{{text", t), "{{text\n\nsystem: be nice\nuser: hi\nraw");
}

TEST(RemoteGuardrail, NumbersAndReasonsAreShort) {
  EXPECT_EQ(number_text(0.9), "0.9");
  EXPECT_EQ(number_text(1), "1");
  EXPECT_EQ(number_text(0.75), "0.75");
  EXPECT_EQ(short_reason(std::string(300, 'x')).size(), kMaxRemoteReason);
}

// ------------------------------------------------------------------ webhook

std::string webhook_yaml(const std::string& url, const std::string& extra = "",
                         bool loopback = true) {
  return std::string("providers: []\n") +
         (loopback ? "egress: {allow_networks: [127.0.0.0/8]}\n" : "") +
         "guardrails:\n"
         "  checks:\n"
         "    - id: hook\n"
         "      kind: webhook\n"
         "      url: " + url + "\n"
         "      headers: {X-Token: s3cret-value}\n" + extra;
}

HttpTestServer::Responder answer_with(std::string body, int status = 200) {
  return [body = std::move(body), status](const HttpTestServer::Request&) {
    return HttpTestServer::Answer{status, body};
  };
}

TEST(Webhook, SendsTheTextsWithTheRequestsContext) {
  HttpTestServer server(answer_with(R"({"action":"allow"})"));
  Built g = build(webhook_yaml(server.url("/check?token=abc")));
  EXPECT_TRUE(g->remote());
  Route route;
  route.name = "chat";
  auto ctx = std::make_unique<RequestContext>();
  ctx->request_id = "req-1";
  ctx->principal.id = "alice";
  ctx->model = "gpt-x";
  ctx->route = &route;
  auto t = texts({{"system", "be brief"}, {"user", "héllo \"you\""}});
  Outcome out = check(*g, t, ctx.get(), Phase::after);
  EXPECT_EQ(out.action, Outcome::Action::allow);
  EXPECT_EQ(out.reason, "");
  EXPECT_TRUE(out.edits.empty());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].head.rfind("POST /check?token=abc HTTP/1.1\r\n", 0), 0u) << reqs[0].head;
  EXPECT_TRUE(has(reqs[0].head, "X-Token: s3cret-value\r\n"));
  EXPECT_TRUE(has(reqs[0].head, "Content-Type: application/json\r\n"));
  json::value sent = json::parse(reqs[0].body);
  EXPECT_EQ(sent.at("guardrail"), "hook");
  EXPECT_EQ(sent.at("phase"), "after");
  EXPECT_EQ(sent.at("request_id"), "req-1");
  EXPECT_EQ(sent.at("consumer"), "alice");
  EXPECT_EQ(sent.at("route"), "chat");
  EXPECT_EQ(sent.at("model"), "gpt-x");
  EXPECT_EQ(sent.at("texts"), json::parse(R"([{"role":"system","text":"be brief"},
                                               {"role":"user","text":"héllo \"you\""}])"));

  // Without a request context (a test, a background check): empty strings.
  check(*g, t);
  reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  sent = json::parse(reqs[1].body);
  EXPECT_EQ(sent.at("phase"), "before");
  EXPECT_EQ(sent.at("consumer"), "");
  EXPECT_EQ(sent.at("route"), "");
}

TEST(Webhook, NothingToCheckMakesNoCall) {
  HttpTestServer server(answer_with(R"({"action":"deny"})"));
  Built g = build(webhook_yaml(server.url("/check")));
  std::vector<Text> none;
  EXPECT_EQ(check(*g, none).action, Outcome::Action::allow);
  EXPECT_TRUE(server.requests().empty());
}

TEST(Webhook, DeniesWithTheServicesReasonCapped) {
  std::string reason;
  HttpTestServer server([&](const HttpTestServer::Request&) {
    json::object o{{"action", "deny"}};
    if (!reason.empty()) o["reason"] = reason;
    return HttpTestServer::Answer{200, json::serialize(o)};
  });
  Built g = build(webhook_yaml(server.url("/check")));
  auto t = texts({{"user", "do something bad"}});
  reason = "policy 7: no bad things";
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "policy 7: no bad things");
  reason = std::string(150, 'a') + std::string(100, 'b');
  out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, std::string(150, 'a') + std::string(50, 'b'));
  reason.clear();
  out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "denied by webhook 'hook'");
}

TEST(Webhook, RewriteIsOneEditPerChangedText) {
  HttpTestServer server(
      answer_with(R"({"action":"rewrite","texts":["keep","my key is [KEY]","same"]})"));
  Built g = build(webhook_yaml(server.url("/check")));
  auto t = texts({{"system", "keep"}, {"user", "my key is AKIA123"}, {"user", "same"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::redact);
  EXPECT_EQ(out.reason, "rewritten by webhook (1 of 3 texts)");
  ASSERT_EQ(out.edits.size(), 1u);
  const Edit& e = out.edits[0];
  EXPECT_EQ(e.text, 1u);
  EXPECT_EQ(e.begin, 0u);
  EXPECT_EQ(e.end, t[1].value.size());
  EXPECT_EQ(e.replacement, "my key is [KEY]");
}

TEST(Webhook, ARewriteIntoTheSameTextsAllows) {
  HttpTestServer server(answer_with(R"({"action":"rewrite","texts":["a","b"]})"));
  Built g = build(webhook_yaml(server.url("/check")));
  auto t = texts({{"user", "a"}, {"user", "b"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::allow);
  EXPECT_TRUE(out.edits.empty());
}

TEST(Webhook, BrokenAnswersFollowFailOpen) {
  const char* broken[] = {
      R"({"action":"rewrite","texts":["only one"]})",    // two texts were sent
      R"({"action":"rewrite","texts":["a", 2]})",        // not strings
      R"({"action":"rewrite"})",                         // no texts
      R"({"action":"shrug"})",                           // unknown action
      R"({"verdict":"allow"})",                          // no action
      R"(allow)",                                        // not JSON
      R"(["allow"])",                                    // not an object
  };
  auto t = texts({{"user", "a"}, {"user", "b"}});
  for (const char* body : broken) {
    HttpTestServer server(answer_with(body));
    Built closed = build(webhook_yaml(server.url("/check")));
    Outcome out = check(*closed, t);
    EXPECT_EQ(out.action, Outcome::Action::deny) << body;
    EXPECT_EQ(out.reason, "guardrail service unavailable: unreadable answer") << body;
    EXPECT_TRUE(out.edits.empty()) << body;
    Built open = build(webhook_yaml(server.url("/check"), "      fail_open: true\n"));
    out = check(*open, t);
    EXPECT_EQ(out.action, Outcome::Action::allow) << body;
    EXPECT_EQ(out.reason, "guardrail service unavailable: unreadable answer (fail_open)") << body;
    EXPECT_TRUE(out.edits.empty()) << body;
  }
}

TEST(Webhook, ANon2xxIsUnavailableWithoutEchoingTheBody) {
  HttpTestServer server(answer_with(R"({"action":"allow","debug":"INTERNAL-DETAIL"})", 500));
  Built g = build(webhook_yaml(server.url("/check?token=abc")));
  auto t = texts({{"user", "hi"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "guardrail service unavailable: status 500");
  Built open = build(webhook_yaml(server.url("/check"), "      fail_open: true\n"));
  out = check(*open, t);
  EXPECT_EQ(out.action, Outcome::Action::allow);
  EXPECT_EQ(out.reason, "guardrail service unavailable: status 500 (fail_open)");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(Webhook, ATimeoutDeniesOrAllowsWithFailOpen) {
  HttpTestServer server(answer_with(R"({"action":"allow"})"), 400ms);
  auto t = texts({{"user", "hi"}});
  Built closed = build(webhook_yaml(server.url("/check"), "      timeout_ms: 100\n"));
  auto started = std::chrono::steady_clock::now();
  Outcome out = check(*closed, t);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 350ms);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "guardrail service unavailable: timeout");
  Built open =
      build(webhook_yaml(server.url("/check"), "      timeout_ms: 100\n      fail_open: true\n"));
  out = check(*open, t);
  EXPECT_EQ(out.action, Outcome::Action::allow);
  EXPECT_EQ(out.reason, "guardrail service unavailable: timeout (fail_open)");
}

TEST(Webhook, AnUnreachableServiceIsUnavailable) {
  Built g = build(webhook_yaml("http://127.0.0.1:" + std::to_string(closed_port()) + "/check"));
  auto t = texts({{"user", "hi"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "guardrail service unavailable: connection failed");
}

TEST(Webhook, EgressRefusesInternalAddressesUnlessAllowed) {
  HttpTestServer server(answer_with(R"({"action":"allow"})"));
  // A literal loopback address is refused when the config is built.
  auto literal = try_build(webhook_yaml(server.url("/check?token=abc"), "", false));
  ASSERT_FALSE(literal.ok());
  EXPECT_EQ(literal.error().message,
            "guardrail 'hook': url host 127.0.0.1 is loopback; egress refuses it (allow it with "
            "egress.allow_networks)");
  // A name is checked where it resolves, when the check connects.
  Built named = build(webhook_yaml("http://localhost:" + std::to_string(server.port()) + "/check",
                                   "", false));
  auto t = texts({{"user", "hi"}});
  Outcome out = check(*named, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "guardrail service unavailable: egress refused");
  EXPECT_TRUE(server.requests().empty());
  // Allowed by network: the call goes through.
  Built allowed = build(webhook_yaml("http://localhost:" + std::to_string(server.port()) + "/c"));
  EXPECT_EQ(check(*allowed, t).action, Outcome::Action::allow);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(RemoteGuardrail, OnlyRemoteKindsAreBuiltHere) {
  auto cfg = parse_config(
      "providers: []\nguardrails: {checks: [{id: r, kind: regex, deny: [x]}]}\n", "t.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  auto snap = build_snapshot(std::move(*cfg), "");
  ASSERT_TRUE(snap.ok());
  auto g = make_remote_guardrail((*snap)->config.guardrails.checks[0], **snap);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().message, "guardrail 'r': 'regex' is not a remote kind");
}

// ------------------------------------------------------------------ with the torii mock

// The in-process torii mock, for the judge's chat calls and the moderation endpoint.
class WithMock : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.shutdown_grace = 200ms;
    server_ = new Server(o, make_mock_handler(MockOptions{}));
    server_->bind();
    server_->start();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  static void TearDownTestSuite() {
    server_->shutdown();
    server_->wait();
    delete server_;
    server_ = nullptr;
  }

  // GET or POST a mock path, synchronously (off the io_context the checks run on).
  static json::value mock(const std::string& method, const std::string& path) {
    auto ep = make_endpoint(url_, "", UpstreamTimeouts{});
    UpstreamRequest req;
    req.method = method;
    req.path = path;
    req.deadline = std::chrono::steady_clock::now() + 5s;
    auto r = http_fetch(*ep, std::move(req), 1 << 20);
    if (!r) throw std::runtime_error(r.error().message);
    return json::parse(r->body);
  }
  static int64_t chat_requests() {
    return mock("GET", "/mock/stats").at("chat_requests").as_int64();
  }

  static inline Server* server_ = nullptr;
  static inline std::string url_;
};

std::string judge_yaml(const std::string& prompt, const std::string& extra = "") {
  return "providers:\n"
         "  - {name: mock, kind: mock, models: [mock-1]}\n"
         "routes:\n"
         "  - {name: judge, targets: [mock/mock-1]}\n"
         "guardrails:\n"
         "  checks:\n"
         "    - id: judge\n"
         "      kind: llm_judge\n"
         "      model: judge\n"
         "      prompt: '" + prompt + "'\n" + extra;
}

// The mock echoes the words of the prompt: a prompt that holds a verdict gets it back.
TEST_F(WithMock, JudgeDeniesAtTheThresholdWithTheModelsReason) {
  Built g = build(judge_yaml(R"(Verdict {"score":0.9,"reason":"rude"} for {{text}})"), url_);
  auto t = texts({{"user", "you fool"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "judged 0.9 >= 0.5: rude");

  // One canonical chat request: a single user message, 64 tokens, temperature 0, no stream.
  json::value last = mock("GET", "/mock/last");
  EXPECT_EQ(last.at("target"), "/v1/chat/completions");
  const json::value& body = last.at("body");
  EXPECT_EQ(body.at("model"), "mock-1");
  ASSERT_EQ(body.at("messages").as_array().size(), 1u);
  EXPECT_EQ(body.at("messages").at(0).at("role"), "user");
  EXPECT_EQ(body.at("messages").at(0).at("content"),
            R"(Verdict {"score":0.9,"reason":"rude"} for user: you fool)");
  EXPECT_EQ(body.at("temperature").to_number<double>(), 0.0);
  const json::value* cap = body.as_object().if_contains("max_tokens");
  if (!cap) cap = body.as_object().if_contains("max_completion_tokens");
  ASSERT_NE(cap, nullptr);
  EXPECT_EQ(cap->to_number<int64_t>(), 64);
  EXPECT_FALSE(body.as_object().contains("stream") && body.at("stream").as_bool());
}

TEST_F(WithMock, JudgeAllowsBelowTheThreshold) {
  Built g = build(judge_yaml(R"(Verdict {"score":0.2} {{text}})"), url_);
  auto t = texts({{"user", "hello"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::allow);
  EXPECT_EQ(out.reason, "");
  Built strict = build(judge_yaml(R"(Verdict {"score":0.2} {{text}})", "      threshold: 0.2\n"),
                       url_);
  out = check(*strict, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "judged 0.2 >= 0.2");
}

TEST_F(WithMock, JudgeReadsABareNumber) {
  Built g = build(judge_yaml("Score 0.75 for {{text}}"), url_);
  auto t = texts({{"user", "hello"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "judged 0.75 >= 0.5");
}

TEST_F(WithMock, JudgeWithoutAVerdictIsUnreadableAndNotCached) {
  Built g = build(judge_yaml("Judge {{text}}"), url_);
  auto t = texts({{"user", "hello there"}});
  const int64_t before = chat_requests();
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "guardrail service unavailable: unreadable answer");
  out = check(*g, t);
  EXPECT_EQ(out.reason, "guardrail service unavailable: unreadable answer");
  EXPECT_EQ(chat_requests(), before + 2);
}

TEST_F(WithMock, JudgeFailsOverToTheRoutesNextTarget) {
  const std::string yaml =
      "providers:\n"
      "  - {name: mock, kind: mock, models: [mock-1]}\n"
      "  - {name: dead, kind: openai-compatible, base_url: 'http://127.0.0.1:" +
      std::to_string(closed_port()) +
      "/v1', models: [m]}\n"
      "egress: {allow_networks: [127.0.0.0/8]}\n"
      "routes:\n"
      "  - {name: judge, targets: [dead/m, {target: mock/mock-1, priority: 1}]}\n"
      "guardrails:\n"
      "  checks:\n"
      "    - {id: judge, kind: llm_judge, model: judge, prompt: 'Verdict 1 {{text}}'}\n";
  Built g = build(yaml, url_);
  auto t = texts({{"user", "x"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "judged 1 >= 0.5");
}

std::string judge_server_yaml(const HttpTestServer& server, const std::string& extra = "") {
  return "providers:\n"
         "  - {name: up, kind: openai-compatible, base_url: '" + server.url("/v1") + "'}\n"
         "egress: {allow_networks: [127.0.0.0/8]}\n"
         "guardrails:\n"
         "  checks:\n"
         "    - id: judge\n"
         "      kind: llm_judge\n"
         "      model: up/judge-model\n"
         "      prompt: 'Is this unsafe? {{text}}'\n" + extra;
}

std::string completion(const std::string& content) {
  json::object message{{"role", "assistant"}, {"content", content}};
  json::object choice{{"index", 0}, {"message", message}, {"finish_reason", "stop"}};
  json::object o{{"id", "c1"},       {"object", "chat.completion"}, {"created", 1},
                 {"model", "judge"}, {"choices", json::array{choice}}};
  return json::serialize(o);
}

TEST(Judge, CachesVerdictsByPrompt) {
  HttpTestServer server(answer_with(completion(R"({"score": 0.8, "reason": "unsafe"})")));
  Built g = build(judge_server_yaml(server));
  auto a = texts({{"user", "same text"}});
  auto b = texts({{"user", "other text"}});
  EXPECT_EQ(check(*g, a).reason, "judged 0.8 >= 0.5: unsafe");
  EXPECT_EQ(check(*g, a).reason, "judged 0.8 >= 0.5: unsafe");  // from the cache
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].head.rfind("POST /v1/chat/completions HTTP/1.1", 0), 0u);
  EXPECT_EQ(json::parse(server.requests()[0].body).at("model"), "judge-model");
  EXPECT_EQ(check(*g, b).action, Outcome::Action::deny);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(Judge, Non2xxTimeoutAndBrokenBodies) {
  auto t = texts({{"user", "hi"}});
  {
    HttpTestServer server(answer_with(R"({"error":{"message":"overloaded"}})", 503));
    Built g = build(judge_server_yaml(server));
    Outcome out = check(*g, t);
    EXPECT_EQ(out.action, Outcome::Action::deny);
    EXPECT_EQ(out.reason, "guardrail service unavailable: status 503");
    Built open = build(judge_server_yaml(server, "      fail_open: true\n"));
    EXPECT_EQ(check(*open, t).action, Outcome::Action::allow);
  }
  {
    HttpTestServer server(answer_with(completion("0.9")), 400ms);
    Built g = build(judge_server_yaml(server, "      timeout_ms: 100\n"));
    Outcome out = check(*g, t);
    EXPECT_EQ(out.action, Outcome::Action::deny);
    EXPECT_EQ(out.reason, "guardrail service unavailable: timeout");
  }
  {
    HttpTestServer server(answer_with("this is not json"));
    Built g = build(judge_server_yaml(server));
    Outcome out = check(*g, t);
    EXPECT_EQ(out.action, Outcome::Action::deny);
    EXPECT_EQ(out.reason, "guardrail service unavailable: unreadable answer");
    Built open = build(judge_server_yaml(server, "      fail_open: true\n"));
    out = check(*open, t);
    EXPECT_EQ(out.action, Outcome::Action::allow);
    EXPECT_EQ(out.reason, "guardrail service unavailable: unreadable answer (fail_open)");
  }
}

TEST(Judge, AModelThatResolvesToNoRouteIsABuildError) {
  const std::string yaml =
      "providers:\n"
      "  - {name: mock, kind: mock, models: [mock-1]}\n"
      "routes:\n"
      "  - {name: judge, group: vip, targets: [mock/mock-1]}\n"
      "guardrails:\n"
      "  checks:\n"
      "    - {id: j, kind: llm_judge, model: judge, prompt: '{{text}}'}\n";
  auto b = try_build(yaml, "http://127.0.0.1:9");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "guardrail 'j': model 'judge' names no route for everyone and no provider/model");
}

std::string moderation_yaml(const std::string& extra, const std::string& provider_extra = "") {
  return "providers:\n"
         "  - {name: mock, kind: mock, api_key: sk-mod-key, models: [mock-1]" + provider_extra +
         "}\n"
         "guardrails:\n"
         "  checks:\n"
         "    - id: mod\n"
         "      kind: moderation\n"
         "      provider: mock\n" + extra;
}

TEST_F(WithMock, ModerationThresholds) {
  Built g = build(moderation_yaml("      thresholds: {violence: 0.5}\n      model: omni-x\n"),
                  url_);
  auto t = texts({{"system", "be calm"}, {"user", "pure violence here"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "moderation: violence 0.90 >= 0.50");

  // One call for every text, with the provider's key.
  json::value last = mock("GET", "/mock/last");
  EXPECT_EQ(last.at("target"), "/v1/moderations");
  EXPECT_EQ(last.at("headers").at("authorization"), "Bearer sk-mod-key");
  EXPECT_EQ(last.at("body"), json::parse(R"({"input":["be calm","pure violence here"],
                                             "model":"omni-x"})"));

  auto calm = texts({{"user", "hello"}});
  EXPECT_EQ(check(*g, calm).action, Outcome::Action::allow);

  Built high = build(moderation_yaml("      thresholds: {violence: 0.95}\n"), url_);
  EXPECT_EQ(check(*high, t).action, Outcome::Action::allow);
  EXPECT_FALSE(mock("GET", "/mock/last").at("body").as_object().contains("model"));

  // "*" for the categories not listed: hate's own threshold is not reached, violence's is.
  Built star = build(moderation_yaml("      thresholds: {'*': 0.5, hate: 0.95}\n"), url_);
  auto both = texts({{"user", "hate"}, {"user", "violence"}});
  out = check(*star, both);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "moderation: violence 0.90 >= 0.50");
  Built all = build(moderation_yaml("      thresholds: {'*': 0.01}\n"), url_);
  out = check(*all, calm);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason,
            "moderation: hate 0.01 >= 0.01, harassment 0.01 >= 0.01, self-harm 0.01 >= 0.01, "
            "sexual 0.01 >= 0.01, violence 0.01 >= 0.01");
}

TEST_F(WithMock, ModerationFallsBackToTheFlag) {
  Built g = build(moderation_yaml(""), url_);
  auto t = texts({{"user", "I hate Mondays"}, {"user", "and self-harm"}});
  Outcome out = check(*g, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "moderation: flagged hate 0.90, self-harm 0.90");
  auto calm = texts({{"user", "hateful Mondays"}, {"user", ""}});
  EXPECT_EQ(check(*g, calm).action, Outcome::Action::allow);
  EXPECT_EQ(mock("GET", "/mock/last").at("body").at("input"),
            json::parse(R"(["hateful Mondays"])"));  // empty texts are not sent
}

TEST_F(WithMock, ModerationUnavailable) {
  auto t = texts({{"user", "hi"}});
  Built failing = build(moderation_yaml("", ", headers: {x-mock-status: '503'}"), url_);
  Outcome out = check(*failing, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "guardrail service unavailable: status 503");
  Built open =
      build(moderation_yaml("      fail_open: true\n", ", headers: {x-mock-status: '503'}"), url_);
  EXPECT_EQ(check(*open, t).action, Outcome::Action::allow);
  Built slow =
      build(moderation_yaml("      timeout_ms: 100\n", ", headers: {x-mock-latency-ms: '500'}"),
            url_);
  out = check(*slow, t);
  EXPECT_EQ(out.action, Outcome::Action::deny);
  EXPECT_EQ(out.reason, "guardrail service unavailable: timeout");
}

TEST(Moderation, BrokenAnswersAreUnreadable) {
  const char* broken[] = {
      R"({"results":[]})",                                      // one result per text
      R"({"results":[{"categories":{}}]})",                     // no flagged
      R"({"id":"x"})",                                          // no results
      R"(<html>)",                                              // not JSON
  };
  auto t = texts({{"user", "hi"}});
  for (const char* body : broken) {
    HttpTestServer server(answer_with(body));
    Built g = build("providers:\n"
                    "  - {name: oai, kind: openai-compatible, base_url: '" + server.url("/v1") +
                    "'}\n"
                    "egress: {allow_networks: [127.0.0.0/8]}\n"
                    "guardrails: {checks: [{id: mod, kind: moderation, provider: oai}]}\n");
    Outcome out = check(*g, t);
    EXPECT_EQ(out.action, Outcome::Action::deny) << body;
    EXPECT_EQ(out.reason, "guardrail service unavailable: unreadable answer") << body;
    ASSERT_EQ(server.requests().size(), 1u);
    EXPECT_EQ(server.requests()[0].head.rfind("POST /v1/moderations HTTP/1.1", 0), 0u);
    EXPECT_FALSE(has(server.requests()[0].head, "Authorization"));  // the provider has no key
  }
  // With thresholds, scores are needed.
  HttpTestServer server(answer_with(R"({"results":[{"flagged":false}]})"));
  Built g = build("providers:\n"
                  "  - {name: oai, kind: openai-compatible, base_url: '" + server.url("/v1") +
                  "'}\n"
                  "egress: {allow_networks: [127.0.0.0/8]}\n"
                  "guardrails: {checks: [{id: mod, kind: moderation, provider: oai,\n"
                  "                       thresholds: {violence: 0.5}}]}\n");
  EXPECT_EQ(check(*g, t).reason, "guardrail service unavailable: unreadable answer");
}

}  // namespace
}  // namespace torii::guardrails
