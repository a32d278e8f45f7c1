// The quota store's cost per request (BENCH.md item 5): admit() with 2 rate ops + 1 budget op,
// the call a limited, budgeted request makes before going upstream, then settle(). Against a
// redis-server started here (no persistence, its own port), beside the memory store and a bare
// PING round trip on the same kind of connection, in one run.
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "../../tests/unit/redis_server.h"
#include "quota/redis_client.h"
#include "quota/redis_store.h"

namespace {
using namespace torii;
using namespace torii::quota;

torii::testing::RedisServer* server() {
  static std::unique_ptr<torii::testing::RedisServer> s = [] {
    auto srv = std::make_unique<torii::testing::RedisServer>();
    if (!torii::testing::RedisServer::available() || !srv->start()) srv.reset();
    return srv;
  }();
  return s.get();
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a request with a per-key request limit, a per-key token limit and a monthly budget
// sends. Limits so high that nothing is ever refused: every iteration does the full work.
struct Batch {
  std::vector<RateOp> rate = {{"rl:per-key:req:key=bench", 1'000, int64_t{1} << 50},
                              {"rl:per-key:tok:key=bench", 5'000, int64_t{1} << 50}};
  std::vector<BudgetOp> budget = {{"bg:team:usd:consumer=bench:2026-11", 125, -1, 0}};
  std::vector<RateAdjust> rate_back = {{"rl:per-key:tok:key=bench", -1'000}};
  std::vector<BudgetOp> budget_back = {{"bg:team:usd:consumer=bench:2026-11", -25, -1, 0}};
};

// Runs the benchmark loop inside one coroutine on one io_context (as a torii worker would).
void run_loop(benchmark::State& state, QuotaStore& store, bool with_settle) {
  net::io_context ioc;
  Batch b;
  net::co_spawn(
      ioc,
      [&]() -> Task<void> {
        for (auto _ : state) {
          auto a = co_await store.admit(b.rate, b.budget, now_us());
          if (!a || !a->allowed) {
            state.SkipWithError(a ? "refused" : a.error().message.c_str());
            break;
          }
          if (!with_settle) continue;
          auto s = co_await store.settle(b.rate_back, b.budget_back, now_us());
          if (!s) {
            state.SkipWithError(s.error().message.c_str());
            break;
          }
        }
      },
      net::detached);
  ioc.run();
}

RedisConfig bench_config() {
  RedisConfig cfg;
  cfg.port = server()->port();
  cfg.prefix = "bench:";
  cfg.timeout = std::chrono::milliseconds(1000);
  cfg.connect_timeout = std::chrono::milliseconds(1000);
  return cfg;
}

void BM_QuotaMemoryAdmit(benchmark::State& state) {
  auto store = make_memory_store();
  run_loop(state, *store, false);
}
BENCHMARK(BM_QuotaMemoryAdmit);

void BM_QuotaRedisAdmit(benchmark::State& state) {
  if (!server()) return state.SkipWithError("redis-server did not start");
  auto store = make_redis_store(bench_config());
  run_loop(state, *store, false);
}
BENCHMARK(BM_QuotaRedisAdmit)->UseRealTime();

void BM_QuotaRedisAdmitSettle(benchmark::State& state) {
  if (!server()) return state.SkipWithError("redis-server did not start");
  auto store = make_redis_store(bench_config());
  run_loop(state, *store, true);
}
BENCHMARK(BM_QuotaRedisAdmitSettle)->UseRealTime();

// The floor: one PING round trip on the same client, no script.
void BM_QuotaRedisPing(benchmark::State& state) {
  if (!server()) return state.SkipWithError("redis-server did not start");
  net::io_context ioc;
  net::co_spawn(
      ioc,
      [&]() -> Task<void> {
        RedisEndpoint ep;
        ep.port = server()->port();
        auto c = co_await RedisConnection::connect(ep, RedisRequest{});
        if (!c) {
          state.SkipWithError(c.error().message.c_str());
          co_return;
        }
        RedisRequest ping;
        ping.begin(1).arg("PING");
        for (auto _ : state) {
          auto r = co_await (*c)->round_trip(ping, std::chrono::milliseconds(1000));
          if (!r) {
            state.SkipWithError(r.error().message.c_str());
            break;
          }
        }
      },
      net::detached);
  ioc.run();
}
BENCHMARK(BM_QuotaRedisPing)->UseRealTime();

}  // namespace
