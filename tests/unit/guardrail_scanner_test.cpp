// The guardrails' built-in detectors: a table of positive and negative cases per entity (with
// the false-positive traps of issue 7), exact offsets, overlap resolution, invalid UTF-8, a
// 1 MiB input, and custom RE2 patterns.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "guardrails/scanner.h"

namespace torii::guardrails {
namespace {

std::shared_ptr<const Scanner> make(std::vector<Entity> entities,
                                    std::vector<ScannerConfig::Custom> custom = {}) {
  ScannerConfig cfg;
  cfg.entities = std::move(entities);
  cfg.custom = std::move(custom);
  auto s = Scanner::build(std::move(cfg));
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? s.value() : nullptr;
}

std::vector<Entity> everything() {
  std::vector<Entity> all(pii_entities().begin(), pii_entities().end());
  all.insert(all.end(), secret_entities().begin(), secret_entities().end());
  return all;
}

// "entity:matched text" for each finding.
std::vector<std::string> found(const Scanner& s, std::string_view text) {
  std::vector<Finding> out;
  s.scan(text, out);
  std::vector<std::string> r;
  for (const auto& f : out) {
    EXPECT_LE(f.begin, f.end);
    EXPECT_LE(f.end, text.size());
    r.push_back(std::string(s.name_of(f)) + ":" +
                std::string(text.substr(f.begin, f.end - f.begin)));
  }
  return r;
}

struct Case {
  const char* text;
  std::vector<std::string> want;  // "entity:match", in order
};

void check_table(const std::vector<Case>& cases) {
  auto s = make(everything());
  for (const auto& c : cases) EXPECT_EQ(found(*s, c.text), c.want) << "text: " << c.text;
}

TEST(GuardrailScanner, Email) {
  check_table({
      {"mail john.doe@example.com now", {"email:john.doe@example.com"}},
      {"<a+b_c%d@sub.example.co.uk>.", {"email:a+b_c%d@sub.example.co.uk"}},
      {"end of sentence: x@y.org.", {"email:x@y.org"}},
      {"@Override public void run()", {}},
      {"user@localhost is not routable", {}},
      {"x@y.c1 and a@b.c", {}},
      {"see @param name and foo@-bar.com", {}},
  });
}

TEST(GuardrailScanner, Phone) {
  check_table({
      {"call +33 6 12 34 56 78 today", {"phone:+33 6 12 34 56 78"}},
      {"US: +1 (555) 123-4567.", {"phone:+1 (555) 123-4567"}},
      {"office (555) 123-4567 or 555-123-4567", {"phone:(555) 123-4567", "phone:555-123-4567"}},
      {"fr 06 12 34 56 78, 01.23.45.67.89", {"phone:06 12 34 56 78", "phone:01.23.45.67.89"}},
      {"uk +44 20 7946 0958", {"phone:+44 20 7946 0958"}},
      {"+4915112345678", {"phone:+4915112345678"}},
      // Traps: order numbers, dates, versions, amounts, decimals, short numbers.
      {"order 1234567812345678 shipped", {}},
      {"on 2024-01-15 at 12:30:45", {}},
      {"version 10.2.33 and v1.2.3.4.5", {}},
      {"total $1,234,567.89 or 3.14159265358979", {}},
      {"ids 12345 67890 and +12 and 0612345678", {}},
      {"range 100-200-3000, 555 123 4567", {}},
  });
}

TEST(GuardrailScanner, CreditCard) {
  check_table({
      {"card 4111 1111 1111 1111 exp", {"credit_card:4111 1111 1111 1111"}},
      {"mc 5555-5555-5555-4444.", {"credit_card:5555-5555-5555-4444"}},
      {"amex 3782 822463 10005", {"credit_card:3782 822463 10005"}},
      {"raw 378282246310005 and 6011111111111117",
       {"credit_card:378282246310005", "credit_card:6011111111111117"}},
      {"mc2 2223003122003222", {"credit_card:2223003122003222"}},
      // Traps: Luhn failures, unknown IIN passing Luhn, too long, mixed separators.
      {"order 1234567812345678 and 4111111111111112", {}},
      {"id 1234567812345670", {}},
      {"4111 1111 1111 1111 1111 1", {}},
      {"4111-1111 1111-1111", {}},
      {"x4111111111111111", {}},
  });
}

TEST(GuardrailScanner, Iban) {
  check_table({
      {"IBAN FR76 3000 6000 0112 3456 7890 189.", {"iban:FR76 3000 6000 0112 3456 7890 189"}},
      {"DE89370400440532013000 ok", {"iban:DE89370400440532013000"}},
      {"GB82 WEST 1234 5698 7654 32", {"iban:GB82 WEST 1234 5698 7654 32"}},
      {"nl: NL91ABNA0417164300", {"iban:NL91ABNA0417164300"}},
      // Traps: mod-97 failures, wrong lengths, unknown country, glued to a word.
      {"DE89 3704 0044 0532 0130 01", {}},
      {"FR7630006000011234567890188", {}},
      {"DE8937040044053201300", {}},
      {"ZZ89370400440532013000", {}},
      {"XDE89370400440532013000", {}},
  });
}

TEST(GuardrailScanner, UsSsn) {
  check_table({
      {"ssn 123-45-6789.", {"us_ssn:123-45-6789"}},
      {"ssn 123 45 6789", {"us_ssn:123 45 6789"}},
      {"000-12-3456 666-12-3456 900-12-3456", {}},
      {"123-00-4567 123-45-0000 123-45 6789", {}},
      {"1123-45-6789 and 123-45-67890", {}},
  });
}

TEST(GuardrailScanner, FrNir) {
  check_table({
      {"nir 1 84 12 76 451 089 46", {"fr_nir:1 84 12 76 451 089 46"}},
      {"NIR: 184127645108946.", {"fr_nir:184127645108946"}},
      {"corse 2 90 02 2A 004 123 04", {"fr_nir:2 90 02 2A 004 123 04"}},
      {"corse 290022B00412331", {"fr_nir:290022B00412331"}},
      {"1 84 12 76 451 089 47", {}},    // bad key
      {"3 84 12 76 451 089 46", {}},    // sex digit
      {"2 90 02 2C 004 123 04", {}},    // not a Corsican department
  });
}

TEST(GuardrailScanner, Ipv4) {
  check_table({
      {"host 192.168.1.1:8080 up", {"ipv4:192.168.1.1"}},
      {"gw 10.0.0.255.", {"ipv4:10.0.0.255"}},
      {"net 172.16.0.0/12", {"ipv4:172.16.0.0"}},
      {"v1.2.3.4 and 1.2.3.4.5 and 256.1.1.1", {}},
      {"01.02.03.04 and 1.2.3", {}},
  });
}

TEST(GuardrailScanner, Ipv6) {
  check_table({
      {"addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok",
       {"ipv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334"}},
      {"link fe80::1ff:fe23:4567:890a%eth0", {"ipv6:fe80::1ff:fe23:4567:890a"}},
      {"doc [2001:db8::1]:443", {"ipv6:2001:db8::1"}},
      {"mapped ::ffff:192.0.2.128 here", {"ipv6:::ffff:192.0.2.128"}},
      {"ends with fe80::1: next", {"ipv6:fe80::1"}},
      // Traps: bare ::, times, C++ scopes, Python slices, MACs.
      {"a :: b, at 12:30:45, std::vector<int>", {}},
      {"x[1::2], dead::beef, 00:1A:2B:3C:4D:5E", {}},
      {"ns::Type::fn() and 1:2:3:4:5:6:7:8:9", {}},
  });
}

TEST(GuardrailScanner, CloudAndProviderKeys) {
  const std::string aki = std::string("AKIA") + "IOSFODNN7EXAMPLE";
  const std::string aws_secret = std::string("wJalrXUtnFEMI/K7MDENG/") + "bPxRfiCYEXAMPLEKEY";
  const std::string gcp = std::string("AIza") + "_1FJors-6ILi8IHn5kxsC7tVO-HbkQfyy-K";
  const std::string oa = std::string("sk-proj-") + "KcZjR4I0b3jRtaWr4Y9OJFLJOqOAf1lLQSAJaiXnkU8Is2g8";
  const std::string ant = std::string("sk-ant-api03-") +
                          "G6yyzyN9zHYIa4UOrGNATMuDJawTgsu8PO_799nKSNrh9UCauSDmLhuVtcqcYezdZ";
  const std::string gh = std::string("ghp_") + "ribxUdl7dXTPyLsxPFkThf4VucSmEHgaKwVJ";
  const std::string ghpat = std::string("github_pat_") + "11ABCDEFG0abcdefghijklmnopqrstuvwxyz";
  const std::string slack = std::string("xoxb-") + "1234567890-1234567890123-AbCdEfGhIjKl";
  const std::string az = std::string("euMtb8qiVRbN8vi4ZXZmvvIVuSgr/iAHJpfnd86nJZzTmPp5qO9ZJ4yMIQ") +
                         "UDzPi5phqGv+8jb/zfMdPfNgdANg==";
  check_table({
      {("export AWS_ACCESS_KEY_ID=" + aki + "\n").c_str(), {"aws_access_key:" + aki}},
      {("aws_secret_access_key = " + aws_secret).c_str(), {"aws_secret_key:" + aws_secret}},
      {("key=" + gcp + "&q=1").c_str(), {"gcp_api_key:" + gcp}},
      {("OPENAI_API_KEY=" + oa).c_str(), {"openai_key:" + oa}},
      {("x-api-key: " + ant).c_str(), {"anthropic_key:" + ant}},
      {("token " + gh + " and " + ghpat).c_str(), {"github_token:" + gh, "github_token:" + ghpat}},
      {("SLACK=" + slack).c_str(), {"slack_token:" + slack}},
      {("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + az + ";").c_str(),
       {"azure_key:" + az}},
      // Traps: lookalikes without the shape, glued prefixes, words.
      {"AKIA1234 AKIAIOSFODNN7EXAMPLEX task-abcdefghijklmnopqrstuvwxyz", {}},
      {"sk-learn-is-a-library-for-machine-learning ghp_short xoxb-nodigits-here", {}},
      {"the 40-char git sha 3f786850e387550fdab836ed7e6dc881de23001b is aws-related", {}},
  });
}

TEST(GuardrailScanner, JwtAndPem) {
  const std::string jwt = std::string("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.") +
                          "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
                          "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  const std::string pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu"
                          "\nabc+/def==\n-----END RSA PRIVATE KEY-----";
  check_table({
      {("Authorization: Bearer " + jwt + "\n").c_str(), {"jwt:" + jwt}},
      {("key:\n" + pem + "\nthanks").c_str(), {"pem_private_key:" + pem}},
      // A header that is not JSON with "alg", and a certificate, are not secrets.
      {"eyJub3RhbGciOiJ4eHh4eHh4In0.eyJzdWIiOiIxIn0.c2ln", {}},
      {"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", {}},
  });
  // A key cut short (a stream window) is still reported, up to where it goes.
  auto s = make({Entity::pem_private_key});
  EXPECT_EQ(found(*s, "x -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
            std::vector<std::string>{
                "pem_private_key:-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"});
}

TEST(GuardrailScanner, GcpServiceAccount) {
  const std::string value =
      "\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n"
      "-----END PRIVATE KEY-----\\n\"";
  const std::string doc = "{\"type\": \"service_account\", \"project_id\": \"p\", "
                          "\"private_key_id\": \"abc\", \"private_key\": " + value +
                          ", \"client_email\": \"sa@p.iam.gserviceaccount.com\"}";
  auto s = make(everything());
  EXPECT_EQ(found(*s, doc), (std::vector<std::string>{"gcp_service_account:" + value,
                                                      "email:sa@p.iam.gserviceaccount.com"}));
  // The same key outside a service-account document is a PEM key.
  auto v = found(*s, "{\"private_key\": " + value + "}");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].rfind("pem_private_key:", 0), 0u);
}

TEST(GuardrailScanner, HighEntropy) {
  const std::string token = std::string("pTyGJMuHbEL31IeL2HPc") + "HyGcFRl1SPnXNYvMIHa/";
  check_table({
      {("secret: " + token + " end").c_str(), {"aws_secret_key:" + token}},  // 40 + hint
      {("value " + token + "Zq9").c_str(), {"high_entropy:" + token + "Zq9"}},
      // Traps: hex hashes, UUIDs, identifiers, paths, base64 of English.
      {"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", {}},
      {"id 123e4567-e89b-12d3-a456-426614174000 and 550E8400-E29B-41D4-A716-446655440000", {}},
      {"call getUserAccountBalanceForRegion2024() on this_is_a_very_long_identifier_v2", {}},
      {"open /usr/local/lib/python3.11/site-packages/numpy/core/multiarray.py", {}},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", {}},
  });
}

TEST(GuardrailScanner, EnglishAndCodeHaveNoFindings) {
  const std::string text =
      "The quick brown fox jumps over the lazy dog. In 2023, about 42% of the 1,250 users "
      "upgraded to version 3.12.1 (see RFC 7231, section 6.5.1) before 15:30 on 2024-03-01.\n"
      "```cpp\nstd::vector<int> v{1, 2, 3};\nfor (auto& x : v) x *= 2; // O(n)\n"
      "auto it = std::find(v.begin(), v.end(), 4);\nint a[3][4] = {{0}};\n```\n"
      "```python\nimport numpy as np\nx = np.arange(100).reshape(10, 10)[1::2, ::3]\n"
      "print(f\"{x.mean():.2f}\")  # 49.50\nd = {'a': 1, 'b': 2}\n```\n"
      "Meeting at 10:00-11:30, room 4B, call ext. 4412. Order #1234567812345678 ships in 3-5 "
      "days; the parcel weighs 2.5 kg and costs EUR 1 299,00. Use --max-retries=3 --timeout 30s."
      "\nHash: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n";
  auto s = make(everything());
  EXPECT_EQ(found(*s, text), std::vector<std::string>{});
}

TEST(GuardrailScanner, OffsetsAreExact) {
  auto s = make(everything());
  std::string text = "a@b.io 4111111111111111 10.1.2.3";
  std::vector<Finding> out;
  s->scan(text, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], (Finding{Entity::email, 0, 0, 6}));
  EXPECT_EQ(out[1], (Finding{Entity::credit_card, 0, 7, 23}));
  EXPECT_EQ(out[2], (Finding{Entity::ipv4, 0, 24, 32}));
}

TEST(GuardrailScanner, OverlapsResolved) {
  // A phone number inside an email's local part: one email (the longer).
  auto s = make(everything());
  EXPECT_EQ(found(*s, "+33612345678@sms.example.com"),
            std::vector<std::string>{"email:+33612345678@sms.example.com"});
  // A secret beats PII even when shorter: a custom PII pattern over a whole line.
  auto c = make({Entity::aws_access_key}, {{"line", "key is [A-Z0-9]+ ok"}});
  std::string aki = std::string("AKIA") + "IOSFODNN7EXAMPLE";
  EXPECT_EQ(found(*c, "key is " + aki + " ok"), std::vector<std::string>{"aws_access_key:" + aki});
  // A specific secret beats high_entropy on the same span.
  auto h = make({Entity::github_token, Entity::high_entropy});
  std::string gh = std::string("ghp_") + "ribxUdl7dXTPyLsxPFkThf4VucSmEHgaKwVJ";
  EXPECT_EQ(found(*h, gh), std::vector<std::string>{"github_token:" + gh});
  // Sorted and disjoint, whatever the mix.
  std::string mixed = "x " + gh + " a@b.io +33 6 12 34 56 78 " + aki + " 192.168.0.1";
  std::vector<Finding> out;
  s->scan(mixed, out);
  ASSERT_EQ(out.size(), 5u);
  for (std::size_t i = 1; i < out.size(); ++i) EXPECT_LE(out[i - 1].end, out[i].begin);
}

TEST(GuardrailScanner, OnlyEnabledEntities) {
  auto s = make({Entity::email});
  EXPECT_EQ(found(*s, "a@b.io 4111111111111111 10.1.2.3"),
            std::vector<std::string>{"email:a@b.io"});
  auto none = make({});
  EXPECT_TRUE(found(*none, "a@b.io 4111111111111111").empty());
}

TEST(GuardrailScanner, InvalidUtf8AndEdges) {
  auto s = make(everything());
  std::string bad = "\xff\xfe a@b.io \xc3\x28 \xe2\x82 4111111111111111\x80";
  EXPECT_EQ(found(*s, bad),
            (std::vector<std::string>{"email:a@b.io", "credit_card:4111111111111111"}));
  // Triggers at the very ends must not read past the buffer (ASan checks the tests too).
  for (std::string_view t : {"@", ":", "::", "1", "+1", "(5", "-----BEGIN ", "eyJ", "a@", "@b.c",
                             "AKIA", "FR7", "1 84 12", "2001:db8:", "sk-"}) {
    std::string copy(t);  // exact-size heap buffer
    std::vector<Finding> out;
    s->scan(copy, out);
    EXPECT_TRUE(out.empty()) << t;
  }
  // Random bytes: sorted, disjoint, in bounds.
  std::mt19937 rng(42);
  std::string noise(1 << 16, '\0');
  for (auto& ch : noise) ch = static_cast<char>(rng() & 0xff);
  std::vector<Finding> out;
  s->scan(noise, out);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_LE(out[i].end, noise.size());
    if (i) {
      EXPECT_LE(out[i - 1].end, out[i].begin);
    }
  }
}

TEST(GuardrailScanner, OneMebibyte) {
  auto s = make(everything());
  std::string chunk =
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit; config.yaml has 3 keys. ";
  std::string text;
  while (text.size() < (1u << 20)) text += chunk;
  std::vector<Finding> out;
  s->scan(text, out);
  EXPECT_TRUE(out.empty());
  // The same with a finding at the very end.
  text += "jane@example.org";
  s->scan(text, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].end, text.size());
  // `out` is reused: capacity kept, no allocation when nothing is found.
  const auto* data = out.data();
  s->scan(chunk, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.data(), data);
}

TEST(GuardrailScanner, CustomPatterns) {
  auto s = make({}, {{"employee_id", "EMP-[0-9]{6}"}, {"project", "(?i)project[ -]x\\b"}});
  std::vector<Finding> out;
  std::string text = "EMP-123456 works on Project X with EMP-654321.";
  s->scan(text, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], (Finding{Entity::custom, 0, 0, 10}));
  EXPECT_EQ(out[1], (Finding{Entity::custom, 1, 20, 29}));
  EXPECT_EQ(out[2], (Finding{Entity::custom, 0, 35, 45}));
  EXPECT_EQ(s->name_of(out[1]), "project");
  s->scan("nothing to see", out);
  EXPECT_TRUE(out.empty());
  // An empty-matching pattern yields nothing (no zero-length findings, no endless loop).
  auto e = make({}, {{"maybe", "x*"}});
  e->scan("aaa", out);
  EXPECT_TRUE(out.empty());
}

TEST(GuardrailScanner, BadConfigIsAnError) {
  ScannerConfig cfg;
  cfg.custom = {{"ok", "a+"}, {"broken", "(unclosed"}};
  auto r = Scanner::build(cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().param, "custom[1].pattern");
  EXPECT_NE(r.error().message.find("broken"), std::string::npos);
  EXPECT_NE(r.error().message.find("missing )"), std::string::npos) << r.error().message;

  ScannerConfig empty;
  empty.custom = {{"e", ""}};
  EXPECT_FALSE(Scanner::build(empty).ok());
  ScannerConfig bad_entropy;
  bad_entropy.entropy_threshold = 0;
  EXPECT_FALSE(Scanner::build(bad_entropy).ok());
  ScannerConfig short_len;
  short_len.entropy_min_length = 4;
  EXPECT_FALSE(Scanner::build(short_len).ok());
}

TEST(GuardrailScanner, NamesAndChecksums) {
  for (std::size_t i = 0; i < kEntityCount; ++i) {
    auto e = static_cast<Entity>(i);
    EXPECT_EQ(parse_entity(entity_name(e)), e);
  }
  EXPECT_FALSE(parse_entity("nope").has_value());
  EXPECT_TRUE(is_secret(Entity::jwt));
  EXPECT_FALSE(is_secret(Entity::email));
  EXPECT_FALSE(is_secret(Entity::custom));
  EXPECT_TRUE(detail::luhn_ok("4111111111111111"));
  EXPECT_FALSE(detail::luhn_ok("4111111111111112"));
  EXPECT_TRUE(detail::iban_mod97_ok("GB82WEST12345698765432"));
  EXPECT_FALSE(detail::iban_mod97_ok("GB82WEST12345698765433"));
  EXPECT_DOUBLE_EQ(detail::shannon_entropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(detail::shannon_entropy("abcd"), 2.0);
}

TEST(GuardrailScanner, LowerStrideFindsShortEntropyTokens) {
  ScannerConfig cfg;
  cfg.entities = {Entity::high_entropy};
  cfg.entropy_min_length = 12;
  cfg.entropy_threshold = 3.3;
  auto s = Scanner::build(cfg);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(found(**s, "pw: aZ3kQ9xP2mL7 ok"), std::vector<std::string>{"high_entropy:aZ3kQ9xP2mL7"});
}

}  // namespace
}  // namespace torii::guardrails
