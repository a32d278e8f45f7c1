#pragma once
// Internal to src/identity: a vault backend is a fetch function; vault.cpp adds the cache,
// the TTL and refresh() around it.
#include <functional>
#include <string>

#include "config/config.h"
#include "core/result.h"

namespace torii::identity {

// Reads NAME/KEY from the backend, uncached. Errors name the reference, never a value or a
// credential. Called from any thread (one call at a time per vault).
using VaultFetch = std::function<Result<std::string>(const std::string& name,
                                                     const std::string& key)>;

// HashiCorp Vault KV v2 (vault_hashicorp.cpp): GET {address}/v1/{mount}/data/{NAME}, the
// value is data.data.{KEY}.
Result<VaultFetch> make_hashicorp_fetch(const VaultConfig& cfg);

}  // namespace torii::identity
