// The quota store conformance suite (store.h), run over the memory store and the Redis store
// (against a redis-server started here, with a password and a non-zero db). Clocks are injected:
// no test sleeps to cross a window edge. Redis-only tests at the end: failure and recovery.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "quota/redis_store.h"
#include "quota/store.h"
#include "redis_server.h"

namespace torii::quota {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int64_t kSecond = 1'000'000;
// The injected clock: an hour ahead of the wall clock, on a whole second. Real-sized (~1.8e15
// µs, far beyond 2^32), and ahead so that Redis' wall-clock expiry (TAT + 1 s) never drops a
// cell while a test still reads it.
const int64_t kT0 = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                            .count() * kSecond + 3600 * kSecond;
constexpr char kPassword[] = "s3cret-test-pass";

// Runs one coroutine to completion on `ioc` (restarted: pooled connections stay bound to it).
template <class T>
T run(net::io_context& ioc, Task<T> task) {
  std::optional<T> out;
  net::co_spawn(
      ioc, [&]() -> Task<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.restart();
  ioc.run();
  return std::move(*out);
}

testing::RedisServer& redis_server() {
  static testing::RedisServer server(kPassword);
  return server;
}

RedisConfig redis_config(const std::string& prefix) {
  RedisConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = redis_server().port();
  cfg.db = 3;
  cfg.password.value = kPassword;
  cfg.prefix = prefix;
  cfg.pool = 2;
  cfg.timeout = milliseconds(200);  // generous: the test machine is shared
  cfg.connect_timeout = milliseconds(500);
  return cfg;
}

enum class Backend { memory, redis };

std::string name_of(const ::testing::TestParamInfo<Backend>& p) {
  return p.param == Backend::memory ? "memory" : "redis";
}

class QuotaStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() { redis_server().stop(); }

  void SetUp() override {
    if (GetParam() == Backend::memory) {
      store_ = make_memory_store();
      return;
    }
    if (!testing::RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_server().start()) << "redis-server did not start";
    // A fresh key space per test: the server lives for the whole suite.
    static std::atomic<int> n{0};
    prefix_ = "t" + std::to_string(n++) + ":";
    store_ = make_redis_store(redis_config(prefix_));
  }

  // The fixture's calls, run to completion.
  Result<RateReply> consume(std::vector<RateOp> ops, int64_t now) {
    return run(ioc_, store_->consume(ops, now));
  }
  Result<void> adjust(std::vector<RateAdjust> ops, int64_t now) {
    return run(ioc_, static_cast<RateLimitStore&>(*store_).adjust(ops, now));
  }
  Result<BudgetReply> reserve(std::vector<BudgetOp> ops) { return run(ioc_, store_->reserve(ops)); }
  Result<Counts> adjust(std::vector<BudgetOp> ops) {
    return run(ioc_, static_cast<BudgetStore&>(*store_).adjust(ops));
  }
  int64_t total(const std::string& key) {
    auto r = run(ioc_, store_->total(key));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : -1;
  }
  Result<Admission> admit(std::vector<RateOp> rate, std::vector<BudgetOp> budget, int64_t now) {
    return run(ioc_, store_->admit(rate, budget, now));
  }
  Result<Counts> settle(std::vector<RateAdjust> rate, std::vector<BudgetOp> budget,
                                      int64_t now) {
    return run(ioc_, store_->settle(rate, budget, now));
  }
  // How many single requests of `op` fit at `now` (consuming them).
  int drain(const RateOp& op, int64_t now, int max = 1000) {
    int n = 0;
    while (n < max) {
      auto r = consume({op}, now);
      if (!r.ok() || !r->allowed) break;
      ++n;
    }
    return n;
  }

  net::io_context ioc_;
  std::shared_ptr<QuotaStore> store_;
  std::string prefix_;
};

// 4 requests per second: increment 250 ms.
RateOp four_per_second(std::string_view key) { return {key, 250'000, kSecond}; }  // a literal

TEST_P(QuotaStoreTest, BurstEqualsLimitThenRefuses) {
  auto op = four_per_second("rl:a:req:*");
  for (int i = 1; i <= 4; ++i) {
    auto r = consume({op}, kT0);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->allowed) << "request " << i;
    ASSERT_EQ(r->tat_us.size(), 1u);
    EXPECT_EQ(r->tat_us[0], kT0 + i * 250'000);  // exact at ~1.8e15 µs
  }
  auto r = consume({op}, kT0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->denied, 0);
  EXPECT_EQ(r->tat_us[0], kT0 + kSecond);  // unchanged
  EXPECT_EQ(store_->kind(), GetParam() == Backend::memory ? "memory" : "redis");
}

TEST_P(QuotaStoreTest, WindowEdgesWithInjectedClock) {
  auto op = four_per_second("rl:edge:req:*");
  ASSERT_EQ(drain(op, kT0), 4);
  // One increment later exactly one more fits; a microsecond earlier none does.
  EXPECT_FALSE(consume({op}, kT0 + 249'999)->allowed);
  EXPECT_TRUE(consume({op}, kT0 + 250'000)->allowed);
  EXPECT_FALSE(consume({op}, kT0 + 250'000)->allowed);
  // A whole window later the full burst is back.
  EXPECT_EQ(drain(op, kT0 + 250'000 + kSecond), 4);
  // A cell long past its TAT is the same as a fresh one.
  EXPECT_EQ(drain(op, kT0 + 3600 * kSecond), 4);
}

TEST_P(QuotaStoreTest, OpLargerThanTheWindowNeverFits) {
  auto r = consume({{"rl:big:tok:*", 2 * kSecond, kSecond}}, kT0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->denied, 0);
}

TEST_P(QuotaStoreTest, RateBatchIsAllOrNothing) {
  auto a = four_per_second("rl:x:req:key=a");
  auto b = four_per_second("rl:x:req:key=b");
  ASSERT_EQ(drain(b, kT0), 4);
  auto r = consume({a, b}, kT0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->denied, 1);
  ASSERT_EQ(r->tat_us.size(), 2u);
  EXPECT_EQ(r->tat_us[1], kT0 + kSecond);
  // Nothing of the batch was applied: a still has its full burst.
  EXPECT_EQ(drain(a, kT0), 4);
}

TEST_P(QuotaStoreTest, RepeatedKeyInOneBatchCountsEachOp) {
  auto op = four_per_second("rl:dup:req:*");
  auto r = consume({op, op, op}, kT0);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->allowed);
  EXPECT_EQ(r->tat_us[0], kT0 + 250'000);
  EXPECT_EQ(r->tat_us[2], kT0 + 750'000);
  EXPECT_FALSE(consume({op, op}, kT0)->allowed);  // 5 > 4: none applied
  EXPECT_EQ(drain(op, kT0), 1);
}

TEST_P(QuotaStoreTest, RateAdjustGivesBackAndCharges) {
  auto op = four_per_second("rl:adj:tok:*");
  ASSERT_EQ(drain(op, kT0), 4);
  ASSERT_TRUE(adjust({{op.key, -500'000}}, kT0).ok());
  EXPECT_EQ(drain(op, kT0), 2);
  ASSERT_TRUE(adjust({{op.key, -10 * kSecond}}, kT0).ok());  // never below "full"
  EXPECT_EQ(drain(op, kT0), 4);
  ASSERT_TRUE(adjust({{"rl:adj2:tok:*", 750'000}}, kT0).ok());  // a fresh cell, charged
  EXPECT_EQ(drain(four_per_second("rl:adj2:tok:*"), kT0), 1);
}

TEST_P(QuotaStoreTest, BudgetReserveRefusesOverLimit) {
  const std::string k = "bg:team:usd:consumer=alice:2026-11";
  auto r = reserve({{k, 60, 100, 0}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->totals, Counts{60});
  r = reserve({{k, 40, 100, 0}});  // exactly the limit fits
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(r->totals, Counts{100});
  r = reserve({{k, 1, 100, 0}});
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->denied, 0);
  EXPECT_EQ(r->totals, Counts{100});
  EXPECT_EQ(total(k), 100);
  EXPECT_EQ(total("bg:none:usd:*:total"), 0);
}

TEST_P(QuotaStoreTest, BudgetBatchIsAllOrNothing) {
  const std::string a = "bg:a:tok:*:2026-11-22", b = "bg:b:tok:*:2026-11-22";
  ASSERT_TRUE(reserve({{b, 90, 100, 0}})->allowed);
  auto r = reserve({{a, 10, 100, 0}, {b, 20, 100, 0}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->denied, 1);
  EXPECT_EQ(r->totals, (Counts{0, 90}));
  EXPECT_EQ(total(a), 0);
  EXPECT_EQ(total(b), 90);
}

TEST_P(QuotaStoreTest, SoftBudgetNeverRefuses) {
  const std::string k = "bg:soft:usd:*:total";
  auto r = reserve({{k, 4'000'000'000'000, -1, 0}});  // beyond 32 bits
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->allowed);
  r = reserve({{k, 5'000'000'000'000, -1, 0}});
  EXPECT_TRUE(r->allowed);
  EXPECT_EQ(total(k), 9'000'000'000'000);
}

TEST_P(QuotaStoreTest, BudgetAdjustAnySign) {
  const std::string k = "bg:adj:usd:*:2026-11", j = "bg:adj:tok:*:2026-11";
  const int64_t expires = 1'800'000'000'000;  // ms
  ASSERT_TRUE(reserve({{k, 500, 1000, expires}})->allowed);
  auto t = adjust({{k, -200, 0, expires}, {j, 7, 0, expires}, {k, 50, 0, expires}});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(*t, (Counts{300, 7, 350}));
  EXPECT_EQ(total(k), 350);
  EXPECT_TRUE(reserve({{k, 650, 1000, expires}})->allowed);
}

TEST_P(QuotaStoreTest, AdmitAppliesRateAndBudgetTogether) {
  auto rate = four_per_second("rl:m:req:*");
  const std::string bk = "bg:m:usd:*:2026-11";
  auto a = admit({rate}, {{bk, 70, 100, 0}}, kT0);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_TRUE(a->allowed);
  EXPECT_EQ(a->tat_us, Counts{kT0 + 250'000});
  EXPECT_EQ(a->totals, Counts{70});

  // The budget refuses: the rate op is not consumed either.
  a = admit({rate}, {{bk, 70, 100, 0}}, kT0);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->allowed);
  EXPECT_FALSE(a->rate_denied);
  EXPECT_EQ(a->denied, 0);
  EXPECT_EQ(a->totals, Counts{70});
  EXPECT_EQ(drain(rate, kT0), 3);

  // The rate refuses: nothing is reserved.
  a = admit({rate}, {{bk, 10, 100, 0}}, kT0);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->allowed);
  EXPECT_TRUE(a->rate_denied);
  EXPECT_EQ(a->denied, 0);
  EXPECT_EQ(total(bk), 70);
}

TEST_P(QuotaStoreTest, SettleAdjustsBoth) {
  RateOp tok{"rl:s:tok:*", 400'000, kSecond};  // a reservation of 40 % of the window
  const std::string bk = "bg:s:usd:*:2026-11";
  ASSERT_TRUE(admit({tok}, {{bk, 1000, 5000, 0}}, kT0)->allowed);
  // Actual usage was a quarter of the reservation: give back 300 ms and 750 micro-USD.
  auto t = settle({{tok.key, -300'000}}, {{bk, -750, 0, 0}}, kT0);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(*t, Counts{250});
  EXPECT_EQ(total(bk), 250);
  // 100 ms used of 1000: nine more 100 ms ops fit.
  EXPECT_EQ(drain({tok.key, 100'000, kSecond}, kT0), 9);
  auto empty = settle({}, {}, kT0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// Many threads (each its own io_context, as torii's workers), many concurrent calls each: the
// counts come out exact, and a rate limit lets exactly its burst through.
TEST_P(QuotaStoreTest, ConcurrentCallsAreExact) {
  constexpr int kThreads = 4, kCoroutines = 16, kOpsEach = 25;
  const std::string bk = "bg:conc:tok:*:total";
  const RateOp rate{"rl:conc:req:*", 10'000, kSecond};  // 100 per window
  std::atomic<int> allowed{0}, errors{0};
  std::mutex mu;
  std::string first_error;
  auto error = [&](const ApiError& e) {
    ++errors;
    std::lock_guard g(mu);
    if (first_error.empty()) first_error = e.message;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      net::io_context ioc;
      for (int c = 0; c < kCoroutines; ++c) {
        net::co_spawn(
            ioc,
            [&]() -> Task<void> {
              for (int i = 0; i < kOpsEach; ++i) {
                BudgetOp b{bk, 3, -1, 0};
                auto a = co_await store_->admit(std::span<const RateOp>(&rate, 1),
                                                std::span<const BudgetOp>(&b, 1), kT0);
                if (!a) error(a.error());
                else if (a->allowed) ++allowed;
                auto r = co_await store_->reserve(std::span<const BudgetOp>(&b, 1));
                if (!r) error(r.error());
                else EXPECT_TRUE(r->allowed);
              }
            },
            net::detached);
      }
      ioc.run();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_EQ(allowed.load(), 100);
  // Reservations of refused admissions are not applied; every reserve() is.
  EXPECT_EQ(total(bk), 3 * (100 + kThreads * kCoroutines * kOpsEach));
}

// ---- Administration: scan, erase (the admin API) ----------------------------------------------

// The entries of a scan, by key.
std::map<std::string, CounterState> by_key(const std::vector<CounterState>& v) {
  std::map<std::string, CounterState> out;
  for (const auto& c : v) out[c.key] = c;
  return out;
}

TEST_P(QuotaStoreTest, ScanListsByPrefixOnly) {
  ASSERT_TRUE(admit({four_per_second("rl:a:req:*"), four_per_second("rl:a:tok:key=x"),
                     four_per_second("rl:ab:req:*"), four_per_second("rl:g*:req:[x]"),
                     four_per_second("rl:gz:req:x")},
                    {{"bg:a:usd:*:2026-11", 7, 100, 0}, {"bg:ab:usd:*:2026-11", 9, 100, 0}},
                    kT0)
                  ->allowed);
  ASSERT_TRUE(consume({four_per_second("rl:a:req:*")}, kT0).ok());  // a second request

  auto a = run(ioc_, store_->scan("rl:a:", 100));
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto m = by_key(*a);
  ASSERT_EQ(m.size(), 2u);  // not rl:ab:...
  ASSERT_TRUE(m.count("rl:a:req:*"));  // keys without the store's own prefix
  EXPECT_TRUE(m["rl:a:req:*"].rate);
  EXPECT_EQ(m["rl:a:req:*"].tat_us, kT0 + 500'000);
  EXPECT_EQ(m["rl:a:tok:key=x"].tat_us, kT0 + 250'000);

  auto b = run(ioc_, store_->scan("bg:a:", 100));
  ASSERT_TRUE(b.ok()) << b.error().message;
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].key, "bg:a:usd:*:2026-11");
  EXPECT_FALSE((*b)[0].rate);
  EXPECT_EQ((*b)[0].total, 7);

  // Glob characters in the prefix match themselves (Redis: SCAN MATCH, escaped).
  auto g = run(ioc_, store_->scan("rl:g*:", 100));
  ASSERT_TRUE(g.ok()) << g.error().message;
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].key, "rl:g*:req:[x]");

  EXPECT_EQ(run(ioc_, store_->scan("rl:", 100))->size(), 5u);
  EXPECT_EQ(run(ioc_, store_->scan("rl:", 2))->size(), 2u);  // at most max
  EXPECT_TRUE(run(ioc_, store_->scan("rl:none:", 100))->empty());
}

TEST_P(QuotaStoreTest, EraseByPrefixThenCountsFromZero) {
  auto op = four_per_second("rl:e:req:*");
  EXPECT_EQ(drain(op, kT0), 4);
  ASSERT_TRUE(admit({four_per_second("rl:ee:req:*")}, {{"bg:e:tok:*:total", 40, 50, 0}}, kT0)
                  ->allowed);
  auto n = run(ioc_, store_->erase("rl:e:"));
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(run(ioc_, store_->scan("rl:", 100))->size(), 1u);  // rl:ee: stays
  EXPECT_EQ(drain(op, kT0), 4);  // a full burst again, at the same instant
  EXPECT_EQ(*run(ioc_, store_->erase("bg:e:")), 1);
  EXPECT_EQ(total("bg:e:tok:*:total"), 0);
  EXPECT_TRUE(reserve({{"bg:e:tok:*:total", 50, 50, 0}})->allowed);
  EXPECT_EQ(*run(ioc_, store_->erase("bg:nothing:")), 0);
}

TEST_P(QuotaStoreTest, EraseKeysIsExact) {
  ASSERT_TRUE(admit({four_per_second("rl:x:req:key=alice"), four_per_second("rl:x:req:key=alice2")},
                    {{"bg:x:usd:key=alice:total", 1, -1, 0}}, kT0)
                  ->allowed);
  const std::vector<std::string> keys = {"rl:x:req:key=alice", "bg:x:usd:key=alice:total",
                                         "rl:x:req:missing"};
  auto n = run(ioc_, store_->erase_keys(keys));
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 2);
  auto left = run(ioc_, store_->scan("", 100));
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].key, "rl:x:req:key=alice2");
}

// More keys than one SCAN page (Redis pages by 1000): every one is listed, then erased.
TEST_P(QuotaStoreTest, ScanAndEraseManyKeys) {
  constexpr int kKeys = 2500;
  std::vector<std::string> names;
  for (int i = 0; i < kKeys; ++i)
    names.push_back("bg:many:tok:key=" + std::to_string(i) + ":total");
  for (int at = 0; at < kKeys; at += 250) {
    std::vector<BudgetOp> ops;
    for (int i = at; i < at + 250; ++i) ops.push_back({names[i], i, -1, 0});
    ASSERT_TRUE(reserve(ops)->allowed);
  }
  auto all = run(ioc_, store_->scan("bg:many:", kKeys + 10));
  ASSERT_TRUE(all.ok()) << all.error().message;
  auto m = by_key(*all);
  ASSERT_EQ(m.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(m[names[1234]].total, 1234);
  EXPECT_EQ(run(ioc_, store_->scan("bg:many:", 1500))->size(), 1500u);
  EXPECT_EQ(*run(ioc_, store_->erase("bg:many:")), kKeys);
  EXPECT_TRUE(run(ioc_, store_->scan("bg:many:", 10))->empty());
}

// The admin API runs on its own thread and io_context: the store serves it there (Redis: a
// pool opened lazily for that io_context), while the workers' pools stay in use.
TEST_P(QuotaStoreTest, AdminCallsFromAnotherThread) {
  ASSERT_TRUE(consume({four_per_second("rl:t:req:*")}, kT0)->allowed);  // the worker's pool
  Result<std::vector<CounterState>> seen = ApiError::internal("not run");
  Result<int64_t> erased = ApiError::internal("not run");
  std::thread admin([&] {
    net::io_context ioc;
    seen = run(ioc, store_->scan("rl:t:", 10));
    erased = run(ioc, store_->erase("rl:t:"));
  });
  admin.join();
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].tat_us, kT0 + 250'000);
  ASSERT_TRUE(erased.ok()) << erased.error().message;
  EXPECT_EQ(*erased, 1);
  EXPECT_EQ(drain(four_per_second("rl:t:req:*"), kT0), 4);  // the worker's side sees the reset
}

// ---- Redis only ------------------------------------------------------------------------------

TEST_P(QuotaStoreTest, RedisKeysArePrefixedAndExpire) {
  if (GetParam() != Backend::redis) GTEST_SKIP() << "Redis only";
  ASSERT_TRUE(admit({four_per_second("rl:p:req:*")},
                    {{"bg:p:usd:*:2026-11", 5, 100, 4'102'444'800'000}}, kT0 + 1)
                  ->allowed);
  auto& srv = redis_server();
  // In db 3, under the prefix, with an expiry (the period's end + 1 day; the TAT + 1 s).
  std::string pttl = srv.command("PTTL " + prefix_ + "bg:p:usd:*:2026-11", 3);
  ASSERT_EQ(pttl.substr(0, 1), ":");
  EXPECT_GT(std::stoll(pttl.substr(1)), 0);
  pttl = srv.command("PTTL " + prefix_ + "rl:p:req:*", 3);
  ASSERT_EQ(pttl.substr(0, 1), ":");
  EXPECT_GT(std::stoll(pttl.substr(1)), 3600 * 1000 - 60'000);  // kT0 is an hour ahead
  EXPECT_EQ(srv.command("EXISTS " + prefix_ + "rl:p:req:*", 0), ":0");  // not in db 0
  EXPECT_EQ(srv.command("EXISTS rl:p:req:*", 3), ":0");  // never unprefixed
  EXPECT_EQ(srv.command("EXISTS " + prefix_ + "rl:p:req:*", 3), ":1");
}

TEST_P(QuotaStoreTest, RedisReloadsScriptsAfterFlush) {
  if (GetParam() != Backend::redis) GTEST_SKIP() << "Redis only";
  auto op = four_per_second("rl:f:req:*");
  ASSERT_TRUE(consume({op}, kT0)->allowed);
  ASSERT_EQ(redis_server().command("SCRIPT FLUSH"), "+OK");
  auto r = consume({op}, kT0);  // NOSCRIPT, then EVAL on the same connection
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tat_us[0], kT0 + 500'000);
  EXPECT_EQ(drain(op, kT0), 2);
}

// The error every failure must come back as.
void expect_unavailable(const Result<Admission>& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 503);
  EXPECT_EQ(r.error().code, "quota_store_unavailable");
  EXPECT_EQ(r.error().message.find(kPassword), std::string::npos) << r.error().message;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// After the failure pause (1 s), calls reach Redis again. Polls, at most `max`.
bool recovers(const std::function<Result<Admission>()>& call, milliseconds max) {
  const auto until = Clock::now() + max;
  while (Clock::now() < until) {
    if (call().ok()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

TEST_P(QuotaStoreTest, RedisDownFailsFastThenRecovers) {
  if (GetParam() != Backend::redis) GTEST_SKIP() << "Redis only";
  auto& srv = redis_server();
  auto call = [&] { return admit({four_per_second("rl:down:req:*")}, {}, kT0); };
  ASSERT_TRUE(call().ok());  // a pooled connection exists

  srv.stop();
  auto t = Clock::now();
  auto r = call();
  const double first_ms = ms_since(t);
  expect_unavailable(r);
  EXPECT_LT(first_ms, 200 + 150) << "the first failure must not wait past the timeout";
  const auto failed_at = Clock::now();
  t = Clock::now();
  for (int i = 0; i < 100; ++i) expect_unavailable(call());  // paused: no attempt at all
  EXPECT_LT(ms_since(t), 100.0) << "100 calls during the pause must answer at once";

  ASSERT_TRUE(srv.start());
  if (ms_since(failed_at) < 800) {
    expect_unavailable(call());  // still within the second: no attempt yet
  }
  EXPECT_TRUE(recovers(call, milliseconds(5000)));
  EXPECT_GE(ms_since(failed_at), 1000.0 - 50);
}

TEST_P(QuotaStoreTest, RedisStalledRoundTripTimesOut) {
  if (GetParam() != Backend::redis) GTEST_SKIP() << "Redis only";
  auto& srv = redis_server();
  auto call = [&] { return admit({four_per_second("rl:stall:req:*")}, {}, kT0); };
  ASSERT_TRUE(call().ok());
  srv.freeze();
  auto t = Clock::now();
  auto r = call();
  const double ms = ms_since(t);
  srv.thaw();
  expect_unavailable(r);
  EXPECT_GE(ms, 190.0);  // it did wait for the answer, up to the timeout (200 ms)
  EXPECT_LT(ms, 200 + 150.0);
  EXPECT_NE(r.error().message.find("did not answer"), std::string::npos) << r.error().message;
  // The late reply is never mistaken for the next answer: the connection was dropped. The
  // timed-out call may or may not have been applied (the server ran it after the thaw).
  ASSERT_TRUE(recovers(call, milliseconds(5000)));
  const int left = drain(four_per_second("rl:stall:req:*"), kT0);
  EXPECT_GE(left, 1);
  EXPECT_LE(left, 2);
}

TEST_P(QuotaStoreTest, RedisWrongPasswordIsAnErrorWithoutSecrets) {
  if (GetParam() != Backend::redis) GTEST_SKIP() << "Redis only";
  RedisConfig cfg = redis_config("wrong:");
  cfg.password.value = "not-the-password";
  auto bad = make_redis_store(cfg);
  auto r = run(ioc_, bad->admit(std::vector<RateOp>{four_per_second("rl:w:req:*")}, {}, kT0));
  expect_unavailable(r);
  EXPECT_EQ(r.error().message.find("not-the-password"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("AUTH"), std::string::npos) << r.error().message;
  // The good store, on the same io_context, is unaffected (its own pool and pause).
  EXPECT_TRUE(consume({four_per_second("rl:w:req:*")}, kT0).ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, QuotaStoreTest, ::testing::Values(Backend::memory, Backend::redis),
                         name_of);

}  // namespace
}  // namespace torii::quota
