// `torii mock` speaking OpenAI's Responses API (POST /v1/responses): parse, the Response
// object, and the typed SSE event sequence. Every produced body is parsed as JSON.
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;
namespace {

const MockFormat& responses() {
  const MockFormat* f = find_mock_format("/v1/responses");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(f->name(), "openai-responses");
  return *f;
}

struct Played {
  MockTurn turn;
  std::unique_ptr<MockWords> words;
  MockScript script;
};

Played play(std::string_view body, MockKnobs knobs = {}) {
  Played p;
  auto t = responses().parse("/v1/responses", {}, body);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  if (t.ok()) p.turn = *t;
  p.words = std::make_unique<MockWords>(p.turn.last_user_text, knobs.total_words());
  p.script = make_mock_script(p.turn, knobs, *p.words);
  p.script.id = "mock-7";
  p.script.created = 1741476542;
  return p;
}

struct Event {
  std::string name;  // the `event:` line
  json::object data;
};

// Splits an SSE body into events; every event must have `event:` + `data:` lines whose JSON
// parses and whose "type" equals the event name.
std::vector<Event> events_of(const std::string& sse) {
  std::vector<Event> out;
  std::size_t at = 0;
  while (at < sse.size()) {
    const std::size_t end = sse.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "unterminated event at " << at;
    if (end == std::string::npos) break;
    const std::string block = sse.substr(at, end - at);
    at = end + 2;
    EXPECT_TRUE(block.starts_with("event: ")) << block;
    const std::size_t nl = block.find('\n');
    EXPECT_NE(nl, std::string::npos) << block;
    if (nl == std::string::npos) continue;
    Event e;
    e.name = block.substr(7, nl - 7);
    const std::string data_line = block.substr(nl + 1);
    EXPECT_TRUE(data_line.starts_with("data: ")) << block;
    json::error_code ec;
    json::value v = json::parse(std::string_view(data_line).substr(6), ec);
    EXPECT_FALSE(ec) << data_line;
    if (ec || !v.is_object()) continue;
    e.data = v.as_object();
    EXPECT_EQ(e.data["type"], json::value(e.name));
    out.push_back(std::move(e));
  }
  return out;
}

std::string stream_of(const MockScript& s) {
  std::string out;
  responses().stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    responses().stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk,
                            mock_chunk_words(s, i));
  responses().stream_end(out, s);
  return out;
}

std::vector<std::string> names_of(const std::vector<Event>& events) {
  std::vector<std::string> names;
  for (const Event& e : events) names.push_back(e.name);
  return names;
}

void expect_sequence_numbers(const std::vector<Event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i)
    EXPECT_EQ(events[i].data.at("sequence_number").as_int64(), std::int64_t(i)) << events[i].name;
}

TEST(MockResponses, MatchesOnlyItsPaths) {
  EXPECT_EQ(find_mock_format("/responses"), &responses());
  EXPECT_NE(find_mock_format("/v1/chat/completions"), &responses());
  EXPECT_EQ(find_mock_format("/v1/responses/resp_1"), nullptr);
  EXPECT_FALSE(responses().matches("/v2/responses"));
}

TEST(MockResponses, ParsesStringInput) {
  auto t = responses().parse("/v1/responses", {}, R"({"model":"gpt-4.1","input":"hello there",
    "instructions":"Be brief and kind.","stream":true,"max_output_tokens":50})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->model, "gpt-4.1");
  EXPECT_TRUE(t->stream);
  EXPECT_TRUE(t->include_usage);
  EXPECT_EQ(t->max_tokens, 50);
  EXPECT_EQ(t->last_user_text, "hello there");
  EXPECT_EQ(t->prompt_tokens, (11 + 18 + 3) / 4);  // input + instructions bytes
  EXPECT_FALSE(t->thinking);
  EXPECT_TRUE(t->tool_name.empty());
}

TEST(MockResponses, ParsesItemsToolsAndReasoning) {
  auto t = responses().parse("/v1/responses", {}, R"({"model":"o4-mini",
    "reasoning":{"effort":"low","summary":"auto"},
    "input":[
      {"role":"user","content":"first question"},
      {"type":"message","role":"user","content":[{"type":"input_text","text":"what is this"},
        {"type":"input_image","image_url":"data:image/png;base64,AAAA"}]},
      {"type":"function_call","call_id":"call_1","name":"lookup","arguments":"{\"q\":\"x\"}"},
      {"type":"function_call_output","call_id":"call_1","output":"sunny"}],
    "tools":[{"type":"web_search"},{"type":"function","name":"lookup","parameters":{}},
             {"type":"function","name":"other"}],
    "mock":{"chunks":2}})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->last_user_text, "what is this");
  EXPECT_EQ(t->images, 1);
  EXPECT_TRUE(t->last_is_tool_result);
  EXPECT_EQ(t->tool_name, "lookup");  // the first *function* tool
  EXPECT_TRUE(t->thinking);
  EXPECT_FALSE(t->stream);
  EXPECT_FALSE(t->max_tokens.has_value());
  // "first question" 14 + "what is this" 12 + "lookup" 6 + {"q":"x"} 9 + "sunny" 5 = 46
  EXPECT_EQ(t->prompt_tokens, 12);
  ASSERT_TRUE(t->knobs.is_object());
  EXPECT_EQ(t->knobs.as_object().at("chunks"), 2);
}

TEST(MockResponses, ToolChoiceNoneAndForced) {
  auto none = responses().parse("/v1/responses", {}, R"({"model":"m","input":"x",
    "tool_choice":"none","tools":[{"type":"function","name":"a"}]})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->tool_name.empty());
  auto forced = responses().parse("/v1/responses", {}, R"({"model":"m","input":"x",
    "tool_choice":{"type":"function","name":"b"},
    "tools":[{"type":"function","name":"a"},{"type":"function","name":"b"}]})");
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->tool_name, "b");
  auto effort_none = responses().parse("/v1/responses", {},
                                       R"({"model":"m","reasoning":{"effort":"none"}})");
  ASSERT_TRUE(effort_none.ok());
  EXPECT_FALSE(effort_none->thinking);
  EXPECT_EQ(effort_none->prompt_tokens, 1);  // no input at all: still at least 1
}

TEST(MockResponses, BadRequestsAreOpenAiErrors) {
  struct Case {
    std::string_view body, param;
  };
  for (const Case& c : {Case{R"({"input":"x"})", "model"},
                        Case{R"({"model":"m","input":5})", "input"},
                        Case{R"({"model":"m","input":[1]})", "input"},
                        Case{R"({"model":"m","stream":"yes"})", "stream"},
                        Case{R"({"model":"m","max_output_tokens":-1})", "max_output_tokens"},
                        Case{R"({"model":"m",)", ""}, Case{R"([1])", ""}}) {
    auto t = responses().parse("/v1/responses", {}, c.body);
    ASSERT_FALSE(t.ok()) << c.body;
    EXPECT_EQ(t.error().status, 400);
    EXPECT_EQ(t.error().param, c.param) << c.body;
    json::value body = json::parse(responses().error_body(t.error()));
    EXPECT_EQ(body.at("error").at("type"), "invalid_request_error");
    EXPECT_FALSE(body.at("error").at("message").as_string().empty());
  }
}

TEST(MockResponses, WholeTextResponse) {
  MockKnobs k;
  k.chunks = 3;
  k.cached_tokens = 4;
  auto p = play(R"({"model":"gpt-4.1","input":"alpha beta"})", k);
  json::value v = json::parse(responses().whole(p.script));
  const json::object& r = v.as_object();
  EXPECT_EQ(r.at("id"), "resp_mock-7");
  EXPECT_EQ(r.at("object"), "response");
  EXPECT_EQ(r.at("created_at"), 1741476542);
  EXPECT_EQ(r.at("status"), "completed");
  EXPECT_TRUE(r.at("incomplete_details").is_null());
  EXPECT_EQ(r.at("model"), "gpt-4.1");
  const json::array& output = r.at("output").as_array();
  ASSERT_EQ(output.size(), 1u);
  EXPECT_EQ(output[0].at("type"), "message");
  EXPECT_EQ(output[0].at("role"), "assistant");
  EXPECT_EQ(output[0].at("status"), "completed");
  const json::array& content = output[0].at("content").as_array();
  ASSERT_EQ(content.size(), 1u);
  EXPECT_EQ(content[0].at("type"), "output_text");
  EXPECT_EQ(content[0].at("text"), "alpha beta alpha ");
  const json::object& u = r.at("usage").as_object();
  EXPECT_EQ(u.at("input_tokens"), 3 + 4);  // "alpha beta" 10 bytes -> 3, plus cached
  EXPECT_EQ(u.at("input_tokens_details").at("cached_tokens"), 4);
  EXPECT_EQ(u.at("output_tokens"), 3);
  EXPECT_EQ(u.at("output_tokens_details").at("reasoning_tokens"), 0);
  EXPECT_EQ(u.at("total_tokens"), 10);
}

TEST(MockResponses, WholeWithThinkingAndToolCall) {
  auto p = play(R"({"model":"o3","input":"weather paris","reasoning":{"effort":"high"},
    "tools":[{"type":"function","name":"get_weather"}]})");
  json::value v = json::parse(responses().whole(p.script));
  const json::array& output = v.at("output").as_array();
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0].at("type"), "reasoning");
  EXPECT_EQ(output[0].at("summary").at(0).at("type"), "summary_text");
  EXPECT_EQ(output[0].at("summary").at(0).at("text"), json::value(kMockThinking));
  EXPECT_EQ(output[0].at("encrypted_content"), json::value(kMockSignature));
  EXPECT_EQ(output[1].at("type"), "function_call");
  EXPECT_EQ(output[1].at("call_id"), "call_mock_1");
  EXPECT_EQ(output[1].at("name"), "get_weather");
  EXPECT_EQ(json::parse(output[1].at("arguments").as_string()), json::parse(R"({"q":"weather"})"));
  EXPECT_EQ(v.at("status"), "completed");
  EXPECT_EQ(v.at("usage").at("output_tokens_details").at("reasoning_tokens"),
            kMockThinkingTokens);
  EXPECT_EQ(v.at("usage").at("output_tokens"), p.script.completion_tokens);
}

TEST(MockResponses, AfterAToolResultItAnswersText) {
  auto p = play(R"({"model":"m","tools":[{"type":"function","name":"f"}],"input":[
    {"role":"user","content":"go"},
    {"type":"function_call_output","call_id":"call_mock_1","output":"done"}]})");
  json::value v = json::parse(responses().whole(p.script));
  ASSERT_EQ(v.at("output").as_array().size(), 1u);
  EXPECT_EQ(v.at("output").at(0).at("type"), "message");
}

TEST(MockResponses, TruncatedAndBlockedAreIncomplete) {
  auto p = play(R"({"model":"m","input":"a b c","max_output_tokens":2})");
  ASSERT_TRUE(p.script.truncated);
  json::value v = json::parse(responses().whole(p.script));
  EXPECT_EQ(v.at("status"), "incomplete");
  EXPECT_EQ(v.at("incomplete_details").at("reason"), "max_output_tokens");
  EXPECT_EQ(v.at("output").at(0).at("status"), "incomplete");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), "a b ");
  EXPECT_EQ(v.at("usage").at("output_tokens"), 2);

  MockKnobs k;
  k.blocked = 1;
  auto b = play(R"({"model":"m","input":"a b c"})", k);
  json::value vb = json::parse(responses().whole(b.script));
  EXPECT_EQ(vb.at("status"), "incomplete");
  EXPECT_EQ(vb.at("incomplete_details").at("reason"), "content_filter");
  EXPECT_TRUE(vb.at("output").as_array().empty());
}

TEST(MockResponses, StreamedTextEventOrder) {
  MockKnobs k;
  k.chunks = 3;
  k.tokens_per_chunk = 2;
  auto p = play(R"({"model":"gpt-4.1","input":"one two three","stream":true})", k);
  const std::string sse = stream_of(p.script);
  EXPECT_EQ(sse.find("[DONE]"), std::string::npos);
  auto events = events_of(sse);
  const std::vector<std::string> want = {
      "response.created",          "response.in_progress",       "response.output_item.added",
      "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
      "response.output_text.delta", "response.output_text.done",  "response.content_part.done",
      "response.output_item.done",  "response.completed"};
  ASSERT_EQ(names_of(events), want);
  expect_sequence_numbers(events);
  EXPECT_EQ(events[0].data.at("response").at("status"), "in_progress");
  EXPECT_TRUE(events[0].data.at("response").at("usage").is_null());
  EXPECT_EQ(events[0].data.at("response").at("id"), "resp_mock-7");
  std::string text;
  for (const Event& e : events)
    if (e.name == "response.output_text.delta") {
      text += e.data.at("delta").as_string();
      EXPECT_EQ(e.data.at("item_id"), "msg_mock-7");
      EXPECT_EQ(e.data.at("output_index"), 0);
    }
  EXPECT_EQ(text, "one two three one two three ");
  EXPECT_EQ(events[7].data.at("text"), json::value(text));
  EXPECT_EQ(events[8].data.at("part").at("text"), json::value(text));
  const json::value& done = events.back().data.at("response");
  EXPECT_EQ(done, json::parse(responses().whole(p.script)));  // the full response, as whole()
  EXPECT_EQ(done.at("usage").at("output_tokens"), 6);
}

TEST(MockResponses, StreamedThinkingAndToolCallEqualWhole) {
  auto p = play(R"({"model":"o3","input":"weather in paris","stream":true,
    "reasoning":{"effort":"medium"},"tools":[{"type":"function","name":"get_weather"}]})");
  auto events = events_of(stream_of(p.script));
  const std::vector<std::string> want = {
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed"};
  ASSERT_EQ(names_of(events), want);
  expect_sequence_numbers(events);
  EXPECT_EQ(std::string(events[4].data.at("delta").as_string()) +
                std::string(events[5].data.at("delta").as_string()),
            kMockThinking);
  EXPECT_EQ(events[8].data.at("item").at("encrypted_content"), json::value(kMockSignature));
  EXPECT_EQ(events[9].data.at("output_index"), 1);
  EXPECT_EQ(events[9].data.at("item").at("type"), "function_call");
  EXPECT_EQ(events[9].data.at("item").at("arguments"), "");
  const std::string args = std::string(events[10].data.at("delta").as_string()) +
                           std::string(events[11].data.at("delta").as_string());
  EXPECT_FALSE(events[10].data.at("delta").as_string().empty());
  EXPECT_FALSE(events[11].data.at("delta").as_string().empty());
  json::value whole = json::parse(responses().whole(p.script));
  EXPECT_EQ(json::value(args), whole.at("output").at(1).at("arguments"));
  EXPECT_EQ(events[12].data.at("arguments"), json::value(args));
  EXPECT_EQ(events[12].data.at("name"), "get_weather");
  EXPECT_EQ(events[13].data.at("item"), whole.at("output").at(1));
  EXPECT_EQ(events.back().data.at("response"), whole);
}

TEST(MockResponses, StreamedTruncationEndsIncomplete) {
  MockKnobs k;
  k.chunks = 5;
  k.tokens_per_chunk = 2;
  auto p = play(R"({"model":"m","input":"a b c","stream":true,"max_output_tokens":3})", k);
  ASSERT_EQ(p.script.chunks, 2);
  auto events = events_of(stream_of(p.script));
  expect_sequence_numbers(events);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "response.incomplete");
  EXPECT_EQ(events.back().data.at("response").at("incomplete_details").at("reason"),
            "max_output_tokens");
  int deltas = 0;
  for (const Event& e : events) deltas += e.name == "response.output_text.delta";
  EXPECT_EQ(deltas, 2);
  EXPECT_EQ(events[events.size() - 4].data.at("text"), "a b c ");

  // No words per chunk: no delta events, and the numbering still has no gap.
  MockKnobs zero;
  zero.tokens_per_chunk = 0;
  auto z = play(R"({"model":"m","input":"a","stream":true})", zero);
  auto ze = events_of(stream_of(z.script));
  expect_sequence_numbers(ze);
  EXPECT_EQ(ze.back().name, "response.completed");
}

TEST(MockResponses, EscapesTheModelAndWords) {
  auto p = play(R"({"model":"m\"q","input":"say \"hi\"\n\u00e9t\u00e9","stream":true})");
  json::value v = json::parse(responses().whole(p.script));
  EXPECT_EQ(v.at("model"), "m\"q");
  EXPECT_EQ(std::string_view(v.at("output").at(0).at("content").at(0).at("text").as_string())
                .substr(0, 6),
            "say \"h");
  auto events = events_of(stream_of(p.script));
  EXPECT_EQ(events.back().data.at("response"), v);
}

}  // namespace
}  // namespace torii
