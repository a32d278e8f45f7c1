// The Gemini provider: request encoding (golden), answer decoding (fixtures in the shape of the
// public API reference's examples), streams split anywhere, tool call ids, usage, errors.
#include "providers/gemini.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "providers/registry.h"

namespace torii {
namespace {
namespace json = boost::json;

ProviderConfig config(std::string key = "AIza-secret-key") {
  ProviderConfig c;
  c.name = "gem";
  c.kind = "gemini";
  c.api_key.value = std::move(key);
  c.models = {"gemini-2.5-flash"};
  return c;
}

Endpoint endpoint(std::string base_path = "") {
  Endpoint e;
  e.tls = true;
  e.host = "generativelanguage.googleapis.com";
  e.port = 443;
  e.base_path = std::move(base_path);
  return e;
}

std::unique_ptr<Provider> provider(ProviderConfig c = config(), Endpoint e = endpoint()) {
  auto p = make_gemini(c, std::move(e));
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(*p);
}

Part text(std::string t) { return Part::make_text(std::move(t)); }

Message msg(Role r, std::vector<Part> parts) {
  Message m;
  m.role = r;
  m.parts = std::move(parts);
  return m;
}

Part call_part(std::string id, std::string name, std::string args, std::string sig = "") {
  Part p;
  p.kind = Part::Kind::tool_call;
  p.id = std::move(id);
  p.name = std::move(name);
  p.arguments = std::move(args);
  p.signature = std::move(sig);
  return p;
}

Part result_part(std::string id, std::string content, bool error = false) {
  Part p;
  p.kind = Part::Kind::tool_result;
  p.id = std::move(id);
  p.content.push_back(text(std::move(content)));
  p.is_error = error;
  return p;
}

struct Encoded {
  UpstreamRequest request;
  json::value body;
  std::vector<std::string> ignored;
};

Encoded encode(const ChatRequest& rq, bool stream = false,
               std::string_view model = "gemini-2.5-flash") {
  static auto p = provider();
  Encoded out;
  ChatCall call;
  call.inbound = WireFormat::openai_chat;
  call.request = &rq;
  call.upstream_model = model;
  call.stream = stream;
  call.ignored = &out.ignored;
  auto r = p->encode_chat(call);
  if (!r) throw std::runtime_error("encode failed: " + r.error().message);
  out.request = std::move(*r);
  out.body = json::parse(out.request.body);
  return out;
}

ApiError encode_error(const ChatRequest& rq) {
  static auto p = provider();
  std::vector<std::string> ignored;
  ChatCall call;
  call.request = &rq;
  call.upstream_model = "gemini-2.5-flash";
  call.ignored = &ignored;
  auto r = p->encode_chat(call);
  if (r) throw std::runtime_error("expected an error, got " + r->body);
  return r.error();
}

// --- paths, headers, registry ----------------------------------------------------------------

TEST(GeminiPath, WholeStreamVersionAndEncoding) {
  EXPECT_EQ(gemini_path("", "v1beta", "gemini-2.5-flash", false),
            "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(gemini_path("", "v1beta", "gemini-2.5-flash", true),
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(gemini_path("/proxy", "v1", "my model/x?y", false),
            "/proxy/v1/models/my%20model%2Fx%3Fy:generateContent");
  EXPECT_EQ(gemini_path("", "v1beta", "models/gemini-2.0-flash", false),
            "/v1beta/models/gemini-2.0-flash:generateContent");
}

TEST(GeminiProvider, KeyInHeaderNeverInUrl) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("hi")}));
  Encoded e = encode(rq, true);
  EXPECT_EQ(e.request.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(e.request.path.find("key"), std::string::npos);
  EXPECT_NE(e.request.header_block.find("x-goog-api-key: AIza-secret-key\r\n"), std::string::npos);
  EXPECT_NE(e.request.header_block.find("Accept: text/event-stream"), std::string::npos);
}

TEST(GeminiProvider, ApiVersionOverrideAndVersionedBaseUrl) {
  ProviderConfig c = config();
  c.api_version = "v1";
  auto p = provider(c);
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("hi")}));
  std::vector<std::string> ignored;
  ChatCall call{WireFormat::openai_chat, nullptr, &rq, "gemini-pro", false, &ignored};
  EXPECT_EQ(p->encode_chat(call)->path, "/v1/models/gemini-pro:generateContent");
  auto q = provider(config(), endpoint("/v1beta"));
  EXPECT_EQ(q->encode_chat(call)->path, "/v1beta/models/gemini-pro:generateContent");
}

TEST(GeminiProvider, RegistryRowAndKeyRequired) {
  const ProviderKind* k = find_provider_kind("gemini");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->default_base_url, "https://generativelanguage.googleapis.com");
  EXPECT_TRUE(k->key_required);
  auto p = make_gemini(config(""), endpoint());
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().status, 400);
  auto q = provider();
  EXPECT_EQ(q->kind(), "gemini");
  EXPECT_FALSE(q->speaks(WireFormat::openai_chat));
  EXPECT_TRUE(q->capabilities().tools && q->capabilities().thinking && q->capabilities().images);
}

// --- requests --------------------------------------------------------------------------------

TEST(GeminiEncode, GoldenConversationWithToolsAndConfig) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::system, {text("You are a movie assistant.")}));
  rq.messages.push_back(msg(Role::user, {text("Which theaters in Mountain View show Barbie?")}));
  Part thinking;
  thinking.kind = Part::Kind::thinking;
  thinking.text = "Need theaters.";
  thinking.signature = "c2ln";
  rq.messages.push_back(msg(
      Role::assistant,
      {thinking, call_part("call_0", "find_theaters",
                           R"({"location":"Mountain View, CA","movie":"Barbie"})", "c2lnMg==")}));
  rq.messages.push_back(msg(Role::tool, {result_part("call_0", R"({"theaters":["AMC"]})")}));
  rq.messages.push_back(msg(Role::user, {text("Thanks")}));
  Tool t;
  t.name = "find_theaters";
  t.description = "find theaters showing a movie";
  t.parameters = json::parse(R"({"$schema":"http://json-schema.org/draft-07/schema#",
      "type":"object","additionalProperties":false,
      "properties":{"location":{"type":"string","description":"city"},
                    "movie":{"type":["string","null"]}},
      "required":["location"]})");
  rq.tools.push_back(t);
  rq.tool_choice.mode = ToolChoice::Mode::tool;
  rq.tool_choice.name = "find_theaters";
  rq.temperature = 0.5;
  rq.top_p = 0.9;
  rq.top_k = 40;
  rq.max_tokens = 256;
  rq.stop = {"END"};
  rq.seed = 7;
  rq.presence_penalty = 0.25;
  rq.frequency_penalty = 0.5;
  rq.thinking_budget = 1024;

  Encoded e = encode(rq);
  json::value want = json::parse(R"({
    "contents":[
      {"role":"user","parts":[{"text":"Which theaters in Mountain View show Barbie?"}]},
      {"role":"model","parts":[
        {"text":"Need theaters.","thought":true,"thoughtSignature":"c2ln"},
        {"functionCall":{"name":"find_theaters",
                         "args":{"location":"Mountain View, CA","movie":"Barbie"}},
         "thoughtSignature":"c2lnMg=="}]},
      {"role":"user","parts":[
        {"functionResponse":{"name":"find_theaters","response":{"theaters":["AMC"]}}},
        {"text":"Thanks"}]}],
    "systemInstruction":{"parts":[{"text":"You are a movie assistant."}]},
    "tools":[{"functionDeclarations":[{"name":"find_theaters",
      "description":"find theaters showing a movie",
      "parameters":{"type":"object",
        "properties":{"location":{"type":"string","description":"city"},
                      "movie":{"type":"string","nullable":true}},
        "required":["location"]}}]}],
    "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["find_theaters"]}},
    "generationConfig":{"temperature":0.5,"topP":0.9,"topK":40,"maxOutputTokens":256,
      "stopSequences":["END"],"seed":7,"presencePenalty":0.25,"frequencyPenalty":0.5,
      "thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}}})");
  EXPECT_EQ(e.body, want) << json::serialize(e.body);
  EXPECT_TRUE(e.ignored.empty());
}

TEST(GeminiEncode, ToolResultNameFromLatestCallWithThatId) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("go")}));
  rq.messages.push_back(msg(Role::assistant, {call_part("call_0", "first", "{}")}));
  rq.messages.push_back(msg(Role::tool, {result_part("call_0", "plain text result")}));
  rq.messages.push_back(msg(Role::assistant, {call_part("call_0", "second", "")}));
  rq.messages.push_back(msg(Role::tool, {result_part("call_0", "boom", true)}));
  Encoded e = encode(rq);
  const json::array& c = e.body.at("contents").as_array();
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c[2].at("parts").at(0).at("functionResponse"),
            json::parse(R"({"name":"first","response":{"content":"plain text result"}})"));
  EXPECT_EQ(c[3].at("parts").at(0).at("functionCall"),
            json::parse(R"({"name":"second","args":{}})"));
  EXPECT_EQ(c[4].at("parts").at(0).at("functionResponse"),
            json::parse(R"({"name":"second","response":{"error":"boom"}})"));
}

TEST(GeminiEncode, ParallelResultsShareOneTurn) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("go")}));
  rq.messages.push_back(
      msg(Role::assistant, {call_part("a", "f", "{}"), call_part("b", "g", "{}")}));
  rq.messages.push_back(msg(Role::tool, {result_part("a", "1")}));
  rq.messages.push_back(msg(Role::tool, {result_part("b", "2")}));
  Encoded e = encode(rq);
  const json::array& c = e.body.at("contents").as_array();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[2].at("role"), "user");
  ASSERT_EQ(c[2].at("parts").as_array().size(), 2u);
  EXPECT_EQ(c[2].at("parts").at(1).at("functionResponse").at("name"), "g");
}

TEST(GeminiEncode, ToolResultWithoutCallIs400) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("go")}));
  rq.messages.push_back(msg(Role::tool, {result_part("call_9", "x")}));
  ApiError e = encode_error(rq);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "messages[1]");
  EXPECT_NE(e.message.find("call_9"), std::string::npos);
  EXPECT_NE(e.message.find("'gem'"), std::string::npos);
}

TEST(GeminiEncode, MeaningChangingFieldsAre400) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("go")}));
  rq.n = 2;
  ApiError e = encode_error(rq);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "n");
  EXPECT_NE(e.message.find("provider 'gem' (gemini) has no counterpart for 'n'"),
            std::string::npos);
  rq.n = 1;
  rq.logprobs = true;
  EXPECT_EQ(encode_error(rq).param, "logprobs");
  rq.logprobs = false;
  rq.reasoning_effort = "extreme";
  EXPECT_EQ(encode_error(rq).param, "reasoning_effort");
  rq.reasoning_effort.clear();
  rq.messages.push_back(msg(Role::assistant, {call_part("x", "f", "[1,2]")}));
  EXPECT_EQ(encode_error(rq).status, 400);
}

TEST(GeminiEncode, HintsWithoutCounterpartAreIgnoredAndNamed) {
  ChatRequest rq;
  Message m = msg(Role::user, {text("go")});
  m.name = "alice";
  rq.messages.push_back(m);
  rq.user = "u-1";
  rq.parallel_tool_calls = false;
  rq.unknown_fields = {"metadata"};
  rq.top_logprobs = 3;
  Encoded e = encode(rq);
  for (auto name : {"user", "parallel_tool_calls", "metadata", "name", "top_logprobs"})
    EXPECT_NE(std::find(e.ignored.begin(), e.ignored.end(), name), e.ignored.end()) << name;
  EXPECT_FALSE(e.body.as_object().contains("generationConfig"));
}

TEST(GeminiEncode, ImagesInlineAndByUri) {
  ChatRequest rq;
  Part inl;
  inl.kind = Part::Kind::image;
  inl.media_type = "image/png";
  inl.data = "iVBORw0KGgo=";
  Part uri;
  uri.kind = Part::Kind::document;
  uri.media_type = "application/pdf";
  uri.url = "https://generativelanguage.googleapis.com/v1beta/files/abc";
  Part bare;
  bare.kind = Part::Kind::image;
  bare.url = "https://example.com/cat.jpg";
  rq.messages.push_back(msg(Role::user, {text("what is this?"), inl, uri, bare}));
  Encoded e = encode(rq);
  const json::value& parts = e.body.at("contents").at(0).at("parts");
  EXPECT_EQ(parts.at(1),
            json::parse(R"({"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}})"));
  EXPECT_EQ(parts.at(2), json::parse(R"({"fileData":{"mimeType":"application/pdf",
      "fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc"}})"));
  EXPECT_EQ(parts.at(3), json::parse(R"({"fileData":{"fileUri":"https://example.com/cat.jpg"}})"));
}

TEST(GeminiEncode, JsonModesEffortAndToolChoices) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("go")}));
  rq.response_format.kind = ResponseFormat::Kind::json_object;
  rq.reasoning_effort = "low";
  Encoded e = encode(rq);
  EXPECT_EQ(e.body.at("generationConfig"), json::parse(R"({"responseMimeType":"application/json",
      "thinkingConfig":{"thinkingBudget":2048,"includeThoughts":true}})"));
  rq.response_format.kind = ResponseFormat::Kind::json_schema;
  rq.response_format.schema = json::parse(R"({"type":"object","additionalProperties":false,
      "properties":{"a":{"type":"integer"}}})");
  rq.reasoning_effort.clear();
  rq.thinking_budget = 0;
  e = encode(rq);
  EXPECT_EQ(e.body.at("generationConfig").at("responseJsonSchema"), rq.response_format.schema);
  EXPECT_EQ(e.body.at("generationConfig").at("thinkingConfig"),
            json::parse(R"({"thinkingBudget":0})"));
  rq.response_format = {};
  rq.thinking_budget.reset();
  for (auto [mode, want] : {std::pair{ToolChoice::Mode::auto_, "AUTO"},
                            std::pair{ToolChoice::Mode::none, "NONE"},
                            std::pair{ToolChoice::Mode::required, "ANY"}}) {
    rq.tool_choice.mode = mode;
    e = encode(rq);
    EXPECT_EQ(e.body.at("toolConfig").at("functionCallingConfig").at("mode"), want);
  }
}

TEST(GeminiSchema, KeepsTheSubsetAndStripsTheRest) {
  json::value s = gemini_schema(json::parse(R"({"$schema":"x","$defs":{},"type":"object",
      "title":"T","additionalProperties":{"type":"string"},
      "properties":{"n":{"type":"integer","enum":[1,2],"minimum":0,"examples":[1]},
        "tags":{"type":"array","items":{"type":"string","additionalProperties":false},"maxItems":3},
        "mode":{"const":"fast"},
        "u":{"anyOf":[{"type":"string","$comment":"c"},{"type":"null"}]}},
      "required":["n"]})"));
  EXPECT_EQ(s, json::parse(R"({"type":"object","title":"T",
      "properties":{"n":{"type":"integer","enum":["1","2"],"minimum":0},
        "tags":{"type":"array","items":{"type":"string"},"maxItems":3},
        "mode":{"enum":["fast"]},
        "u":{"anyOf":[{"type":"string"},{"type":"null"}]}},
      "required":["n"]})"))
      << json::serialize(s);
}

TEST(GeminiEncode, ToolWithoutParametersOmitsThem) {
  ChatRequest rq;
  rq.messages.push_back(msg(Role::user, {text("go")}));
  Tool t;
  t.name = "now";
  t.parameters = json::parse(R"({"type":"object","properties":{}})");
  rq.tools.push_back(t);
  Encoded e = encode(rq);
  EXPECT_EQ(e.body.at("tools"), json::parse(R"([{"functionDeclarations":[{"name":"now"}]}])"));
}

// --- answers ---------------------------------------------------------------------------------

// The shape of the function-calling example of the API reference.
constexpr std::string_view kFunctionCallAnswer = R"({
  "candidates": [{
    "content": {
      "parts": [{"functionCall": {"name": "find_theaters",
                                  "args": {"location": "Mountain View, CA", "movie": "Barbie"}}},
                {"functionCall": {"name": "get_showtimes",
                                  "args": {"theater": "AMC Mountain View 16"}},
                 "thoughtSignature": "c2lnMw=="}],
      "role": "model"},
    "finishReason": "STOP",
    "index": 0,
    "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]}],
  "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 20, "totalTokenCount": 70},
  "modelVersion": "gemini-2.5-flash",
  "responseId": "resp-1"
})";

TEST(GeminiDecode, FunctionCallsGetIdsAndToolCallsFinish) {
  auto p = provider();
  auto r = p->decode_chat(std::string(kFunctionCallAnswer), false);
  ASSERT_TRUE(r) << r.error().message;
  const ChatResult& c = r->result;
  EXPECT_EQ(c.id, "resp-1");
  EXPECT_EQ(c.model, "gemini-2.5-flash");
  EXPECT_EQ(c.finish, FinishReason::tool_calls);
  EXPECT_EQ(c.native_finish, "STOP");
  ASSERT_EQ(c.parts.size(), 2u);
  EXPECT_EQ(c.parts[0].kind, Part::Kind::tool_call);
  EXPECT_EQ(c.parts[0].id, "call_0");
  EXPECT_EQ(json::parse(c.parts[0].arguments),
            json::parse(R"({"location":"Mountain View, CA","movie":"Barbie"})"));
  EXPECT_EQ(c.parts[1].id, "call_1");
  EXPECT_EQ(c.parts[1].name, "get_showtimes");
  EXPECT_EQ(c.parts[1].signature, "c2lnMw==");
  EXPECT_EQ(c.usage.prompt_tokens, 50);
  EXPECT_EQ(c.usage.completion_tokens, 20);
  EXPECT_EQ(c.usage.total_tokens, 70);
}

TEST(GeminiDecode, ThoughtsTextAndEveryUsageCount) {
  auto p = provider();
  auto r = p->decode_chat(R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"**Planning** the poem","thought":true,"thoughtSignature":"dGg="},
      {"text":"Roses are red, "},{"text":"violets are blue."}]},
      "finishReason":"MAX_TOKENS","index":0}],
      "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":12,"thoughtsTokenCount":30,
        "cachedContentTokenCount":64,"totalTokenCount":142},
      "modelVersion":"gemini-2.5-pro","responseId":"r2"})", false);
  ASSERT_TRUE(r) << r.error().message;
  const ChatResult& c = r->result;
  ASSERT_EQ(c.parts.size(), 2u);
  EXPECT_EQ(c.parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(c.parts[0].signature, "dGg=");
  EXPECT_EQ(c.parts[1].text, "Roses are red, violets are blue.");
  EXPECT_EQ(c.finish, FinishReason::length);
  EXPECT_EQ(c.usage.prompt_tokens, 100);
  EXPECT_EQ(c.usage.completion_tokens, 42);
  EXPECT_EQ(c.usage.reasoning_tokens, 30);
  EXPECT_EQ(c.usage.cached_tokens, 64);
  EXPECT_EQ(c.usage.total_tokens, 142);
}

TEST(GeminiDecode, SafetyAndBlockedPromptAreContentFilter) {
  auto p = provider();
  auto r = p->decode_chat(R"({"candidates":[{"finishReason":"SAFETY","index":0,
      "safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH"}]}],
      "usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}})", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result.finish, FinishReason::content_filter);
  EXPECT_EQ(r->result.native_finish, "SAFETY");
  EXPECT_TRUE(r->result.parts.empty());
  EXPECT_EQ(r->result.usage.completion_tokens, 0);

  auto b = p->decode_chat(R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},
      "usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}})", false);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->result.finish, FinishReason::content_filter);
  EXPECT_EQ(b->result.native_finish, "PROHIBITED_CONTENT");
  EXPECT_TRUE(b->result.parts.empty());
  EXPECT_EQ(b->result.usage.prompt_tokens, 7);
}

TEST(GeminiDecode, FinishReasonTable) {
  EXPECT_EQ(gemini_finish_reason("STOP"), FinishReason::stop);
  EXPECT_EQ(gemini_finish_reason("MAX_TOKENS"), FinishReason::length);
  for (auto r : {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"})
    EXPECT_EQ(gemini_finish_reason(r), FinishReason::content_filter) << r;
  EXPECT_EQ(gemini_finish_reason("MALFORMED_FUNCTION_CALL"), FinishReason::error);
  EXPECT_EQ(gemini_finish_reason("OTHER"), FinishReason::stop);
}

TEST(GeminiDecode, BadBodiesAre502NotCrashes) {
  auto p = provider();
  for (std::string body : {std::string("{\"candidates\":[{\"content\":"), std::string("[]"),
                           std::string("{}"), std::string(R"({"candidates":[42]})"),
                           std::string(R"({"candidates":[{"content":{"parts":["x"]}}]})")}) {
    auto r = p->decode_chat(std::move(body), false);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status, 502);
  }
  // Wrong types inside a part are skipped, not fatal.
  auto r = p->decode_chat(R"({"candidates":[{"content":{"parts":[{"text":5},
      {"functionCall":{"name":"f","args":"notobj"}}]},"finishReason":7}]})", false);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->result.parts.size(), 1u);
  EXPECT_EQ(r->result.parts[0].arguments, "{}");
}

// --- streams ---------------------------------------------------------------------------------

struct Recorder final : StreamSink {
  std::vector<std::string> log;
  Usage usage;
  void event(const StreamEvent& e) override {
    std::string s;
    switch (e.kind) {
      case StreamEvent::Kind::start:
        s = "start " + std::string(e.id) + " " + std::string(e.name);
        break;
      case StreamEvent::Kind::text: s = "text " + std::string(e.text); break;
      case StreamEvent::Kind::thinking: s = "thinking " + std::string(e.text); break;
      case StreamEvent::Kind::thinking_signature: s = "sig " + std::string(e.text); break;
      case StreamEvent::Kind::redacted_thinking: s = "redacted"; break;
      case StreamEvent::Kind::tool_call_start:
        s = "call " + std::to_string(e.index) + " " + std::string(e.id) + " " + std::string(e.name);
        break;
      case StreamEvent::Kind::tool_call_args:
        s = "args " + std::to_string(e.index) + " " + std::string(e.text);
        break;
      case StreamEvent::Kind::finish:
        s = "finish " + std::string(openai_finish_reason(e.finish)) + " " + std::string(e.text);
        break;
      case StreamEvent::Kind::usage:
        s = "usage " + std::to_string(e.usage.prompt_tokens) + "/" +
            std::to_string(e.usage.completion_tokens) + "/" +
            std::to_string(e.usage.reasoning_tokens) + "/" + std::to_string(e.usage.cached_tokens);
        usage = e.usage;
        break;
    }
    // Consecutive text deltas are merged so that any split gives the same log.
    if (e.kind == StreamEvent::Kind::text && !log.empty() && log.back().starts_with("text ")) {
      log.back() += e.text;
      return;
    }
    log.push_back(std::move(s));
  }
  void raw(std::string_view, std::string_view, bool) override { log.push_back("raw"); }
};

struct StreamRun {
  std::vector<std::string> log;
  Usage usage;
  bool done = false;
  std::string error;
};

StreamRun run_stream(std::string_view body, const std::vector<std::size_t>& cuts) {
  static auto p = provider();
  auto d = p->stream_decoder(false);
  Recorder rec;
  StreamRun out;
  std::size_t at = 0;
  auto feed = [&](std::string_view piece) {
    if (!out.error.empty()) return;
    auto r = d->feed(piece, rec, out.usage, out.done);
    if (!r) out.error = r.error().message;
  };
  for (std::size_t c : cuts) {
    feed(body.substr(at, c - at));
    at = c;
  }
  feed(body.substr(at));
  out.log = std::move(rec.log);
  return out;
}

// Gemini's SSE: CRLF-separated events, each a partial GenerateContentResponse.
constexpr std::string_view kTextStream =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"thinking about it\",\"thought\":"
    "true,\"thoughtSignature\":\"c2ln\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":"
    "{\"promptTokenCount\":8,\"totalTokenCount\":8},\"modelVersion\":\"gemini-2.5-flash\","
    "\"responseId\":\"abc\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello, caf\xc3\xa9 \"}],"
    "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,"
    "\"totalTokenCount\":8},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"world\"}],\"role\":\"model\"},"
    "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,"
    "\"candidatesTokenCount\":3,\"thoughtsTokenCount\":4,\"cachedContentTokenCount\":2,"
    "\"totalTokenCount\":15},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc\"}\r\n\r\n";

TEST(GeminiStream, TextThinkingFinishUsage) {
  StreamRun r = run_stream(kTextStream, {});
  ASSERT_TRUE(r.error.empty()) << r.error;
  std::vector<std::string> want = {"start abc gemini-2.5-flash", "thinking thinking about it",
                                   "sig c2ln", "text Hello, caf\xc3\xa9 world", "finish stop STOP",
                                   "usage 8/7/4/2"};
  EXPECT_EQ(r.log, want);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.usage.total_tokens, 15);
}

TEST(GeminiStream, SplitAnywhereGivesTheSameEvents) {
  StreamRun whole = run_stream(kTextStream, {});
  for (std::size_t i = 1; i < kTextStream.size(); ++i) {
    StreamRun r = run_stream(kTextStream, {i});
    ASSERT_EQ(r.log, whole.log) << "split at " << i;
    ASSERT_TRUE(r.done);
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < kTextStream.size(); ++i) every.push_back(i);
  EXPECT_EQ(run_stream(kTextStream, every).log, whole.log);
}

TEST(GeminiStream, ToolCallIdsAndArgsMatchTheWholeAnswer) {
  // The same answer, as one SSE event.
  std::string compact = json::serialize(json::parse(kFunctionCallAnswer));
  std::string stream = "data: " + compact + "\r\n\r\n";
  StreamRun r = run_stream(stream, {stream.size() / 3, stream.size() / 2});
  ASSERT_TRUE(r.error.empty()) << r.error;
  auto whole = provider()->decode_chat(std::string(kFunctionCallAnswer), false);
  ASSERT_TRUE(whole);
  const auto& parts = whole->result.parts;
  std::vector<std::string> want = {"start resp-1 gemini-2.5-flash",
                                   "call 0 " + parts[0].id + " " + parts[0].name,
                                   "args 0 " + parts[0].arguments,
                                   "call 1 " + parts[1].id + " " + parts[1].name,
                                   "args 1 " + parts[1].arguments,
                                   "finish tool_calls STOP", "usage 50/20/-1/-1"};
  EXPECT_EQ(r.log, want);
}

TEST(GeminiStream, CallsNumberedAcrossEvents) {
  std::string s =
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"a\","
      "\"args\":{\"x\":1}}}]},\"index\":0}]}\r\n\r\n"
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"b\"}}]},"
      "\"finishReason\":\"STOP\",\"index\":0}]}\r\n\r\n";
  StreamRun r = run_stream(s, {});
  std::vector<std::string> want = {"start  ", "call 0 call_0 a", "args 0 {\"x\":1}",
                                   "call 1 call_1 b", "args 1 {}", "finish tool_calls STOP"};
  EXPECT_EQ(r.log, want);
}

TEST(GeminiStream, BlockedPromptSafetyAndErrors) {
  StreamRun b = run_stream(
      "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
      "\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5}}\r\n\r\n",
      {});
  std::vector<std::string> want = {"start  ", "finish content_filter SAFETY", "usage 5/0/-1/-1"};
  EXPECT_EQ(b.log, want);
  EXPECT_TRUE(b.done);

  StreamRun s = run_stream("data: {\"candidates\":[{\"finishReason\":\"RECITATION\",\"index\":0}]}"
                           "\r\n\r\n", {});
  EXPECT_EQ(s.log.back(), "finish content_filter RECITATION");

  StreamRun e = run_stream(
      "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
      "\"status\":\"UNAVAILABLE\"}}\r\n\r\n",
      {});
  EXPECT_NE(e.error.find("overloaded"), std::string::npos);
  StreamRun g = run_stream("data: {\"candidates\":[\r\n\r\n", {});
  EXPECT_FALSE(g.error.empty());
}

TEST(GeminiStream, TheFinishingEventEndsTheStream) {
  // Gemini's last event carries finishReason and the final usageMetadata: done is set there,
  // and anything after it is not decoded (SseStreamDecoder stops at done).
  std::string s(kTextStream);
  s += "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"late\"}]}}]}\r\n\r\n";
  StreamRun r = run_stream(s, {});
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.log.back(), "usage 8/7/4/2");
  EXPECT_EQ(r.usage.completion_tokens, 7);
}

// --- errors ----------------------------------------------------------------------------------

TEST(GeminiErrors, StatusesMapLikeTheOtherProviders) {
  auto p = provider();
  ApiError bad = p->map_error(400, R"({"error":{"code":400,
      "message":"Invalid value at 'contents[0].role'",
      "status":"INVALID_ARGUMENT"}})", "");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.message.find("contents[0].role"), std::string::npos);

  ApiError key = p->map_error(400, R"({"error":{"code":400,
      "message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
      "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID",
                  "domain":"googleapis.com"}]}})", "");
  EXPECT_EQ(key.status, 502);
  EXPECT_EQ(key.code, "upstream_auth");
  EXPECT_EQ(key.message.find("AIza"), std::string::npos);

  ApiError denied = p->map_error(403, R"({"error":{"code":403,"message":"Permission denied",
      "status":"PERMISSION_DENIED"}})", "");
  EXPECT_EQ(denied.status, 502);
  EXPECT_EQ(denied.code, "upstream_auth");

  ApiError limited = p->map_error(429, R"({"error":{"code":429,"message":"Quota exceeded",
      "status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo",
      "retryDelay":"36.5s"}]}})", "");
  EXPECT_EQ(limited.status, 429);
  EXPECT_TRUE(limited.retryable);
  EXPECT_EQ(limited.retry_after, "37");
  EXPECT_EQ(p->map_error(429, "{}", "12").retry_after, "12");

  ApiError down = p->map_error(503, R"({"error":{"code":503,"message":"The model is overloaded.",
      "status":"UNAVAILABLE"}})", "");
  EXPECT_EQ(down.status, 502);
  EXPECT_TRUE(down.retryable);
  EXPECT_NE(down.message.find("overloaded"), std::string::npos);

  EXPECT_EQ(p->map_error(500, "<html>oops</html>", "").status, 502);
  ApiError missing = p->map_error(404, R"({"error":{"code":404,"message":"models/x is not found",
      "status":"NOT_FOUND"}})", "");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.code, "model_not_found");
  EXPECT_EQ(p->map_error(504, "", "").status, 504);
  std::string huge(5000, 'x');
  EXPECT_LE(p->map_error(400, R"({"error":{"message":")" + huge + "\"}}", "").message.size(), 600u);
}

}  // namespace
}  // namespace torii
