// The pure parts of `torii mock`: knobs, content words, usage estimate, the script rules and
// the OpenAI format (parse, whole answer, stream).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include <boost/json.hpp>

#include "tools/mock/mock.h"
#include "tools/mock/mock_format.h"
#include "tools/mock/mock_wire.h"

namespace torii {
namespace {
namespace json = boost::json;

MockKnobs defaults() { return MockKnobs::from_options(MockOptions{}); }

TEST(MockKnobs, DefaultsComeFromOptions) {
  MockOptions o;
  o.latency_ms = 20;
  o.chunks = 64;
  o.tokens_per_chunk = 3;
  o.interval_ms = -5;  // negative CLI values clamp to 0
  MockKnobs k = MockKnobs::from_options(o);
  EXPECT_EQ(k.latency_ms, 20);
  EXPECT_EQ(k.chunks, 64);
  EXPECT_EQ(k.tokens_per_chunk, 3);
  EXPECT_EQ(k.interval_ms, 0);
  EXPECT_EQ(k.total_words(), 192);
  EXPECT_EQ(k.fault_status(0), 0);
}

TEST(MockKnobs, HeadersOverrideAnyCase) {
  MockKnobs k = defaults();
  Headers h{{"Content-Type", "application/json"},
            {"X-Mock-Latency-Ms", "15"},
            {"x-mock-reset-after-chunks", " 3 "},
            {"x-mock-status", "429"},
            {"x-mock-retry-after", "7"}};
  ASSERT_TRUE(apply_header_knobs(k, h).ok());
  EXPECT_EQ(k.latency_ms, 15);
  EXPECT_EQ(k.reset_after_chunks, 3);
  EXPECT_EQ(k.status, 429);
  EXPECT_EQ(k.retry_after, 7);
  EXPECT_EQ(k.chunks, 8);  // untouched
}

TEST(MockKnobs, BadHeaderValuesAre400NamingTheKnob) {
  for (const char* v : {"-1", "abc", "", "12x", "1.5", "99999999999999999999"}) {
    MockKnobs k = defaults();
    auto r = apply_header_knobs(k, {{"x-mock-chunks", v}});
    ASSERT_FALSE(r.ok()) << v;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, "mock.chunks") << v;
    EXPECT_NE(r.error().message.find("chunks"), std::string::npos);
  }
  MockKnobs k = defaults();
  auto r = apply_header_knobs(k, {{"x-mock-bogus", "1"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("x-mock-bogus"), std::string::npos);
}

TEST(MockKnobs, BodyOverrides) {
  MockKnobs k = defaults();
  json::value mock = json::parse(
      R"({"ttft_ms":5,"chunks":2,"tokens_per_chunk":4,"fail_percent":50,"stall_ms":10.0,
          "stall_after_chunks":1,"interval_ms":null})");
  ASSERT_TRUE(apply_body_knobs(k, mock).ok());
  EXPECT_EQ(k.ttft_ms, 5);
  EXPECT_EQ(k.chunks, 2);
  EXPECT_EQ(k.tokens_per_chunk, 4);
  EXPECT_EQ(k.fail_percent, 50);
  EXPECT_EQ(k.stall_ms, 10);
  EXPECT_EQ(k.stall_after_chunks, 1);
  EXPECT_EQ(k.interval_ms, 0);
}

TEST(MockKnobs, BadBodyValuesAre400NamingTheKnob) {
  const char* cases[][2] = {
      {R"({"latency_ms":-1})", "mock.latency_ms"},
      {R"({"latency_ms":"5"})", "mock.latency_ms"},
      {R"({"chunks":1.5})", "mock.chunks"},
      {R"({"fail_percent":101})", "mock.fail_percent"},
      {R"({"status":99})", "mock.status"},
      {R"({"status":600})", "mock.status"},
      {R"({"chunks":18446744073709551615})", "mock.chunks"},
      {R"({"nope":1})", "mock.nope"},
      {R"([1])", "mock"},
      {R"({"stall_ms":true})", "mock.stall_ms"},
  };
  for (auto& [body, param] : cases) {
    MockKnobs k = defaults();
    auto r = apply_body_knobs(k, json::parse(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400) << body;
    EXPECT_EQ(r.error().param, param) << body;
  }
}

TEST(MockKnobs, FaultStatus) {
  MockKnobs k = defaults();
  k.status = 503;
  EXPECT_EQ(k.fault_status(99), 503);  // status alone: every request fails
  k.fail_percent = 30;
  EXPECT_EQ(k.fault_status(29), 503);
  EXPECT_EQ(k.fault_status(30), 0);
  k.status = 0;
  EXPECT_EQ(k.fault_status(0), 500);  // fail_percent without status: 500
  k.fail_percent = 0;
  EXPECT_EQ(k.fault_status(0), 0);
  k.fail_percent = -1;
  k.status = 200;  // a non-error status injects nothing
  EXPECT_EQ(k.fault_status(0), 0);
}

TEST(MockKnobs, FailFirst) {
  MockKnobs k = defaults();
  k.fail_first = 2;
  EXPECT_EQ(k.fault_status(0, 1), 500);  // no status: 500
  EXPECT_EQ(k.fault_status(0, 2), 500);
  EXPECT_EQ(k.fault_status(0, 3), 0);    // recovered
  k.status = 429;
  EXPECT_EQ(k.fault_status(99, 1), 429);
  EXPECT_EQ(k.fault_status(0, 3), 0);    // status alone no longer fails every request
  k.fail_percent = 50;
  EXPECT_EQ(k.fault_status(10, 3), 429);  // after the first N, fail_percent applies
  EXPECT_EQ(k.fault_status(60, 3), 0);
  k.fail_first = 0;
  k.fail_percent = -1;
  EXPECT_EQ(k.fault_status(0, 1), 0);
  auto h = apply_header_knobs(k, Headers{{"x-mock-fail-first", "7"}});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(k.fail_first, 7);
  auto bad = apply_body_knobs(k, json::parse(R"({"fail_first":-2})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "mock.fail_first");
}

TEST(MockWire, EscapesJson) {
  std::string out;
  append_json_escaped(out, std::string_view("a\"b\\c\nd\x01\té", 11));
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\u0001\\té");
  EXPECT_EQ(json::parse("\"" + out + "\"").as_string(), std::string_view("a\"b\\c\nd\x01\té", 11));
}

TEST(MockWire, PromptTokensAboutBytesOverFour) {
  EXPECT_EQ(estimate_prompt_tokens(json::parse("[]")), 1);
  EXPECT_EQ(estimate_prompt_tokens(json::parse(R"([{"role":"user","content":""}])")), 1);
  // 16 + 4 bytes of text, text parts of an array count, non-text parts do not.
  auto messages = json::parse(R"([
      {"role":"system","content":"0123456789abcdef"},
      {"role":"user","content":[{"type":"text","text":"wxyz"},
                                {"type":"image_url","image_url":{"url":"http://x/y"}}]}])");
  EXPECT_EQ(estimate_prompt_tokens(messages), 5);
  // 4001 bytes round up.
  json::array big{json::object{{"role", "user"}, {"content", std::string(4001, 'a')}}};
  EXPECT_EQ(estimate_prompt_tokens(big), 1001);
}

TEST(MockWire, WordsCycleTheLastUserMessage) {
  auto messages = json::parse(R"([
      {"role":"user","content":"first message"},
      {"role":"assistant","content":"ignored"},
      {"role":"user","content":"  say \"hi\"\n there  "}])");
  MockWords words(messages, 100);
  EXPECT_EQ(words.size(), 3u);
  std::string out;
  words.append(out, 0, 7);
  EXPECT_EQ(out, "say \\\"hi\\\" there say \\\"hi\\\" there say ");
  out.clear();
  words.append(out, 2, 2);
  EXPECT_EQ(out, "there say ");
  // Only as many words as needed are collected.
  EXPECT_EQ(MockWords(messages, 2).size(), 2u);
}

TEST(MockWire, WordsFallBackWhenNoUserText) {
  MockWords words(json::parse(R"([{"role":"system","content":"sys"}])"), 4);
  ASSERT_GT(words.size(), 0u);
  std::string out;
  words.append(out, 0, 4);
  EXPECT_EQ(std::count(out.begin(), out.end(), ' '), 4);
}

// Parses "data: {...}\n\n" into the JSON object.
json::object event(std::string_view e) {
  EXPECT_EQ(e.substr(0, 6), "data: ");
  EXPECT_EQ(e.substr(e.size() - 2), "\n\n");
  return json::parse(e.substr(6, e.size() - 8)).as_object();
}

TEST(MockWire, ChunksAreValidChatCompletionChunks) {
  MockChunks chunks("chatcmpl-1", 1700000000, "model \"q\"");
  MockWords words(json::parse(R"([{"role":"user","content":"a b c"}])"), 10);

  std::string s;
  chunks.append_role(s);
  auto role = event(s);
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["model"], "model \"q\"");
  EXPECT_EQ(role["created"], 1700000000);
  EXPECT_EQ(role["choices"].at(0).at("delta").at("role"), "assistant");
  EXPECT_EQ(role["choices"].at(0).at("delta").at("content"), "");

  s.clear();
  chunks.append_content(s, words, 2, 2);
  auto content = event(s);
  EXPECT_EQ(content["choices"].at(0).at("delta").at("content"), "c a ");
  EXPECT_TRUE(content["choices"].at(0).at("finish_reason").is_null());

  s.clear();
  chunks.append_finish(s);
  EXPECT_EQ(event(s)["choices"].at(0).at("finish_reason"), "stop");

  s.clear();
  chunks.append_usage(s, MockUsage{12, 5});
  auto usage = event(s);
  EXPECT_TRUE(usage["choices"].as_array().empty());
  EXPECT_EQ(usage["usage"].at("prompt_tokens"), 12);
  EXPECT_EQ(usage["usage"].at("completion_tokens"), 5);
  EXPECT_EQ(usage["usage"].at("total_tokens"), 17);
  EXPECT_EQ(usage["usage"].at("prompt_tokens_details").at("cached_tokens"), 0);
  EXPECT_EQ(usage["usage"].at("completion_tokens_details").at("reasoning_tokens"), 0);

  s.clear();
  MockChunks::append_done(s);
  EXPECT_EQ(s, "data: [DONE]\n\n");
}

TEST(MockWire, CompletionJson) {
  MockWords words(json::parse(R"([{"role":"user","content":"x\ty"}])"), 10);
  auto doc = json::parse(build_completion_json("id-1", 42, "m", words, 3, MockUsage{2, 3}));
  EXPECT_EQ(doc.at("object"), "chat.completion");
  EXPECT_EQ(doc.at("model"), "m");
  EXPECT_EQ(doc.at("id"), "id-1");
  const auto& choice = doc.at("choices").at(0);
  EXPECT_EQ(choice.at("message").at("role"), "assistant");
  EXPECT_EQ(choice.at("message").at("content"), "x y x ");
  EXPECT_EQ(choice.at("finish_reason"), "stop");
  EXPECT_EQ(doc.at("usage").at("total_tokens"), 5);
}

TEST(MockWire, FaultErrors) {
  EXPECT_EQ(mock_fault_error(429).type, "rate_limit_error");
  EXPECT_EQ(mock_fault_error(500).status, 500);
  EXPECT_EQ(mock_fault_error(500).type, "server_error");
  EXPECT_EQ(mock_fault_error(418).type, "invalid_request_error");
  auto body = json::parse(to_openai_json(mock_fault_error(502)));
  EXPECT_EQ(body.at("error").at("code"), "mock_injected");
}


// ---------------------------------------------------------------- new knobs

TEST(MockKnobs, ScriptKnobsValidated) {
  MockKnobs k = defaults();
  EXPECT_EQ(k.tool_call, -1);
  EXPECT_EQ(k.thinking, 0);
  ASSERT_TRUE(apply_header_knobs(k, {{"x-mock-tool-call", "-1"},
                                     {"X-Mock-Cached-Tokens", "100"},
                                     {"x-mock-blocked", "1"}})
                  .ok());
  EXPECT_EQ(k.cached_tokens, 100);
  EXPECT_EQ(k.blocked, 1);
  ASSERT_TRUE(apply_body_knobs(k, json::parse(R"({"thinking":1,"cache_write_tokens":7,
                                                  "tool_call":0})"))
                  .ok());
  EXPECT_EQ(k.thinking, 1);
  EXPECT_EQ(k.cache_write_tokens, 7);
  EXPECT_EQ(k.tool_call, 0);
  const char* cases[][2] = {
      {R"({"thinking":2})", "mock.thinking"},   {R"({"blocked":-1})", "mock.blocked"},
      {R"({"tool_call":2})", "mock.tool_call"}, {R"({"tool_call":-2})", "mock.tool_call"},
      {R"({"cached_tokens":-5})", "mock.cached_tokens"},
      {R"({"cache_write_tokens":"3"})", "mock.cache_write_tokens"},
  };
  for (auto& [body, param] : cases) {
    MockKnobs bad = defaults();
    auto r = apply_body_knobs(bad, json::parse(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().param, param) << body;
  }
  auto r = apply_header_knobs(k, {{"x-mock-tool-call", "3"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "mock.tool_call");
}

TEST(MockWire, WordsFromPlainText) {
  MockWords words(std::string_view("  alpha \"b\"\tgamma "), 10);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words.word(0), "alpha");
  EXPECT_EQ(words.word(1), "\\\"b\\\"");
  EXPECT_EQ(words.word(2), "gamma");
  EXPECT_EQ(MockWords(std::string_view("a b c d"), 2).size(), 2u);
  EXPECT_EQ(MockWords(std::string_view(""), 3).word(0), "The");  // the fixed list
}

// ---------------------------------------------------------------- the OpenAI format

const MockFormat& openai() {
  const MockFormat* f = find_mock_format("/v1/chat/completions");
  EXPECT_NE(f, nullptr);
  return *f;
}

MockTurn parse_ok(std::string_view body, std::string_view target = "/v1/chat/completions") {
  auto r = openai().parse(target, {}, body);
  EXPECT_TRUE(r.ok()) << body << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : MockTurn{};
}

// Plays a whole stream the way the handler does (start, every chunk, end).
std::string play_stream(const MockFormat& f, const MockScript& s) {
  std::string out;
  f.stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    f.stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk, mock_chunk_words(s, i));
  f.stream_end(out, s);
  return out;
}

// What an OpenAI client accumulates from a stream.
struct Played {
  std::string content, reasoning, tool_id, tool_name, tool_args, finish;
  int tool_arg_fragments = 0, events = 0;
  bool done = false;
  json::value usage;
};

Played accumulate(std::string_view wire) {
  Played p;
  for (std::size_t at = 0; at < wire.size();) {
    std::size_t end = wire.find("\n\n", at);
    EXPECT_NE(end, std::string_view::npos);
    if (end == std::string_view::npos) break;
    std::string_view data = wire.substr(at + 6, end - at - 6);
    at = end + 2;
    EXPECT_FALSE(p.done) << "event after [DONE]";
    if (data == "[DONE]") {
      p.done = true;
      continue;
    }
    ++p.events;
    json::object ev = json::parse(data).as_object();
    EXPECT_EQ(ev["object"], "chat.completion.chunk");
    if (ev.contains("usage")) p.usage = ev["usage"];
    for (const auto& c : ev["choices"].as_array()) {
      const auto& delta = c.at("delta").as_object();
      if (auto* v = delta.if_contains("content")) p.content += v->as_string();
      if (auto* v = delta.if_contains("reasoning_content")) p.reasoning += v->as_string();
      if (auto* calls = delta.if_contains("tool_calls")) {
        const auto& call = calls->at(0).as_object();
        EXPECT_EQ(call.at("index"), 0);
        if (auto* id = call.if_contains("id")) p.tool_id = id->as_string();
        const auto& fn = call.at("function").as_object();
        if (auto* n = fn.if_contains("name")) p.tool_name = n->as_string();
        if (auto* a = fn.if_contains("arguments"); a && !a->as_string().empty()) {
          p.tool_args += a->as_string();
          ++p.tool_arg_fragments;
        }
      }
      if (c.at("finish_reason").is_string()) p.finish = c.at("finish_reason").as_string();
    }
  }
  return p;
}

struct Answer {
  MockTurn turn;
  MockKnobs knobs = defaults();
  std::unique_ptr<MockWords> words;
  MockScript script;
};

std::unique_ptr<Answer> answer(std::string_view body, std::string_view knobs = "{}",
                               std::string_view target = "/v1/chat/completions") {
  auto a = std::make_unique<Answer>();
  a->turn = parse_ok(body, target);
  EXPECT_TRUE(apply_body_knobs(a->knobs, json::parse(knobs)).ok());
  EXPECT_TRUE(apply_body_knobs(a->knobs, a->turn.knobs).ok());
  a->words = std::make_unique<MockWords>(a->turn.last_user_text, a->knobs.total_words(),
                                         a->knobs.glue == 1);
  a->script = make_mock_script(a->turn, a->knobs, *a->words);
  a->script.id = "mock-9";
  a->script.created = 1700000000;
  return a;
}

constexpr std::string_view kToolRequest = R"({"model":"gpt-4o","stream":true,
    "stream_options":{"include_usage":true},
    "messages":[{"role":"user","content":"weather in Paris"}],
    "tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}},
             {"type":"function","function":{"name":"other"}}]})";

TEST(MockOpenAi, MatchesItsPathsOnly) {
  const MockFormat& f = openai();
  EXPECT_EQ(f.name(), "openai");
  for (const char* p : {"/v1/chat/completions", "/chat/completions",
                        "/openai/deployments/my-gpt4/chat/completions",
                        "/client/v4/accounts/abc123/ai/v1/chat/completions",
                        "/openai/v1/chat/completions", "/any/gateway/prefix/chat/completions"})
    EXPECT_TRUE(f.matches(p)) << p;  // any ".../chat/completions": every vendor's prefix
  for (const char* p : {"/v1/models", "/v1/chat/completions/x", "/v1/completions",
                        "/v1/messages", "/v1/responses", "/chat/completionsx"})
    EXPECT_FALSE(f.matches(p)) << p;
  EXPECT_EQ(find_mock_format("/nope"), nullptr);
}

TEST(MockOpenAi, ParsesTheTurn) {
  MockTurn t = parse_ok(R"({"model":"m1","stream":true,"stream_options":{"include_usage":true},
      "max_tokens":50,"max_completion_tokens":7,"reasoning_effort":"high",
      "messages":[{"role":"system","content":"be brief"},
                  {"role":"user","content":[{"type":"text","text":"look at"},
                      {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
                      {"type":"text","text":"this"}]},
                  {"role":"assistant","content":"ok"}],
      "mock":{"chunks":3}})");
  EXPECT_EQ(t.model, "m1");
  EXPECT_TRUE(t.stream);
  EXPECT_TRUE(t.include_usage);
  EXPECT_EQ(t.max_tokens, 7);  // max_completion_tokens wins
  EXPECT_TRUE(t.thinking);
  EXPECT_EQ(t.last_user_text, "look at this");
  EXPECT_EQ(t.images, 1);
  EXPECT_EQ(t.prompt_tokens, (8 + 7 + 4 + 2 + 3) / 4);  // text bytes / 4, rounded up
  EXPECT_TRUE(t.tool_name.empty());
  EXPECT_FALSE(t.last_is_tool_result);
  EXPECT_EQ(t.knobs.at("chunks"), 3);

  MockTurn plain = parse_ok(R"({"model":"m","messages":[],"reasoning_effort":"none"})");
  EXPECT_FALSE(plain.stream);
  EXPECT_FALSE(plain.thinking);
  EXPECT_FALSE(plain.max_tokens.has_value());
  EXPECT_TRUE(plain.knobs.is_null());
}

TEST(MockOpenAi, ToolsAndToolResults) {
  EXPECT_EQ(parse_ok(kToolRequest).tool_name, "get_weather");
  MockTurn none = parse_ok(R"({"model":"m","messages":[],"tool_choice":"none",
      "tools":[{"type":"function","function":{"name":"f"}}]})");
  EXPECT_TRUE(none.tool_name.empty());
  MockTurn named = parse_ok(R"({"model":"m","messages":[],
      "tool_choice":{"type":"function","function":{"name":"g"}},
      "tools":[{"type":"function","function":{"name":"f"}},
               {"type":"function","function":{"name":"g"}}]})");
  EXPECT_EQ(named.tool_name, "g");
  MockTurn after = parse_ok(R"({"model":"m","tools":[{"type":"function","function":{"name":"f"}}],
      "messages":[{"role":"user","content":"q"},
        {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
          "function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"c1","content":"sunny"}]})");
  EXPECT_TRUE(after.last_is_tool_result);
  EXPECT_EQ(after.last_user_text, "q");
}

TEST(MockOpenAi, AzurePathNamesTheModel) {
  MockTurn t = parse_ok(R"({"messages":[{"role":"user","content":"hi"}]})",
                        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(t.model, "gpt4o-prod");
  auto a = answer(R"({"model":"ignored","messages":[]})", "{}",
                  "/openai/deployments/dep-1/chat/completions");
  EXPECT_EQ(json::parse(openai().whole(a->script)).at("model"), "dep-1");
  // Cloudflare takes the model from the body.
  EXPECT_EQ(parse_ok(R"({"model":"@cf/meta/llama-3.1-8b-instruct","messages":[]})",
                     "/client/v4/accounts/acc/ai/v1/chat/completions")
                .model,
            "@cf/meta/llama-3.1-8b-instruct");
}

TEST(MockOpenAi, BadRequestsAre400InOpenAiShape) {
  const char* cases[][2] = {
      {"{", ""},
      {"[]", ""},
      {R"({"messages":[]})", "model"},
      {R"({"model":"","messages":[]})", "model"},
      {R"({"model":"m"})", "messages"},
      {R"({"model":"m","messages":{}})", "messages"},
      {R"({"model":"m","messages":[],"stream":"yes"})", "stream"},
      {R"({"model":"m","messages":[],"max_tokens":-1})", "max_tokens"},
      {R"({"model":"m","messages":[],"max_completion_tokens":"9"})", "max_completion_tokens"},
  };
  for (auto& [body, param] : cases) {
    auto r = openai().parse("/v1/chat/completions", {}, body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400) << body;
    EXPECT_EQ(r.error().param, param) << body;
    auto err = json::parse(openai().error_body(r.error()));
    EXPECT_EQ(err.at("error").at("type"), "invalid_request_error") << body;
  }
}

TEST(MockOpenAi, WholeAndStreamAgreeOnText) {
  auto a = answer(R"({"model":"m","stream_options":{"include_usage":true},
                      "messages":[{"role":"user","content":"one two three"}]})",
                  R"({"chunks":4,"tokens_per_chunk":2})");
  auto doc = json::parse(openai().whole(a->script));
  EXPECT_EQ(doc.at("id"), "chatcmpl-mock-9");
  const auto& msg = doc.at("choices").at(0).at("message");
  EXPECT_EQ(msg.at("content"), "one two three one two three one two ");
  EXPECT_FALSE(msg.as_object().contains("tool_calls"));
  EXPECT_FALSE(msg.as_object().contains("reasoning_content"));
  EXPECT_EQ(doc.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(doc.at("usage").at("completion_tokens"), 8);

  Played p = accumulate(play_stream(openai(), a->script));
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.content, msg.at("content").as_string());
  EXPECT_EQ(p.finish, "stop");
  EXPECT_EQ(p.events, 1 + 4 + 1 + 1);  // role, content, finish, usage
  EXPECT_EQ(p.usage, doc.at("usage"));
}

TEST(MockOpenAi, ToolCallWholeAndStreamArgumentsAreEqual) {
  auto a = answer(kToolRequest);
  ASSERT_EQ(a->script.tool_name, "get_weather");
  EXPECT_EQ(a->script.content_words, 0);
  auto doc = json::parse(openai().whole(a->script));
  const auto& choice = doc.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_TRUE(choice.at("message").at("content").is_null());
  const auto& call = choice.at("message").at("tool_calls").at(0);
  EXPECT_EQ(call.at("id"), "call_mock_1");
  EXPECT_EQ(call.at("type"), "function");
  EXPECT_EQ(call.at("function").at("name"), "get_weather");
  const std::string args(call.at("function").at("arguments").as_string());
  EXPECT_EQ(json::parse(args), json::parse(R"({"q":"weather"})"));
  EXPECT_GT(doc.at("usage").at("completion_tokens").as_int64(), 0);

  Played p = accumulate(play_stream(openai(), a->script));
  EXPECT_EQ(p.tool_id, "call_mock_1");
  EXPECT_EQ(p.tool_name, "get_weather");
  EXPECT_EQ(p.tool_args, args);
  EXPECT_GE(p.tool_arg_fragments, 2);
  EXPECT_EQ(p.content, "");
  EXPECT_EQ(p.finish, "tool_calls");
  EXPECT_EQ(p.usage.at("completion_tokens"), doc.at("usage").at("completion_tokens"));
}

TEST(MockOpenAi, ToolArgumentsSurviveEscapesAndUtf8) {
  auto a = answer(R"({"model":"m","messages":[{"role":"user","content":"\"été\"\\ x"}],
                      "tools":[{"type":"function","function":{"name":"f"}}]})");
  const std::string whole_args(json::parse(openai().whole(a->script))
                                   .at("choices").at(0).at("message").at("tool_calls").at(0)
                                   .at("function").at("arguments").as_string());
  EXPECT_EQ(json::parse(whole_args).at("q"), "\"été\"\\");
  EXPECT_EQ(accumulate(play_stream(openai(), a->script)).tool_args, whole_args);
}

TEST(MockOpenAi, ToolCallKnobAndToolResults) {
  constexpr std::string_view after_result = R"({"model":"m",
      "tools":[{"type":"function","function":{"name":"f"}}],
      "messages":[{"role":"user","content":"q"},
                  {"role":"tool","tool_call_id":"c","content":"r"}]})";
  EXPECT_TRUE(answer(after_result)->script.tool_name.empty());  // automatic: answer in text
  EXPECT_EQ(answer(after_result, R"({"tool_call":1})")->script.tool_name, "f");
  EXPECT_TRUE(answer(kToolRequest, R"({"tool_call":0})")->script.tool_name.empty());
  EXPECT_EQ(answer(kToolRequest, R"({"tool_call":0})")->script.content_words, 8);
  // tool_call 1 without any declared tool: nothing to call.
  EXPECT_TRUE(answer(R"({"model":"m","messages":[]})", R"({"tool_call":1})")
                  ->script.tool_name.empty());
}

TEST(MockOpenAi, Thinking) {
  auto asked = answer(R"({"model":"o3","reasoning_effort":"low",
                          "messages":[{"role":"user","content":"why"}]})");
  auto knob = answer(R"({"model":"m","messages":[{"role":"user","content":"why"}]})",
                     R"({"thinking":1,"chunks":2})");
  for (auto* a : {asked.get(), knob.get()}) {
    ASSERT_TRUE(a->script.thinking);
    EXPECT_EQ(a->script.reasoning_tokens, kMockThinkingTokens);
    auto doc = json::parse(openai().whole(a->script));
    EXPECT_EQ(doc.at("choices").at(0).at("message").at("reasoning_content").as_string(),
              kMockThinking);
    const auto& usage = doc.at("usage");
    EXPECT_EQ(usage.at("completion_tokens_details").at("reasoning_tokens"), kMockThinkingTokens);
    EXPECT_EQ(usage.at("completion_tokens").as_int64(),
              a->script.content_words + kMockThinkingTokens);
    a->script.include_usage = true;
    Played p = accumulate(play_stream(openai(), a->script));
    EXPECT_EQ(p.reasoning, kMockThinking);
    EXPECT_EQ(p.usage.at("completion_tokens_details").at("reasoning_tokens"),
              kMockThinkingTokens);
  }
  EXPECT_FALSE(answer(R"({"model":"m","messages":[]})")->script.thinking);
}

TEST(MockOpenAi, CachedTokensAreInsidePromptTokens) {
  auto a = answer(R"({"model":"m","messages":[{"role":"user","content":"0123456789abcdef"}]})",
                  R"({"cached_tokens":1000,"cache_write_tokens":24})");
  EXPECT_EQ(a->script.prompt_tokens, 4 + 1000 + 24);
  auto usage = json::parse(openai().whole(a->script)).at("usage");
  EXPECT_EQ(usage.at("prompt_tokens"), 1028);
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens"), 1000);
  EXPECT_EQ(usage.at("total_tokens"), 1028 + 8);
}

TEST(MockOpenAi, MaxTokensTruncatesWithFinishLength) {
  auto a = answer(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a b c"}]})",
                  R"({"chunks":4,"tokens_per_chunk":3})");
  EXPECT_TRUE(a->script.truncated);
  EXPECT_EQ(a->script.content_words, 5);
  EXPECT_EQ(a->script.chunks, 2);  // 3 words + 2 words
  EXPECT_EQ(mock_chunk_words(a->script, 1), 2);
  auto doc = json::parse(openai().whole(a->script));
  EXPECT_EQ(doc.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(doc.at("choices").at(0).at("message").at("content"), "a b c a b ");
  EXPECT_EQ(doc.at("usage").at("completion_tokens"), 5);
  Played p = accumulate(play_stream(openai(), a->script));
  EXPECT_EQ(p.content, "a b c a b ");
  EXPECT_EQ(p.finish, "length");
  // A cap at or above the answer changes nothing.
  auto b = answer(R"({"model":"m","max_tokens":12,"messages":[]})",
                  R"({"chunks":4,"tokens_per_chunk":3})");
  EXPECT_FALSE(b->script.truncated);
  EXPECT_EQ(b->script.chunks, 4);
  auto zero = answer(R"({"model":"m","max_tokens":0,"messages":[]})");
  EXPECT_EQ(zero->script.content_words, 0);
  EXPECT_EQ(zero->script.chunks, 0);
  EXPECT_EQ(accumulate(play_stream(openai(), zero->script)).finish, "length");
}

TEST(MockOpenAi, BlockedIsContentFilter) {
  auto a = answer(kToolRequest, R"({"blocked":1})");
  EXPECT_TRUE(a->script.blocked);
  EXPECT_TRUE(a->script.tool_name.empty());  // blocked wins over the tool call
  auto doc = json::parse(openai().whole(a->script));
  EXPECT_EQ(doc.at("choices").at(0).at("finish_reason"), "content_filter");
  EXPECT_EQ(doc.at("choices").at(0).at("message").at("content"), "");
  EXPECT_EQ(doc.at("usage").at("completion_tokens"), 0);
  Played p = accumulate(play_stream(openai(), a->script));
  EXPECT_EQ(p.finish, "content_filter");
  EXPECT_EQ(p.content, "");
  EXPECT_TRUE(p.done);
}

TEST(MockOpenAi, StreamMatchesTheLegacyChunks) {
  // The bench fixtures build the upstream's bytes with MockChunks: the format must send the same.
  auto a = answer(R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"x y"}]})",
                  R"({"chunks":3})");
  MockChunks legacy("chatcmpl-mock-9", 1700000000, "gpt-4o-mini");
  std::string expected;
  legacy.append_role(expected);
  for (int i = 0; i < 3; ++i) legacy.append_content(expected, *a->words, i, 1);
  legacy.append_finish(expected);
  MockChunks::append_done(expected);
  EXPECT_EQ(play_stream(openai(), a->script), expected);
}

// ---------------------------------------------------------------- glue

TEST(MockKnobs, Glue) {
  MockKnobs k = defaults();
  EXPECT_EQ(k.glue, 0);
  ASSERT_TRUE(apply_body_knobs(k, json::parse(R"({"glue":1})")).ok());
  EXPECT_EQ(k.glue, 1);
  ASSERT_TRUE(apply_header_knobs(k, {{"x-mock-glue", "0"}}).ok());
  EXPECT_EQ(k.glue, 0);
  auto bad = apply_body_knobs(k, json::parse(R"({"glue":2})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "mock.glue");
}

TEST(MockWire, GluedWordsHaveNoSpaces) {
  MockWords glued(std::string_view("ab \"c\" d"), 10, true);
  EXPECT_TRUE(glued.glued());
  std::string out;
  glued.append(out, 0, 3);
  EXPECT_EQ(out, "ab\\\"c\\\"d");
  out.clear();
  glued.append(out, 2, 3);  // cycles
  EXPECT_EQ(out, "dab\\\"c\\\"");
  MockWords spaced(std::string_view("ab \"c\" d"), 10);
  EXPECT_FALSE(spaced.glued());
  out.clear();
  spaced.append(out, 2, 3);
  EXPECT_EQ(out, "d ab \\\"c\\\" ");
}

TEST(MockOpenAi, GlueStreamsOneTokenAcrossChunks) {
  auto a = answer(R"({"model":"m","stream_options":{"include_usage":true},
                      "messages":[{"role":"user","content":"AKIAIOSF ODNN7EXA MPLE"}]})",
                  R"({"chunks":3,"glue":1})");
  Played p = accumulate(play_stream(openai(), a->script));
  EXPECT_EQ(p.content, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(p.events, 1 + 3 + 1 + 1);  // role, three content events, finish, usage
  EXPECT_EQ(p.usage.at("completion_tokens"), 3);  // still one token per word
  auto doc = json::parse(openai().whole(a->script));
  EXPECT_EQ(doc.at("choices").at(0).at("message").at("content"), "AKIAIOSFODNN7EXAMPLE");
}

// Every format writes its words through MockWords: glued, the token is whole in the answer and
// split across the stream's content events, with no space anywhere after a piece.
TEST(MockFormats, GlueWorksInEveryFormat) {
  MockTurn turn;
  turn.model = "m";
  turn.last_user_text = "AKIAIOSF ODNN7EXA MPLE";
  MockKnobs knobs = defaults();
  knobs.chunks = 3;
  const MockWords glued(turn.last_user_text, knobs.total_words(), true);
  const MockWords spaced(turn.last_user_text, knobs.total_words(), false);
  for (const MockFormat* f : mock_formats()) {
    MockScript s = make_mock_script(turn, knobs, glued);
    s.id = "mock-1";
    s.created = 1700000000;
    const std::string whole = f->whole(s);
    EXPECT_NE(whole.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos) << f->name();
    EXPECT_EQ(whole.find("AKIAIOSF "), std::string::npos) << f->name();
    const std::string wire = play_stream(*f, s);
    for (const char* piece : {"AKIAIOSF", "ODNN7EXA", "MPLE"})
      EXPECT_NE(wire.find(piece), std::string::npos) << f->name() << " " << piece;
    for (const char* spaced_piece : {"AKIAIOSF ", "ODNN7EXA ", "MPLE "})
      EXPECT_EQ(wire.find(spaced_piece), std::string::npos) << f->name() << " " << spaced_piece;
    EXPECT_EQ(s.completion_tokens, 3) << f->name();

    MockScript plain = make_mock_script(turn, knobs, spaced);  // the default: spaced words
    plain.id = "mock-1";
    EXPECT_NE(f->whole(plain).find("AKIAIOSF ODNN7EXA MPLE "), std::string::npos) << f->name();
  }
}

}  // namespace
}  // namespace torii
