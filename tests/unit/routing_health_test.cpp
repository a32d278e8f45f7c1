// Tests for src/routing/health.h: the TargetHealth circuit breaker, EWMA, in-flight counts,
// per-key 429 cool-downs, HealthRegistry and retry_after_ms. Time is passed explicitly (`now`
// in ns), so no test sleeps.
#include "routing/health.h"

#include <gtest/gtest.h>

#include <ctime>
#include <thread>
#include <vector>

namespace torii::routing {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'000 * kSec;  // an arbitrary start, far from 0

BreakerConfig consecutive_only(int n, int64_t cooldown_ms = 5'000, int probes = 1) {
  BreakerConfig c;
  c.consecutive_failures = n;
  c.error_rate_percent = 0;
  c.cooldown = std::chrono::milliseconds(cooldown_ms);
  c.half_open_probes = probes;
  return c;
}

// One whole call: acquire, then finish with `r`. False if the breaker refused.
bool call(TargetHealth& h, const BreakerConfig& c, TryResult r, int64_t now,
          int64_t latency_us = 1'000) {
  bool probe = false;
  if (!h.acquire(c, now, probe)) return false;
  h.finish(c, probe, r, latency_us, 0, 0, now);
  return true;
}

TEST(RoutingHealth, OpensAfterConsecutiveFailures) {
  const BreakerConfig c = consecutive_only(3);
  TargetHealth h;
  EXPECT_EQ(h.state(), BreakerState::closed);
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  EXPECT_EQ(h.state(), BreakerState::closed);
  EXPECT_TRUE(h.may_allow(c, kT0));
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  EXPECT_EQ(h.state(), BreakerState::open);
  EXPECT_FALSE(h.may_allow(c, kT0));
  EXPECT_EQ(h.opened(), 1u);
  EXPECT_EQ(h.failures(), 3u);
  EXPECT_EQ(h.calls(), 3u);
}

TEST(RoutingHealth, SuccessResetsConsecutiveCount) {
  const BreakerConfig c = consecutive_only(3);
  TargetHealth h;
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
    ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
    ASSERT_TRUE(call(h, c, TryResult::success, kT0));
  }
  EXPECT_EQ(h.state(), BreakerState::closed);
  EXPECT_EQ(h.opened(), 0u);
  // Neutral and rate-limited results neither count as failures nor reset the count.
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  ASSERT_TRUE(call(h, c, TryResult::neutral, kT0));
  ASSERT_TRUE(call(h, c, TryResult::rate_limited, kT0));
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  EXPECT_EQ(h.state(), BreakerState::closed);
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  EXPECT_EQ(h.state(), BreakerState::open);
}

TEST(RoutingHealth, ErrorRateTripsOnlyAfterMinRequests) {
  BreakerConfig c;
  c.consecutive_failures = 0;
  c.error_rate_percent = 50;
  c.min_requests = 10;
  c.window = std::chrono::milliseconds(10'000);
  TargetHealth h;
  // Alternate: 50% failures, never two in a row that matter (consecutive is off anyway).
  int64_t now = kT0;
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(call(h, c, i % 2 == 0 ? TryResult::failure : TryResult::success, now));
    now += 100 * kMs;
  }
  // 9 calls, 5 failed (55%): under min_requests, still closed.
  EXPECT_EQ(h.state(), BreakerState::closed);
  ASSERT_TRUE(call(h, c, TryResult::success, now));  // 10 calls, 5 failed: 50%, but a success
  EXPECT_EQ(h.state(), BreakerState::closed);        // only failures check the rate
  ASSERT_TRUE(call(h, c, TryResult::failure, now));  // 11 calls, 6 failed
  EXPECT_EQ(h.state(), BreakerState::open);
}

TEST(RoutingHealth, ErrorRateBelowThresholdStaysClosed) {
  BreakerConfig c;
  c.consecutive_failures = 0;
  c.error_rate_percent = 50;
  c.min_requests = 10;
  TargetHealth h;
  int64_t now = kT0;
  // 1 failure in 3 (33%) over 60 calls.
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(call(h, c, i % 3 == 0 ? TryResult::failure : TryResult::success, now));
    now += 10 * kMs;
  }
  EXPECT_EQ(h.state(), BreakerState::closed);
}

TEST(RoutingHealth, ErrorRateWindowForgetsOldBuckets) {
  BreakerConfig c;
  c.consecutive_failures = 0;
  c.error_rate_percent = 50;
  c.min_requests = 10;
  c.window = std::chrono::milliseconds(10'000);  // 10 buckets of 1 s
  TargetHealth h;
  // 8 failures at t0: under min_requests.
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  EXPECT_EQ(h.state(), BreakerState::closed);
  // 11 s later the old failures are out of the window: 9 successes + 1 failure = 10% only.
  const int64_t later = kT0 + 11 * kSec;
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(call(h, c, TryResult::success, later));
  ASSERT_TRUE(call(h, c, TryResult::failure, later));
  EXPECT_EQ(h.state(), BreakerState::closed);
  // Within the window they do count: same start, 2 more failures 5 s later -> 10 of 10.
  TargetHealth h2;
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(call(h2, c, TryResult::failure, kT0));
  ASSERT_TRUE(call(h2, c, TryResult::failure, kT0 + 5 * kSec));
  EXPECT_EQ(h2.state(), BreakerState::closed);  // 9 < min_requests
  ASSERT_TRUE(call(h2, c, TryResult::failure, kT0 + 5 * kSec));
  EXPECT_EQ(h2.state(), BreakerState::open);
}

TEST(RoutingHealth, OpenRefusesUntilCooldownThenHalfOpenProbes) {
  const BreakerConfig c = consecutive_only(1, /*cooldown_ms=*/5'000, /*probes=*/2);
  TargetHealth h;
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  ASSERT_EQ(h.state(), BreakerState::open);
  bool probe = true;
  EXPECT_FALSE(h.acquire(c, kT0 + 4'999 * kMs, probe));
  EXPECT_FALSE(h.may_allow(c, kT0 + 4'999 * kMs));
  EXPECT_EQ(h.inflight(), 0);
  EXPECT_EQ(h.available_at(c, 1, kT0), kT0 + 5'000 * kMs);

  const int64_t t = kT0 + 5'000 * kMs;
  EXPECT_TRUE(h.may_allow(c, t));
  bool p1 = false, p2 = false, p3 = false;
  ASSERT_TRUE(h.acquire(c, t, p1));
  EXPECT_EQ(h.state(), BreakerState::half_open);
  EXPECT_TRUE(p1);
  EXPECT_TRUE(h.may_allow(c, t));  // one probe left
  ASSERT_TRUE(h.acquire(c, t, p2));
  EXPECT_TRUE(p2);
  EXPECT_FALSE(h.may_allow(c, t));  // both probes out
  EXPECT_FALSE(h.acquire(c, t, p3));
  EXPECT_EQ(h.inflight(), 2);

  // One probe succeeds: still half-open (needs both).
  h.finish(c, p1, TryResult::success, 100, 0, 0, t);
  EXPECT_EQ(h.state(), BreakerState::half_open);
  h.finish(c, p2, TryResult::success, 100, 0, 0, t);
  EXPECT_EQ(h.state(), BreakerState::closed);
  EXPECT_EQ(h.inflight(), 0);
  EXPECT_TRUE(h.may_allow(c, t));
  bool again = true;
  ASSERT_TRUE(h.acquire(c, t, again));
  EXPECT_FALSE(again);  // closed: no probe
  h.finish(c, again, TryResult::success, 100, 0, 0, t);
}

TEST(RoutingHealth, ProbeFailureReopensWithNewCooldown) {
  const BreakerConfig c = consecutive_only(2, /*cooldown_ms=*/1'000);
  TargetHealth h;
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  ASSERT_EQ(h.state(), BreakerState::open);
  const int64_t t = kT0 + 1'500 * kMs;
  bool probe = false;
  ASSERT_TRUE(h.acquire(c, t, probe));
  ASSERT_TRUE(probe);
  h.finish(c, probe, TryResult::failure, 100, 0, 0, t);
  EXPECT_EQ(h.state(), BreakerState::open);
  EXPECT_EQ(h.opened(), 2u);  // half-open -> open counts as another opening
  EXPECT_FALSE(h.may_allow(c, t + 999 * kMs));
  EXPECT_TRUE(h.may_allow(c, t + 1'000 * kMs));
  EXPECT_EQ(h.available_at(c, 1, kT0), t + 1'000 * kMs);
}

TEST(RoutingHealth, NeutralProbeGivesTheProbeBack) {
  const BreakerConfig c = consecutive_only(1, 1'000, 1);
  TargetHealth h;
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  const int64_t t = kT0 + 2 * kSec;
  bool probe = false;
  ASSERT_TRUE(h.acquire(c, t, probe));
  ASSERT_TRUE(probe);
  EXPECT_FALSE(h.may_allow(c, t));
  h.finish(c, probe, TryResult::neutral, 0, 0, 0, t);
  EXPECT_EQ(h.state(), BreakerState::half_open);
  EXPECT_TRUE(h.may_allow(c, t));
  ASSERT_TRUE(h.acquire(c, t, probe));
  EXPECT_TRUE(probe);
  h.finish(c, probe, TryResult::success, 10, 0, 0, t);
  EXPECT_EQ(h.state(), BreakerState::closed);
}

TEST(RoutingHealth, NonProbeResultsWhileHalfOpenDoNotDecide) {
  // A call started before the breaker opened, finishing while half-open, is ignored.
  const BreakerConfig c = consecutive_only(1, 1'000, 1);
  TargetHealth h;
  bool old_probe = false;
  ASSERT_TRUE(h.acquire(c, kT0, old_probe));  // a slow call in flight
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));
  ASSERT_EQ(h.state(), BreakerState::open);
  const int64_t t = kT0 + 2 * kSec;
  bool probe = false;
  ASSERT_TRUE(h.acquire(c, t, probe));
  ASSERT_TRUE(probe);
  h.finish(c, old_probe, TryResult::success, 10, 0, 0, t);
  EXPECT_EQ(h.state(), BreakerState::half_open);
  h.finish(c, probe, TryResult::failure, 10, 0, 0, t);
  EXPECT_EQ(h.state(), BreakerState::open);
}

TEST(RoutingHealth, DisabledBreakerNeverRefuses) {
  BreakerConfig c = consecutive_only(1);
  c.enabled = false;
  TargetHealth h;
  for (int i = 0; i < 100; ++i) {
    bool probe = true;
    ASSERT_TRUE(h.acquire(c, kT0, probe));
    EXPECT_FALSE(probe);
    h.finish(c, probe, TryResult::failure, 1'000, 0, 0, kT0);
  }
  EXPECT_TRUE(h.may_allow(c, kT0));
  EXPECT_EQ(h.state(), BreakerState::closed);
  EXPECT_EQ(h.opened(), 0u);
  EXPECT_EQ(h.failures(), 100u);
  EXPECT_EQ(h.available_at(c, 1, kT0), 0);
}

TEST(RoutingHealth, RateLimitedCoolsOnlyThatKey) {
  const BreakerConfig c = consecutive_only(1);
  TargetHealth h;
  EXPECT_EQ(h.free_key(3, 0, kT0), 0);
  bool probe = false;
  ASSERT_TRUE(h.acquire(c, kT0, probe));
  h.finish(c, probe, TryResult::rate_limited, 100, /*key=*/1, /*cool_until=*/kT0 + 2 * kSec, kT0);
  // Not a breaker failure, even with consecutive_failures 1.
  EXPECT_EQ(h.state(), BreakerState::closed);
  EXPECT_EQ(h.failures(), 0u);
  EXPECT_TRUE(h.may_allow(c, kT0));
  // Key 1 is skipped; the scan starts where asked and wraps.
  EXPECT_EQ(h.free_key(3, 0, kT0), 0);
  EXPECT_EQ(h.free_key(3, 1, kT0), 2);
  EXPECT_EQ(h.free_key(3, 2, kT0), 2);
  EXPECT_EQ(h.free_key(3, 4, kT0), 2);  // start 4 % 3 == 1
  // Keys 0 and 2 free: available now (0 means nothing to wait for).
  EXPECT_LE(h.available_at(c, 3, kT0), kT0);
  // Only one key: it is cooling, available_at is its end.
  EXPECT_EQ(h.free_key(2, 1, kT0), 0);
  ASSERT_TRUE(h.acquire(c, kT0, probe));
  h.finish(c, probe, TryResult::rate_limited, 100, 0, kT0 + 3 * kSec, kT0);
  ASSERT_TRUE(h.acquire(c, kT0, probe));
  h.finish(c, probe, TryResult::rate_limited, 100, 2, kT0 + 4 * kSec, kT0);
  EXPECT_EQ(h.free_key(3, 0, kT0), -1);
  EXPECT_EQ(h.available_at(c, 3, kT0), kT0 + 2 * kSec);  // the soonest key
  EXPECT_EQ(h.free_key(3, 0, kT0 + 2 * kSec), 1);
  // A later 429 with a shorter cool-down does not shorten it.
  ASSERT_TRUE(h.acquire(c, kT0, probe));
  h.finish(c, probe, TryResult::rate_limited, 100, 2, kT0 + 1 * kSec, kT0);
  EXPECT_EQ(h.free_key(1, 0, kT0 + 3 * kSec), 0);
  EXPECT_EQ(h.free_key(3, 2, kT0 + 3 * kSec), 0);  // key 2 still cooling until +4 s
  EXPECT_EQ(h.inflight(), 0);
}

TEST(RoutingHealth, AvailableAtIsTheLaterOfBreakerAndKeys) {
  const BreakerConfig c = consecutive_only(1, 5'000);
  TargetHealth h;
  bool probe = false;
  ASSERT_TRUE(h.acquire(c, kT0, probe));
  h.finish(c, probe, TryResult::rate_limited, 0, 0, kT0 + 9 * kSec, kT0);
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0));  // opens until +5 s
  ASSERT_EQ(h.state(), BreakerState::open);
  EXPECT_EQ(h.available_at(c, 1, kT0), kT0 + 9 * kSec);
  EXPECT_EQ(h.available_at(c, 2, kT0), kT0 + 5 * kSec);  // key 1 is free: the breaker decides
}

TEST(RoutingHealth, CheckFailedFlagBlocks) {
  BreakerConfig c = consecutive_only(5);
  TargetHealth h;
  EXPECT_TRUE(h.may_allow(c, kT0));
  h.check_failed->store(true);
  EXPECT_FALSE(h.may_allow(c, kT0));
  c.enabled = false;  // the active check is not the breaker: still out
  EXPECT_FALSE(h.may_allow(c, kT0));
  h.check_failed->store(false);
  EXPECT_TRUE(h.may_allow(c, kT0));
}

TEST(RoutingHealth, InflightCounts) {
  const BreakerConfig c;
  TargetHealth h;
  bool p[3];
  for (bool& x : p) ASSERT_TRUE(h.acquire(c, kT0, x));
  EXPECT_EQ(h.inflight(), 3);
  h.finish(c, p[0], TryResult::success, 10, 0, 0, kT0);
  EXPECT_EQ(h.inflight(), 2);
  h.finish(c, p[1], TryResult::neutral, 0, 0, 0, kT0);
  h.finish(c, p[2], TryResult::failure, 10, 0, 0, kT0);
  EXPECT_EQ(h.inflight(), 0);
  EXPECT_EQ(h.calls(), 3u);
  EXPECT_EQ(h.last_pick_ns(), kT0);
}

TEST(RoutingHealth, EwmaMovesTowardSamples) {
  BreakerConfig c;
  c.enabled = false;  // failures are fed below; the breaker must not refuse them
  TargetHealth h;
  EXPECT_EQ(h.ewma_us(), 0);
  ASSERT_TRUE(call(h, c, TryResult::success, kT0, 10'000));
  EXPECT_EQ(h.ewma_us(), 10'000);  // the first sample is taken as is
  ASSERT_TRUE(call(h, c, TryResult::success, kT0, 20'000));
  EXPECT_GT(h.ewma_us(), 10'000);
  EXPECT_LT(h.ewma_us(), 20'000);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(call(h, c, TryResult::success, kT0, 20'000));
  EXPECT_NEAR(h.ewma_us(), 20'000, 100);
  // Down again, with successes only; failures, neutral and rate-limited calls are no samples
  // (a refused connection fails in 0.1 ms: it must not make a broken target look fast).
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(call(h, c, TryResult::success, kT0, 1'000));
  EXPECT_NEAR(h.ewma_us(), 1'000, 100);
  const int64_t before = h.ewma_us();
  ASSERT_TRUE(call(h, c, TryResult::failure, kT0, 10));
  ASSERT_TRUE(call(h, c, TryResult::neutral, kT0, 900'000));
  ASSERT_TRUE(call(h, c, TryResult::rate_limited, kT0, 900'000));
  EXPECT_EQ(h.ewma_us(), before);
  // A zero first sample still marks the target as measured.
  TargetHealth z;
  ASSERT_TRUE(call(z, c, TryResult::success, kT0, 0));
  EXPECT_GT(z.ewma_us(), 0);
}

TEST(RoutingHealth, ConcurrentAcquireFinishBalances) {
  BreakerConfig c;
  c.enabled = true;
  TargetHealth h;
  constexpr int kThreads = 8, kPerThread = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        bool probe = false;
        if (!h.acquire(c, kT0 + i, probe)) continue;
        h.finish(c, probe, (i + t) % 2 ? TryResult::success : TryResult::neutral, 100, 0, 0,
                 kT0 + i);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(h.inflight(), 0);
  EXPECT_EQ(h.calls(), static_cast<uint64_t>(kThreads) * kPerThread);
  EXPECT_EQ(h.state(), BreakerState::closed);
}

TEST(RoutingHealth, RegistrySharesByNameAndProviderFlag) {
  HealthRegistry reg;
  auto a1 = reg.get("p", "m");
  auto a2 = reg.get("p", "m");
  auto b = reg.get("p", "other");
  auto c = reg.get("q", "m");
  EXPECT_EQ(a1.get(), a2.get());
  EXPECT_NE(a1.get(), b.get());
  EXPECT_NE(a1.get(), c.get());
  // Targets of one provider share its check flag; another provider's is separate.
  EXPECT_EQ(a1->check_failed.get(), b->check_failed.get());
  EXPECT_EQ(reg.provider_flag("p").get(), a1->check_failed.get());
  EXPECT_NE(a1->check_failed.get(), c->check_failed.get());
  reg.provider_flag("p")->store(true);
  EXPECT_FALSE(b->may_allow(BreakerConfig{}, kT0));
  EXPECT_TRUE(c->may_allow(BreakerConfig{}, kT0));
  // Weak: once nobody holds it, a new entry starts fresh.
  bool probe = false;
  a1->acquire(BreakerConfig{}, kT0, probe);
  a1.reset();
  a2.reset();
  auto fresh = reg.get("p", "m");
  EXPECT_EQ(fresh->calls(), 0u);
}

// --- retry_after_ms -----------------------------------------------------------------------

std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

TEST(RoutingRetryAfter, Seconds) {
  EXPECT_EQ(retry_after_ms("120", ""), 120'000);
  EXPECT_EQ(retry_after_ms("0", ""), 0);
  EXPECT_EQ(retry_after_ms(" 7 ", ""), 7'000);
}

TEST(RoutingRetryAfter, Fractional) {
  EXPECT_EQ(retry_after_ms("1.5", ""), 1'500);
  EXPECT_EQ(retry_after_ms("0.25", ""), 250);
}

TEST(RoutingRetryAfter, MillisecondsHeaderWins) {
  EXPECT_EQ(retry_after_ms("10", "250"), 250);
  EXPECT_EQ(retry_after_ms("", "1500"), 1'500);
  EXPECT_EQ(retry_after_ms("3", "junk"), 3'000);  // a bad ms header falls back
}

TEST(RoutingRetryAfter, HttpDateInTheFutureAndPast) {
  const std::time_t now = std::time(nullptr);
  const int64_t ms = retry_after_ms(http_date(now + 120), "");
  EXPECT_GE(ms, 118'000);
  EXPECT_LE(ms, 120'000);
  EXPECT_EQ(retry_after_ms(http_date(now - 3600), ""), 0);
  EXPECT_EQ(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", ""), 0);
}

TEST(RoutingRetryAfter, GarbageIsMinusOne) {
  EXPECT_EQ(retry_after_ms("", ""), -1);
  EXPECT_EQ(retry_after_ms("soon", ""), -1);
  EXPECT_EQ(retry_after_ms("-5", ""), -1);
  EXPECT_EQ(retry_after_ms("12abc", ""), -1);
  EXPECT_EQ(retry_after_ms("this is not a date, honest", ""), -1);
  EXPECT_EQ(retry_after_ms("", "-1"), -1);
  EXPECT_EQ(retry_after_ms("nan", ""), -1);
}

// A Retry-After an upstream could send must never turn into a negative or undefined pause:
// "inf" is not a number of seconds, and a huge number must be capped, not overflow int64.
TEST(RoutingRetryAfter, InfinityAndHugeValuesDoNotOverflow) {
  EXPECT_EQ(retry_after_ms("inf", ""), -1) << "'inf' is not delta-seconds";
  EXPECT_EQ(retry_after_ms("", "infinity"), -1) << "'infinity' is not a number of ms";
  const int64_t huge = retry_after_ms("99999999999999999999", "");
  EXPECT_GT(huge, 0) << "a huge Retry-After overflowed to " << huge;
  const int64_t huge_ms = retry_after_ms("", "1e300");
  EXPECT_GT(huge_ms, 0) << "a huge retry-after-ms overflowed to " << huge_ms;
}

}  // namespace
}  // namespace torii::routing
