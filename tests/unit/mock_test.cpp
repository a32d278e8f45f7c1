// The pure parts of `torii mock`: knobs, content words, usage estimate, chunk and body JSON.
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/json.hpp>

#include "tools/mock/mock.h"
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

}  // namespace
}  // namespace torii
