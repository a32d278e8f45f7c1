// AWS SigV4: the published AWS test-suite vectors and documentation examples, the non-S3
// double encoding of the path (Bedrock model ids contain ':'), key caching, errors, secrecy.
#include "providers/bedrock/sigv4.h"

#include <gtest/gtest.h>

#include <string>

namespace torii::aws {
namespace {

// The credentials, time and scope of the AWS SigV4 test suite (aws-sig-v4-test-suite).
const AwsCredentials kSuiteCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr std::string_view kSuiteDate = "20150830T123600Z";
constexpr std::string_view kSuiteScope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
constexpr std::string_view kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string suite_auth(std::string_view signed_headers, std::string_view signature) {
  return "AWS4-HMAC-SHA256 Credential=" + std::string(kSuiteScope) +
         ", SignedHeaders=" + std::string(signed_headers) + ", Signature=" + std::string(signature);
}

SignedHeaders sign_suite(const SigV4Request& req, const AwsCredentials& creds = kSuiteCreds) {
  auto r = sign_v4(req, creds, "us-east-1", "service", kSuiteDate);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : SignedHeaders{};
}

TEST(BedrockSigV4, DerivesTheDocumentedSigningKey) {
  // AWS docs, "Examples of how to derive a signing key for Signature Version 4".
  SigningKey k = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                    "us-east-1", "iam");
  EXPECT_EQ(to_hex(k.key.data(), k.key.size()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  EXPECT_EQ(k.date, "20120215");
  EXPECT_EQ(k.region, "us-east-1");
  EXPECT_EQ(k.service, "iam");
}

TEST(BedrockSigV4, Sha256OfEmptyPayload) { EXPECT_EQ(sha256_hex(""), kEmptySha); }

TEST(BedrockSigV4, GetVanillaCanonicalRequestAndSignature) {
  SigV4Request req;
  req.method = "GET";
  req.host = "example.amazonaws.com";
  auto creq = canonical_request(req, kSuiteDate);
  ASSERT_TRUE(creq.ok());
  EXPECT_EQ(*creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" + std::string(kEmptySha));
  // The suite's header-string-to-sign.txt hashes the canonical request to this value.
  EXPECT_EQ(sha256_hex(*creq), "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  SignedHeaders s = sign_suite(req);
  EXPECT_EQ(s.authorization,
            suite_auth("host;x-amz-date",
                       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
  EXPECT_EQ(s.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(s.amz_date, kSuiteDate);
  EXPECT_TRUE(s.security_token.empty());
  EXPECT_TRUE(s.content_sha256.empty());
}

TEST(BedrockSigV4, PostVanilla) {
  SigV4Request req;
  req.method = "POST";
  req.host = "example.amazonaws.com";
  EXPECT_EQ(sign_suite(req).authorization,
            suite_auth("host;x-amz-date",
                       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
}

TEST(BedrockSigV4, PostXWwwFormUrlencoded) {
  SigV4Request req;
  req.method = "POST";
  req.host = "example.amazonaws.com";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.payload = "Param1=value1";
  auto creq = canonical_request(req, kSuiteDate);
  ASSERT_TRUE(creq.ok());
  EXPECT_NE(creq->find("\ncontent-type:application/x-www-form-urlencoded\nhost:"),
            std::string::npos);
  EXPECT_TRUE(creq->ends_with(
      "\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"));
  EXPECT_EQ(sign_suite(req).authorization,
            suite_auth("content-type;host;x-amz-date",
                       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
}

TEST(BedrockSigV4, QueryIsSortedByKey) {
  SigV4Request req;
  req.method = "GET";
  req.host = "example.amazonaws.com";
  req.query = "Param2=value2&Param1=value1";  // get-vanilla-query-order-key-case
  auto creq = canonical_request(req, kSuiteDate);
  ASSERT_TRUE(creq.ok());
  EXPECT_TRUE(creq->starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
  EXPECT_EQ(sign_suite(req).signature,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");

  req.method = "POST";  // post-vanilla-query
  req.query = "Param1=value1";
  EXPECT_EQ(sign_suite(req).signature,
            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

TEST(BedrockSigV4, HeaderValuesAreTrimmedAndCollapsed) {
  // get-header-value-trim.
  SigV4Request req;
  req.method = "GET";
  req.host = "example.amazonaws.com";
  req.headers = {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}};
  auto creq = canonical_request(req, kSuiteDate);
  ASSERT_TRUE(creq.ok());
  EXPECT_NE(creq->find("\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:"),
            std::string::npos);
  EXPECT_EQ(sign_suite(req).authorization,
            suite_auth("host;my-header1;my-header2;x-amz-date",
                       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"));
}

TEST(BedrockSigV4, RepeatedHeadersJoinInOrder) {
  SigV4Request req;
  req.method = "GET";
  req.host = "example.amazonaws.com";
  req.headers = {{"my-header1", "value2"}, {"my-header1", "value2"}, {"my-header1", "value1"}};
  auto creq = canonical_request(req, kSuiteDate);
  ASSERT_TRUE(creq.ok());
  EXPECT_NE(creq->find("\nmy-header1:value2,value2,value1\n"), std::string::npos);
  EXPECT_NE(creq->find("\nhost;my-header1;x-amz-date\n"), std::string::npos);
}

TEST(BedrockSigV4, SessionTokenIsSignedAndReturned) {
  // post-sts-header-before: the token is part of the signed headers.
  const std::string token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpS"
      "PfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDY"
      "wT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scq"
      "Kmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  AwsCredentials creds = kSuiteCreds;
  creds.session_token = token;
  SigV4Request req;
  req.method = "POST";
  req.host = "example.amazonaws.com";
  SignedHeaders s = sign_suite(req, creds);
  EXPECT_EQ(s.authorization,
            suite_auth("host;x-amz-date;x-amz-security-token",
                       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
  EXPECT_EQ(s.security_token, token);
  EXPECT_EQ(s.header_block(), "Authorization: " + s.authorization +
                                  "\r\nX-Amz-Date: 20150830T123600Z\r\nX-Amz-Security-Token: " +
                                  token + "\r\n");
}

TEST(BedrockSigV4, IamListUsersDocumentationExample) {
  // AWS docs (SigV4 signing walkthrough): GET ?Action=ListUsers&Version=2010-05-08 on IAM.
  SigV4Request req;
  req.method = "GET";
  req.host = "iam.amazonaws.com";
  req.query = "Action=ListUsers&Version=2010-05-08";
  req.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  auto creq = canonical_request(req, kSuiteDate);
  ASSERT_TRUE(creq.ok());
  EXPECT_EQ(sha256_hex(*creq), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  auto s = sign_v4(req, kSuiteCreds, "us-east-1", "iam", kSuiteDate);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(BedrockSigV4, S3GetObjectExampleSignsThePathOnceAndTheContentHash) {
  // Amazon S3 API reference, "Example: GET Object" (header-based SigV4).
  SigV4Request req;
  req.method = "GET";
  req.host = "examplebucket.s3.amazonaws.com";
  req.path = "/test.txt";
  req.headers = {{"Range", "bytes=0-9"}};
  req.double_encode_path = false;
  req.sign_content_sha256 = true;
  AwsCredentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  auto s = sign_v4(req, creds, "us-east-1", "s3", "20130524T000000Z");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s->content_sha256, kEmptySha);
  EXPECT_NE(s->header_block().find("\r\nX-Amz-Content-Sha256: " + std::string(kEmptySha) + "\r\n"),
            std::string::npos);
}

TEST(BedrockSigV4, BedrockModelPathIsEncodedAgain) {
  // The model id "anthropic.claude-3-5-sonnet-20240620-v1:0" goes on the wire as "...v1%3A0";
  // a non-S3 service signs the wire path URI-encoded once more, so '%' becomes "%25".
  SigV4Request req;
  req.method = "POST";
  req.host = "bedrock-runtime.us-east-1.amazonaws.com";
  req.path = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream";
  req.headers = {{"content-type", "application/json"}};
  req.payload = R"({"messages":[]})";
  auto creq = canonical_request(req, "20250611T072336Z");
  ASSERT_TRUE(creq.ok());
  EXPECT_TRUE(creq->starts_with(
      "POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse-stream\n\n"
      "content-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"
      "x-amz-date:20250611T072336Z\n\ncontent-type;host;x-amz-date\n"))
      << *creq;

  // An ARN model id: ':' and '/' are both encoded on the wire, both encoded again here.
  req.path =
      "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x-v1%3A0/converse";
  creq = canonical_request(req, "20250611T072336Z");
  ASSERT_TRUE(creq.ok());
  EXPECT_TRUE(creq->starts_with(
      "POST\n/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A1%253Ainference-profile%252Fus.x-v1"
      "%253A0/converse\n"))
      << *creq;

  // The S3 rule (no second pass) would sign a different request, hence a different signature.
  AwsCredentials creds{"AKIDEXAMPLE", "secret", ""};
  auto twice = sign_v4(req, creds, "us-east-1", "bedrock", "20250611T072336Z");
  req.double_encode_path = false;
  auto once = sign_v4(req, creds, "us-east-1", "bedrock", "20250611T072336Z");
  ASSERT_TRUE(twice.ok() && once.ok());
  EXPECT_NE(twice->signature, once->signature);
  creq = canonical_request(req, "20250611T072336Z");
  ASSERT_TRUE(creq.ok());
  EXPECT_NE(creq->find("inference-profile%2Fus.x-v1%3A0/converse\n"), std::string::npos);
}

TEST(BedrockSigV4, UriEncodeKeepsOnlyUnreserved) {
  std::string out;
  uri_encode(out, "aZ09-_.~ /:%+*=", true);
  EXPECT_EQ(out, "aZ09-_.~%20/%3A%25%2B%2A%3D");
  out.clear();
  uri_encode(out, "a/b\xe1\x88\xb4", false);
  EXPECT_EQ(out, "a%2Fb%E1%88%B4");
}

TEST(BedrockSigV4, QueryIsDecodedThenEncodedOnce) {
  SigV4Request req;
  req.method = "GET";
  req.host = "h";
  req.query = "b=%7e&a=x%2Fy&c&a=1&d=";  // already-encoded values are not encoded twice
  auto creq = canonical_request(req, kSuiteDate);
  ASSERT_TRUE(creq.ok());
  EXPECT_TRUE(creq->starts_with("GET\n/\na=1&a=x%2Fy&b=~&c=&d=\n")) << *creq;
}

TEST(BedrockSigV4, CachedKeyGivesTheSameSignature) {
  SigV4Request req;
  req.method = "POST";
  req.host = "example.amazonaws.com";
  req.payload = "{}";
  req.headers = {{"content-type", "application/json"}};
  SigningKey key = derive_signing_key(kSuiteCreds.secret_access_key, "20150830", "us-east-1",
                                      "service");
  auto cached = sign_v4(req, kSuiteCreds.access_key_id, "", key, kSuiteDate);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->authorization, sign_suite(req).authorization);
  // The same key later that day still works; on the next day it is refused.
  EXPECT_TRUE(sign_v4(req, "AKIDEXAMPLE", "", key, "20150830T235959Z").ok());
  auto stale = sign_v4(req, "AKIDEXAMPLE", "", key, "20150831T000000Z");
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.error().message.find("another day"), std::string::npos);
}

TEST(BedrockSigV4, TimeFormatting) {
  EXPECT_EQ(amz_date(1440938160), "20150830T123600Z");
  EXPECT_EQ(amz_date(0), "19700101T000000Z");
  EXPECT_EQ(amz_date(1709164800), "20240229T000000Z");
  EXPECT_TRUE(is_amz_date("20150830T123600Z"));
  EXPECT_FALSE(is_amz_date("2015-08-30T12:36:00Z"));
  EXPECT_FALSE(is_amz_date("20150830T123600"));
  EXPECT_FALSE(is_amz_date("2015083OT123600Z"));
}

TEST(BedrockSigV4, ErrorsNeverCarryTheSecret) {
  const std::string secret = "TOP-SECRET-wJalrXUtnFEMI";
  AwsCredentials creds{"AKID", secret, "tok"};
  SigV4Request req;
  req.host = "h";

  auto bad_date = sign_v4(req, creds, "us-east-1", "bedrock", "yesterday");
  ASSERT_FALSE(bad_date.ok());
  EXPECT_EQ(bad_date.error().message.find(secret), std::string::npos);

  req.headers = {{"Host", "other"}};  // the signer owns host: a duplicate would break signing
  auto dup = sign_v4(req, creds, "us-east-1", "bedrock", kSuiteDate);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("'host'"), std::string::npos);
  EXPECT_EQ(dup.error().message.find(secret), std::string::npos);

  req.headers = {{"", "x"}};
  EXPECT_FALSE(sign_v4(req, creds, "us-east-1", "bedrock", kSuiteDate).ok());

  AwsCredentials no_secret{"AKID", "", ""};
  req.headers.clear();
  auto missing = sign_v4(req, no_secret, "us-east-1", "bedrock", kSuiteDate);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().status, 500);

  auto ok = sign_v4(req, creds, "us-east-1", "bedrock", kSuiteDate);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->header_block().find(secret), std::string::npos);
  EXPECT_EQ(ok->authorization.find(secret), std::string::npos);
  EXPECT_NE(ok->authorization.find("Credential=AKID/20150830/us-east-1/bedrock/aws4_request, "),
            std::string::npos);
}

TEST(BedrockSigV4, EveryInputChangesTheSignature) {
  SigV4Request req;
  req.method = "POST";
  req.host = "bedrock-runtime.us-east-1.amazonaws.com";
  req.path = "/model/m/converse";
  req.headers = {{"content-type", "application/json"}};
  req.payload = "{}";
  auto base = sign_suite(req).signature;
  auto changed = [&](SigV4Request r) { return sign_suite(r).signature != base; };
  SigV4Request r = req;
  r.payload = "{ }";
  EXPECT_TRUE(changed(r));
  r = req;
  r.path = "/model/n/converse";
  EXPECT_TRUE(changed(r));
  r = req;
  r.host = "bedrock-runtime.us-west-2.amazonaws.com";
  EXPECT_TRUE(changed(r));
  r = req;
  r.headers = {{"content-type", "text/plain"}};
  EXPECT_TRUE(changed(r));
  EXPECT_NE(sign_v4(req, kSuiteCreds, "us-west-2", "service", kSuiteDate)->signature, base);
  EXPECT_NE(sign_v4(req, kSuiteCreds, "us-east-1", "bedrock", kSuiteDate)->signature, base);
}

}  // namespace
}  // namespace torii::aws
