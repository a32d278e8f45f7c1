// core/json_splice: the top-level member scanner and writer, checked against boost::json on
// hand-written and generated bodies; and core/json_text's SWAR string escaper, checked against
// a byte-at-a-time reference for every byte value at every alignment.
#include "core/json_splice.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include <boost/json.hpp>

#include "core/json_text.h"
#include "json_test_bodies.h"

namespace torii {
namespace {
namespace json = boost::json;
using test_bodies::same;

std::string keys_of(const JsonObjectText& o) {
  std::string s;
  for (const auto& m : o.members()) s += std::string(m.key) + "=" + std::string(m.value) + ";";
  return s;
}

TEST(JsonObjectText, MembersAndVerbatimValues) {
  auto o = JsonObjectText::scan(
      " {\"model\" :\t\"a\\\"b\", \"n\":1.50 ,\"arr\":[1, {\"model\":\"x\"}],\"o\":{ },\"t\":true}\n");
  ASSERT_TRUE(o);
  EXPECT_EQ(keys_of(*o),
            "model=\"a\\\"b\";n=1.50;arr=[1, {\"model\":\"x\"}];o={ };t=true;");
  ASSERT_NE(o->find("arr"), nullptr);
  EXPECT_EQ(o->find("arr")->value, "[1, {\"model\":\"x\"}]");
  EXPECT_EQ(o->find("missing"), nullptr);
}

TEST(JsonObjectText, EmptyObject) {
  auto o = JsonObjectText::scan(" { \n } ");
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->members().empty());
}

TEST(JsonObjectText, BackslashRunsBeforeQuotes) {
  // "\\" ends the string; "\\\"" does not end at the escaped quote.
  auto o = JsonObjectText::scan(R"({"a":"x\\","b":"\\\"}","c":"\\\\\\\\"})");
  ASSERT_TRUE(o);
  EXPECT_EQ(keys_of(*o), R"(a="x\\";b="\\\"}";c="\\\\\\\\";)");
}

TEST(JsonObjectText, DuplicateKeysKeepTheLastWhereItStands) {
  auto o = JsonObjectText::scan(R"({"model":"first","a":1,"model":"last","b":2})");
  ASSERT_TRUE(o);
  EXPECT_EQ(keys_of(*o), R"(a=1;model="last";b=2;)");
  // Many keys take the hashing path: same rule.
  std::string big = "{";
  for (int i = 0; i < 100; ++i) big += "\"k" + std::to_string(i % 40) + "\":" + std::to_string(i) + ",";
  big += "\"end\":0}";
  auto b = JsonObjectText::scan(big);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->members().size(), 41u);
  EXPECT_EQ(b->members().front().key, "k20");  // 60..99 are the last occurrences: k20..k39, k0..
  EXPECT_EQ(b->members().front().value, "60");
  EXPECT_EQ(b->find("k0")->value, "80");
  EXPECT_EQ(b->find("k39")->value, "79");
}

TEST(JsonObjectText, RefusesWhatItCannotSplice) {
  EXPECT_FALSE(JsonObjectText::scan(R"({"mo\u0064el":"x"})"));  // escaped key: caller falls back
  EXPECT_FALSE(JsonObjectText::scan(R"({"a\"b":1})"));
  EXPECT_FALSE(JsonObjectText::scan("[1,2]"));
  EXPECT_FALSE(JsonObjectText::scan("\"str\""));
  EXPECT_FALSE(JsonObjectText::scan(""));
  EXPECT_FALSE(JsonObjectText::scan("   "));
  EXPECT_FALSE(JsonObjectText::scan(R"({"a":1} x)"));
  EXPECT_FALSE(JsonObjectText::scan(R"({"a":})"));
  EXPECT_FALSE(JsonObjectText::scan(R"({"a" 1})"));
}

TEST(JsonObjectText, EveryTruncationIsRefusedNotCrashed) {
  for (const std::string& body : test_bodies::tricky()) {
    const std::size_t end = body.find_last_of('}');
    for (std::size_t n = 0; n < end; ++n)
      EXPECT_FALSE(JsonObjectText::scan(std::string_view(body).substr(0, n))) << body << " @" << n;
  }
}

// The scanner agrees with boost::json: same members (last duplicate wins), each value parses
// to the parsed object's value, and copying every member rebuilds an equal object.
void check_against_boost(const std::string& body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  ASSERT_FALSE(ec) << body;
  auto o = JsonObjectText::scan(body);
  if (!o) {  // only an escaped key may be refused
    bool escaped = false;
    for (const auto& kv : parsed.as_object()) {
      const std::string k(kv.key());
      if (body.find("\"" + k + "\"") == std::string::npos) escaped = true;
    }
    EXPECT_TRUE(escaped) << "refused without an escaped key: " << body;
    return;
  }
  const json::object& obj = parsed.as_object();
  ASSERT_EQ(o->members().size(), obj.size()) << body;
  JsonObjectWriter w(body.size());
  for (const auto& m : o->members()) {
    auto v = obj.if_contains(json::string_view(m.key.data(), m.key.size()));
    ASSERT_NE(v, nullptr) << m.key << " in " << body;
    json::value mv = json::parse(m.value, ec);
    ASSERT_FALSE(ec) << m.value;
    EXPECT_TRUE(same(mv, *v)) << m.key << " in " << body;
    w.copy(m);
  }
  std::string rebuilt = w.finish();
  json::value again = json::parse(rebuilt, ec);
  ASSERT_FALSE(ec) << rebuilt;
  EXPECT_TRUE(same(again, parsed)) << body << "\n -> " << rebuilt;
}

TEST(JsonObjectText, AgreesWithBoostOnTrickyBodies) {
  for (const std::string& body : test_bodies::tricky()) check_against_boost(body);
  check_against_boost(R"({"k\u00e9y":1,"model":"a"})");
}

TEST(JsonObjectText, AgreesWithBoostOnGeneratedBodies) {
  std::mt19937 rng(20261122);
  for (int i = 0; i < 3000; ++i) check_against_boost(test_bodies::random_body(rng));
}

TEST(SkipJsonString, FindsTheClosingQuote) {
  EXPECT_EQ(skip_json_string(R"("")", 0), 2u);
  EXPECT_EQ(skip_json_string(R"("a\"b" x)", 0), 6u);
  EXPECT_EQ(skip_json_string(R"("a\\" x)", 0), 5u);
  EXPECT_EQ(skip_json_string(R"(x"\\\\\"\\"y)", 1), 11u);
  EXPECT_EQ(skip_json_string(R"("abc)", 0), std::string_view::npos);
  EXPECT_EQ(skip_json_string(R"("abc\")", 0), std::string_view::npos);
}

// ------------------------------------------------------------------ append_json_string

std::string reference_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) out += std::string("\\u00") + kHex[c >> 4] + kHex[c & 15];
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

TEST(AppendJsonString, EveryByteAtEveryAlignment) {
  for (int b = 0; b < 256; ++b) {
    for (std::size_t pre = 0; pre < 17; ++pre) {
      for (std::size_t post : {0u, 1u, 7u, 8u, 9u}) {
        std::string s(pre, 'a');
        s.push_back(static_cast<char>(b));
        s.append(post, 'z');
        std::string out = "prefix";
        append_json_string(out, s);
        ASSERT_EQ(out, "prefix" + reference_escape(s)) << "byte " << b << " after " << pre;
      }
    }
  }
}

TEST(AppendJsonString, TwoSpecialBytesInOneWordAndHighBytes) {
  // Borrows in the SWAR test flag bytes above a true hit: the lowest must still be exact.
  for (int a = 0; a < 256; a += 1) {
    for (int b : {0, 0x1f, 0x20, 0x21, 0x22, 0x5c, 0x7f, 0x80, 0xa0, 0xdc, 0xff}) {
      for (std::size_t gap = 0; gap < 8; ++gap) {
        std::string s = "xy";
        s.push_back(static_cast<char>(a));
        s.append(gap, static_cast<char>(0xe2));
        s.push_back(static_cast<char>(b));
        s.append("0123456789");
        std::string out;
        append_json_string(out, s);
        ASSERT_EQ(out, reference_escape(s)) << a << " " << b << " " << gap;
      }
    }
  }
}

TEST(AppendJsonString, RandomStringsMatchTheReference) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 80, '\0');
    // Mostly clean bytes with a few specials, like real text.
    for (auto& c : s) c = static_cast<char>(rng() % 10 == 0 ? rng() % 256 : 'A' + rng() % 26);
    std::string out;
    append_json_string(out, s);
    ASSERT_EQ(out, reference_escape(s));
  }
  std::string out;
  append_json_string(out, "");
  EXPECT_EQ(out, "\"\"");
}

TEST(AppendJsonString, ParsesBackToTheSameText) {
  std::string s = "h\xc3\xa9llo \"w\"\\ \n\t\r\x01\x1f \xf0\x9f\x98\x80 end";
  std::string out;
  append_json_string(out, s);
  EXPECT_EQ(json::parse(out).as_string(), s);
}

}  // namespace
}  // namespace torii
