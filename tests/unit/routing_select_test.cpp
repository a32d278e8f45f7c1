// Tests for src/routing/select.cpp: prepare_tiers, select (tiers, strategies, tried mask,
// key rotation, NoPick) and RetryBudget. Routes are built by hand; select never touches
// Target::provider, so it stays null. Every successful select acquires: each is finished.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "routing/route.h"

namespace torii::routing {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'000 * kSec;

struct Spec {
  int weight = 1;
  int priority = 0;
  int keys = 1;
  std::string model;
};

// A route with its breaker config and state, owned together.
struct Fixture {
  BreakerConfig breaker;
  Route route;
  std::unique_ptr<RouteState> state;

  Fixture(Strategy s, const std::vector<Spec>& specs) {
    breaker.consecutive_failures = 1;
    breaker.error_rate_percent = 0;
    breaker.cooldown = std::chrono::milliseconds(5'000);
    route.name = "r";
    route.strategy = s;
    int n = 0;
    for (const Spec& sp : specs) {
      Target t;
      t.model = sp.model.empty() ? "m" + std::to_string(n) : sp.model;
      t.weight = sp.weight;
      t.priority = sp.priority;
      t.keys.assign(static_cast<std::size_t>(sp.keys), nullptr);
      t.breaker = &breaker;
      t.health = std::make_shared<TargetHealth>();
      route.targets.push_back(std::move(t));
      ++n;
    }
    prepare_tiers(route);
    state = std::make_unique<RouteState>(route.tiers.size());
    route.state = state.get();
  }

  TargetHealth& health(int i) { return *route.targets[static_cast<std::size_t>(i)].health; }
  int index_of(const std::string& model) const {
    for (std::size_t i = 0; i < route.targets.size(); ++i)
      if (route.targets[i].model == model) return static_cast<int>(i);
    return -1;
  }

  // One select; the call is finished at once with `r` (neutral: leaves the health as it is).
  Pick pick(uint64_t tried = 0, bool allow_tried = false, int64_t now = kT0,
            TryResult r = TryResult::neutral, int64_t latency_us = 0) {
    NoPick why;
    Pick p = select(route, tried, allow_tried, now, why);
    if (p.target >= 0) health(p.target).finish(breaker, p.probe, r, latency_us, p.key, 0, now);
    return p;
  }

  // Opens target i's breaker at `now` (consecutive_failures is 1).
  void open(int i, int64_t now = kT0) {
    bool probe = false;
    ASSERT_TRUE(health(i).acquire(breaker, now, probe));
    health(i).finish(breaker, probe, TryResult::failure, 1'000, 0, 0, now);
    ASSERT_EQ(health(i).state(), BreakerState::open);
  }

  // Feeds target i's latency EWMA with `n` samples of `us`.
  void feed(int i, int64_t us, int64_t now = kT0, int n = 30) {
    for (int k = 0; k < n; ++k) {
      bool probe = false;
      ASSERT_TRUE(health(i).acquire(breaker, now, probe));
      health(i).finish(breaker, probe, TryResult::success, us, 0, 0, now);
    }
  }

  std::vector<int> counts(int picks, int64_t now = kT0) {
    std::vector<int> c(route.targets.size(), 0);
    for (int i = 0; i < picks; ++i) {
      Pick p = pick(0, false, now);
      EXPECT_GE(p.target, 0);
      if (p.target >= 0) ++c[static_cast<std::size_t>(p.target)];
    }
    return c;
  }

  int total_inflight() {
    int n = 0;
    for (std::size_t i = 0; i < route.targets.size(); ++i) n += route.targets[i].health->inflight();
    return n;
  }
};

// --- prepare_tiers ---------------------------------------------------------------------------

TEST(RoutingTiers, SortsByPriorityStableWithinTier) {
  Fixture f(Strategy::round_robin, {{1, 2, 1, "c"}, {1, 0, 1, "a1"}, {1, 1, 1, "b"},
                                    {1, 0, 1, "a2"}});
  ASSERT_EQ(f.route.targets.size(), 4u);
  EXPECT_EQ(f.route.targets[0].model, "a1");
  EXPECT_EQ(f.route.targets[1].model, "a2");
  EXPECT_EQ(f.route.targets[2].model, "b");
  EXPECT_EQ(f.route.targets[3].model, "c");
  ASSERT_EQ(f.route.tiers.size(), 3u);
  EXPECT_EQ(f.route.tiers[0].begin, 0u);
  EXPECT_EQ(f.route.tiers[0].end, 2u);
  EXPECT_EQ(f.route.tiers[1].begin, 2u);
  EXPECT_EQ(f.route.tiers[1].end, 3u);
  EXPECT_EQ(f.route.tiers[2].begin, 3u);
  EXPECT_EQ(f.route.tiers[2].end, 4u);
}

TEST(RoutingTiers, WeightedScheduleIsReducedAndSmooth) {
  Fixture f(Strategy::weighted, {{2}, {6}});
  ASSERT_EQ(f.route.tiers.size(), 1u);
  const auto& s = f.route.tiers[0].schedule;
  ASSERT_EQ(s.size(), 4u);  // 2:6 reduced to 1:3
  int zeros = 0;
  for (uint8_t x : s) zeros += x == 0;
  EXPECT_EQ(zeros, 1);
  // Smooth: the heavy target is never picked 4 times in a row around the cycle... nor the
  // light one twice in a row.
  for (std::size_t i = 0; i < s.size(); ++i)
    EXPECT_FALSE(s[i] == 0 && s[(i + 1) % s.size()] == 0);
}

// --- strategies ------------------------------------------------------------------------------

TEST(RoutingSelect, WeightedOneToThree) {
  Fixture f(Strategy::weighted, {{1}, {3}});
  auto c = f.counts(4'000);
  EXPECT_NEAR(c[0], 1'000, 120);
  EXPECT_NEAR(c[1], 3'000, 120);
  EXPECT_EQ(f.total_inflight(), 0);
}

TEST(RoutingSelect, WeightedSkipsUnusableTarget) {
  Fixture f(Strategy::weighted, {{1}, {3}, {2}});
  f.open(1);
  auto c = f.counts(3'000);
  EXPECT_EQ(c[1], 0);
  EXPECT_NEAR(c[0], 1'000, 200);  // 1:2 between the two left
  EXPECT_NEAR(c[2], 2'000, 200);
}

TEST(RoutingSelect, RoundRobinExactSplit) {
  Fixture f(Strategy::round_robin, {{}, {}, {}});
  auto c = f.counts(3'000);
  EXPECT_EQ(c[0], 1'000);
  EXPECT_EQ(c[1], 1'000);
  EXPECT_EQ(c[2], 1'000);
  // Consecutive picks differ.
  int prev = f.pick().target;
  for (int i = 0; i < 10; ++i) {
    int cur = f.pick().target;
    EXPECT_NE(cur, prev);
    prev = cur;
  }
}

TEST(RoutingSelect, RandomWithinTolerance) {
  Fixture f(Strategy::random, {{}, {}, {}});
  auto c = f.counts(6'000);
  for (int x : c) EXPECT_NEAR(x, 2'000, 300);
}

TEST(RoutingSelect, LeastInflightPrefersIdleTarget) {
  Fixture f(Strategy::least_inflight, {{}, {}, {}});
  // Hold calls open on targets 0 and 2.
  bool p = false;
  ASSERT_TRUE(f.health(0).acquire(f.breaker, kT0, p));
  ASSERT_TRUE(f.health(0).acquire(f.breaker, kT0, p));
  ASSERT_TRUE(f.health(2).acquire(f.breaker, kT0, p));
  auto c = f.counts(100);
  EXPECT_EQ(c[1], 100);
  // Held without finishing, picks spread: the selected target's own in-flight count grows.
  std::vector<Pick> held;
  NoPick why;
  for (int i = 0; i < 3; ++i) held.push_back(select(f.route, 0, false, kT0, why));
  // Target 1 had 0, then 1 (tie with 2 at 1), ...: after 3 holds, counts are 2/2/2.
  EXPECT_EQ(f.health(0).inflight(), 2);
  EXPECT_EQ(f.health(1).inflight(), 2);
  EXPECT_EQ(f.health(2).inflight(), 2);
  for (const Pick& h : held)
    f.health(h.target).finish(f.breaker, h.probe, TryResult::neutral, 0, h.key, 0, kT0);
  f.health(0).finish(f.breaker, false, TryResult::neutral, 0, 0, 0, kT0);
  f.health(0).finish(f.breaker, false, TryResult::neutral, 0, 0, 0, kT0);
  f.health(2).finish(f.breaker, false, TryResult::neutral, 0, 0, 0, kT0);
  EXPECT_EQ(f.total_inflight(), 0);
  // Ties share the load.
  auto even = f.counts(300);
  for (int x : even) EXPECT_EQ(x, 100);
}

TEST(RoutingSelect, LowestLatencyPicksLowestEwma) {
  Fixture f(Strategy::lowest_latency, {{}, {}, {}});
  f.feed(0, 50'000);
  f.feed(1, 5'000);
  f.feed(2, 20'000);
  auto c = f.counts(200, kT0 + kSec);
  EXPECT_EQ(c[1], 200);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[2], 0);
}

TEST(RoutingSelect, LowestLatencyTriesUnmeasuredAndStaleTargets) {
  Fixture f(Strategy::lowest_latency, {{}, {}, {}});
  f.feed(0, 50'000);
  f.feed(1, 5'000);
  // Target 2 has no EWMA yet: it is worth a call.
  EXPECT_EQ(f.pick(0, false, kT0 + kSec).target, 2);
  f.feed(2, 20'000, kT0 + kSec);
  // 11 s later nobody was picked for 10 s: each gets one refresh call, then the fastest.
  const int64_t later = kT0 + 12 * kSec;
  std::set<int> first;
  for (int i = 0; i < 3; ++i) first.insert(f.pick(0, false, later).target);
  EXPECT_EQ(first.size(), 3u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(f.pick(0, false, later).target, 1);
}

// docs/ROUTING.md: latency is "the time from sending the request to the answer's head". A try
// that fails fast (connection refused in 0.1 ms) has no answer; if its time counts as latency,
// a target that is both slower and failing 40% of its calls (under the breaker's 50%) looks the
// fastest and draws the traffic: a black hole.
TEST(RoutingSelect, LowestLatencyIsNotFooledByFastFailures) {
  Fixture f(Strategy::lowest_latency, {{}, {}});
  f.breaker.consecutive_failures = 5;
  f.breaker.error_rate_percent = 50;
  f.breaker.min_requests = 20;
  for (int i = 0; i < 40; ++i) {
    bool probe = false;
    ASSERT_TRUE(f.health(0).acquire(f.breaker, kT0, probe));
    f.health(0).finish(f.breaker, probe, TryResult::success, 20'000, 0, 0, kT0);
    // Target 1: answers in 25 ms, but 2 calls in 5 are refused at once.
    const bool fail = i % 5 == 1 || i % 5 == 3;
    ASSERT_TRUE(f.health(1).acquire(f.breaker, kT0, probe));
    f.health(1).finish(f.breaker, probe, fail ? TryResult::failure : TryResult::success,
                       fail ? 100 : 25'000, 0, 0, kT0);
  }
  ASSERT_EQ(f.health(1).state(), BreakerState::closed);
  auto c = f.counts(200, kT0 + kSec);
  EXPECT_GT(c[0], 150) << "the slower, failing target got " << c[1]
                       << " of 200 picks (its EWMA " << f.health(1).ewma_us()
                       << " us vs " << f.health(0).ewma_us() << " us)";
}

TEST(RoutingSelect, P2cSendsMostTrafficToFastTarget) {
  Fixture f(Strategy::p2c, {{}, {}});
  f.feed(0, 80'000);
  f.feed(1, 2'000);
  auto c = f.counts(2'000);
  EXPECT_GT(c[1], 1'500);  // > 75%
}

TEST(RoutingSelect, P2cNeverPicksTheSlowestOfThree) {
  Fixture f(Strategy::p2c, {{}, {}, {}});
  f.feed(0, 80'000);
  f.feed(1, 2'000);
  f.feed(2, 10'000);
  auto c = f.counts(3'000);
  EXPECT_EQ(c[0], 0);        // always loses its pair
  EXPECT_NEAR(c[1], 2'000, 250);  // wins whenever drawn: 2 pairs of 3
  EXPECT_NEAR(c[2], 1'000, 250);
}

TEST(RoutingSelect, P2cCountsInflight) {
  Fixture f(Strategy::p2c, {{}, {}});
  f.feed(0, 10'000);
  f.feed(1, 4'000);
  // 1 is faster, but with 4 calls held its cost is 4000*5 > 10000*1.
  bool p = false;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(f.health(1).acquire(f.breaker, kT0, p));
  auto c = f.counts(100);
  EXPECT_EQ(c[0], 100);
  for (int i = 0; i < 4; ++i)
    f.health(1).finish(f.breaker, false, TryResult::neutral, 0, 0, 0, kT0);
}

// --- tiers, tried, NoPick --------------------------------------------------------------------

TEST(RoutingSelect, HigherTierOnlyWhenLowerExhausted) {
  Fixture f(Strategy::round_robin, {{1, 0}, {1, 0}, {1, 1}});
  auto c = f.counts(100);
  EXPECT_EQ(c[2], 0);
  EXPECT_EQ(c[0] + c[1], 100);
  // Both of tier 0 tried: tier 1.
  EXPECT_EQ(f.pick(0b011).target, 2);
  // One tried, the other open: tier 1.
  f.open(1);
  EXPECT_EQ(f.pick(0b001).target, 2);
  // Untried tier-0 target usable: it wins over tier 1.
  EXPECT_EQ(f.pick(0b010).target, 0);
  // Both of tier 0 unusable: tier 1.
  f.open(0);
  EXPECT_EQ(f.pick().target, 2);
}

TEST(RoutingSelect, TriedMaskAndAllowTried) {
  Fixture f(Strategy::round_robin, {{}, {}});
  EXPECT_EQ(f.pick(0b01).target, 1);
  EXPECT_EQ(f.pick(0b10).target, 0);
  NoPick why;
  Pick p = select(f.route, 0b11, false, kT0, why);
  EXPECT_EQ(p.target, -1);
  EXPECT_TRUE(why.all_tried);
  EXPECT_EQ(why.retry_at_ns, 0);
  EXPECT_EQ(f.total_inflight(), 0);  // nothing acquired
  // A retry: tried targets count again.
  std::set<int> seen;
  for (int i = 0; i < 4; ++i) seen.insert(f.pick(0b11, true).target);
  EXPECT_EQ(seen, (std::set<int>{0, 1}));
}

TEST(RoutingSelect, NoPickReportsRetryAtWhenBreakersOpen) {
  Fixture f(Strategy::round_robin, {{}, {}});
  f.open(0, kT0);
  f.open(1, kT0 + 2 * kSec);
  NoPick why;
  Pick p = select(f.route, 0, false, kT0 + 3 * kSec, why);
  EXPECT_EQ(p.target, -1);
  EXPECT_EQ(why.retry_at_ns, kT0 + 5 * kSec);  // the sooner of the two cooldowns
  EXPECT_EQ(f.total_inflight(), 0);
  // Tried + usable vs untried + open: not all tried? The untried one is unusable, so every
  // usable target was tried; the open one still reports when it comes back.
  Fixture g(Strategy::round_robin, {{}, {}});
  g.open(1, kT0);
  NoPick w2;
  EXPECT_EQ(select(g.route, 0b01, false, kT0 + kSec, w2).target, -1);
  EXPECT_TRUE(w2.all_tried);
  EXPECT_EQ(w2.retry_at_ns, kT0 + 5 * kSec);
  // Past the cooldown, the open one is a half-open probe.
  NoPick w3;
  Pick probe = select(f.route, 0, false, kT0 + 5 * kSec, w3);
  ASSERT_EQ(probe.target, 0);
  EXPECT_TRUE(probe.probe);
  EXPECT_EQ(f.health(0).state(), BreakerState::half_open);
  // Its only probe is out: nothing else usable until target 1's cooldown.
  NoPick w4;
  EXPECT_EQ(select(f.route, 0, false, kT0 + 5 * kSec, w4).target, -1);
  f.health(0).finish(f.breaker, probe.probe, TryResult::success, 10, 0, 0, kT0 + 5 * kSec);
  EXPECT_EQ(f.health(0).state(), BreakerState::closed);
}

TEST(RoutingSelect, CheckFailedTargetIsSkipped) {
  Fixture f(Strategy::round_robin, {{}, {}});
  f.health(0).check_failed->store(true);
  auto c = f.counts(20);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[1], 20);
}

TEST(RoutingSelect, MultiKeyRotationSkipsCoolingKey) {
  Fixture f(Strategy::round_robin, {{1, 0, 3}});
  std::map<int, int> keys;
  for (int i = 0; i < 30; ++i) {
    Pick p = f.pick();
    ASSERT_EQ(p.target, 0);
    ++keys[p.key];
  }
  EXPECT_EQ(keys[0], 10);
  EXPECT_EQ(keys[1], 10);
  EXPECT_EQ(keys[2], 10);
  // Key 1 gets a 429: cooled for 2 s, the others keep serving.
  bool probe = false;
  ASSERT_TRUE(f.health(0).acquire(f.breaker, kT0, probe));
  f.health(0).finish(f.breaker, probe, TryResult::rate_limited, 0, 1, kT0 + 2 * kSec, kT0);
  keys.clear();
  for (int i = 0; i < 30; ++i) {
    Pick p = f.pick();
    ASSERT_EQ(p.target, 0);
    ++keys[p.key];
  }
  EXPECT_EQ(keys[1], 0);
  EXPECT_GT(keys[0], 0);
  EXPECT_GT(keys[2], 0);
  // All keys cooling: the target is out, retry_at is the soonest key.
  for (int k : {0, 2}) {
    ASSERT_TRUE(f.health(0).acquire(f.breaker, kT0, probe));
    f.health(0).finish(f.breaker, probe, TryResult::rate_limited, 0, k, kT0 + (3 + k) * kSec, kT0);
  }
  NoPick why;
  EXPECT_EQ(select(f.route, 0, false, kT0, why).target, -1);
  EXPECT_EQ(why.retry_at_ns, kT0 + 2 * kSec);
  // After key 1's cool-down only key 1 serves.
  Pick back = f.pick(0, false, kT0 + 2 * kSec);
  EXPECT_EQ(back.target, 0);
  EXPECT_EQ(back.key, 1);
  EXPECT_EQ(f.total_inflight(), 0);
}

TEST(RoutingSelect, SingleKeyCoolingMovesToOtherTarget) {
  Fixture f(Strategy::round_robin, {{}, {}});
  bool probe = false;
  ASSERT_TRUE(f.health(0).acquire(f.breaker, kT0, probe));
  f.health(0).finish(f.breaker, probe, TryResult::rate_limited, 0, 0, kT0 + kSec, kT0);
  auto c = f.counts(10);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[1], 10);
  EXPECT_EQ(f.health(0).state(), BreakerState::closed);  // a 429 is not a breaker failure
  auto after = f.counts(10, kT0 + kSec);
  EXPECT_EQ(after[0], 5);
}

TEST(RoutingSelect, SixtyFourTargets) {
  std::vector<Spec> specs(64);
  Fixture f(Strategy::round_robin, specs);
  uint64_t all_but_last = ~uint64_t{0} >> 1;
  EXPECT_EQ(f.pick(all_but_last).target, 63);
  NoPick why;
  EXPECT_EQ(select(f.route, ~uint64_t{0}, false, kT0, why).target, -1);
  EXPECT_TRUE(why.all_tried);
}

TEST(RoutingSelect, MaxAttemptsDefaultsToTargetCount) {
  Fixture f(Strategy::round_robin, {{}, {}, {}});
  EXPECT_EQ(f.route.max_attempts(), 3);
  f.route.retry.attempts = 5;
  EXPECT_EQ(f.route.max_attempts(), 5);
}

// --- retry budget ----------------------------------------------------------------------------

TEST(RoutingRetryBudget, PercentOfRequests) {
  RetryBudget b;
  for (int i = 0; i < 100; ++i) b.on_request(kT0 + i * kMs);
  int allowed = 0;
  for (int i = 0; i < 30; ++i) allowed += b.try_retry(20, 0, kT0 + 500 * kMs);
  EXPECT_EQ(allowed, 20);
  EXPECT_EQ(b.retries(), 20u);
  EXPECT_EQ(b.exhausted(), 10u);
}

TEST(RoutingRetryBudget, FloorPerSecondAlone) {
  RetryBudget b;
  int allowed = 0;
  for (int i = 0; i < 200; ++i) allowed += b.try_retry(0, 10, kT0);
  EXPECT_EQ(allowed, 10 * RetryBudget::kBuckets);
  EXPECT_EQ(b.exhausted(), 200u - 10 * RetryBudget::kBuckets);
}

TEST(RoutingRetryBudget, ZeroBudgetRefusesAll) {
  RetryBudget b;
  for (int i = 0; i < 100; ++i) b.on_request(kT0);
  EXPECT_FALSE(b.try_retry(0, 0, kT0));
  EXPECT_EQ(b.exhausted(), 1u);
}

TEST(RoutingRetryBudget, WindowSlides) {
  RetryBudget b;
  for (int i = 0; i < 100; ++i) b.on_request(kT0);
  int first = 0;
  for (int i = 0; i < 20; ++i) first += b.try_retry(20, 0, kT0);
  EXPECT_EQ(first, 20);
  EXPECT_FALSE(b.try_retry(20, 0, kT0 + 5 * kSec));  // still in the window
  // 11 s later the old requests and retries are gone: no requests, no budget.
  EXPECT_FALSE(b.try_retry(20, 0, kT0 + 11 * kSec));
  // New requests there give a new budget, independent of the old retries.
  for (int i = 0; i < 50; ++i) b.on_request(kT0 + 11 * kSec);
  int later = 0;
  for (int i = 0; i < 20; ++i) later += b.try_retry(20, 0, kT0 + 11 * kSec);
  EXPECT_EQ(later, 10);
}

}  // namespace
}  // namespace torii::routing
