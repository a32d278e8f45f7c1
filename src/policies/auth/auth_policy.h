#pragma once
// api_key: authenticates the caller with a key from config (Authorization: Bearer, or
// x-api-key as Anthropic's clients send it). Keys are held as SHA-256 digests only, so the
// lookup compares digests and the key itself is never kept or logged.
#include <memory>
#include <vector>

#include "config/config.h"
#include "pipeline/policy.h"

namespace torii {

std::unique_ptr<Policy> make_api_key_policy(const std::vector<ApiKeyConfig>& keys);

// The credential a request presents, or "" (exposed for tests).
std::string_view presented_key(const RequestHead& head);

}  // namespace torii
