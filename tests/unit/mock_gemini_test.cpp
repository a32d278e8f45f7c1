// `torii mock`'s Gemini format: path matching, request parsing, whole and streamed answers,
// errors; and, as a conformance check, the Gemini provider decoding what the mock sends.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "providers/gemini.h"
#include "tools/mock/mock_format.h"

namespace torii {
namespace {
namespace json = boost::json;

const MockFormat& gemini() {
  const MockFormat* f = find_mock_format("/v1beta/models/gemini-2.5-flash:generateContent");
  if (!f || f->name() != "gemini") throw std::runtime_error("gemini mock format not registered");
  return *f;
}

MockTurn parse_ok(std::string_view target, std::string_view body) {
  auto t = gemini().parse(target, {}, body);
  if (!t) throw std::runtime_error("parse failed: " + t.error().message);
  return std::move(*t);
}

// The SSE events' JSON data of a stream body (CRLF CRLF separated, "data: " prefixed).
std::vector<json::value> events(std::string_view body) {
  std::vector<json::value> out;
  while (!body.empty()) {
    std::size_t end = body.find("\r\n\r\n");
    if (end == std::string_view::npos) throw std::runtime_error("unterminated event");
    std::string_view ev = body.substr(0, end);
    if (!ev.starts_with("data: ")) throw std::runtime_error("not a data line");
    out.push_back(json::parse(ev.substr(6)));
    body.remove_prefix(end + 4);
  }
  return out;
}

struct Played {
  MockTurn turn;
  MockKnobs knobs;
  std::unique_ptr<MockWords> words;
  MockScript script;
};

Played play(std::string_view target, std::string_view body, MockKnobs k = {}) {
  Played p;
  p.turn = parse_ok(target, body);
  p.knobs = k;
  p.words = std::make_unique<MockWords>(p.turn.last_user_text, k.total_words());
  p.script = make_mock_script(p.turn, k, *p.words);
  p.script.id = "mock-7";
  p.script.created = 1700000000;
  return p;
}

std::string stream_body(const MockFormat& f, const MockScript& s) {
  std::string out;
  f.stream_start(out, s);
  for (int i = 0; i < s.chunks; ++i)
    f.stream_text(out, s, std::int64_t(i) * s.tokens_per_chunk, mock_chunk_words(s, i));
  f.stream_end(out, s);
  return out;
}

constexpr std::string_view kPath = "/v1beta/models/gemini-2.5-flash:generateContent";
constexpr std::string_view kStreamPath =
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

TEST(MockGemini, MatchesGeminiPathsOnly) {
  const MockFormat& f = gemini();
  EXPECT_TRUE(f.matches("/v1beta/models/gemini-2.5-flash:streamGenerateContent"));
  EXPECT_TRUE(f.matches("/v1/models/gemini-pro:generateContent"));
  EXPECT_FALSE(f.matches("/v1/chat/completions"));
  EXPECT_FALSE(f.matches("/v1beta/models/:generateContent"));
  EXPECT_FALSE(f.matches("/v1beta/models/a/b:generateContent"));
  EXPECT_FALSE(f.matches("/v1beta/models/gemini:countTokens"));
}

TEST(MockGemini, ParsesTheRequest) {
  MockTurn t = parse_ok("/v1beta/models/tuned%20model:streamGenerateContent?alt=sse", R"({
    "systemInstruction":{"parts":[{"text":"Be brief and exact."}]},
    "contents":[
      {"role":"user","parts":[{"text":"first question"}]},
      {"role":"model","parts":[{"text":"an answer"}]},
      {"role":"user","parts":[{"text":"describe"},{"text":"this picture"},
        {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}],
    "tools":[{"functionDeclarations":[{"name":"search","parameters":{"type":"object"}},
                                      {"name":"other"}]}],
    "generationConfig":{"maxOutputTokens":3,
                        "thinkingConfig":{"thinkingBudget":512,"includeThoughts":true}},
    "mock":{"chunks":2}})");
  EXPECT_EQ(t.model, "tuned model");
  EXPECT_TRUE(t.stream);
  EXPECT_TRUE(t.include_usage);
  EXPECT_EQ(t.last_user_text, "describe this picture");
  EXPECT_EQ(t.tool_name, "search");
  EXPECT_EQ(t.max_tokens, 3);
  EXPECT_TRUE(t.thinking);
  EXPECT_EQ(t.images, 1);
  EXPECT_FALSE(t.last_is_tool_result);
  // system + texts: 19 + 14 + 9 + 8 + 12 = 62 bytes → 16 tokens
  EXPECT_EQ(t.prompt_tokens, 16);
  EXPECT_EQ(t.knobs.at("chunks"), 2);
}

TEST(MockGemini, ToolConfigNoneAndToolResults) {
  MockTurn t = parse_ok(kPath, R"({"contents":[
      {"role":"user","parts":[{"text":"weather?"}]},
      {"role":"model","parts":[{"functionCall":{"name":"search","args":{"q":"weather"}}}]},
      {"role":"user","parts":[{"functionResponse":{"name":"search","response":{"t":20}}}]}],
    "tools":[{"functionDeclarations":[{"name":"search"}]}],
    "toolConfig":{"functionCallingConfig":{"mode":"NONE"}}})");
  EXPECT_FALSE(t.stream);
  EXPECT_TRUE(t.tool_name.empty());
  EXPECT_TRUE(t.last_is_tool_result);
  EXPECT_EQ(t.last_user_text, "weather?");
  EXPECT_FALSE(t.thinking);
}

TEST(MockGemini, BadRequestsAre400s) {
  const MockFormat& f = gemini();
  auto no_sse = f.parse("/v1beta/models/m:streamGenerateContent", {}, R"({"contents":[{}]})");
  ASSERT_FALSE(no_sse);
  EXPECT_EQ(no_sse.error().status, 400);
  auto bad_json = f.parse(kPath, {}, "{\"contents\":");
  ASSERT_FALSE(bad_json);
  EXPECT_EQ(bad_json.error().status, 400);
  auto no_contents = f.parse(kPath, {}, R"({"generationConfig":{}})");
  ASSERT_FALSE(no_contents);
  EXPECT_EQ(no_contents.error().param, "contents");
  auto bad_max = f.parse(kPath, {}, R"({"contents":[{"parts":[{"text":"a"}]}],
      "generationConfig":{"maxOutputTokens":"ten"}})");
  ASSERT_FALSE(bad_max);
  EXPECT_EQ(bad_max.error().status, 400);
}

TEST(MockGemini, WholeTextAnswerWithUsage) {
  MockKnobs k;
  k.chunks = 3;
  k.cached_tokens = 4;
  Played p = play(kPath, R"({"contents":[{"role":"user","parts":[{"text":"alpha beta"}]}]})", k);
  json::value v = json::parse(gemini().whole(p.script));
  const json::value& c = v.at("candidates").at(0);
  EXPECT_EQ(c.at("content").at("role"), "model");
  EXPECT_EQ(c.at("content").at("parts").at(0).at("text"), "alpha beta alpha ");
  EXPECT_EQ(c.at("finishReason"), "STOP");
  const json::value& u = v.at("usageMetadata");
  EXPECT_EQ(u.at("promptTokenCount"), p.script.prompt_tokens);
  EXPECT_EQ(u.at("candidatesTokenCount"), 3);
  EXPECT_EQ(u.at("cachedContentTokenCount"), 4);
  EXPECT_EQ(u.at("totalTokenCount"), p.script.prompt_tokens + 3);
  EXPECT_EQ(v.at("modelVersion"), "gemini-2.5-flash");
  EXPECT_EQ(v.at("responseId"), "mock-7");
}

TEST(MockGemini, WholeThinkingToolCallAndTruncation) {
  Played p = play(kPath, R"({"contents":[{"parts":[{"text":"find cats"}]}],
      "tools":[{"functionDeclarations":[{"name":"search"}]}],
      "generationConfig":{"thinkingConfig":{"includeThoughts":true}}})");
  json::value v = json::parse(gemini().whole(p.script));
  const json::array& parts = v.at("candidates").at(0).at("content").at("parts").as_array();
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].at("thought"), true);
  EXPECT_EQ(parts[0].at("thoughtSignature").as_string(), kMockSignature);
  EXPECT_EQ(parts[1].at("functionCall"), json::parse(R"({"name":"search","args":{"q":"find"}})"));
  EXPECT_EQ(v.at("candidates").at(0).at("finishReason"), "STOP");
  EXPECT_EQ(v.at("usageMetadata").at("thoughtsTokenCount"), kMockThinkingTokens);

  Played t = play(kPath, R"({"contents":[{"parts":[{"text":"a b c"}]}],
      "generationConfig":{"maxOutputTokens":2}})");
  json::value w = json::parse(gemini().whole(t.script));
  EXPECT_EQ(w.at("candidates").at(0).at("finishReason"), "MAX_TOKENS");
  EXPECT_EQ(w.at("candidates").at(0).at("content").at("parts").at(0).at("text"), "a b ");
}

TEST(MockGemini, BlockedIsSafetyWithNoText) {
  MockKnobs k;
  k.blocked = 1;
  Played p = play(kStreamPath, R"({"contents":[{"parts":[{"text":"x"}]}]})", k);
  json::value v = json::parse(gemini().whole(p.script));
  EXPECT_EQ(v.at("candidates").at(0).at("finishReason"), "SAFETY");
  EXPECT_FALSE(v.at("candidates").at(0).as_object().contains("content"));
  auto evs = events(stream_body(gemini(), p.script));
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().at("candidates").at(0).at("finishReason"), "SAFETY");
  for (const auto& e : evs)
    EXPECT_FALSE(e.at("candidates").at(0).as_object().contains("content"));
}

TEST(MockGemini, StreamEventsAreGenerateContentResponses) {
  MockKnobs k;
  k.chunks = 3;
  k.tokens_per_chunk = 2;
  Played p = play(kStreamPath, R"({"contents":[{"parts":[{"text":"one two three"}]}],
      "generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":100}}})", k);
  auto evs = events(stream_body(gemini(), p.script));
  ASSERT_EQ(evs.size(), 5u);  // thought, 3 text chunks, final
  EXPECT_EQ(evs[0].at("candidates").at(0).at("content").at("parts").at(0).at("thought"), true);
  std::string text;
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_FALSE(evs[i].at("candidates").at(0).as_object().contains("finishReason"));
    text += evs[i].at("candidates").at(0).at("content").at("parts").at(0).at("text").as_string();
  }
  EXPECT_EQ(text, "one two three one two three ");
  EXPECT_EQ(evs[4].at("candidates").at(0).at("finishReason"), "STOP");
  EXPECT_EQ(evs[4].at("usageMetadata").at("candidatesTokenCount"), 6);
  EXPECT_EQ(evs[4].at("usageMetadata").at("thoughtsTokenCount"), kMockThinkingTokens);
}

TEST(MockGemini, ErrorsInGeminiShape) {
  ApiError e = ApiError::rate_limited("slow down", "3");
  json::value v = json::parse(gemini().error_body(e));
  EXPECT_EQ(v.at("error").at("code"), 429);
  EXPECT_EQ(v.at("error").at("status"), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(v.at("error").at("message"), "slow down");
  EXPECT_EQ(v.at("error").at("details").at(0).at("retryDelay"), "3s");
  json::value b = json::parse(gemini().error_body(ApiError::invalid_request("bad \"x\"")));
  EXPECT_EQ(b.at("error").at("status"), "INVALID_ARGUMENT");
}

// --- the provider against the mock (each written on its own side of the wire) ----------------

struct Collect final : StreamSink {
  std::string text, args, call_id;
  FinishReason finish = FinishReason::unset;
  void event(const StreamEvent& e) override {
    if (e.kind == StreamEvent::Kind::text) text += e.text;
    if (e.kind == StreamEvent::Kind::tool_call_args) args += e.text;
    if (e.kind == StreamEvent::Kind::tool_call_start) call_id = e.id;
    if (e.kind == StreamEvent::Kind::finish) finish = e.finish;
  }
  void raw(std::string_view, std::string_view, bool) override {}
};

std::unique_ptr<Provider> adapter() {
  ProviderConfig c;
  c.name = "gem";
  c.api_key.value = "k";
  return std::move(*make_gemini(c, Endpoint{}));
}

TEST(MockGemini, ProviderDecodesTheMockWholeAndStreamed) {
  auto prov = adapter();
  MockKnobs k;
  k.cached_tokens = 2;
  for (bool tool : {false, true}) {
    std::string body = tool ? R"({"contents":[{"parts":[{"text":"find cats"}]}],
        "tools":[{"functionDeclarations":[{"name":"search"}]}]})"
                            : R"({"contents":[{"parts":[{"text":"hello there"}]}]})";
    Played p = play(kStreamPath, body, k);
    auto whole = prov->decode_chat(gemini().whole(p.script), false);
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_EQ(whole->result.usage.prompt_tokens, p.script.prompt_tokens);
    EXPECT_EQ(whole->result.usage.completion_tokens, p.script.completion_tokens);
    EXPECT_EQ(whole->result.usage.cached_tokens, 2);

    auto dec = prov->stream_decoder(false);
    Collect sink;
    Usage usage;
    bool done = false;
    std::string sse = stream_body(gemini(), p.script);
    for (std::size_t i = 0; i < sse.size(); i += 7) {
      auto r = dec->feed(std::string_view(sse).substr(i, 7), sink, usage, done);
      ASSERT_TRUE(r) << r.error().message;
    }
    EXPECT_TRUE(done);
    EXPECT_EQ(usage.completion_tokens, p.script.completion_tokens);
    if (tool) {
      EXPECT_EQ(whole->result.finish, FinishReason::tool_calls);
      EXPECT_EQ(sink.finish, FinishReason::tool_calls);
      ASSERT_EQ(whole->result.parts.size(), 1u);
      EXPECT_EQ(sink.call_id, whole->result.parts[0].id);
      EXPECT_EQ(sink.args, whole->result.parts[0].arguments);
      EXPECT_EQ(json::parse(sink.args), json::parse(p.script.tool_args));
    } else {
      EXPECT_EQ(sink.finish, FinishReason::stop);
      ASSERT_EQ(whole->result.parts.size(), 1u);
      EXPECT_EQ(sink.text, whole->result.parts[0].text);
      EXPECT_FALSE(sink.text.empty());
    }
  }
}

}  // namespace
}  // namespace torii
