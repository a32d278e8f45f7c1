// The Anthropic Messages inbound codec (api/anthropic_messages.h) and the count_tokens
// estimate: request checks, the decode into the canonical model (fixtures shaped after
// Anthropic's public Messages API reference: the get_weather tool example, thinking blocks,
// images and documents), the whole-answer encoder, the SSE stream encoder (event order, block
// indices, usage, errors, passthrough) and streamed-vs-whole equality.
#include "api/anthropic_messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "gateway/count_tokens.h"
#include "upstream/sse_parser.h"

namespace torii {
namespace {
namespace json = boost::json;

const InboundCodec& codec() { return anthropic_messages_codec(); }

Result<InboundInfo> parse(const std::string& body, json::object& raw) {
  return codec().parse(body, raw);
}

ApiError parse_error(const std::string& body) {
  json::object raw;
  auto r = parse(body, raw);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? ApiError{} : r.error();
}

Result<ChatRequest> canonical(const std::string& body) {
  json::object raw;
  auto info = parse(body, raw);
  if (!info) return info.error();
  ChatRequest req;
  if (auto r = codec().to_canonical(raw, req); !r) return r.error();
  return req;
}

std::string with_messages(const std::string& messages, const std::string& extra = "") {
  std::string s = R"({"model":"claude-sonnet-4-5","max_tokens":1024,"messages":)" + messages;
  if (!extra.empty()) s += "," + extra;
  return s + "}";
}

// The tool round trip of Anthropic's tool-use guide, with a thinking block and cache_control.
const char* kToolRoundTrip = R"({
  "model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": true,
  "system": [{"type": "text", "text": "You are a weather bot.",
              "cache_control": {"type": "ephemeral"}}],
  "tools": [{"name": "get_weather",
             "description": "Get the current weather in a given location",
             "input_schema": {"type": "object",
                              "properties": {"location": {"type": "string"}},
                              "required": ["location"]}}],
  "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
  "thinking": {"type": "enabled", "budget_tokens": 1024},
  "metadata": {"user_id": "user-42"},
  "stop_sequences": ["\n\nHuman:"], "temperature": 0.5, "top_p": 0.9, "top_k": 40,
  "service_tier": "auto",
  "messages": [
    {"role": "user", "content": "What's the weather like in San Francisco?"},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "I should call get_weather.", "signature": "EqQBCgIYAhIM"},
      {"type": "text", "text": "Let me check."},
      {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
       "input": {"location": "San Francisco, CA", "unit": "celsius"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
       "content": "15 degrees"},
      {"type": "text", "text": "And tomorrow?"}]}
  ]})";

TEST(AnthropicParse, MinimalRequest) {
  json::object raw;
  auto r = parse(with_messages(R"([{"role":"user","content":"Hello, Claude"}])"), raw);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "claude-sonnet-4-5");
  EXPECT_FALSE(r->stream);
  EXPECT_TRUE(r->include_usage);  // Anthropic streams always carry usage
  EXPECT_EQ(raw.at("max_tokens").as_int64(), 1024);
  EXPECT_EQ(codec().format(), WireFormat::anthropic_messages);
}

TEST(AnthropicParse, Stream) {
  json::object raw;
  auto r = parse(with_messages(R"([{"role":"user","content":"x"}])", R"("stream":true)"), raw);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->stream);
}

TEST(AnthropicParse, ErrorsName400Fields) {
  struct Case {
    std::string body, param;
  } cases[] = {
      {R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"","max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":5})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[]})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":"hi"})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]})",
       "messages[0].role"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":7}]})",
       "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]})",
       "messages[0].content[0].type"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("stream":"yes")"), "stream"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("system":5)"), "system"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("temperature":"hot")"), "temperature"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("top_k":0.5)"), "top_k"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("stop_sequences":[1])"),
       "stop_sequences"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("tools":{})"), "tools"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("tool_choice":"any")"), "tool_choice"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("thinking":{})"), "thinking.type"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("metadata":{"user_id":1})"),
       "metadata.user_id"},
  };
  for (const auto& c : cases) {
    ApiError e = parse_error(c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
  }
  for (std::string bad : {"", "{", "[1]", "null", R"({"model":"m",})"}) {
    ApiError e = parse_error(bad);
    EXPECT_EQ(e.status, 400) << bad;
  }
}

TEST(AnthropicParse, CountTokensBodyNeedsNoMaxTokens) {
  json::object raw;
  auto r = parse_anthropic_request(
      R"({"model":"m","messages":[{"role":"user","content":"x"}]})", raw, false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Still checked when present.
  auto bad = parse_anthropic_request(
      R"({"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"x"}]})", raw, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "max_tokens");
}

TEST(AnthropicToCanonical, ToolRoundTripGolden) {
  auto r = canonical(kToolRoundTrip);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ChatRequest& q = *r;
  EXPECT_EQ(q.model, "claude-sonnet-4-5");
  EXPECT_TRUE(q.stream);
  EXPECT_EQ(q.max_tokens, 2048);
  ASSERT_EQ(q.messages.size(), 5u);

  EXPECT_EQ(q.messages[0].role, Role::system);
  ASSERT_EQ(q.messages[0].parts.size(), 1u);
  EXPECT_EQ(q.messages[0].parts[0].text, "You are a weather bot.");
  EXPECT_TRUE(q.messages[0].parts[0].cache_hint);

  EXPECT_EQ(q.messages[1].role, Role::user);
  EXPECT_EQ(q.messages[1].parts[0].text, "What's the weather like in San Francisco?");
  EXPECT_FALSE(q.messages[1].parts[0].cache_hint);

  const Message& a = q.messages[2];
  EXPECT_EQ(a.role, Role::assistant);
  ASSERT_EQ(a.parts.size(), 3u);
  EXPECT_EQ(a.parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(a.parts[0].text, "I should call get_weather.");
  EXPECT_EQ(a.parts[0].signature, "EqQBCgIYAhIM");
  EXPECT_EQ(a.parts[1].kind, Part::Kind::text);
  EXPECT_EQ(a.parts[2].kind, Part::Kind::tool_call);
  EXPECT_EQ(a.parts[2].id, "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(a.parts[2].name, "get_weather");
  EXPECT_EQ(json::parse(a.parts[2].arguments),
            json::parse(R"({"location":"San Francisco, CA","unit":"celsius"})"));

  // The user message mixing tool_result and text: a tool message, then a user message.
  const Message& t = q.messages[3];
  EXPECT_EQ(t.role, Role::tool);
  ASSERT_EQ(t.parts.size(), 1u);
  EXPECT_EQ(t.parts[0].kind, Part::Kind::tool_result);
  EXPECT_EQ(t.parts[0].id, "toolu_01A09q90qw90lq917835lq9");
  EXPECT_FALSE(t.parts[0].is_error);
  ASSERT_EQ(t.parts[0].content.size(), 1u);
  EXPECT_EQ(t.parts[0].content[0].text, "15 degrees");
  EXPECT_EQ(q.messages[4].role, Role::user);
  EXPECT_EQ(q.messages[4].parts[0].text, "And tomorrow?");

  ASSERT_EQ(q.tools.size(), 1u);
  EXPECT_EQ(q.tools[0].name, "get_weather");
  EXPECT_EQ(q.tools[0].description, "Get the current weather in a given location");
  EXPECT_EQ(q.tools[0].parameters.at("required").as_array().size(), 1u);
  EXPECT_EQ(q.tool_choice.mode, ToolChoice::Mode::required);
  EXPECT_EQ(q.parallel_tool_calls, false);
  EXPECT_EQ(q.thinking_budget, 1024);
  EXPECT_EQ(q.user, "user-42");
  ASSERT_EQ(q.stop.size(), 1u);
  EXPECT_EQ(q.stop[0], "\n\nHuman:");
  EXPECT_EQ(q.temperature, 0.5);
  EXPECT_EQ(q.top_p, 0.9);
  EXPECT_EQ(q.top_k, 40);
  EXPECT_EQ(q.unknown_fields, std::vector<std::string>{"service_tier"});
}

TEST(AnthropicToCanonical, OnlyToolResultsMakeOnlyAToolMessage) {
  auto r = canonical(with_messages(R"([
    {"role":"user","content":"q"},
    {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}},
                                   {"type":"tool_use","id":"b","name":"f"}]},
    {"role":"user","content":[
      {"type":"tool_result","tool_use_id":"a","is_error":true,
       "content":[{"type":"text","text":"boom"},
                  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]},
      {"type":"tool_result","tool_use_id":"b"}]}])"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[1].parts[1].arguments, "{}");
  const Message& t = r->messages[2];
  EXPECT_EQ(t.role, Role::tool);
  ASSERT_EQ(t.parts.size(), 2u);
  EXPECT_TRUE(t.parts[0].is_error);
  ASSERT_EQ(t.parts[0].content.size(), 2u);
  EXPECT_EQ(t.parts[0].content[1].kind, Part::Kind::image);
  EXPECT_EQ(t.parts[0].content[1].media_type, "image/png");
  EXPECT_EQ(t.parts[1].id, "b");
  EXPECT_TRUE(t.parts[1].content.empty());
}

TEST(AnthropicToCanonical, ImagesDocumentsAndRedactedThinking) {
  auto r = canonical(with_messages(R"([
    {"role":"user","content":[
      {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},
      {"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}},
      {"type":"document","title":"Spec","cache_control":{"type":"ephemeral"},
       "source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}},
      {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain doc"}},
      {"type":"text","text":"Describe."}]},
    {"role":"assistant","content":[{"type":"redacted_thinking","data":"EmwKAhgB"},
                                   {"type":"text","text":"ok"}]}])",
                                   R"("system":"Be brief.","thinking":{"type":"disabled"})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[0].role, Role::system);
  EXPECT_EQ(r->messages[0].parts[0].text, "Be brief.");
  const auto& p = r->messages[1].parts;
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].kind, Part::Kind::image);
  EXPECT_EQ(p[0].data, "/9j/4AAQ");
  EXPECT_EQ(p[1].url, "https://example.com/cat.png");
  EXPECT_EQ(p[2].kind, Part::Kind::document);
  EXPECT_EQ(p[2].media_type, "application/pdf");
  EXPECT_EQ(p[2].text, "Spec");
  EXPECT_TRUE(p[2].cache_hint);
  EXPECT_EQ(p[3].kind, Part::Kind::text);
  EXPECT_EQ(p[3].text, "plain doc");
  EXPECT_EQ(r->messages[2].parts[0].kind, Part::Kind::redacted_thinking);
  EXPECT_EQ(r->messages[2].parts[0].data, "EmwKAhgB");
  EXPECT_EQ(r->thinking_budget, 0);
}

TEST(AnthropicToCanonical, ChoicesEffortAndFormat) {
  auto r = canonical(with_messages(R"([{"role":"user","content":"x"}])",
      R"("tool_choice":{"type":"tool","name":"get_weather"},"thinking":{"type":"adaptive"},)"
      R"("output_config":{"effort":"max","format":{"type":"json_schema","schema":{"type":"object"}}},)"
      R"("mock":{"chunks":2})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tool_choice.mode, ToolChoice::Mode::tool);
  EXPECT_EQ(r->tool_choice.name, "get_weather");
  EXPECT_FALSE(r->parallel_tool_calls.has_value());
  EXPECT_FALSE(r->thinking_budget.has_value());
  EXPECT_EQ(r->reasoning_effort, "high");
  EXPECT_EQ(r->response_format.kind, ResponseFormat::Kind::json_schema);
  EXPECT_TRUE(r->response_format.schema.is_object());
  EXPECT_EQ(r->unknown_fields, std::vector<std::string>{"mock"});

  auto none = canonical(with_messages(R"([{"role":"user","content":"x"}])",
                                      R"("tool_choice":{"type":"none"})"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->tool_choice.mode, ToolChoice::Mode::none);
}

TEST(AnthropicToCanonical, NoCounterpartAndBadBlocksAre400s) {
  struct Case {
    std::string body, param;
  } cases[] = {
      {with_messages(R"([{"role":"user","content":"x"}])",
                     R"("tools":[{"type":"web_search_20250305","name":"web_search"}])"),
       "tools[0]"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("tools":[{"name":"f"}])"),
       "tools[0].input_schema"},
      {with_messages(R"([{"role":"assistant","content":[{"type":"server_tool_use","id":"s"}]}])"),
       "messages[0].content[0]"},
      {with_messages(R"([{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}])"),
       "messages[0].content[0].source"},
      {with_messages(R"([{"role":"user","content":[{"type":"image","source":{"type":"base64"}}]}])"),
       "messages[0].content[0].source.media_type"},
      {with_messages(R"([{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"a"}]}])"),
       "messages[0].content[0].type"},
      {with_messages(R"([{"role":"user","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]}])"),
       "messages[0].content[0].type"},
      {with_messages(R"([{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":[1]}]}])"),
       "messages[0].content[0].input"},
      {with_messages(R"([{"role":"user","content":[{"type":"text"}]}])"), "messages[0].content[0].text"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("tool_choice":{"type":"sometimes"})"),
       "tool_choice.type"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("thinking":{"type":"enabled"})"),
       "thinking.budget_tokens"},
      {with_messages(R"([{"role":"user","content":"x"}])", R"("system":[{"type":"image"}])"),
       "system[0]"},
  };
  for (const auto& c : cases) {
    auto r = canonical(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, c.param) << c.body << " -> " << r.error().message;
  }
}

ChatResult sample_result() {
  ChatResult r;
  r.id = "chatcmpl-abc";
  r.model = "gpt-4o-mini";
  Part th;
  th.kind = Part::Kind::thinking;
  th.text = "Think \"hard\"";
  th.signature = "sig==";
  r.parts.push_back(th);
  r.parts.push_back(Part::make_text("Line1\nLine2"));
  Part tc;
  tc.kind = Part::Kind::tool_call;
  tc.id = "call_1";
  tc.name = "get_weather";
  tc.arguments = R"({"location":"Paris"})";
  r.parts.push_back(tc);
  r.finish = FinishReason::tool_calls;
  r.native_finish = "tool_calls";
  r.usage.prompt_tokens = 100;
  r.usage.cached_tokens = 30;
  r.usage.cache_write_tokens = 20;
  r.usage.completion_tokens = 50;
  r.usage.reasoning_tokens = 10;
  return r;
}

TEST(AnthropicEncode, WholeAnswerGolden) {
  json::value v = json::parse(codec().encode_result(sample_result()));
  json::value want = json::parse(R"({
    "id": "msg_chatcmpl-abc", "type": "message", "role": "assistant", "model": "gpt-4o-mini",
    "content": [
      {"type": "thinking", "thinking": "Think \"hard\"", "signature": "sig=="},
      {"type": "text", "text": "Line1\nLine2"},
      {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}}],
    "stop_reason": "tool_use", "stop_sequence": null,
    "usage": {"input_tokens": 50, "output_tokens": 50, "cache_read_input_tokens": 30,
              "cache_creation_input_tokens": 20,
              "output_tokens_details": {"thinking_tokens": 10}}})");
  EXPECT_EQ(v, want) << v;
}

TEST(AnthropicEncode, StopReasonsIdsAndEdgeCases) {
  ChatResult r;
  r.id = "msg_01XFDUDYJgAACzvnptvVoYEL";
  r.parts.push_back(Part::make_text("Hi"));
  r.finish = FinishReason::stop;
  r.stop_sequence = "END";
  json::value v = json::parse(encode_anthropic_message(r));
  EXPECT_EQ(v.at("id"), "msg_01XFDUDYJgAACzvnptvVoYEL");  // kept, not prefixed twice
  EXPECT_EQ(v.at("stop_reason"), "stop_sequence");
  EXPECT_EQ(v.at("stop_sequence"), "END");
  // Unknown usage: zeros (Anthropic's usage fields are numbers), no details.
  EXPECT_EQ(v.at("usage").at("input_tokens"), 0);
  EXPECT_FALSE(v.at("usage").as_object().contains("output_tokens_details"));

  r.stop_sequence.clear();
  r.finish = FinishReason::length;
  EXPECT_EQ(json::parse(encode_anthropic_message(r)).at("stop_reason"), "max_tokens");
  r.finish = FinishReason::content_filter;
  EXPECT_EQ(json::parse(encode_anthropic_message(r)).at("stop_reason"), "refusal");
  r.finish = FinishReason::stop;
  EXPECT_EQ(json::parse(encode_anthropic_message(r)).at("stop_reason"), "end_turn");
  r.native_finish = "pause_turn";  // an Anthropic reason is kept
  EXPECT_EQ(json::parse(encode_anthropic_message(r)).at("stop_reason"), "pause_turn");

  ChatResult bad;
  Part tc;
  tc.kind = Part::Kind::tool_call;
  tc.id = "c";
  tc.name = "f";
  tc.arguments = "{\"a\":";  // truncated by the provider
  bad.parts.push_back(tc);
  bad.refusal = "I can't help with that.";
  bad.finish = FinishReason::content_filter;
  json::value b = json::parse(encode_anthropic_message(bad));
  EXPECT_TRUE(b.at("id").as_string().starts_with("msg_"));
  EXPECT_EQ(b.at("content").at(0).at("input"), json::object());
  EXPECT_EQ(b.at("content").at(1).at("text"), "I can't help with that.");
}

TEST(AnthropicEncode, ErrorBodies) {
  struct Case {
    ApiError e;
    const char* type;
  } cases[] = {
      {ApiError::invalid_request("bad", "max_tokens"), "invalid_request_error"},
      {ApiError::authentication("no key"), "authentication_error"},
      {ApiError::permission("no"), "permission_error"},
      {ApiError::not_found("no model", "model_not_found"), "not_found_error"},
      {ApiError::too_large("big"), "request_too_large"},
      {ApiError::rate_limited("slow down", "7"), "rate_limit_error"},
      {ApiError::internal("oops"), "api_error"},
      {ApiError::bad_gateway("upstream"), "api_error"},
      {ApiError::unavailable("busy"), "overloaded_error"},
      {ApiError{529, "overloaded_error", "", "Overloaded"}, "overloaded_error"},
  };
  for (const auto& c : cases) {
    json::value v = json::parse(codec().error_body(c.e));
    EXPECT_EQ(v.at("type"), "error");
    EXPECT_EQ(v.at("error").at("type"), c.type) << c.e.status;
    EXPECT_EQ(v.at("error").at("message").as_string(), c.e.message);
  }
}

// One SSE event of the encoder's output.
struct Ev {
  std::string name;
  json::value data;
};

std::vector<Ev> sse(std::string_view bytes) {
  std::vector<Ev> out;
  SseParser parser;
  // Fed one byte at a time: the framing must hold wherever a network write splits it.
  for (char c : bytes) {
    parser.feed(std::string_view(&c, 1), [&](SseEvent& e) {
      out.push_back({e.event, json::parse(e.data)});
      return true;
    });
  }
  return out;
}

std::vector<std::string> names(const std::vector<Ev>& evs) {
  std::vector<std::string> n;
  for (const auto& e : evs) n.push_back(e.name);
  return n;
}

StreamEvent ev(StreamEvent::Kind k, std::string_view text = {}, int index = 0) {
  StreamEvent e;
  e.kind = k;
  e.text = text;
  e.index = index;
  return e;
}

// Feeds the canonical events of sample_result(), tool args split in fragments.
void feed_sample(StreamEncoder& enc) {
  using K = StreamEvent::Kind;
  StreamEvent start = ev(K::start);
  start.id = "chatcmpl-abc";
  start.name = "gpt-4o-mini";
  enc.event(start);
  enc.event(ev(K::thinking, "Think "));
  enc.event(ev(K::thinking, "\"hard\""));
  enc.event(ev(K::thinking_signature, "sig=="));
  enc.event(ev(K::text, ""));  // OpenAI's empty first delta opens nothing
  enc.event(ev(K::text, "Line1\n"));
  enc.event(ev(K::text, "Line2"));
  StreamEvent tc = ev(K::tool_call_start);
  tc.id = "call_1";
  tc.name = "get_weather";
  enc.event(tc);
  for (std::string_view frag : {"{\"loca", "tion\":\"Pa", "ris\"}"})
    enc.event(ev(K::tool_call_args, frag, 0));
  StreamEvent fin = ev(K::finish, "tool_calls");
  fin.finish = FinishReason::tool_calls;
  enc.event(fin);
  StreamEvent u = ev(K::usage);
  u.usage = sample_result().usage;
  enc.event(u);
}

TEST(AnthropicStream, EventOrderIndicesAndUsage) {
  InboundInfo info{"claude-alias", true, true};
  auto enc = codec().stream_encoder(info);
  feed_sample(*enc);
  enc->finish();
  auto evs = sse(enc->out);
  std::vector<std::string> want = {
      "message_start",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
      "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
      "content_block_stop",
      "message_delta", "message_stop"};
  ASSERT_EQ(names(evs), want) << enc->out;
  for (const auto& e : evs) EXPECT_EQ(std::string(e.data.at("type").as_string()), e.name);  // data.type == event name

  const auto& msg = evs[0].data.at("message");
  EXPECT_EQ(msg.at("id"), "msg_chatcmpl-abc");
  EXPECT_EQ(msg.at("model"), "gpt-4o-mini");
  EXPECT_EQ(msg.at("content"), json::array());
  EXPECT_EQ(msg.at("usage").at("input_tokens"), 0);

  EXPECT_EQ(evs[1].data.at("index"), 0);
  EXPECT_EQ(evs[1].data.at("content_block").at("type"), "thinking");
  EXPECT_EQ(evs[2].data.at("delta").at("type"), "thinking_delta");
  EXPECT_EQ(evs[4].data.at("delta"), json::parse(R"({"type":"signature_delta","signature":"sig=="})"));
  EXPECT_EQ(evs[6].data.at("index"), 1);
  EXPECT_EQ(evs[6].data.at("content_block"), json::parse(R"({"type":"text","text":""})"));
  EXPECT_EQ(evs[7].data.at("delta").at("text"), "Line1\n");
  EXPECT_EQ(evs[10].data.at("index"), 2);
  EXPECT_EQ(evs[10].data.at("content_block"),
            json::parse(R"({"type":"tool_use","id":"call_1","name":"get_weather","input":{}})"));
  EXPECT_EQ(evs[11].data.at("delta").at("type"), "input_json_delta");
  EXPECT_EQ(evs[14].data.at("index"), 2);

  const auto& md = evs[15].data;
  EXPECT_EQ(md.at("delta").at("stop_reason"), "tool_use");
  EXPECT_TRUE(md.at("delta").at("stop_sequence").is_null());
  EXPECT_EQ(md.at("usage"), json::parse(R"({"input_tokens":50,"output_tokens":50,
      "cache_read_input_tokens":30,"cache_creation_input_tokens":20,
      "output_tokens_details":{"thinking_tokens":10}})"));

  // finish() twice, or fail() after the end, adds nothing.
  std::size_t len = enc->out.size();
  enc->finish();
  enc->fail(ApiError::bad_gateway("late"));
  EXPECT_EQ(enc->out.size(), len);
}

// Accumulates an Anthropic SSE stream into the final message, as the official SDKs do.
json::object accumulate(const std::vector<Ev>& evs) {
  json::object msg;
  std::vector<std::string> partial_json;
  for (const auto& e : evs) {
    const auto& d = e.data.as_object();
    if (e.name == "message_start") {
      msg = d.at("message").as_object();
    } else if (e.name == "content_block_start") {
      auto& content = msg["content"].as_array();
      EXPECT_EQ(d.at("index").as_int64(), static_cast<int64_t>(content.size()));
      content.push_back(d.at("content_block"));
      partial_json.emplace_back();
    } else if (e.name == "content_block_delta") {
      auto i = static_cast<std::size_t>(d.at("index").as_int64());
      auto& block = msg["content"].as_array().at(i).as_object();
      const auto& delta = d.at("delta").as_object();
      std::string_view t = delta.at("type").as_string();
      auto append = [&](const char* key, const char* from) {
        std::string s(block[key].is_string() ? block[key].as_string().c_str() : "");
        s += delta.at(from).as_string().c_str();
        block[key] = s;
      };
      if (t == "text_delta") append("text", "text");
      else if (t == "thinking_delta") append("thinking", "thinking");
      else if (t == "signature_delta") append("signature", "signature");
      else if (t == "input_json_delta") partial_json[i] += delta.at("partial_json").as_string().c_str();
    } else if (e.name == "message_stop") {
      // Tool inputs accumulate by block index (as the official SDKs do), parsed at the end.
      auto& content = msg["content"].as_array();
      for (std::size_t i = 0; i < content.size(); ++i)
        if (content[i].at("type") == "tool_use" && !partial_json[i].empty())
          content[i].as_object()["input"] = json::parse(partial_json[i]);
    } else if (e.name == "message_delta") {
      msg["stop_reason"] = d.at("delta").at("stop_reason");
      msg["stop_sequence"] = d.at("delta").at("stop_sequence");
      msg["usage"] = d.at("usage");
    }
  }
  return msg;
}

TEST(AnthropicStream, StreamedEqualsWhole) {
  auto enc = codec().stream_encoder(InboundInfo{"m", true, true});
  feed_sample(*enc);
  enc->finish();
  json::object streamed = accumulate(sse(enc->out));
  json::value whole = json::parse(encode_anthropic_message(sample_result()));
  EXPECT_EQ(json::value(streamed), whole) << streamed;
}

TEST(AnthropicStream, NoStartNoUsageStillAValidStream) {
  auto enc = codec().stream_encoder(InboundInfo{"claude-alias", true, true});
  enc->event(ev(StreamEvent::Kind::text, "hello"));
  StreamEvent fin = ev(StreamEvent::Kind::finish, "stop");
  fin.finish = FinishReason::stop;
  fin.id = "STOP";
  enc->event(fin);
  enc->finish();
  auto evs = sse(enc->out);
  ASSERT_EQ(names(evs), (std::vector<std::string>{"message_start", "content_block_start",
                                                  "content_block_delta", "content_block_stop",
                                                  "message_delta", "message_stop"}));
  EXPECT_EQ(evs[0].data.at("message").at("model"), "claude-alias");
  EXPECT_TRUE(evs[0].data.at("message").at("id").as_string().starts_with("msg_"));
  EXPECT_EQ(evs[4].data.at("delta").at("stop_reason"), "stop_sequence");
  EXPECT_EQ(evs[4].data.at("delta").at("stop_sequence"), "STOP");
  EXPECT_EQ(evs[4].data.at("usage").at("output_tokens"), 0);
}

TEST(AnthropicStream, ParallelToolsRedactedThinkingAndLateArgs) {
  using K = StreamEvent::Kind;
  auto enc = codec().stream_encoder(InboundInfo{"m", true, true});
  enc->event(ev(K::redacted_thinking, "EmwKAhgB"));
  for (int i = 0; i < 2; ++i) {
    StreamEvent s = ev(K::tool_call_start, {}, i);
    s.id = i == 0 ? "a" : "b";
    s.name = "f";
    enc->event(s);
    enc->event(ev(K::tool_call_args, i == 0 ? "{\"x\":" : "{\"y\":2}", i));
  }
  enc->event(ev(K::tool_call_args, "1}", 0));  // tool 0's tail after tool 1 started
  enc->finish();
  auto evs = sse(enc->out);
  json::object msg = accumulate(evs);
  const auto& content = msg.at("content").as_array();
  ASSERT_EQ(content.size(), 3u);
  EXPECT_EQ(content[0], json::parse(R"({"type":"redacted_thinking","data":"EmwKAhgB"})"));
  EXPECT_EQ(content[1].at("id"), "a");
  EXPECT_EQ(content[1].at("input"), json::parse(R"({"x":1})"));
  EXPECT_EQ(content[2].at("input"), json::parse(R"({"y":2})"));
  EXPECT_EQ(msg.at("stop_reason"), "end_turn");
}

TEST(AnthropicStream, FailSendsAnErrorEventAndNoStop) {
  auto enc = codec().stream_encoder(InboundInfo{"m", true, true});
  enc->event(ev(StreamEvent::Kind::text, "partial"));
  enc->fail(ApiError::unavailable("upstream overloaded"));
  auto evs = sse(enc->out);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().name, "error");
  EXPECT_EQ(evs.back().data, json::parse(R"({"type":"error","error":{"type":"overloaded_error",
                                             "message":"upstream overloaded"}})"));
  for (const auto& e : evs) EXPECT_NE(e.name, "message_stop");
  std::size_t len = enc->out.size();
  enc->finish();  // no clean end after a failure
  EXPECT_EQ(enc->out.size(), len);
}

TEST(AnthropicStream, PassthroughReframesUnchanged) {
  auto enc = codec().stream_encoder(InboundInfo{"m", true, true});
  std::string start = R"({"type":"message_start","message":{"id":"msg_1","type":"message"}})";
  enc->raw("message_start", start, false);
  enc->raw("ping", R"({"type": "ping"})", false);
  EXPECT_EQ(enc->out, "event: message_start\ndata: " + start +
                          "\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n");
  enc->raw("message_stop", R"({"type":"message_stop"})", false);
  std::size_t len = enc->out.size();
  enc->finish();  // the upstream's message_stop already ended it
  EXPECT_EQ(enc->out.size(), len);

  auto cut = codec().stream_encoder(InboundInfo{"m", true, true});
  cut->raw("message_start", start, false);
  cut->finish();  // a clean end without message_stop gets one
  EXPECT_EQ(names(sse(cut->out)), (std::vector<std::string>{"message_start", "message_stop"}));
}

TEST(CountTokensEstimate, TextImagesToolsAndMinimum) {
  auto est = [](const std::string& body) {
    json::object raw;
    auto r = parse_anthropic_request(body, raw, false);
    EXPECT_TRUE(r.ok()) << body;
    return estimate_input_tokens(raw);
  };
  // 40 bytes of text, one message.
  std::string forty(40, 'a');
  EXPECT_EQ(est(R"({"model":"m","messages":[{"role":"user","content":")" + forty + R"("}]})"),
            10 + kMessageOverhead);
  // System text counts; 1 byte rounds up to one token.
  EXPECT_EQ(est(R"({"model":"m","system":"s","messages":[{"role":"user","content":""}]})"),
            1 + kMessageOverhead);
  // An image and a PDF are fixed costs.
  EXPECT_EQ(est(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},
      {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"AAAA"}}]}]})"),
            kImageTokens + kDocumentTokens + kMessageOverhead);
  // Tools add their name, description and schema.
  std::string tools = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[
      {"name":"get_weather","description":"Get the weather","input_schema":{"type":"object"}}]})";
  int64_t with_tools = est(tools);
  EXPECT_GT(with_tools, est(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})") + 5);
  // More text, more tokens.
  std::string longer(4000, 'b');
  EXPECT_EQ(est(R"({"model":"m","messages":[{"role":"user","content":")" + longer + R"("}]})"),
            1000 + kMessageOverhead);
}

}  // namespace
}  // namespace torii
