#pragma once
// The cache stores (docs/CACHING.md): where cached answers live. One narrow interface
// (DESIGN.md: CacheStore lookup/put), two implementations that pass one conformance suite
// (tests/unit/cache_store_test.cpp):
//   - memory (the default): one node; sharded LRU under an entry count and a byte budget, TTL;
//   - redis: shared by the nodes of a cluster; entries are Redis strings with a TTL, and the
//     semantic cache's vectors go through a Redis stream (VectorLog) that every node reads
//     to keep its own index (semantic_index.h) in sync.
// Keys are "<scope>:<digest>" (key.h): `scope` is a short hex digest of the tenant, so a
// tenant's entries can be purged by prefix. Stores never interpret an entry's body.
// Errors are ApiError 503 `cache_store_unavailable`; the cache policy treats every store
// error as a miss (a cache never fails a request), and never echoes a password.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/result.h"
#include "core/task.h"

namespace torii::cache {

// One cached answer, exactly as the client got it (usage zeroed: replay.h).
struct Entry {
  std::string body;          // the JSON answer, or the SSE stream's bytes
  bool stream = false;       // body is an SSE stream (replayed event by event)
  int64_t created_ms = 0;    // Unix ms when stored (the Age header)
  int64_t cost_micros = -1;  // what the original call cost (the audit's "saved"); -1: unpriced
  int64_t prompt_tokens = -1, completion_tokens = -1;  // the original usage (-1: unknown)
  std::string provider, model;  // who answered (x-torii-provider / x-torii-model)
};

// Serialised form for stores that keep bytes (Redis): a versioned ("TC1"), length-prefixed,
// little-endian record (layout in entry.cpp).
std::string encode_entry(const Entry& e);
// nullopt when `bytes` is not a record encode_entry wrote (truncated, trailing bytes, a length
// past the end, another version). Never reads past `bytes`.
std::optional<Entry> decode_entry(std::string_view bytes);

struct StoreStats {
  int64_t entries = 0;  // -1: unknown (Redis does not count cheaply)
  int64_t bytes = 0;    // -1: unknown
  int64_t evictions = 0;
};

class CacheStore {
 public:
  virtual ~CacheStore() = default;

  // The entry under `key`, when there is one younger than its TTL. null: none.
  virtual Task<Result<std::shared_ptr<const Entry>>> lookup(std::string key) = 0;
  // Stores `entry` under `key` for `ttl`, replacing any entry of that key. A store may refuse
  // an entry over its per-entry byte limit (then returns ok and leaves the store as it was: a
  // cache may always forget). A ttl <= 0 only removes the key's entry.
  virtual Task<Result<void>> put(std::string key, std::shared_ptr<const Entry> entry,
                                 std::chrono::milliseconds ttl) = 0;
  // Removes one key; returns how many live entries were removed (0 or 1).
  virtual Task<Result<int64_t>> erase(std::string key) = 0;
  // Removes every key starting with `prefix` ("": everything; the characters of `prefix` are
  // literal, never a pattern); returns how many live entries were removed.
  virtual Task<Result<int64_t>> purge(std::string prefix) = 0;
  virtual StoreStats stats() const = 0;

  // The synchronous forms for stores that need no I/O (memory): true when done, with the
  // result set; false has the caller use the coroutine form. Default: false.
  virtual bool lookup_now(std::string_view key, std::shared_ptr<const Entry>& out) {
    return false;
  }
  virtual bool put_now(std::string_view key, std::shared_ptr<const Entry> entry,
                       std::chrono::milliseconds ttl) {
    return false;
  }
};

// One vector of the semantic cache, as the nodes share it (semantic_index.h).
struct VectorRecord {
  std::string partition;  // "<scope>:<context digest>" (key.h)
  std::string key;        // the exact key of the entry it finds
  std::string prompt;     // the last user turn's text (the false-hit guard reads it)
  std::vector<float> vector;  // unit length
  int64_t expires_ms = 0;     // Unix ms
};

// How the nodes of a cluster share semantic-cache vectors (Redis: a stream). The memory store
// has none: a single node's index is its own.
class VectorLog {
 public:
  virtual ~VectorLog() = default;
  // Appends a record (best effort: an error only costs other nodes a future hit).
  virtual Task<Result<void>> publish(VectorRecord record) = 0;
  // Starts reading the log on `ex` (from its beginning, so a new node loads what the cluster
  // has), calling `apply` for each record, in order, from that executor's thread; runs until
  // stop(). Skips records it cannot decode; reconnects after a failure (with a backoff).
  // Once per log: a second call does nothing.
  virtual void start(boost::asio::any_io_executor ex,
                     std::function<void(VectorRecord)> apply) = 0;
  // Has the reader end soon (Redis: within about a second, its blocking read's time), leaving
  // its executor no work. Called on that executor's thread, no `apply` follows it; from another
  // thread, an `apply` under way may finish. Callable from any thread; the destructor calls it.
  virtual void stop() = 0;
};

// The memory store. Limits (each <= 0: none):
// - max_entries, max_bytes: past either, the least recently used entries are evicted (counted
//   in stats().evictions; an expired entry is removed when met: no eviction). An entry's bytes are
//   its key, body, provider and model plus a fixed estimate of the bookkeeping (256).
//   The store is split into up to 16 shards by key hash, each with its share of both limits
//   (LRU is exact within a shard); a store too small for 16 shards of at least 64 entries and
//   1 MiB each has fewer, down to one (exact LRU).
// - max_entry_bytes: a bigger entry (or one bigger than a shard's byte share) is not stored.
// TTLs run on std::chrono::steady_clock. Thread-safe; lookup_now/put_now always answer.
std::shared_ptr<CacheStore> make_memory_cache_store(int64_t max_entries, int64_t max_bytes,
                                                    int64_t max_entry_bytes);
// The same, with TTLs on `now_ms` (any monotonic milliseconds): for tests.
std::shared_ptr<CacheStore> make_memory_cache_store_for_test(int64_t max_entries,
                                                             int64_t max_bytes,
                                                             int64_t max_entry_bytes,
                                                             std::function<int64_t()> now_ms);

}  // namespace torii::cache
