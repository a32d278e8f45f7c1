// JWT verification: keys are generated here with OpenSSL, tokens signed here, and the JWKS built
// from the generated public keys, so every signature check runs against real cryptography.
#include "identity/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

namespace torii::identity {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1'700'000'000;

std::string b64url(std::string_view in) { return base64url_encode(in); }

std::string bn_bytes(const BIGNUM* bn, int pad = 0) {
  std::string out(static_cast<std::size_t>(pad ? pad : BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  return out;
}

std::string bn_param(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1) << name;
  std::string out = bn_bytes(bn, pad);
  BN_free(bn);
  return out;
}

// EVP_DigestSign with `md` (nullptr for Ed25519).
std::string digest_sign(EVP_PKEY* key, const EVP_MD* md, std::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, md, nullptr, key), 1);
  std::size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &len, in, input.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                           input.size()), 1);
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

// DER ECDSA-Sig-Value -> JOSE r||s.
std::string der_to_jose(const std::string& der) {
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  EXPECT_NE(sig, nullptr);
  std::string out = bn_bytes(ECDSA_SIG_get0_r(sig), 32) + bn_bytes(ECDSA_SIG_get0_s(sig), 32);
  ECDSA_SIG_free(sig);
  return out;
}

std::string hmac_sha256(std::string_view secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
    ec_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    ed_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    secret_.assign(32, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), 32);
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
    EVP_PKEY_free(ed_);
  }

  static json::object rsa_jwk() {
    return {{"kty", "RSA"}, {"kid", "rsa"}, {"use", "sig"},
            {"n", b64url(bn_param(rsa_, OSSL_PKEY_PARAM_RSA_N))},
            {"e", b64url(bn_param(rsa_, OSSL_PKEY_PARAM_RSA_E))}};
  }
  static json::object ec_jwk() {
    return {{"kty", "EC"}, {"kid", "ec"}, {"crv", "P-256"},
            {"x", b64url(bn_param(ec_, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", b64url(bn_param(ec_, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  }
  static json::object ed_jwk() {
    unsigned char raw[32];
    std::size_t len = sizeof raw;
    EXPECT_EQ(EVP_PKEY_get_raw_public_key(ed_, raw, &len), 1);
    return {{"kty", "OKP"}, {"kid", "ed"}, {"crv", "Ed25519"},
            {"x", b64url(std::string_view(reinterpret_cast<char*>(raw), len))}};
  }
  static json::object oct_jwk() {
    return {{"kty", "oct"}, {"kid", "hs"}, {"alg", "HS256"}, {"k", b64url(secret_)}};
  }
  static std::vector<Jwk> all_keys() {
    auto r = parse_jwks(json::serialize(json::object{
        {"keys", json::array{rsa_jwk(), ec_jwk(), ed_jwk(), oct_jwk()}}}));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : std::vector<Jwk>{};
  }

  // Signs header.payload with the test key for `alg`; an unknown alg gives an empty signature.
  static std::string sign(std::string_view alg, std::string_view input) {
    if (alg == "RS256") return digest_sign(rsa_, EVP_sha256(), input);
    if (alg == "ES256") return der_to_jose(digest_sign(ec_, EVP_sha256(), input));
    if (alg == "EdDSA") return digest_sign(ed_, nullptr, input);
    if (alg == "HS256") return hmac_sha256(secret_, input);
    return {};
  }
  static std::string kid_for(std::string_view alg) {
    if (alg == "RS256") return "rsa";
    if (alg == "ES256") return "ec";
    if (alg == "EdDSA") return "ed";
    return "hs";
  }

  // A claims set valid at kNow for policy().
  static json::object claims() {
    return {{"iss", "https://idp.example"}, {"aud", "torii"}, {"sub", "user-1"},
            {"exp", kNow + 300}, {"nbf", kNow - 10}, {"iat", kNow - 10}};
  }
  static std::string token(const json::object& header, const json::object& payload) {
    std::string input =
        b64url(json::serialize(header)) + "." + b64url(json::serialize(payload));
    return input + "." + b64url(sign(header.at("alg").as_string(), input));
  }
  static std::string token(std::string_view alg, const json::object& payload = claims()) {
    return token(json::object{{"alg", alg}, {"typ", "JWT"}, {"kid", kid_for(alg)}}, payload);
  }
  static JwtPolicy policy() {
    JwtPolicy p;
    p.issuer = "https://idp.example";
    p.audiences = {"torii"};
    return p;
  }

  // Expects a refusal with code invalid_token whose message contains `reason`.
  static void expect_refused(const Result<VerifiedJwt>& r, std::string_view reason) {
    ASSERT_FALSE(r.ok()) << "expected refusal: " << reason;
    EXPECT_EQ(r.error().status, 401);
    EXPECT_EQ(r.error().code, "invalid_token");
    EXPECT_NE(r.error().message.find(reason), std::string::npos) << r.error().message;
  }

  static inline EVP_PKEY* rsa_ = nullptr;
  static inline EVP_PKEY* ec_ = nullptr;
  static inline EVP_PKEY* ed_ = nullptr;
  static inline std::string secret_;
};

TEST_F(JwtTest, ValidTokenForEachAlgorithm) {
  auto keys = all_keys();
  ASSERT_EQ(keys.size(), 4u);
  for (std::string alg : {"RS256", "ES256", "EdDSA", "HS256"}) {
    auto r = verify_jwt(token(alg), keys, policy(), kNow);
    ASSERT_TRUE(r.ok()) << alg << ": " << r.error().message;
    EXPECT_EQ(r->alg, alg);
    EXPECT_EQ(r->kid, kid_for(alg));
    EXPECT_EQ(r->claims.at("sub").as_string(), "user-1") << alg;
  }
}

TEST_F(JwtTest, NoKidUsesTheOnlyKeyButNotOneOfSeveral) {
  auto one = parse_jwks(json::serialize(json::object{{"keys", json::array{ec_jwk()}}}));
  ASSERT_TRUE(one.ok());
  std::string t = token(json::object{{"alg", "ES256"}}, claims());
  auto r = verify_jwt(t, one.value(), policy(), kNow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kid, "");
  expect_refused(verify_jwt(t, all_keys(), policy(), kNow), "no kid");
}

TEST_F(JwtTest, ExpiredAndLeeway) {
  auto keys = all_keys();
  auto c = claims();
  c["exp"] = kNow - 30;  // expired 30 s ago: inside the default 60 s leeway
  EXPECT_TRUE(verify_jwt(token("RS256", c), keys, policy(), kNow).ok());
  JwtPolicy strict = policy();
  strict.leeway = std::chrono::seconds(0);
  expect_refused(verify_jwt(token("RS256", c), keys, strict, kNow), "expired");
  c["exp"] = kNow - 61;
  expect_refused(verify_jwt(token("RS256", c), keys, policy(), kNow), "expired");
  c["exp"] = kNow + 1;
  EXPECT_TRUE(verify_jwt(token("RS256", c), keys, strict, kNow).ok());
  c.erase("exp");
  expect_refused(verify_jwt(token("RS256", c), keys, policy(), kNow), "missing exp");
  c["exp"] = "tomorrow";
  expect_refused(verify_jwt(token("RS256", c), keys, policy(), kNow), "bad exp");
}

TEST_F(JwtTest, NotYetValidAndLeeway) {
  auto keys = all_keys();
  auto c = claims();
  c["nbf"] = kNow + 30;  // valid in 30 s: inside the leeway
  EXPECT_TRUE(verify_jwt(token("ES256", c), keys, policy(), kNow).ok());
  JwtPolicy strict = policy();
  strict.leeway = std::chrono::seconds(0);
  expect_refused(verify_jwt(token("ES256", c), keys, strict, kNow), "not yet valid");
  c["nbf"] = kNow + 120;
  expect_refused(verify_jwt(token("ES256", c), keys, policy(), kNow), "not yet valid");
  c["nbf"] = static_cast<double>(kNow) + 0.5;  // decimal NumericDate
  EXPECT_TRUE(verify_jwt(token("ES256", c), keys, policy(), kNow).ok());
  expect_refused(verify_jwt(token("ES256", c), keys, strict, kNow), "not yet valid");
}

TEST_F(JwtTest, WrongIssuer) {
  auto keys = all_keys();
  auto c = claims();
  c["iss"] = "https://evil.example";
  expect_refused(verify_jwt(token("EdDSA", c), keys, policy(), kNow), "issuer");
  c.erase("iss");
  expect_refused(verify_jwt(token("EdDSA", c), keys, policy(), kNow), "issuer");
  JwtPolicy any_issuer = policy();
  any_issuer.issuer.clear();
  EXPECT_TRUE(verify_jwt(token("EdDSA", c), keys, any_issuer, kNow).ok());
}

TEST_F(JwtTest, WrongAudience) {
  auto keys = all_keys();
  auto c = claims();
  c["aud"] = "someone-else";
  expect_refused(verify_jwt(token("HS256", c), keys, policy(), kNow), "audience");
  c.erase("aud");
  expect_refused(verify_jwt(token("HS256", c), keys, policy(), kNow), "audience");
  c["aud"] = 42;
  expect_refused(verify_jwt(token("HS256", c), keys, policy(), kNow), "audience");
}

TEST_F(JwtTest, AudienceAsArray) {
  auto keys = all_keys();
  auto c = claims();
  c["aud"] = json::array{"other", "torii"};
  EXPECT_TRUE(verify_jwt(token("RS256", c), keys, policy(), kNow).ok());
  c["aud"] = json::array{"other", "third", 7};
  expect_refused(verify_jwt(token("RS256", c), keys, policy(), kNow), "audience");
  JwtPolicy two = policy();
  two.audiences = {"api-a", "third"};
  EXPECT_TRUE(verify_jwt(token("RS256", c), keys, two, kNow).ok());
}

TEST_F(JwtTest, AlgNoneIsRefused) {
  auto keys = all_keys();
  for (std::string alg : {"none", "None", "NONE"}) {
    std::string t = b64url(json::serialize(json::object{{"alg", alg}, {"kid", "rsa"}})) + "." +
                    b64url(json::serialize(claims())) + ".";
    expect_refused(verify_jwt(t, keys, policy(), kNow), "algorithm");
    // Even a policy that lists it cannot enable it.
    JwtPolicy p = policy();
    p.algorithms.push_back(alg);
    expect_refused(verify_jwt(t, keys, p, kNow), "algorithm");
  }
}

TEST_F(JwtTest, AlgorithmOutsidePolicyIsRefused) {
  auto keys = all_keys();
  JwtPolicy only_rs = policy();
  only_rs.algorithms = {"RS256"};
  EXPECT_TRUE(verify_jwt(token("RS256"), keys, only_rs, kNow).ok());
  for (std::string alg : {"ES256", "EdDSA", "HS256"}) {
    ASSERT_TRUE(verify_jwt(token(alg), keys, policy(), kNow).ok()) << alg;
    expect_refused(verify_jwt(token(alg), keys, only_rs, kNow), "algorithm");
  }
  // Algorithms this module does not implement are refused even when the policy lists them.
  JwtPolicy rs384 = policy();
  rs384.algorithms = {"RS384"};
  std::string input = b64url(R"({"alg":"RS384","kid":"rsa"})") + "." +
                      b64url(json::serialize(claims()));
  expect_refused(verify_jwt(input + "." + b64url(digest_sign(rsa_, EVP_sha384(), input)), keys,
                            rs384, kNow),
                 "algorithm");
}

// The classic confusion attack: an HS256 token whose HMAC key is the RSA public key. A verifier
// that lets the token pick the algorithm would accept it.
TEST_F(JwtTest, HmacTokenAgainstRsaKeyIsRefused) {
  auto keys = all_keys();
  std::string input = b64url(R"({"alg":"HS256","kid":"rsa"})") + "." +
                      b64url(json::serialize(claims()));
  for (const std::string& fake_secret :
       {bn_param(rsa_, OSSL_PKEY_PARAM_RSA_N), json::serialize(rsa_jwk())}) {
    std::string t = input + "." + b64url(hmac_sha256(fake_secret, input));
    expect_refused(verify_jwt(t, keys, policy(), kNow), "key does not fit");
  }
  // Same for an RS256 token pointed at the HMAC key, and ES256 at the Ed25519 key.
  expect_refused(verify_jwt(token(json::object{{"alg", "RS256"}, {"kid", "hs"}}, claims()), keys,
                            policy(), kNow),
                 "key does not fit");
  expect_refused(verify_jwt(token(json::object{{"alg", "ES256"}, {"kid", "ed"}}, claims()), keys,
                            policy(), kNow),
                 "key does not fit");
}

TEST_F(JwtTest, JwkAlgMustMatchTokenAlg) {
  auto jwk = rsa_jwk();
  jwk["alg"] = "RS256";
  auto keys = parse_jwks(json::serialize(json::object{{"keys", json::array{jwk}}}));
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(verify_jwt(token("RS256"), keys.value(), policy(), kNow).ok());
  jwk["alg"] = "ES256";  // alg clashes with kty: the key is unusable
  EXPECT_FALSE(parse_jwks(json::serialize(json::object{{"keys", json::array{jwk}}})).ok());
}

TEST_F(JwtTest, BadSignatureIsRefused) {
  auto keys = all_keys();
  for (std::string alg : {"RS256", "ES256", "EdDSA", "HS256"}) {
    std::string t = token(alg);
    ASSERT_TRUE(verify_jwt(t, keys, policy(), kNow).ok()) << alg;
    auto dot = t.rfind('.');
    std::string sig;
    ASSERT_TRUE(base64url_decode(t.substr(dot + 1), sig));
    sig[sig.size() / 2] = static_cast<char>(sig[sig.size() / 2] ^ 0x01);
    expect_refused(verify_jwt(t.substr(0, dot + 1) + b64url(sig), keys, policy(), kNow),
                   "bad signature");
    // A truncated signature, and a payload swapped after signing.
    expect_refused(verify_jwt(t.substr(0, t.size() - 4), keys, policy(), kNow), "signature");
    auto c = claims();
    c["sub"] = "admin";
    std::string forged = t.substr(0, t.find('.') + 1) + b64url(json::serialize(c)) +
                         t.substr(dot);
    expect_refused(verify_jwt(forged, keys, policy(), kNow), "bad signature");
  }
}

TEST_F(JwtTest, SignatureByAnotherKeyIsRefused) {
  EVP_PKEY* other = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  std::string input = b64url(R"({"alg":"ES256","kid":"ec"})") + "." +
                      b64url(json::serialize(claims()));
  std::string t = input + "." + b64url(der_to_jose(digest_sign(other, EVP_sha256(), input)));
  EVP_PKEY_free(other);
  expect_refused(verify_jwt(t, all_keys(), policy(), kNow), "bad signature");
}

TEST_F(JwtTest, MalformedTokensAreRefused) {
  auto keys = all_keys();
  std::string good = token("HS256");
  ASSERT_TRUE(verify_jwt(good, keys, policy(), kNow).ok());
  auto p1 = good.find('.'), p2 = good.rfind('.');
  expect_refused(verify_jwt(good.substr(0, p2), keys, policy(), kNow), "compact");  // 2 parts
  expect_refused(verify_jwt(good + ".x", keys, policy(), kNow), "compact");         // 4 parts
  expect_refused(verify_jwt("", keys, policy(), kNow), "size");
  expect_refused(verify_jwt(std::string(20000, 'a'), keys, policy(), kNow), "size");
  expect_refused(verify_jwt("*" + good.substr(1), keys, policy(), kNow), "header");  // bad b64
  expect_refused(verify_jwt(good.substr(0, p1) + "=" + good.substr(p1), keys, policy(), kNow),
                 "header");  // padding is not allowed in JWS
  expect_refused(verify_jwt(good + "!", keys, policy(), kNow), "signature encoding");

  // Header not JSON (signed anyway, so only the header parse can refuse it).
  std::string input = b64url("{alg: HS256}") + "." + b64url(json::serialize(claims()));
  expect_refused(verify_jwt(input + "." + b64url(hmac_sha256(secret_, input)), keys, policy(),
                            kNow),
                 "header");
  input = b64url(R"(["HS256"])") + "." + b64url(json::serialize(claims()));  // JSON, not object
  expect_refused(verify_jwt(input + "." + b64url(hmac_sha256(secret_, input)), keys, policy(),
                            kNow),
                 "header");
  // Correctly signed payload that is not JSON.
  input = b64url(R"({"alg":"HS256","kid":"hs"})") + "." + b64url("not json");
  expect_refused(verify_jwt(input + "." + b64url(hmac_sha256(secret_, input)), keys, policy(),
                            kNow),
                 "payload");
  // Unknown critical extension.
  expect_refused(verify_jwt(token(json::object{{"alg", "HS256"}, {"kid", "hs"},
                                               {"crit", json::array{"exp"}}}, claims()),
                            keys, policy(), kNow),
                 "crit");
}

TEST_F(JwtTest, UnknownKidHasItsOwnCode) {
  auto keys = all_keys();
  std::string t = token(json::object{{"alg", "RS256"}, {"kid", "rotated-key-7"}}, claims());
  auto r = verify_jwt(t, keys, policy(), kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 401);
  EXPECT_EQ(r.error().code, kUnknownKidCode);
  EXPECT_EQ(r.error().message.find("rotated-key-7"), std::string::npos);
  // Once the refetched JWKS has the key, the same token verifies.
  auto jwk = rsa_jwk();
  jwk["kid"] = "rotated-key-7";
  auto fresh = parse_jwks(json::serialize(json::object{{"keys", json::array{jwk}}}));
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(verify_jwt(t, fresh.value(), policy(), kNow).ok());
}

TEST_F(JwtTest, ErrorsNeverEchoTheToken) {
  auto keys = all_keys();
  auto c = claims();
  c["exp"] = kNow - 3600;
  std::string t = token("RS256", c);
  auto r = verify_jwt(t, keys, policy(), kNow);
  ASSERT_FALSE(r.ok());
  for (std::size_t start = 0; start < t.size(); start = t.find('.', start) + 1) {
    std::string part = t.substr(start, 16);
    EXPECT_EQ(r.error().message.find(part), std::string::npos);
    if (t.find('.', start) == std::string::npos) break;
  }
  EXPECT_EQ(r.error().message.find("user-1"), std::string::npos);
}

TEST_F(JwtTest, ParseJwksSkipsGarbageKeys) {
  auto off_curve = ec_jwk();
  std::string y;
  ASSERT_TRUE(base64url_decode(off_curve["y"].as_string(), y));
  y[31] = static_cast<char>(y[31] ^ 0x01);
  off_curve["y"] = b64url(y);
  auto bad_n = rsa_jwk();
  bad_n["n"] = "not*base64";
  auto small_rsa = rsa_jwk();
  small_rsa["n"] = b64url(std::string(128, '\xC3'));  // 1024-bit modulus
  auto enc = ed_jwk();
  enc["use"] = "enc";
  auto x448 = ed_jwk();
  x448["crv"] = "Ed448";
  json::array garbage{
      42, "key", json::object{}, json::object{{"kty", "RSA"}}, json::object{{"kty", 7}},
      json::object{{"kty", "oct"}, {"k", b64url("short")}}, json::object{{"kty", "DSA"}},
      off_curve, bad_n, small_rsa, enc, x448};
  EXPECT_FALSE(parse_jwks(json::serialize(json::object{{"keys", garbage}})).ok());

  garbage.push_back(ed_jwk());
  auto keys = parse_jwks(json::serialize(json::object{{"keys", garbage}}));
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->front().kid, "ed");
  EXPECT_EQ(keys->front().kty, "OKP");
  EXPECT_TRUE(verify_jwt(token("EdDSA"), keys.value(), policy(), kNow).ok());

  EXPECT_FALSE(parse_jwks("not json").ok());
  EXPECT_FALSE(parse_jwks(R"({"keys":{}})").ok());
  EXPECT_FALSE(parse_jwks(R"([1,2])").ok());
}

TEST(JwtBase64Url, StrictDecoding) {
  std::string out;
  EXPECT_TRUE(base64url_decode("", out));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(base64url_decode("aGVsbG8_Pz4-", out));  // "hello??>>" with -/_ alphabet
  EXPECT_EQ(out, "hello\x3f\x3f\x3e\x3e");
  ASSERT_TRUE(base64url_decode("YQ", out));
  EXPECT_EQ(out, "a");
  EXPECT_FALSE(base64url_decode("YQ==", out));     // padding
  EXPECT_FALSE(base64url_decode("YR", out));       // non-zero leftover bits
  EXPECT_FALSE(base64url_decode("aGVsbG8/", out));  // standard alphabet
  EXPECT_FALSE(base64url_decode("aGVs bG8", out));  // whitespace
  EXPECT_FALSE(base64url_decode("Y", out));        // impossible length
}

}  // namespace
}  // namespace torii::identity

namespace torii::identity {
namespace {

TEST(Base64Url, KnownVectorsAndRoundTrip) {
  // RFC 4648 section 10, in the URL-safe alphabet and without padding.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string back;
  ASSERT_TRUE(base64url_decode(base64url_encode(all), back));
  EXPECT_EQ(back, all);
}

}  // namespace
}  // namespace torii::identity
