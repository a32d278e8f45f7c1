#pragma once
// JWT (compact JWS) verification against a JWKS, for bearer tokens issued by an OIDC provider.
// Pure code: no I/O, no clock (the caller passes `now`), so it is unit-tested in isolation.
#include <openssl/evp.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace torii::identity {

// One usable key of a JWKS. Exactly one of `key` (RSA, EC P-256, Ed25519) or `hmac_secret`
// (kty "oct") is set.
struct Jwk {
  std::string kid;  // may be empty when the JWKS gives none
  std::string kty;  // "RSA", "EC", "OKP" or "oct"
  std::string alg;  // the JWK's own "alg", empty when absent; when set the token's alg must match
  std::shared_ptr<EVP_PKEY> key;  // public key (RSA, EC P-256, Ed25519)
  std::string hmac_secret;        // raw secret bytes (oct, for HS256)
};

// Parses a JWKS JSON document ({"keys":[...]}). Accepted keys: RSA (n, e; at least 2048 bits),
// EC with crv P-256 (x, y; the point must be on the curve), OKP with crv Ed25519 (x) and oct (k,
// at least 32 bytes, for HS256). A key whose "use" is present and not "sig", whose kty/crv is
// unknown or whose members are missing or invalid is skipped. Errors (ApiError::internal, as a
// bad JWKS is a configuration/IdP problem, not the client's): the document is not JSON, has no
// "keys" array, or holds no usable key.
Result<std::vector<Jwk>> parse_jwks(std::string_view json);

// What a token must satisfy besides its signature.
struct JwtPolicy {
  std::string issuer;                   // required "iss"; empty = not checked
  std::vector<std::string> audiences;   // "aud" must contain one of them; empty = not checked
  std::chrono::seconds leeway{60};      // clock skew allowed on exp and nbf
  std::vector<std::string> algorithms{"RS256", "ES256", "EdDSA", "HS256"};  // accepted "alg"s
};

// A token whose signature and claims were verified.
struct VerifiedJwt {
  boost::json::object claims;  // the whole payload
  std::string kid;             // the header's kid (empty when absent)
  std::string alg;             // the header's alg
};

// The ApiError::code of verify_jwt's error when the header's kid matches no key: the caller may
// refetch the JWKS (the IdP rotated its keys) and try again once.
inline constexpr std::string_view kUnknownKidCode = "unknown_kid";

// Verifies a compact JWS (base64url header "." payload "." signature, no padding) and its claims.
// - The header must be a JSON object with a string "alg" in policy.algorithms; "none" is always
//   refused, as is any "crit" header (no extension is understood).
// - The key: the JWK whose kid equals the header's kid (none: code kUnknownKidCode; but a lone
//   key without a kid is used whatever the kid); without a kid in the header, the only key of
//   `keys` (several keys: refused). Its kty must fit the alg (RS256:
//   RSA, ES256: EC, EdDSA: OKP, HS256: oct) and its own alg, when set, must equal the alg; this is
//   what stops an HS256 token "signed" with an RSA public key.
// - Signatures: RS256 (RSASSA-PKCS1-v1_5 SHA-256), ES256 (JOSE r||s, 64 bytes), EdDSA (Ed25519),
//   HS256 (HMAC-SHA-256, constant-time comparison).
// - Claims: the payload must be a JSON object; "exp" is required and must satisfy
//   now < exp + leeway; "nbf", when present, now + leeway >= nbf; "iss" must equal policy.issuer
//   and "aud" (a string or an array of strings) must contain one of policy.audiences, when those
//   are configured. Numeric dates may be integers or decimals.
// Errors: ApiError::authentication with a short reason that never contains the token or a part
// of it (code "invalid_token", or kUnknownKidCode).
Result<VerifiedJwt> verify_jwt(std::string_view token, const std::vector<Jwk>& keys,
                               const JwtPolicy& policy, int64_t now);

// The "iss" of a token's payload, read WITHOUT verifying anything: only to choose which
// configured issuer's keys verify it. "" when there is none or the token is malformed.
std::string peek_issuer(std::string_view token);

// Whether a credential has the shape of a compact JWS (three base64url parts, the first a JSON
// object): API keys never do.
bool looks_like_jwt(std::string_view credential);

// Strict base64url decoding (RFC 4648 section 5) as JWS uses it: no padding, no whitespace, only
// the URL-safe alphabet, and the unused low bits of the last character must be zero. Returns
// false on any violation. Exposed for the tests.
bool base64url_decode(std::string_view in, std::string& out);

// base64url without padding (RFC 4648 section 5), as JWS and torii's API keys use it.
std::string base64url_encode(std::string_view in);

}  // namespace torii::identity
