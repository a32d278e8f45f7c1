#pragma once
// The cache policy (docs/CACHING.md): answers a request from the cache when the same question
// (exact) or, optionally, one that means the same (semantic) was answered before; stores
// answers that succeeded. Sits after the prompt library and before the guardrails in the
// chain: the key covers the prompt as rendered, the guardrails' edits never reach the key, and
// its response hooks see the answer exactly as the client gets it (the guardrails' after phase
// ran first).
#include <memory>

#include "cache/semantic_index.h"
#include "cache/store.h"
#include "config/config.h"
#include "core/result.h"
#include "pipeline/policy.h"

namespace torii {

struct Snapshot;

namespace cache {

// What a config's cache shares across snapshots (a reload keeps the entries): the store, the
// node's semantic index, and for Redis the vector log that keeps the index in sync.
struct Cache {
  std::shared_ptr<CacheStore> store;
  std::shared_ptr<VectorLog> vectors;  // null: none (memory)
  std::unique_ptr<SemanticIndex> index;
  // Redis: the thread that follows the vector log into `index`, from the cache's creation (a
  // new node loads the cluster's vectors before its first lookup needs them).
  struct Reader;
  std::unique_ptr<Reader> reader;
  ~Cache();
};

// The Cache for `c` (one per store configuration, while a snapshot uses it).
Result<std::shared_ptr<Cache>> shared_cache(const CacheConfig& c);

}  // namespace cache

// Null when the config's cache is off. Errors name what is wrong (the embedding model).
Result<std::unique_ptr<Policy>> make_cache_policy(const Snapshot& s);

}  // namespace torii
