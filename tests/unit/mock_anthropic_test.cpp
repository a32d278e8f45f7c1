// The Anthropic format of `torii mock`: request parsing, whole answers, the SSE event sequence,
// errors, and a round trip through the Anthropic provider's decoders (streamed == whole).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/anthropic.h"
#include "tools/mock/mock_format.h"
#include "upstream/sse_parser.h"

namespace torii {
namespace {
namespace json = boost::json;

const MockFormat& format() {
  const MockFormat* f = find_mock_format("/v1/messages");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(f->name(), "anthropic");
  return *f;
}

const Headers kHeaders = {{"anthropic-version", "2023-06-01"}, {"x-api-key", "k"}};

Result<MockTurn> parse_turn(std::string_view body, const Headers& h = kHeaders) {
  return format().parse("/v1/messages", h, body);
}

TEST(MockAnthropic, MatchesOnlyMessages) {
  EXPECT_TRUE(format().matches("/v1/messages"));
  EXPECT_FALSE(format().matches("/v1/messages/count_tokens"));
  EXPECT_FALSE(format().matches("/v1/chat/completions"));
}

TEST(MockAnthropic, ParseRejectsWhatTheRealApiRejects) {
  const std::string ok = R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";
  EXPECT_TRUE(parse_turn(ok).ok());
  auto no_version = parse_turn(ok, {});
  ASSERT_FALSE(no_version.ok());
  EXPECT_EQ(no_version.error().status, 400);
  for (std::string_view bad :
       {"{", "[]", R"({"max_tokens":5,"messages":[]})", R"({"model":"c","max_tokens":5})",
        R"({"model":"c","messages":[]})", R"({"model":"c","max_tokens":"5","messages":[]})",
        R"({"model":"c","max_tokens":5,"messages":[{"role":"system","content":"x"}]})",
        R"({"model":"c","max_tokens":5,"messages":[],"stream":"yes"})"}) {
    auto r = parse_turn(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().status, 400) << bad;
  }
}

TEST(MockAnthropic, ParseReadsTheTurn) {
  auto t = parse_turn(R"({
    "model":"claude-x","max_tokens":300,"stream":true,
    "system":[{"type":"text","text":"Be brief and precise."}],
    "thinking":{"type":"enabled","budget_tokens":1024},
    "tools":[{"name":"get_weather","input_schema":{"type":"object"}},{"name":"other"}],
    "tool_choice":{"type":"tool","name":"other"},
    "messages":[
      {"role":"user","content":[{"type":"text","text":"Weather in Paris please"},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]},
      {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"get_weather","input":{"q":"Paris"}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"sunny"}]}],
    "mock":{"chunks":3}})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->model, "claude-x");
  EXPECT_TRUE(t->stream);
  EXPECT_TRUE(t->include_usage);
  EXPECT_EQ(t->max_tokens, 300);
  EXPECT_TRUE(t->thinking);
  EXPECT_EQ(t->images, 1);
  EXPECT_TRUE(t->last_is_tool_result);
  EXPECT_EQ(t->last_user_text, "Weather in Paris please");  // the tool-result turn has no words
  EXPECT_EQ(t->tool_name, "other");                         // tool_choice names it
  // system 21 + text 23 + tool name 11 + input 13 + result 5 = 73 bytes → 19 tokens
  EXPECT_EQ(t->prompt_tokens, 19);
  EXPECT_EQ(t->knobs.at("chunks").as_int64(), 3);

  auto none = parse_turn(R"({"model":"c","max_tokens":5,"tools":[{"name":"f"}],
      "tool_choice":{"type":"none"},"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->tool_name, "");
  EXPECT_FALSE(none->thinking);
  auto first = parse_turn(R"({"model":"c","max_tokens":5,"tools":[{"name":"f"}],
      "messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(first->tool_name, "f");
  EXPECT_FALSE(first->last_is_tool_result);
}

struct Fixture {
  MockWords words{std::string_view("alpha beta gamma"), 8};
  MockScript script(bool thinking, std::string tool, bool blocked = false) {
    MockScript s;
    s.id = "abc";
    s.model = "claude-x";
    s.words = &words;
    s.thinking = thinking;
    s.blocked = blocked;
    s.tokens_per_chunk = 2;
    if (!tool.empty()) {
      s.tool_name = tool;
      s.tool_args = R"({"q":"alpha"})";
    } else if (!blocked) {
      s.content_words = 5;
      s.chunks = 3;
    }
    s.prompt_tokens = 100;  // all input: 60 plain + 30 cached + 10 written
    s.cached_tokens = 30;
    s.cache_write_tokens = 10;
    s.reasoning_tokens = thinking ? kMockThinkingTokens : 0;
    s.completion_tokens = s.content_words + s.reasoning_tokens + (tool.empty() ? 0 : 4);
    return s;
  }
};

TEST(MockAnthropic, WholeAnswerShapesAndUsage) {
  Fixture f;
  MockScript s = f.script(true, "");
  json::value v = json::parse(format().whole(s));
  EXPECT_EQ(v.at("id").as_string(), "msg_abc");
  EXPECT_EQ(v.at("type").as_string(), "message");
  EXPECT_EQ(v.at("role").as_string(), "assistant");
  EXPECT_EQ(v.at("model").as_string(), "claude-x");
  const json::array& c = v.at("content").as_array();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].at("type").as_string(), "thinking");
  EXPECT_EQ(c[0].at("thinking").as_string(), kMockThinking);
  EXPECT_EQ(c[0].at("signature").as_string(), kMockSignature);
  EXPECT_EQ(c[1].at("text").as_string(), "alpha beta gamma alpha beta ");
  EXPECT_EQ(v.at("stop_reason").as_string(), "end_turn");
  EXPECT_EQ(v.at("usage"), json::parse(R"({"input_tokens":60,"cache_creation_input_tokens":10,
      "cache_read_input_tokens":30,"output_tokens":10})"));

  s = f.script(false, "get_weather");
  v = json::parse(format().whole(s));
  ASSERT_EQ(v.at("content").as_array().size(), 1u);
  EXPECT_EQ(v.at("content").at(0), json::parse(R"({"type":"tool_use","id":"toolu_mock_1",
      "name":"get_weather","input":{"q":"alpha"}})"));
  EXPECT_EQ(v.at("stop_reason").as_string(), "tool_use");

  v = json::parse(format().whole(f.script(false, "", true)));
  EXPECT_EQ(v.at("stop_reason").as_string(), "refusal");
  EXPECT_TRUE(v.at("content").as_array().empty());
  s = f.script(false, "");
  s.truncated = true;
  EXPECT_EQ(json::parse(format().whole(s)).at("stop_reason").as_string(), "max_tokens");
}

std::string play(const MockScript& s) {
  std::string out;
  format().stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    format().stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk, mock_chunk_words(s, i));
  format().stream_end(out, s);
  return out;
}

std::vector<std::pair<std::string, json::value>> events(std::string_view sse) {
  std::vector<std::pair<std::string, json::value>> out;
  SseParser p;
  p.feed(sse, [&](SseEvent& e) {
    json::value v = json::parse(e.data);
    EXPECT_EQ(v.at("type").as_string(), e.event);  // the event name and the type agree
    out.emplace_back(e.event, std::move(v));
    return true;
  });
  return out;
}

TEST(MockAnthropic, StreamEventSequenceWithThinkingAndText) {
  Fixture f;
  auto ev = events(play(f.script(true, "")));
  std::vector<std::string> names;
  for (auto& [n, v] : ev) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "message_start", "ping", "content_block_start", "content_block_delta",
                       "content_block_delta", "content_block_delta", "content_block_stop",
                       "content_block_start", "content_block_delta", "content_block_delta",
                       "content_block_delta", "content_block_stop", "message_delta",
                       "message_stop"}));
  EXPECT_EQ(ev[0].second.at("message").at("usage").at("input_tokens").as_int64(), 60);
  EXPECT_EQ(ev[3].second.at("delta").at("type").as_string(), "thinking_delta");
  EXPECT_EQ(ev[5].second.at("delta").at("type").as_string(), "signature_delta");
  std::string thinking = std::string(ev[3].second.at("delta").at("thinking").as_string()) +
                         std::string(ev[4].second.at("delta").at("thinking").as_string());
  EXPECT_EQ(thinking, kMockThinking);
  std::string text;
  for (int i = 8; i <= 10; ++i) {
    EXPECT_EQ(ev[i].second.at("index").as_int64(), 1);
    text += std::string(ev[i].second.at("delta").at("text").as_string());
  }
  EXPECT_EQ(text, "alpha beta gamma alpha beta ");
  EXPECT_EQ(ev[12].second.at("delta").at("stop_reason").as_string(), "end_turn");
  EXPECT_EQ(ev[12].second.at("usage").at("output_tokens").as_int64(), 10);
}

TEST(MockAnthropic, StreamToolCallInFragments) {
  Fixture f;
  MockScript s = f.script(false, "get_weather");
  auto ev = events(play(s));
  ASSERT_GE(ev.size(), 8u);
  EXPECT_EQ(ev[2].second.at("content_block"),
            json::parse(R"({"type":"tool_use","id":"toolu_mock_1","name":"get_weather","input":{}})"));
  std::string args;
  int fragments = 0;
  for (auto& [n, v] : ev)
    if (n == "content_block_delta") {
      EXPECT_EQ(v.at("delta").at("type").as_string(), "input_json_delta");
      args += std::string(v.at("delta").at("partial_json").as_string());
      ++fragments;
    }
  EXPECT_GE(fragments, 2);
  EXPECT_EQ(args, s.tool_args);
  EXPECT_EQ(ev[ev.size() - 2].second.at("delta").at("stop_reason").as_string(), "tool_use");
}

TEST(MockAnthropic, ErrorBodyIsAnthropicShaped) {
  json::value v = json::parse(format().error_body(ApiError::rate_limited("slow")));
  EXPECT_EQ(v.at("type").as_string(), "error");
  EXPECT_EQ(v.at("error").at("type").as_string(), "rate_limit_error");
  EXPECT_EQ(v.at("error").at("message").as_string(), "slow");
}

// --- round trip through the provider's decoders ----------------------------------------------

struct Sink : StreamSink {
  std::string text, thinking, signature, args, tool_name;
  FinishReason finish = FinishReason::unset;
  void event(const StreamEvent& e) override {
    switch (e.kind) {
      case StreamEvent::Kind::text: text += e.text; break;
      case StreamEvent::Kind::thinking: thinking += e.text; break;
      case StreamEvent::Kind::thinking_signature: signature += e.text; break;
      case StreamEvent::Kind::tool_call_start: tool_name = e.name; break;
      case StreamEvent::Kind::tool_call_args: args += e.text; break;
      case StreamEvent::Kind::finish: finish = e.finish; break;
      default: break;
    }
  }
  void raw(std::string_view, std::string_view, bool) override {}
};

TEST(MockAnthropic, RoundTripStreamedEqualsWhole) {
  Fixture f;
  for (MockScript s : {f.script(true, ""), f.script(true, "get_weather")}) {
    auto whole = decode_anthropic_message(format().whole(s), "mock");
    ASSERT_TRUE(whole.ok());
    auto d = make_anthropic_stream_decoder(false, "mock");
    Sink sink;
    Usage usage;
    bool done = false;
    std::string sse = play(s);
    for (std::size_t i = 0; i < sse.size(); i += 13)  // in small pieces
      ASSERT_TRUE(d->feed(std::string_view(sse).substr(i, 13), sink, usage, done).ok());
    EXPECT_TRUE(done);
    EXPECT_EQ(sink.finish, whole->finish);
    EXPECT_EQ(usage.prompt_tokens, whole->usage.prompt_tokens);
    EXPECT_EQ(usage.prompt_tokens, s.prompt_tokens);
    EXPECT_EQ(usage.cached_tokens, 30);
    EXPECT_EQ(usage.cache_write_tokens, 10);
    EXPECT_EQ(usage.completion_tokens, whole->usage.completion_tokens);
    EXPECT_EQ(sink.thinking, whole->parts[0].text);
    EXPECT_EQ(sink.signature, whole->parts[0].signature);
    const Part& last = whole->parts.back();
    if (last.kind == Part::Kind::tool_call) {
      EXPECT_EQ(sink.tool_name, last.name);
      EXPECT_EQ(sink.args, last.arguments);  // identical text, not just equal JSON
    } else {
      EXPECT_EQ(sink.text, last.text);
    }
  }
}

}  // namespace
}  // namespace torii
