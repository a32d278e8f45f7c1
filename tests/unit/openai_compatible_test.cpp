// The OpenAI-compatible provider: body encoding per vendor, error mapping, usage, stream decoder.
#include "providers/openai_compatible.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "json_test_bodies.h"
#include "providers/vendors.h"

namespace torii {
namespace {
namespace json = boost::json;

const VendorSpec& vendor(std::string_view kind) {
  const VendorSpec* v = find_vendor(kind);
  if (!v) throw std::runtime_error("no vendor " + std::string(kind));
  return *v;
}

json::object obj(std::string_view s) { return json::parse(s).as_object(); }

json::object encode(const json::object& req, std::string_view model, bool stream,
                    std::string_view kind = "openai") {
  std::string body = encode_openai_body(req, model, stream, vendor(kind));
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) throw std::runtime_error("encoded body is not a JSON object: " + body);
  return v.as_object();
}

TEST(VendorTable, KnownKindsAndUnknown) {
  for (auto k : {"openai", "mistral", "groq", "deepseek", "ovh", "scaleway", "huggingface", "xai",
                 "cerebras", "together", "fireworks", "openrouter", "perplexity", "ollama-openai", "vllm",
                 "llamacpp", "openai-compatible", "mock"})
    EXPECT_NE(find_vendor(k), nullptr) << k;
  EXPECT_EQ(find_vendor("anthropic-ish"), nullptr);
  EXPECT_EQ(find_vendor(""), nullptr);
  EXPECT_TRUE(vendor("mistral").strip_stream_options);
  EXPECT_TRUE(vendor("mistral").max_completion_tokens_as_max_tokens);
  EXPECT_FALSE(vendor("openai").strip_stream_options);
}

TEST(EncodeOpenAiBody, ModelReplacedAndEverythingElseKept) {
  json::object in = obj(R"({
    "model":"alias","messages":[{"role":"user","content":"h\u00e9llo \"q\" \n"}],
    "temperature":0.7,"top_p":0.123456789012345,"seed":18446744073709551615,"n":-0,
    "x_vendor":{"a":[1,2.5,null,true,{"b":"c"}]},"logit_bias":{"50256":-100},
    "weird key \u2603":"\ud83d\ude00","empty":{},"arr":[]})");
  json::object out = encode(in, "gpt-4o-mini", false);
  json::object expected = in;
  expected["model"] = "gpt-4o-mini";
  EXPECT_EQ(out, expected) << json::serialize(out);
  EXPECT_FALSE(out.contains("stream_options"));
}

TEST(EncodeOpenAiBody, ModelWithCharactersThatNeedEscaping) {
  json::object out = encode(obj(R"({"model":"x","messages":[]})"), "org/\"m\"\\1", false);
  EXPECT_EQ(out.at("model").as_string(), "org/\"m\"\\1");
}

TEST(EncodeOpenAiBody, StreamAddsIncludeUsage) {
  json::object out = encode(obj(R"({"model":"a","messages":[],"stream":true})"), "m", true);
  ASSERT_TRUE(out.contains("stream_options")) << json::serialize(out);
  EXPECT_EQ(out.at("stream_options"), json::parse(R"({"include_usage":true})"));
  EXPECT_EQ(out.at("stream"), json::value(true));
}

TEST(EncodeOpenAiBody, StreamForcesIncludeUsageTrueAndKeepsOtherOptions) {
  // Upstream usage is always asked for (billing needs it); the gateway drops the usage chunk
  // later when the client did not ask for it.
  json::object out = encode(
      obj(R"({"model":"a","messages":[],"stream":true,)"
          R"("stream_options":{"include_usage":false,"x_opt":7}})"),
      "m", true);
  EXPECT_EQ(out.at("stream_options"), json::parse(R"({"include_usage":true,"x_opt":7})"));
}

TEST(EncodeOpenAiBody, NonStreamHasNoStreamOptions) {
  json::object out = encode(
      obj(R"({"model":"a","messages":[],"stream_options":{"include_usage":true}})"), "m", false);
  EXPECT_FALSE(out.contains("stream_options")) << json::serialize(out);
  EXPECT_EQ(out.at("model").as_string(), "m");
}

TEST(EncodeOpenAiBody, StreamWithNullStreamOptionsStillAsksForUsage) {
  // Regression: "stream_options":null was forwarded as null, so the stream carried no usage.
  json::object out = encode(
      obj(R"({"model":"a","messages":[],"stream":true,"stream_options":null})"), "m", true);
  EXPECT_EQ(out.at("stream_options"), json::parse(R"({"include_usage":true})"));
}

TEST(EncodeOpenAiBody, MistralStripsStreamOptionsAndMapsMaxCompletionTokens) {
  json::object out = encode(
      obj(R"({"model":"a","messages":[],"stream":true,"stream_options":{"include_usage":true},)"
          R"("max_completion_tokens":42,"x":1})"),
      "mistral-small", true, "mistral");
  EXPECT_FALSE(out.contains("stream_options")) << json::serialize(out);
  EXPECT_FALSE(out.contains("max_completion_tokens"));
  EXPECT_EQ(out.at("max_tokens"), json::value(42));
  EXPECT_EQ(out.at("x"), json::value(1));
  EXPECT_EQ(out.at("model").as_string(), "mistral-small");

  // Stream without options: nothing added for mistral.
  out = encode(obj(R"({"model":"a","messages":[],"stream":true})"), "m", true, "mistral");
  EXPECT_FALSE(out.contains("stream_options"));

  // Both given: the explicit max_tokens wins, no duplicate key.
  std::string body = encode_openai_body(
      obj(R"({"model":"a","max_completion_tokens":5,"max_tokens":9})"), "m", false,
      vendor("mistral"));
  EXPECT_EQ(body.find("max_tokens"), body.rfind("max_tokens")) << body;
  EXPECT_EQ(json::parse(body).at("max_tokens"), json::value(9));
}

TEST(EncodeOpenAiBody, OpenAiKeepsMaxCompletionTokens) {
  json::object out =
      encode(obj(R"({"model":"a","max_completion_tokens":42})"), "m", false, "openai");
  EXPECT_EQ(out.at("max_completion_tokens"), json::value(42));
  EXPECT_FALSE(out.contains("max_tokens"));
}

// --- errors ----------------------------------------------------------------------------------

const std::string kErrBody =
    R"({"error":{"message":"model 'zz' does not exist","type":"invalid_request_error"}})";

TEST(MapOpenAiError, ClientErrorsKeepTheUpstreamMessage) {
  for (int status : {400, 404, 422}) {
    ApiError e = map_openai_error("prov", status, kErrBody, "");
    EXPECT_EQ(e.status, status == 404 ? 404 : 400) << status;
    EXPECT_NE(e.message.find("model 'zz' does not exist"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("prov"), std::string::npos) << e.message;
    EXPECT_FALSE(e.retryable) << status;
  }
  EXPECT_EQ(map_openai_error("p", 404, kErrBody, "").code, "model_not_found");
}

TEST(MapOpenAiError, AuthFailuresAre502WithoutLeaking) {
  const std::string body =
      R"({"error":{"message":"Incorrect API key provided: sk-secret-123","code":"invalid_api_key"}})";
  for (int status : {401, 403}) {
    ApiError e = map_openai_error("prov", status, body, "");
    EXPECT_EQ(e.status, 502) << status;
    EXPECT_EQ(e.code, "upstream_auth");
    EXPECT_EQ(e.message.find("sk-secret"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find(std::to_string(status)), std::string::npos);
  }
}

TEST(MapOpenAiError, RateLimitCarriesRetryAfterAndIsRetryable) {
  ApiError e = map_openai_error("p", 429, R"({"error":{"message":"slow down"}})", "17");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after, "17");
  EXPECT_TRUE(e.retryable);
  EXPECT_NE(e.message.find("slow down"), std::string::npos);
}

TEST(MapOpenAiError, ServerErrorsAre502RetryableAndTimeoutsAre504) {
  for (int status : {500, 502, 503, 529}) {
    ApiError e = map_openai_error("p", status, "oops", "");
    EXPECT_EQ(e.status, 502) << status;
    EXPECT_TRUE(e.retryable) << status;
  }
  ApiError t = map_openai_error("p", 504, "", "");
  EXPECT_EQ(t.status, 504);
  EXPECT_TRUE(t.retryable);
  // Unexpected statuses below 500 are failures too, but another target would not help.
  ApiError odd = map_openai_error("p", 418, "", "");
  EXPECT_EQ(odd.status, 502);
  EXPECT_FALSE(odd.retryable);
}

TEST(MapOpenAiError, MessageIsCapped) {
  std::string huge(5000, 'a');
  ApiError e = map_openai_error("p", 400, R"({"error":{"message":")" + huge + R"("}})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_LE(e.message.size(), 500u + 64u);
  EXPECT_GE(e.message.size(), 500u);
  ApiError raw = map_openai_error("p", 500, huge, "");
  EXPECT_LE(raw.message.size(), 500u + 64u);
}

TEST(MapOpenAiError, NonJsonAndOtherShapes) {
  ApiError e = map_openai_error("p", 500, "<html>Bad Gateway</html>", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_NE(e.message.find("<html>Bad Gateway</html>"), std::string::npos);
  // FastAPI-style {"detail": ...} and {"message": ...}, and "error" as a string.
  EXPECT_NE(map_openai_error("p", 422, R"({"detail":"field x"})", "").message.find("field x"),
            std::string::npos);
  EXPECT_NE(map_openai_error("p", 400, R"({"message":"m1"})", "").message.find("m1"),
            std::string::npos);
  EXPECT_NE(map_openai_error("p", 400, R"({"error":"plain"})", "").message.find("plain"),
            std::string::npos);
  // The result always serialises to the OpenAI error shape.
  json::value v = json::parse(to_openai_json(e));
  EXPECT_TRUE(v.at("error").at("message").is_string());
}

// --- usage -----------------------------------------------------------------------------------

TEST(ParseOpenAiUsage, AllFieldsAndAbsentOnes) {
  Usage u = parse_openai_usage(obj(
      R"({"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,)"
      R"("prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}})"));
  EXPECT_EQ(u.prompt_tokens, 10);
  EXPECT_EQ(u.completion_tokens, 5);
  EXPECT_EQ(u.total_tokens, 15);
  EXPECT_EQ(u.cached_tokens, 4);
  EXPECT_EQ(u.reasoning_tokens, 2);
  EXPECT_TRUE(u.known());

  Usage none = parse_openai_usage(obj(R"({"prompt_tokens":"x","prompt_tokens_details":null})"));
  EXPECT_EQ(none.prompt_tokens, -1);
  EXPECT_EQ(none.completion_tokens, -1);
  EXPECT_EQ(none.cached_tokens, -1);
  EXPECT_EQ(none.reasoning_tokens, -1);
  EXPECT_FALSE(none.known());
}

// --- the provider and its stream decoder -----------------------------------------------------

class OpenAiProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.name = "up";
    cfg_.kind = "openai";
    cfg_.api_key.value = "sk-provider-key";
    cfg_.models = {"gpt-4o-mini"};
    cfg_.headers = {{"X-Extra", "1"}};
    auto ep = make_endpoint("http://127.0.0.1:9/v1/", "", UpstreamTimeouts{});
    ASSERT_TRUE(ep.ok());
    provider_ = make_openai_compatible(cfg_, vendor("openai"), std::move(*ep));
  }

  struct Chunk {
    std::string data;
    bool usage_only = false;
  };
  struct Out : StreamSink {
    Result<void> result;
    std::vector<Chunk> chunks;
    std::vector<StreamEvent::Kind> events;
    Usage usage;
    bool done = false;
    void event(const StreamEvent& e) override { events.push_back(e.kind); }
    void raw(std::string_view, std::string_view data, bool usage_only) override {
      chunks.push_back({std::string(data), usage_only});
    }
  };
  Out feed(StreamDecoder& d, std::string data) {
    Out o;
    o.result = d.feed("data: " + data + "\n\n", o, o.usage, o.done);
    return o;
  }

  ProviderConfig cfg_;
  std::unique_ptr<Provider> provider_;
};

TEST_F(OpenAiProvider, EncodeChatBuildsTheUpstreamRequest) {
  EXPECT_EQ(provider_->name(), "up");
  EXPECT_EQ(provider_->models(), std::vector<std::string>{"gpt-4o-mini"});
  json::object req = obj(R"({"model":"up/gpt-4o-mini","messages":[{"role":"user"}]})");
  std::vector<std::string> ignored;
  auto r = provider_->encode_chat(
      ChatCall{WireFormat::openai_chat, &req, nullptr, "gpt-4o-mini", true, &ignored});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/v1/chat/completions");
  std::string_view block = r->header_block;
  EXPECT_NE(block.find("Authorization: Bearer sk-provider-key\r\n"), std::string_view::npos);
  EXPECT_NE(block.find("Accept: text/event-stream\r\n"), std::string_view::npos);
  EXPECT_NE(block.find("X-Extra: 1\r\n"), std::string_view::npos);
  EXPECT_NE(block.find("Content-Type: application/json\r\n"), std::string_view::npos);
  auto whole = provider_->encode_chat(
      ChatCall{WireFormat::openai_chat, &req, nullptr, "gpt-4o-mini", false, &ignored});
  ASSERT_TRUE(whole.ok());
  EXPECT_NE(whole->header_block.find("Accept: application/json\r\n"), std::string_view::npos);
  json::value body = json::parse(r->body);
  EXPECT_EQ(body.at("model").as_string(), "gpt-4o-mini");
  EXPECT_EQ(body.at("stream_options").at("include_usage"), json::value(true));
}

TEST_F(OpenAiProvider, DecodeChatParsesUsageAndKeepsBody) {
  std::string body = R"({"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}})";
  auto r = provider_->decode_chat(std::string(body), true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->raw, body);
  EXPECT_EQ(r->result.usage.prompt_tokens, 3);
  EXPECT_EQ(r->result.usage.completion_tokens, 4);
  auto bad = provider_->decode_chat("not json", true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status, 502);
}

TEST_F(OpenAiProvider, DecodeChatFindsOnlyTopLevelUsage) {
  // Usage first, a nested "usage" later: the top-level one counts.
  auto r = provider_->decode_chat(
      R"({"usage":{"prompt_tokens":1,"completion_tokens":2},"choices":[{"x":{"usage":{"prompt_tokens":99}}}]})", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result.usage.prompt_tokens, 1);
  EXPECT_EQ(r->result.usage.completion_tokens, 2);
  // Only a nested "usage": none at the top level.
  r = provider_->decode_chat(R"({"id":"a","meta":{"usage":{"prompt_tokens":99}}})", true);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->result.usage.known());
  // "usage" as a string value, and escaped inside a string.
  r = provider_->decode_chat(
      R"({"usage":{"prompt_tokens":5},"k":"usage","s":"\"usage\":{\"prompt_tokens\":9}}"})", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result.usage.prompt_tokens, 5);
  // Whitespace around the usage object, as pretty-printed answers have it.
  r = provider_->decode_chat("{\n  \"id\": \"x\",\n  \"usage\" : {\"prompt_tokens\": 8}\n}\n", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result.usage.prompt_tokens, 8);
}

TEST_F(OpenAiProvider, StreamDoneSetsDone) {
  auto d = provider_->stream_decoder(true);
  Out o = feed(*d, "[DONE]");
  EXPECT_TRUE(o.result.ok());
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.chunks.empty());
}

TEST_F(OpenAiProvider, StreamPlainChunkPassesThroughUnchanged) {
  auto d = provider_->stream_decoder(true);
  // Odd spacing and key order must survive: the chunk is not re-serialised.
  std::string chunk =
      R"({"id":"x", "object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi \"error\""}}]})";
  Out o = feed(*d, chunk);
  ASSERT_TRUE(o.result.ok());
  EXPECT_FALSE(o.done);
  ASSERT_EQ(o.chunks.size(), 1u);
  EXPECT_EQ(o.chunks[0].data, chunk);
  EXPECT_FALSE(o.chunks[0].usage_only);
  EXPECT_FALSE(o.usage.known());
}

TEST_F(OpenAiProvider, StreamUsageOnlyChunk) {
  auto d = provider_->stream_decoder(true);
  std::string chunk =
      R"({"id":"x","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,)"
      R"("prompt_tokens_details":{"cached_tokens":5},"completion_tokens_details":{"reasoning_tokens":3}}})";
  Out o = feed(*d, chunk);
  ASSERT_TRUE(o.result.ok());
  ASSERT_EQ(o.chunks.size(), 1u);
  EXPECT_TRUE(o.chunks[0].usage_only);
  EXPECT_EQ(o.chunks[0].data, chunk);
  EXPECT_EQ(o.usage.prompt_tokens, 11);
  EXPECT_EQ(o.usage.completion_tokens, 7);
  EXPECT_EQ(o.usage.total_tokens, 18);
  EXPECT_EQ(o.usage.cached_tokens, 5);
  EXPECT_EQ(o.usage.reasoning_tokens, 3);
}

TEST_F(OpenAiProvider, StreamUsageInLastContentChunkIsNotUsageOnly) {
  // Mistral's shape: usage rides on the chunk with finish_reason.
  auto d = provider_->stream_decoder(true);
  Out o = feed(*d, R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],)"
                   R"("usage":{"prompt_tokens":1,"completion_tokens":2}})");
  ASSERT_TRUE(o.result.ok());
  ASSERT_EQ(o.chunks.size(), 1u);
  EXPECT_FALSE(o.chunks[0].usage_only);
  EXPECT_EQ(o.usage.completion_tokens, 2);
  // "usage":null (sent on every chunk when include_usage is on) is no usage.
  Out n = feed(*d, R"({"choices":[{"index":0,"delta":{"content":"a"}}],"usage":null})");
  ASSERT_TRUE(n.result.ok());
  ASSERT_EQ(n.chunks.size(), 1u);
  EXPECT_FALSE(n.chunks[0].usage_only);
  EXPECT_FALSE(n.usage.known());
}

TEST_F(OpenAiProvider, StreamErrorEventIsAnError) {
  auto d = provider_->stream_decoder(true);
  Out o = feed(*d, R"({"error":{"message":"overloaded","type":"server_error"}})");
  ASSERT_FALSE(o.result.ok());
  EXPECT_EQ(o.result.error().status, 502);
  EXPECT_NE(o.result.error().message.find("overloaded"), std::string::npos);
  EXPECT_TRUE(o.chunks.empty());
  EXPECT_FALSE(o.done);
  // An event that claims usage but is not JSON is an error too.
  Out bad = feed(*d, R"({"usage": )");
  EXPECT_FALSE(bad.result.ok());
}

TEST_F(OpenAiProvider, MapErrorUsesTheProviderName) {
  ApiError e = provider_->map_error(503, "busy", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_NE(e.message.find("'up'"), std::string::npos);
}

// --- the splice (raw_text) path against the re-serialising path -------------------------------

// Both paths over `body` for every vendor shape, stream on and off: the outputs must parse to
// the same JSON. Returns how many comparisons ran.
int compare_paths(const std::string& body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  if (ec) return 0;
  const json::object& req = parsed.as_object();
  int n = 0;
  for (const VendorSpec& v : vendor_specs()) {
    for (bool stream : {false, true}) {
      std::string tree = encode_openai_body(req, "up-model \"x\"", stream, v);
      std::string spliced = encode_openai_body(req, "up-model \"x\"", stream, v, body);
      json::value a = json::parse(tree, ec);
      EXPECT_FALSE(ec) << tree;
      json::value b = json::parse(spliced, ec);
      EXPECT_FALSE(ec) << "splice output is not JSON: " << spliced << "\nfrom " << body;
      EXPECT_TRUE(test_bodies::same(a, b))
          << v.kind << " stream=" << stream << "\n body:    " << body << "\n tree:    " << tree
          << "\n spliced: " << spliced;
      ++n;
    }
  }
  return n;
}

TEST(EncodeOpenAiBodySplice, SameAsReserialisingOnTrickyBodies) {
  for (const std::string& body : test_bodies::tricky()) EXPECT_GT(compare_paths(body), 0);
  // An escaped key takes the fallback: still the same answer.
  compare_paths(R"({"mo\u0064el":"a","messages":[],"stream_options":{"include_usage":false}})");
  compare_paths(R"({"model":"a","stre\u0061m_options":{"include_usage":false}})");
}

TEST(EncodeOpenAiBodySplice, SameAsReserialisingOnGeneratedBodies) {
  std::mt19937 rng(42);
  int n = 0;
  for (int i = 0; i < 1500; ++i) n += compare_paths(test_bodies::random_body(rng));
  EXPECT_GT(n, 1500 * 2);
}

TEST(EncodeOpenAiBodySplice, CopiesUntouchedMembersVerbatim) {
  // Verbatim means the client's own number spellings and inner whitespace survive (the tree
  // path would write 1.5E0): proof that the splice, not the fallback, made this body.
  const std::string body =
      " {\"model\" : \"alias\", \"temperature\":1.50,\"messages\":[ {\"role\":\"user\"} ]} ";
  json::object req = obj(body);
  EXPECT_EQ(encode_openai_body(req, "gpt-4o", false, vendor("openai"), body),
            R"({"model":"gpt-4o","temperature":1.50,"messages":[ {"role":"user"} ]})");
  EXPECT_EQ(encode_openai_body(req, "gpt-4o", true, vendor("openai"), body),
            R"({"model":"gpt-4o","temperature":1.50,"messages":[ {"role":"user"} ],)"
            R"("stream_options":{"include_usage":true}})");
}

TEST(EncodeOpenAiBodySplice, EditsTheLastDuplicateAndDropsTheOthers) {
  const std::string body =
      R"({"model":"a","stream_options":{"x":1},"max_completion_tokens":5,"model":"b",)"
      R"("stream_options":{"include_usage":false,"y":2.0},"max_completion_tokens":7})";
  json::object req = obj(body);
  EXPECT_EQ(encode_openai_body(req, "m", true, vendor("openai"), body),
            R"({"model":"m","stream_options":{"y":2.0,"include_usage":true},)"
            R"("max_completion_tokens":7})");
  EXPECT_EQ(encode_openai_body(req, "m", true, vendor("mistral"), body),
            R"({"model":"m","max_tokens":7})");
}

TEST_F(OpenAiProvider, EncodeChatSplicesRawText) {
  const std::string body = R"({"model":"up/gpt-4o-mini","n":1.0,"messages":[{"role":"user"}]})";
  json::object req = obj(body);
  std::vector<std::string> ignored;
  ChatCall call{WireFormat::openai_chat, &req, nullptr, "gpt-4o-mini", false, &ignored};
  call.raw_text = body;
  auto r = provider_->encode_chat(call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"model":"gpt-4o-mini","n":1.0,"messages":[{"role":"user"}]})");
}

}  // namespace
}  // namespace torii
