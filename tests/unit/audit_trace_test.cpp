// Tests for the W3C trace-context helpers (src/audit/trace_context.cpp) and the OTLP/HTTP JSON
// encoding and exporter (src/audit/otlp.cpp). The exporter runs against a small blocking HTTP
// server on 127.0.0.1:0 that records each POST and answers a fixed status.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "audit/otlp.h"
#include "audit/trace_context.h"
#include "http_test_server.h"

namespace torii::audit {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// ---- traceparent

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParent = "00f067aa0ba902b7";

TEST(AuditTraceContext, ParsesTheSpecExample) {
  auto ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id_view(), kTrace);
  EXPECT_EQ(ctx->parent_view(), kParent);
  EXPECT_TRUE(ctx->has_parent);
  EXPECT_TRUE(ctx->sampled);

  auto unsampled = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled);
  // Only bit 0 is "sampled"; other flag bits are accepted and ignored.
  auto other_bits = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02");
  ASSERT_TRUE(other_bits);
  EXPECT_FALSE(other_bits->sampled);
  auto both = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->sampled);
  // Surrounding optional whitespace of a header value is not part of it.
  EXPECT_TRUE(parse_traceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t"));
}

TEST(AuditTraceContext, RejectsInvalidHeaders) {
  const char* bad[] = {
      "",
      "00",
      // lengths
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",     // trace 31
      "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",   // trace 33
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",     // parent 15
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01",   // parent 17
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",     // flags 1
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",   // flags 3
      "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // version 1
      // uppercase hex
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
      "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
      // non-hex
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
      "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // all-zero ids
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      // version ff is invalid
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // separators
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
      // version 00 allows nothing after the flags
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
      // a future version must still separate its extra fields with '-'
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
      // and still have valid first four fields
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
  };
  for (const char* h : bad) EXPECT_FALSE(parse_traceparent(h)) << "accepted: '" << h << "'";
}

TEST(AuditTraceContext, AcceptsAFutureVersionWithExtraFields) {
  auto ctx = parse_traceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id_view(), kTrace);
  EXPECT_EQ(ctx->parent_view(), kParent);
  EXPECT_TRUE(ctx->sampled);
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
}

TEST(AuditTraceContext, FormatsAndRoundTrips) {
  EXPECT_EQ(format_traceparent(kTrace, kParent, true),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(format_traceparent(kTrace, kParent, false),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  for (int i = 0; i < 1000; ++i) {
    char t[32], s[16];
    new_trace_id(t);
    new_span_id(s);
    const bool sampled = i % 2 == 0;
    const std::string header =
        format_traceparent(std::string_view(t, 32), std::string_view(s, 16), sampled);
    auto ctx = parse_traceparent(header);
    ASSERT_TRUE(ctx) << header;
    EXPECT_EQ(ctx->trace_id_view(), std::string_view(t, 32));
    EXPECT_EQ(ctx->parent_view(), std::string_view(s, 16));
    EXPECT_EQ(ctx->sampled, sampled);
  }
}

TEST(AuditTraceContext, GeneratedIdsAreLowerHexAndUnique) {
  std::unordered_set<std::string> traces, spans;
  constexpr int kN = 100'000;
  traces.reserve(kN);
  spans.reserve(kN);
  auto lower_hex = [](const std::string& s) {
    return s.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  for (int i = 0; i < kN; ++i) {
    std::string t = new_trace_id();
    std::string s = new_span_id();
    ASSERT_EQ(t.size(), 32u);
    ASSERT_EQ(s.size(), 16u);
    ASSERT_TRUE(lower_hex(t)) << t;
    ASSERT_TRUE(lower_hex(s)) << s;
    ASSERT_NE(t, std::string(32, '0'));
    ASSERT_NE(s, std::string(16, '0'));
    traces.insert(std::move(t));
    spans.insert(std::move(s));
  }
  EXPECT_EQ(traces.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(spans.size(), static_cast<std::size_t>(kN));
}

TEST(AuditTraceContext, ThreadsGetDistinctStreams) {
  std::vector<std::string> a, b;
  std::thread ta([&] { for (int i = 0; i < 1000; ++i) a.push_back(new_trace_id()); });
  std::thread tb([&] { for (int i = 0; i < 1000; ++i) b.push_back(new_trace_id()); });
  ta.join();
  tb.join();
  std::unordered_set<std::string> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 2000u);
}

TEST(AuditTraceContext, SamplingHonoursTheParentElseTheRatio) {
  auto on = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto off = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  EXPECT_TRUE(should_sample(on, kTrace, 0.0));
  EXPECT_FALSE(should_sample(off, kTrace, 1.0));
  EXPECT_TRUE(should_sample(std::nullopt, kTrace, 1.0));
  EXPECT_FALSE(should_sample(std::nullopt, kTrace, 0.0));
  // Deterministic on the id's low 64 bits.
  EXPECT_TRUE(should_sample(std::nullopt, "ffffffffffffffff0000000000000001", 0.001));
  EXPECT_FALSE(should_sample(std::nullopt, "0000000000000001ffffffffffffffff", 0.999));
  int kept = 0;
  for (int i = 0; i < 20'000; ++i) kept += should_sample(std::nullopt, new_trace_id(), 0.25);
  EXPECT_GT(kept, 4'500);
  EXPECT_LT(kept, 5'500);
}

// ---- otlp_json

AuditEvent make_event() {
  AuditEvent e;
  e.id = "e1";
  e.request_id = "req-42";
  e.trace_id = kTrace;
  e.span_id = "1111111111111111";
  e.parent_span_id = kParent;
  e.start_unix_us = 1'700'000'000'123'456;
  e.end_unix_us = 1'700'000'000'623'456;
  e.consumer = "team-a";
  e.key = "team-a-key";
  e.api = "openai_chat";
  e.method = "POST";
  e.path = "/v1/chat/completions";
  e.route = "fast";
  e.model = "fast";
  e.provider = "backup";
  e.upstream_model = "gpt-4o";
  e.stream = true;
  e.status = 200;
  e.outcome = "ok";
  e.usage.prompt = 12;
  e.usage.completion = 34;
  e.usage.cached = 5;
  e.cost_micros = 1'500;
  e.ttft_us = 80'000;
  e.overhead_us = 120;
  e.client_ip = "10.0.0.7";
  e.user_agent = "openai-node/6.0";
  AttemptRecord a1;
  a1.provider = "primary";
  a1.model = "gpt-4o-mini";
  a1.status = 503;
  a1.error = "upstream_error";
  a1.start_us = 1'000;
  a1.duration_us = 20'000;
  a1.span_id = "2222222222222222";
  AttemptRecord a2;
  a2.provider = "backup";
  a2.model = "gpt-4o";
  a2.status = 200;
  a2.start_us = 22'000;
  a2.duration_us = 470'000;
  a2.span_id = "3333333333333333";
  e.attempts = {a1, a2};
  return e;
}

// The attribute `key` of a span: its value object, or null.
const json::object* attr(const json::object& span, std::string_view key) {
  for (const auto& a : span.at("attributes").as_array()) {
    if (a.at("key").as_string() == key) return &a.at("value").as_object();
  }
  return nullptr;
}

std::string str_attr(const json::object& span, std::string_view key) {
  const auto* v = attr(span, key);
  if (!v || !v->contains("stringValue")) return "<missing>";
  return std::string(v->at("stringValue").as_string());
}

std::string int_attr(const json::object& span, std::string_view key) {
  const auto* v = attr(span, key);
  // OTLP JSON: int64 values are decimal strings.
  if (!v || !v->contains("intValue") || !v->at("intValue").is_string()) return "<missing>";
  return std::string(v->at("intValue").as_string());
}

json::array spans_of(const std::string& body) {
  json::value doc = json::parse(body);
  const auto& rs = doc.at("resourceSpans").as_array();
  EXPECT_EQ(rs.size(), 1u);
  const auto& ss = rs.at(0).at("scopeSpans").as_array();
  EXPECT_EQ(ss.size(), 1u);
  return ss.at(0).at("spans").as_array();
}

TEST(AuditTraceOtlp, EncodesAServerSpanAndOneClientSpanPerAttempt) {
  const AuditEvent e = make_event();
  const AuditEvent* events[] = {&e};
  const std::string body = otlp_json(events, "torii-test");
  json::value doc = json::parse(body);

  const auto& resource = doc.at("resourceSpans").at(0).at("resource").as_object();
  const auto& rattr = resource.at("attributes").at(0).as_object();
  EXPECT_EQ(rattr.at("key").as_string(), "service.name");
  EXPECT_EQ(rattr.at("value").at("stringValue").as_string(), "torii-test");
  EXPECT_EQ(doc.at("resourceSpans").at(0).at("scopeSpans").at(0).at("scope").at("name"), "torii");

  json::array spans = spans_of(body);
  ASSERT_EQ(spans.size(), 3u);
  const auto& server = spans.at(0).as_object();
  EXPECT_EQ(server.at("traceId").as_string(), kTrace);
  EXPECT_EQ(server.at("spanId").as_string(), "1111111111111111");
  EXPECT_EQ(server.at("parentSpanId").as_string(), kParent);
  EXPECT_EQ(server.at("name").as_string(), "chat fast");
  EXPECT_EQ(server.at("kind").as_int64(), 2);
  EXPECT_EQ(server.at("startTimeUnixNano").as_string(), "1700000000123456000");
  EXPECT_EQ(server.at("endTimeUnixNano").as_string(), "1700000000623456000");
  EXPECT_EQ(server.at("status").at("code").as_int64(), 0);

  EXPECT_EQ(str_attr(server, "http.request.method"), "POST");
  EXPECT_EQ(str_attr(server, "url.path"), "/v1/chat/completions");
  EXPECT_EQ(int_attr(server, "http.response.status_code"), "200");
  EXPECT_EQ(str_attr(server, "client.address"), "10.0.0.7");
  EXPECT_EQ(str_attr(server, "user_agent.original"), "openai-node/6.0");
  EXPECT_EQ(str_attr(server, "gen_ai.operation.name"), "chat");
  EXPECT_EQ(str_attr(server, "gen_ai.request.model"), "fast");
  EXPECT_EQ(str_attr(server, "gen_ai.response.model"), "gpt-4o");
  EXPECT_EQ(str_attr(server, "gen_ai.provider.name"), "backup");
  EXPECT_EQ(str_attr(server, "gen_ai.system"), "backup");
  EXPECT_EQ(int_attr(server, "gen_ai.usage.input_tokens"), "12");
  EXPECT_EQ(int_attr(server, "gen_ai.usage.output_tokens"), "34");
  EXPECT_EQ(int_attr(server, "gen_ai.usage.cache_read.input_tokens"), "5");
  EXPECT_EQ(attr(server, "gen_ai.usage.cache_creation.input_tokens"), nullptr);
  EXPECT_EQ(str_attr(server, "torii.route"), "fast");
  EXPECT_EQ(str_attr(server, "torii.consumer"), "team-a");
  EXPECT_EQ(str_attr(server, "torii.outcome"), "ok");
  EXPECT_EQ(str_attr(server, "torii.request_id"), "req-42");
  EXPECT_EQ(attr(server, "error.type"), nullptr);
  const auto* cost = attr(server, "torii.cost_usd");
  ASSERT_NE(cost, nullptr);
  ASSERT_TRUE(cost->at("doubleValue").is_double());
  EXPECT_DOUBLE_EQ(cost->at("doubleValue").as_double(), 0.0015);
  const auto* stream = attr(server, "torii.stream");
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->at("boolValue").as_bool(), true);

  const auto& c1 = spans.at(1).as_object();
  EXPECT_EQ(c1.at("traceId").as_string(), kTrace);
  EXPECT_EQ(c1.at("spanId").as_string(), "2222222222222222");
  EXPECT_EQ(c1.at("parentSpanId").as_string(), "1111111111111111");
  EXPECT_EQ(c1.at("kind").as_int64(), 3);
  EXPECT_EQ(c1.at("name").as_string(), "chat gpt-4o-mini");
  EXPECT_EQ(c1.at("startTimeUnixNano").as_string(), "1700000000124456000");
  EXPECT_EQ(c1.at("endTimeUnixNano").as_string(), "1700000000144456000");
  EXPECT_EQ(str_attr(c1, "gen_ai.provider.name"), "primary");
  EXPECT_EQ(str_attr(c1, "gen_ai.request.model"), "gpt-4o-mini");
  EXPECT_EQ(int_attr(c1, "http.response.status_code"), "503");
  EXPECT_EQ(str_attr(c1, "error.type"), "upstream_error");
  EXPECT_EQ(c1.at("status").at("code").as_int64(), 2);

  const auto& c2 = spans.at(2).as_object();
  EXPECT_EQ(c2.at("spanId").as_string(), "3333333333333333");
  EXPECT_EQ(c2.at("parentSpanId").as_string(), "1111111111111111");
  EXPECT_EQ(c2.at("kind").as_int64(), 3);
  EXPECT_EQ(c2.at("startTimeUnixNano").as_string(), "1700000000145456000");
  EXPECT_EQ(c2.at("endTimeUnixNano").as_string(), "1700000000615456000");
  EXPECT_EQ(int_attr(c2, "http.response.status_code"), "200");
  EXPECT_EQ(attr(c2, "error.type"), nullptr);
  EXPECT_EQ(c2.at("status").at("code").as_int64(), 0);
}

TEST(AuditTraceOtlp, FailedEventHasErrorStatusAndType) {
  AuditEvent e = make_event();
  e.parent_span_id.clear();
  e.status = 502;
  e.outcome = "upstream_error";
  e.error_type = "upstream_error";
  e.error_message = "upstream answered HTTP 503";
  e.cost_micros = -1;
  e.attempts.resize(1);
  const AuditEvent* events[] = {&e};
  json::array spans = spans_of(otlp_json(events, "torii"));
  ASSERT_EQ(spans.size(), 2u);
  const auto& server = spans.at(0).as_object();
  EXPECT_FALSE(server.contains("parentSpanId"));  // a root span
  EXPECT_EQ(server.at("status").at("code").as_int64(), 2);
  EXPECT_EQ(server.at("status").at("message").as_string(), "upstream answered HTTP 503");
  EXPECT_EQ(str_attr(server, "error.type"), "upstream_error");
  EXPECT_EQ(int_attr(server, "http.response.status_code"), "502");
  EXPECT_EQ(attr(server, "torii.cost_usd"), nullptr);  // not priced

  // A mid-stream failure keeps status 200 but is an error all the same.
  AuditEvent m = make_event();
  m.outcome = "stream_error";
  m.error_type.clear();
  m.error_message.clear();
  const AuditEvent* ms[] = {&m};
  json::array mspans = spans_of(otlp_json(ms, "torii"));
  EXPECT_EQ(mspans.at(0).at("status").at("code").as_int64(), 2);
  EXPECT_EQ(str_attr(mspans.at(0).as_object(), "error.type"), "stream_error");
}

TEST(AuditTraceOtlp, OperationNames) {
  EXPECT_EQ(operation_name("openai_chat"), "chat");
  EXPECT_EQ(operation_name("anthropic_messages"), "chat");
  EXPECT_EQ(operation_name("openai_completions"), "text_completion");
  EXPECT_EQ(operation_name("openai_embeddings"), "embeddings");
}

// ---- OtlpExporter against a local collector

// The collector: answers every POST with a status, after a delay if given.
using Collector = torii::test::HttpTestServer;

std::shared_ptr<const std::vector<AuditEvent>> batch_of(std::size_t n) {
  auto v = std::make_shared<std::vector<AuditEvent>>();
  for (std::size_t i = 0; i < n; ++i) {
    AuditEvent e = make_event();
    e.trace_id = new_trace_id();
    e.span_id = new_span_id();
    e.request_id = "req-" + std::to_string(i);
    v->push_back(std::move(e));
  }
  return v;
}

TracingConfig config_for(const Collector& c) {
  TracingConfig cfg;
  cfg.otlp_endpoint = c.url("/v1/traces");
  cfg.service_name = "torii-unit";
  cfg.timeout = 2000ms;
  cfg.headers["Authorization"] = "Bearer s3cret";
  cfg.headers["X-Scope-OrgID"] = "tenant-1";
  return cfg;
}

auto deadline_in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

TEST(AuditTraceExporter, PostsJsonWithTheConfiguredHeaders) {
  Collector collector(200);
  auto ex = OtlpExporter::make(config_for(collector));
  ASSERT_TRUE(ex) << ex.error().message;
  (*ex)->submit(batch_of(3));
  ASSERT_TRUE((*ex)->flush(deadline_in(5s)));
  EXPECT_EQ((*ex)->exported(), 3u);
  EXPECT_EQ((*ex)->dropped(), 0u);
  EXPECT_EQ((*ex)->failed_posts(), 0u);

  auto reqs = collector.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const std::string& head = reqs[0].head;
  EXPECT_EQ(head.rfind("POST /v1/traces HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: application/json\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Authorization: Bearer s3cret\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Scope-OrgID: tenant-1\r\n"), std::string::npos) << head;
  json::array spans = spans_of(reqs[0].body);
  EXPECT_EQ(spans.size(), 9u);  // 3 events x (server + 2 attempts)
  json::value doc = json::parse(reqs[0].body);
  EXPECT_EQ(doc.at("resourceSpans").at(0).at("resource").at("attributes").at(0).at("value")
                .at("stringValue").as_string(),
            "torii-unit");
}

TEST(AuditTraceExporter, SplitsIntoBatchesOfBatchSize) {
  Collector collector(204);
  OtlpExporter::Options opt;
  opt.batch_size = 4;
  auto ex = OtlpExporter::make(config_for(collector), opt);
  ASSERT_TRUE(ex);
  (*ex)->submit(batch_of(6));
  (*ex)->submit(batch_of(4));
  ASSERT_TRUE((*ex)->flush(deadline_in(5s)));
  EXPECT_EQ((*ex)->exported(), 10u);
  auto reqs = collector.requests();
  ASSERT_GE(reqs.size(), 3u);  // at most 4 events per POST
  std::size_t servers = 0;
  for (const auto& r : reqs) {
    std::size_t in_post = 0;
    for (const auto& s : spans_of(r.body)) in_post += s.at("kind").as_int64() == 2;
    EXPECT_LE(in_post, 4u);
    servers += in_post;
  }
  EXPECT_EQ(servers, 10u);
}

TEST(AuditTraceExporter, RetriesTwiceThenDropsOnServerError) {
  Collector collector(503);
  OtlpExporter::Options opt;
  opt.retry_backoff = {10ms, 20ms};
  auto ex = OtlpExporter::make(config_for(collector), opt);
  ASSERT_TRUE(ex);
  (*ex)->submit(batch_of(5));
  ASSERT_TRUE((*ex)->flush(deadline_in(10s)));
  EXPECT_EQ((*ex)->exported(), 0u);
  EXPECT_EQ((*ex)->dropped(), 5u);
  EXPECT_EQ((*ex)->failed_posts(), 3u);
  auto reqs = collector.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].body, reqs[2].body);  // the same batch each time
}

TEST(AuditTraceExporter, ConnectionRefusedCountsAsFailedPosts) {
  std::string url;
  {
    Collector gone(200);
    url = gone.url("/v1/traces");
  }  // closed: nothing listens on the port any more
  TracingConfig cfg;
  cfg.otlp_endpoint = url;
  cfg.timeout = 1000ms;
  OtlpExporter::Options opt;
  opt.retry_backoff = {5ms};
  auto ex = OtlpExporter::make(cfg, opt);
  ASSERT_TRUE(ex);
  (*ex)->submit(batch_of(2));
  ASSERT_TRUE((*ex)->flush(deadline_in(10s)));
  EXPECT_EQ((*ex)->dropped(), 2u);
  EXPECT_EQ((*ex)->failed_posts(), 2u);
}

TEST(AuditTraceExporter, SubmitNeverBlocksAndDropsPastCapacity) {
  Collector slow(200, 300ms);  // the collector takes its time
  OtlpExporter::Options opt;
  opt.queue_capacity = 30;
  opt.batch_size = 10;
  auto ex = OtlpExporter::make(config_for(slow), opt);
  ASSERT_TRUE(ex);
  std::vector<std::shared_ptr<const std::vector<AuditEvent>>> batches;
  for (int i = 0; i < 50; ++i) batches.push_back(batch_of(10));
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : batches) (*ex)->submit(b);
  const auto spent = std::chrono::steady_clock::now() - t0;
  // 50 submits while a POST is outstanding: no waiting on the 300 ms collector.
  EXPECT_LT(spent, 100ms);
  // At most one batch of 10 was taken by the thread, the queue holds at most 30.
  EXPECT_GE((*ex)->dropped(), 460u);
  EXPECT_LE((*ex)->queued(), 30u);
  ASSERT_TRUE((*ex)->flush(deadline_in(15s)));
  EXPECT_EQ((*ex)->exported() + (*ex)->dropped(), 500u);
  EXPECT_GE((*ex)->exported(), 30u);
}

TEST(AuditTraceExporter, ExportsOnlySampledEvents) {
  Collector collector(200);
  OtlpExporter::Options opt;
  opt.sample = [](const AuditEvent& e) { return e.request_id != "req-1"; };
  auto ex = OtlpExporter::make(config_for(collector), opt);
  ASSERT_TRUE(ex);
  (*ex)->submit(batch_of(3));
  ASSERT_TRUE((*ex)->flush(deadline_in(5s)));
  EXPECT_EQ((*ex)->exported(), 2u);
  EXPECT_EQ((*ex)->unsampled(), 1u);
  auto reqs = collector.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body.find("req-1\""), std::string::npos);
  EXPECT_NE(reqs[0].body.find("req-2\""), std::string::npos);

  // Without a predicate, the config's ratio applies: 0 exports nothing.
  TracingConfig none = config_for(collector);
  none.sample = 0.0;
  auto ex0 = OtlpExporter::make(none);
  ASSERT_TRUE(ex0);
  (*ex0)->submit(batch_of(4));
  ASSERT_TRUE((*ex0)->flush(deadline_in(5s)));
  EXPECT_EQ((*ex0)->unsampled(), 4u);
  EXPECT_EQ((*ex0)->exported(), 0u);
}

TEST(AuditTraceExporter, RejectsBadConfig) {
  TracingConfig cfg;
  EXPECT_FALSE(OtlpExporter::make(cfg));  // no endpoint
  cfg.otlp_endpoint = "ftp://collector/v1/traces";
  EXPECT_FALSE(OtlpExporter::make(cfg));
  cfg.otlp_endpoint = "http://127.0.0.1:4318/v1/traces";
  cfg.headers["X-Bad"] = "a\r\nInjected: 1";
  auto r = OtlpExporter::make(cfg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("Injected"), std::string::npos);  // value never quoted
}

TEST(AuditTraceExporter, DestructionStopsWithoutSendingTheRest) {
  Collector slow(200, 200ms);
  OtlpExporter::Options opt;
  opt.batch_size = 1;
  {
    auto ex = OtlpExporter::make(config_for(slow), opt);
    ASSERT_TRUE(ex);
    (*ex)->submit(batch_of(5));
    std::this_thread::sleep_for(50ms);  // the thread is now in its first POST
    EXPECT_GE((*ex)->queued(), 3u);
  }  // destroyed: the POST in flight ends, the 4 queued events are dropped, not sent
  EXPECT_LE(slow.requests().size(), 1u);
}

}  // namespace
}  // namespace torii::audit
