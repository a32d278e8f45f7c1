// Authentication and authorization per request (issue: <= 5 us together). What runs on every
// request: the key's SHA-256 and lookup (or, for a JWT, the verified-token cache), and the
// authorization rules. The uncached JWT signature checks are measured too: they run once per
// token, not per request.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <ctime>

#include "config/snapshot.h"
#include "identity/authz.h"
#include "identity/jwt.h"
#include "identity/keys.h"
#include "policies/auth/auth_policy.h"

namespace torii::bench {
namespace {
namespace json = boost::json;

std::string b64url(std::string_view in) { return identity::base64url_encode(in); }

std::string claims() {
  return R"({"iss":"https://idp.bench/","aud":"torii","sub":"svc-42","exp":)" +
         std::to_string(::time(nullptr) + 3600) + R"(,"groups":["staff","beta"],"team":"research"})";
}

// A signed token and the JWKS that verifies it.
struct Signed {
  std::string token;
  std::vector<identity::Jwk> keys;
};

Signed sign_with(EVP_PKEY* key, const char* alg, const EVP_MD* md, const std::string& jwk_json) {
  const std::string input = b64url(std::string(R"({"alg":")") + alg + R"(","kid":"k1"})") + "." +
                            b64url(claims());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t n = 0;
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
  EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(n, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(n);
  EVP_MD_CTX_free(ctx);
  return {input + "." + b64url(sig), *identity::parse_jwks(R"({"keys":[)" + jwk_json + "]}")};
}

std::string bn_b64(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string raw(BN_num_bytes(bn), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(raw.data()));
  BN_free(bn);
  return b64url(raw);
}

Signed rs256() {
  static EVP_PKEY* key = EVP_RSA_gen(2048);
  return sign_with(key, "RS256", EVP_sha256(),
                   R"({"kty":"RSA","kid":"k1","n":")" + bn_b64(key, "n") + R"(","e":")" +
                       bn_b64(key, "e") + R"("})");
}

Signed eddsa() {
  static EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  unsigned char pub[32];
  std::size_t n = sizeof pub;
  EVP_PKEY_get_raw_public_key(key, pub, &n);
  return sign_with(key, "EdDSA", nullptr,
                   R"({"kty":"OKP","crv":"Ed25519","kid":"k1","x":")" +
                       b64url(std::string(reinterpret_cast<char*>(pub), n)) + R"("})");
}

void verify(benchmark::State& state, const Signed& s) {
  identity::JwtPolicy policy;
  policy.issuer = "https://idp.bench/";
  policy.audiences = {"torii"};
  const int64_t now = ::time(nullptr);
  for (auto _ : state) {
    auto r = identity::verify_jwt(s.token, s.keys, policy, now);
    if (!r) state.SkipWithError("token refused");
    benchmark::DoNotOptimize(r);
  }
}

// Once per token (then cached): the signature check with claim parsing.
void BM_JwtVerifyUncached_RS256(benchmark::State& state) { verify(state, rs256()); }
BENCHMARK(BM_JwtVerifyUncached_RS256);
void BM_JwtVerifyUncached_EdDSA(benchmark::State& state) { verify(state, eddsa()); }
BENCHMARK(BM_JwtVerifyUncached_EdDSA);

// The whole auth policy hook (on_headers) per request, run as a coroutine on one io_context.
// BM_CoroutineBaseline is the same harness with an empty coroutine: subtract it.
struct Harness {
  net::io_context io;
  template <class F>
  void run(F&& make_task) {
    net::co_spawn(io, std::forward<F>(make_task)(), net::detached);
    io.run();
    io.restart();
  }
};

Task<void> empty_task() { co_return; }

void BM_CoroutineBaseline(benchmark::State& state) {
  Harness h;
  for (auto _ : state) h.run([] { return empty_task(); });
}
BENCHMARK(BM_CoroutineBaseline);

Config auth_config(std::size_t keys) {
  Config cfg;
  cfg.consumers = {ConsumerConfig{"research", "team", "", {{"team", "research"}}, {"staff"}}};
  for (std::size_t i = 0; i < keys; ++i) {
    ApiKeyConfig k;
    k.name = "key-" + std::to_string(i);
    k.key.value = "tk-bench-" + std::to_string(i);
    k.consumer = i % 2 ? "research" : "";
    k.metadata = {{"env", "prod"}};
    cfg.api_keys.push_back(std::move(k));
  }
  return cfg;
}

Task<void> headers(Policy& p, RequestContext& ctx, bool& ok) {
  Verdict v = co_await p.on_headers(ctx);
  ok = v.is_next();
}

void run_auth(benchmark::State& state, Policy& policy, const std::string& header,
              const std::string& value) {
  RequestHead head;
  head.method = "POST";
  head.target = "/v1/chat/completions";
  head.headers = {{"content-type", "application/json"}, {header, value}};
  Harness h;
  bool ok = false;
  for (auto _ : state) {
    RequestContext ctx;
    ctx.head = &head;
    h.run([&] { return headers(policy, ctx, ok); });
    if (!ok) state.SkipWithError("refused");
  }
}

// An API key among 10,000: SHA-256 of the key, one hash-table probe, the principal.
void BM_AuthApiKey(benchmark::State& state) {
  auto policy = std::move(*make_auth_policy(auth_config(10'000)));
  run_auth(state, *policy, "authorization", "Bearer tk-bench-4241");
}
BENCHMARK(BM_AuthApiKey);

// A JWT seen before: SHA-256 of the token, the verified-token cache, exp/nbf, the principal.
void BM_AuthJwtCached(benchmark::State& state) {
  static const std::string secret = "bench-secret-bench-secret-bench-secret-0123";
  Config cfg = auth_config(10);
  JwtIssuerConfig j;
  j.issuer = "https://idp.bench/";
  j.audiences = {"torii"};
  j.hmac_secret.value = secret;
  j.algorithms = {"HS256"};
  j.metadata_claims = {{"team", "team"}};
  cfg.jwt = {j};
  auto policy = std::move(*make_auth_policy(cfg));
  const std::string input = b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url(claims());
  unsigned char mac[32];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  const std::string token = input + "." + b64url(std::string(reinterpret_cast<char*>(mac), n));
  run_auth(state, *policy, "authorization", "Bearer " + token);
}
BENCHMARK(BM_AuthJwtCached);

// Authorization: the interns rules of docs/SECURITY.md plus ten unrelated rules, on a
// two-target route (the model rule is evaluated per target).
void BM_Authorize(benchmark::State& state) {
  std::string yaml = R"(
egress: {allow_networks: [127.0.0.0/8]}
providers:
  - {name: mistral, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [mistral-large]}
  - {name: openai, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [gpt-4o]}
routes:
  - {name: smart, targets: [openai/gpt-4o, mistral/mistral-large]}
authorization:
  rules:
    - {id: interns-models, when: [{metadata: team, equals: interns}, {model: ["mistral/*", gpt-4o-mini], not: true}]}
    - {id: interns-max-tokens, when: [{metadata: team, equals: interns}, {param: max_tokens, above: 1000}]}
    - {id: interns-no-tools, when: [{metadata: team, equals: interns}, {param: tools, exists: true}]}
)";
  for (int i = 0; i < 10; ++i)
    yaml += "    - {id: other-" + std::to_string(i) + ", when: [{consumer: [c" + std::to_string(i) +
            ", d" + std::to_string(i) + "]}, {param: temperature, above: 1.5}]}\n";
  auto cfg = parse_config(yaml, "bench.yaml");
  if (!cfg) {
    state.SkipWithError(cfg.error().message.c_str());
    return;
  }
  auto snap = std::move(*build_snapshot(std::move(*cfg), ""));
  Route scratch;
  const Route* route = snap->resolve("smart", nullptr, scratch);
  const std::map<std::string, std::string> metadata{{"team", "interns"}, {"env", "prod"}};
  const std::vector<std::string> groups{"staff"};
  json::object body = json::parse(R"({"model":"smart","max_tokens":800,"temperature":0.7,
      "messages":[{"role":"user","content":"Say hello"}]})").as_object();
  for (auto _ : state) {
    routing::RuleInput in;
    in.header = [](std::string_view) { return std::string_view(); };
    in.metadata = &metadata;
    in.groups = &groups;
    in.body = &body;
    in.consumer = "alice";
    in.key = "alice-laptop";
    in.model = "smart";
    auto d = snap->authorizer->check(in, *route);
    if (d.denied_by || d.denied_targets != 1) state.SkipWithError("unexpected decision");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_Authorize);

}  // namespace
}  // namespace torii::bench
