// Ollama native adapter: golden encode (options, keep_alive, format, think), decode of the
// documented answers, NDJSON streams split anywhere, streamed tool calls equal to whole ones.
#include <map>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "providers/ollama.h"

namespace torii {
namespace json = boost::json;
namespace {

struct Collect : StreamSink {
  std::string model, text, thinking, native;
  FinishReason finish = FinishReason::unset;
  std::map<int, Part> calls;
  Usage usage;
  int starts = 0;
  void event(const StreamEvent& e) override {
    switch (e.kind) {
      case StreamEvent::Kind::start: ++starts; model = e.name; break;
      case StreamEvent::Kind::text: text += e.text; break;
      case StreamEvent::Kind::thinking: thinking += e.text; break;
      case StreamEvent::Kind::tool_call_start:
        calls[e.index].id = e.id;
        calls[e.index].name = e.name;
        break;
      case StreamEvent::Kind::tool_call_args:
        ASSERT_EQ(calls.count(e.index), 1u);
        calls[e.index].arguments += e.text;
        break;
      case StreamEvent::Kind::finish: finish = e.finish; native = e.text; break;
      case StreamEvent::Kind::usage: usage = e.usage; break;
      default: break;
    }
  }
  void raw(std::string_view, std::string_view, bool) override { FAIL() << "no passthrough"; }
};

Result<std::unique_ptr<Provider>> make(std::map<std::string, std::string> options = {}) {
  ProviderConfig c;
  c.name = "ol";
  c.kind = "ollama";
  c.options = std::move(options);
  return make_ollama(c, Endpoint{});
}

Result<UpstreamRequest> encode(const Provider& p, const ChatRequest& q, bool stream,
                               std::vector<std::string>& ignored) {
  ChatCall call;
  call.request = &q;
  call.upstream_model = "llama3.2";
  call.stream = stream;
  call.ignored = &ignored;
  return p.encode_chat(call);
}

ChatRequest tool_turn() {
  ChatRequest q;
  Message user;
  user.parts.push_back(Part::make_text("Weather in Paris?"));
  Part img;
  img.kind = Part::Kind::image;
  img.media_type = "image/png";
  img.data = "iVBORw0KGgo=";
  user.parts.push_back(img);
  Message asst;
  asst.role = Role::assistant;
  Part th;
  th.kind = Part::Kind::thinking;
  th.text = "Need the tool.";
  asst.parts.push_back(th);
  Part call;
  call.kind = Part::Kind::tool_call;
  call.id = "call_0";
  call.name = "get_current_weather";
  call.arguments = R"({"location":"Paris, FR"})";
  asst.parts.push_back(call);
  Message tool;
  tool.role = Role::tool;
  Part res;
  res.kind = Part::Kind::tool_result;
  res.id = "call_0";
  res.content.push_back(Part::make_text("22C"));
  tool.parts.push_back(res);
  q.messages = {user, asst, tool};
  Tool t;
  t.name = "get_current_weather";
  t.parameters = json::parse(R"({"type":"object"})");
  q.tools.push_back(t);
  q.temperature = 0.2;
  q.max_tokens = 64;
  q.top_k = 20;
  q.seed = 1;
  q.stop = {"\n\n"};
  q.response_format.kind = ResponseFormat::Kind::json_object;
  q.reasoning_effort = "high";
  q.user = "someone";
  return q;
}

TEST(OllamaProvider, EncodesMessagesOptionsAndKeepAlive) {
  auto p = make({{"keep_alive", "5m"}, {"num_ctx", "8192"}, {"temperature", "0.9"}});
  ASSERT_TRUE(p.ok()) << p.error().message;
  std::vector<std::string> ignored;
  auto r = encode(**p, tool_turn(), false, ignored);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/api/chat");
  EXPECT_EQ(r->header_block.find("Authorization"), std::string_view::npos);
  json::value want = json::parse(R"({
    "model":"llama3.2",
    "messages":[
      {"role":"user","content":"Weather in Paris?","images":["iVBORw0KGgo="]},
      {"role":"assistant","content":"","thinking":"Need the tool.",
       "tool_calls":[{"function":{"name":"get_current_weather","arguments":{"location":"Paris, FR"}}}]},
      {"role":"tool","content":"22C","tool_name":"get_current_weather"}],
    "tools":[{"type":"function","function":{"name":"get_current_weather","parameters":{"type":"object"}}}],
    "format":"json","think":"high",
    "options":{"num_ctx":8192,"temperature":0.2,"top_k":20,"seed":1,"num_predict":64,"stop":["\n\n"]},
    "keep_alive":"5m","stream":false})");
  EXPECT_EQ(json::parse(r->body), want) << r->body;
  EXPECT_EQ(ignored, std::vector<std::string>{"user"});
}

TEST(OllamaProvider, SchemaFormatThinkBudgetAndStream) {
  auto p = make({{"keep_alive", "-1"}});
  ASSERT_TRUE(p.ok());
  ChatRequest q = tool_turn();
  q.response_format.kind = ResponseFormat::Kind::json_schema;
  q.response_format.schema = json::parse(R"({"type":"object","properties":{}})");
  q.reasoning_effort.clear();
  q.thinking_budget = 0;
  std::vector<std::string> ignored;
  auto r = encode(**p, q, true, ignored);
  ASSERT_TRUE(r.ok());
  auto o = json::parse(r->body).as_object();
  EXPECT_EQ(o["format"], json::parse(R"({"type":"object","properties":{}})"));
  EXPECT_EQ(o["think"], false);
  EXPECT_EQ(o["keep_alive"], -1);
  EXPECT_EQ(o["stream"], true);
  EXPECT_NE(r->header_block.find("application/x-ndjson"), std::string_view::npos);
}

TEST(OllamaProvider, RefusesWhatItCannotDo) {
  auto p = make();
  ASSERT_TRUE(p.ok());
  std::vector<std::string> ignored;
  ChatRequest q = tool_turn();
  q.messages[0].parts[1].data.clear();
  q.messages[0].parts[1].url = "https://example.com/cat.png";
  auto r = encode(**p, q, false, ignored);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_NE(r.error().message.find("provider 'ol' (ollama)"), std::string::npos);
  q = tool_turn();
  q.tool_choice.mode = ToolChoice::Mode::required;
  r = encode(**p, q, false, ignored);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "tool_choice");
  auto bad = make({{"num_ctx", "big"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "options.num_ctx");
}

// From Ollama's API reference (POST /api/chat with tools, non-streamed).
constexpr std::string_view kWhole = R"({"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z",
  "message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_current_weather",
  "arguments":{"format":"celsius","location":"Paris, FR"}}}]},"done_reason":"stop","done":true,
  "total_duration":885095291,"load_duration":3753500,"prompt_eval_count":122,
  "prompt_eval_duration":328493000,"eval_count":33,"eval_duration":552222000})";

constexpr std::string_view kStream =
    R"({"model":"llama3.2","created_at":"2024-07-22T20:33:27.9Z","message":{"role":"assistant","content":"","thinking":"Use the tool."},"done":false})"
    "\n"
    R"({"model":"llama3.2","created_at":"2024-07-22T20:33:28.0Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_current_weather","arguments":{"format":"celsius","location":"Paris, FR"}}}]},"done":false})"
    "\n"
    R"({"model":"llama3.2","created_at":"2024-07-22T20:33:28.1Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"prompt_eval_count":122,"eval_count":33})"
    "\n";

TEST(OllamaProvider, DecodesTheDocumentedToolAnswer) {
  auto p = make();
  ASSERT_TRUE(p.ok());
  auto r = (*p)->decode_chat(std::string(kWhole), false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ChatResult& res = r->result;
  EXPECT_EQ(res.model, "llama3.2");
  EXPECT_EQ(res.created, 1721680408);
  EXPECT_EQ(res.finish, FinishReason::tool_calls);
  EXPECT_EQ(res.native_finish, "stop");
  ASSERT_EQ(res.parts.size(), 1u);
  EXPECT_EQ(res.parts[0].id, "call_0");
  EXPECT_EQ(json::parse(res.parts[0].arguments),
            json::parse(R"({"format":"celsius","location":"Paris, FR"})"));
  EXPECT_EQ(res.usage.prompt_tokens, 122);
  EXPECT_EQ(res.usage.completion_tokens, 33);
  EXPECT_EQ(res.usage.total_tokens, 155);
}

TEST(OllamaProvider, DecodesTextAndLength) {
  auto p = make();
  auto r = (*p)->decode_chat(std::string(R"({"model":"m","message":{"role":"assistant","content":"Hi",
    "thinking":"t"},"done":true,"done_reason":"length","prompt_eval_count":1,"eval_count":2})"), false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result.finish, FinishReason::length);
  ASSERT_EQ(r->result.parts.size(), 2u);
  EXPECT_EQ(r->result.parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(r->result.parts[1].text, "Hi");
  EXPECT_FALSE((*p)->decode_chat("[1", false).ok());
}

TEST(OllamaProvider, StreamSplitAnywhereEqualsWhole) {
  auto p = make();
  auto whole = (*p)->decode_chat(std::string(kWhole), false);
  ASSERT_TRUE(whole.ok());
  const Part& call = whole->result.parts[0];
  for (std::size_t a = 0; a <= kStream.size(); a += 5) {
    std::size_t b = std::min(kStream.size(), a + 11);
    auto dec = (*p)->stream_decoder(false);
    Collect sink;
    Usage usage;
    bool done = false;
    ASSERT_TRUE(dec->feed(kStream.substr(0, a), sink, usage, done).ok());
    ASSERT_TRUE(dec->feed(kStream.substr(a, b - a), sink, usage, done).ok());
    EXPECT_EQ(done, b == kStream.size());
    ASSERT_TRUE(dec->feed(kStream.substr(b), sink, usage, done).ok());
    ASSERT_TRUE(done);
    EXPECT_EQ(sink.starts, 1);
    EXPECT_EQ(sink.model, "llama3.2");
    EXPECT_EQ(sink.thinking, "Use the tool.");
    ASSERT_EQ(sink.calls.size(), 1u);
    EXPECT_EQ(sink.calls[0].id, call.id);
    EXPECT_EQ(sink.calls[0].name, call.name);
    EXPECT_EQ(sink.calls[0].arguments, call.arguments);
    EXPECT_EQ(sink.finish, FinishReason::tool_calls);
    EXPECT_EQ(usage.prompt_tokens, 122);
    EXPECT_EQ(sink.usage.completion_tokens, 33);
  }
}

TEST(OllamaProvider, StreamErrorLineAndGarbage) {
  auto p = make();
  Collect sink;
  Usage usage;
  bool done = false;
  auto dec = (*p)->stream_decoder(false);
  auto r = dec->feed("{\"error\":\"model runner crashed\"}\n", sink, usage, done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 502);
  EXPECT_NE(r.error().message.find("model runner crashed"), std::string::npos);
  dec = (*p)->stream_decoder(false);
  EXPECT_FALSE(dec->feed("{\"model\":\n", sink, usage, done).ok());
}

TEST(OllamaProvider, MapsUpstreamErrors) {
  auto p = make();
  ApiError e = (*p)->map_error(404, R"({"error":"model 'x' not found, try pulling it first"})", "");
  EXPECT_EQ(e.status, 404);
  EXPECT_NE(e.message.find("try pulling it"), std::string::npos);
  EXPECT_EQ((*p)->map_error(500, R"({"error":"boom"})", "").status, 502);
}

}  // namespace
}  // namespace torii
