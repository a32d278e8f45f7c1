// Cohere v2 adapter: golden encode, decode of documented answers, streams split anywhere,
// streamed tool calls equal to whole ones, errors.
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "providers/cohere.h"

namespace torii {
namespace json = boost::json;
namespace {

struct Collect : StreamSink {
  std::string id, text, thinking, finish_native;
  FinishReason finish = FinishReason::unset;
  std::map<int, Part> calls;
  Usage usage;
  int starts = 0;
  void event(const StreamEvent& e) override {
    switch (e.kind) {
      case StreamEvent::Kind::start: ++starts; id = e.id; break;
      case StreamEvent::Kind::text: text += e.text; break;
      case StreamEvent::Kind::thinking: thinking += e.text; break;
      case StreamEvent::Kind::tool_call_start:
        ASSERT_EQ(calls.count(e.index), 0u);
        calls[e.index].id = e.id;
        calls[e.index].name = e.name;
        break;
      case StreamEvent::Kind::tool_call_args:
        ASSERT_EQ(calls.count(e.index), 1u) << "args before start";
        calls[e.index].arguments += e.text;
        break;
      case StreamEvent::Kind::finish: finish = e.finish; finish_native = e.text; break;
      case StreamEvent::Kind::usage: usage = e.usage; break;
      default: break;
    }
  }
  void raw(std::string_view, std::string_view, bool) override { FAIL() << "no passthrough"; }
};

std::unique_ptr<Provider> make() {
  ProviderConfig c;
  c.name = "co";
  c.kind = "cohere";
  c.api_key.value = "secret-key";
  auto p = make_cohere(c, Endpoint{});
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

Result<UpstreamRequest> encode(const Provider& p, const ChatRequest& q, bool stream,
                               std::vector<std::string>& ignored) {
  ChatCall call;
  call.request = &q;
  call.upstream_model = "command-a-03-2025";
  call.stream = stream;
  call.ignored = &ignored;
  call.inbound = WireFormat::openai_chat;
  return p.encode_chat(call);
}

ChatRequest weather_request() {
  ChatRequest q;
  Message sys;
  sys.role = Role::system;
  sys.parts.push_back(Part::make_text("Be brief."));
  Message user;
  user.parts.push_back(Part::make_text("Weather in Toronto?"));
  Part img;
  img.kind = Part::Kind::image;
  img.media_type = "image/png";
  img.data = "iVBORw0KGgo=";
  user.parts.push_back(img);
  Message asst;
  asst.role = Role::assistant;
  Part call;
  call.kind = Part::Kind::tool_call;
  call.id = "get_weather_1";
  call.name = "get_weather";
  call.arguments = R"({"location":"Toronto"})";
  asst.parts.push_back(call);
  Message tool;
  tool.role = Role::tool;
  Part res;
  res.kind = Part::Kind::tool_result;
  res.id = "get_weather_1";
  res.content.push_back(Part::make_text("-5C"));
  tool.parts.push_back(res);
  q.messages = {sys, user, asst, tool};
  Tool t;
  t.name = "get_weather";
  t.description = "Weather of a city";
  t.parameters = json::parse(R"({"type":"object","properties":{"location":{"type":"string"}}})");
  q.tools.push_back(t);
  q.temperature = 0.5;
  q.top_p = 0.9;
  q.top_k = 40;
  q.max_tokens = 100;
  q.seed = 7;
  q.stop = {"END"};
  q.frequency_penalty = 0.1;
  q.presence_penalty = 0.2;
  q.user = "u1";
  q.parallel_tool_calls = true;
  return q;
}

TEST(CohereProvider, EncodesTheDocumentedRequestShape) {
  auto p = make();
  std::vector<std::string> ignored;
  auto r = encode(*p, weather_request(), false, ignored);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/v2/chat");
  EXPECT_NE(r->header_block.find("Authorization: Bearer secret-key\r\n"), std::string_view::npos);
  json::value got = json::parse(r->body);
  json::value want = json::parse(R"({
    "model":"command-a-03-2025",
    "messages":[
      {"role":"system","content":"Be brief."},
      {"role":"user","content":[{"type":"text","text":"Weather in Toronto?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
      {"role":"assistant","tool_calls":[{"id":"get_weather_1","type":"function",
        "function":{"name":"get_weather","arguments":"{\"location\":\"Toronto\"}"}}]},
      {"role":"tool","tool_call_id":"get_weather_1","content":"-5C"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city",
      "parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}],
    "max_tokens":100,"temperature":0.5,"p":0.9,"k":40,"seed":7,
    "frequency_penalty":0.1,"presence_penalty":0.2,"stop_sequences":["END"]})");
  EXPECT_EQ(got, want) << r->body;
  EXPECT_EQ(ignored, (std::vector<std::string>{"parallel_tool_calls", "user"}));
}

TEST(CohereProvider, MapsChoiceFormatThinkingAndStream) {
  auto p = make();
  ChatRequest q = weather_request();
  Tool other;
  other.name = "other";
  q.tools.push_back(other);
  q.tool_choice.mode = ToolChoice::Mode::tool;
  q.tool_choice.name = "get_weather";
  q.response_format.kind = ResponseFormat::Kind::json_schema;
  q.response_format.schema = json::parse(R"({"type":"object"})");
  q.thinking_budget = 2048;
  std::vector<std::string> ignored;
  auto r = encode(*p, q, true, ignored);
  ASSERT_TRUE(r.ok());
  auto o = json::parse(r->body).as_object();
  EXPECT_EQ(o["tool_choice"], "REQUIRED");
  ASSERT_EQ(o["tools"].as_array().size(), 1u);  // forcing a tool = only that tool, required
  EXPECT_EQ(o["response_format"], json::parse(R"({"type":"json_object","json_schema":{"type":"object"}})"));
  EXPECT_EQ(o["thinking"], json::parse(R"({"type":"enabled","token_budget":2048})"));
  EXPECT_EQ(o["stream"], true);
  EXPECT_NE(r->header_block.find("text/event-stream"), std::string_view::npos);
}

TEST(CohereProvider, RefusesWhatWouldChangeTheMeaning) {
  auto p = make();
  std::vector<std::string> ignored;
  ChatRequest q = weather_request();
  q.n = 2;
  auto r = encode(*p, q, false, ignored);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().param, "n");
  EXPECT_NE(r.error().message.find("provider 'co' (cohere)"), std::string::npos);
  q = weather_request();
  Part doc;
  doc.kind = Part::Kind::document;
  doc.media_type = "application/pdf";
  doc.data = "JVBERi0=";
  q.messages[1].parts.push_back(doc);
  r = encode(*p, q, false, ignored);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "messages");
}

// The documented shape of a tool-calling answer (docs.cohere.com, Chat v2 reference).
constexpr std::string_view kWhole = R"({"id":"c14c80c3-18eb-4519-9460-6c92edd8cfb4",
  "finish_reason":"TOOL_CALL",
  "message":{"role":"assistant","tool_plan":"I will look up the weather.",
    "tool_calls":[{"id":"get_weather_1byjy32y4hvq","type":"function",
      "function":{"name":"get_weather","arguments":"{\"location\":\"Toronto\"}"}}]},
  "usage":{"billed_units":{"input_tokens":37,"output_tokens":28},
           "tokens":{"input_tokens":913,"output_tokens":81}}})";

constexpr std::string_view kStream =
    "event: message-start\ndata: {\"id\":\"c14c80c3\",\"type\":\"message-start\",\"delta\":"
    "{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],"
    "\"citations\":[]}}}\n\n"
    "event: tool-plan-delta\ndata: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":"
    "{\"tool_plan\":\"I will look up the weather.\"}}}\n\n"
    "event: tool-call-start\ndata: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":"
    "{\"tool_calls\":{\"id\":\"get_weather_1byjy32y4hvq\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get_weather\",\"arguments\":\"\"}}}}}\n\n"
    "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":"
    "{\"tool_calls\":{\"function\":{\"arguments\":\"{\\\"location\\\":\"}}}}}\n\n"
    "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":"
    "{\"tool_calls\":{\"function\":{\"arguments\":\"\\\"Toronto\\\"}\"}}}}}\n\n"
    "event: tool-call-end\ndata: {\"type\":\"tool-call-end\",\"index\":0}\n\n"
    "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\","
    "\"usage\":{\"billed_units\":{\"input_tokens\":37,\"output_tokens\":28},\"tokens\":"
    "{\"input_tokens\":913,\"output_tokens\":81}}}}\n\n";

TEST(CohereProvider, DecodesAToolCallingAnswer) {
  auto p = make();
  auto r = p->decode_chat(std::string(kWhole), false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ChatResult& res = r->result;
  EXPECT_EQ(res.id, "c14c80c3-18eb-4519-9460-6c92edd8cfb4");
  EXPECT_EQ(res.finish, FinishReason::tool_calls);
  EXPECT_EQ(res.native_finish, "TOOL_CALL");
  ASSERT_EQ(res.parts.size(), 2u);
  EXPECT_EQ(res.parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(res.parts[1].kind, Part::Kind::tool_call);
  EXPECT_EQ(res.parts[1].arguments, R"({"location":"Toronto"})");
  EXPECT_EQ(res.usage.prompt_tokens, 913);
  EXPECT_EQ(res.usage.completion_tokens, 81);
  EXPECT_EQ(res.usage.total_tokens, 994);
}

TEST(CohereProvider, DecodesTextThinkingAndFinishes) {
  auto p = make();
  auto r = p->decode_chat(std::string(R"({"id":"x","finish_reason":"MAX_TOKENS","message":
    {"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"Hi"}]},
    "usage":{"billed_units":{"input_tokens":3,"output_tokens":2}}})"), false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result.finish, FinishReason::length);
  ASSERT_EQ(r->result.parts.size(), 2u);
  EXPECT_EQ(r->result.parts[0].text, "hmm");
  EXPECT_EQ(r->result.parts[1].text, "Hi");
  EXPECT_EQ(r->result.usage.prompt_tokens, 3);  // billed_units when tokens is absent
  auto bad = p->decode_chat(std::string(R"({"id":)"), false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status, 502);
}

TEST(CohereProvider, StreamSplitAnywhereEqualsWholeToolCall) {
  auto p = make();
  auto whole = p->decode_chat(std::string(kWhole), false);
  ASSERT_TRUE(whole.ok());
  const Part& call = whole->result.parts[1];
  for (std::size_t split = 0; split <= kStream.size(); split += 7) {
    auto dec = p->stream_decoder(false);
    Collect sink;
    Usage usage;
    bool done = false;
    ASSERT_TRUE(dec->feed(kStream.substr(0, split), sink, usage, done).ok());
    ASSERT_TRUE(dec->feed(kStream.substr(split), sink, usage, done).ok());
    ASSERT_TRUE(done);
    EXPECT_EQ(sink.starts, 1);
    EXPECT_EQ(sink.id, "c14c80c3");
    EXPECT_EQ(sink.thinking, "I will look up the weather.");
    ASSERT_EQ(sink.calls.size(), 1u);
    EXPECT_EQ(sink.calls[0].id, call.id);
    EXPECT_EQ(sink.calls[0].name, call.name);
    EXPECT_EQ(sink.calls[0].arguments, call.arguments);
    EXPECT_EQ(sink.finish, FinishReason::tool_calls);
    EXPECT_EQ(usage.prompt_tokens, 913);
    EXPECT_EQ(sink.usage.completion_tokens, 81);
  }
}

TEST(CohereProvider, StreamErrorsAreErrors) {
  auto p = make();
  Collect sink;
  Usage usage;
  bool done = false;
  auto dec = p->stream_decoder(false);
  auto r = dec->feed("event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
                     "\"ERROR\",\"error\":\"internal failure\"}}\n\n", sink, usage, done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 502);
  EXPECT_NE(r.error().message.find("internal failure"), std::string::npos);
  dec = p->stream_decoder(false);
  done = false;
  r = dec->feed("data: {not json\n\n", sink, usage, done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 502);
}

TEST(CohereProvider, MapsUpstreamErrors) {
  auto p = make();
  ApiError e = p->map_error(400, R"({"id":"1","message":"invalid request: model 'x' not found"})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("model 'x' not found"), std::string::npos);
  e = p->map_error(401, R"({"message":"invalid api token"})", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.message.find("secret-key"), std::string::npos);
  e = p->map_error(429, R"({"message":"slow down"})", "3");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after, "3");
  EXPECT_TRUE(p->map_error(503, "{}", "").retryable);
}

}  // namespace
}  // namespace torii
