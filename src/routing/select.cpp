// Target selection: priority tiers, then the route's strategy among the usable candidates.
#include <algorithm>
#include <numeric>

#include "routing/route.h"

namespace torii::routing {

namespace {

constexpr std::size_t kMaxCandidates = 64;
// lowest_latency: a target not picked for this long gets one call, to refresh its EWMA.
constexpr int64_t kLatencyProbeNs = 10'000'000'000;

struct Candidates {
  std::array<uint8_t, kMaxCandidates> index;  // into route.targets
  std::size_t n = 0;
};

uint32_t uniform(uint32_t n) {
  return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng());
}

std::size_t pick_weighted_random(const Route& r, const Candidates& c) {
  int64_t total = 0;
  for (std::size_t i = 0; i < c.n; ++i) total += r.targets[c.index[i]].weight;
  auto x = static_cast<int64_t>(
      std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(total, 1) - 1)(rng()));
  for (std::size_t i = 0; i < c.n; ++i) {
    x -= r.targets[c.index[i]].weight;
    if (x < 0) return i;
  }
  return c.n - 1;
}

// P2C cost: latency EWMA times (in flight + 1); an unmeasured target costs 0 (gets tried).
int64_t p2c_cost(const TargetHealth& h) { return h.ewma_us() * (h.inflight() + 1); }

// Index into `c` (c.n >= 1).
std::size_t choose(const Route& r, std::size_t tier, const Candidates& c, int64_t now) {
  if (c.n == 1) return 0;
  const Route::Tier& t = r.tiers[tier];
  auto& next = r.state->next[tier];
  switch (r.strategy) {
    case Strategy::round_robin:
      return next.fetch_add(1, std::memory_order_relaxed) % c.n;
    case Strategy::weighted: {
      // The tier's smooth weighted round-robin order; if its target is unusable right now,
      // a weighted draw among the usable ones.
      const uint32_t pos = next.fetch_add(1, std::memory_order_relaxed);
      const std::size_t want = t.begin + t.schedule[pos % t.schedule.size()];
      for (std::size_t i = 0; i < c.n; ++i)
        if (c.index[i] == want) return i;
      return pick_weighted_random(r, c);
    }
    case Strategy::random:
      return uniform(static_cast<uint32_t>(c.n));
    case Strategy::least_inflight: {
      // Ties go round robin, so that equal targets share the load.
      const std::size_t start = next.fetch_add(1, std::memory_order_relaxed) % c.n;
      std::size_t best = start;
      int best_n = r.targets[c.index[start]].health->inflight();
      for (std::size_t k = 1; k < c.n; ++k) {
        std::size_t i = (start + k) % c.n;
        int n = r.targets[c.index[i]].health->inflight();
        if (n < best_n) best = i, best_n = n;
      }
      return best;
    }
    case Strategy::lowest_latency: {
      const std::size_t start = next.fetch_add(1, std::memory_order_relaxed) % c.n;
      std::size_t best = start;
      int64_t best_v = INT64_MAX;
      for (std::size_t k = 0; k < c.n; ++k) {
        std::size_t i = (start + k) % c.n;
        const TargetHealth& h = *r.targets[c.index[i]].health;
        // Unmeasured, or not picked for a while: worth a call to learn its latency.
        int64_t v = h.ewma_us() == 0 || now - h.last_pick_ns() > kLatencyProbeNs ? 0 : h.ewma_us();
        if (v < best_v) best = i, best_v = v;
      }
      return best;
    }
    case Strategy::p2c: {
      // Power of two choices: two distinct random candidates, the cheaper one.
      const auto a = uniform(static_cast<uint32_t>(c.n));
      auto b = uniform(static_cast<uint32_t>(c.n - 1));
      if (b >= a) ++b;
      return p2c_cost(*r.targets[c.index[a]].health) <= p2c_cost(*r.targets[c.index[b]].health)
                 ? a
                 : b;
    }
  }
  return 0;
}

}  // namespace

std::minstd_rand& rng() {
  thread_local std::minstd_rand g{std::random_device{}()};
  return g;
}

void prepare_tiers(Route& r) {
  std::stable_sort(r.targets.begin(), r.targets.end(),
                   [](const Target& a, const Target& b) { return a.priority < b.priority; });
  r.tiers.clear();
  for (std::size_t i = 0; i < r.targets.size();) {
    Route::Tier t;
    t.begin = i;
    while (i < r.targets.size() && r.targets[i].priority == r.targets[t.begin].priority) ++i;
    t.end = i;
    // Smooth weighted round robin (nginx's): each step, every target gains its weight and the
    // richest is chosen and pays the total. Weights are divided by their gcd first.
    std::vector<int64_t> w, current(t.end - t.begin, 0);
    int g = 0;
    for (std::size_t k = t.begin; k < t.end; ++k) g = std::gcd(g, std::max(1, r.targets[k].weight));
    int64_t total = 0;
    for (std::size_t k = t.begin; k < t.end; ++k) {
      w.push_back(std::max(1, r.targets[k].weight) / std::max(g, 1));
      total += w.back();
    }
    for (int64_t step = 0; step < total; ++step) {
      std::size_t best = 0;
      for (std::size_t k = 0; k < w.size(); ++k) {
        current[k] += w[k];
        if (current[k] > current[best]) best = k;
      }
      current[best] -= total;
      t.schedule.push_back(static_cast<uint8_t>(best));
    }
    r.tiers.push_back(std::move(t));
  }
}

Pick select(const Route& r, uint64_t tried, bool allow_tried, int64_t now, NoPick& why,
            uint64_t exclude) {
  why = NoPick{};
  bool any_untried_usable = false, any_tried_usable = false;
  for (std::size_t tier = 0; tier < r.tiers.size(); ++tier) {
    const Route::Tier& t = r.tiers[tier];
    Candidates c;
    for (std::size_t i = t.begin; i < t.end; ++i) {
      const Target& target = r.targets[i];
      if ((exclude >> i) & 1) continue;
      const bool was_tried = (tried >> i) & 1;
      const bool allowed = target.health->may_allow(*target.breaker, now);
      if (!allowed || target.health->free_key(static_cast<int>(target.keys.size()), 0, now) < 0) {
        (allowed ? why.rate_limited : why.unhealthy) = true;
        int64_t at = target.health->available_at(*target.breaker,
                                                 static_cast<int>(target.keys.size()), now);
        if (at > now && (why.retry_at_ns == 0 || at < why.retry_at_ns)) why.retry_at_ns = at;
        continue;
      }
      if (was_tried) any_tried_usable = true;
      else any_untried_usable = true;
      if (was_tried && !allow_tried) continue;
      c.index[c.n++] = static_cast<uint8_t>(i);
    }
    // A candidate whose breaker refuses at acquire (another thread took the last probe) is
    // dropped and the choice made again.
    while (c.n > 0) {
      const std::size_t k = choose(r, tier, c, now);
      const Target& target = r.targets[c.index[k]];
      Pick p;
      p.target = c.index[k];
      const auto keys = static_cast<int>(target.keys.size());
      p.key = keys == 1 ? 0
                        : target.health->pick_key(
                              keys, r.state->next_key.fetch_add(1, std::memory_order_relaxed),
                              now);
      if (p.key >= 0 && target.health->acquire(*target.breaker, now, p.probe)) return p;
      c.index[k] = c.index[--c.n];
    }
  }
  why.all_tried = !any_untried_usable && any_tried_usable;
  return Pick{};
}

// --- retry budget ----------------------------------------------------------------------------

RetryBudget::Bucket& RetryBudget::bucket(int64_t now_ns) {
  const int64_t second = now_ns / 1'000'000'000;
  Bucket& b = buckets_[static_cast<std::size_t>(second % kBuckets)];
  int64_t seen = b.second.load(std::memory_order_relaxed);
  if (seen != second && b.second.compare_exchange_strong(seen, second)) {
    b.requests.store(0, std::memory_order_relaxed);
    b.retries.store(0, std::memory_order_relaxed);
  }
  return b;
}

void RetryBudget::on_request(int64_t now_ns) {
  bucket(now_ns).requests.fetch_add(1, std::memory_order_relaxed);
}

bool RetryBudget::try_retry(int percent, int min_per_second, int64_t now_ns) {
  const int64_t second = now_ns / 1'000'000'000;
  uint64_t requests = 0, retries = 0;
  for (const Bucket& b : buckets_) {
    int64_t s = b.second.load(std::memory_order_relaxed);
    if (s > second - kBuckets && s <= second) {
      requests += b.requests.load(std::memory_order_relaxed);
      retries += b.retries.load(std::memory_order_relaxed);
    }
  }
  const uint64_t allowed = requests * static_cast<uint64_t>(std::max(percent, 0)) / 100 +
                           static_cast<uint64_t>(std::max(min_per_second, 0)) * kBuckets;
  if (retries >= allowed) {
    exhausted_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  bucket(now_ns).retries.fetch_add(1, std::memory_order_relaxed);
  retries_total_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace torii::routing
