// Tests for src/routing/rules.cpp: content-rule conditions (matches), the RFC 6901 JSON
// pointer, and estimate_prompt_tokens.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "routing/route.h"

namespace torii::routing {
namespace {
namespace json = boost::json;
using S = RuleCondition::Subject;
using O = RuleCondition::Op;

RuleCondition cond(S s, std::string key, O op, std::vector<std::string> values = {},
                   int64_t number = 0) {
  RuleCondition c;
  c.subject = s;
  c.key = std::move(key);
  c.op = op;
  c.values = std::move(values);
  c.number = number;
  return c;
}

json::object body(const char* text) { return json::parse(text).as_object(); }

// A request with headers, metadata, groups, a body and a token count.
struct Input {
  std::map<std::string, std::string> headers{{"x-team", "a"}, {"x-level", "7"}};
  std::map<std::string, std::string> metadata{{"tier", "premium"}, {"score", "42"}};
  std::vector<std::string> groups{"premium", "beta"};
  json::object b = body(R"({"model":"smart","temperature":0.5,"max_tokens":800,
      "stream":true,"n":"12","metadata":{"tier":"gold","a/b":"slash","m~n":"tilde"},
      "messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],
      "nothing":null,"obj":{"k":1}})");
  int64_t tokens = 100;
  int token_calls = 0;

  RuleInput in() {
    RuleInput r;
    r.header = [this](std::string_view name) -> std::string_view {
      auto it = headers.find(std::string(name));
      return it == headers.end() ? std::string_view() : std::string_view(it->second);
    };
    r.metadata = &metadata;
    r.groups = &groups;
    r.body = &b;
    r.prompt_tokens = [this] {
      ++token_calls;
      return tokens;
    };
    return r;
  }
};

// --- JSON pointer ----------------------------------------------------------------------------

TEST(RoutingPointer, ResolvesPathsAndIndexes) {
  Input x;
  const json::value* v = pointer(x.b, "/metadata/tier");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->as_string(), "gold");
  v = pointer(x.b, "/messages/1/content");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->as_string(), "hi");
  v = pointer(x.b, "/messages/0");
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->is_object());
  v = pointer(x.b, "/temperature");
  ASSERT_NE(v, nullptr);
  EXPECT_DOUBLE_EQ(v->as_double(), 0.5);
  v = pointer(x.b, "/nothing");
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->is_null());
}

TEST(RoutingPointer, Escapes) {
  Input x;
  const json::value* v = pointer(x.b, "/metadata/a~1b");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->as_string(), "slash");
  v = pointer(x.b, "/metadata/m~0n");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->as_string(), "tilde");
  EXPECT_EQ(pointer(x.b, "/metadata/a/b"), nullptr);
  // "~01" is "~1" literally, not "/".
  json::object o = body(R"({"~1":"lit","/":"slash"})");
  v = pointer(o, "/~01");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->as_string(), "lit");
  v = pointer(o, "/~1");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->as_string(), "slash");
}

TEST(RoutingPointer, MissingAndInvalid) {
  Input x;
  EXPECT_EQ(pointer(x.b, ""), nullptr);  // the whole body is refused
  EXPECT_EQ(pointer(x.b, "temperature"), nullptr);
  EXPECT_EQ(pointer(x.b, "/missing"), nullptr);
  EXPECT_EQ(pointer(x.b, "/metadata/missing"), nullptr);
  EXPECT_EQ(pointer(x.b, "/messages/2"), nullptr);
  EXPECT_EQ(pointer(x.b, "/messages/-"), nullptr);
  EXPECT_EQ(pointer(x.b, "/messages/x"), nullptr);
  EXPECT_EQ(pointer(x.b, "/messages/1x"), nullptr);
  EXPECT_EQ(pointer(x.b, "/messages/"), nullptr);
  EXPECT_EQ(pointer(x.b, "/temperature/0"), nullptr);  // into a scalar
  EXPECT_EQ(pointer(x.b, "/model/x"), nullptr);
  // An empty key is a valid token.
  json::object o = body(R"({"":{"":7}})");
  const json::value* v = pointer(o, "//");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->as_int64(), 7);
}

// --- matches: header -------------------------------------------------------------------------

TEST(RoutingRules, HeaderOps) {
  Input x;
  EXPECT_TRUE(matches(cond(S::header, "x-team", O::equals, {"a"}), x.in()));
  EXPECT_FALSE(matches(cond(S::header, "x-team", O::equals, {"b"}), x.in()));
  EXPECT_TRUE(matches(cond(S::header, "x-team", O::in, {"b", "a"}), x.in()));
  EXPECT_FALSE(matches(cond(S::header, "x-team", O::in, {"b", "c"}), x.in()));
  EXPECT_TRUE(matches(cond(S::header, "x-team", O::exists), x.in()));
  EXPECT_FALSE(matches(cond(S::header, "x-absent", O::exists), x.in()));
  EXPECT_FALSE(matches(cond(S::header, "x-absent", O::equals, {""}), x.in()));
  EXPECT_TRUE(matches(cond(S::header, "x-level", O::above, {}, 6), x.in()));
  EXPECT_FALSE(matches(cond(S::header, "x-level", O::above, {}, 7), x.in()));
  EXPECT_TRUE(matches(cond(S::header, "x-level", O::below, {}, 8), x.in()));
  EXPECT_FALSE(matches(cond(S::header, "x-level", O::below, {}, 7), x.in()));
  EXPECT_FALSE(matches(cond(S::header, "x-team", O::above, {}, -100), x.in()));  // not a number
  // No header lookup at all: nothing matches.
  RuleInput none = x.in();
  none.header = nullptr;
  EXPECT_FALSE(matches(cond(S::header, "x-team", O::exists), none));
}

TEST(RoutingRules, HeaderLookupGetsTheConfiguredName) {
  Input x;
  std::string asked;
  RuleInput in = x.in();
  in.header = [&](std::string_view n) -> std::string_view {
    asked = std::string(n);
    return "v";
  };
  EXPECT_TRUE(matches(cond(S::header, "x-custom", O::equals, {"v"}), in));
  EXPECT_EQ(asked, "x-custom");
}

// --- metadata, group -------------------------------------------------------------------------

TEST(RoutingRules, MetadataOps) {
  Input x;
  EXPECT_TRUE(matches(cond(S::metadata, "tier", O::equals, {"premium"}), x.in()));
  EXPECT_FALSE(matches(cond(S::metadata, "tier", O::equals, {"Premium"}), x.in()));
  EXPECT_TRUE(matches(cond(S::metadata, "tier", O::in, {"gold", "premium"}), x.in()));
  EXPECT_TRUE(matches(cond(S::metadata, "tier", O::exists), x.in()));
  EXPECT_FALSE(matches(cond(S::metadata, "team", O::exists), x.in()));
  EXPECT_TRUE(matches(cond(S::metadata, "score", O::above, {}, 41), x.in()));
  EXPECT_FALSE(matches(cond(S::metadata, "score", O::below, {}, 42), x.in()));
  RuleInput none = x.in();
  none.metadata = nullptr;
  EXPECT_FALSE(matches(cond(S::metadata, "tier", O::exists), none));
}

TEST(RoutingRules, GroupMembership) {
  Input x;
  EXPECT_TRUE(matches(cond(S::group, "", O::equals, {"premium"}), x.in()));
  EXPECT_TRUE(matches(cond(S::group, "", O::equals, {"beta"}), x.in()));
  EXPECT_FALSE(matches(cond(S::group, "", O::equals, {"free"}), x.in()));
  EXPECT_TRUE(matches(cond(S::group, "", O::in, {"free", "beta"}), x.in()));
  EXPECT_TRUE(matches(cond(S::group, "", O::exists), x.in()));
  x.groups.clear();
  EXPECT_FALSE(matches(cond(S::group, "", O::exists), x.in()));
  EXPECT_FALSE(matches(cond(S::group, "", O::equals, {"premium"}), x.in()));
  RuleInput none = x.in();
  none.groups = nullptr;
  EXPECT_FALSE(matches(cond(S::group, "", O::equals, {"premium"}), none));
}

// --- field -----------------------------------------------------------------------------------

TEST(RoutingRules, FieldStringsAndExists) {
  Input x;
  EXPECT_TRUE(matches(cond(S::field, "/metadata/tier", O::equals, {"gold"}), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/metadata/tier", O::equals, {"silver"}), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/messages/0/role", O::in, {"user", "system"}), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/metadata/a~1b", O::equals, {"slash"}), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/messages", O::exists), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/nothing", O::exists), x.in()));  // null is present
  EXPECT_FALSE(matches(cond(S::field, "/missing", O::exists), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/missing", O::equals, {""}), x.in()));
  // Objects, arrays and null have no text.
  EXPECT_FALSE(matches(cond(S::field, "/obj", O::equals, {"{\"k\":1}"}), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/nothing", O::equals, {"null"}), x.in()));
  RuleInput none = x.in();
  none.body = nullptr;
  EXPECT_FALSE(matches(cond(S::field, "/model", O::exists), none));
}

TEST(RoutingRules, FieldIntegersAndBoolsComparedAsText) {
  Input x;
  EXPECT_TRUE(matches(cond(S::field, "/max_tokens", O::equals, {"800"}), x.in()));
  // Numbers compare by value (docs/ROUTING.md): 800 equals "800.0"; not "801" nor "8e2x".
  EXPECT_TRUE(matches(cond(S::field, "/max_tokens", O::equals, {"800.0"}), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/max_tokens", O::equals, {"8e2"}), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/max_tokens", O::equals, {"801"}), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/max_tokens", O::equals, {"8e2x"}), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/max_tokens", O::equals, {""}), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/max_tokens", O::in, {"1", "800"}), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/stream", O::equals, {"true"}), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/stream", O::equals, {"false"}), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/n", O::equals, {"12"}), x.in()));  // a string "12"
}

// A user writes `{field: /temperature, equals: "0.5"}` for a body with "temperature": 0.5.
// "Numbers compared as text" must mean the text a person writes, not Boost.JSON's
// scientific serialisation of doubles ("5E-1").
TEST(RoutingRules, FieldDoublesComparedAsWritten) {
  Input x;
  EXPECT_TRUE(matches(cond(S::field, "/temperature", O::equals, {"0.5"}), x.in()))
      << "0.5 in the body did not equal \"0.5\" (serialised as "
      << json::serialize(json::value(0.5)) << ")";
  json::object b = body(R"({"top_p":1.0,"t":0.7})");
  RuleInput in = x.in();
  in.body = &b;
  EXPECT_TRUE(matches(cond(S::field, "/t", O::in, {"0.7", "0.9"}), in));
  EXPECT_TRUE(matches(cond(S::field, "/top_p", O::in, {"1", "1.0"}), in));
  EXPECT_TRUE(matches(cond(S::field, "/t", O::equals, {"7e-1"}), in));
  EXPECT_FALSE(matches(cond(S::field, "/t", O::equals, {"0.70001"}), in));
  EXPECT_FALSE(matches(cond(S::field, "/t", O::in, {"0.5", "seven"}), in));
}

TEST(RoutingRules, FieldAboveBelowNumbersAndNumericStrings) {
  Input x;
  EXPECT_TRUE(matches(cond(S::field, "/temperature", O::below, {}, 1), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/temperature", O::above, {}, 1), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/temperature", O::above, {}, 0), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/max_tokens", O::above, {}, 799), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/max_tokens", O::above, {}, 800), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/max_tokens", O::below, {}, 800), x.in()));
  EXPECT_TRUE(matches(cond(S::field, "/n", O::above, {}, 11), x.in()));  // "12"
  EXPECT_TRUE(matches(cond(S::field, "/n", O::below, {}, 13), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/model", O::above, {}, -1000), x.in()));
  EXPECT_FALSE(matches(cond(S::field, "/stream", O::above, {}, 0), x.in()));  // a bool
  EXPECT_FALSE(matches(cond(S::field, "/missing", O::below, {}, 1000), x.in()));
  json::object b = body(R"({"big":18446744073709551615,"neg":-3})");
  RuleInput in = x.in();
  in.body = &b;
  EXPECT_TRUE(matches(cond(S::field, "/big", O::above, {}, 1'000'000), in));
  EXPECT_TRUE(matches(cond(S::field, "/neg", O::below, {}, -2), in));
  EXPECT_FALSE(matches(cond(S::field, "/neg", O::above, {}, -3), in));
}

// --- prompt tokens ---------------------------------------------------------------------------

TEST(RoutingRules, PromptTokensUsesTheLambda) {
  Input x;
  x.tokens = 9'000;
  EXPECT_TRUE(matches(cond(S::prompt_tokens, "", O::above, {}, 8'000), x.in()));
  EXPECT_FALSE(matches(cond(S::prompt_tokens, "", O::below, {}, 8'000), x.in()));
  EXPECT_FALSE(matches(cond(S::prompt_tokens, "", O::above, {}, 9'000), x.in()));
  EXPECT_TRUE(matches(cond(S::prompt_tokens, "", O::below, {}, 9'001), x.in()));
  EXPECT_EQ(x.token_calls, 4);
  // Other conditions do not compute it.
  x.token_calls = 0;
  matches(cond(S::header, "x-team", O::exists), x.in());
  EXPECT_EQ(x.token_calls, 0);
  RuleInput none = x.in();
  none.prompt_tokens = nullptr;
  EXPECT_FALSE(matches(cond(S::prompt_tokens, "", O::above, {}, 0), none));
}

// --- estimate_prompt_tokens ------------------------------------------------------------------

TEST(RoutingEstimate, CountsMessageText) {
  json::object b;
  b["model"] = "m";
  json::array msgs;
  msgs.push_back(json::object{{"role", "user"}, {"content", std::string(4'000, 'a')}});
  b["messages"] = std::move(msgs);
  const int64_t n = estimate_prompt_tokens(b);
  EXPECT_GE(n, 1'000);
  EXPECT_LE(n, 1'010);
  // The model name and other fields are not prompt text.
  b["model"] = std::string(40'000, 'm');
  b["user"] = std::string(40'000, 'u');
  EXPECT_EQ(estimate_prompt_tokens(b), n);
}

TEST(RoutingEstimate, CountsSystemToolsPromptInput) {
  json::object b = body(R"({"model":"m"})");
  EXPECT_EQ(estimate_prompt_tokens(b), 0);
  b["system"] = std::string(400, 's');
  const int64_t s = estimate_prompt_tokens(b);
  EXPECT_NEAR(s, 100, 2);
  b["tools"] = json::array{json::object{{"description", std::string(800, 'd')}}};
  EXPECT_NEAR(estimate_prompt_tokens(b), 300, 4);
  json::object p = body(R"({"model":"m"})");
  p["prompt"] = std::string(1'200, 'p');
  EXPECT_NEAR(estimate_prompt_tokens(p), 300, 2);
  json::object r = body(R"({"model":"m"})");
  r["input"] = std::string(2'000, 'i');
  r["instructions"] = std::string(400, 'x');
  EXPECT_NEAR(estimate_prompt_tokens(r), 600, 2);
}

TEST(RoutingEstimate, SkipsImageAndFileData) {
  const std::string blob(200'000, 'Q');  // a base64 image
  json::object b;
  json::array parts;
  parts.push_back(json::object{{"type", "text"}, {"text", std::string(400, 't')}});
  parts.push_back(json::object{
      {"type", "image_url"},
      {"image_url", json::object{{"url", "data:image/png;base64," + blob}}}});
  parts.push_back(json::object{
      {"type", "image"},
      {"source", json::object{{"type", "base64"}, {"media_type", "image/png"}, {"data", blob}}}});
  parts.push_back(json::object{
      {"type", "input_audio"}, {"input_audio", json::object{{"data", blob}, {"format", "wav"}}}});
  parts.push_back(json::object{{"type", "file"},
                               {"file", json::object{{"file_data", blob}, {"filename", "a.pdf"}}}});
  json::array msgs;
  msgs.push_back(json::object{{"role", "user"}, {"content", std::move(parts)}});
  b["messages"] = std::move(msgs);
  const int64_t n = estimate_prompt_tokens(b);
  EXPECT_GE(n, 100);
  EXPECT_LT(n, 150) << "image/file data was counted as text";
}

}  // namespace
}  // namespace torii::routing
