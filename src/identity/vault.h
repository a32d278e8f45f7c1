#pragma once
// The vault behind ${vault:NAME/KEY} secret references (docs/SECURITY.md): one backend (env,
// file, an AES-256-GCM encrypted local store, or HashiCorp Vault KV v2), with values cached for
// the configured TTL. Thread-safe. No value ever appears in a message.
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"

namespace torii::identity {

class Vault {
 public:
  virtual ~Vault() = default;
  // NAME/KEY's value: the cached one while fresh, else fetched from the backend. Errors name the
  // reference and the cause, never a value.
  virtual Result<std::string> get(std::string_view name, std::string_view key) = 0;
  // Fetches every value read so far again; true when one of them changed (then a reload
  // rebuilds what uses them). Errors keep the cached values.
  virtual Result<bool> refresh() = 0;
  // "env", "file", "local" or "hashicorp".
  virtual std::string_view backend() const = 0;
};

// Builds the configured backend (cfg.backend must not be empty).
Result<std::shared_ptr<Vault>> make_vault(const VaultConfig& cfg);

}  // namespace torii::identity
