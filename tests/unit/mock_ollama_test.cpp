// `torii mock` speaking Ollama's /api/chat: parse, whole answers and NDJSON streams, checked
// through the Ollama adapter (the two sides of the wire are written independently).
#include <map>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "providers/ollama.h"
#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;
namespace {

const MockFormat& ollama() {
  const MockFormat* f = find_mock_format("/api/chat");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(f->name(), "ollama");
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
  c.name = "ol";
  return std::move(*make_ollama(c, Endpoint{}));
}

struct Played {
  MockTurn turn;
  std::unique_ptr<MockWords> words;
  MockScript script;
};

Played play(std::string_view body, MockKnobs knobs = {}) {
  Played p;
  auto t = ollama().parse("/api/chat", {}, body);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  p.turn = *t;
  p.words = std::make_unique<MockWords>(p.turn.last_user_text, knobs.total_words());
  p.script = make_mock_script(p.turn, knobs, *p.words);
  p.script.id = "mock-1";
  p.script.created = 1721680408;
  return p;
}

std::string stream_of(const MockScript& s) {
  std::string out;
  ollama().stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    ollama().stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk, mock_chunk_words(s, i));
  ollama().stream_end(out, s);
  return out;
}

TEST(MockOllama, ParsesTheRequest) {
  EXPECT_EQ(ollama().stream_content_type(), "application/x-ndjson");
  auto t = ollama().parse("/api/chat", {}, R"({"model":"llama3.2","think":true,
    "options":{"num_predict":4},"messages":[{"role":"user","content":"hi you","images":["AA=="]}],
    "tools":[{"type":"function","function":{"name":"lookup"}}]})");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->stream);  // Ollama streams by default
  EXPECT_EQ(t->max_tokens, 4);
  EXPECT_TRUE(t->thinking);
  EXPECT_EQ(t->images, 1);
  EXPECT_EQ(t->tool_name, "lookup");
  EXPECT_EQ(t->last_user_text, "hi you");
  auto bad = ollama().parse("/api/chat", {}, R"({"messages":[{"role":"user","content":"x"}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "model");
  auto v = json::parse(ollama().error_body(bad.error())).as_object();
  EXPECT_EQ(v["error"], "model is required");
}

TEST(MockOllama, WholeAndStreamedTextAgreeThroughTheAdapter) {
  MockKnobs k;
  k.chunks = 4;
  k.thinking = 1;
  auto p = play(R"({"model":"llama3.2","stream":false,"messages":[{"role":"user","content":"a b"}]})", k);
  EXPECT_FALSE(p.turn.stream);
  auto a = adapter();
  auto whole = a->decode_chat(ollama().whole(p.script), false);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(whole->result.model, "llama3.2");
  EXPECT_EQ(whole->result.created, 1721680408);
  ASSERT_EQ(whole->result.parts.size(), 2u);
  EXPECT_EQ(whole->result.parts[0].text, kMockThinking);
  EXPECT_EQ(whole->result.parts[1].text, "a b a b ");
  EXPECT_EQ(whole->result.usage.completion_tokens, p.script.completion_tokens);

  std::string s = stream_of(p.script);
  Collect sink;
  Usage usage;
  bool done = false;
  auto dec = a->stream_decoder(false);
  for (std::size_t i = 0; i < s.size(); i += 3)
    ASSERT_TRUE(dec->feed(std::string_view(s).substr(i, 3), sink, usage, done).ok());
  EXPECT_TRUE(done);
  EXPECT_EQ(sink.text, "a b a b ");
  EXPECT_EQ(sink.thinking, kMockThinking);
  EXPECT_EQ(sink.finish, FinishReason::stop);
  EXPECT_EQ(usage.prompt_tokens, p.script.prompt_tokens);
}

TEST(MockOllama, ToolCallWholeEqualsStreamed) {
  auto p = play(R"({"model":"m","messages":[{"role":"user","content":"weather"}],
    "tools":[{"type":"function","function":{"name":"get_weather"}}]})");
  auto a = adapter();
  auto whole = a->decode_chat(ollama().whole(p.script), false);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->result.finish, FinishReason::tool_calls);
  ASSERT_EQ(whole->result.parts.size(), 1u);
  const Part& call = whole->result.parts[0];
  EXPECT_EQ(call.id, "call_0");
  EXPECT_EQ(json::parse(call.arguments), json::parse(R"({"q":"weather"})"));
  Collect sink;
  Usage usage;
  bool done = false;
  auto dec = a->stream_decoder(false);
  ASSERT_TRUE(dec->feed(stream_of(p.script), sink, usage, done).ok());
  ASSERT_TRUE(done);
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls[0].id, call.id);
  EXPECT_EQ(sink.calls[0].name, call.name);
  EXPECT_EQ(sink.calls[0].arguments, call.arguments);
  EXPECT_EQ(sink.finish, FinishReason::tool_calls);
}

TEST(MockOllama, TruncatedIsLength) {
  auto p = play(R"({"model":"m","options":{"num_predict":1},"messages":[{"role":"user","content":"a b"}]})");
  auto whole = adapter()->decode_chat(ollama().whole(p.script), false);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->result.finish, FinishReason::length);
  EXPECT_EQ(whole->result.parts.at(0).text, "a ");
}

}  // namespace
}  // namespace torii
