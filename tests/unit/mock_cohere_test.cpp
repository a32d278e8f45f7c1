// `torii mock` speaking Cohere v2: parse, whole answers and SSE streams, checked through the
// Cohere adapter (the two sides of the wire are written independently).
#include <map>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "providers/cohere.h"
#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;
namespace {

const MockFormat& cohere() {
  const MockFormat* f = find_mock_format("/v2/chat");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(f->name(), "cohere");
  return *f;
}

struct Collect : StreamSink {
  std::string text, thinking;
  std::map<int, Part> calls;
  FinishReason finish = FinishReason::unset;
  void event(const StreamEvent& e) override {
    if (e.kind == StreamEvent::Kind::text) text += e.text;
    if (e.kind == StreamEvent::Kind::thinking) thinking += e.text;
    if (e.kind == StreamEvent::Kind::tool_call_start) {
      calls[e.index].id = e.id;
      calls[e.index].name = e.name;
    }
    if (e.kind == StreamEvent::Kind::tool_call_args) calls[e.index].arguments += e.text;
    if (e.kind == StreamEvent::Kind::finish) finish = e.finish;
  }
  void raw(std::string_view, std::string_view, bool) override {}
};

std::unique_ptr<Provider> adapter() {
  ProviderConfig c;
  c.name = "co";
  c.api_key.value = "k";
  return std::move(*make_cohere(c, Endpoint{}));
}

struct Played {
  MockTurn turn;
  std::unique_ptr<MockWords> words;
  MockScript script;
};

Played play(std::string_view body, MockKnobs knobs = {}) {
  Played p;
  auto t = cohere().parse("/v2/chat", {}, body);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  p.turn = *t;
  p.words = std::make_unique<MockWords>(p.turn.last_user_text, knobs.total_words());
  p.script = make_mock_script(p.turn, knobs, *p.words);
  p.script.id = "mock-1";
  return p;
}

std::string stream_of(const MockScript& s) {
  std::string out;
  cohere().stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    cohere().stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk, mock_chunk_words(s, i));
  cohere().stream_end(out, s);
  return out;
}

TEST(MockCohere, ParsesTheRequest) {
  auto t = cohere().parse("/v2/chat", {}, R"({"model":"command-a","stream":true,"max_tokens":3,
    "thinking":{"type":"enabled"},"messages":[{"role":"user","content":[{"type":"text",
    "text":"hello there"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}],
    "tools":[{"type":"function","function":{"name":"lookup"}}]})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->model, "command-a");
  EXPECT_TRUE(t->stream);
  EXPECT_EQ(t->max_tokens, 3);
  EXPECT_TRUE(t->thinking);
  EXPECT_EQ(t->images, 1);
  EXPECT_EQ(t->tool_name, "lookup");
  EXPECT_EQ(t->last_user_text, "hello there");
  auto bad = cohere().parse("/v2/chat", {}, R"({"messages":[]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status, 400);
  std::string body = cohere().error_body(bad.error());
  auto v = json::parse(body).as_object();
  EXPECT_TRUE(v["message"].is_string());
}

TEST(MockCohere, WholeAndStreamedTextAgreeThroughTheAdapter) {
  MockKnobs k;
  k.chunks = 3;
  k.tokens_per_chunk = 2;
  k.thinking = 1;
  auto p = play(R"({"model":"command-a","messages":[{"role":"user","content":"one two three"}]})", k);
  auto a = adapter();
  auto whole = a->decode_chat(cohere().whole(p.script), false);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  ASSERT_EQ(whole->result.parts.size(), 2u);
  EXPECT_EQ(whole->result.parts[0].text, kMockThinking);
  EXPECT_EQ(whole->result.parts[1].text, "one two three one two three ");
  EXPECT_EQ(whole->result.finish, FinishReason::stop);
  EXPECT_EQ(whole->result.usage.completion_tokens, p.script.completion_tokens);
  EXPECT_EQ(whole->result.usage.prompt_tokens, p.script.prompt_tokens);

  std::string s = stream_of(p.script);
  Collect sink;
  Usage usage;
  bool done = false;
  auto dec = a->stream_decoder(false);
  ASSERT_TRUE(dec->feed(s, sink, usage, done).ok());
  EXPECT_TRUE(done);
  EXPECT_EQ(sink.text, whole->result.parts[1].text);
  EXPECT_EQ(sink.thinking, kMockThinking);
  EXPECT_EQ(usage.completion_tokens, p.script.completion_tokens);
}

TEST(MockCohere, ToolCallWholeEqualsStreamed) {
  auto p = play(R"({"model":"command-a","messages":[{"role":"user","content":"weather paris"}],
    "tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}]})");
  ASSERT_EQ(p.script.tool_name, "get_weather");
  auto a = adapter();
  auto whole = a->decode_chat(cohere().whole(p.script), false);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->result.finish, FinishReason::tool_calls);
  ASSERT_EQ(whole->result.parts.size(), 1u);
  const Part& call = whole->result.parts[0];
  EXPECT_EQ(call.arguments, R"({"q":"weather"})");
  std::string s = stream_of(p.script);
  EXPECT_EQ(s.find("content-delta"), std::string::npos);
  Collect sink;
  Usage usage;
  bool done = false;
  auto dec = a->stream_decoder(false);
  for (char c : s) ASSERT_TRUE(dec->feed(std::string_view(&c, 1), sink, usage, done).ok());
  ASSERT_TRUE(done);
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls[0].id, call.id);
  EXPECT_EQ(sink.calls[0].name, call.name);
  EXPECT_EQ(sink.calls[0].arguments, call.arguments);
  EXPECT_EQ(sink.finish, FinishReason::tool_calls);
}

TEST(MockCohere, BlockedAndTruncated) {
  MockKnobs k;
  k.blocked = 1;
  auto p = play(R"({"model":"m","messages":[{"role":"user","content":"x"}]})", k);
  auto a = adapter();
  auto whole = a->decode_chat(cohere().whole(p.script), false);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->result.finish, FinishReason::content_filter);
  EXPECT_TRUE(whole->result.parts.empty());
  auto t = play(R"({"model":"m","max_tokens":2,"messages":[{"role":"user","content":"a b c"}]})");
  auto w2 = a->decode_chat(cohere().whole(t.script), false);
  ASSERT_TRUE(w2.ok());
  EXPECT_EQ(w2->result.finish, FinishReason::length);
  EXPECT_EQ(w2->result.parts.at(0).text, "a b ");
}

}  // namespace
}  // namespace torii
