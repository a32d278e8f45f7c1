// The legacy completions inbound codec: prompt → one user message (max_tokens 16 by default),
// the fields that change the meaning refused with a 400 naming them, text_completion answers
// and chunks, usage only when asked for, [DONE] only on a clean end.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/inbound.h"
#include "api/openai_completions.h"

namespace torii {
namespace {
namespace json = boost::json;

const InboundCodec& codec() { return openai_completions_codec(); }

ChatRequest decode_ok(std::string_view body) {
  json::object raw;
  auto info = codec().parse(body, raw);
  EXPECT_TRUE(info.ok()) << (info.ok() ? "" : info.error().message);
  ChatRequest req;
  auto r = codec().to_canonical(raw, req);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return req;
}

ApiError decode_error(std::string_view body) {
  json::object raw;
  auto info = codec().parse(body, raw);
  if (!info.ok()) return info.error();
  ChatRequest req;
  auto r = codec().to_canonical(raw, req);
  EXPECT_FALSE(r.ok()) << "expected an error for " << body;
  return r.ok() ? ApiError{} : r.error();
}

TEST(OpenAiCompletionsParse, Info) {
  json::object raw;
  auto r = codec().parse(
      R"({"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","stream":true,
          "stream_options":{"include_usage":true}})",
      raw);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model, "gpt-3.5-turbo-instruct");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(codec().format(), WireFormat::openai_completions);
  EXPECT_EQ(codec().parse(R"({"prompt":"x"})", raw).error().param, "model");
  EXPECT_EQ(codec().parse(R"({"model":"m"})", raw).error().param, "prompt");
  EXPECT_EQ(codec().parse(R"({"model":"m","prompt":3})", raw).error().param, "prompt");
  EXPECT_EQ(codec().parse(R"({"model":"m","prompt":"x","max_tokens":"7"})", raw).error().param,
            "max_tokens");
  EXPECT_EQ(codec().parse(R"({"model":"m","prompt":"x","stop":5})", raw).error().param, "stop");
  EXPECT_EQ(codec().parse("nope", raw).error().status, 400);
}

TEST(OpenAiCompletionsDecode, PromptBecomesOneUserMessage) {
  auto req = decode_ok(
      R"({"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","temperature":0,
          "top_p":1,"stop":["\n","END"],"seed":7,"user":"u","presence_penalty":0.5,
          "frequency_penalty":0.25,"logit_bias":{"50256":-100},"n":1,"best_of":1,"echo":false,
          "suffix":""})");
  ASSERT_EQ(req.messages.size(), 1u);
  EXPECT_EQ(req.messages[0].role, Role::user);
  ASSERT_EQ(req.messages[0].parts.size(), 1u);
  EXPECT_EQ(req.messages[0].parts[0].text, "Say this is a test");
  EXPECT_EQ(req.max_tokens, 16);  // OpenAI's default for this API
  EXPECT_EQ(req.temperature, 0.0);
  EXPECT_EQ(req.top_p, 1.0);
  EXPECT_EQ(req.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_EQ(req.seed, 7);
  EXPECT_EQ(req.user, "u");
  EXPECT_EQ(req.presence_penalty, 0.5);
  EXPECT_EQ(req.frequency_penalty, 0.25);
  EXPECT_EQ(req.unknown_fields, std::vector<std::string>{"logit_bias"});
  EXPECT_EQ(req.model, "gpt-3.5-turbo-instruct");

  auto one = decode_ok(R"({"model":"m","prompt":["only one"],"max_tokens":100,"stop":"x"})");
  EXPECT_EQ(one.messages[0].parts[0].text, "only one");
  EXPECT_EQ(one.max_tokens, 100);
  EXPECT_EQ(one.stop, std::vector<std::string>{"x"});
}

TEST(OpenAiCompletionsDecode, MeaningChangingFieldsAre400) {
  auto e = decode_error(R"({"model":"m","prompt":["a","b"]})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "prompt");
  EXPECT_NE(e.message.find("one request per prompt"), std::string::npos);
  EXPECT_EQ(decode_error(R"({"model":"m","prompt":[1212, 318]})").param, "prompt");
  EXPECT_EQ(decode_error(R"({"model":"m","prompt":[]})").param, "prompt");
  EXPECT_EQ(decode_error(R"({"model":"m","prompt":"x","n":2})").param, "n");
  EXPECT_EQ(decode_error(R"({"model":"m","prompt":"x","best_of":3})").param, "best_of");
  EXPECT_EQ(decode_error(R"({"model":"m","prompt":"x","echo":true})").param, "echo");
  EXPECT_EQ(decode_error(R"({"model":"m","prompt":"x","suffix":"end"})").param, "suffix");
  EXPECT_EQ(decode_error(R"({"model":"m","prompt":"x","logprobs":0})").param, "logprobs");
}

TEST(OpenAiCompletionsEncode, TextCompletionShape) {
  ChatResult r;
  r.id = "chatcmpl-42";
  r.model = "mock-1";
  r.created = 1589478378;
  Part th;
  th.kind = Part::Kind::thinking;
  th.text = "hidden";
  r.parts.push_back(th);
  r.parts.push_back(Part::make_text("\n\nThis is indeed"));
  r.parts.push_back(Part::make_text(" a test"));
  r.finish = FinishReason::length;
  r.usage.prompt_tokens = 5;
  r.usage.completion_tokens = 7;
  r.usage.cached_tokens = 2;
  json::value v = json::parse(codec().encode_result(r));
  EXPECT_EQ(v.at("id").as_string(), "cmpl-42");
  EXPECT_EQ(v.at("object").as_string(), "text_completion");
  EXPECT_EQ(v.at("created").as_int64(), 1589478378);
  EXPECT_EQ(v.at("model").as_string(), "mock-1");
  const auto& c = v.at("choices").as_array();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].at("text").as_string(), "\n\nThis is indeed a test");
  EXPECT_EQ(c[0].at("index").as_int64(), 0);
  EXPECT_TRUE(c[0].at("logprobs").is_null());
  EXPECT_EQ(c[0].at("finish_reason").as_string(), "length");
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 5);
  EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 7);
  EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 12);
  EXPECT_EQ(v.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 2);

  EXPECT_EQ(completions_id("cmpl-x"), "cmpl-x");
  EXPECT_EQ(completions_id("abc"), "cmpl-abc");
  EXPECT_TRUE(completions_id("").starts_with("cmpl-"));
}

std::vector<json::value> chunks(const std::string& out, bool* done) {
  std::vector<json::value> v;
  *done = false;
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto end = out.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) break;
    std::string_view block(out.data() + pos, end - pos);
    pos = end + 2;
    EXPECT_TRUE(block.starts_with("data: ")) << block;
    block.remove_prefix(6);
    if (block == "[DONE]") {
      EXPECT_EQ(pos, out.size()) << "[DONE] must be last";
      *done = true;
      continue;
    }
    v.push_back(json::parse(block));
  }
  return v;
}

void feed(StreamEncoder& enc) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::start;
  e.id = "chatcmpl-9";
  e.name = "mock-1";
  enc.event(e);
  for (std::string_view t : {"Hello", " \"world\""}) {
    StreamEvent x;
    x.kind = StreamEvent::Kind::text;
    x.text = t;
    enc.event(x);
  }
  StreamEvent f;
  f.kind = StreamEvent::Kind::finish;
  f.finish = FinishReason::stop;
  enc.event(f);
  StreamEvent u;
  u.kind = StreamEvent::Kind::usage;
  u.usage.prompt_tokens = 3;
  u.usage.completion_tokens = 2;
  enc.event(u);
}

TEST(OpenAiCompletionsStream, ChunksFinishAndDone) {
  InboundInfo info;
  info.model = "fast";
  info.stream = true;
  auto enc = codec().stream_encoder(info);
  feed(*enc);
  enc->finish();
  bool done = false;
  auto c = chunks(enc->out, &done);
  EXPECT_TRUE(done);
  ASSERT_EQ(c.size(), 3u);  // two texts + finish; no usage chunk (not asked for)
  std::string text;
  for (const auto& ch : c) {
    EXPECT_EQ(ch.at("object").as_string(), "text_completion");
    EXPECT_EQ(ch.at("id").as_string(), "cmpl-9");
    EXPECT_EQ(ch.at("model").as_string(), "mock-1");
    text += std::string(ch.at("choices").at(0).at("text").as_string());
  }
  EXPECT_EQ(text, "Hello \"world\"");
  EXPECT_TRUE(c[0].at("choices").at(0).at("finish_reason").is_null());
  EXPECT_EQ(c[2].at("choices").at(0).at("finish_reason").as_string(), "stop");
}

TEST(OpenAiCompletionsStream, UsageChunkWhenAsked) {
  InboundInfo info;
  info.model = "fast";
  info.include_usage = true;
  auto enc = codec().stream_encoder(info);
  feed(*enc);
  enc->finish();
  bool done = false;
  auto c = chunks(enc->out, &done);
  EXPECT_TRUE(done);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_TRUE(c[3].at("choices").as_array().empty());
  EXPECT_EQ(c[3].at("usage").at("total_tokens").as_int64(), 5);
}

TEST(OpenAiCompletionsStream, FailHasNoDone) {
  InboundInfo info;
  auto enc = codec().stream_encoder(info);
  StreamEvent x;
  x.kind = StreamEvent::Kind::text;
  x.text = "par";
  enc->event(x);
  enc->fail(ApiError::bad_gateway("upstream reset"));
  enc->finish();
  bool done = false;
  auto c = chunks(enc->out, &done);
  EXPECT_FALSE(done);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].at("error").at("message").as_string(), "upstream reset");
  EXPECT_TRUE(c[0].at("id").as_string().starts_with("cmpl-"));  // generated without a start
}

TEST(OpenAiCompletionsStream, PassthroughDropsUnaskedUsage) {
  InboundInfo info;
  auto enc = codec().stream_encoder(info);
  std::string chunk = R"({"id":"cmpl-1","object":"text_completion","choices":[{"text":"a"}]})";
  enc->raw({}, chunk, false);
  enc->raw({}, R"({"choices":[],"usage":{"prompt_tokens":1}})", true);
  enc->finish();
  EXPECT_EQ(enc->out, "data: " + chunk + "\n\ndata: [DONE]\n\n");
}

}  // namespace
}  // namespace torii
