#pragma once
// The semantic cache's vector index (docs/CACHING.md), one per node, built on hnswlib
// (Debian libhnswlib-dev, header-only). Vectors are grouped in partitions
// "<scope>:<context digest>" (key.h): a search only ever sees entries of the same tenant and
// the same conversation context (system prompt, earlier turns, model, parameters), so
// different conversations never collide. A small partition is searched exactly (a flat
// scan); from 1024 entries it gets an HNSW graph (M 16, ef_construction 100, ef 64; inner
// product on unit vectors = cosine), which finds a near-duplicate nearly always but, unlike
// the scan, not always (bench/micro/cache_bench.cpp measures it).
//
// Thread-safe: searches run concurrently (shared lock per partition); adds and removals take
// the partition's lock exclusively (a graph insert: ~1 ms at 256 dims, 100k entries; a
// replace with another vector re-links its neighbours: ~3 ms). No hnswlib exception escapes.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace torii::cache {

struct SemanticCandidate {
  std::string key;     // the exact-cache key of the entry
  std::string prompt;  // the text that was embedded (for the false-hit guard)
  float similarity = 0;  // cosine, in [-1, 1]
};

class SemanticIndex {
 public:
  // At most `max_entries` vectors in all: when full, an add evicts the oldest add (a replace
  // counts as a new add). 0 or less: every add is refused.
  explicit SemanticIndex(int64_t max_entries);
  ~SemanticIndex();
  SemanticIndex(const SemanticIndex&) = delete;
  SemanticIndex& operator=(const SemanticIndex&) = delete;

  // Adds a vector (normalised here), replacing the entry of the same key (in this partition or
  // another). Refused (false): a vector whose dimension differs from the partition's first
  // one, an empty, zero or non-finite vector, or a failed allocation.
  bool add(std::string_view partition, std::string_view key, std::string_view prompt,
           std::span<const float> vector, int64_t expires_ms);
  // Up to `k` entries of `partition` with similarity >= `min_similarity`, best first (equal
  // similarities: the newer first), skipping those expired at `now_ms` (expires_ms <= now_ms;
  // they stay until evicted or erased). Nothing for a query of another dimension or a zero or
  // non-finite one.
  std::vector<SemanticCandidate> search(std::string_view partition, std::span<const float> vector,
                                        float min_similarity, std::size_t k, int64_t now_ms) const;
  // Removes the entry of `key` (from whatever partition holds it); false when absent.
  bool erase(std::string_view key);
  // Removes every partition whose name starts with `prefix` ("": all; "<scope>:" a tenant);
  // returns the entries removed.
  int64_t purge(std::string_view prefix);
  int64_t size() const;
  // Bytes held (vectors, graphs with their links, locks and spare capacity, keys, prompts and
  // the bookkeeping), for BENCHMARKS.md and the admin stats. Walks every partition.
  int64_t memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torii::cache
