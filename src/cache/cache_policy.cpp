#include "cache/cache_policy.h"

#include <strings.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cache/embed.h"
#include "cache/guard.h"
#include "cache/key.h"
#include "cache/redis_store.h"
#include "cache/replay.h"
#include "config/snapshot.h"
#include "core/clock.h"
#include "core/log.h"
#include "pipeline/runner.h"
#include "quota/money.h"

namespace torii {

namespace cache {

struct Cache::Reader {
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
};

Cache::~Cache() {
  if (vectors) vectors->stop();
  if (reader) {
    reader->work.reset();
    reader->ioc.stop();
    if (reader->thread.joinable()) reader->thread.join();
  }
}

namespace {

// Follows the Redis vector log into the node's index, on a thread of its own.
void start_reader(Cache& c) {
  c.reader = std::make_unique<Cache::Reader>();
  SemanticIndex* index = c.index.get();  // outlives the reader (joined in ~Cache first)
  c.vectors->start(c.reader->ioc.get_executor(), [index](VectorRecord r) {
    index->add(r.partition, r.key, r.prompt, r.vector, r.expires_ms);
  });
  c.reader->thread = std::thread([r = c.reader.get()] {
    try {
      r->ioc.run();
    } catch (const std::exception& e) {
      log::warn("cache: the vector log reader stopped: {}", e.what());
    }
  });
}

}  // namespace

Result<std::shared_ptr<Cache>> shared_cache(const CacheConfig& c) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Cache>> caches;
  std::string id = c.store + "|" + std::to_string(c.semantic.max_entries);
  if (c.store == "redis")
    id += "|" + c.redis.host + ":" + std::to_string(c.redis.port) + "/" +
          std::to_string(c.redis.db) + "|" + c.redis.prefix + "|" +
          std::to_string(c.redis.pool) + "|" + std::to_string(c.redis.timeout.count()) + "|" +
          std::to_string(c.max_entry_bytes);
  else
    id += "|" + std::to_string(c.max_entries) + "|" + std::to_string(c.max_bytes) + "|" +
          std::to_string(c.max_entry_bytes);
  std::lock_guard g(mu);
  if (auto s = caches[id].lock()) return s;
  auto made = std::make_shared<Cache>();
  if (c.store == "redis") {
    RedisCache r = make_redis_cache(c.redis, c.max_entry_bytes, c.semantic.max_entries);
    made->store = std::move(r.store);
    made->vectors = std::move(r.vectors);
    made->index = std::make_unique<SemanticIndex>(c.semantic.max_entries);
    start_reader(*made);
  } else {
    made->store = make_memory_cache_store(c.max_entries, c.max_bytes, c.max_entry_bytes);
  }
  if (!made->index) made->index = std::make_unique<SemanticIndex>(c.semantic.max_entries);
  caches[id] = made;
  return made;
}

}  // namespace cache

namespace {

using cache::Entry;

// Per-request state.
struct CacheState : PolicyState {
  cache::Keys keys;
  bool prepared = false;     // on_request_now computed the keys (and decided on no bypass)
  bool exact_missed = false;  // ... and the exact lookup found nothing
  bool store = false;     // store the answer when it succeeds
  std::string recorded;   // the answer as written to the client (whole body, or the stream)
  std::vector<float> vector;  // the last user turn's embedding (semantic)
};

// Whether a Cache-Control header value holds `directive` (case-insensitive token).
bool has_directive(std::string_view value, std::string_view directive) {
  std::size_t at = 0;
  while (at < value.size()) {
    std::size_t comma = value.find(',', at);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view t = value.substr(at, comma - at);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t.size() == directive.size() && strncasecmp(t.data(), directive.data(), t.size()) == 0)
      return true;
    at = comma + 1;
  }
  return false;
}

// A failing store or embedding model would otherwise log once per request: once a second.
bool warn_now() {
  static std::atomic<int64_t> last{0};
  const int64_t now = unix_ms();
  int64_t then = last.load(std::memory_order_relaxed);
  return now - then >= 1000 && last.compare_exchange_strong(then, now);
}

std::string similarity_text(float s) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.4f", static_cast<double>(s));
  return buf;
}

class CachePolicy final : public Policy {
 public:
  CachePolicy(const Snapshot& s, std::shared_ptr<cache::Cache> shared,
              std::vector<cache::EmbedTarget> embed)
      : cfg_(s.config.cache), shared_(std::move(shared)), embed_(std::move(embed)) {
    routes_.insert(cfg_.routes.begin(), cfg_.routes.end());
    for (const auto& r : s.config.routes)
      if (!r.cache) off_routes_.insert(r.name);
    semantic_ = cfg_.semantic.enabled && !embed_.empty();
  }

  std::string_view name() const override { return "cache"; }

  bool on_request_now(RequestContext& ctx, Verdict& out) override {
    CacheState& st = ctx.state<CacheState>();
    if (!prepare(ctx, st)) {
      out = Verdict::next();
      return true;
    }
    if (ctx.cache.no_lookup) {
      miss(ctx, st);
      out = Verdict::next();
      return true;
    }
    st.prepared = true;
    std::shared_ptr<const Entry> hit;
    if (!shared_->store->lookup_now(st.keys.exact, hit)) return false;  // the store needs I/O
    if (hit) {
      out = serve(ctx, *hit, -1);
      return true;
    }
    st.exact_missed = true;
    if (wants_semantic(ctx, st)) return false;  // the embedding call is I/O
    miss(ctx, st);
    out = Verdict::next();
    return true;
  }

  Task<Verdict> on_request(RequestContext& ctx) override {
    CacheState& st = ctx.state<CacheState>();
    if (!st.prepared) {  // (on_request_now always prepares: kept for callers that skip it)
      if (!prepare(ctx, st)) co_return Verdict::next();
      if (ctx.cache.no_lookup) {
        miss(ctx, st);
        co_return Verdict::next();
      }
    }
    if (!st.exact_missed) {
      auto found = co_await shared_->store->lookup(st.keys.exact);
      if (!found) {
        if (warn_now()) log::warn("cache: lookup failed: {}", found.error().message);
      } else if (*found) {
        co_return serve(ctx, **found, -1);
      }
    }
    if (wants_semantic(ctx, st)) {
      std::string text = st.keys.last_user_text;
      auto vec = co_await cache::embed(embed_, std::move(text), cfg_.semantic.dimensions,
                                       cfg_.semantic.timeout);
      if (vec.vector.empty()) {
        if (warn_now()) log::warn("cache: no embedding for the semantic lookup: {}", vec.cause);
      } else {
        st.vector = std::move(vec.vector);
        auto candidates = shared_->index->search(st.keys.partition, st.vector,
                                                 static_cast<float>(cfg_.semantic.threshold), 4,
                                                 unix_ms());
        for (const auto& c : candidates) {
          if (cfg_.semantic.guard) {
            cache::GuardVerdict g = cache::same_meaning(st.keys.last_user_text, c.prompt);
            if (!g.same) {
              ctx.cache.reason = g.reason;  // the guard refused the nearest: shown on the miss
              continue;
            }
          }
          std::shared_ptr<const Entry> entry;
          if (!shared_->store->lookup_now(c.key, entry)) {
            auto found = co_await shared_->store->lookup(c.key);
            if (found) entry = *found;
          }
          if (!entry) {
            shared_->index->erase(c.key);  // its entry expired or was purged
            continue;
          }
          co_return serve(ctx, *entry, c.similarity);
        }
      }
    }
    miss(ctx, st);
    co_return Verdict::next();
  }

  // A whole answer is stored here, before it is written (the guardrails' after-phase has run:
  // its hooks come first), so that the client's next request finds it.
  bool on_response_now(RequestContext& ctx, ResponseView& view, Verdict& out) override {
    if (ctx.has_state<CacheState>()) {
      CacheState& st = ctx.state<CacheState>();
      if (st.store && view.status == 200 && !ctx.error &&
          static_cast<int64_t>(view.body.size()) <= cfg_.max_entry_bytes) {
        st.recorded = view.body;
        store(ctx, st);
      }
    }
    out = Verdict::next();
    return true;
  }

  // A stream is stored once it ended cleanly and the client had all of it.
  void on_complete(RequestContext& ctx) noexcept override {
    if (!ctx.has_state<CacheState>()) return;
    CacheState& st = ctx.state<CacheState>();
    ctx.stream_record = nullptr;
    if (!ctx.stream || ctx.status != 200 || ctx.error || ctx.client_disconnected) return;
    store(ctx, st);
  }

 private:
  // Stores the recorded answer of a miss (usage zeroed), and its vector.
  void store(RequestContext& ctx, CacheState& st) const noexcept {
    if (!st.store || st.recorded.empty() || ctx.cache.status != "miss") return;
    st.store = false;  // once
    for (const auto& g : ctx.guardrails)
      if (g.action == "deny") return;  // a refusal stands in for the answer: never kept
    if (static_cast<int64_t>(st.recorded.size()) > cfg_.max_entry_bytes) return;
    try {
      auto body = ctx.stream ? cache::zero_usage_sse(st.recorded)
                             : cache::zero_usage_json(st.recorded);
      if (!body) return;
      auto e = std::make_shared<Entry>();
      e->body = std::move(*body);
      e->stream = ctx.stream;
      e->created_ms = unix_ms();
      e->cost_micros = ctx.cost_micros;
      e->prompt_tokens = ctx.usage.prompt_tokens;
      e->completion_tokens = ctx.usage.completion_tokens;
      e->provider = ctx.provider;
      e->model = ctx.upstream_model;
      if (!st.vector.empty()) {
        const int64_t expires = e->created_ms + cfg_.ttl.count();
        shared_->index->add(st.keys.partition, st.keys.exact, st.keys.last_user_text, st.vector,
                            expires);
        if (shared_->vectors)
          net::co_spawn(ctx.executor,
                        publish(shared_, cache::VectorRecord{st.keys.partition, st.keys.exact,
                                                             st.keys.last_user_text,
                                                             std::move(st.vector), expires}),
                        net::detached);
      }
      if (!shared_->store->put_now(st.keys.exact, e, cfg_.ttl))
        net::co_spawn(ctx.executor, put(shared_, st.keys.exact, std::move(e), cfg_.ttl),
                      net::detached);
    } catch (const std::exception& ex) {
      log::warn("cache: the answer was not stored: {}", ex.what());
    }
  }

  // Decides whether the cache applies to this request and computes its keys. False: it does
  // not (ctx.cache says why when it is a bypass).
  bool prepare(RequestContext& ctx, CacheState& st) const {
    if (ctx.api != InboundApi::openai_chat && ctx.api != InboundApi::anthropic_messages &&
        ctx.api != InboundApi::openai_responses && ctx.api != InboundApi::openai_completions)
      return false;  // count_tokens: nothing to cache
    const std::string& route = ctx.route->name;
    if ((!routes_.empty() && !routes_.count(route)) || off_routes_.count(route)) return false;
    const std::string_view cc = ctx.head ? ctx.head->header("cache-control") : std::string_view();
    if (!cc.empty()) {
      if (has_directive(cc, "no-store")) ctx.cache.no_lookup = ctx.cache.no_store = true;
      if (has_directive(cc, "no-cache")) ctx.cache.no_lookup = true;
    }
    if (ctx.cache.no_lookup && ctx.cache.no_store) return bypass(ctx, "no-store");
    if (auto why = cache::uncacheable(ctx.request, cfg_.max_temperature); !why.empty())
      return bypass(ctx, why);
    std::string targets = route;
    for (const Target& t : ctx.route->targets)
      ((targets += '\n') += t.provider->name()) += "/" + t.model;
    const std::string scope = cache::scope_digest(cache::tenant_of(ctx.principal, cfg_.scope));
    cache::KeyInput in;
    in.scope = scope;
    in.api = ctx.api;
    in.stream = ctx.stream;
    in.route_targets = targets;
    in.answers_digest = cfg_.answers_digest;
    in.request = &ctx.request;
    st.keys = cache::make_keys(in);
    return true;
  }

  bool wants_semantic(const RequestContext& ctx, const CacheState& st) const {
    return semantic_ && !st.keys.last_user_text.empty() && !ctx.cache.no_lookup;
  }

  static bool bypass(RequestContext& ctx, std::string_view why) {
    ctx.cache.status = "bypass";
    ctx.cache.reason = why;
    ctx.response_headers.emplace_back("x-torii-cache", "bypass");
    return false;
  }

  void miss(RequestContext& ctx, CacheState& st) const {
    ctx.cache.status = "miss";
    st.store = !ctx.cache.no_store;
    if (st.store && ctx.stream) ctx.stream_record = &st.recorded;
    ctx.response_headers.emplace_back("x-torii-cache", "miss");
    ctx.response_headers.emplace_back("x-torii-cache-key", st.keys.exact);
  }

  // The cached answer, with zero usage and cost; `similarity` < 0: an exact hit.
  Verdict serve(RequestContext& ctx, const Entry& e, float similarity) const {
    const bool semantic = similarity >= 0;
    ctx.cache.status = semantic ? "semantic-hit" : "hit";
    ctx.cache.reason = {};  // (a guard refusal of a nearer candidate is no longer the story)
    ctx.cache.similarity = similarity;
    ctx.cache.saved_micros = e.cost_micros;
    ctx.provider = e.provider;
    ctx.upstream_model = e.model;
    ctx.usage = Usage{};
    ctx.usage.prompt_tokens = ctx.usage.completion_tokens = ctx.usage.total_tokens = 0;
    ctx.cost_micros = 0;
    Headers h;
    h.emplace_back("content-type", e.stream ? "text/event-stream" : "application/json");
    h.emplace_back("x-torii-cache", std::string(ctx.cache.status));
    if (semantic) h.emplace_back("x-torii-cache-similarity", similarity_text(similarity));
    h.emplace_back("x-torii-cache-key", ctx.state<CacheState>().keys.exact);
    const int64_t age = std::max<int64_t>(0, (unix_ms() - e.created_ms) / 1000);
    h.emplace_back("age", std::to_string(age));
    h.emplace_back("x-torii-provider", e.provider);
    h.emplace_back("x-torii-model", e.model);
    h.emplace_back("x-torii-cost-usd", quota::format_micros(0));
    // A stream asked of a whole answer (or the reverse) cannot happen: the key has the flag.
    return e.stream ? Verdict::respond_stream(e.body, std::move(h))
                    : Verdict::respond(200, e.body, std::move(h));
  }

  static Task<void> put(std::shared_ptr<cache::Cache> c, std::string key,
                        std::shared_ptr<const Entry> e, std::chrono::milliseconds ttl) {
    auto r = co_await c->store->put(std::move(key), std::move(e), ttl);
    if (!r && warn_now()) log::warn("cache: store failed: {}", r.error().message);
  }

  static Task<void> publish(std::shared_ptr<cache::Cache> c, cache::VectorRecord rec) {
    auto r = co_await c->vectors->publish(std::move(rec));
    if (!r && warn_now()) log::warn("cache: vector publish failed: {}", r.error().message);
  }

  const CacheConfig& cfg_;
  std::shared_ptr<cache::Cache> shared_;
  std::vector<cache::EmbedTarget> embed_;
  std::set<std::string, std::less<>> routes_, off_routes_;
  bool semantic_ = false;
};

}  // namespace

Result<std::unique_ptr<Policy>> make_cache_policy(const Snapshot& s) {
  const CacheConfig& c = s.config.cache;
  auto shared = cache::shared_cache(c);
  if (!shared) return shared.error();
  std::vector<cache::EmbedTarget> embed;
  if (c.semantic.enabled) {
    Route scratch;
    const Route* route = s.resolve(c.semantic.embedding_model, nullptr, scratch);
    if (!route || route->targets.empty())
      return ApiError::invalid_request("cache.semantic.embedding_model: '" +
                                       c.semantic.embedding_model +
                                       "' names no route for everyone and no provider/model");
    for (const Target& t : route->targets)
      if (t.provider->capabilities().embeddings) embed.push_back({t.provider, t.model});
    if (embed.empty())
      return ApiError::invalid_request("cache.semantic.embedding_model: no target of '" +
                                       c.semantic.embedding_model + "' serves embeddings");
  }
  return std::unique_ptr<Policy>(
      std::make_unique<CachePolicy>(s, std::move(*shared), std::move(embed)));
}

}  // namespace torii
