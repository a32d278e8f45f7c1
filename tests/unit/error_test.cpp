// ApiError constructors and their OpenAI / Anthropic wire shapes.
#include "core/error.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace torii {
namespace {
namespace json = boost::json;

TEST(ApiError, ConstructorsSetStatusTypeAndCode) {
  struct Case {
    ApiError e;
    int status;
    const char* type;
    const char* code;
  };
  for (const auto& c : {
           Case{ApiError::invalid_request("m", "model"), 400, "invalid_request_error", ""},
           Case{ApiError::authentication("m"), 401, "authentication_error", "invalid_api_key"},
           Case{ApiError::permission("m"), 403, "permission_error", "forbidden"},
           Case{ApiError::not_found("m", "model_not_found"), 404, "invalid_request_error",
                "model_not_found"},
           Case{ApiError::too_large("m"), 413, "invalid_request_error", "request_too_large"},
           Case{ApiError::rate_limited("m", "3"), 429, "rate_limit_error", "rate_limit_exceeded"},
           Case{ApiError::bad_gateway("m"), 502, "upstream_error", "upstream_error"},
           Case{ApiError::gateway_timeout("m"), 504, "timeout_error", "upstream_timeout"},
           Case{ApiError::unavailable("m"), 503, "server_error", "unavailable"},
           Case{ApiError::internal("m"), 500, "server_error", "internal_error"},
       }) {
    EXPECT_EQ(c.e.status, c.status);
    EXPECT_EQ(c.e.type, c.type) << c.status;
    EXPECT_EQ(c.e.code, c.code) << c.status;
    EXPECT_EQ(c.e.message, "m");
    EXPECT_FALSE(c.e.retryable);
  }
  EXPECT_EQ(ApiError::invalid_request("m", "model").param, "model");
  EXPECT_EQ(ApiError::rate_limited("m", "3").retry_after, "3");
}

TEST(ApiError, OpenAiShape) {
  ApiError e = ApiError::invalid_request("bad \"x\"\n", "messages[0].role");
  json::value v = json::parse(to_openai_json(e));
  const auto& err = v.at("error").as_object();
  EXPECT_EQ(err.size(), 4u);
  EXPECT_EQ(err.at("message").as_string(), "bad \"x\"\n");
  EXPECT_EQ(err.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(err.at("param").as_string(), "messages[0].role");
  EXPECT_TRUE(err.at("code").is_null());  // empty code and param are null, not ""

  json::value n = json::parse(to_openai_json(ApiError::internal("x")));
  EXPECT_TRUE(n.at("error").at("param").is_null());
  EXPECT_EQ(n.at("error").at("code").as_string(), "internal_error");
}

TEST(ApiError, AnthropicShape) {
  json::value v = json::parse(to_anthropic_json(ApiError::rate_limited("slow")));
  EXPECT_EQ(v.at("type").as_string(), "error");
  EXPECT_EQ(v.at("error").at("type").as_string(), "rate_limit_error");
  EXPECT_EQ(v.at("error").at("message").as_string(), "slow");
  EXPECT_EQ(json::parse(to_anthropic_json(ApiError::bad_gateway("x"))).at("error").at("type"),
            json::value("api_error"));
  EXPECT_EQ(json::parse(to_anthropic_json(ApiError::authentication("x"))).at("error").at("type"),
            json::value("authentication_error"));
}

}  // namespace
}  // namespace torii

namespace torii {
namespace {

TEST(UpstreamExcerpt, CutsAtACharacterBoundaryAndReplacesInvalidBytes) {
  // "é" is two bytes: a cut at 3 bytes must not keep half of it.
  EXPECT_EQ(upstream_excerpt("abé", 3), "ab");
  EXPECT_EQ(upstream_excerpt("abé", 4), "abé");
  // Stray continuation bytes, a lone lead byte, overlongs and surrogates become '?'.
  EXPECT_EQ(upstream_excerpt("a\x80z"), "a?z");
  EXPECT_EQ(upstream_excerpt("a\xc3"), "a?");
  EXPECT_EQ(upstream_excerpt("\xc0\xaf"), "??");
  EXPECT_EQ(upstream_excerpt("\xed\xa0\x80"), "???");
  EXPECT_EQ(upstream_excerpt("\xff\xfe ok"), "?? ok");
  // Valid 3- and 4-byte characters survive; the default cap is 500 bytes.
  EXPECT_EQ(upstream_excerpt("€😀"), "€😀");
  EXPECT_EQ(upstream_excerpt(std::string(600, 'x')).size(), 500u);
}

}  // namespace
}  // namespace torii
