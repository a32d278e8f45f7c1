#include "policies/quota/quota_policy.h"

#include "api/openai_modalities.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <charconv>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <unordered_set>

#include "config/snapshot.h"
#include "core/log.h"
#include "pipeline/runner.h"
#include "quota/money.h"
#include "quota/plan.h"
#include "quota/prices.h"
#include "quota/redis_store.h"
#include "quota/store.h"
#include "tokenizer/tokenizer.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"

namespace torii {

using namespace quota;

int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// Text kept for a cut stream's count; beyond it, bytes / 4.
constexpr std::size_t kMaxStreamed = 1u << 20;

// An integer's decimal text (std::to_string costs several times more, per header value).
std::string decimal(int64_t v) {
  char buf[24];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// One reservation a request holds until it settles.
struct Hold {
  enum class Kind : uint8_t { requests, tokens, usd, budget_tokens } kind;
  int attempt = -1;       // -1: the whole request; else the attempt it was taken for
  bool local = false;     // taken on the local fallback store (the shared one was down)
  std::string_view key;   // in the request's memory (RequestContext::keep)
  int64_t reserved = 0;   // tokens or micro-USD (requests: 1)
  int64_t limit = 0;      // rate: per window; budget: per period (as configured, also soft)
  int64_t window_us = 0;  // rate
  int64_t expires_at_ms = 0;             // budget
  const BudgetConfig* budget = nullptr;  // budget: for alerts

  // A budget counter's scope and period, read back from its key `k`
  // ("bg:<id>:<unit>:<scope>:<period>"; the scope's ':' are escaped).
  std::string_view scope(std::string_view k) const {
    const std::size_t from = 4 + budget->id.size() + 4;  // past "bg:<id>:usd:" (or "tok:")
    return k.substr(from, k.rfind(':') - from);
  }
  static std::string_view period(std::string_view k) { return k.substr(k.rfind(':') + 1); }
};

// A request's few entries live inline: no allocation per request for the lists themselves.
template <class T>
using Few = boost::container::small_vector<T, 4>;

// A request's planned store ops and the holds they become.
struct Batch {
  Few<RateOp> rate;
  Few<BudgetOp> budget;
  boost::container::small_vector<Hold, 6> holds;  // rate holds first (as `rate`), then budget
  int64_t now_us = 0;
};

using Webhooks = std::map<std::string, std::shared_ptr<Endpoint>, std::less<>>;

// What a request leaves to settle (or to post), owned by the settling coroutine.
struct Settlement {
  Few<RateAdjust> rate, local_rate;
  Few<BudgetOp> budget, local_budget;
  Few<Hold> holds, local_holds;  // the budget holds, in the order of the ops (which hold the keys)
  int64_t now_us = 0;
  std::shared_ptr<QuotaStore> store;
  std::shared_ptr<const Webhooks> webhooks;
  // The holds point into the snapshot's config (budget ids): kept alive until the end.
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<std::pair<std::shared_ptr<Endpoint>, std::string>> posts;  // webhook alerts
  std::string request_id;
  std::string keys;  // what the ops' and holds' keys view, once own_keys() ran

  // Copies every key into `keys` (one allocation) and points the views there.
  void own_keys() {
    std::size_t n = 0;
    auto count = [&](const auto& list) {
      for (const auto& x : list) n += x.key.size();
    };
    count(rate), count(local_rate), count(budget), count(local_budget), count(holds),
        count(local_holds);
    keys.reserve(n);  // no reallocation below: the views stay valid
    auto move = [&](auto& list) {
      for (auto& x : list) {
        const std::size_t at = keys.size();
        keys.append(x.key);
        x.key = std::string_view(keys).substr(at, x.key.size());
      }
    };
    move(rate), move(local_rate), move(budget), move(local_budget), move(holds),
        move(local_holds);
  }
};


struct QuotaState final : PolicyState {
  Few<Hold> holds;
  int64_t prompt_est = -1;  // estimated prompt tokens (-1: not needed so far)
  int64_t max_out = 0;      // reserved completion tokens
  // The other modalities' units reserved: images asked for, characters to speak.
  int64_t images = 0, characters = 0;
  bool counting = false;    // keep the streamed text (a tokens or money hold exists)
  std::string text, raw;    // canonical text deltas; passed-through events, one per line
  int64_t overflow_bytes = 0;
  // What the synchronous hooks left to the coroutine ones: a batch for a store that must be
  // waited for (on_request), a settlement to wait for (on_response).
  std::unique_ptr<Batch> later;
  std::shared_ptr<Settlement> settling;
  // What the x-ratelimit-* headers show: the tightest request and token limits so far.
  struct Shown {
    int64_t limit = -1, remaining = 0, reset_us = 0;
  } requests, tokens;
};


// Soft alerts already sent in this process (per counter key and threshold).
struct AlertLog {
  std::mutex mu;
  std::unordered_set<std::string> sent;
  bool first(const std::string& key) {
    std::lock_guard g(mu);
    if (sent.size() > 100'000) sent.clear();
    return sent.insert(key).second;
  }
};
AlertLog& alert_log() {
  static AlertLog log;
  return log;
}

// The period around now_ms, from a per-thread cache (the id's formatting is the expensive part
// and changes once an hour at most).
const Period& current_period(BudgetPeriod p, int64_t now_ms) {
  thread_local std::array<Period, 5> cache{};
  thread_local std::array<bool, 5> set{};
  const auto i = static_cast<std::size_t>(p);
  Period& c = cache[i];
  if (!set[i] || now_ms < c.start_ms || (c.end_ms > 0 && now_ms >= c.end_ms)) {
    c = period_at(p, now_ms);
    set[i] = true;
  }
  return c;
}

// At most one "store unavailable" warning a second per process (not one per request while
// Redis is down); the others are counted and reported with the next one.
bool store_warning_due(int64_t& skipped) {
  static std::atomic<int64_t> last_ms{0};
  static std::atomic<int64_t> muted{0};
  const int64_t now = wall_clock_us() / 1000;
  int64_t last = last_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now)) {
    muted.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  skipped = muted.exchange(0, std::memory_order_relaxed);
  return true;
}

std::string retry_seconds(int64_t us) {
  return std::to_string(std::max<int64_t>(1, (us + 999'999) / 1'000'000));
}

// The request's completion budget: max_tokens (any API's name for it), else the default.
int64_t max_output(const boost::json::object& req, int64_t fallback) {
  for (const char* k : {"max_completion_tokens", "max_tokens", "max_output_tokens"}) {
    if (const auto* v = req.if_contains(k)) {
      if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
      if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), 1u << 30));
    }
  }
  return fallback;
}

// Text of a passed-through event that the model generated: content, reasoning and tool-call
// arguments, in the OpenAI, Anthropic and Responses shapes. A closing event that repeats the
// whole text (".done", ".completed") is skipped.
void generated_text(const boost::json::value& v, std::string_view model, int64_t& tokens,
                    int depth) {
  if (depth > 16) return;
  if (v.is_array()) {
    for (const auto& x : v.get_array()) generated_text(x, model, tokens, depth + 1);
    return;
  }
  if (!v.is_object()) return;
  const auto& o = v.get_object();
  if (const auto* t = o.if_contains("type"); t && t->is_string()) {
    std::string_view type(t->get_string().data(), t->get_string().size());
    if (type.ends_with(".done") || type.ends_with(".completed")) return;
  }
  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    if (kv.value().is_string()) {
      if (k == "content" || k == "text" || k == "reasoning_content" || k == "reasoning" ||
          k == "thinking" || k == "arguments" || k == "partial_json" || k == "delta") {
        const auto& s = kv.value().get_string();
        tokens += static_cast<int64_t>(tokenizer::estimate(model, {s.data(), s.size()}));
      }
    } else {
      generated_text(kv.value(), model, tokens, depth + 1);
    }
  }
}

// The images an images request asks for: its "n" (a number, or a form's text), default 1.
int64_t modality_images(const boost::json::object& req) {
  const auto* n = req.if_contains("n");
  if (!n) return 1;
  if (n->is_int64()) return std::clamp<int64_t>(n->get_int64(), 1, 10);
  if (n->is_string()) {
    const std::string_view t = n->get_string();
    int64_t v = 0;
    for (char c : t) v = (c >= '0' && c <= '9' && v < 100) ? v * 10 + (c - '0') : v;
    return std::clamp<int64_t>(v, 1, 10);
  }
  return 1;
}

class QuotaPolicy final : public Policy {
 public:
  QuotaPolicy(const Config& cfg, std::shared_ptr<QuotaStore> store, WallClockUs clock)
      : q_(cfg.quotas), store_(std::move(store)),
        local_(make_memory_store()), clock_(clock ? std::move(clock) : WallClockUs(wall_clock_us)) {
    for (const auto& l : q_.limits) {
      attempts_ = attempts_ || has_provider(l.scope);
      when_ = when_ || !l.when.empty();
    }
    for (const auto& b : q_.budgets) {
      attempts_ = attempts_ || has_provider(b.scope);
      when_ = when_ || !b.when.empty();
    }
  }

  Result<void> init() {
    for (const auto& b : q_.budgets) {
      if (b.webhook.empty()) continue;
      auto ep = make_endpoint(b.webhook, "", UpstreamTimeouts{});
      if (!ep) return ep.error();
      webhooks_->emplace(b.id, std::make_shared<Endpoint>(std::move(*ep)));
    }
    return {};
  }

  std::string_view name() const override { return "quota"; }
  bool wants_attempts() const override { return attempts_; }

  // The memory store answers at once: the whole admission runs here, without a coroutine. A
  // store that must be waited for (Redis) leaves its planned batch to on_request.
  bool on_request_now(RequestContext& ctx, Verdict& out) override {
    // count_tokens asks the provider for a count, which costs nothing.
    if (ctx.api == InboundApi::anthropic_count_tokens) return true;
    QuotaState& st = ctx.state<QuotaState>();
    out = admit_now(ctx, st, st.later);
    return !st.later;
  }

  Task<Verdict> on_request(RequestContext& ctx) override {
    QuotaState& st = ctx.state<QuotaState>();
    if (!st.later) {  // (called without on_request_now)
      Verdict v;
      if (on_request_now(ctx, v)) co_return v;
    }
    std::unique_ptr<Batch> batch = std::move(st.later);
    co_return co_await run(ctx, st, *batch);
  }

  Task<Verdict> on_attempt(RequestContext& ctx, const Target& target) override {
    QuotaState& st = ctx.state<QuotaState>();
    Batch batch;
    plan(ctx, st, &target, batch);
    if (batch.holds.empty()) co_return Verdict::next();
    co_return co_await run(ctx, st, batch);
  }

  Verdict on_chunk(RequestContext& ctx, const StreamChunk& c) override {
    QuotaState& st = ctx.state<QuotaState>();
    if (!st.counting) return Verdict::next();
    if (c.event) {
      using K = StreamEvent::Kind;
      const K k = c.event->kind;
      if (k == K::text || k == K::thinking || k == K::tool_call_args) keep(st.text, st, c.event->text);
    } else if (!c.usage_only && !c.data.empty()) {
      if (keep(st.raw, st, c.data)) st.raw += '\n';
    }
    return Verdict::next();
  }

  // An answer settles before the client sees it: a client that sends its next request as soon
  // as it has this answer finds the reservation already released.
  // (A shared store is waited for here, one round trip; a stream's end cannot wait, and its
  // store settlement may land just after the client has the end.)
  bool on_response_now(RequestContext& ctx, ResponseView& response, Verdict& out) override {
    std::shared_ptr<Settlement> job =
        settle_safely(ctx, response.status >= 200 && response.status < 300);
    if (job && (!job->rate.empty() || !job->budget.empty())) {
      ctx.state<QuotaState>().settling = std::move(job);  // on_response waits for the store
      return false;
    }
    detach(ctx, std::move(job));  // webhook posts, if any
    return true;
  }
  Task<Verdict> on_response(RequestContext& ctx, ResponseView& response) override {
    Verdict v;
    if (!ctx.has_state<QuotaState>() || !ctx.state<QuotaState>().settling) {
      if (on_response_now(ctx, response, v)) co_return v;
    }
    std::shared_ptr<Settlement> job = std::move(ctx.state<QuotaState>().settling);
    co_await settle_in_store(*job);
    if (!job->posts.empty()) detach(ctx, std::move(job));
    co_return v;
  }
  void on_stream_end(RequestContext& ctx) noexcept override {
    detach(ctx, settle_safely(ctx, true));
  }

  // Anything else (an error, a denial, a cut stream) settles when the request is over.
  void on_complete(RequestContext& ctx) noexcept override {
    detach(ctx, settle_safely(ctx, ctx.stream_started || (ctx.status >= 200 &&
                                                           ctx.status < 300 &&
                                                           !ctx.provider.empty())));
  }

 private:

  // A store key from its parts, kept in the request's memory (no malloc): "rl:" id ":req:"
  // scope, or "bg:" id ":usd:" scope ":" period.
  static std::string_view key_of(RequestContext& ctx, std::string_view kind, std::string_view id,
                                 std::string_view unit, std::string_view scope,
                                 std::string_view period = {}) {
    thread_local std::string k;  // (plan() does not suspend: one request at a time per thread)
    k.clear();
    k.append(kind).append(id).append(unit).append(scope);
    if (!period.empty()) k.append(":").append(period);
    return ctx.keep(k);
  }

  static bool has_provider(const std::vector<QuotaScope>& s) {
    return std::find(s.begin(), s.end(), QuotaScope::provider) != s.end();
  }

  // The counter names of one entry for this request: one per combination of scope values
  // (one per group for a group scope); none when a group scope meets a caller without groups.
  static void scope_strings(const std::vector<QuotaScope>& scope, const RequestContext& ctx,
                            const Target* target, Few<std::string>& out) {
    auto value_of = [&](QuotaScope s) -> std::string_view {
      switch (s) {
        case QuotaScope::key: return ctx.principal.key_name;
        case QuotaScope::consumer: return ctx.principal.id;
        case QuotaScope::model: return ctx.model;
        case QuotaScope::route: return ctx.route ? std::string_view(ctx.route->name) : "";
        case QuotaScope::provider:
          return target && target->provider ? std::string_view(target->provider->name()) : "";
        case QuotaScope::group: break;
      }
      return "";
    };
    auto append = [](std::string& k, QuotaScope s, std::string_view value) {
      if (!k.empty()) k += ',';
      k += scope_name(s);
      k += '=';
      append_escaped(k, value.empty() ? "-" : value);
    };
    out.resize(1);
    out[0].clear();
    if (scope.empty()) {
      out[0] = "*";
      return;
    }
    for (QuotaScope s : scope) {
      if (s != QuotaScope::group) {
        for (auto& k : out) append(k, s, value_of(s));
        continue;
      }
      // One counter per group of the caller (none: the entry counts nothing).
      Few<std::string> next;
      if (ctx.principal.groups)
        for (const auto& g : *ctx.principal.groups)
          for (const auto& prefix : out) append(next.emplace_back(prefix), s, g);
      out = std::move(next);
    }
  }

  bool applies(const std::vector<RuleCondition>& when, const routing::RuleInput* in) const {
    for (const auto& c : when)
      if (!routing::matches(c, *in)) return false;
    return true;
  }

  // The prompt estimate and completion budget, computed once per request when first needed.
  void estimate(RequestContext& ctx, QuotaState& st, const Target* target) const {
    if (st.prompt_est >= 0) return;
    std::string_view model = ctx.model;
    if (target) {
      model = target->model;
    } else if (ctx.route) {
      for (std::size_t i = 0; i < ctx.route->targets.size(); ++i)
        if (!(ctx.denied_targets >> i & 1)) {
          model = ctx.route->targets[i].model;
          break;
        }
    }
    // The encoding is looked up once; each piece is then counted with it (or bytes / 4).
    const auto enc = tokenizer::encoding_for_model(model);
    const tokenizer::Bpe* bpe = enc ? tokenizer::get(*enc) : nullptr;
    int64_t tokens = 0;
    routing::for_each_prompt_text(ctx.request, [&](std::string_view t) {
      tokens += bpe ? static_cast<int64_t>(bpe->count(t)) : static_cast<int64_t>(t.size() + 3) / 4;
    });
    st.prompt_est = tokens + 3;  // the reply's priming, as OpenAI counts it
    st.max_out = max_output(ctx.request, q_.default_max_tokens);
    if (ctx.modality != Modality::chat) {
      // No completion; the units the call will make, as far as the request says them.
      st.max_out = 0;
      if (ctx.modality == Modality::image_generation || ctx.modality == Modality::image_edit)
        st.images = modality_images(ctx.request);
      if (ctx.modality == Modality::speech)
        st.characters = std::max<int64_t>(speech_characters(ctx.request), 0);
    }
  }

  // The money to reserve: the estimate at the dearest price among the targets it may go to.
  int64_t reserve_micros(const RequestContext& ctx, const QuotaState& st,
                         const Target* target) const {
    int64_t best = 0;
    auto consider = [&](const Target& t) {
      const Price* p = t.price;
      if (!p) return;
      Usage u;
      u.prompt_tokens = st.prompt_est;
      u.completion_tokens = st.max_out;
      u.images = st.images;
      u.characters = st.characters;
      Price dear = *p;
      dear.output = std::max(p->output, p->reasoning);
      dear.reasoning = dear.output;
      dear.input = std::max({p->input, p->cached_input, p->cache_write});
      best = std::max(best, cost_micros(dear, u));
    };
    if (target) {
      consider(*target);
    } else if (ctx.route) {
      for (std::size_t i = 0; i < ctx.route->targets.size(); ++i)
        if (!(ctx.denied_targets >> i & 1)) consider(ctx.route->targets[i]);
    }
    return best;
  }

  // The ops and holds of every entry that applies: request-wide ones when `target` is null,
  // else the provider-scoped ones for that target.
  void plan(RequestContext& ctx, QuotaState& st, const Target* target, Batch& b) const {
    std::optional<routing::RuleInput> in;
    if (when_) in.emplace(rule_input(ctx));
    if (in && target) {
      in->target_provider = target->provider->name();
      in->target_model = target->model;
    }
    if (in && in->now == 0) in->now = ::time(nullptr);
    b.now_us = clock_();
    const int attempt = target ? static_cast<int>(ctx.attempts.size()) : -1;
    thread_local Few<std::string> scopes;  // reused: no malloc once warm (plan never suspends)
    for (const auto& l : q_.limits) {
      if (has_provider(l.scope) != (target != nullptr)) continue;
      if (!l.when.empty() && !applies(l.when, &*in)) continue;
      scope_strings(l.scope, ctx, target, scopes);
      const int64_t window_us = std::chrono::duration_cast<std::chrono::microseconds>(l.window).count();
      if (l.tokens > 0) estimate(ctx, st, target);
      for (const auto& s : scopes) {
        if (l.requests > 0) {
          b.rate.push_back({key_of(ctx, "rl:", l.id, ":req:", s), increment_us(1, l.requests, window_us),
                            window_us});
          b.holds.push_back({Hold::Kind::requests, attempt, false, {}, 1,
                             l.requests, window_us});
        }
        if (l.tokens > 0) {
          const int64_t want = st.prompt_est + st.max_out;
          b.rate.push_back({key_of(ctx, "rl:", l.id, ":tok:", s),
                            increment_us(want, l.tokens, window_us), window_us});
          b.holds.push_back({Hold::Kind::tokens, attempt, false, {}, want,
                             l.tokens, window_us});
        }
      }
    }
    const int64_t now_ms = b.now_us / 1000;
    for (const auto& bc : q_.budgets) {
      if (has_provider(bc.scope) != (target != nullptr)) continue;
      if (!bc.when.empty() && !applies(bc.when, &*in)) continue;
      scope_strings(bc.scope, ctx, target, scopes);
      if (scopes.empty()) continue;
      estimate(ctx, st, target);
      const Period& period = current_period(bc.period, now_ms);
      for (const auto& s : scopes) {
        auto add = [&](Hold::Kind kind, std::string_view unit, int64_t amount, int64_t limit) {
          // unit is ":usd:" or ":tok:"
          b.budget.push_back({key_of(ctx, "bg:", bc.id, unit, s, period.id), amount, bc.soft ? -1 : limit, period.end_ms});
          b.holds.push_back(Hold{kind, attempt, false, {}, amount, limit, 0, period.end_ms, &bc});
        };
        if (bc.usd_micros > 0)
          add(Hold::Kind::usd, ":usd:", reserve_micros(ctx, st, target), bc.usd_micros);
        if (bc.tokens > 0)
          add(Hold::Kind::budget_tokens, ":tok:", st.prompt_est + st.max_out, bc.tokens);
      }
    }
  }

  // Admits a batch on the store (the local one when the shared one fails and fail-open), then
  // records its holds and headers, or answers the refusal.
  // Plans and admits the request's entries on a store that answers at once; else hands the
  // batch to `later`, for run().
  Verdict admit_now(RequestContext& ctx, QuotaState& st, std::unique_ptr<Batch>& later) {
    Batch batch;
    plan(ctx, st, nullptr, batch);
    if (batch.holds.empty()) return Verdict::next();
    Result<Admission> got = Admission{};
    if (store_->admit_now(batch.rate, batch.budget, batch.now_us, *got))
      return finish(ctx, st, batch, got);
    later = std::make_unique<Batch>(std::move(batch));
    return Verdict::next();
  }

  Task<Verdict> run(RequestContext& ctx, QuotaState& st, Batch& b) {
    Result<Admission> got = Admission{};
    if (!store_->admit_now(b.rate, b.budget, b.now_us, *got))
      got = co_await store_->admit(b.rate, b.budget, b.now_us);
    co_return finish(ctx, st, b, got);
  }

  // After the store answered: the local store when it failed (fail-open), then the headers and
  // the holds, or the refusal.
  Verdict finish(RequestContext& ctx, QuotaState& st, Batch& b, Result<Admission>& got) const {
    bool local = false;
    if (!got) {
      if (!q_.fail_open) {
        ApiError e = ApiError::unavailable("the quota store is unavailable; requests are refused "
                                           "until it answers (quotas.on_store_error: closed)");
        e.code = "quota_store_unavailable";
        e.retry_after = "1";  // the store is retried after a second
        return Verdict::reject(std::move(e));
      }
      if (int64_t skipped = 0; store_warning_due(skipped))
        log::warn("quota store ({}) unavailable, counting locally: {} ({} more since the last "
                  "warning)", store_->kind(), got.error().message, skipped);
      local = true;
      got = Admission{};
      local_->admit_now(b.rate, b.budget, b.now_us, *got);
    }
    const Admission& a = *got;
    show(ctx, st, b, a);
    if (!a.allowed) return Verdict::reject(refusal(b, a));
    for (std::size_t i = 0; i < b.holds.size(); ++i) {
      Hold& h = b.holds[i];
      h.local = local;
      h.key = i < b.rate.size() ? b.rate[i].key : b.budget[i - b.rate.size()].key;
      if (h.kind != Hold::Kind::requests) st.counting = true;
      st.holds.push_back(std::move(h));
    }
    return Verdict::next();
  }

  // The x-ratelimit-* headers: the tightest request and token cells of the request so far.
  void show(RequestContext& ctx, QuotaState& st, const Batch& b, const Admission& a) const {
    bool changed = false;
    for (std::size_t i = 0; i < b.rate.size() && i < a.tat_us.size(); ++i) {
      const Hold& h = b.holds[i];
      auto& shown = h.kind == Hold::Kind::requests ? st.requests : st.tokens;
      const int64_t left = remaining(a.tat_us[i], b.now_us, h.limit, h.window_us);
      if (shown.limit < 0 || left < shown.remaining) {
        shown = {h.limit, left, std::max<int64_t>(a.tat_us[i] - b.now_us, 0)};
        changed = true;
      }
    }
    if (!changed) return;
    auto& hs = ctx.response_headers;
    hs.reserve(hs.size() + 6);
    if (!hs.empty())
      std::erase_if(hs, [](const auto& kv) { return kv.first.starts_with("x-ratelimit-"); });
    if (st.requests.limit >= 0) {
      hs.emplace_back("x-ratelimit-limit-requests", decimal(st.requests.limit));
      hs.emplace_back("x-ratelimit-remaining-requests", decimal(st.requests.remaining));
      hs.emplace_back("x-ratelimit-reset-requests", reset_text(st.requests.reset_us));
    }
    if (st.tokens.limit >= 0) {
      hs.emplace_back("x-ratelimit-limit-tokens", decimal(st.tokens.limit));
      hs.emplace_back("x-ratelimit-remaining-tokens", decimal(st.tokens.remaining));
      hs.emplace_back("x-ratelimit-reset-tokens", reset_text(st.tokens.reset_us));
    }
  }

  ApiError refusal(const Batch& b, const Admission& a) const {
    if (a.rate_denied) {
      const std::size_t i = static_cast<std::size_t>(std::max(a.denied, 0));
      const Hold& h = b.holds[i];
      const std::string_view key = b.rate[i].key;
      const std::string id(key.substr(3, key.find(':', 3) - 3));
      const bool tokens = h.kind == Hold::Kind::tokens;
      const std::string per = reset_text(h.window_us);
      if (b.rate[i].increment_us > h.window_us) {
        return ApiError::rate_limited("request needs about " + std::to_string(h.reserved) +
                                      " tokens (prompt + max_tokens): it can never fit rate "
                                      "limit '" + id + "' (" + std::to_string(h.limit) +
                                      " tokens per " + per + "); lower max_tokens or the prompt");
      }
      const int64_t wait = wait_us(a.tat_us[i], b.now_us, b.rate[i].increment_us, h.window_us);
      ApiError e = ApiError::rate_limited(
          "rate limit '" + id + "' reached: " + std::to_string(h.limit) +
              (tokens ? " tokens" : " requests") + " per " + per + "; retry in " +
              reset_text(wait),
          retry_seconds(wait));
      e.retry_after_ms = std::to_string((wait + 999) / 1000);
      return e;
    }
    const std::size_t i = b.rate.size() + static_cast<std::size_t>(std::max(a.denied, 0));
    const Hold& h = b.holds[i];
    const bool usd = h.kind == Hold::Kind::usd;
    std::string msg = "budget '" + h.budget->id + "' is spent: " +
                      (usd ? format_micros(h.limit) + " USD" : std::to_string(h.limit) + " tokens");
    ApiError e{429, "insufficient_quota", "budget_exceeded", {}};
    if (h.expires_at_ms > 0) {
      const int64_t wait = h.expires_at_ms * 1000 - b.now_us;
      const std::string_view key = b.budget[i - b.rate.size()].key;
      msg += " for " + std::string(key.substr(key.rfind(':') + 1)) + "; it renews in " +
             reset_text(wait);
      e.retry_after = retry_seconds(wait);
    } else {
      msg += " in total; it does not renew";
    }
    e.message = std::move(msg);
    return e;
  }

  bool keep(std::string& into, QuotaState& st, std::string_view piece) const {
    if (st.text.size() + st.raw.size() + piece.size() > kMaxStreamed) {
      st.overflow_bytes += static_cast<int64_t>(piece.size());
      return false;
    }
    into.append(piece);
    return true;
  }

  // Completion tokens of a stream that ended without usage: counted from what went through.
  int64_t streamed_tokens(const RequestContext& ctx, const QuotaState& st) const {
    const std::string_view model = ctx.upstream_model;
    int64_t n = static_cast<int64_t>(tokenizer::estimate(model, st.text)) + (st.overflow_bytes + 3) / 4;
    std::string_view raw = st.raw;
    while (!raw.empty()) {
      const auto nl = raw.find('\n');
      const std::string_view line = raw.substr(0, nl);
      raw = nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (!ec) generated_text(v, model, n, 0);
    }
    return n;
  }

  std::shared_ptr<Settlement> settle_safely(RequestContext& ctx, bool answered) noexcept {
    try {
      return settle(ctx, answered);
    } catch (const std::exception& e) {
      log::error("request {}: quota settlement failed: {}", ctx.request_id, e.what());
      return nullptr;
    }
  }

  // Settles the request's holds, once: `answered` counts the answering attempt's usage and cost
  // (its holds and the request's own), the rest is given back. The memory store settles here;
  // what must wait (a shared store, webhook posts) is returned.
  std::shared_ptr<Settlement> settle(RequestContext& ctx, bool answered) {
    if (!ctx.has_state<QuotaState>()) return nullptr;
    QuotaState& st = ctx.state<QuotaState>();
    if (st.holds.empty()) return nullptr;
    const int answering = answered ? static_cast<int>(ctx.attempts.size()) - 1 : -2;
    int64_t tokens = 0, micros = 0;
    if (answered && st.counting) {
      Usage u = ctx.usage;
      if (u.prompt_tokens < 0) u.prompt_tokens = std::max<int64_t>(st.prompt_est, 0);
      if (u.completion_tokens < 0) u.completion_tokens = streamed_tokens(ctx, st);
      tokens = u.prompt_tokens + u.completion_tokens;
      micros = ctx.cost_micros;
      if (micros < 0) {
        const Price* p = ctx.price;
        micros = p ? cost_micros(*p, u) : 0;
        if (p) ctx.cost_micros = micros;  // estimated: the stream ended without usage
      }
    }
    Settlement job;
    for (Hold& h : st.holds) {
      const bool counts = answered && (h.attempt < 0 || h.attempt == answering);
      switch (h.kind) {
        case Hold::Kind::requests:
          break;
        case Hold::Kind::tokens: {
          const int64_t d = (counts ? tokens : 0) - h.reserved;
          if (d == 0) break;
          const int64_t us = increment_us(d < 0 ? -d : d, h.limit, h.window_us);
          (h.local ? job.local_rate : job.rate).push_back({h.key, d < 0 ? -us : us});
          break;
        }
        case Hold::Kind::usd:
        case Hold::Kind::budget_tokens: {
          const int64_t actual = counts ? (h.kind == Hold::Kind::usd ? micros : tokens) : 0;
          (h.local ? job.local_budget : job.budget)
              .push_back({h.key, actual - h.reserved, -1, h.expires_at_ms});
          (h.local ? job.local_holds : job.holds).push_back(std::move(h));
          break;
        }
      }
    }
    st.holds.clear();  // settled: a later hook has nothing left to settle
    job.now_us = clock_();
    // A store without I/O (memory) settles here; a store that must wait (Redis) and the alerts'
    // posts are the caller's.
    Counts totals;
    if (!job.local_rate.empty() || !job.local_budget.empty()) {
      local_->settle_now(job.local_rate, job.local_budget, job.now_us, totals);
      alerts(job.local_holds, job.local_budget, totals, *webhooks_, job);
    }
    bool pending = !job.rate.empty() || !job.budget.empty();
    if (pending && store_->settle_now(job.rate, job.budget, job.now_us, totals)) {
      alerts(job.holds, job.budget, totals, *webhooks_, job);
      pending = false;
    }
    if (!pending && job.posts.empty()) return nullptr;
    job.store = store_;
    job.webhooks = webhooks_;
    job.snapshot = ctx.snapshot;
    job.request_id = ctx.request_id;
    if (!pending) job.rate.clear(), job.budget.clear();
    auto out = std::make_shared<Settlement>(std::move(job));
    out->own_keys();  // it may outlive the request, whose memory holds them
    return out;
  }

  // Hands what a settlement left to a detached coroutine (never waited for).
  static void detach(RequestContext& ctx, std::shared_ptr<Settlement> job) {
    if (!job) return;
    if (ctx.executor) net::co_spawn(ctx.executor, run_settlement(std::move(job)), net::detached);
  }

  // The store's part of a settlement (Redis: one round trip), then its alerts.
  static Task<void> settle_in_store(Settlement& job) {
    if (job.rate.empty() && job.budget.empty()) co_return;
    auto totals = co_await job.store->settle(job.rate, job.budget, job.now_us);
    if (totals) {
      alerts(job.holds, job.budget, *totals, *job.webhooks, job);
    } else if (int64_t skipped = 0; store_warning_due(skipped)) {
      log::warn("request {}: quota settlement lost ({} unavailable): {} ({} more since the last "
                "warning)", job.request_id, job.store->kind(), totals.error().message, skipped);
    }
    job.rate.clear(), job.budget.clear();  // done: what runs next only posts
  }

  static Task<void> run_settlement(std::shared_ptr<Settlement> job) {
    co_await settle_in_store(*job);
    for (auto& [ep, body] : job->posts) co_await post(*ep, std::move(body));
  }

  // Budget thresholds (80 % and 100 %) reached by these totals: logged, and queued for the
  // budget's webhook, once per counter and threshold in this process.
  static void alerts(const Few<Hold>& holds, const Few<BudgetOp>& ops, const Counts& totals,
                     const Webhooks& webhooks, Settlement& job) {
    for (std::size_t i = 0; i < holds.size() && i < totals.size() && i < ops.size(); ++i) {
      const Hold& h = holds[i];
      const std::string_view key = ops[i].key;
      if (h.limit <= 0) continue;
      for (int threshold : {80, 100}) {
        if (static_cast<__int128>(totals[i]) * 100 < static_cast<__int128>(h.limit) * threshold)
          continue;
        if (!alert_log().first(std::string(key) + "#" + std::to_string(threshold))) continue;
        const bool usd = h.kind == Hold::Kind::usd;
        log::warn("budget '{}' ({}, {}) reached {}%", h.budget->id, h.scope(key), Hold::period(key),
                  threshold);
        auto ep = webhooks.find(h.budget->id);
        if (ep == webhooks.end()) continue;
        boost::json::object body{
            {"type", "budget.threshold"}, {"budget", h.budget->id},  {"scope", h.scope(key)},
            {"period", Hold::period(key)},       {"threshold", threshold},  {"unit", usd ? "usd" : "tokens"},
            {"mode", h.budget->soft ? "soft" : "block"}};
        if (usd) {
          body["spent"] = format_micros(totals[i]);
          body["limit"] = format_micros(h.limit);
        } else {
          body["spent"] = totals[i];
          body["limit"] = h.limit;
        }
        job.posts.emplace_back(ep->second, boost::json::serialize(body));
      }
    }
  }

  static Task<void> post(const Endpoint& ep, std::string body) {
    UpstreamRequest req;
    req.path = ep.base_path.empty() ? "/" : ep.base_path;
    req.headers = {{"content-type", "application/json"}};
    req.body = std::move(body);
    req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto resp = co_await UpstreamClient::local().send(ep, req);
    if (!resp) {
      log::warn("budget webhook {} failed: {}", ep.host, resp.error().message);
      co_return;
    }
    (void)co_await (*resp)->read_all(64 * 1024);
  }

  const QuotasConfig& q_;
  std::shared_ptr<QuotaStore> store_, local_;
  WallClockUs clock_;
  bool attempts_ = false, when_ = false;
  std::shared_ptr<Webhooks> webhooks_ = std::make_shared<Webhooks>();
};

struct StoreRegistry {
  std::mutex mu;
  std::map<std::string, std::weak_ptr<QuotaStore>> stores;
};

}  // namespace

Result<std::shared_ptr<QuotaStore>> shared_quota_store(const QuotasConfig& q) {
  static StoreRegistry reg;
  std::string id = q.store;
  if (q.store == "redis")
    id += "|" + q.redis.host + ":" + std::to_string(q.redis.port) + "/" +
          std::to_string(q.redis.db) + "|" + q.redis.prefix + "|" +
          std::to_string(q.redis.pool) + "|" + std::to_string(q.redis.timeout.count());
  std::lock_guard g(reg.mu);
  if (auto s = reg.stores[id].lock()) return s;
  std::shared_ptr<QuotaStore> s;
  if (q.store == "redis") {
    s = make_redis_store(q.redis);
  } else {
    s = make_memory_store();
  }
  reg.stores[id] = s;
  return s;
}

Result<std::unique_ptr<Policy>> make_quota_policy(const Config& cfg,
                                                  std::shared_ptr<QuotaStore> store,
                                                  WallClockUs clock) {
  auto p = std::make_unique<QuotaPolicy>(cfg, std::move(store), std::move(clock));
  if (auto r = p->init(); !r) return r.error();
  return std::unique_ptr<Policy>(std::move(p));
}

}  // namespace torii
