#pragma once
// The Redis cache store (docs/CACHING.md): entries shared by every node of a cluster.
// - An entry is a Redis string `<cfg.prefix>cache:<key>` holding encode_entry(), with PX ttl;
//   one over max_entry_bytes (key + record; <= 0: no limit) is not stored. A record this node
//   cannot decode (another version's) is a miss.
// - purge(prefix): SCAN MATCH `<cfg.prefix>cache:<prefix>*` (glob characters escaped) COUNT 500,
//   then UNLINK per page. stats(): entries and bytes unknown (-1), evictions 0 (Redis evicts).
// - The semantic cache's vectors: XADD to the stream `<cfg.prefix>cachevec` (outside
//   `cache:`, so a purge of entries never meets it), MAXLEN ~ max_vectors (<= 0: untrimmed),
//   fields partition, key, prompt, expires (decimal Unix ms), vec (little-endian float32s).
//   Each node's reader XREADs it (BLOCK 1 s, COUNT 256) on a connection of its own, from the
//   start, and applies each record to its index; malformed entries are skipped.
// - Connections: a quota::RedisPool (quota/redis_pool.h) per worker io_context, as in the quota
//   store; every round trip bounded by cfg.timeout, a failure pauses calls for a second. Errors
//   are 503 `cache_store_unavailable`, without the password.
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
