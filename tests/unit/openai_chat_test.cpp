// decode_openai_chat: valid requests, every 400 with its `param`, nesting limits, unknown fields.
#include "api/openai_chat.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include <boost/json.hpp>

#include <string>

namespace torii {
namespace {
namespace json = boost::json;

constexpr const char* kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

std::string req(const std::string& extra) {
  std::string s = std::string(R"({"model":"p/m",)") + kMsgs;
  if (!extra.empty()) s += "," + extra;
  return s + "}";
}

TEST(DecodeOpenAiChat, MinimalRequest) {
  json::object o;
  auto r = decode_openai_chat(req(""), o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "p/m");
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_EQ(o.at("model").as_string(), "p/m");
  EXPECT_EQ(o.at("messages").as_array().size(), 1u);
}

TEST(DecodeOpenAiChat, StreamAndIncludeUsage) {
  json::object o;
  auto r = decode_openai_chat(req(R"("stream":true,"stream_options":{"include_usage":true})"), o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);

  r = decode_openai_chat(req(R"("stream":true,"stream_options":{"include_usage":false})"), o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->stream);
  EXPECT_FALSE(r->include_usage);

  r = decode_openai_chat(req(R"("stream":false,"stream_options":null)"), o);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->stream);
}

TEST(DecodeOpenAiChat, ValidOptionalFieldsAndNulls) {
  json::object o;
  auto r = decode_openai_chat(
      req(R"("temperature":0.5,"top_p":1,"max_tokens":100,"max_completion_tokens":null,)"
          R"("n":2,"seed":-3,"tools":[],"stop":["x"],"stream":null)"),
      o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  // content may be an array of parts or null; other roles are fine too.
  r = decode_openai_chat(
      R"({"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"a"}]},)"
      R"({"role":"assistant","content":null,"tool_calls":[]},{"role":"user"}]})",
      o);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST(DecodeOpenAiChat, UnknownFieldsAreKept) {
  json::object o;
  auto r = decode_openai_chat(
      req(R"("x_vendor":{"deep":[1,2,{"k":"v"}]},"logit_bias":{"50256":-100},"user":"u1")"), o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(o.contains("x_vendor"));
  EXPECT_EQ(o.at("x_vendor"), json::parse(R"({"deep":[1,2,{"k":"v"}]})"));
  EXPECT_EQ(o.at("logit_bias"), json::parse(R"({"50256":-100})"));
  EXPECT_EQ(o.at("user").as_string(), "u1");
}

struct BadCase {
  const char* name;
  std::string body;
  std::string param;  // expected `param` ("" for whole-body errors)
};

class DecodeOpenAiChatBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(DecodeOpenAiChatBad, Is400WithParam) {
  const auto& c = GetParam();
  json::object o;
  auto r = decode_openai_chat(c.body, o);
  ASSERT_FALSE(r.ok()) << c.name;
  EXPECT_EQ(r.error().status, 400) << c.name;
  EXPECT_EQ(r.error().type, "invalid_request_error") << c.name;
  EXPECT_EQ(r.error().param, c.param) << c.name;
  EXPECT_FALSE(r.error().message.empty());
  if (!c.param.empty()) {
    // The message names the field so a client can fix the request.
    EXPECT_NE(r.error().message.find(c.param), std::string::npos) << r.error().message;
  }
}

const std::string kM = R"("model":"m")";
const std::string kMs = kMsgs;

INSTANTIATE_TEST_SUITE_P(
    AllErrors, DecodeOpenAiChatBad,
    ::testing::Values(
        BadCase{"empty body", "", ""},
        BadCase{"invalid json", R"({"model":"m",)", ""},
        BadCase{"trailing garbage", req("") + "x", ""},
        BadCase{"array", "[1,2]", ""},
        BadCase{"string", R"("hello")", ""},
        BadCase{"number", "42", ""},
        BadCase{"missing model", "{" + kMs + "}", "model"},
        BadCase{"empty model", R"({"model":"",)" + kMs + "}", "model"},
        BadCase{"model number", R"({"model":5,)" + kMs + "}", "model"},
        BadCase{"model null", R"({"model":null,)" + kMs + "}", "model"},
        BadCase{"missing messages", "{" + kM + "}", "messages"},
        BadCase{"messages object", "{" + kM + R"(,"messages":{"role":"user"}})", "messages"},
        BadCase{"messages empty", "{" + kM + R"(,"messages":[]})", "messages"},
        BadCase{"message not object", "{" + kM + R"(,"messages":["hi"]})", "messages[0]"},
        BadCase{"second message bad",
                "{" + kM + R"(,"messages":[{"role":"user","content":"a"},3]})", "messages[1]"},
        BadCase{"role missing", "{" + kM + R"(,"messages":[{"content":"a"}]})",
                "messages[0].role"},
        BadCase{"role number", "{" + kM + R"(,"messages":[{"role":1}]})", "messages[0].role"},
        BadCase{"content number", "{" + kM + R"(,"messages":[{"role":"user","content":5}]})",
                "messages[0].content"},
        BadCase{"content object",
                "{" + kM + R"(,"messages":[{"role":"user","content":{"a":1}}]})",
                "messages[0].content"},
        BadCase{"stream string", req(R"("stream":"true")"), "stream"},
        BadCase{"stream number", req(R"("stream":1)"), "stream"},
        BadCase{"stream_options array", req(R"("stream_options":[])"), "stream_options"},
        BadCase{"stream_options string", req(R"("stream_options":"x")"), "stream_options"},
        BadCase{"include_usage string", req(R"("stream_options":{"include_usage":"yes"})"),
                "stream_options.include_usage"},
        BadCase{"temperature string", req(R"("temperature":"0.5")"), "temperature"},
        BadCase{"top_p bool", req(R"("top_p":true)"), "top_p"},
        BadCase{"max_tokens float", req(R"("max_tokens":1.5)"), "max_tokens"},
        BadCase{"max_completion_tokens string", req(R"("max_completion_tokens":"10")"),
                "max_completion_tokens"},
        BadCase{"n zero", req(R"("n":0)"), "n"},
        BadCase{"n negative", req(R"("n":-2)"), "n"},
        BadCase{"seed float", req(R"("seed":0.1)"), "seed"},
        BadCase{"tools object", req(R"("tools":{"type":"function"})"), "tools"},
        BadCase{"stop number", req(R"("stop":3)"), "stop"}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

std::string nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(DecodeOpenAiChat, DeepNestingIs400NotACrash) {
  for (int depth : {65, 100, 200000}) {
    json::object o;
    auto r = decode_openai_chat(req(R"("x":)" + nested(depth)), o);
    ASSERT_FALSE(r.ok()) << depth;
    EXPECT_EQ(r.error().status, 400) << depth;
  }
  // Deep but within the limit is accepted and kept.
  json::object o;
  auto r = decode_openai_chat(req(R"("x":)" + nested(40)), o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(o.at("x").is_array());
}

TEST(DecodeOpenAiChat, HugeIntegerNIsA400NotAnException) {
  // Regression: a uint64 above INT64_MAX made Boost.JSON throw ("not exact") out of the decoder.
  json::object o;
  Result<ChatRequestInfo> r = ApiError::internal("not run");
  EXPECT_NO_THROW(r = decode_openai_chat(req(R"("n":18446744073709551615)"), o));
}

TEST(AppendSseData, Framing) {
  std::string out = "x";
  append_sse_data(out, R"({"a":1})");
  EXPECT_EQ(out, "xdata: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
}

}  // namespace
}  // namespace torii
