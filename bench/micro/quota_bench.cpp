// The quota policy per request (issue: memory store <= 2 us), called as the runner and the
// proxy call it: on_request_now reserves a request cell, a token cell and a money budget (one
// admit on the store: the prompt's token estimate, the dearest target's price), and
// on_response_now settles them to the answer's usage before it is written (a whole answer;
// on_complete then finds nothing left). 1000 keys, round robin, their counters created before
// the timing. The model's prompt estimate is bytes / 4 (Mistral): the BPE variant adds the
// tokenizer. BM_QuotaHarness is the same loop (context, body, two coroutines) without the
// policy: subtract it.
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "config/snapshot.h"
#include "policies/quota/quota_policy.h"
#include "quota/prices.h"
#include "quota/store.h"
#include "tokenizer/tokenizer.h"
#include "fixtures.h"

namespace torii::bench {
namespace {

constexpr const char* kQuotaYaml = R"(
egress: {allow_networks: [127.0.0.0/8]}
providers:
  - {name: openai, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [mistral-small-latest]}
  - {name: backup, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [mistral-small-latest]}
  - {name: tiktoken, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [gpt-4o-mini]}
routes:
  - {name: smart, targets: [openai/mistral-small-latest, backup/mistral-small-latest]}
  - {name: bpe, targets: [tiktoken/gpt-4o-mini]}
quotas:
  limits:
    - {id: per-key, scope: [key], requests: 1000000000, tokens: 1000000000000, per: minute}
  budgets:
    - {id: monthly, scope: [consumer], usd: 1000000, period: month}
)";

// As the runner calls a policy: the synchronous form first.
Task<void> request(Policy& p, RequestContext& ctx, bool& ok) {
  Verdict v;
  if (!p.on_request_now(ctx, v)) v = co_await p.on_request(ctx);
  ok = v.is_next();
}

// A whole answer, as relay_whole and the runner end it: on_response, then on_complete.
Task<void> response(Policy& p, RequestContext& ctx, bool& ok) {
  std::string body = "{}";
  ResponseView view{200, body};
  Verdict v;
  if (!p.on_response_now(ctx, view, v)) v = co_await p.on_response(ctx, view);
  ok = v.is_next();
  p.on_complete(ctx);
}

Task<void> empty(bool& ok) {
  ok = true;
  co_return;
}

void run_quota(benchmark::State& state, bool with_policy, const char* route_name = "smart") {
  (void)tokenizer::get(tokenizer::Encoding::o200k_base);  // loaded once, before the timing
  auto snap = std::move(*build_snapshot(std::move(*parse_config(kQuotaYaml, "bench.yaml")),
                                        "http://127.0.0.1:9"));
  auto policy = std::move(*make_quota_policy(snap->config,
                                             quota::make_memory_store()));
  RequestHead head;
  Route scratch;
  const Route* route = snap->resolve(route_name, nullptr, scratch);
  const std::string body =
      R"({"model":"smart","max_tokens":256,"messages":[{"role":"system","content":"You are a)"
      R"( helpful assistant."},{"role":"user","content":"Summarise the plot of Hamlet in three)"
      R"( sentences, for a reader who has never seen the play."}]})";
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("key-" + std::to_string(i));
  net::io_context io;
  bool ok = false;
  std::size_t n = 0;
  // One request through the policy (or the same steps without it).
  auto one = [&] {
    RequestContext ctx;
    ctx.snapshot = snap;
    ctx.executor = io.get_executor();
    ctx.head = &head;
    ctx.api = InboundApi::openai_chat;
    ctx.model = "smart";
    ctx.request = boost::json::parse(body).as_object();
    ctx.principal.authenticated = true;
    ctx.principal.id = ctx.principal.key_name = keys[n++ % keys.size()];
    ctx.route = route;
    if (with_policy) net::co_spawn(io, request(*policy, ctx, ok), net::detached);
    else net::co_spawn(io, empty(ok), net::detached);
    io.run();
    io.restart();
    if (!ok) state.SkipWithError("refused");
    ctx.status = 200;
    ctx.provider = "openai";
    ctx.upstream_model = "mistral-small-latest";
    ctx.attempts.emplace_back();
    ctx.usage.prompt_tokens = 40;
    ctx.usage.completion_tokens = 90;
    ctx.cost_micros = 60;
    if (with_policy) net::co_spawn(io, response(*policy, ctx, ok), net::detached);
    else net::co_spawn(io, empty(ok), net::detached);
    io.run();
    io.restart();
  };
  // Steady state: every key's counters exist before the timing (as for keys in use).
  for (std::size_t i = 0; i < keys.size(); ++i) one();
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) one();
  report_allocations(state, allocs);
}

void BM_QuotaPolicyMemory(benchmark::State& state) { run_quota(state, true); }
// The same with an OpenAI model: the prompt estimate is a BPE count (o200k_base) instead of
// bytes / 4 (about 130 bytes of message text here).
void BM_QuotaPolicyMemoryBpe(benchmark::State& state) { run_quota(state, true, "bpe"); }
BENCHMARK(BM_QuotaPolicyMemoryBpe);
BENCHMARK(BM_QuotaPolicyMemory);
void BM_QuotaHarness(benchmark::State& state) { run_quota(state, false); }
BENCHMARK(BM_QuotaHarness);

}  // namespace
}  // namespace torii::bench
