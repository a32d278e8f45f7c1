// The in-memory quota store (one node): 64 shards, each a mutex over two hash maps. A batch
// locks the shards it touches in index order (no deadlock), checks every op, then applies all
// or none: atomic like the Redis scripts, with a lock held for a few hash lookups.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/container/small_vector.hpp>

#include "quota/store.h"

namespace torii::quota {

Task<Result<Admission>> QuotaStore::admit(std::span<const RateOp> rate,
                                          std::span<const BudgetOp> budget, int64_t now_us) {
  Admission a;
  if (!rate.empty()) {
    auto r = co_await consume(rate, now_us);
    if (!r) co_return r.error();
    a.tat_us = std::move(r->tat_us);
    if (!r->allowed) {
      a.rate_denied = true;
      a.denied = r->denied;
      co_return a;
    }
  }
  if (!budget.empty()) {
    auto b = co_await reserve(budget);
    if (!b) co_return b.error();  // the rate ops stay consumed: the store is failing anyway
    a.totals = std::move(b->totals);
    if (!b->allowed) {
      a.denied = b->denied;
      std::vector<RateAdjust> back;
      for (std::size_t i = 0; i < rate.size(); ++i)
        back.push_back({rate[i].key, -rate[i].increment_us});
      if (!back.empty()) (void)co_await adjust(back, now_us);
      co_return a;
    }
  }
  a.allowed = true;
  co_return a;
}

Task<Result<Counts>> QuotaStore::settle(std::span<const RateAdjust> rate,
                                                      std::span<const BudgetOp> budget,
                                                      int64_t now_us) {
  if (!rate.empty()) {
    auto r = co_await adjust(rate, now_us);
    if (!r) co_return r.error();
  }
  if (budget.empty()) co_return Counts{};
  co_return co_await adjust(budget);
}

Task<Result<std::vector<CounterState>>> QuotaStore::scan(std::string_view, std::size_t) {
  co_return ApiError::internal(std::string("the ") + std::string(kind()) +
                               " quota store cannot list its counters");
}

Task<Result<int64_t>> QuotaStore::erase(std::string_view) {
  co_return ApiError::internal(std::string("the ") + std::string(kind()) +
                               " quota store cannot delete its counters");
}

Task<Result<int64_t>> QuotaStore::erase_keys(std::span<const std::string>) {
  co_return ApiError::internal(std::string("the ") + std::string(kind()) +
                               " quota store cannot delete its counters");
}

namespace {

constexpr std::size_t kShards = 64;  // a batch marks its shards in one 64-bit word
constexpr int64_t kDayMs = 86'400'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A key with its hash, computed once per op: it picks the shard and finds the entry.
struct Hashed {
  std::string_view key;
  std::size_t hash;
  explicit Hashed(std::string_view k) : key(k), hash(std::hash<std::string_view>{}(k)) {}
  std::size_t shard() const { return (hash >> 32 ^ hash) % kShards; }
};
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  std::size_t operator()(const Hashed& k) const { return k.hash; }
};
struct KeyEq {
  using is_transparent = void;
  static std::string_view view(std::string_view k) { return k; }
  static std::string_view view(const Hashed& k) { return k.key; }
  bool operator()(const auto& a, const auto& b) const { return view(a) == view(b); }
};
template <class V>
using KeyMap = std::unordered_map<std::string, V, KeyHash, KeyEq>;

struct Counter {
  int64_t total = 0;
  int64_t expires_at_ms = 0;
};

struct Shard {
  std::mutex mu;
  KeyMap<int64_t> cells;     // rate: key -> TAT µs
  KeyMap<Counter> counters;  // budgets
  unsigned ops = 0;

  // Drops what can no longer matter: cells whose TAT passed, counters a day past their period.
  // Every 4096 batches that touch the shard, under its lock.
  void sweep(int64_t now_us) {
    if (++ops % 4096 != 0) return;
    std::erase_if(cells, [&](const auto& kv) { return kv.second <= now_us; });
    const int64_t now_ms = wall_ms();
    std::erase_if(counters, [&](const auto& kv) {
      return kv.second.expires_at_ms > 0 && kv.second.expires_at_ms + kDayMs < now_ms;
    });
  }
};

// The hashed keys of a batch's ops (inline for a usual batch).
using HashedKeys = boost::container::small_vector<Hashed, 6>;
template <class Ops>
HashedKeys hashed(const Ops& ops) {
  HashedKeys h;
  for (const auto& op : ops) h.emplace_back(op.key);
  return h;
}

class MemoryStore final : public QuotaStore {
 public:
  std::string_view kind() const override { return "memory"; }

  Task<Result<RateReply>> consume(std::span<const RateOp> ops, int64_t now_us) override {
    Admission a = admit_batch(ops, std::span<const BudgetOp>(), now_us);
    RateReply r;
    r.allowed = a.allowed;
    r.denied = a.denied;
    r.tat_us = std::move(a.tat_us);
    co_return r;
  }

  Task<Result<void>> adjust(std::span<const RateAdjust> ops, int64_t now_us) override {
    adjust_cells(ops, now_us);
    co_return Result<void>{};
  }

  Task<Result<BudgetReply>> reserve(std::span<const BudgetOp> ops) override {
    Admission a = admit_batch(std::span<const RateOp>(), ops, 0);
    BudgetReply r;
    r.allowed = a.allowed;
    r.denied = a.denied;
    r.totals = std::move(a.totals);
    co_return r;
  }

  Task<Result<Counts>> adjust(std::span<const BudgetOp> ops) override {
    co_return add_to_counters(ops);
  }

  Task<Result<int64_t>> total(std::string_view key) override {
    const Hashed k(key);
    Shard& s = shards_[k.shard()];
    std::lock_guard g(s.mu);
    auto it = s.counters.find(k);
    co_return it == s.counters.end() ? int64_t{0} : it->second.total;
  }

  Task<Result<Admission>> admit(std::span<const RateOp> rate, std::span<const BudgetOp> budget,
                                int64_t now_us) override {
    co_return admit_batch(rate, budget, now_us);
  }

  bool admit_now(std::span<const RateOp> rate, std::span<const BudgetOp> budget, int64_t now_us,
                 Admission& out) override {
    out.allowed = out.rate_denied = false;
    out.denied = -1;
    admit_into(rate, budget, now_us, out);  // (filled in place: no Admission to move)
    return true;
  }

  Task<Result<std::vector<CounterState>>> scan(std::string_view key_prefix,
                                               std::size_t max) override {
    std::vector<CounterState> out;
    for (Shard& s : shards_) {
      if (out.size() >= max) break;
      std::lock_guard g(s.mu);
      for (const auto& [k, tat] : s.cells) {
        if (out.size() >= max) break;
        if (k.starts_with(key_prefix)) out.push_back({k, true, tat, 0});
      }
      for (const auto& [k, c] : s.counters) {
        if (out.size() >= max) break;
        if (k.starts_with(key_prefix)) out.push_back({k, false, 0, c.total});
      }
    }
    co_return out;
  }

  Task<Result<int64_t>> erase(std::string_view key_prefix) override {
    int64_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard g(s.mu);
      n += static_cast<int64_t>(
          std::erase_if(s.cells, [&](const auto& kv) { return kv.first.starts_with(key_prefix); }));
      n += static_cast<int64_t>(std::erase_if(
          s.counters, [&](const auto& kv) { return kv.first.starts_with(key_prefix); }));
    }
    co_return n;
  }

  Task<Result<int64_t>> erase_keys(std::span<const std::string> keys) override {
    int64_t n = 0;
    for (const std::string& key : keys) {
      const Hashed k(key);
      Shard& s = shards_[k.shard()];
      std::lock_guard g(s.mu);
      if (auto it = s.cells.find(k); it != s.cells.end()) s.cells.erase(it), ++n;
      if (auto it = s.counters.find(k); it != s.counters.end()) s.counters.erase(it), ++n;
    }
    co_return n;
  }

  // One lock pass for both kinds.
  bool settle_now(std::span<const RateAdjust> rate, std::span<const BudgetOp> budget,
                  int64_t now_us, Counts& totals) override {
    const HashedKeys rkeys = hashed(rate), bkeys = hashed(budget);
    Locks locks = lock_marked(marks(rkeys) | marks(bkeys));
    adjust_locked(rate, rkeys, now_us);
    totals = add_locked(budget, bkeys);
    return true;
  }

 private:
  void adjust_cells(std::span<const RateAdjust> ops, int64_t now_us) {
    const HashedKeys keys = hashed(ops);
    Locks locks = lock_marked(marks(keys));
    adjust_locked(ops, keys, now_us);
  }

  Counts add_to_counters(std::span<const BudgetOp> ops) {
    const HashedKeys keys = hashed(ops);
    Locks locks = lock_marked(marks(keys));
    return add_locked(ops, keys);
  }

  void adjust_locked(std::span<const RateAdjust> ops, const HashedKeys& keys, int64_t now_us) {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      auto& cells = shards_[keys[i].shard()].cells;
      auto it = cells.find(keys[i]);
      const int64_t tat =
          std::max(it == cells.end() ? now_us : it->second, now_us) + ops[i].delta_us;
      // A TAT at or before now is the same as a fresh cell; an existing one is kept (the sweep
      // drops it later) rather than erased and re-created by the next request.
      if (it != cells.end()) it->second = tat;
      else if (tat > now_us) cells.emplace(std::string(ops[i].key), tat);
    }
  }

  Counts add_locked(std::span<const BudgetOp> ops, const HashedKeys& keys) {
    Counts totals;
    totals.reserve(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      auto& counters = shards_[keys[i].shard()].counters;
      auto it = counters.find(keys[i]);
      if (it == counters.end()) it = counters.emplace(std::string(ops[i].key), Counter{}).first;
      Counter& c = it->second;
      c.total += ops[i].amount;
      c.expires_at_ms = std::max(c.expires_at_ms, ops[i].expires_at_ms);
      totals.push_back(c.total);
    }
    return totals;
  }

  // The shards a batch touches, locked in index order for the batch's lifetime.
  struct Locks {
    std::array<std::unique_lock<std::mutex>, 8> few;  // most batches touch few shards
    std::vector<std::unique_lock<std::mutex>> more;
  };

  static uint64_t marks(const HashedKeys& keys) {
    uint64_t need = 0;  // one bit per shard (kShards == 64)
    for (const Hashed& k : keys) need |= uint64_t{1} << k.shard();
    return need;
  }
  // Locks the marked shards in index order.
  Locks lock_marked(uint64_t need) {
    Locks l;
    std::size_t n = 0;
    for (; need != 0; need &= need - 1) {
      Shard& s = shards_[static_cast<std::size_t>(std::countr_zero(need))];
      if (n < l.few.size()) l.few[n++] = std::unique_lock(s.mu);
      else l.more.emplace_back(s.mu);
    }
    return l;
  }

  // Checks every op, then applies all or none (see the file comment). Each key is hashed once;
  // the entries found are written through (a new key is inserted).
  Admission admit_batch(std::span<const RateOp> rate, std::span<const BudgetOp> budget,
                        int64_t now_us) {
    Admission a;
    admit_into(rate, budget, now_us, a);
    return a;
  }
  // `a` comes with allowed, rate_denied false and denied -1.
  void admit_into(std::span<const RateOp> rate, std::span<const BudgetOp> budget, int64_t now_us,
                  Admission& a) {
    const HashedKeys rkeys = hashed(rate), bkeys = hashed(budget);
    Locks locks = lock_marked(marks(rkeys) | marks(bkeys));
    a.tat_us.resize(rate.size());
    a.totals.resize(budget.size());
    boost::container::small_vector<int64_t*, 6> cell(rate.size());
    boost::container::small_vector<Counter*, 6> counter(budget.size());
    auto refuse = [&](int denied) {
      a.denied = denied;
      for (std::size_t k = 0; k < rate.size(); ++k) {
        const int64_t* c = find_cell(rkeys[k]);
        a.tat_us[k] = c ? std::max(*c, now_us) : now_us;
      }
      for (std::size_t k = 0; k < budget.size(); ++k) {
        const Counter* c = find_counter(bkeys[k]);
        a.totals[k] = c ? c->total : 0;
      }
    };
    // Ops may repeat a key within a batch: the new values go to the answer's vectors first (a
    // refusal overwrites them with the current ones).
    Counts& tats = a.tat_us;
    for (std::size_t i = 0; i < rate.size(); ++i) {
      cell[i] = find_cell(rkeys[i]);
      int64_t tat = cell[i] ? std::max(*cell[i], now_us) : now_us;
      for (std::size_t j = i; j-- > 0;)
        if (rate[j].key == rate[i].key) {
          tat = tats[j];
          break;
        }
      const int64_t next = std::max(tat, now_us) + rate[i].increment_us;
      if (next - now_us > rate[i].window_us) {
        a.rate_denied = true;
        refuse(static_cast<int>(i));
        return;
      }
      tats[i] = next;
    }
    Counts& totals = a.totals;
    for (std::size_t i = 0; i < budget.size(); ++i) {
      counter[i] = find_counter(bkeys[i]);
      std::size_t j = i;
      while (j-- > 0 && budget[j].key != budget[i].key) {
      }
      const int64_t total = j < i ? totals[j] : counter[i] ? counter[i]->total : 0;
      if (budget[i].limit >= 0 && total + budget[i].amount > budget[i].limit) {
        refuse(static_cast<int>(i));
        return;
      }
      totals[i] = total + budget[i].amount;
    }
    for (std::size_t i = 0; i < rate.size(); ++i) {
      if (!cell[i]) cell[i] = find_cell(rkeys[i]);  // a key repeated in this batch
      if (cell[i]) *cell[i] = tats[i];
      else shards_[rkeys[i].shard()].cells.emplace(std::string(rate[i].key), tats[i]);
    }
    for (std::size_t i = 0; i < budget.size(); ++i) {
      if (!counter[i]) counter[i] = find_counter(bkeys[i]);
      if (!counter[i])
        counter[i] = &shards_[bkeys[i].shard()].counters.emplace(std::string(budget[i].key), Counter{})
                          .first->second;
      counter[i]->total = totals[i];
      counter[i]->expires_at_ms = std::max(counter[i]->expires_at_ms, budget[i].expires_at_ms);
    }
    // (After the writes: a sweep may erase entries the pointers above pointed to.)
    if (!rkeys.empty()) shards_[rkeys[0].shard()].sweep(now_us);
    else if (!bkeys.empty()) shards_[bkeys[0].shard()].sweep(now_us);
    a.allowed = true;
  }

  int64_t* find_cell(const Hashed& k) {
    auto& cells = shards_[k.shard()].cells;
    auto it = cells.find(k);
    return it == cells.end() ? nullptr : &it->second;
  }
  Counter* find_counter(const Hashed& k) {
    auto& counters = shards_[k.shard()].counters;
    auto it = counters.find(k);
    return it == counters.end() ? nullptr : &it->second;
  }

  std::array<Shard, kShards> shards_;
};

}  // namespace

std::shared_ptr<QuotaStore> make_memory_store() { return std::make_shared<MemoryStore>(); }

}  // namespace torii::quota
