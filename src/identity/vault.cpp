// make_vault: the env, file and local backends, and the cache every backend shares (values
// kept per NAME/KEY with their fetch time, refetched after the TTL; see identity/vault.h).
#include "identity/vault.h"

#include <openssl/evp.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "core/log.h"
#include "identity/vault_backend.h"
#include "identity/vault_store.h"

namespace torii::identity {
namespace {

using Clock = std::chrono::steady_clock;
ApiError fail(std::string message) { return ApiError::invalid_request(std::move(message)); }

// The values read through one backend identity. Shared by every Vault built for that identity
// in the process, so that a reload (a new Config, a new Vault) does not refetch fresh values.
struct SharedCache {
  struct Entry {
    std::string value;
    Clock::time_point fetched;
  };
  std::mutex mu;  // held across a fetch: one backend call at a time per identity
  std::map<std::pair<std::string, std::string>, Entry> entries;
};

// A digest of a credential, so that the cache identity never holds the credential itself.
std::string digest(const std::string& credential) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(credential.data(), credential.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), n);
}

// What makes two vault configs read the same values. The credential counts too: values read
// with one master key or token are not served to a config holding another.
std::string identity_of(const VaultConfig& c) {
  std::string id = c.backend + "|";
  if (c.backend == "env") id += c.prefix;
  if (c.backend == "file") id += c.directory;
  if (c.backend == "local") id += c.path + "|" + digest(c.master_key.value);
  if (c.backend == "hashicorp")
    id += c.address + "|" + c.mount + "|" + c.namespace_ + "|" + digest(c.token.value);
  return id;
}

std::shared_ptr<SharedCache> cache_for(const std::string& identity) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<SharedCache>> caches;
  std::lock_guard lock(mu);
  auto& weak = caches[identity];
  auto cache = weak.lock();
  if (!cache) {
    cache = std::make_shared<SharedCache>();
    weak = cache;
  }
  return cache;
}

class CachedVault final : public Vault {
 public:
  CachedVault(std::string backend, std::chrono::seconds ttl, VaultFetch fetch,
              std::shared_ptr<SharedCache> cache)
      : backend_(std::move(backend)), ttl_(ttl), fetch_(std::move(fetch)),
        cache_(std::move(cache)) {}

  Result<std::string> get(std::string_view name, std::string_view key) override {
    if (auto e = vault_name_error(name, key); !e.empty()) return fail(e);
    std::pair<std::string, std::string> id{std::string(name), std::string(key)};
    std::lock_guard lock(cache_->mu);
    auto it = cache_->entries.find(id);
    const auto now = Clock::now();
    if (it != cache_->entries.end() && now - it->second.fetched < ttl_) return it->second.value;
    auto v = fetch_(id.first, id.second);
    if (!v) {
      // A stale value beats none: an outage of the vault must not break a reload.
      if (it != cache_->entries.end()) {
        log::warn("vault: cannot refresh {}/{}, using the cached value: {}", id.first,
                  id.second, v.error().message);
        return it->second.value;
      }
      return v.error();
    }
    cache_->entries[id] = {*v, now};
    return std::move(*v);
  }

  Result<bool> refresh() override {
    std::lock_guard lock(cache_->mu);
    bool changed = false;
    std::optional<ApiError> first_error;
    for (auto& [id, entry] : cache_->entries) {
      auto v = fetch_(id.first, id.second);
      if (!v) {
        if (!first_error) first_error = v.error();
        continue;
      }
      if (*v != entry.value) changed = true;
      entry = {std::move(*v), Clock::now()};
    }
    if (first_error && !changed) return *first_error;
    if (first_error) log::warn("vault: refresh: {}", first_error->message);
    return changed;
  }

  std::string_view backend() const override { return backend_; }

 private:
  std::string backend_;
  std::chrono::seconds ttl_;
  VaultFetch fetch_;
  std::shared_ptr<SharedCache> cache_;
};

// env: NAME/KEY -> PREFIX + upper(NAME_KEY), every other character as '_'.
VaultFetch env_fetch(std::string prefix) {
  return [prefix](const std::string& name, const std::string& key) -> Result<std::string> {
    std::string var = prefix;
    for (char c : name + "_" + key) {
      var += std::isalnum(static_cast<unsigned char>(c))
                 ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                 : '_';
    }
    const char* v = std::getenv(var.c_str());
    if (v == nullptr || *v == '\0') {
      return fail("vault secret " + name + "/" + key + ": environment variable " + var +
                  " is not set");
    }
    return std::string(v);
  };
}

// file: {directory}/NAME/KEY, trailing newlines stripped (a Kubernetes secret volume).
VaultFetch file_fetch(std::string directory) {
  while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
  return [directory](const std::string& name, const std::string& key) -> Result<std::string> {
    // name and key were validated: no "..", so the path stays under the directory.
    const std::string path = directory + "/" + name + "/" + key;
    auto v = read_secret_file(path);
    if (!v) return fail("vault secret " + name + "/" + key + ": " + v.error().message);
    return v;
  };
}

// local: the encrypted store, read again at each fetch (so `torii vault put` is seen).
VaultFetch local_fetch(std::string path, std::string master_key) {
  return [path, master_key](const std::string& name,
                            const std::string& key) -> Result<std::string> {
    auto store = VaultStore::open(path, master_key);
    if (!store) return store.error();
    auto v = store->get(name + "/" + key);
    if (!v) return v.error();
    if (v->empty()) return fail("vault entry " + name + "/" + key + " is empty");
    return std::move(*v);
  };
}

}  // namespace

Result<std::shared_ptr<Vault>> make_vault(const VaultConfig& cfg) {
  VaultFetch fetch;
  if (cfg.backend == "env") {
    fetch = env_fetch(cfg.prefix);
  } else if (cfg.backend == "file") {
    if (cfg.directory.empty()) return fail("the file backend needs a directory");
    fetch = file_fetch(cfg.directory);
  } else if (cfg.backend == "local") {
    if (cfg.path.empty()) return fail("the local backend needs a path");
    auto key = parse_master_key(cfg.master_key.value);
    if (!key) return key.error();
    fetch = local_fetch(cfg.path, std::move(*key));
  } else if (cfg.backend == "hashicorp") {
    auto f = make_hashicorp_fetch(cfg);
    if (!f) return f.error();
    fetch = std::move(*f);
  } else {
    return fail("unknown vault backend '" + cfg.backend + "' (env, file, local, hashicorp)");
  }
  return std::shared_ptr<Vault>(std::make_shared<CachedVault>(
      cfg.backend, cfg.ttl, std::move(fetch), cache_for(identity_of(cfg))));
}

}  // namespace torii::identity
