// The mock's Bedrock Converse format: path matching, the SigV4 header requirement, request
// parsing, whole answers, and event-stream answers read back by the real Bedrock adapter.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/bedrock/bedrock.h"
#include "tools/mock/mock_format.h"
#include "tools/mock/mock_wire.h"

namespace torii {
namespace {
namespace json = boost::json;

const Headers kSigned = {
    {"authorization",
     "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date, Signature=00"},
    {"x-amz-date", "20250101T000000Z"}};

const MockFormat& format() {
  const MockFormat* f = find_mock_format("/model/anthropic.claude-v2%3A1/converse");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(f->name(), "bedrock");
  return *f;
}

TEST(MockBedrock, MatchesConversePathsOnly) {
  const MockFormat& f = format();
  EXPECT_TRUE(f.matches("/model/m/converse"));
  EXPECT_TRUE(f.matches("/model/m/converse-stream"));
  EXPECT_TRUE(f.matches("/base/model/arn%3Aaws%3Ax%2Fy/converse"));
  EXPECT_FALSE(f.matches("/model/m/invoke"));
  EXPECT_FALSE(f.matches("/model//converse"));
  EXPECT_FALSE(f.matches("/v1/chat/completions"));
}

TEST(MockBedrock, RequiresASigV4Header) {
  const MockFormat& f = format();
  const std::string body = R"({"messages":[{"role":"user","content":[{"text":"hi"}]}]})";
  auto r = f.parse("/model/m/converse", {}, body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 403);
  r = f.parse("/model/m/converse", {{"authorization", "Bearer x"}, {"x-amz-date", "1"}}, body);
  EXPECT_FALSE(r.ok());
  r = f.parse("/model/m/converse", {kSigned[0]}, body);  // no x-amz-date
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(f.parse("/model/m/converse", kSigned, body).ok());
  json::value err = json::parse(f.error_body(r.error()));
  ASSERT_TRUE(err.is_object() && err.as_object().contains("message"));
}

TEST(MockBedrock, ParsesAConverseRequest) {
  const MockFormat& f = format();
  auto r = f.parse("/model/anthropic.claude-v2%3A1/converse-stream", kSigned, R"({
    "system": [{"text": "Be brief."}],
    "messages": [
      {"role": "user", "content": [{"text": "alpha beta"},
        {"image": {"format": "png", "source": {"bytes": "AAAA"}}}]},
      {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f",
        "input": {}}}]},
      {"role": "user", "content": [{"toolResult": {"toolUseId": "t",
        "content": [{"text": "done"}]}}]}],
    "inferenceConfig": {"maxTokens": 3},
    "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}]},
    "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}
  })");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "anthropic.claude-v2:1");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->last_user_text, "alpha beta");
  EXPECT_EQ(r->images, 1);
  EXPECT_EQ(r->max_tokens, 3);
  EXPECT_EQ(r->tool_name, "f");
  EXPECT_TRUE(r->last_is_tool_result);
  EXPECT_TRUE(r->thinking);
  EXPECT_GE(r->prompt_tokens, 1);

  EXPECT_EQ(f.parse("/model/m/converse", kSigned, "{").error().status, 400);
  EXPECT_EQ(f.parse("/model/m/converse", kSigned, R"({"messages":{}})").error().status, 400);
}

MockTurn turn_of(std::string_view body, bool stream) {
  auto r = format().parse(stream ? "/model/m/converse-stream" : "/model/m/converse", kSigned,
                          body);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : MockTurn{};
}

std::string whole_answer(const MockTurn& turn, const MockKnobs& knobs) {
  MockWords words(turn.last_user_text, knobs.total_words());
  MockScript s = make_mock_script(turn, knobs, words);
  s.id = "mock-1";
  return format().whole(s);
}

std::string stream_answer(const MockTurn& turn, const MockKnobs& knobs) {
  MockWords words(turn.last_user_text, knobs.total_words());
  MockScript s = make_mock_script(turn, knobs, words);
  s.id = "mock-1";
  std::string out;
  format().stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    format().stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk, mock_chunk_words(s, i));
  format().stream_end(out, s);
  return out;
}

std::unique_ptr<Provider> adapter() {
  ProviderConfig c;
  c.name = "aws";
  c.region = "us-east-1";
  c.aws_access_key_id.value = "AKID";
  c.aws_secret_access_key.value = "secret";
  auto ep = make_endpoint("http://127.0.0.1:1", "", {});
  auto p = make_bedrock(c, std::move(*ep));
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

struct Sink final : StreamSink {
  std::string text, thinking, signature, args, tool_name, finish;
  Usage usage;
  int starts = 0;
  void event(const StreamEvent& e) override {
    switch (e.kind) {
      case StreamEvent::Kind::start: ++starts; break;
      case StreamEvent::Kind::text: text += e.text; break;
      case StreamEvent::Kind::thinking: thinking += e.text; break;
      case StreamEvent::Kind::thinking_signature: signature += e.text; break;
      case StreamEvent::Kind::tool_call_start: tool_name = e.name; break;
      case StreamEvent::Kind::tool_call_args: args += e.text; break;
      case StreamEvent::Kind::finish: finish = openai_finish_reason(e.finish); break;
      case StreamEvent::Kind::usage: usage = e.usage; break;
      default: break;
    }
  }
  void raw(std::string_view, std::string_view, bool) override {}
};

TEST(MockBedrock, WholeAndStreamAgreeThroughTheAdapter) {
  const std::string body =
      R"({"messages":[{"role":"user","content":[{"text":"one two three"}]}],)"
      R"("additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}}})";
  MockKnobs knobs;
  knobs.chunks = 4;
  knobs.cached_tokens = 7;
  auto p = adapter();

  auto whole = p->decode_chat(whole_answer(turn_of(body, false), knobs), false);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  const ChatResult& w = whole->result;
  ASSERT_EQ(w.parts.size(), 2u);
  EXPECT_EQ(w.parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(w.parts[0].text, kMockThinking);
  EXPECT_EQ(w.parts[0].signature, kMockSignature);
  EXPECT_EQ(w.parts[1].text, "one two three one ");
  EXPECT_EQ(w.finish, FinishReason::stop);
  EXPECT_EQ(w.usage.cached_tokens, 7);

  const std::string bytes = stream_answer(turn_of(body, true), knobs);
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{13}, bytes.size() / 2}) {
    Sink sink;
    Usage usage;
    bool done = false;
    auto d = p->stream_decoder(false);
    ASSERT_TRUE(d->feed(std::string_view(bytes).substr(0, cut), sink, usage, done).ok());
    ASSERT_TRUE(d->feed(std::string_view(bytes).substr(cut), sink, usage, done).ok());
    EXPECT_TRUE(done);
    EXPECT_EQ(sink.starts, 1);
    EXPECT_EQ(sink.text, w.parts[1].text);
    EXPECT_EQ(sink.thinking, kMockThinking);
    EXPECT_EQ(sink.signature, kMockSignature);
    EXPECT_EQ(sink.finish, "stop");
    EXPECT_EQ(sink.usage.prompt_tokens, w.usage.prompt_tokens);
    EXPECT_EQ(sink.usage.completion_tokens, w.usage.completion_tokens);
    EXPECT_EQ(sink.usage.cached_tokens, 7);
  }
}

TEST(MockBedrock, ToolCallWholeEqualsStreamed) {
  const std::string body =
      R"({"messages":[{"role":"user","content":[{"text":"weather paris"}]}],)"
      R"("toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{}}}}]}})";
  MockKnobs knobs;
  auto p = adapter();
  auto whole = p->decode_chat(whole_answer(turn_of(body, false), knobs), false);
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ(whole->result.parts.size(), 1u);
  EXPECT_EQ(whole->result.parts[0].name, "get_weather");
  EXPECT_EQ(whole->result.finish, FinishReason::tool_calls);

  Sink sink;
  Usage usage;
  bool done = false;
  auto d = p->stream_decoder(false);
  ASSERT_TRUE(d->feed(stream_answer(turn_of(body, true), knobs), sink, usage, done).ok());
  EXPECT_EQ(sink.tool_name, "get_weather");
  EXPECT_EQ(json::parse(sink.args), json::parse(whole->result.parts[0].arguments));
  EXPECT_EQ(sink.finish, "tool_calls");
  EXPECT_TRUE(sink.text.empty());
}

TEST(MockBedrock, BlockedAndTruncatedStopReasons) {
  const std::string body = R"({"messages":[{"role":"user","content":[{"text":"a b c"}]}],)"
                           R"("inferenceConfig":{"maxTokens":2}})";
  auto p = adapter();
  MockKnobs knobs;
  auto truncated = p->decode_chat(whole_answer(turn_of(body, false), knobs), false);
  ASSERT_TRUE(truncated.ok());
  EXPECT_EQ(truncated->result.finish, FinishReason::length);
  EXPECT_EQ(truncated->result.native_finish, "max_tokens");
  knobs.blocked = 1;
  auto blocked = p->decode_chat(whole_answer(turn_of(body, false), knobs), false);
  ASSERT_TRUE(blocked.ok());
  EXPECT_EQ(blocked->result.finish, FinishReason::content_filter);
  EXPECT_TRUE(blocked->result.parts.empty());
  Sink sink;
  Usage usage;
  bool done = false;
  ASSERT_TRUE(p->stream_decoder(false)
                  ->feed(stream_answer(turn_of(body, true), knobs), sink, usage, done)
                  .ok());
  EXPECT_EQ(sink.finish, "content_filter");
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace torii
