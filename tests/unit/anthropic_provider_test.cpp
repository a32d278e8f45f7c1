// The Anthropic provider: golden encode/decode against shapes from Anthropic's public Messages
// API reference, streaming split at every byte, streamed vs whole tool calls, usage arithmetic,
// errors, rate-limit headers and passthrough.
#include <gtest/gtest.h>

#include <random>

#include <boost/json.hpp>

#include "json_test_bodies.h"

#include "providers/anthropic.h"
#include "providers/registry.h"

namespace torii {
namespace {
namespace json = boost::json;

json::value parse(std::string_view s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  return v;
}

Part text(std::string t, bool cache = false) {
  Part p = Part::make_text(std::move(t));
  p.cache_hint = cache;
  return p;
}

Message msg(Role r, std::vector<Part> parts) {
  Message m;
  m.role = r;
  m.parts = std::move(parts);
  return m;
}

Part tool_call(std::string id, std::string name, std::string args) {
  Part p;
  p.kind = Part::Kind::tool_call;
  p.id = std::move(id);
  p.name = std::move(name);
  p.arguments = std::move(args);
  return p;
}

Part tool_result(std::string id, std::string content, bool error = false) {
  Part p;
  p.kind = Part::Kind::tool_result;
  p.id = std::move(id);
  p.content.push_back(Part::make_text(std::move(content)));
  p.is_error = error;
  return p;
}

Result<std::string> encode(const ChatRequest& r, std::vector<std::string>& ignored,
                           bool stream = false) {
  return encode_anthropic_request(r, "claude-sonnet-4-5", stream, "claude", ignored);
}

// --- encode ---------------------------------------------------------------------------------

TEST(AnthropicEncode, GoldenConversationWithToolsImagesAndThinking) {
  ChatRequest r;
  r.messages.push_back(msg(Role::system, {text("You are terse.")}));
  r.messages.push_back(msg(Role::system, {text("Cache me.", true)}));
  Part img;
  img.kind = Part::Kind::image;
  img.media_type = "image/png";
  img.data = "iVBORw0KGgo=";
  Part url;
  url.kind = Part::Kind::image;
  url.url = "https://example.com/a.jpg";
  r.messages.push_back(msg(Role::user, {text("What's the weather in \"SF\"?"), img, url}));
  Part thinking;
  thinking.kind = Part::Kind::thinking;
  thinking.text = "Need the tool.";
  thinking.signature = "EqQBCgIYAhIM";
  r.messages.push_back(msg(Role::assistant,
                           {thinking, text(""),
                            tool_call("toolu_01A", "get_weather", R"({"location": "SF"})"),
                            tool_call("toolu_01B", "get_time", "")}));
  r.messages.push_back(msg(Role::tool, {tool_result("toolu_01A", "15 degrees")}));
  r.messages.push_back(msg(Role::tool, {tool_result("toolu_01B", "no clock", true)}));
  r.messages.push_back(msg(Role::user, {text("Thanks")}));
  Tool t;
  t.name = "get_weather";
  t.description = "Get the current weather";
  t.parameters = parse(R"({"type":"object","properties":{"location":{"type":"string"}}})");
  t.strict = true;
  r.tools.push_back(t);
  Tool t2;
  t2.name = "get_time";
  r.tools.push_back(t2);
  r.tool_choice.mode = ToolChoice::Mode::required;
  r.parallel_tool_calls = false;
  r.stop = {"\n\nHuman:"};
  r.temperature = 0.5;
  r.top_p = 0.9;
  r.top_k = 40;
  r.user = "user-42";
  r.seed = 7;
  r.unknown_fields = {"service_tier"};

  std::vector<std::string> ignored;
  auto body = encode(r, ignored, true);
  ASSERT_TRUE(body.ok()) << body.error().message;
  json::value expected = parse(R"({
    "model":"claude-sonnet-4-5","max_tokens":4096,
    "system":[{"type":"text","text":"You are terse."},
              {"type":"text","text":"Cache me.","cache_control":{"type":"ephemeral"}}],
    "messages":[
      {"role":"user","content":[
        {"type":"text","text":"What's the weather in \"SF\"?"},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
        {"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]},
      {"role":"assistant","content":[
        {"type":"thinking","thinking":"Need the tool.","signature":"EqQBCgIYAhIM"},
        {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"location":"SF"}},
        {"type":"tool_use","id":"toolu_01B","name":"get_time","input":{}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_01A","content":"15 degrees"},
        {"type":"tool_result","tool_use_id":"toolu_01B","content":"no clock","is_error":true},
        {"type":"text","text":"Thanks"}]}],
    "tools":[{"name":"get_weather","description":"Get the current weather",
              "input_schema":{"type":"object","properties":{"location":{"type":"string"}}},
              "strict":true},
             {"name":"get_time","input_schema":{"type":"object","properties":{}}}],
    "tool_choice":{"type":"any","disable_parallel_tool_use":true},
    "stop_sequences":["\n\nHuman:"],
    "temperature":0.5,"top_p":0.9,"top_k":40,
    "metadata":{"user_id":"user-42"},
    "stream":true})");
  EXPECT_EQ(parse(*body), expected) << *body;
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "seed"), ignored.end());
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "service_tier"), ignored.end());
}

TEST(AnthropicEncode, ToolChoiceModes) {
  ChatRequest r;
  r.messages.push_back(msg(Role::user, {text("hi")}));
  Tool t;
  t.name = "f";
  r.tools.push_back(t);
  std::vector<std::string> ignored;
  auto choice = [&](ToolChoice::Mode m) {
    r.tool_choice.mode = m;
    r.tool_choice.name = "f";
    auto b = encode(r, ignored);
    EXPECT_TRUE(b.ok());
    const json::value doc = parse(*b);
    const json::value* c = doc.as_object().if_contains("tool_choice");
    return c ? json::serialize(*c) : std::string("absent");
  };
  EXPECT_EQ(choice(ToolChoice::Mode::unset), "absent");
  EXPECT_EQ(choice(ToolChoice::Mode::auto_), R"({"type":"auto"})");
  EXPECT_EQ(choice(ToolChoice::Mode::none), R"({"type":"none"})");
  EXPECT_EQ(choice(ToolChoice::Mode::tool), R"({"type":"tool","name":"f"})");
  r.parallel_tool_calls = false;
  EXPECT_EQ(choice(ToolChoice::Mode::unset), R"({"type":"auto","disable_parallel_tool_use":true})");
}

TEST(AnthropicEncode, MeaningChangingFieldsAre400sNamingTheField) {
  ChatRequest base;
  base.messages.push_back(msg(Role::user, {text("hi")}));
  std::vector<std::string> ignored;
  ChatRequest r = base;
  r.n = 2;
  auto b = encode(r, ignored);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().status, 400);
  EXPECT_EQ(b.error().param, "n");
  EXPECT_NE(b.error().message.find("provider 'claude' (anthropic)"), std::string::npos);
  r = base;
  r.logprobs = true;
  b = encode(r, ignored);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().param, "logprobs");
  r = base;
  r.response_format.kind = ResponseFormat::Kind::json_object;
  b = encode(r, ignored);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().param, "response_format");
  r = base;
  r.messages.push_back(msg(Role::assistant, {tool_call("t1", "f", "[1,2]")}));
  b = encode(r, ignored);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().status, 400);
  r = base;
  r.reasoning_effort = "extreme";
  b = encode(r, ignored);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().param, "reasoning_effort");
}

TEST(AnthropicEncode, JsonSchemaBecomesOutputConfigFormat) {
  ChatRequest r;
  r.messages.push_back(msg(Role::user, {text("hi")}));
  r.response_format.kind = ResponseFormat::Kind::json_schema;
  r.response_format.schema = parse(R"({"type":"object","properties":{"a":{"type":"string"}}})");
  std::vector<std::string> ignored;
  auto b = encode(r, ignored);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(parse(*b).as_object().at("output_config"),
            parse(R"({"format":{"type":"json_schema","schema":{"type":"object",
                      "properties":{"a":{"type":"string"}}}}})"));
}

TEST(AnthropicEncode, ThinkingBudgetsAndMaxTokens) {
  ChatRequest r;
  r.messages.push_back(msg(Role::user, {text("hi")}));
  std::vector<std::string> ignored;
  auto get = [&](const ChatRequest& req) { return parse(*encode(req, ignored)).as_object(); };

  r.reasoning_effort = "high";
  json::object o = get(r);
  EXPECT_EQ(o.at("thinking"), parse(R"({"type":"enabled","budget_tokens":16384})"));
  EXPECT_EQ(o.at("max_tokens").as_int64(), 4096 + 16384);  // the budget counts in max_tokens

  r.reasoning_effort = "medium";
  r.max_tokens = 2000;
  o = get(r);
  EXPECT_EQ(o.at("thinking").at("budget_tokens").as_int64(), 1999);
  EXPECT_EQ(o.at("max_tokens").as_int64(), 2000);

  r.max_tokens = 500;  // no room for the minimum budget: thinking stays off, reported
  o = get(r);
  EXPECT_FALSE(o.contains("thinking"));
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "reasoning_effort"), ignored.end());

  r = ChatRequest{};
  r.messages.push_back(msg(Role::user, {text("hi")}));
  r.thinking_budget = 0;
  EXPECT_EQ(get(r).at("thinking"), parse(R"({"type":"disabled"})"));
  r.thinking_budget = 3000;
  r.reasoning_effort = "low";  // the explicit budget wins
  EXPECT_EQ(get(r).at("thinking").at("budget_tokens").as_int64(), 3000);
}

TEST(AnthropicEncode, UnsignedThinkingIsDroppedAndEmptyMessagesSkipped) {
  ChatRequest r;
  r.messages.push_back(msg(Role::user, {text("hi")}));
  Part thinking;
  thinking.kind = Part::Kind::thinking;
  thinking.text = "from another provider";
  r.messages.push_back(msg(Role::assistant, {thinking}));  // nothing left: skipped
  r.messages.push_back(msg(Role::user, {text("again")}));
  std::vector<std::string> ignored;
  auto b = encode(r, ignored);
  ASSERT_TRUE(b.ok());
  // The two user turns merge: Anthropic requires alternation.
  EXPECT_EQ(parse(*b).as_object().at("messages"),
            parse(R"([{"role":"user","content":[{"type":"text","text":"hi"},
                                                {"type":"text","text":"again"}]}])"));
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "thinking"), ignored.end());
}

TEST(AnthropicEncode, ControlCharactersAreEscaped) {
  ChatRequest r;
  r.messages.push_back(msg(Role::user, {text(std::string("a\x01\tb\\\"\xc3\xa9", 8))}));
  std::vector<std::string> ignored;
  auto b = encode(r, ignored);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(parse(*b).at("messages").at(0).at("content").at(0).at("text").as_string(),
            std::string("a\x01\tb\\\"\xc3\xa9", 8));
}

TEST(AnthropicEncode, PassthroughReplacesModelOnly) {
  json::object raw = parse(R"({"model":"alias","max_tokens":10,"messages":[],
      "future_field":{"x":[1,2]},"stream":false})").as_object();
  json::value out = parse(encode_anthropic_passthrough(raw, "claude-opus-4", true));
  EXPECT_EQ(out, parse(R"({"model":"claude-opus-4","max_tokens":10,"messages":[],
      "future_field":{"x":[1,2]},"stream":true})"));
  raw.erase("stream");
  out = parse(encode_anthropic_passthrough(raw, "m", true));
  EXPECT_EQ(out.at("stream"), json::value(true));
}

// The splice path (raw_text) against the re-serialising path: same JSON, for every body.
void compare_passthrough_paths(const std::string& body) {
  json::object raw = parse(body).as_object();
  for (bool stream : {false, true}) {
    json::value tree = parse(encode_anthropic_passthrough(raw, "claude \"4\"", stream));
    std::string spliced = encode_anthropic_passthrough(raw, "claude \"4\"", stream, body);
    EXPECT_TRUE(test_bodies::same(tree, parse(spliced)))
        << "stream=" << stream << "\n body: " << body << "\n spliced: " << spliced;
  }
}

TEST(AnthropicEncode, PassthroughSpliceMatchesTheTreePath) {
  for (const std::string& body : test_bodies::tricky()) compare_passthrough_paths(body);
  compare_passthrough_paths(R"({"mo\u0064el":"a","stream":false,"max_tokens":1})");
  std::mt19937 rng(1234);
  for (int i = 0; i < 1500; ++i) compare_passthrough_paths(test_bodies::random_body(rng));
}

TEST(AnthropicEncode, PassthroughSpliceCopiesVerbatim) {
  const std::string body =
      "{\"model\":\"alias\", \"max_tokens\" : 10,\"temperature\":0.50,\n\"stream\":false,"
      "\"messages\":[ {\"role\":\"user\",\"content\":\"q\\u00e9\"} ],\"model\":\"again\"}";
  json::object raw = parse(body).as_object();
  EXPECT_EQ(encode_anthropic_passthrough(raw, "claude-opus-4", true, body),
            R"({"max_tokens":10,"temperature":0.50,"stream":true,)"
            R"("messages":[ {"role":"user","content":"q\u00e9"} ],"model":"claude-opus-4"})");
  const std::string no_stream = R"({"model":"a","messages":[]})";
  EXPECT_EQ(encode_anthropic_passthrough(parse(no_stream).as_object(), "m", true, no_stream),
            R"({"model":"m","messages":[],"stream":true})");
  EXPECT_EQ(encode_anthropic_passthrough(parse(no_stream).as_object(), "m", false, no_stream),
            R"({"model":"m","messages":[]})");
}

// --- decode ---------------------------------------------------------------------------------

// Shapes from the Messages API reference (non-streamed tool use example).
constexpr std::string_view kToolAnswer = R"({
  "id": "msg_01Aq9w938a90dw8q",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-5",
  "content": [
    {"type": "thinking", "thinking": "The user wants SF.", "signature": "EqQBCgIYAhIM"},
    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
    {"type": "text", "text": "I'll check the weather."},
    {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
     "input": {"location": "San Francisco, CA", "unit": "celsius"}}
  ],
  "stop_reason": "tool_use",
  "stop_sequence": null,
  "usage": {"input_tokens": 100, "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 2000, "output_tokens": 89}
})";

TEST(AnthropicDecode, ToolUseAnswerWithThinkingAndCacheUsage) {
  auto r = decode_anthropic_message(kToolAnswer, "claude");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "msg_01Aq9w938a90dw8q");
  EXPECT_EQ(r->model, "claude-sonnet-4-5");
  ASSERT_EQ(r->parts.size(), 4u);
  EXPECT_EQ(r->parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(r->parts[0].signature, "EqQBCgIYAhIM");
  EXPECT_EQ(r->parts[1].kind, Part::Kind::redacted_thinking);
  EXPECT_EQ(r->parts[1].data, "EmwKAhgBEgy3va");
  EXPECT_EQ(r->parts[2].text, "I'll check the weather.");
  EXPECT_EQ(r->parts[3].kind, Part::Kind::tool_call);
  EXPECT_EQ(r->parts[3].id, "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(parse(r->parts[3].arguments),
            parse(R"({"location": "San Francisco, CA", "unit": "celsius"})"));
  EXPECT_EQ(r->finish, FinishReason::tool_calls);
  EXPECT_EQ(r->native_finish, "tool_use");
  // OpenAI meaning: prompt counts cache reads and writes.
  EXPECT_EQ(r->usage.prompt_tokens, 100 + 20 + 2000);
  EXPECT_EQ(r->usage.cached_tokens, 2000);
  EXPECT_EQ(r->usage.cache_write_tokens, 20);
  EXPECT_EQ(r->usage.completion_tokens, 89);
  EXPECT_EQ(r->usage.total_tokens, 2120 + 89);
}

TEST(AnthropicDecode, StopReasons) {
  EXPECT_EQ(anthropic_finish_reason("end_turn"), FinishReason::stop);
  EXPECT_EQ(anthropic_finish_reason("stop_sequence"), FinishReason::stop);
  EXPECT_EQ(anthropic_finish_reason("pause_turn"), FinishReason::stop);
  EXPECT_EQ(anthropic_finish_reason("max_tokens"), FinishReason::length);
  EXPECT_EQ(anthropic_finish_reason("model_context_window_exceeded"), FinishReason::length);
  EXPECT_EQ(anthropic_finish_reason("tool_use"), FinishReason::tool_calls);
  EXPECT_EQ(anthropic_finish_reason("refusal"), FinishReason::content_filter);
  EXPECT_EQ(anthropic_finish_reason(""), FinishReason::unset);
  auto r = decode_anthropic_message(
      R"({"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text",
          "text":"Hi"}],"stop_reason":"stop_sequence","stop_sequence":"\n\nHuman:",
          "usage":{"input_tokens":12,"output_tokens":6}})", "claude");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::stop);
  EXPECT_EQ(r->stop_sequence, "\n\nHuman:");
  EXPECT_EQ(r->usage.prompt_tokens, 12);
  EXPECT_EQ(r->usage.cached_tokens, -1);
}

TEST(AnthropicDecode, BadAnswersAre502s) {
  for (std::string_view body : {"", "{", "[]", R"({"content":"x"})", R"({"content":[1]})",
                                R"({"type":"message","content":[{"type":"text","text":5}],)"}) {
    auto r = decode_anthropic_message(body, "claude");
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 502) << body;
  }
  auto r = decode_anthropic_message(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", "claude");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 503);
  // Wrong types inside a well-formed answer are tolerated, never a crash.
  auto w = decode_anthropic_message(
      R"({"content":[{"type":"tool_use","id":3,"input":"x"}],"usage":{"input_tokens":"a"}})",
      "claude");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->parts[0].arguments, "{}");
}

// --- streams --------------------------------------------------------------------------------

struct Collect : StreamSink {
  std::vector<std::string> log;  // one line per event
  std::vector<std::pair<std::string, std::string>> raws;
  std::string args[4];
  Usage last_usage;
  void event(const StreamEvent& e) override {
    std::string line;
    switch (e.kind) {
      case StreamEvent::Kind::start: line = "start " + std::string(e.id) + " " + std::string(e.name); break;
      case StreamEvent::Kind::text: line = "text " + std::string(e.text); break;
      case StreamEvent::Kind::thinking: line = "thinking " + std::string(e.text); break;
      case StreamEvent::Kind::thinking_signature: line = "sig " + std::string(e.text); break;
      case StreamEvent::Kind::redacted_thinking: line = "redacted " + std::string(e.text); break;
      case StreamEvent::Kind::tool_call_start:
        line = "tool " + std::to_string(e.index) + " " + std::string(e.id) + " " + std::string(e.name);
        break;
      case StreamEvent::Kind::tool_call_args:
        args[e.index] += e.text;
        line = "args " + std::to_string(e.index) + " " + std::string(e.text);
        break;
      case StreamEvent::Kind::finish:
        line = "finish " + std::string(openai_finish_reason(e.finish)) + " " + std::string(e.text);
        break;
      case StreamEvent::Kind::usage:
        last_usage = e.usage;
        line = "usage " + std::to_string(e.usage.prompt_tokens) + " " +
               std::to_string(e.usage.completion_tokens);
        break;
    }
    log.push_back(std::move(line));
  }
  void raw(std::string_view name, std::string_view data, bool usage_only) override {
    raws.emplace_back(name, data);
  }
};

// After the streaming reference's tool-use example (text, then a tool_use whose input arrives
// as input_json_delta fragments, the first one empty), with cache usage.
constexpr std::string_view kToolStream =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-haiku-4-5","stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":10,"cache_read_input_tokens":300,"output_tokens":2},"content":[],"stop_reason":null}})"
    "\n\nevent: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\nevent: ping\n"
    R"(data: {"type": "ping"})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay, let's check"}})"
    "\n\nevent: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":0})"
    "\n\nevent: content_block_start\n"
    R"(data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Francisc"}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"o, CA\", \"unit\": \"fah"}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"renheit\"}"}})"
    "\n\nevent: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":1})"
    "\n\nevent: content_block_start\n"
    R"(data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}})"
    "\n\nevent: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":2})"
    "\n\nevent: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}})"
    "\n\nevent: message_stop\n"
    R"(data: {"type":"message_stop"})"
    "\n\n";

const std::vector<std::string> kToolStreamLog = {
    "start msg_014p7gG3wDgGV9EUtLvnow3U claude-haiku-4-5",
    "text Okay, let's check",
    "tool 0 toolu_01T1x1fJ34qAmk2tNTrN7Up6 get_weather",
    "args 0 {\"location\":",
    "args 0  \"San Francisc",
    "args 0 o, CA\", \"unit\": \"fah",
    "args 0 renheit\"}",
    "tool 1 toolu_02 get_time",
    "args 1 {}",
    "finish tool_calls tool_use",
    "usage 782 89",
};

Result<void> feed_all(StreamDecoder& d, std::string_view bytes, Collect& sink, Usage& usage,
                      bool& done, std::size_t cut1, std::size_t cut2) {
  for (std::string_view piece : {bytes.substr(0, cut1), bytes.substr(cut1, cut2 - cut1),
                                 bytes.substr(cut2)}) {
    auto r = d.feed(piece, sink, usage, done);
    if (!r) return r;
  }
  return {};
}

TEST(AnthropicStream, ToolStreamGolden) {
  auto d = make_anthropic_stream_decoder(false, "claude");
  Collect sink;
  Usage usage;
  bool done = false;
  ASSERT_TRUE(d->feed(kToolStream, sink, usage, done).ok());
  EXPECT_TRUE(done);
  EXPECT_EQ(sink.log, kToolStreamLog);
  EXPECT_EQ(usage.prompt_tokens, 472 + 10 + 300);
  EXPECT_EQ(usage.cached_tokens, 300);
  EXPECT_EQ(usage.cache_write_tokens, 10);
  EXPECT_EQ(usage.completion_tokens, 89);
  EXPECT_EQ(usage.total_tokens, 782 + 89);
  EXPECT_EQ(parse(sink.args[0]), parse(R"({"location": "San Francisco, CA", "unit": "fahrenheit"})"));
}

TEST(AnthropicStream, SplitAtEveryByteGivesTheSameEvents) {
  const std::size_t n = kToolStream.size();
  for (std::size_t cut = 0; cut <= n; ++cut) {
    auto d = make_anthropic_stream_decoder(false, "claude");
    Collect sink;
    Usage usage;
    bool done = false;
    ASSERT_TRUE(feed_all(*d, kToolStream, sink, usage, done, cut, std::min(n, cut + 7)).ok());
    ASSERT_TRUE(done) << cut;
    ASSERT_EQ(sink.log, kToolStreamLog) << "cut at " << cut;
  }
}

TEST(AnthropicStream, StreamedToolArgsEqualWholeArgs) {
  // The same answer, whole: the tool input the stream assembled.
  auto whole = decode_anthropic_message(
      R"({"id":"m","type":"message","role":"assistant","model":"c","content":[
          {"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather",
           "input":{"location":"San Francisco, CA","unit":"fahrenheit"}},
          {"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}],
          "stop_reason":"tool_use","usage":{"input_tokens":472,"output_tokens":89}})",
      "claude");
  ASSERT_TRUE(whole.ok());
  auto d = make_anthropic_stream_decoder(false, "claude");
  Collect sink;
  Usage usage;
  bool done = false;
  ASSERT_TRUE(d->feed(kToolStream, sink, usage, done).ok());
  EXPECT_EQ(parse(sink.args[0]), parse(whole->parts[0].arguments));
  EXPECT_EQ(sink.args[1], whole->parts[1].arguments);  // no input: "{}" both ways
}

TEST(AnthropicStream, ThinkingDeltasAndSignature) {
  constexpr std::string_view s =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":1}}})"
      "\n\nevent: content_block_start\n"
      R"(data: {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}})"
      "\n\nevent: content_block_delta\n"
      R"(data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me solve this step by step:\n\n1. First break down 27 * 453"}})"
      "\n\nevent: content_block_delta\n"
      R"(data: {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}})"
      "\n\nevent: content_block_stop\n"
      R"(data: {"type": "content_block_stop", "index": 0})"
      "\n\nevent: content_block_start\n"
      R"(data: {"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"EmwKAhgB"}})"
      "\n\nevent: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":30}})"
      "\n\nevent: message_stop\n"
      R"(data: {"type":"message_stop"})"
      "\n\n";
  auto d = make_anthropic_stream_decoder(false, "claude");
  Collect sink;
  Usage usage;
  bool done = false;
  ASSERT_TRUE(d->feed(s, sink, usage, done).ok());
  EXPECT_EQ(sink.log, (std::vector<std::string>{
                          "start msg_1 claude-sonnet-4-5",
                          "thinking Let me solve this step by step:\n\n1. First break down 27 * 453",
                          "sig EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
                          "redacted EmwKAhgB", "finish length max_tokens", "usage 20 30"}));
}

TEST(AnthropicStream, ErrorEventIsAnApiError) {
  constexpr std::string_view s =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1}}})"
      "\n\nevent: error\n"
      R"(data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})"
      "\n\n";
  for (bool passthrough : {false, true}) {
    auto d = make_anthropic_stream_decoder(passthrough, "claude");
    Collect sink;
    Usage usage;
    bool done = false;
    auto r = d->feed(s, sink, usage, done);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().status, 503);
    EXPECT_TRUE(r.error().retryable);
    EXPECT_NE(r.error().message.find("Overloaded"), std::string::npos);
    EXPECT_FALSE(done);
  }
  auto d = make_anthropic_stream_decoder(false, "claude");
  Collect sink;
  Usage usage;
  bool done = false;
  auto r = d->feed("event: content_block_delta\ndata: {\"type\":\n\n", sink, usage, done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 502);
}

TEST(AnthropicStream, PassthroughForwardsEveryEventAndReadsUsage) {
  auto d = make_anthropic_stream_decoder(true, "claude");
  Collect sink;
  Usage usage;
  bool done = false;
  ASSERT_TRUE(feed_all(*d, kToolStream, sink, usage, done, 100, 900).ok());
  EXPECT_TRUE(done);
  EXPECT_TRUE(sink.log.empty());
  ASSERT_EQ(sink.raws.size(), 16u);  // every event, ping included
  EXPECT_EQ(sink.raws[0].first, "message_start");
  EXPECT_EQ(sink.raws[2].first, "ping");
  EXPECT_EQ(sink.raws[2].second, R"({"type": "ping"})");
  EXPECT_EQ(sink.raws.back().first, "message_stop");
  EXPECT_EQ(usage.prompt_tokens, 782);
  EXPECT_EQ(usage.completion_tokens, 89);
  EXPECT_EQ(usage.cached_tokens, 300);
}

// --- errors and headers ---------------------------------------------------------------------

TEST(AnthropicErrors, StatusMapping) {
  auto body = [](std::string_view type, std::string_view msg) {
    return R"({"type":"error","error":{"type":")" + std::string(type) + R"(","message":")" +
           std::string(msg) + R"("}})";
  };
  ApiError e = map_anthropic_error("claude", 400, body("invalid_request_error", "messages: bad"), "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("messages: bad"), std::string::npos);
  EXPECT_FALSE(e.retryable);
  e = map_anthropic_error("claude", 401, body("authentication_error", "invalid x-api-key"), "");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.code, "upstream_auth");
  EXPECT_EQ(e.message.find("x-api-key"), std::string::npos);  // upstream text not echoed
  e = map_anthropic_error("claude", 404, body("not_found_error", "model: x"), "");
  EXPECT_EQ(e.status, 404);
  e = map_anthropic_error("claude", 413, body("request_too_large", "too big"), "");
  EXPECT_EQ(e.status, 413);
  e = map_anthropic_error("claude", 429, body("rate_limit_error", "slow down"), "17");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after, "17");
  EXPECT_TRUE(e.retryable);
  e = map_anthropic_error("claude", 529, body("overloaded_error", "Overloaded"), "");
  EXPECT_EQ(e.status, 503);
  EXPECT_TRUE(e.retryable);
  e = map_anthropic_error("claude", 500, body("api_error", "boom"), "");
  EXPECT_EQ(e.status, 502);
  EXPECT_TRUE(e.retryable);
  e = map_anthropic_error("claude", 504, "<html>gateway</html>", "");
  EXPECT_EQ(e.status, 504);
  e = map_anthropic_error("claude", 500, std::string(5000, 'x'), "");
  EXPECT_LT(e.message.size(), 600u);
}

struct FakeResponse : UpstreamResponse {
  Headers h;
  int status() const override { return 200; }
  std::string_view header(std::string_view name) const override { return find_header(h, name); }
  Task<Result<std::string_view>> read_some() override { co_return std::string_view{}; }
  Task<Result<std::string>> read_all(std::size_t) override { co_return std::string{}; }
  void set_deadline(std::chrono::steady_clock::time_point) override {}
};

TEST(AnthropicHeaders, RateLimitHeadersMapToOpenAiNames) {
  FakeResponse r;
  r.h = {{"anthropic-ratelimit-requests-limit", "50"},
         {"anthropic-ratelimit-requests-remaining", "49"},
         {"anthropic-ratelimit-requests-reset", "2026-01-01T00:00:01Z"},
         {"anthropic-ratelimit-tokens-limit", "80000"},
         {"anthropic-ratelimit-tokens-remaining", "79000"},
         {"anthropic-ratelimit-input-tokens-remaining", "40000"},
         {"retry-after", "3"}};
  Headers out;
  anthropic_rate_limit_headers(r, out);
  EXPECT_EQ(find_header(out, "x-ratelimit-limit-requests"), "50");
  EXPECT_EQ(find_header(out, "x-ratelimit-remaining-requests"), "49");
  EXPECT_EQ(find_header(out, "x-ratelimit-reset-requests"), "2026-01-01T00:00:01Z");
  EXPECT_EQ(find_header(out, "x-ratelimit-limit-tokens"), "80000");
  EXPECT_EQ(find_header(out, "x-ratelimit-remaining-tokens"), "79000");
  EXPECT_EQ(find_header(out, "x-ratelimit-remaining-input-tokens"), "40000");
  EXPECT_EQ(find_header(out, "retry-after"), "3");
  EXPECT_EQ(out.size(), 7u);
}

// --- the provider ---------------------------------------------------------------------------

ProviderConfig config() {
  ProviderConfig c;
  c.name = "claude";
  c.kind = "anthropic";
  c.api_key.value = "sk-ant-secret";
  c.models = {"claude-sonnet-4-5"};
  return c;
}

TEST(AnthropicProvider, RegisteredKind) {
  const ProviderKind* k = find_provider_kind("anthropic");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->default_base_url, "https://api.anthropic.com");
  EXPECT_TRUE(k->key_required);
}

TEST(AnthropicProvider, RequestHeadersPathAndPassthrough) {
  Endpoint ep;
  auto p = make_anthropic(config(), ep);
  ASSERT_TRUE(p.ok());
  const Provider& prov = **p;
  EXPECT_EQ(prov.kind(), "anthropic");
  EXPECT_TRUE(prov.speaks(WireFormat::anthropic_messages));
  EXPECT_FALSE(prov.speaks(WireFormat::openai_chat));
  EXPECT_TRUE(prov.capabilities().json_schema);
  EXPECT_FALSE(prov.capabilities().json_mode);

  json::object raw = parse(R"({"model":"a","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})").as_object();
  std::vector<std::string> ignored;
  ChatCall call;
  call.inbound = WireFormat::anthropic_messages;
  call.raw = &raw;
  call.upstream_model = "claude-sonnet-4-5";
  call.ignored = &ignored;
  auto req = prov.encode_chat(call);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->path, "/v1/messages");
  EXPECT_NE(req->header_block.find("x-api-key: sk-ant-secret\r\n"), std::string_view::npos);
  EXPECT_NE(req->header_block.find("anthropic-version: 2023-06-01\r\n"), std::string_view::npos);
  EXPECT_EQ(parse(req->body).at("model").as_string(), "claude-sonnet-4-5");

  ProviderConfig c = config();
  c.api_version = "2026-10-21";
  ep.base_path = "/v1";
  auto p2 = make_anthropic(c, ep);
  ASSERT_TRUE(p2.ok());
  ChatRequest r;
  r.messages.push_back(msg(Role::user, {text("hi")}));
  call.raw = nullptr;
  call.request = &r;
  call.stream = true;
  auto req2 = (*p2)->encode_chat(call);
  ASSERT_TRUE(req2.ok());
  EXPECT_EQ(req2->path, "/v1/messages");
  EXPECT_NE(req2->header_block.find("anthropic-version: 2026-10-21\r\n"), std::string_view::npos);
  EXPECT_NE(req2->header_block.find("text/event-stream"), std::string_view::npos);
  EXPECT_EQ(parse(req2->body).at("stream"), json::value(true));

  std::string body(kToolAnswer);
  auto whole = prov.decode_chat(std::string(body), true);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->raw, body);  // unchanged
  EXPECT_EQ(whole->result.usage.prompt_tokens, 2120);
  auto canon = prov.decode_chat(std::string(body), false);
  ASSERT_TRUE(canon.ok());
  EXPECT_EQ(canon->result.parts.size(), 4u);
  EXPECT_FALSE(prov.decode_chat("not json", true).ok());
}

}  // namespace
}  // namespace torii
