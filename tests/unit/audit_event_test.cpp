// The audit event: what audit_event_of takes from a finished request, the outcome labels, the
// JSON line (parsed back), and the `audit:` / `tracing:` config (docs/AUDIT.md).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "audit/event.h"
#include "audit/metrics.h"
#include "config/config.h"
#include "pipeline/request_context.h"
#include "policies/audit/audit_policy.h"

namespace torii {
namespace {

namespace json = boost::json;

struct Finished {
  RequestHead head;
  RequestContext ctx;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> groups{"eng", "ml"};
  Finished() {
    head.method = "POST";
    head.target = "/v1/chat/completions?key=SECRETQUERY";
    head.headers = {{"user-agent", "ua/1 \"quoted\"\n"}};
    ctx.head = &head;
    ctx.api = InboundApi::openai_chat;
    ctx.request_id = "rid-1";
    ctx.timings.start = Clock::now() - std::chrono::milliseconds(30);
    ctx.timings.first_byte = ctx.timings.start + std::chrono::milliseconds(20);
    ctx.timings.end = ctx.timings.start + std::chrono::milliseconds(30);
    ctx.wall_start = std::chrono::system_clock::time_point(std::chrono::microseconds(1'700'000'000'000'000));
    for (int i = 0; i < 32; ++i) ctx.trace.trace_id[i] = "0123456789abcdef"[i % 16];
    for (int i = 0; i < 16; ++i) ctx.trace.span_id[i] = "fedcba9876543210"[i];
    ctx.client_ip = "10.0.0.7";
    ctx.principal.authenticated = true;
    ctx.principal.id = "team-a";
    ctx.principal.key_name = "ci-key";
    ctx.principal.groups = &groups;
    ctx.model = "fast";
    ctx.provider = "openai";
    ctx.upstream_model = "gpt-4o";
    ctx.request.emplace("user", "u-42");
    Attempt& a = ctx.attempts.emplace_back();
    a.provider = "azure";
    a.model = "gpt-4o";
    a.status = 503;
    a.error = "unavailable";
    a.started = ctx.timings.start + std::chrono::milliseconds(1);
    a.elapsed = std::chrono::milliseconds(4);
    Attempt& b = ctx.attempts.emplace_back();
    b.provider = "openai";
    b.model = "gpt-4o";
    b.status = 200;
    b.started = ctx.timings.start + std::chrono::milliseconds(6);
    b.elapsed = std::chrono::milliseconds(22);
    ctx.usage.prompt_tokens = 12;
    ctx.usage.completion_tokens = 30;
    ctx.usage.reasoning_tokens = 10;
    ctx.cost_micros = 77;
    ctx.status = 200;
  }
};

TEST(AuditEvent, TakesWhatTheRequestKnows) {
  Finished f;
  audit::AuditEvent e = audit_event_of(f.ctx);
  EXPECT_EQ(e.request_id, "rid-1");
  EXPECT_EQ(e.id.size(), 32u);
  EXPECT_EQ(e.id.substr(16), "fedcba9876543210");  // µs, then the span id
  EXPECT_EQ(e.id.substr(0, 16), "00060a24181e4000");  // 1.7e15 µs in hex
  EXPECT_EQ(e.start_unix_us, 1'700'000'000'000'000);
  EXPECT_EQ(e.end_unix_us, e.start_unix_us + 30'000);
  EXPECT_EQ(e.consumer, "team-a");
  EXPECT_EQ(e.key, "ci-key");
  EXPECT_EQ(e.user, "u-42");
  EXPECT_EQ(e.groups, (std::vector<std::string>{"eng", "ml"}));
  EXPECT_EQ(e.path, "/v1/chat/completions");  // no query string (it may hold a key)
  EXPECT_EQ(e.outcome, "ok");
  ASSERT_EQ(e.attempts.size(), 2u);
  EXPECT_EQ(e.attempts[0].start_us, 1000);
  EXPECT_EQ(e.attempts[0].duration_us, 4000);
  EXPECT_EQ(e.attempts[1].status, 200);
  EXPECT_EQ(e.total_us, 30'000);
  EXPECT_EQ(e.ttft_us, 20'000);
  EXPECT_EQ(e.overhead_us, 30'000 - 4'000 - 22'000);
  EXPECT_EQ(e.usage.cached, 0);  // unknown (-1) is recorded as 0
  EXPECT_EQ(e.usage.reasoning, 10);
  EXPECT_EQ(e.cost_micros, 77);
  EXPECT_EQ(e.client_ip, "10.0.0.7");
}

TEST(AuditEvent, UnauthenticatedHasNoConsumer) {
  Finished f;
  f.ctx.principal.authenticated = false;
  f.ctx.status = 401;
  f.ctx.error = ApiError{401, "authentication_error", "invalid_api_key", "no key"};
  audit::AuditEvent e = audit_event_of(f.ctx);
  EXPECT_EQ(e.consumer, "");
  EXPECT_EQ(e.key, "");
  EXPECT_TRUE(e.groups.empty());
  EXPECT_EQ(e.outcome, "unauthenticated");
  EXPECT_EQ(e.error_code, "invalid_api_key");
}

TEST(AuditEvent, Outcomes) {
  auto outcome = [](int status, bool error, bool started, bool gone, bool attempts) {
    Finished f;
    f.ctx.status = status;
    if (error) f.ctx.error = ApiError{status, "t", "c", "m"};
    f.ctx.stream_started = started;
    f.ctx.client_disconnected = gone;
    if (!attempts) f.ctx.attempts.clear();
    return std::string(audit_outcome(f.ctx));
  };
  EXPECT_EQ(outcome(200, false, false, false, true), "ok");
  EXPECT_EQ(outcome(400, true, false, false, false), "client_error");
  EXPECT_EQ(outcome(404, true, false, false, false), "client_error");
  EXPECT_EQ(outcome(401, true, false, false, false), "unauthenticated");
  EXPECT_EQ(outcome(403, true, false, false, false), "denied");
  EXPECT_EQ(outcome(429, true, false, false, false), "rate_limited");
  EXPECT_EQ(outcome(502, true, false, false, true), "upstream_error");
  EXPECT_EQ(outcome(503, true, false, false, false), "error");
  EXPECT_EQ(outcome(200, true, true, false, true), "stream_failed");
  EXPECT_EQ(outcome(200, false, true, true, true), "client_disconnected");
  EXPECT_EQ(outcome(0, false, false, false, false), "aborted");
}

TEST(AuditEvent, JsonLineParsesBackWithEveryMember) {
  Finished f;
  f.ctx.request["user"] = "quote\" backslash\\ newline\n tab\t é";
  audit::AuditEvent e = audit_event_of(f.ctx);
  e.guardrails.push_back({"pii", "before", "deny", "an email", 42});
  const std::string line = audit::to_json(e);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line";
  json::object o = json::parse(line).as_object();
  EXPECT_EQ(o.at("version").as_int64(), 1);
  EXPECT_EQ(o.at("user").as_string(), "quote\" backslash\\ newline\n tab\t é");
  EXPECT_EQ(o.at("user_agent").as_string(), "ua/1 \"quoted\"\n");
  EXPECT_EQ(o.at("parent_span_id"), nullptr);
  EXPECT_EQ(o.at("attempts").as_array().size(), 2u);
  EXPECT_EQ(o.at("attempts").as_array()[0].at("error").as_string(), "unavailable");
  EXPECT_EQ(o.at("attempts").as_array()[1].at("error"), nullptr);
  EXPECT_EQ(o.at("error"), nullptr);
  EXPECT_EQ(o.at("usage").at("completion").as_int64(), 30);
  EXPECT_EQ(o.at("cost_micros").as_int64(), 77);
  EXPECT_EQ(o.at("timings").at("ttft_us").as_int64(), 20'000);
  EXPECT_EQ(o.at("guardrails").as_array()[0].at("action").as_string(), "deny");
  EXPECT_EQ(o.at("guardrails").as_array()[0].at("phase").as_string(), "before");
  EXPECT_EQ(o.at("guardrails").as_array()[0].at("latency_us").as_int64(), 42);
  EXPECT_FALSE(o.contains("request_body"));
  // The id comes first (sinks read it there without a parse).
  EXPECT_EQ(line.rfind("{\"id\":\"" + e.id + "\",\"version\":1,", 0), 0u);

  e.cost_micros = -1;
  e.ttft_us = -1;
  e.error_type = "server_error";
  e.error_message = "boom";
  e.request_body = "{\"x\":1}";
  o = json::parse(audit::to_json(e)).as_object();
  EXPECT_EQ(o.at("cost_micros"), nullptr);
  EXPECT_EQ(o.at("timings").at("ttft_us"), nullptr);
  EXPECT_EQ(o.at("error").at("message").as_string(), "boom");
  EXPECT_EQ(o.at("error").at("code"), nullptr);
  EXPECT_EQ(o.at("request_body").as_string(), "{\"x\":1}");
}

TEST(AuditEvent, MetricsCountEachSeriesOnce) {
  Finished f;
  audit::RequestMetrics m;
  audit::AuditEvent e = audit_event_of(f.ctx);
  e.route = "fast";
  m.observe(e);
  m.observe(e);
  e.outcome = "upstream_error";
  e.status = 502;
  e.error_type = "server_error";
  m.observe(e);
  const std::string text = m.text();
  EXPECT_NE(text.find("torii_requests_total{model=\"gpt-4o\",outcome=\"ok\",provider=\"openai\","
                      "route=\"fast\",status=\"200\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("torii_request_errors_total{model=\"gpt-4o\",provider=\"openai\","
                      "route=\"fast\",status=\"502\",type=\"server_error\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("torii_tokens_total{consumer=\"team-a\",model=\"gpt-4o\",type=\"prompt\"} 36"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("torii_upstream_attempts_total{model=\"gpt-4o\",provider=\"azure\","
                      "status=\"503\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("torii_request_duration_seconds_count{model=\"gpt-4o\",route=\"fast\"} 3"),
            std::string::npos)
      << text;
}

TEST(AuditConfig, ParsesSinksAndRejectsMistakes) {
  auto ok = parse_config(R"(
providers: [{name: m, kind: mock}]
audit:
  flush_ms: 50
  bodies: true
  redact: ['sk-\w+']
  sinks:
    - {type: sqlite, path: /tmp/a.db}
    - {type: jsonl, name: rotating, path: /tmp/a.jsonl, max_bytes: 10MB, max_age_s: 60, keep: 3}
    - {type: webhook, url: "https://x.example/h", timeout_ms: 100}
    - {type: redis, redis: {url: "redis://127.0.0.1:6390/2"}, stream: s, maxlen: 0}
    - {type: stdout}
tracing: {otlp_endpoint: "http://c:4318/v1/traces", sample: 0.25, service_name: gw}
metrics: false
)",
                         "t.yaml");
  ASSERT_TRUE(ok) << ok.error().message;
  const AuditConfig& a = ok->audit;
  EXPECT_TRUE(a.enabled);  // sinks listed
  EXPECT_EQ(a.flush, std::chrono::milliseconds(50));
  EXPECT_TRUE(a.bodies);
  ASSERT_EQ(a.sinks.size(), 5u);
  EXPECT_EQ(a.sinks[1].name, "rotating");
  EXPECT_EQ(a.sinks[1].max_bytes, 10 << 20);
  EXPECT_EQ(a.sinks[1].max_age, std::chrono::seconds(60));
  EXPECT_EQ(a.sinks[1].keep, 3);
  EXPECT_EQ(a.sinks[3].redis.port, 6390);
  EXPECT_EQ(a.sinks[3].redis.db, 2);
  EXPECT_EQ(a.sinks[3].maxlen, 0);
  EXPECT_EQ(ok->tracing.sample, 0.25);
  EXPECT_EQ(ok->tracing.service_name, "gw");
  EXPECT_FALSE(ok->metrics);

  auto bad = parse_config(R"(
providers: [{name: m, kind: mock}]
audit:
  sinks:
    - {type: sqlite, path: a.db, url: "http://x"}
    - {type: jsonl, path: a.jsonl}
    - {type: jsonl, path: b.jsonl}
    - {path: c}
  redact: ['ok-\d+', '(unclosed']
)",
                          "t.yaml");
  ASSERT_FALSE(bad);
  const std::string& msg = bad.error().message;
  EXPECT_NE(msg.find("audit.sinks[0].url: unknown key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("two sinks named 'jsonl'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("audit.sinks[3]: type is missing"), std::string::npos) << msg;
  // Caught by `torii check`, not first at `torii serve`.
  EXPECT_NE(msg.find("audit.redact[1]: not an RE2 pattern"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("audit.redact[0]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace torii
