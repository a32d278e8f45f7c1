// The Bedrock Converse provider: factory checks, request encoding (golden), the signed request
// at a fixed time, answer decoding, event-stream decoding split at every byte, streamed vs
// whole tool calls, exceptions mid-stream, error mapping.
#include "providers/bedrock/bedrock.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/bedrock/eventstream.h"
#include "providers/bedrock/sigv4.h"

namespace torii {
namespace {
namespace json = boost::json;

std::time_t fixed_clock() { return 1440938160; }  // 2015-08-30T12:36:00Z

ProviderConfig config() {
  ProviderConfig c;
  c.name = "aws";
  c.kind = "bedrock";
  c.region = "us-east-1";
  c.aws_access_key_id.value = "AKIDEXAMPLE";
  c.aws_secret_access_key.value = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  c.models = {"anthropic.claude-3-5-sonnet-20240620-v1:0"};
  return c;
}

std::unique_ptr<Provider> make(ProviderConfig c = config(),
                               std::string url = std::string(kBedrockPlaceholderBaseUrl)) {
  auto ep = make_endpoint(url, "", {});
  EXPECT_TRUE(ep.ok());
  auto p = make_bedrock_with_clock(c, std::move(*ep), &fixed_clock);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? std::move(*p) : nullptr;
}

Part text(std::string t) { return Part::make_text(std::move(t)); }

std::string_view header(const Headers& h, std::string_view name) { return find_header(h, name); }

TEST(BedrockProvider, FactoryNamesTheMissingField) {
  auto ep = make_endpoint(std::string(kBedrockPlaceholderBaseUrl), "", {});
  ASSERT_TRUE(ep.ok());
  for (auto [field, clear] : std::vector<std::pair<std::string, void (*)(ProviderConfig&)>>{
           {"region", [](ProviderConfig& c) { c.region.clear(); }},
           {"aws_access_key_id", [](ProviderConfig& c) { c.aws_access_key_id.value.clear(); }},
           {"aws_secret_access_key",
            [](ProviderConfig& c) { c.aws_secret_access_key.value.clear(); }}}) {
    ProviderConfig c = config();
    clear(c);
    auto p = make_bedrock(c, *ep);
    ASSERT_FALSE(p.ok()) << field;
    EXPECT_EQ(p.error().status, 400);
    EXPECT_EQ(p.error().param, field);
    EXPECT_NE(p.error().message.find(field), std::string::npos);
    EXPECT_EQ(p.error().message.find("wJalrXUtnFEMI"), std::string::npos);
  }
}

TEST(BedrockProvider, DefaultEndpointIsTheRegions) {
  auto p = make();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->endpoint().host, "bedrock-runtime.us-east-1.amazonaws.com");
  EXPECT_TRUE(p->endpoint().tls);
  EXPECT_EQ(p->endpoint().port, 443);
  auto mock = make(config(), "http://127.0.0.1:4010");
  EXPECT_EQ(mock->endpoint().host, "127.0.0.1");
  EXPECT_EQ(mock->kind(), "bedrock");
  EXPECT_TRUE(mock->capabilities().stream_tools);
  EXPECT_FALSE(mock->capabilities().json_schema);
}

TEST(BedrockProvider, PathEncodesTheModelId) {
  EXPECT_EQ(bedrock_path("", "anthropic.claude-3-5-sonnet-20240620-v1:0", false),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  EXPECT_EQ(bedrock_path("/base", "arn:aws:bedrock:us-east-1:1:inference-profile/us.x", true),
            "/base/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/"
            "converse-stream");
}

ChatRequest tool_conversation() {
  ChatRequest rq;
  rq.messages.push_back({Role::system, {text("Be brief.")}, ""});
  Message user{Role::user, {text("Weather in Paris?")}, ""};
  Part img;
  img.kind = Part::Kind::image;
  img.media_type = "image/png";
  img.data = "iVBORw0KGgo=";
  user.parts.push_back(img);
  rq.messages.push_back(user);
  Part call;
  call.kind = Part::Kind::tool_call;
  call.id = "tooluse_1";
  call.name = "get_weather";
  call.arguments = R"({"city":"Paris"})";
  rq.messages.push_back({Role::assistant, {call}, ""});
  Part result;
  result.kind = Part::Kind::tool_result;
  result.id = "tooluse_1";
  result.content.push_back(text("18C"));
  rq.messages.push_back({Role::tool, {result}, ""});
  Tool t;
  t.name = "get_weather";
  t.description = "Current weather";
  t.parameters = json::parse(R"({"type":"object","properties":{"city":{"type":"string"}}})");
  rq.tools.push_back(t);
  rq.tool_choice.mode = ToolChoice::Mode::required;
  rq.max_tokens = 256;
  rq.temperature = 0.5;
  rq.stop = {"END"};
  rq.seed = 7;
  return rq;
}

TEST(BedrockProvider, EncodesAConverseRequest) {
  auto p = make();
  ChatRequest rq = tool_conversation();
  std::vector<std::string> ignored;
  ChatCall call;
  call.inbound = WireFormat::openai_chat;
  call.request = &rq;
  call.upstream_model = "anthropic.claude-3-5-sonnet-20240620-v1:0";
  call.ignored = &ignored;
  auto r = p->encode_chat(call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  EXPECT_EQ(json::parse(r->body), json::parse(R"({
    "messages": [
      {"role": "user", "content": [{"text": "Weather in Paris?"},
        {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}]},
      {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1",
        "name": "get_weather", "input": {"city": "Paris"}}}]},
      {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1",
        "content": [{"text": "18C"}]}}]}],
    "system": [{"text": "Be brief."}],
    "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather",
        "description": "Current weather", "inputSchema": {"json": {"type": "object",
        "properties": {"city": {"type": "string"}}}}}}], "toolChoice": {"any": {}}},
    "inferenceConfig": {"maxTokens": 256, "temperature": 0.5, "stopSequences": ["END"]}
  })"));
  EXPECT_EQ(ignored, std::vector<std::string>{"seed"});
  EXPECT_NE(r->header_block.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(r->header_block.find("Accept: application/json\r\n"), std::string::npos);
}

TEST(BedrockProvider, SignsTheRequestAtAFixedTime) {
  ProviderConfig c = config();
  c.aws_session_token.value = "session-token-1";
  auto p = make(c);
  ChatRequest rq;
  rq.messages.push_back({Role::user, {text("Hi")}, ""});
  ChatCall call;
  call.request = &rq;
  call.upstream_model = "anthropic.claude-3-5-sonnet-20240620-v1:0";
  call.stream = true;
  auto r = p->encode_chat(call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
  EXPECT_NE(r->header_block.find("Accept: application/vnd.amazon.eventstream\r\n"),
            std::string::npos);
  EXPECT_EQ(header(r->headers, "x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(header(r->headers, "x-amz-security-token"), "session-token-1");

  // The same signature, computed apart from the provider: host, double-encoded path, body and
  // the signed content type are exactly what goes on the wire.
  aws::SigV4Request sr;
  sr.host = "bedrock-runtime.us-east-1.amazonaws.com";
  sr.path = r->path;
  sr.headers = {{"content-type", "application/json"}};
  sr.payload = r->body;
  auto creq = aws::canonical_request(sr, "20150830T123600Z", "session-token-1");
  ASSERT_TRUE(creq.ok());
  EXPECT_TRUE(creq->starts_with(
      "POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse-stream\n\n"
      "content-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\nx-amz-security-token:session-token-1\n\n"));
  auto expected = aws::sign_v4(sr, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                    "session-token-1"},
                               "us-east-1", "bedrock", "20150830T123600Z");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(header(r->headers, "authorization"), expected->authorization);
  EXPECT_TRUE(header(r->headers, "authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                               "bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                               "x-amz-security-token, Signature="));
  // Deterministic: the same call signs the same way; the secret appears nowhere.
  auto again = p->encode_chat(call);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(header(again->headers, "authorization"), header(r->headers, "authorization"));
  for (const auto& [k, v] : r->headers) EXPECT_EQ(v.find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_EQ(std::string(r->header_block).find("wJalrXUtnFEMI"), std::string::npos);
}

TEST(BedrockProvider, RefusesWhatWouldChangeTheMeaning) {
  auto p = make();
  auto encode = [&](ChatRequest rq) {
    ChatCall call;
    call.request = &rq;
    call.upstream_model = "m";
    return p->encode_chat(call);
  };
  ChatRequest base;
  base.messages.push_back({Role::user, {text("x")}, ""});
  ChatRequest rq = base;
  rq.n = 2;
  auto r = encode(rq);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "n");
  rq = base;
  rq.logprobs = true;
  EXPECT_EQ(encode(rq).error().param, "logprobs");
  rq = base;
  rq.response_format.kind = ResponseFormat::Kind::json_schema;
  EXPECT_EQ(encode(rq).error().param, "response_format");
  rq = base;
  Part img;
  img.kind = Part::Kind::image;
  img.url = "https://example.com/cat.png";
  rq.messages[0].parts.push_back(img);
  r = encode(rq);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_NE(r.error().message.find("provider 'aws' (bedrock) has no counterpart"),
            std::string::npos);
}

TEST(BedrockProvider, ThinkingTopKAndCacheHints) {
  auto p = make();
  ChatRequest rq;
  Message m{Role::user, {text("long context")}, ""};
  m.parts[0].cache_hint = true;
  Part thought;
  thought.kind = Part::Kind::thinking;
  thought.text = "hmm";
  thought.signature = "sig";
  rq.messages.push_back(m);
  rq.messages.push_back({Role::assistant, {thought, text("ok")}, ""});
  rq.reasoning_effort = "medium";
  rq.top_k = 40;
  rq.tool_choice.mode = ToolChoice::Mode::none;
  Tool t;
  t.name = "f";
  rq.tools.push_back(t);
  ChatCall call;
  call.request = &rq;
  call.upstream_model = "m";
  auto r = p->encode_chat(call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(json::parse(r->body), json::parse(R"({
    "messages": [
      {"role": "user", "content": [{"text": "long context"}, {"cachePoint": {"type": "default"}}]},
      {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
        {"text": "ok"}]}],
    "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 8192},
                                     "top_k": 40}
  })")) << r->body;
}

TEST(BedrockProvider, DecodesAConverseAnswer) {
  auto p = make();
  std::string body = R"({
    "output": {"message": {"role": "assistant", "content": [
      {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "c2ln"}}},
      {"text": "Let me check."},
      {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "top_song",
                   "input": {"sign": "WZPZ"}}}]}},
    "stopReason": "tool_use",
    "usage": {"inputTokens": 375, "outputTokens": 36, "totalTokens": 511,
              "cacheReadInputTokens": 100, "cacheWriteInputTokens": 0},
    "metrics": {"latencyMs": 1286}})";
  auto r = p->decode_chat(std::move(body), false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ChatResult& c = r->result;
  ASSERT_EQ(c.parts.size(), 3u);
  EXPECT_EQ(c.parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(c.parts[0].text, "Think.");
  EXPECT_EQ(c.parts[0].signature, "c2ln");
  EXPECT_EQ(c.parts[1].text, "Let me check.");
  EXPECT_EQ(c.parts[2].kind, Part::Kind::tool_call);
  EXPECT_EQ(c.parts[2].id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
  EXPECT_EQ(c.parts[2].name, "top_song");
  EXPECT_EQ(json::parse(c.parts[2].arguments), json::parse(R"({"sign":"WZPZ"})"));
  EXPECT_EQ(c.finish, FinishReason::tool_calls);
  EXPECT_EQ(c.native_finish, "tool_use");
  EXPECT_EQ(c.usage.prompt_tokens, 475);  // inputTokens + cache reads + cache writes
  EXPECT_EQ(c.usage.cached_tokens, 100);
  EXPECT_EQ(c.usage.cache_write_tokens, 0);
  EXPECT_EQ(c.usage.completion_tokens, 36);
  EXPECT_EQ(c.usage.total_tokens, 511);
  EXPECT_FALSE(c.id.empty());

  for (std::string bad : {std::string("not json"), std::string("[]"), std::string("{}"),
                          std::string(R"({"output":{"message":{"content":[1]}}})")}) {
    auto e = p->decode_chat(std::move(bad), false);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().status, 502);
  }
}

TEST(BedrockProvider, FinishReasons) {
  EXPECT_EQ(bedrock_finish_reason("end_turn"), FinishReason::stop);
  EXPECT_EQ(bedrock_finish_reason("stop_sequence"), FinishReason::stop);
  EXPECT_EQ(bedrock_finish_reason("max_tokens"), FinishReason::length);
  EXPECT_EQ(bedrock_finish_reason("tool_use"), FinishReason::tool_calls);
  EXPECT_EQ(bedrock_finish_reason("guardrail_intervened"), FinishReason::content_filter);
  EXPECT_EQ(bedrock_finish_reason("content_filtered"), FinishReason::content_filter);
}

// Records canonical stream events as text lines.
struct Recorder final : StreamSink {
  std::vector<std::string> lines;
  std::string args;
  void event(const StreamEvent& e) override {
    std::string l;
    switch (e.kind) {
      case StreamEvent::Kind::start: l = "start"; break;
      case StreamEvent::Kind::text: l = "text:" + std::string(e.text); break;
      case StreamEvent::Kind::thinking: l = "thinking:" + std::string(e.text); break;
      case StreamEvent::Kind::thinking_signature: l = "sig:" + std::string(e.text); break;
      case StreamEvent::Kind::redacted_thinking: l = "redacted:" + std::string(e.text); break;
      case StreamEvent::Kind::tool_call_start:
        l = "tool_start:" + std::to_string(e.index) + ":" + std::string(e.id) + ":" +
            std::string(e.name);
        break;
      case StreamEvent::Kind::tool_call_args:
        l = "tool_args:" + std::to_string(e.index) + ":" + std::string(e.text);
        args += e.text;
        break;
      case StreamEvent::Kind::finish:
        l = "finish:" + std::string(openai_finish_reason(e.finish)) + ":" + std::string(e.text);
        break;
      case StreamEvent::Kind::usage:
        l = "usage:" + std::to_string(e.usage.prompt_tokens) + "/" +
            std::to_string(e.usage.completion_tokens) + "/" + std::to_string(e.usage.cached_tokens);
        break;
    }
    lines.push_back(std::move(l));
  }
  void raw(std::string_view, std::string_view, bool) override { lines.push_back("raw"); }
};

std::string tool_stream() {
  std::string s;
  aws::append_event(s, "messageStart", R"({"role":"assistant"})");
  aws::append_event(s, "contentBlockDelta",
                    R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"Hm."}},"p":"ab"})");
  aws::append_event(s, "contentBlockDelta",
                    R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"c2ln"}}})");
  aws::append_event(s, "contentBlockStop", R"({"contentBlockIndex":0})");
  aws::append_event(s, "contentBlockDelta", R"({"contentBlockIndex":1,"delta":{"text":"Let"}})");
  aws::append_event(s, "contentBlockDelta", R"({"contentBlockIndex":1,"delta":{"text":" me"}})");
  aws::append_event(s, "contentBlockStop", R"({"contentBlockIndex":1})");
  aws::append_event(s, "contentBlockStart",
                    R"({"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"tu_1","name":"top_song"}}})");
  aws::append_event(s, "contentBlockDelta",
                    R"({"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"sign\":"}}})");
  aws::append_event(s, "contentBlockDelta",
                    R"({"contentBlockIndex":2,"delta":{"toolUse":{"input":"\"WZPZ\"}"}}})");
  aws::append_event(s, "contentBlockStop", R"({"contentBlockIndex":2})");
  aws::append_event(s, "messageStop", R"({"stopReason":"tool_use"})");
  aws::append_event(s, "metadata",
                    R"({"usage":{"inputTokens":10,"outputTokens":5,"totalTokens":19,)"
                    R"("cacheReadInputTokens":4},"metrics":{"latencyMs":9}})");
  return s;
}

struct StreamRun {
  Recorder rec;
  bool ok = true, done = false;
  ApiError error;
  Usage usage;
};

StreamRun run_stream(const Provider& p, const std::vector<std::string_view>& pieces) {
  StreamRun run;
  auto d = p.stream_decoder(false);
  for (auto piece : pieces) {
    auto r = d->feed(piece, run.rec, run.usage, run.done);
    if (!r.ok()) {
      run.ok = false;
      run.error = r.error();
      break;
    }
  }
  return run;
}

TEST(BedrockProvider, StreamDecodesEveryEventKind) {
  auto p = make();
  StreamRun run = run_stream(*p, {tool_stream()});
  ASSERT_TRUE(run.ok) << run.error.message;
  EXPECT_TRUE(run.done);
  EXPECT_EQ(run.rec.lines, (std::vector<std::string>{
                               "start", "thinking:Hm.", "sig:c2ln", "text:Let", "text: me",
                               "tool_start:0:tu_1:top_song", "tool_args:0:{\"sign\":",
                               "tool_args:0:\"WZPZ\"}", "finish:tool_calls:tool_use",
                               "usage:14/5/4"}));
  EXPECT_EQ(run.usage.prompt_tokens, 14);
  EXPECT_EQ(run.usage.total_tokens, 19);  // canonical: all input + output
}

TEST(BedrockProvider, StreamSplitAtEveryByteGivesTheSameEvents) {
  auto p = make();
  const std::string s = tool_stream();
  const StreamRun whole = run_stream(*p, {s});
  for (std::size_t i = 0; i <= s.size(); ++i) {
    std::string_view v(s);
    StreamRun two = run_stream(*p, {v.substr(0, i), v.substr(i)});
    ASSERT_TRUE(two.ok) << i;
    ASSERT_EQ(two.rec.lines, whole.rec.lines) << "split at " << i;
    EXPECT_TRUE(two.done);
  }
}

TEST(BedrockProvider, StreamedToolArgumentsEqualTheWholeAnswers) {
  auto p = make();
  StreamRun run = run_stream(*p, {tool_stream()});
  auto whole = p->decode_chat(
      R"({"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"tu_1",)"
      R"("name":"top_song","input":{"sign":"WZPZ"}}}]}},"stopReason":"tool_use"})",
      false);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(json::parse(run.rec.args), json::parse(whole->result.parts[0].arguments));
}

TEST(BedrockProvider, ExceptionMidStreamIsAnError) {
  auto p = make();
  std::string s;
  aws::append_event(s, "messageStart", R"({"role":"assistant"})");
  aws::append_event(s, "contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})");
  aws::append_exception(s, "throttlingException", R"({"message":"Too many tokens"})");
  aws::append_event(s, "contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"lost"}})");
  StreamRun run = run_stream(*p, {s});
  ASSERT_FALSE(run.ok);
  EXPECT_EQ(run.error.status, 429);
  EXPECT_TRUE(run.error.retryable);
  EXPECT_NE(run.error.message.find("Too many tokens"), std::string::npos);
  EXPECT_EQ(run.rec.lines, (std::vector<std::string>{"start", "text:Hi"}));

  for (auto [type, status] : std::vector<std::pair<std::string, int>>{
           {"validationException", 400}, {"modelStreamErrorException", 502},
           {"internalServerException", 502}, {"modelTimeoutException", 504}}) {
    ApiError e = map_bedrock_exception("aws", type, R"({"message":"m"})");
    EXPECT_EQ(e.status, status) << type;
  }

  // A corrupt frame is a 502, not a crash.
  std::string corrupt = s;
  corrupt[10] ^= 1;
  run = run_stream(*p, {corrupt});
  ASSERT_FALSE(run.ok);
  EXPECT_EQ(run.error.status, 502);
  EXPECT_NE(run.error.message.find("corrupt event stream"), std::string::npos);
}

TEST(BedrockProvider, MapsUpstreamErrors) {
  auto p = make();
  ApiError e = p->map_error(400, R"({"message":"Malformed input request"})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("Malformed input request"), std::string::npos);
  e = p->map_error(403, R"({"message":"The security token included in the request is invalid"})",
                   "");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.code, "upstream_auth");
  e = p->map_error(404, R"({"message":"model not found"})", "");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "model_not_found");
  e = p->map_error(429, R"({"message":"Too many requests"})", "3");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after, "3");
  EXPECT_TRUE(e.retryable);
  e = p->map_error(503, "unavailable", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_TRUE(e.retryable);
  e = p->map_error(504, "", "");
  EXPECT_EQ(e.status, 504);
}

}  // namespace
}  // namespace torii
