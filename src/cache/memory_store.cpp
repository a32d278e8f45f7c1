// The in-memory cache store (one node): up to 16 shards, each a mutex over an LRU list and a hash
// map of views of its keys. Each shard holds its share of the entry count and the byte budget,
// so a lookup or a put locks one shard for a hash lookup and a splice.
#include <algorithm>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cache/store.h"

namespace torii::cache {
namespace {

// What an entry costs besides its strings: the list node, the map's slot and bucket, the Entry
// and its shared_ptr control block (an estimate, on the high side).
constexpr int64_t kEntryOverhead = 256;
// Sharding trades exact LRU for less contention; a small store keeps fewer shards (down to one:
// exact LRU), so that each holds at least this many entries and bytes.
constexpr int kMaxShardBits = 4;  // 16 shards
constexpr int64_t kMinShardEntries = 64;
constexpr int64_t kMinShardBytes = int64_t{1} << 20;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t cost_of(std::string_view key, const Entry& e) {
  return static_cast<int64_t>(key.size() + e.body.size() + e.provider.size() + e.model.size()) +
         kEntryOverhead;
}

int64_t or_unlimited(int64_t limit) { return limit > 0 ? limit : INT64_MAX; }

class MemoryStore final : public CacheStore {
 public:
  MemoryStore(int64_t max_entries, int64_t max_bytes, int64_t max_entry_bytes,
              std::function<int64_t()> now_ms)
      : now_ms_(std::move(now_ms)) {
    max_entries = or_unlimited(max_entries);
    max_bytes = or_unlimited(max_bytes);
    int bits = kMaxShardBits;
    while (bits > 0 &&
           (max_entries >> bits < kMinShardEntries || max_bytes >> bits < kMinShardBytes))
      --bits;
    shard_bits_ = bits;
    shards_ = std::vector<Shard>(std::size_t{1} << bits);
    shard_entries_ = max_entries >> bits;
    shard_bytes_ = max_bytes >> bits;
    // An entry must fit in its shard, next to nothing else.
    max_entry_bytes_ = std::min(or_unlimited(max_entry_bytes), shard_bytes_);
  }

  Task<Result<std::shared_ptr<const Entry>>> lookup(std::string key) override {
    std::shared_ptr<const Entry> out;
    lookup_now(key, out);
    co_return out;
  }

  Task<Result<void>> put(std::string key, std::shared_ptr<const Entry> entry,
                         std::chrono::milliseconds ttl) override {
    put_now(key, std::move(entry), ttl);
    co_return Result<void>{};
  }

  Task<Result<int64_t>> erase(std::string key) override {
    const int64_t now = now_ms_();
    Shard& s = shard_of(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) co_return int64_t{0};
    const bool live = it->second->expires_ms > now;
    remove(s, it->second);
    co_return int64_t{live ? 1 : 0};
  }

  Task<Result<int64_t>> purge(std::string prefix) override {
    const int64_t now = now_ms_();
    int64_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      for (auto it = s.lru.begin(); it != s.lru.end();) {
        auto next = std::next(it);
        if (it->key.starts_with(prefix)) {
          n += it->expires_ms > now ? 1 : 0;
          remove(s, it);
        }
        it = next;
      }
    }
    co_return n;
  }

  StoreStats stats() const override {
    StoreStats st;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      st.entries += static_cast<int64_t>(s.lru.size());
      st.bytes += s.bytes;
      st.evictions += s.evictions;
    }
    return st;
  }

  bool lookup_now(std::string_view key, std::shared_ptr<const Entry>& out) override {
    const int64_t now = now_ms_();
    Shard& s = shard_of(key);
    std::lock_guard lock(s.mu);
    out.reset();
    auto it = s.index.find(key);
    if (it == s.index.end()) return true;
    if (it->second->expires_ms <= now) {  // expired: removed when met
      remove(s, it->second);
      return true;
    }
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    out = it->second->entry;
    return true;
  }

  bool put_now(std::string_view key, std::shared_ptr<const Entry> entry,
               std::chrono::milliseconds ttl) override {
    if (!entry) return true;
    const int64_t cost = cost_of(key, *entry);
    if (cost > max_entry_bytes_) return true;  // too big: not cached, the store unchanged
    const int64_t now = now_ms_();
    const int64_t expires = ttl.count() < INT64_MAX - now ? now + ttl.count() : INT64_MAX;
    Shard& s = shard_of(key);
    std::lock_guard lock(s.mu);
    if (auto it = s.index.find(key); it != s.index.end()) remove(s, it->second);
    if (ttl.count() <= 0) return true;  // already expired: only the old entry goes
    s.lru.push_front(Node{std::string(key), std::move(entry), expires, cost});
    s.index.emplace(s.lru.front().key, s.lru.begin());
    s.bytes += cost;
    // The new entry fits on its own (max_entry_bytes_ <= shard_bytes_): only older ones go.
    while (static_cast<int64_t>(s.lru.size()) > shard_entries_ || s.bytes > shard_bytes_) {
      remove(s, std::prev(s.lru.end()));
      ++s.evictions;
    }
    return true;
  }

 private:
  struct Node {
    std::string key;
    std::shared_ptr<const Entry> entry;
    int64_t expires_ms = 0;  // on now_ms_'s clock
    int64_t cost = 0;
  };
  using List = std::list<Node>;
  struct Shard {
    mutable std::mutex mu;
    List lru;  // the most recently used first
    std::unordered_map<std::string_view, List::iterator> index;  // views of the nodes' keys
    int64_t bytes = 0;
    int64_t evictions = 0;
  };

  Shard& shard_of(std::string_view key) {
    if (shard_bits_ == 0) return shards_[0];
    const uint64_t h = std::hash<std::string_view>{}(key);
    // The top bits of a multiplicative mix: independent of the map's own bucket choice.
    return shards_[(h * 0x9E3779B97F4A7C15ull) >> (64 - shard_bits_)];
  }

  static void remove(Shard& s, List::iterator it) {
    s.index.erase(it->key);
    s.bytes -= it->cost;
    s.lru.erase(it);
  }

  std::function<int64_t()> now_ms_;
  int shard_bits_ = 0;
  std::vector<Shard> shards_;
  int64_t shard_entries_ = 0, shard_bytes_ = 0, max_entry_bytes_ = 0;
};

}  // namespace

std::shared_ptr<CacheStore> make_memory_cache_store(int64_t max_entries, int64_t max_bytes,
                                                    int64_t max_entry_bytes) {
  return std::make_shared<MemoryStore>(max_entries, max_bytes, max_entry_bytes, steady_ms);
}

std::shared_ptr<CacheStore> make_memory_cache_store_for_test(int64_t max_entries,
                                                             int64_t max_bytes,
                                                             int64_t max_entry_bytes,
                                                             std::function<int64_t()> now_ms) {
  return std::make_shared<MemoryStore>(max_entries, max_bytes, max_entry_bytes,
                                       std::move(now_ms));
}

}  // namespace torii::cache
