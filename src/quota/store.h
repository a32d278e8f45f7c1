#pragma once
// The quota stores: where rate-limit and budget counters live (docs/QUOTAS.md). One narrow
// interface per purpose (DESIGN.md): RateLimitStore (GCRA cells) and BudgetStore (period
// counters). The memory store serves one node; the Redis store shares the counters between
// nodes. Both pass one conformance suite (tests/unit/quota_store_test.cpp).
//
// Every operation is atomic for the store: a batch of ops is applied entirely or not at all, so
// that N concurrent requests can never all pass the same check (PITFALLS.md 2). Stores never
// compute money or windows: callers pass ready integers, so both backends agree to the unit.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "core/result.h"
#include "core/task.h"

namespace torii::quota {

// Per-op results (TATs, totals): a request has a few, kept inline (no allocation).
using Counts = boost::container::small_vector<int64_t, 4>;

// One GCRA check (the generic cell rate algorithm): a cell holds a theoretical arrival time
// (TAT, µs since the Unix epoch). An op of `increment_us` (its cost × window / limit, rounded
// up) fits when max(TAT, now) + increment_us - now <= window_us; it then sets
// TAT = max(TAT, now) + increment_us. A missing cell has TAT = now.
// Op keys are views: the caller keeps their storage alive until the call completes (the quota
// policy keeps them in the request's memory; a store copies a key it inserts).
struct RateOp {
  std::string_view key;  // the full store key (the store may prefix it)
  int64_t increment_us;  // > 0
  int64_t window_us;     // > 0: the burst bound (the limit's window)
};

struct RateReply {
  bool allowed = false;
  int denied = -1;               // the first op that did not fit (when !allowed)
  Counts tat_us;   // per op: the TAT after the batch (before it, when denied)
};

// A change after the fact (settling): TAT += delta_us (negative gives back). Never refused.
struct RateAdjust {
  std::string_view key;
  int64_t delta_us;
};

class RateLimitStore {
 public:
  virtual ~RateLimitStore() = default;
  // All or nothing: every op is applied when each fits, none when one does not. `now_us` is the
  // caller's clock (injected in tests; every node of a cluster passes its own wall clock).
  virtual Task<Result<RateReply>> consume(std::span<const RateOp> ops, int64_t now_us) = 0;
  virtual Task<Result<void>> adjust(std::span<const RateAdjust> ops, int64_t now_us) = 0;
};

// One budget counter: the amount spent (settled) plus the amount reserved by calls in flight,
// in micro-USD or tokens. The key names the period ("...:2026-11"), so that a new period starts
// from zero without a reset.
struct BudgetOp {
  std::string_view key;
  int64_t amount;         // to add (reserve: >= 0; adjust: any sign)
  int64_t limit;          // reserve: refused when total + amount > limit; < 0 = never refused
  int64_t expires_at_ms;  // the period's end (Unix ms): the counter may be dropped after it
                          // (plus a day's margin for late settlements); 0 = never
};

struct BudgetReply {
  bool allowed = false;
  int denied = -1;               // the first op over its limit (when !allowed)
  Counts totals;   // per op: the total after the batch (before it, when denied)
};

class BudgetStore {
 public:
  virtual ~BudgetStore() = default;
  // All or nothing, as RateLimitStore::consume.
  virtual Task<Result<BudgetReply>> reserve(std::span<const BudgetOp> ops) = 0;
  // total += amount for each op (limit ignored); returns the totals after.
  virtual Task<Result<Counts>> adjust(std::span<const BudgetOp> ops) = 0;
  // The current total of one counter (0 when absent).
  virtual Task<Result<int64_t>> total(std::string_view key) = 0;
};

// What one request asks of the stores before its call: the rate ops and the budget
// reservations, admitted together or not at all.
struct Admission {
  bool allowed = false;
  bool rate_denied = false;     // which kind refused (when !allowed)
  int denied = -1;              // the index of the refusing op within its kind
  Counts tat_us;  // as RateReply
  Counts totals;  // as BudgetReply
};

// One stored counter, as scan() reports it (the admin API's view of a rule's consumption).
struct CounterState {
  std::string key;     // as the policy wrote it, without the store's own prefix
  bool rate = false;   // a GCRA cell (tat_us); else a budget counter (total)
  int64_t tat_us = 0;  // rate: the theoretical arrival time, µs since the Unix epoch
  int64_t total = 0;   // budget: spent + reserved, micro-USD or tokens
};

// A backend holds both kinds. admit() and settle() batch them: the Redis store sends each as
// one script call (one round trip); the defaults call the two stores in turn and roll the rate
// ops back when a budget refuses.
class QuotaStore : public RateLimitStore, public BudgetStore {
 public:
  using RateLimitStore::adjust;
  using BudgetStore::adjust;
  virtual Task<Result<Admission>> admit(std::span<const RateOp> rate,
                                        std::span<const BudgetOp> budget, int64_t now_us);
  // Applies settlements; returns the budget totals after (for soft-budget alerts).
  virtual Task<Result<Counts>> settle(std::span<const RateAdjust> rate,
                                                    std::span<const BudgetOp> budget,
                                                    int64_t now_us);
  // A store that answers without I/O (memory) answers here, without a coroutine, and returns
  // true; one that must wait (Redis) returns false and is called through admit() / settle().
  virtual bool admit_now(std::span<const RateOp> rate, std::span<const BudgetOp> budget,
                         int64_t now_us, Admission& out) {
    return false;
  }
  virtual bool settle_now(std::span<const RateAdjust> rate, std::span<const BudgetOp> budget,
                          int64_t now_us, Counts& totals) {
    return false;
  }
  // ---- Administration (the admin API: a rule's consumption, a reset). Off the request path:
  // these walk the key space (memory: every shard under its lock in turn; Redis: SCAN, never
  // KEYS), so they are neither atomic with admissions nor cheap. The defaults answer an error.

  // Every rate cell and budget counter whose key starts with `key_prefix` (a key as the policy
  // writes it, e.g. "rl:per-key:"), at most `max` of them, in no particular order. A cell whose
  // TAT has passed may still be listed (expired entries are dropped lazily). Redis tells a cell
  // from a counter by its key: keys starting "rl:" are rate cells (docs/QUOTAS.md, Keys).
  virtual Task<Result<std::vector<CounterState>>> scan(std::string_view key_prefix,
                                                       std::size_t max);
  // Deletes every cell and counter whose key starts with `key_prefix`; returns how many were
  // deleted. Not atomic with concurrent admissions: a request admitted meanwhile may recreate
  // a key (the store then counts from that request on, as after an expiry).
  virtual Task<Result<int64_t>> erase(std::string_view key_prefix);
  // Deletes exactly these keys (cells or counters); returns how many existed.
  virtual Task<Result<int64_t>> erase_keys(std::span<const std::string> keys);

  // "memory" or "redis" (logs, metrics).
  virtual std::string_view kind() const = 0;
};

// The in-memory store (one node): sharded maps under short mutexes, expired cells swept as
// they are met.
std::shared_ptr<QuotaStore> make_memory_store();

}  // namespace torii::quota
