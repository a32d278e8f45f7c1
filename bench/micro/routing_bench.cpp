// Routing bookkeeping per request: choosing a target (routing::select, which also takes the
// call on the target's health) and reporting the try (TargetHealth::finish). Both run on every
// proxied request, so their cost must stay far below the request's own (~60k instructions).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "routing/route.h"

namespace torii::bench {
namespace {

struct BenchRoute {
  BreakerConfig breaker;
  Route route;
  std::unique_ptr<routing::RouteState> state;

  BenchRoute(Strategy strategy, int targets, int tiers = 1) {
    route.name = "bench";
    route.strategy = strategy;
    for (int i = 0; i < targets; ++i) {
      Target t;
      t.model = "m" + std::to_string(i);
      t.weight = 1 + i;
      t.priority = i % tiers;
      t.keys = {nullptr};
      t.breaker = &breaker;
      t.health = std::make_shared<routing::TargetHealth>();
      route.targets.push_back(std::move(t));
    }
    routing::prepare_tiers(route);
    state = std::make_unique<routing::RouteState>(route.tiers.size());
    route.state = state.get();
  }
};

// One request's bookkeeping: budget count, select, finish as a success.
// `b` is shared by every thread of a multi-thread run, as a route is by the workers.
void run_select(benchmark::State& state, BenchRoute& b) {
  int64_t now = routing::now_ns();
  for (auto _ : state) {
    routing::NoPick why;
    b.route.state->budget.on_request(now);
    routing::Pick p = routing::select(b.route, 0, false, now, why);
    if (p.target < 0) {
      state.SkipWithError("no target selected");
      break;
    }
    const Target& t = b.route.targets[static_cast<std::size_t>(p.target)];
    t.health->finish(*t.breaker, p.probe, routing::TryResult::success, 900, p.key, 0, now);
    now += 1000;
  }
  state.SetItemsProcessed(state.iterations());
}

#define TORII_SELECT_BENCH(name, strategy, targets) \
  void name(benchmark::State& s) {                   \
    static BenchRoute route(strategy, targets);      \
    run_select(s, route);                            \
  }
TORII_SELECT_BENCH(BM_Select_OneTarget, Strategy::round_robin, 1)
TORII_SELECT_BENCH(BM_Select_RoundRobin3, Strategy::round_robin, 3)
TORII_SELECT_BENCH(BM_Select_Weighted3, Strategy::weighted, 3)
TORII_SELECT_BENCH(BM_Select_LeastInflight3, Strategy::least_inflight, 3)
TORII_SELECT_BENCH(BM_Select_P2C8, Strategy::p2c, 8)

BENCHMARK(BM_Select_OneTarget);
BENCHMARK(BM_Select_RoundRobin3);
BENCHMARK(BM_Select_Weighted3);
BENCHMARK(BM_Select_LeastInflight3);
BENCHMARK(BM_Select_P2C8);
// Two threads on the same targets: the cost of sharing the atomics between cores.
BENCHMARK(BM_Select_RoundRobin3)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace torii::bench
