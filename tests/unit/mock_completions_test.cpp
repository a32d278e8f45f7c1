// `torii mock` speaking OpenAI's legacy completions API (POST /v1/completions): parse, the
// text_completion object and the `data:` stream. Every produced body is parsed as JSON.
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;
namespace {

const MockFormat& completions() {
  const MockFormat* f = find_mock_format("/v1/completions");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(f->name(), "openai-completions");
  return *f;
}

struct Played {
  MockTurn turn;
  std::unique_ptr<MockWords> words;
  MockScript script;
};

Played play(std::string_view body, MockKnobs knobs = {}) {
  Played p;
  auto t = completions().parse("/v1/completions", {}, body);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  if (t.ok()) p.turn = *t;
  p.words = std::make_unique<MockWords>(p.turn.last_user_text, knobs.total_words());
  p.script = make_mock_script(p.turn, knobs, *p.words);
  p.script.id = "mock-3";
  p.script.created = 1589478378;
  return p;
}

std::string stream_of(const MockScript& s) {
  std::string out;
  completions().stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    completions().stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk,
                              mock_chunk_words(s, i));
  completions().stream_end(out, s);
  return out;
}

// The `data:` payloads of an SSE body, in order; "[DONE]" is kept as the string "[DONE]".
std::vector<json::value> chunks_of(const std::string& sse) {
  std::vector<json::value> out;
  std::size_t at = 0;
  while (at < sse.size()) {
    const std::size_t end = sse.find("\n\n", at);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) break;
    std::string_view block = std::string_view(sse).substr(at, end - at);
    at = end + 2;
    EXPECT_TRUE(block.starts_with("data: ")) << block;
    block.remove_prefix(6);
    if (block == "[DONE]") {
      out.emplace_back("[DONE]");
      continue;
    }
    json::error_code ec;
    out.push_back(json::parse(block, ec));
    EXPECT_FALSE(ec) << block;
  }
  return out;
}

TEST(MockCompletions, MatchesOnlyItsPaths) {
  EXPECT_EQ(find_mock_format("/completions"), &completions());
  EXPECT_NE(find_mock_format("/v1/chat/completions"), &completions());
  EXPECT_NE(find_mock_format("/chat/completions"), nullptr);  // still the chat format
  EXPECT_FALSE(completions().matches("/v1/completions/x"));
}

TEST(MockCompletions, ParsesTheRequest) {
  auto t = completions().parse("/v1/completions", {}, R"({"model":"gpt-3.5-turbo-instruct",
    "prompt":"Say this is a test","max_tokens":7,"stream":true,
    "stream_options":{"include_usage":true},
    "tools":[{"type":"function","function":{"name":"ignored"}}],"mock":{"chunks":3}})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->model, "gpt-3.5-turbo-instruct");
  EXPECT_EQ(t->last_user_text, "Say this is a test");
  EXPECT_EQ(t->prompt_tokens, 5);  // 18 bytes
  EXPECT_EQ(t->max_tokens, 7);
  EXPECT_TRUE(t->stream);
  EXPECT_TRUE(t->include_usage);
  EXPECT_TRUE(t->tool_name.empty());  // tools do not exist in this API
  EXPECT_EQ(t->knobs.at("chunks"), 3);
}

TEST(MockCompletions, DefaultsAndPromptArrays) {
  auto t = completions().parse("/v1/completions", {},
                               R"({"model":"m","prompt":["first one","second",[1,2,3]]})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->max_tokens, 16);  // the API's default
  EXPECT_FALSE(t->stream);
  EXPECT_FALSE(t->include_usage);
  EXPECT_EQ(t->last_user_text, "second");
  EXPECT_EQ(t->prompt_tokens, (15 + 3) / 4 + 3);  // text bytes / 4 + token ids
  auto nul = completions().parse("/v1/completions", {},
                                 R"({"model":"m","prompt":"","max_tokens":null})");
  ASSERT_TRUE(nul.ok());
  EXPECT_EQ(nul->max_tokens, 16);
  EXPECT_EQ(nul->prompt_tokens, 1);
}

TEST(MockCompletions, BadRequestsAreOpenAiErrors) {
  struct Case {
    std::string_view body, param;
  };
  for (const Case& c : {Case{R"({"prompt":"x"})", "model"}, Case{R"({"model":"m"})", "prompt"},
                        Case{R"({"model":"m","prompt":{"a":1}})", "prompt"},
                        Case{R"({"model":"m","prompt":[true]})", "prompt"},
                        Case{R"({"model":"m","prompt":"x","stream":1})", "stream"},
                        Case{R"({"model":"m","prompt":"x","max_tokens":"9"})", "max_tokens"},
                        Case{R"(nope)", ""}}) {
    auto t = completions().parse("/v1/completions", {}, c.body);
    ASSERT_FALSE(t.ok()) << c.body;
    EXPECT_EQ(t.error().status, 400);
    EXPECT_EQ(t.error().param, c.param) << c.body;
    json::value body = json::parse(completions().error_body(t.error()));
    EXPECT_EQ(body.at("error").at("type"), "invalid_request_error");
  }
}

TEST(MockCompletions, WholeTextCompletion) {
  MockKnobs k;
  k.chunks = 4;
  k.cached_tokens = 2;
  auto p = play(R"({"model":"gpt-3.5-turbo-instruct","prompt":"this is"})", k);
  json::value v = json::parse(completions().whole(p.script));
  EXPECT_EQ(v.at("id"), "cmpl-mock-3");
  EXPECT_EQ(v.at("object"), "text_completion");
  EXPECT_EQ(v.at("created"), 1589478378);
  EXPECT_EQ(v.at("model"), "gpt-3.5-turbo-instruct");
  const json::array& choices = v.at("choices").as_array();
  ASSERT_EQ(choices.size(), 1u);
  EXPECT_EQ(choices[0].at("text"), "this is this is ");
  EXPECT_EQ(choices[0].at("index"), 0);
  EXPECT_TRUE(choices[0].at("logprobs").is_null());
  EXPECT_EQ(choices[0].at("finish_reason"), "stop");
  const json::value& u = v.at("usage");
  EXPECT_EQ(u.at("prompt_tokens"), 2 + 2);
  EXPECT_EQ(u.at("completion_tokens"), 4);
  EXPECT_EQ(u.at("total_tokens"), 8);
  EXPECT_EQ(u.at("prompt_tokens_details").at("cached_tokens"), 2);
}

TEST(MockCompletions, DefaultMaxTokensTruncatesAt16) {
  MockKnobs k;
  k.chunks = 20;  // 20 words wanted, 16 allowed by default
  auto p = play(R"({"model":"m","prompt":"w"})", k);
  EXPECT_TRUE(p.script.truncated);
  json::value v = json::parse(completions().whole(p.script));
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 16);
  EXPECT_EQ(v.at("choices").at(0).at("text").as_string().size(), 32u);  // "w " x 16

  MockKnobs b;
  b.blocked = 1;
  auto blocked = play(R"({"model":"m","prompt":"w"})", b);
  json::value vb = json::parse(completions().whole(blocked.script));
  EXPECT_EQ(vb.at("choices").at(0).at("finish_reason"), "content_filter");
  EXPECT_EQ(vb.at("choices").at(0).at("text"), "");
}

TEST(MockCompletions, ToolsNeverMakeACall) {
  MockKnobs k;
  k.tool_call = 1;
  auto p = play(R"({"model":"m","prompt":"x","tools":[{"type":"function",
    "function":{"name":"f"}}]})", k);
  EXPECT_TRUE(p.script.tool_name.empty());
  EXPECT_EQ(json::parse(completions().whole(p.script)).at("choices").at(0).at("finish_reason"),
            "stop");
}

TEST(MockCompletions, StreamWithUsage) {
  MockKnobs k;
  k.chunks = 3;
  k.tokens_per_chunk = 2;
  auto p = play(R"({"model":"m","prompt":"red green blue","stream":true,
    "stream_options":{"include_usage":true}})", k);
  auto chunks = chunks_of(stream_of(p.script));
  ASSERT_EQ(chunks.size(), 3u + 1 + 1 + 1);  // content, finish, usage, [DONE]
  std::string text;
  for (std::size_t i = 0; i < 3; ++i) {
    const json::value& c = chunks[i];
    EXPECT_EQ(c.at("id"), "cmpl-mock-3");
    EXPECT_EQ(c.at("object"), "text_completion");
    EXPECT_EQ(c.at("created"), 1589478378);
    EXPECT_EQ(c.at("model"), "m");
    const json::value& choice = c.at("choices").at(0);
    EXPECT_EQ(choice.at("index"), 0);
    EXPECT_TRUE(choice.at("logprobs").is_null());
    EXPECT_TRUE(choice.at("finish_reason").is_null());
    text += choice.at("text").as_string();
  }
  EXPECT_EQ(text, "red green blue red green blue ");
  EXPECT_EQ(chunks[3].at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(chunks[3].at("choices").at(0).at("text"), "");
  EXPECT_TRUE(chunks[4].at("choices").as_array().empty());
  EXPECT_EQ(chunks[4].at("usage").at("completion_tokens"), 6);
  EXPECT_EQ(chunks[4].at("usage").at("prompt_tokens"), 4);
  EXPECT_EQ(chunks[5], "[DONE]");
  // The whole answer has the same text.
  EXPECT_EQ(json::parse(completions().whole(p.script)).at("choices").at(0).at("text"),
            json::value(text));
}

TEST(MockCompletions, StreamWithoutUsageTruncated) {
  MockKnobs k;
  k.chunks = 4;
  auto p = play(R"({"model":"m","prompt":"a b","stream":true,"max_tokens":2})", k);
  auto chunks = chunks_of(stream_of(p.script));
  ASSERT_EQ(chunks.size(), 2u + 1 + 1);  // 2 content chunks, finish, [DONE]: no usage
  EXPECT_EQ(chunks[2].at("choices").at(0).at("finish_reason"), "length");
  EXPECT_FALSE(chunks[2].as_object().contains("usage"));
  EXPECT_EQ(chunks.back(), "[DONE]");
}

}  // namespace
}  // namespace torii
