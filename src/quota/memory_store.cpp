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

namespace {

constexpr std::size_t kShards = 64;  // a batch marks its shards in one 64-bit word
constexpr int64_t kDayMs = 86'400'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Counter {
  int64_t total = 0;
  int64_t expires_at_ms = 0;
};

struct Shard {
  std::mutex mu;
  std::unordered_map<std::string, int64_t> cells;   // rate: key -> TAT µs
  std::unordered_map<std::string, Counter> counters;  // budgets
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
    const std::string k(key);
    Shard& s = shard(k);
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
    out = admit_batch(rate, budget, now_us);
    return true;
  }

  bool settle_now(std::span<const RateAdjust> rate, std::span<const BudgetOp> budget,
                  int64_t now_us, Counts& totals) override {
    if (!rate.empty()) adjust_cells(rate, now_us);
    totals = add_to_counters(budget);
    return true;
  }

 private:
  void adjust_cells(std::span<const RateAdjust> ops, int64_t now_us) {
    Locks locks = lock_adjust(ops);
    for (const auto& op : ops) {
      auto& cells = shard(op.key).cells;
      auto it = cells.find(op.key);
      const int64_t tat = std::max(it == cells.end() ? now_us : it->second, now_us) + op.delta_us;
      // A TAT at or before now is the same as a fresh cell; an existing one is kept (the sweep
      // drops it later) rather than erased and re-created by the next request.
      if (it != cells.end()) it->second = tat;
      else if (tat > now_us) cells.emplace(op.key, tat);
    }
  }

  Counts add_to_counters(std::span<const BudgetOp> ops) {
    Locks locks = lock(std::span<const RateOp>(), ops);
    Counts totals;
    totals.reserve(ops.size());
    for (const auto& op : ops) {
      Counter& c = shard(op.key).counters[op.key];
      c.total += op.amount;
      c.expires_at_ms = std::max(c.expires_at_ms, op.expires_at_ms);
      totals.push_back(c.total);
    }
    return totals;
  }

  // The shards a batch touches, locked in index order for the batch's lifetime.
  struct Locks {
    std::array<std::unique_lock<std::mutex>, 8> few;  // most batches touch few shards
    std::vector<std::unique_lock<std::mutex>> more;
  };

  std::size_t index(const std::string& key) const { return std::hash<std::string>{}(key) % kShards; }
  Shard& shard(const std::string& key) { return shards_[index(key)]; }

  Locks lock(std::span<const RateOp> rate, std::span<const BudgetOp> budget) {
    uint64_t need = 0;  // one bit per shard (kShards == 64)
    for (const auto& op : rate) need |= uint64_t{1} << index(op.key);
    for (const auto& op : budget) need |= uint64_t{1} << index(op.key);
    return lock_marked(need);
  }
  Locks lock_adjust(std::span<const RateAdjust> rate) {
    uint64_t need = 0;
    for (const auto& op : rate) need |= uint64_t{1} << index(op.key);
    return lock_marked(need);
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

  // Checks every op, then applies all or none (see the file comment).
  Admission admit_batch(std::span<const RateOp> rate, std::span<const BudgetOp> budget,
                        int64_t now_us) {
    Admission a;
    Locks locks = lock(rate, budget);
    a.tat_us.resize(rate.size());
    a.totals.resize(budget.size());
    // Ops may repeat a key within a batch: the new values go to the answer's vectors first (a
    // refusal overwrites them with the current ones).
    Counts& tats = a.tat_us;
    for (std::size_t i = 0; i < rate.size(); ++i) {
      int64_t tat = current_tat(rate[i].key, now_us);
      for (std::size_t j = i; j-- > 0;)
        if (rate[j].key == rate[i].key) {
          tat = tats[j];
          break;
        }
      const int64_t base = std::max(tat, now_us);
      const int64_t next = base + rate[i].increment_us;
      if (next - now_us > rate[i].window_us) {
        a.rate_denied = true;
        a.denied = static_cast<int>(i);
        for (std::size_t k = 0; k < rate.size(); ++k) a.tat_us[k] = current_tat(rate[k].key, now_us);
        for (std::size_t k = 0; k < budget.size(); ++k) a.totals[k] = current_total(budget[k].key);
        return a;
      }
      tats[i] = next;
    }
    Counts& totals = a.totals;
    for (std::size_t i = 0; i < budget.size(); ++i) {
      std::size_t j = i;
      while (j-- > 0 && budget[j].key != budget[i].key) {
      }
      const int64_t total = j < i ? totals[j] : current_total(budget[i].key);
      if (budget[i].limit >= 0 && total + budget[i].amount > budget[i].limit) {
        a.denied = static_cast<int>(i);
        for (std::size_t k = 0; k < rate.size(); ++k) a.tat_us[k] = current_tat(rate[k].key, now_us);
        for (std::size_t k = 0; k < budget.size(); ++k) a.totals[k] = current_total(budget[k].key);
        return a;
      }
      totals[i] = total + budget[i].amount;
    }
    for (std::size_t i = 0; i < rate.size(); ++i) {
      shard(rate[i].key).cells[rate[i].key] = tats[i];
    }
    for (std::size_t i = 0; i < budget.size(); ++i) {
      Counter& c = shard(budget[i].key).counters[budget[i].key];
      c.total = totals[i];
      c.expires_at_ms = std::max(c.expires_at_ms, budget[i].expires_at_ms);
    }
    sweep_touched(rate, budget, now_us);
    a.allowed = true;
    return a;
  }

  void sweep_touched(std::span<const RateOp> rate, std::span<const BudgetOp> budget,
                     int64_t now_us) {
    if (!rate.empty()) shard(rate[0].key).sweep(now_us);
    else if (!budget.empty()) shard(budget[0].key).sweep(now_us);
  }

  int64_t current_tat(const std::string& key, int64_t now_us) {
    auto& cells = shard(key).cells;
    auto it = cells.find(key);
    return it == cells.end() ? now_us : std::max(it->second, now_us);
  }
  int64_t current_total(const std::string& key) {
    auto& counters = shard(key).counters;
    auto it = counters.find(key);
    return it == counters.end() ? 0 : it->second.total;
  }

  std::array<Shard, kShards> shards_;
};

}  // namespace

std::shared_ptr<QuotaStore> make_memory_store() { return std::make_shared<MemoryStore>(); }

}  // namespace torii::quota
