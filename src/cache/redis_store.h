#pragma once
// The Redis cache store (docs/CACHING.md): entries shared by every node of a cluster.
// - An entry is a Redis string `<cfg.prefix>cache:<key>` holding encode_entry(), with PX ttl.
// - purge(prefix): SCAN MATCH + UNLINK in batches.
// - The semantic cache's vectors: XADD to `<cfg.prefix>cache:vectors` (MAXLEN ~ max_vectors);
//   each node XREADs it (BLOCK) from the start and applies each record to its index.
// - Connections per worker io_context as in the quota store (quota/redis_client.h); every round
//   trip bounded by cfg.timeout; errors are 503 `cache_store_unavailable` without the password.
#include <memory>

#include "cache/store.h"
#include "config/config.h"

namespace torii::cache {

struct RedisCache {
  std::shared_ptr<CacheStore> store;
  std::shared_ptr<VectorLog> vectors;
};

RedisCache make_redis_cache(const RedisConfig& cfg, int64_t max_entry_bytes,
                            int64_t max_vectors);

}  // namespace torii::cache
