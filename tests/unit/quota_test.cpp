// Quotas without a network: money text, the price table and the cost formula, calendar
// periods, GCRA arithmetic, the config's quota errors, and the quota policy driven with an
// injected clock (window edges and calendar renewal, no sleeping).
#include "policies/quota/quota_policy.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <optional>

#include "config/snapshot.h"
#include "quota/money.h"
#include "quota/plan.h"
#include "quota/prices.h"
#include "quota/store.h"

namespace torii {
namespace {

using namespace quota;

// Unix ms of a UTC date and time.
int64_t utc_ms(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  using namespace std::chrono;
  const sys_days day = year(y) / month(mo) / ::std::chrono::day(d);
  return duration_cast<milliseconds>(day.time_since_epoch()).count() +
         ((h * 60 + mi) * 60 + s) * 1000LL + ms;
}

TEST(Money, ParsesExactly) {
  EXPECT_EQ(parse_micros("25"), 25'000'000);
  EXPECT_EQ(parse_micros("25.5"), 25'500'000);
  EXPECT_EQ(parse_micros("0.000001"), 1);
  EXPECT_EQ(parse_micros("0.1"), 100'000);  // not 99'999 as a double would risk
  EXPECT_EQ(parse_micros("1000000000000"), 1'000'000'000'000'000'000);
  for (const char* bad : {"", ".", "25.", "-1", "+1", "1e3", "0.0000001", "1,5", "abc", " 1",
                          "1000000000001"})
    EXPECT_FALSE(parse_micros(bad)) << bad;
}

TEST(Money, Formats) {
  EXPECT_EQ(format_micros(0), "0.000000");
  EXPECT_EQ(format_micros(125), "0.000125");
  EXPECT_EQ(format_micros(25'500'000), "25.500000");
  EXPECT_EQ(format_micros(-5), "-0.000005");
}

TEST(Cost, EveryTokenKindAtItsPrice) {
  PriceConfig pc;
  pc.input = 1'000'000;        // 1 USD / 1M
  pc.output = 2'000'000;       // 2 USD / 1M
  pc.cached_input = 500'000;   // 0.50
  pc.cache_write = 1'250'000;  // 1.25
  pc.reasoning = 3'000'000;    // 3
  const Price p = complete(pc);
  Usage u;
  u.prompt_tokens = 1000;  // 600 plain + 300 cached + 100 written
  u.cached_tokens = 300;
  u.cache_write_tokens = 100;
  u.completion_tokens = 500;  // 200 reasoning + 300 plain
  u.reasoning_tokens = 200;
  // 600*1 + 300*0.5 + 100*1.25 + 300*2 + 200*3 = 600+150+125+600+600 = 2075 µUSD per 1M... / 1M
  // tokens: (600e6 + 150e6 + 125e6 + 600e6 + 600e6) / 1e6 = 2075 micro-USD.
  EXPECT_EQ(cost_micros(p, u), 2075);
}

TEST(Cost, RoundsUpAndTreatsUnknownAsZero) {
  PriceConfig pc;
  pc.input = 150'000;  // 0.15 USD / 1M: 1 token = 0.15 micro-USD
  pc.output = 600'000;
  const Price p = complete(pc);
  Usage u;
  u.prompt_tokens = 1;
  EXPECT_EQ(cost_micros(p, u), 1);  // 0.15 rounded up
  u.prompt_tokens = 10;
  u.completion_tokens = 10;  // 1.5 + 6 = 7.5 -> 8
  EXPECT_EQ(cost_micros(p, u), 8);
  EXPECT_EQ(cost_micros(p, Usage{}), 0);
  // Defaults: cached and written input at the input price, reasoning at the output price.
  EXPECT_EQ(p.cached_input, 150'000);
  EXPECT_EQ(p.cache_write, 150'000);
  EXPECT_EQ(p.reasoning, 600'000);
  // Past 2^63 pico-USD the 128-bit path gives the exact figure: 2^40 tokens at 10^7 µUSD/1M.
  PriceConfig big;
  big.input = 10'000'000;
  Usage huge;
  huge.prompt_tokens = int64_t{1} << 40;
  EXPECT_EQ(cost_micros(complete(big), huge), (int64_t{1} << 40) * 10);
}

TEST(Prices, BuiltinTableParsesAndHasADate) {
  PriceTable t({});
  EXPECT_FALSE(t.date().empty());
  const Price* p = t.find("openai", "gpt-4o-mini");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->input, 150'000);
  EXPECT_EQ(p->output, 600'000);
}

TEST(Prices, DatedVersionsAndBedrockNames) {
  PriceTable t({});
  const Price* mini = t.find("openai", "gpt-4o-mini");
  EXPECT_EQ(t.find("openai", "gpt-4o-mini-2024-07-18"), mini);
  EXPECT_NE(t.find("openai", "gpt-4o-2024-08-06"), mini);  // gpt-4o, not its mini
  EXPECT_EQ(t.find("openai", "gpt-4o-2024-08-06"), t.find("x", "gpt-4o"));
  EXPECT_EQ(t.find("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            t.find("anthropic", "claude-sonnet-4-5"));
  EXPECT_EQ(t.find("openai", "gpt-4o-minix"), t.find("x", "gpt-4o"));  // '-' boundaries only
  EXPECT_EQ(t.find("local", "llama-local"), nullptr);
  EXPECT_EQ(t.find("openai", "gpt"), nullptr);
}

TEST(Prices, OverridesWinInOrder) {
  std::map<std::string, PriceConfig> o;
  o["azure/gpt-4o"].input = 9;
  o["gpt-4o"].input = 8;
  o["my-*"].input = 7;
  o["local/*"].input = 6;
  PriceTable t(o);
  EXPECT_EQ(t.find("azure", "gpt-4o")->input, 9);
  EXPECT_EQ(t.find("openai", "gpt-4o")->input, 8);
  EXPECT_EQ(t.find("x", "my-model")->input, 7);
  EXPECT_EQ(t.find("local", "anything")->input, 6);
  EXPECT_EQ(t.find("openai", "gpt-4o-mini")->input, 150'000);  // the built-in one
}

TEST(Periods, CalendarIdsAndEnds) {
  const int64_t t = utc_ms(2026, 11, 22, 11, 30);
  EXPECT_EQ(period_at(BudgetPeriod::hour, t).id, "2026-11-22T11");
  EXPECT_EQ(period_at(BudgetPeriod::hour, t).end_ms, utc_ms(2026, 11, 22, 12));
  EXPECT_EQ(period_at(BudgetPeriod::day, t).id, "2026-11-22");
  EXPECT_EQ(period_at(BudgetPeriod::day, t).end_ms, utc_ms(2026, 11, 23));
  EXPECT_EQ(period_at(BudgetPeriod::month, t).id, "2026-11");
  EXPECT_EQ(period_at(BudgetPeriod::month, t).end_ms, utc_ms(2026, 12, 1));
  EXPECT_EQ(period_at(BudgetPeriod::total, t).id, "total");
  EXPECT_EQ(period_at(BudgetPeriod::total, t).end_ms, 0);
  // 2026-11-22 is a Sunday: ISO week 47 ends the next day.
  EXPECT_EQ(period_at(BudgetPeriod::week, t).id, "2026-W47");
  EXPECT_EQ(period_at(BudgetPeriod::week, t).end_ms, utc_ms(2026, 11, 23));
}

TEST(Periods, EdgesRenewOnTheCalendar) {
  const int64_t last = utc_ms(2026, 12, 31, 23, 59, 59, 999);
  const int64_t next = last + 1;
  EXPECT_EQ(period_at(BudgetPeriod::month, last).id, "2026-12");
  EXPECT_EQ(period_at(BudgetPeriod::month, last).end_ms, next);
  EXPECT_EQ(period_at(BudgetPeriod::month, next).id, "2027-01");
  EXPECT_EQ(period_at(BudgetPeriod::day, next).id, "2027-01-01");
  EXPECT_EQ(period_at(BudgetPeriod::hour, next).id, "2027-01-01T00");
  // ISO weeks across the year: 2026-12-31 is a Thursday (week 53 of 2026), and so is the
  // Friday 2027-01-01; 2027-01-04 (Monday) opens 2027-W01.
  EXPECT_EQ(period_at(BudgetPeriod::week, last).id, "2026-W53");
  EXPECT_EQ(period_at(BudgetPeriod::week, next).id, "2026-W53");
  EXPECT_EQ(period_at(BudgetPeriod::week, utc_ms(2027, 1, 4)).id, "2027-W01");
  EXPECT_EQ(period_at(BudgetPeriod::week, utc_ms(2027, 1, 3, 23, 59)).end_ms, utc_ms(2027, 1, 4));
  // Leap day.
  EXPECT_EQ(period_at(BudgetPeriod::day, utc_ms(2028, 2, 29, 12)).id, "2028-02-29");
  EXPECT_EQ(period_at(BudgetPeriod::month, utc_ms(2028, 2, 29, 12)).end_ms, utc_ms(2028, 3, 1));
}

TEST(Gcra, Arithmetic) {
  const int64_t minute = 60'000'000;
  EXPECT_EQ(increment_us(1, 60, minute), 1'000'000);
  EXPECT_EQ(increment_us(1, 7, minute), 8'571'429);  // rounded up: never 8 in a minute
  EXPECT_EQ(increment_us(0, 7, minute), 0);
  // A fresh cell: everything remains; after 3 of 60 in a minute: 57.
  EXPECT_EQ(remaining(0, 1000, 60, minute), 60);
  EXPECT_EQ(remaining(1000 + 3'000'000, 1000, 60, minute), 57);
  EXPECT_EQ(remaining(1000 + minute, 1000, 60, minute), 0);
  // Full cell: the next one fits one emission interval later.
  EXPECT_EQ(wait_us(minute, 0, 1'000'000, minute), 1'000'000);
  EXPECT_EQ(wait_us(0, 0, 1'000'000, minute), 0);
  EXPECT_EQ(reset_text(0), "0s");
  EXPECT_EQ(reset_text(250'000), "250ms");
  EXPECT_EQ(reset_text(12'000'000), "12s");
  EXPECT_EQ(reset_text(360'000'000), "6m0s");
  EXPECT_EQ(reset_text(3'723'000'000), "1h2m3s");
  // Products past 64 bits take the 128-bit path and agree with it to the unit.
  const int64_t day = 86'400'000'000;
  EXPECT_EQ(increment_us(1'000'000'000'000, 3, day), INT64_MAX / 4);  // capped
  EXPECT_EQ(increment_us(200'000'000, 1'000'000'000'000, day), 17'280'000);
  EXPECT_EQ(increment_us(int64_t{1} << 40, int64_t{1} << 40, day), day);  // 2^40 * day > 2^63
  EXPECT_EQ(remaining(0, 0, int64_t{1} << 50, day), int64_t{1} << 50);   // day * 2^50 > 2^63
  EXPECT_EQ(remaining(day / 2, 0, int64_t{1} << 50, day), int64_t{1} << 49);
}

TEST(Escape, ScopeValuesCannotForgeAnotherKey) {
  std::string k;
  append_escaped(k, "a,key=b:c%");
  EXPECT_EQ(k, "a%2Ckey%3Db%3Ac%25");
}

// ---- The policy, with an injected clock ----

constexpr const char* kYaml = R"(
providers:
  - name: p
    kind: openai-compatible
    base_url: http://127.0.0.1:9/v1
    api_key: literal-provider-key
    models: [m1]
  - name: q
    kind: openai-compatible
    base_url: http://127.0.0.1:9/v1
    api_key: literal-provider-key
    models: [m1]
routes:
  - name: r
    targets: [p/m1, q/m1]
egress: {allow_networks: [127.0.0.0/8]}
quotas:
  default_max_tokens: 100
  limits:
    - {id: two-a-minute, scope: [key], requests: 2, per: minute}
    - {id: provider-cap, scope: [provider], requests: 1, per: day, when: {model: only-capped}}
  budgets:
    - {id: daily, scope: [consumer], usd: 0.001, period: day}
    - {id: tok, scope: [consumer], tokens: 1000, period: total, mode: soft}
prices:
  p/m1: {input: 1.00, output: 2.00}
  q/m1: {input: 1.00, output: 4.00}
)";

class QuotaPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = parse_config(kYaml, "test.yaml");
    ASSERT_TRUE(cfg) << cfg.error().message;
    auto snap = build_snapshot(std::move(*cfg), "http://127.0.0.1:9");
    ASSERT_TRUE(snap) << snap.error().message;
    snap_ = *snap;
    store_ = make_memory_store();
    auto p = make_quota_policy(snap_->config, store_, [this] { return now_us_; });
    ASSERT_TRUE(p);
    policy_ = std::move(*p);
  }

  std::unique_ptr<RequestContext> context(std::string_view model, std::string_view key,
                                          int64_t max_tokens) {
    auto ctx = std::make_unique<RequestContext>();
    ctx->snapshot = snap_;
    ctx->executor = io_.get_executor();
    ctx->head = &head_;
    ctx->api = InboundApi::openai_chat;
    ctx->model = std::string(model);
    ctx->request = boost::json::parse(
                       R"({"model":"r","messages":[{"role":"user","content":"hello world"}],)"
                       R"("max_tokens":)" + std::to_string(max_tokens) + "}")
                       .as_object();
    ctx->principal.authenticated = true;
    ctx->principal.id = std::string(key);
    ctx->principal.key_name = std::string(key);
    ctx->route = snap_->resolve("r", nullptr, scratch_);
    return ctx;
  }

  Verdict run(Task<Verdict> t) {
    std::optional<Verdict> out;
    net::co_spawn(io_, [&]() -> Task<void> { out.emplace(co_await std::move(t)); },
                  [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                  });
    io_.restart();
    io_.run();
    return std::move(*out);
  }

  // Ends a request as answered by `provider` with `usage`, and lets the settlement run.
  void answer(RequestContext& ctx, std::string provider, int64_t prompt, int64_t completion) {
    ctx.status = 200;
    ctx.provider = std::move(provider);
    ctx.upstream_model = "m1";
    ctx.attempts.emplace_back();
    ctx.usage.prompt_tokens = prompt;
    ctx.usage.completion_tokens = completion;
    ctx.price = snap_->prices->find(ctx.provider, "m1");
    if (ctx.price) ctx.cost_micros = cost_micros(*ctx.price, ctx.usage);
    policy_->on_complete(ctx);
    io_.restart();
    io_.run();
  }

  int64_t total(const std::string& key) {
    std::optional<int64_t> out;
    net::co_spawn(io_, [&]() -> Task<void> { out = (co_await store_->total(key)).value(); },
                  [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                  });
    io_.restart();
    io_.run();
    return *out;
  }

  std::string header(const RequestContext& ctx, std::string_view name) {
    for (const auto& [n, v] : ctx.response_headers)
      if (n == name) return v;
    return {};
  }

  net::io_context io_;
  RequestHead head_;
  Route scratch_;
  std::shared_ptr<const Snapshot> snap_;
  std::shared_ptr<QuotaStore> store_;
  std::unique_ptr<Policy> policy_;
  int64_t now_us_ = utc_ms(2026, 11, 22, 23, 59) * 1000;
};

TEST_F(QuotaPolicyTest, RequestLimitWindowEdge) {
  auto a = context("r", "alice", 10);
  ASSERT_TRUE(run(policy_->on_request(*a)).is_next());
  EXPECT_EQ(header(*a, "x-ratelimit-limit-requests"), "2");
  EXPECT_EQ(header(*a, "x-ratelimit-remaining-requests"), "1");
  auto b = context("r", "alice", 10);
  ASSERT_TRUE(run(policy_->on_request(*b)).is_next());
  EXPECT_EQ(header(*b, "x-ratelimit-remaining-requests"), "0");
  auto c = context("r", "alice", 10);
  Verdict v = run(policy_->on_request(*c));
  ASSERT_EQ(v.kind(), Verdict::Kind::reject);
  EXPECT_EQ(v.error().status, 429);
  EXPECT_EQ(v.error().code, "rate_limit_exceeded");
  EXPECT_NE(v.error().message.find("two-a-minute"), std::string::npos);
  EXPECT_EQ(v.error().message.find("alice"), std::string::npos);
  EXPECT_EQ(v.error().retry_after, "30");  // one emission interval (60 s / 2) from the first
  EXPECT_EQ(v.error().retry_after_ms, "30000");
  // Another key has its own counter.
  auto d = context("r", "bob", 10);
  EXPECT_TRUE(run(policy_->on_request(*d)).is_next());
  // One µs before the interval: still refused; at it: admitted.
  now_us_ += 30'000'000 - 1;
  auto e = context("r", "alice", 10);
  EXPECT_FALSE(run(policy_->on_request(*e)).is_next());
  now_us_ += 1;
  auto f = context("r", "alice", 10);
  EXPECT_TRUE(run(policy_->on_request(*f)).is_next());
}

TEST_F(QuotaPolicyTest, BudgetReservesSettlesAndRenewsAtMidnight) {
  // Prompt "user" + "hello world" ≈ 4 tokens + 3, max_tokens 100: the dearest target (q, 4 USD
  // per 1M output) sets the reservation: ceil((7*1 + 100*4) micro) = 407 µUSD.
  auto a = context("r", "alice", 100);
  ASSERT_TRUE(run(policy_->on_request(*a)).is_next());
  const std::string key = "bg:daily:usd:consumer=alice:2026-11-22";
  const int64_t reserved = total(key);
  EXPECT_GT(reserved, 400);
  EXPECT_LT(reserved, 420);
  auto b = context("r", "alice", 100);
  ASSERT_TRUE(run(policy_->on_request(*b)).is_next());
  EXPECT_EQ(total(key), 2 * reserved);
  // A third reservation would pass 1000 µUSD: refused with when it renews.
  auto c = context("r", "alice", 100);
  now_us_ += 1;  // (the rate limit allows 2 a minute: give c a fresh key's rate cell)
  c->principal.key_name = "alice-2";
  Verdict v = run(policy_->on_request(*c));
  ASSERT_EQ(v.kind(), Verdict::Kind::reject);
  EXPECT_EQ(v.error().code, "budget_exceeded");
  EXPECT_EQ(v.error().type, "insufficient_quota");
  EXPECT_NE(v.error().message.find("'daily'"), std::string::npos);
  EXPECT_EQ(v.error().retry_after, "60");  // 23:59 -> midnight
  // a settles to its real cost at p (10 in, 20 out: 10 + 40 = 50 µUSD); b failed: refunded.
  answer(*a, "p", 10, 20);
  EXPECT_EQ(total(key), reserved + 50);
  b->status = 502;
  policy_->on_complete(*b);
  io_.restart();
  io_.run();
  EXPECT_EQ(total(key), 50);
  // The token budget (soft, total) counted a's 30 tokens only.
  EXPECT_EQ(total("bg:tok:tok:consumer=alice:total"), 30);
  // Midnight: a new day's counter.
  now_us_ = utc_ms(2026, 11, 23) * 1000;
  auto d = context("r", "alice", 100);
  d->principal.key_name = "alice-3";
  ASSERT_TRUE(run(policy_->on_request(*d)).is_next());
  EXPECT_EQ(total("bg:daily:usd:consumer=alice:2026-11-23"), reserved);
}

// An answer settles before it is written (on_response; a stream's end: on_stream_end), so a
// client's next request finds the reservation released; on_complete then settles nothing twice.
TEST_F(QuotaPolicyTest, AnswersSettleBeforeTheClientSeesThem) {
  const std::string key = "bg:daily:usd:consumer=alice:2026-11-22";
  auto a = context("r", "alice", 100);
  ASSERT_TRUE(run(policy_->on_request(*a)).is_next());
  const int64_t reserved = total(key);
  ASSERT_GT(reserved, 400);
  a->provider = "p";
  a->upstream_model = "m1";
  a->attempts.emplace_back();
  a->usage.prompt_tokens = 10;
  a->usage.completion_tokens = 20;
  a->cost_micros = 50;
  std::string body = "{}";
  ResponseView view{200, body};
  ASSERT_TRUE(run(policy_->on_response(*a, view)).is_next());
  EXPECT_EQ(total(key), 50) << "settled before the answer is written";
  a->status = 200;
  policy_->on_complete(*a);
  io_.restart();
  io_.run();
  EXPECT_EQ(total(key), 50) << "on_complete does not settle again";

  auto s = context("r", "alice", 100);
  ASSERT_TRUE(run(policy_->on_request(*s)).is_next());
  EXPECT_EQ(total(key), 50 + reserved);
  s->provider = "q";
  s->upstream_model = "m1";
  s->attempts.emplace_back();
  s->stream_started = true;
  s->usage.prompt_tokens = 10;
  s->usage.completion_tokens = 10;
  s->cost_micros = 50;  // 10 * 1 + 10 * 4
  policy_->on_stream_end(*s);
  EXPECT_EQ(total(key), 100) << "a stream settles at its end";
  s->client_disconnected = true;  // the last write failed: still billed once
  policy_->on_complete(*s);
  io_.restart();
  io_.run();
  EXPECT_EQ(total(key), 100);
}

TEST_F(QuotaPolicyTest, ProviderScopedLimitSkipsATarget) {
  auto a = context("only-capped", "alice", 10);
  ASSERT_TRUE(run(policy_->on_request(*a)).is_next());
  EXPECT_TRUE(policy_->wants_attempts());
  const Target& p = a->route->targets[0];
  const Target& q = a->route->targets[1];
  EXPECT_TRUE(run(policy_->on_attempt(*a, p)).is_next());
  a->attempts.emplace_back();
  auto b = context("only-capped", "bob", 10);
  ASSERT_TRUE(run(policy_->on_request(*b)).is_next());
  Verdict v = run(policy_->on_attempt(*b, p));
  ASSERT_EQ(v.kind(), Verdict::Kind::reject);
  EXPECT_NE(v.error().message.find("provider-cap"), std::string::npos);
  EXPECT_TRUE(run(policy_->on_attempt(*b, q)).is_next());
  // Without the model the `when` names, the provider cap does not apply.
  auto c = context("r", "carol", 10);
  ASSERT_TRUE(run(policy_->on_request(*c)).is_next());
  EXPECT_TRUE(run(policy_->on_attempt(*c, p)).is_next());
}

// ---- The admin API's functions: usage JSON and reset, on the policy's own store ----

class QuotaAdminTest : public QuotaPolicyTest {
 protected:
  template <class T>
  Result<T> await(Task<Result<T>> t) {
    std::optional<Result<T>> out;
    net::co_spawn(io_, [&]() -> Task<void> { out.emplace(co_await std::move(t)); },
                  [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                  });
    io_.restart();
    io_.run();
    return std::move(*out);
  }
  boost::json::object usage(std::string_view id, std::string_view scope = {}) {
    auto r = await(quota_usage_json(snap_->config, *store_, id, now_us_, scope));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? boost::json::parse(*r).as_object() : boost::json::object{};
  }
  int64_t reset(std::string_view id, std::string_view scope = {}) {
    auto r = await(quota_reset(snap_->config, *store_, id, now_us_, scope));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : -1;
  }
  bool admitted(std::string_view key) {
    auto c = context("r", key, 10);
    return run(policy_->on_request(*c)).is_next();
  }
};

TEST_F(QuotaAdminTest, RateLimitUsage) {
  // 23:59:00; two-a-minute: one request every 30 s.
  ASSERT_TRUE(admitted("alice"));
  ASSERT_TRUE(admitted("alice"));
  ASSERT_TRUE(admitted("a,b=c:%"));  // a key name with the escaped characters
  auto u = usage("two-a-minute");
  EXPECT_EQ(u["kind"], "rate_limit");
  EXPECT_EQ(u["window_ms"], 60000);
  EXPECT_EQ(u["limits"].as_object()["requests"], 2);
  EXPECT_FALSE(u["limits"].as_object().contains("tokens"));
  EXPECT_EQ(u["scope"].as_array().size(), 1u);
  EXPECT_EQ(u["truncated"], false);
  EXPECT_EQ(usage("two-a-minute", "a,b=c:%")["counters"].as_array().size(), 1u);
  auto& cs = u["counters"].as_array();
  ASSERT_EQ(cs.size(), 2u);  // sorted by the stored scope: "key=a%2C..." before "key=alice"
  auto odd = cs[0].as_object();
  EXPECT_EQ(odd["scope"].as_object()["key"], "a,b=c:%");
  EXPECT_EQ(odd["requests"].as_object()["used"], 1);
  auto alice = cs[1].as_object();
  EXPECT_EQ(alice["scope"].as_object()["key"], "alice");
  auto req = alice["requests"].as_object();
  EXPECT_EQ(req["used"], 2);
  EXPECT_EQ(req["limit"], 2);
  EXPECT_EQ(req["remaining"], 0);
  EXPECT_EQ(req["resets_at"], "2026-11-23T00:00:00Z");
  EXPECT_FALSE(alice.contains("tokens"));
  // 10 s later, 50 s are left in alice's cell: still 2 used (rounded up); 31 s later: 1.
  now_us_ += 10'000'000;
  EXPECT_EQ(usage("two-a-minute", "alice")["counters"].as_array()[0].as_object()["requests"]
                .as_object()["used"], 2);
  now_us_ += 21'000'500;
  auto later = usage("two-a-minute", "key=alice")["counters"].as_array();
  ASSERT_EQ(later.size(), 1u);
  auto r2 = later[0].as_object()["requests"].as_object();
  EXPECT_EQ(r2["used"], 1);
  EXPECT_EQ(r2["remaining"], 1);
  // The odd key's cell (30 s) is past: not listed any more.
  EXPECT_TRUE(usage("two-a-minute", "a,b=c:%")["counters"].as_array().empty());
  EXPECT_TRUE(usage("two-a-minute", "model=alice")["counters"].as_array().empty());
}

TEST_F(QuotaAdminTest, BudgetUsageCurrentPeriodOnly) {
  auto a = context("r", "alice", 100);
  ASSERT_TRUE(run(policy_->on_request(*a)).is_next());
  auto held = usage("daily")["counters"].as_array();
  ASSERT_EQ(held.size(), 1u);
  // In flight: the reservation counts (about 407 µUSD, see above).
  EXPECT_EQ(std::string(held[0].as_object()["usd"].as_object()["spent"].as_string()).substr(0, 6),
            "0.0004");
  answer(*a, "p", 10, 20);  // 50 µUSD, 30 tokens
  auto u = usage("daily");
  EXPECT_EQ(u["kind"], "budget");
  EXPECT_EQ(u["period"], "day");
  EXPECT_EQ(u["mode"], "block");
  EXPECT_EQ(u["current_period"], "2026-11-22");
  EXPECT_EQ(u["resets_at"], "2026-11-23T00:00:00Z");
  EXPECT_EQ(u["limits"].as_object()["usd"], "0.001000");
  auto& cs = u["counters"].as_array();
  ASSERT_EQ(cs.size(), 1u);
  auto c = cs[0].as_object();
  EXPECT_EQ(c["scope"].as_object()["consumer"], "alice");
  EXPECT_EQ(c["period"], "2026-11-22");
  auto usd = c["usd"].as_object();
  EXPECT_EQ(usd["spent"], "0.000050");
  EXPECT_EQ(usd["limit"], "0.001000");
  EXPECT_EQ(usd["remaining"], "0.000950");
  EXPECT_FALSE(c.contains("tokens"));
  auto t = usage("tok");
  EXPECT_EQ(t["mode"], "soft");
  EXPECT_EQ(t["current_period"], "total");
  EXPECT_TRUE(t["resets_at"].is_null());
  auto tok = t["counters"].as_array()[0].as_object()["tokens"].as_object();
  EXPECT_EQ(tok["spent"], 30);
  EXPECT_EQ(tok["remaining"], 970);
  // The next day: yesterday's counter is not the current consumption.
  now_us_ = utc_ms(2026, 11, 23, 0, 0, 1) * 1000;
  auto next = usage("daily");
  EXPECT_EQ(next["current_period"], "2026-11-23");
  EXPECT_TRUE(next["counters"].as_array().empty());
}

TEST_F(QuotaAdminTest, ResetThenConsumptionStartsFromZero) {
  ASSERT_TRUE(admitted("alice"));
  ASSERT_TRUE(admitted("alice"));
  ASSERT_FALSE(admitted("alice"));
  ASSERT_TRUE(admitted("alice2"));
  // One scope value: alice's cell only ("key=alice" is not a prefix match: alice2 stays).
  EXPECT_EQ(reset("two-a-minute", "key=alice"), 1);
  EXPECT_EQ(usage("two-a-minute")["counters"].as_array().size(), 1u);
  EXPECT_TRUE(admitted("alice"));
  EXPECT_TRUE(admitted("alice"));
  EXPECT_FALSE(admitted("alice"));
  // Every scope.
  EXPECT_EQ(reset("two-a-minute"), 2);
  EXPECT_TRUE(usage("two-a-minute")["counters"].as_array().empty());
  EXPECT_TRUE(admitted("alice"));
  EXPECT_EQ(reset("two-a-minute"), 1);
  EXPECT_EQ(reset("two-a-minute"), 0);

  // A budget: spent, refused, reset to zero, admitted.
  auto a = context("r", "bob", 100);
  ASSERT_TRUE(run(policy_->on_request(*a)).is_next());
  answer(*a, "q", 100, 200);  // 100 + 800 = 900 µUSD
  EXPECT_EQ(total("bg:daily:usd:consumer=bob:2026-11-22"), 900);
  EXPECT_FALSE(run(policy_->on_request(*context("r", "bob", 100))).is_next());  // + 407 > 1000
  EXPECT_EQ(reset("daily", "bob"), 1);
  EXPECT_EQ(total("bg:daily:usd:consumer=bob:2026-11-22"), 0);
  EXPECT_TRUE(usage("daily", "consumer=bob")["counters"].as_array().empty());
  EXPECT_EQ(usage("daily")["counters"].as_array().size(), 2u);  // alice's and alice2's stay
  EXPECT_TRUE(run(policy_->on_request(*context("r", "bob", 100))).is_next());
}

TEST_F(QuotaAdminTest, UnknownIdIsNotFound) {
  auto u = await(quota_usage_json(snap_->config, *store_, "nope", now_us_));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().status, 404);
  auto r = await(quota_reset(snap_->config, *store_, "nope", now_us_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 404);
  // A prefix of a real id is not that id.
  EXPECT_FALSE(await(quota_reset(snap_->config, *store_, "two", now_us_)).ok());
}

// The admin API must see the gateway's counters: shared_quota_store(config.quotas) is the store
// the snapshot's own quota policy (built by build_snapshot) counts in, while it is alive.
TEST_F(QuotaAdminTest, SharedStoreIsTheLiveOne) {
  Policy* gateway = nullptr;
  for (auto& p : snap_->policies)
    if (p->name() == "quota") gateway = p.get();
  ASSERT_NE(gateway, nullptr);
  auto c = context("r", "zed-shared", 10);
  ASSERT_TRUE(run(gateway->on_request(*c)).is_next());
  auto live = shared_quota_store(snap_->config.quotas);
  ASSERT_TRUE(live);
  auto u = await(quota_usage_json(snap_->config, **live, "two-a-minute", wall_clock_us(),
                                  "key=zed-shared"));
  ASSERT_TRUE(u.ok()) << u.error().message;
  auto cs = boost::json::parse(*u).as_object()["counters"].as_array();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].as_object()["requests"].as_object()["used"], 1);
  auto n = await(quota_reset(snap_->config, **live, "two-a-minute", wall_clock_us(),
                             "zed-shared"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
}

TEST(QuotaConfig, ErrorsNameTheLine) {
  auto bad = parse_config(R"(
quotas:
  limits:
    - {id: a, scope: [tenant], requests: 1, per: minute}
    - {id: b, requests: -1, per: fortnight}
    - {id: a, tokens: 5, per: day}
    - {id: c, per: day}
  budgets:
    - {id: d, usd: 1.0000001, period: month}
    - {id: e, tokens: 5, period: year, mode: strict}
    - {id: "f:g", tokens: 5, period: day, webhook: "ftp://hooks.example"}
prices:
  gpt-*x: {input: 1}
  m: {inptu: 1}
)",
                          "q.yaml");
  ASSERT_FALSE(bad);
  const std::string& m = bad.error().message;
  for (const char* want :
       {"q.yaml:4: quotas.limits[0].scope[0]: unknown scope 'tenant'",
        "q.yaml:5: quotas.limits[1].requests: must be a positive integer",
        "quotas.limits[1].per: must be second, minute, hour or day",
        "quotas.limits[2].id: duplicate id 'a'", "quotas.limits[3]: needs requests or tokens",
        "quotas.budgets[0].usd: must be a positive USD amount with at most 6 decimals",
        "quotas.budgets[1].period: must be hour, day, week, month or total",
        "quotas.budgets[1].mode: must be block or soft",
        "quotas.budgets[2].id: must be at most 64 letters, digits",
        "quotas.budgets[2].webhook: must be an http(s) URL", "prices.gpt-*x: a '*' may only end",
        "prices.m.inptu: unknown price 'inptu'"})
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n---\n" << m;
}

TEST(QuotaConfig, RedisUrl) {
  auto ok = parse_config("quotas:\n  store: redis\n  redis: {url: \"redis://:pw@10.0.0.5:6390/3\"}\n",
                         "r.yaml");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->quotas.store, "redis");
  EXPECT_EQ(ok->quotas.redis.host, "10.0.0.5");
  EXPECT_EQ(ok->quotas.redis.port, 6390);
  EXPECT_EQ(ok->quotas.redis.db, 3);
  EXPECT_EQ(ok->quotas.redis.password.value, "pw");
  auto bad = parse_config("quotas:\n  redis: {url: \"http://x\"}\n", "r.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("must be redis://"), std::string::npos);
}

}  // namespace
}  // namespace torii
