#include "identity/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <optional>

namespace torii::identity {
namespace {

// A token larger than this is refused before any decoding (headers are bounded anyway).
constexpr std::size_t kMaxTokenBytes = 16 * 1024;
constexpr std::size_t kMinHmacSecret = 32;  // RFC 7518 3.2: at least the hash size
constexpr int kMinRsaBits = 2048;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

std::shared_ptr<EVP_PKEY> wrap(EVP_PKEY* k) {
  return k ? std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free) : nullptr;
}

ApiError invalid(std::string reason) {
  ApiError e = ApiError::authentication("invalid bearer token: " + std::move(reason));
  e.code = "invalid_token";
  return e;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The string member `name` of `o`, or nullopt when absent or not a string.
std::optional<std::string_view> str_member(const boost::json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string_view(it->value().get_string());
}

// A base64url member decoded, or nullopt when absent, not a string or not strict base64url.
std::optional<std::string> b64_member(const boost::json::object& o, std::string_view name) {
  auto s = str_member(o, name);
  std::string out;
  if (!s || s->empty() || !base64url_decode(*s, out)) return std::nullopt;
  return out;
}

// Builds a public key of `type` ("RSA", "EC", ...) from OSSL_PARAMs.
std::shared_ptr<EVP_PKEY> key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) return nullptr;
  return wrap(key);
}

std::shared_ptr<EVP_PKEY> rsa_key(const boost::json::object& o) {
  auto n = b64_member(o, "n"), e = b64_member(o, "e");
  if (!n || !e) return nullptr;
  BnPtr bn_n(BN_bin2bn(bytes(*n), static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(bytes(*e), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e || BN_num_bits(bn_n.get()) < kMinRsaBits || BN_is_odd(bn_e.get()) == 0)
    return nullptr;
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    return nullptr;
  return key_from_params("RSA", bld.get());
}

std::shared_ptr<EVP_PKEY> ec_key(const boost::json::object& o) {
  if (str_member(o, "crv") != std::string_view("P-256")) return nullptr;
  auto x = b64_member(o, "x"), y = b64_member(o, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
  std::string point = "\x04" + *x + *y;  // SEC1 uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size()))
    return nullptr;
  auto key = key_from_params("EC", bld.get());
  if (!key) return nullptr;
  // OpenSSL 3 fromdata already refuses an off-curve point; checked again on purpose, as such a
  // point would enable invalid-curve attacks.
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(),
                                                                          nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

std::shared_ptr<EVP_PKEY> okp_key(const boost::json::object& o) {
  if (str_member(o, "crv") != std::string_view("Ed25519")) return nullptr;
  auto x = b64_member(o, "x");
  if (!x || x->size() != 32) return nullptr;
  return wrap(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(*x), x->size()));
}

// The JWK kty each JWS alg needs, or empty for an alg this module does not implement.
std::string_view kty_for(std::string_view alg) {
  if (alg == "RS256") return "RSA";
  if (alg == "ES256") return "EC";
  if (alg == "EdDSA") return "OKP";
  if (alg == "HS256") return "oct";
  return {};
}

// A JSON number as seconds; nullopt when not a finite number.
std::optional<double> numeric_date(const boost::json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double() && std::isfinite(v.get_double())) return v.get_double();
  return std::nullopt;
}

// Parses a base64url part as a JSON object.
std::optional<boost::json::object> json_part(std::string_view part) {
  std::string raw;
  if (!base64url_decode(part, raw)) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(raw, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

bool verify_digest(EVP_PKEY* key, const EVP_MD* md, std::string_view input, std::string_view sig) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(input), input.size()) == 1;
}

// JOSE ES256 signatures are r||s (32 bytes each); OpenSSL verifies DER-encoded ECDSA-Sig-Value.
bool verify_es256(EVP_PKEY* key, std::string_view input, std::string_view sig) {
  if (sig.size() != 64) return false;
  std::unique_ptr<ECDSA_SIG, SigFree> es(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes(sig), 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes(sig) + 32, 32, nullptr);
  if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(es.get(), &der);
  if (len <= 0) return false;
  std::string der_sig(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return verify_digest(key, EVP_sha256(), input, der_sig);
}

bool verify_hs256(const std::string& secret, std::string_view input, std::string_view sig) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), bytes(input),
            input.size(), mac.data(), &len))
    return false;
  return sig.size() == len && CRYPTO_memcmp(mac.data(), sig.data(), len) == 0;
}

bool verify_signature(const Jwk& jwk, std::string_view alg, std::string_view input,
                      std::string_view sig) {
  if (alg == "HS256") return verify_hs256(jwk.hmac_secret, input, sig);
  if (!jwk.key) return false;
  if (alg == "RS256") {
    if (EVP_PKEY_is_a(jwk.key.get(), "RSA") != 1) return false;
    return sig.size() == static_cast<std::size_t>(EVP_PKEY_get_size(jwk.key.get())) &&
           verify_digest(jwk.key.get(), EVP_sha256(), input, sig);
  }
  if (alg == "ES256") {
    return EVP_PKEY_is_a(jwk.key.get(), "EC") == 1 && verify_es256(jwk.key.get(), input, sig);
  }
  if (alg == "EdDSA") {
    return EVP_PKEY_is_a(jwk.key.get(), "ED25519") == 1 && sig.size() == 64 &&
           verify_digest(jwk.key.get(), nullptr, input, sig);
  }
  return false;
}

// Finds the key for the header's kid (empty: the only key). Sets `unknown_kid` when a kid was
// given and no key has it.
const Jwk* find_key(const std::vector<Jwk>& keys, std::string_view kid, bool& unknown_kid) {
  unknown_kid = false;
  if (kid.empty()) return keys.size() == 1 ? &keys.front() : nullptr;
  for (const Jwk& k : keys) {
    if (k.kid == kid) return &k;
  }
  // A lone key without a kid (an HS256 secret from config, a one-key JWKS without kids) is the
  // key whatever kid the token names: some issuers put a kid in every token.
  if (keys.size() == 1 && keys.front().kid.empty()) return &keys.front();
  unknown_kid = true;
  return nullptr;
}

Result<void> check_claims(const boost::json::object& claims, const JwtPolicy& policy,
                          int64_t now) {
  const double leeway = static_cast<double>(policy.leeway.count());
  const double t = static_cast<double>(now);
  auto exp_it = claims.find("exp");
  if (exp_it == claims.end()) return invalid("missing exp");
  auto exp = numeric_date(exp_it->value());
  if (!exp) return invalid("bad exp");
  if (t >= *exp + leeway) return invalid("expired");
  if (auto it = claims.find("nbf"); it != claims.end()) {
    auto nbf = numeric_date(it->value());
    if (!nbf) return invalid("bad nbf");
    if (t + leeway < *nbf) return invalid("not yet valid");
  }
  if (!policy.issuer.empty() && str_member(claims, "iss") != std::string_view(policy.issuer))
    return invalid("wrong issuer");
  if (!policy.audiences.empty()) {
    auto wanted = [&](std::string_view a) {
      return std::find(policy.audiences.begin(), policy.audiences.end(), a) !=
             policy.audiences.end();
    };
    bool found = false;
    if (auto it = claims.find("aud"); it != claims.end()) {
      if (it->value().is_string()) {
        found = wanted(it->value().get_string());
      } else if (it->value().is_array()) {
        for (const auto& a : it->value().get_array()) {
          if (a.is_string() && wanted(a.get_string())) found = true;
        }
      }
    }
    if (!found) return invalid("wrong audience");
  }
  return {};
}

}  // namespace

std::string base64url_encode(std::string_view in) {
  static constexpr char kAlpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlpha[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlpha[(acc << (6 - bits)) & 63]);
  return out;
}

bool base64url_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero: otherwise two encodings would decode to the same bytes.
  return (acc & ((1u << bits) - 1)) == 0;
}

std::string peek_issuer(std::string_view token) {
  const auto a = token.find('.');
  const auto b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.size() > 16 * 1024) return {};
  auto payload = json_part(token.substr(a + 1, b - a - 1));
  if (!payload) return {};
  auto iss = str_member(*payload, "iss");
  return iss ? std::string(*iss) : std::string();
}

bool looks_like_jwt(std::string_view c) {
  // "eyJ" is the base64url of `{"`: every JOSE header starts so.
  if (c.size() < 10 || c.compare(0, 3, "eyJ") != 0) return false;
  int dots = 0;
  for (char ch : c) {
    if (ch == '.') ++dots;
    else if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') return false;
  }
  return dots == 2;
}

Result<std::vector<Jwk>> parse_jwks(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(json, ec);
  if (ec || !doc.is_object()) return ApiError::internal("JWKS: not a JSON object");
  auto it = doc.get_object().find("keys");
  if (it == doc.get_object().end() || !it->value().is_array())
    return ApiError::internal("JWKS: no \"keys\" array");
  std::vector<Jwk> keys;
  for (const auto& v : it->value().get_array()) {
    if (!v.is_object()) continue;
    const auto& o = v.get_object();
    auto kty = str_member(o, "kty");
    if (!kty) continue;
    if (auto use = str_member(o, "use"); o.contains("use") && use != std::string_view("sig"))
      continue;
    if (o.contains("alg") && !str_member(o, "alg")) continue;
    if (o.contains("kid") && !str_member(o, "kid")) continue;
    Jwk k;
    k.kty = std::string(*kty);
    k.kid = std::string(str_member(o, "kid").value_or(""));
    k.alg = std::string(str_member(o, "alg").value_or(""));
    if (!k.alg.empty() && kty_for(k.alg) != k.kty) continue;  // unknown alg or alg/kty clash
    if (k.kty == "RSA") {
      k.key = rsa_key(o);
    } else if (k.kty == "EC") {
      k.key = ec_key(o);
    } else if (k.kty == "OKP") {
      k.key = okp_key(o);
    } else if (k.kty == "oct") {
      auto secret = b64_member(o, "k");
      if (!secret || secret->size() < kMinHmacSecret) continue;
      k.hmac_secret = std::move(*secret);
      keys.push_back(std::move(k));
      continue;
    }
    if (k.key) keys.push_back(std::move(k));
  }
  if (keys.empty()) return ApiError::internal("JWKS: no usable key");
  return keys;
}

Result<VerifiedJwt> verify_jwt(std::string_view token, const std::vector<Jwk>& keys,
                               const JwtPolicy& policy, int64_t now) {
  if (token.empty() || token.size() > kMaxTokenBytes) return invalid("bad size");
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return invalid("not a compact JWS");
  std::string_view header_b64 = token.substr(0, dot1);
  std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view sig_b64 = token.substr(dot2 + 1);

  auto header = json_part(header_b64);
  if (!header) return invalid("bad header");
  auto alg = str_member(*header, "alg");
  if (!alg) return invalid("missing alg");
  if (*alg == "none" || kty_for(*alg).empty() ||
      std::find(policy.algorithms.begin(), policy.algorithms.end(), *alg) ==
          policy.algorithms.end())
    return invalid("algorithm not allowed");
  if (header->contains("crit")) return invalid("unsupported crit header");
  if (header->contains("kid") && !str_member(*header, "kid")) return invalid("bad kid");
  std::string_view kid = str_member(*header, "kid").value_or("");

  bool unknown_kid = false;
  const Jwk* jwk = find_key(keys, kid, unknown_kid);
  if (!jwk) {
    if (!unknown_kid) return invalid("no kid and several keys");
    ApiError e = ApiError::authentication("invalid bearer token: unknown signing key");
    e.code = std::string(kUnknownKidCode);
    return e;
  }
  if (jwk->kty != kty_for(*alg) || (!jwk->alg.empty() && jwk->alg != *alg))
    return invalid("key does not fit algorithm");

  std::string sig;
  if (!base64url_decode(sig_b64, sig)) return invalid("bad signature encoding");
  std::string_view signing_input = token.substr(0, dot2);
  if (!verify_signature(*jwk, *alg, signing_input, sig)) return invalid("bad signature");

  // Only a verified payload is parsed: nothing the attacker wrote is trusted before this point
  // except the header fields used to pick the key.
  auto claims = json_part(payload_b64);
  if (!claims) return invalid("bad payload");
  if (auto r = check_claims(*claims, policy, now); !r) return r.error();
  return VerifiedJwt{std::move(*claims), std::string(kid), std::string(*alg)};
}

}  // namespace torii::identity
