// The auth policy: which credential a request presents, and the on_headers verdicts for keys
// (digests, expiry, disabled, rotation, consumers and teams) and JWTs (HS256 here; the
// signature algorithms are covered by jwt_test.cpp).
#include "policies/auth/auth_policy.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <openssl/hmac.h>

#include <ctime>
#include <optional>
#include <set>
#include <thread>

#include "identity/jwt.h"
#include "identity/keys.h"

namespace torii {
namespace {

// Runs a hook's coroutine to completion on a private io_context. (co_spawn of an awaitable<T>
// needs a default-constructible T, which Verdict is not, hence the wrapper.)
Verdict run_verdict(Task<Verdict> task) {
  net::io_context ioc;
  std::optional<Verdict> out;
  net::co_spawn(
      ioc, [&]() -> Task<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  if (!out) throw std::runtime_error("hook did not complete");
  return std::move(*out);
}

RequestHead head_with(Headers h) {
  RequestHead head;
  head.method = "POST";
  head.target = "/v1/chat/completions";
  head.headers = std::move(h);
  return head;
}

TEST(PresentedKey, BearerAnyCaseAndSpaces) {
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer abc123"}})), "abc123");
  EXPECT_EQ(presented_key(head_with({{"authorization", "bearer abc123"}})), "abc123");
  EXPECT_EQ(presented_key(head_with({{"AUTHORIZATION", "BEARER abc123"}})), "abc123");
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer    abc123   "}})), "abc123");
}

TEST(PresentedKey, XApiKeyAndNone) {
  EXPECT_EQ(presented_key(head_with({{"x-api-key", "k-1"}})), "k-1");
  EXPECT_EQ(presented_key(head_with({{"X-Api-Key", "k-2"}})), "k-2");
  EXPECT_EQ(presented_key(head_with({})), "");
  EXPECT_EQ(presented_key(head_with({{"Content-Type", "application/json"}})), "");
  // Another scheme is not a bearer key; x-api-key is still looked at.
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Basic dXNlcjpwdw=="}})), "");
  EXPECT_EQ(
      presented_key(head_with({{"Authorization", "Basic dXNlcjpwdw=="}, {"x-api-key", "k-3"}})),
      "k-3");
  // "Bearer" with no token presents nothing.
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer "}})), "");
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer    "}})), "");
  // Azure's clients send api-key.
  EXPECT_EQ(presented_key(head_with({{"api-key", "k-4"}})), "k-4");
  EXPECT_EQ(presented_key(head_with({{"x-api-key", "k-5"}, {"api-key", "k-4"}})), "k-5");
  // Bearer wins over x-api-key.
  EXPECT_EQ(presented_key(head_with({{"x-api-key", "b"}, {"Authorization", "Bearer a"}})), "a");
}

class ApiKeyPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ApiKeyConfig a;
    a.name = "team-a";
    a.key.value = "sk-team-a-0123456789";
    a.metadata = {{"team", "a"}};
    ApiKeyConfig b;
    b.name = "team-b";
    b.key.value = "sk-team-b-9876543210";
    Config cfg;
    cfg.api_keys = {a, b};
    policy_ = std::move(*make_auth_policy(cfg));
  }

  Verdict run(RequestContext& ctx) { return run_verdict(policy_->on_headers(ctx)); }

  std::unique_ptr<Policy> policy_;
};

TEST_F(ApiKeyPolicyTest, ValidKeySetsPrincipal) {
  EXPECT_EQ(policy_->name(), "auth");
  for (Headers h : {Headers{{"Authorization", "Bearer sk-team-a-0123456789"}},
                    Headers{{"x-api-key", "sk-team-a-0123456789"}}}) {
    RequestHead head = head_with(h);
    RequestContext ctx;
    ctx.head = &head;
    Verdict v = run(ctx);
    EXPECT_TRUE(v.is_next());
    EXPECT_TRUE(ctx.principal.authenticated);
    EXPECT_EQ(ctx.principal.id, "team-a");
    EXPECT_EQ(ctx.principal.key_name, "team-a");
    ASSERT_NE(ctx.principal.metadata, nullptr);
    EXPECT_EQ(ctx.principal.metadata->at("team"), "a");
  }
  RequestHead head = head_with({{"Authorization", "Bearer sk-team-b-9876543210"}});
  RequestContext ctx;
  ctx.head = &head;
  EXPECT_TRUE(run(ctx).is_next());
  EXPECT_EQ(ctx.principal.id, "team-b");
}

TEST_F(ApiKeyPolicyTest, MissingKeyIs401) {
  RequestHead head = head_with({});
  RequestContext ctx;
  ctx.head = &head;
  Verdict v = run(ctx);
  ASSERT_EQ(v.kind(), Verdict::Kind::reject);
  EXPECT_EQ(v.error().status, 401);
  EXPECT_EQ(v.error().type, "authentication_error");
  EXPECT_FALSE(ctx.principal.authenticated);
}

TEST_F(ApiKeyPolicyTest, WrongKeyIs401WithoutEchoingIt) {
  for (const char* wrong : {"sk-team-a-012345678", "sk-team-a-0123456789x", "SK-TEAM-A-0123456789",
                            "totally-wrong-secret"}) {
    RequestHead head = head_with({{"Authorization", std::string("Bearer ") + wrong}});
    RequestContext ctx;
    ctx.head = &head;
    Verdict v = run(ctx);
    ASSERT_EQ(v.kind(), Verdict::Kind::reject) << wrong;
    EXPECT_EQ(v.error().status, 401);
    EXPECT_EQ(v.error().message.find(wrong), std::string::npos) << v.error().message;
    EXPECT_EQ(to_openai_json(v.error()).find(wrong), std::string::npos);
    EXPECT_FALSE(ctx.principal.authenticated);
    EXPECT_TRUE(ctx.principal.id.empty());
  }
}

TEST_F(ApiKeyPolicyTest, NoKeysConfiguredRejectsEverything) {
  auto empty = std::move(*make_auth_policy(Config{}));
  RequestHead head = head_with({{"x-api-key", "anything"}});
  RequestContext ctx;
  ctx.head = &head;
  std::optional<Verdict> out = run_verdict(empty->on_headers(ctx));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->kind(), Verdict::Kind::reject);
}

}  // namespace
}  // namespace torii

namespace torii {
namespace {

std::string hex_sha256(const std::string& key) { return identity::to_hex(identity::key_digest(key)); }

struct Outcome {
  Verdict verdict;
  std::string id, key_name;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> groups;
};

Outcome authenticate(Policy& p, Headers h) {
  RequestHead head = head_with(std::move(h));
  RequestContext ctx;
  ctx.head = &head;
  Verdict v = run_verdict(p.on_headers(ctx));
  Outcome o{std::move(v), ctx.principal.id, ctx.principal.key_name, {}, {}};
  if (ctx.principal.metadata) o.metadata = *ctx.principal.metadata;
  if (ctx.principal.groups) o.groups = *ctx.principal.groups;
  return o;
}

TEST(AuthKeys, DigestExpiryDisabledAndRotation) {
  const int64_t now = ::time(nullptr);
  Config cfg;
  ApiKeyConfig hashed;
  hashed.name = "hashed";
  hashed.sha256 = hex_sha256("tk-hashed-key");
  ApiKeyConfig::Previous old_live{{}, hex_sha256("tk-old-live"), now + 3600};
  ApiKeyConfig::Previous old_gone{{}, hex_sha256("tk-old-gone"), now - 1};
  hashed.previous = {old_live, old_gone};
  ApiKeyConfig expired;
  expired.name = "expired";
  expired.key.value = "tk-expired";
  expired.expires_at = now - 10;
  ApiKeyConfig future;
  future.name = "future";
  future.key.value = "tk-future";
  future.expires_at = now + 3600;
  ApiKeyConfig off;
  off.name = "off";
  off.key.value = "tk-off";
  off.enabled = false;
  cfg.api_keys = {hashed, expired, future, off};
  auto made = make_auth_policy(cfg);
  ASSERT_TRUE(made) << made.error().message;
  Policy& p = **made;

  auto ok = authenticate(p, {{"Authorization", "Bearer tk-hashed-key"}});
  EXPECT_TRUE(ok.verdict.is_next());
  EXPECT_EQ(ok.id, "hashed");
  EXPECT_TRUE(authenticate(p, {{"api-key", "tk-old-live"}}).verdict.is_next());
  EXPECT_EQ(authenticate(p, {{"api-key", "tk-old-live"}}).key_name, "hashed");
  EXPECT_TRUE(authenticate(p, {{"x-api-key", "tk-future"}}).verdict.is_next());
  for (const char* bad : {"tk-old-gone", "tk-expired", "tk-off"}) {
    auto o = authenticate(p, {{"x-api-key", bad}});
    ASSERT_EQ(o.verdict.kind(), Verdict::Kind::reject) << bad;
    EXPECT_EQ(o.verdict.error().status, 401);
    EXPECT_EQ(o.verdict.error().message.find(bad), std::string::npos);
    EXPECT_TRUE(o.id.empty());
  }
  EXPECT_EQ(authenticate(p, {{"x-api-key", "tk-expired"}}).verdict.error().message,
            "API key has expired");
  EXPECT_EQ(authenticate(p, {{"x-api-key", "tk-off"}}).verdict.error().message,
            "API key is disabled");
}

TEST(AuthKeys, ConsumerAndTeamLabels) {
  Config cfg;
  ConsumerConfig team{"finance", "team", "", {{"team", "finance"}, {"tier", "basic"}}, {"fin"}};
  ConsumerConfig app{"ledger", "app", "finance", {{"tier", "premium"}}, {"ledger-users"}};
  cfg.consumers = {team, app};
  ApiKeyConfig k;
  k.name = "ledger-prod";
  k.key.value = "tk-ledger";
  k.consumer = "ledger";
  k.metadata = {{"env", "prod"}};
  k.groups = {"beta", "fin"};
  cfg.api_keys = {k};
  auto made = make_auth_policy(cfg);
  ASSERT_TRUE(made);
  auto o = authenticate(**made, {{"x-api-key", "tk-ledger"}});
  ASSERT_TRUE(o.verdict.is_next());
  EXPECT_EQ(o.id, "ledger");
  EXPECT_EQ(o.key_name, "ledger-prod");
  EXPECT_EQ(o.metadata, (std::map<std::string, std::string>{
                            {"team", "finance"}, {"tier", "premium"}, {"env", "prod"}}));
  EXPECT_EQ(o.groups, (std::vector<std::string>{"fin", "finance", "ledger-users", "beta"}));
}

TEST(AuthKeys, DuplicateValueRefusedWithoutPrintingIt) {
  Config cfg;
  ApiKeyConfig a, b;
  a.name = "a";
  a.key.value = "tk-same-value";
  b.name = "b";
  b.sha256 = hex_sha256("tk-same-value");
  cfg.api_keys = {a, b};
  auto made = make_auth_policy(cfg);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().message.find("tk-same-value"), std::string::npos);
}

TEST(AuthKeys, GeneratedKeysAre256BitsWithPrefix) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string k = identity::generate_api_key();
    ASSERT_EQ(k.size(), 46u) << k;
    EXPECT_EQ(k.rfind("tk-", 0), 0u);
    for (char c : k.substr(3)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 100u);
  identity::KeyDigest d{};
  EXPECT_TRUE(identity::from_hex(hex_sha256("abc"), d));
  EXPECT_EQ(identity::to_hex(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(identity::from_hex("zz", d));
}

// An HS256 token (header and payload as JSON text), signed with `secret`.
std::string hs256(const std::string& header, const std::string& payload, const std::string& secret) {
  auto b64 = [](const std::string& in) { return identity::base64url_encode(in); };
  const std::string input = b64(header) + "." + b64(payload);
  unsigned char mac[32];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  return input + "." + b64(std::string(reinterpret_cast<char*>(mac), n));
}

TEST(AuthJwt, Hs256TokenMapsClaimsToThePrincipal) {
  const std::string secret = "0123456789abcdef0123456789abcdef-hs256";
  Config cfg;
  cfg.consumers = {ConsumerConfig{"alice", "user", "", {{"tier", "gold"}}, {"staff"}}};
  JwtIssuerConfig j;
  j.issuer = "https://idp.test/";
  j.audiences = {"torii"};
  j.hmac_secret.value = secret;
  j.algorithms = {"HS256"};
  j.metadata_claims = {{"team", "team"}};
  cfg.jwt = {j};
  ApiKeyConfig k;
  k.name = "plain";
  k.key.value = "tk-plain";
  cfg.api_keys = {k};
  auto made = make_auth_policy(cfg);
  ASSERT_TRUE(made) << made.error().message;
  const int64_t now = ::time(nullptr);
  auto claims = [&](const std::string& extra) {
    return R"({"iss":"https://idp.test/","aud":"torii","sub":"alice","exp":)" +
           std::to_string(now + 60) + R"(,"groups":["interns"],"team":"research")" + extra + "}";
  };
  const std::string good = hs256(R"({"alg":"HS256","typ":"JWT"})", claims(""), secret);
  auto o = authenticate(**made, {{"Authorization", "Bearer " + good}});
  ASSERT_TRUE(o.verdict.is_next()) << o.verdict.error().message;
  EXPECT_EQ(o.id, "alice");
  EXPECT_EQ(o.key_name, "jwt:https://idp.test/");
  EXPECT_EQ(o.metadata, (std::map<std::string, std::string>{{"tier", "gold"}, {"team", "research"}}));
  EXPECT_EQ(o.groups, (std::vector<std::string>{"staff", "interns"}));
  // A kid in the header is fine: the configured secret is the issuer's only key.
  EXPECT_TRUE(authenticate(**made, {{"Authorization", "Bearer " + hs256(R"({"alg":"HS256","kid":"k1"})",
                                                                        claims(""), secret)}})
                  .verdict.is_next());
  // The same token again comes from the verified-token cache, with the same principal.
  auto again = authenticate(**made, {{"Authorization", "Bearer " + good}});
  ASSERT_TRUE(again.verdict.is_next());
  EXPECT_EQ(again.id, "alice");
  EXPECT_EQ(again.groups, o.groups);
  // API keys still work next to JWTs.
  EXPECT_TRUE(authenticate(**made, {{"x-api-key", "tk-plain"}}).verdict.is_next());

  const std::string forged = hs256(R"({"alg":"HS256"})", claims(""), secret + "x");
  const std::string none = hs256(R"({"alg":"none"})", claims(""), secret);
  const std::string expired = hs256(R"({"alg":"HS256"})",
                                    R"({"iss":"https://idp.test/","aud":"torii","sub":"a","exp":)" +
                                        std::to_string(now - 3600) + "}",
                                    secret);
  for (const std::string& bad : {forged, none, expired}) {
    auto r = authenticate(**made, {{"Authorization", "Bearer " + bad}});
    ASSERT_EQ(r.verdict.kind(), Verdict::Kind::reject);
    EXPECT_EQ(r.verdict.error().status, 401);
    EXPECT_EQ(r.verdict.error().code, "invalid_token");
    EXPECT_EQ(r.verdict.error().message.find(bad.substr(0, 20)), std::string::npos);
  }
}

}  // namespace
}  // namespace torii

namespace torii {
namespace {

TEST(AuthJwt, CachedTokenStillExpires) {
  const std::string secret = "0123456789abcdef0123456789abcdef-hs256";
  Config cfg;
  JwtIssuerConfig j;
  j.issuer = "https://idp.test/";
  j.hmac_secret.value = secret;
  j.algorithms = {"HS256"};
  j.leeway = std::chrono::seconds(0);
  cfg.jwt = {j};
  auto made = make_auth_policy(cfg);
  ASSERT_TRUE(made);
  const std::string t = hs256(R"({"alg":"HS256"})",
                              R"({"iss":"https://idp.test/","sub":"svc","exp":)" +
                                  std::to_string(::time(nullptr) + 1) + "}",
                              secret);
  EXPECT_TRUE(authenticate(**made, {{"Authorization", "Bearer " + t}}).verdict.is_next());
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto late = authenticate(**made, {{"Authorization", "Bearer " + t}});
  ASSERT_EQ(late.verdict.kind(), Verdict::Kind::reject);
  EXPECT_EQ(late.verdict.error().code, "invalid_token");
  EXPECT_NE(late.verdict.error().message.find("expired"), std::string::npos);
}

}  // namespace
}  // namespace torii
