#pragma once
// auth: authenticates the caller (docs/SECURITY.md) with
// - a virtual API key (Authorization: Bearer, x-api-key as Anthropic's clients send it, or
//   api-key as Azure's do), held as a SHA-256 digest only; a key may be disabled, expire, and
//   have earlier values still accepted during a rotation's grace period;
// - or a JWT from a configured issuer (OIDC), verified against the issuer's JWKS (fetched,
//   cached, refetched when a token names an unknown kid) or an HS256 secret.
// The principal gets the consumer's id, metadata and groups (a team's inherited).
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "pipeline/policy.h"

namespace torii {

// Builds the policy from cfg.api_keys, cfg.consumers and cfg.jwt. Errors: a JWKS file that
// cannot be read or holds no usable key, a jwks_url that is not a URL.
Result<std::unique_ptr<Policy>> make_auth_policy(const Config& cfg);

// The credential a request presents, or "" (exposed for tests).
std::string_view presented_key(const RequestHead& head);

}  // namespace torii
