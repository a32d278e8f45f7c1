// The admin API's queries over live state (see admin_queries.h).
#include "admin/admin_queries.h"

#include "cache/cache_policy.h"
#include "cache/key.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>

#include "admin/audit_query.h"
#include "policies/quota/quota_policy.h"
#include "routing/health.h"

namespace torii::admin {

namespace json = boost::json;

namespace {

std::string param(const QueryContext& c, const std::string& name) {
  auto it = c.query->find(name);
  return it == c.query->end() ? std::string() : it->second;
}

Result<int> int_param(const QueryContext& c, const std::string& name, int dflt, int lo, int hi) {
  const std::string s = param(c, name);
  if (s.empty()) return dflt;
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
    return ApiError::invalid_request(name + ": an integer from " + std::to_string(lo) + " to " +
                                         std::to_string(hi),
                                     name);
  return v;
}

// The file of the first SQLite audit sink of the live config.
Result<std::string> audit_db(const QueryContext& c) {
  const AuditConfig& a = c.snapshot->config.audit;
  if (a.enabled)
    for (const auto& s : a.sinks)
      if (s.type == "sqlite") return s.path;
  return ApiError::not_found(
      "no SQLite audit sink is configured: audit queries read it (docs/AUDIT.md)",
      "no_audit_store");
}

Result<void> time_range(const QueryContext& c, int64_t& from, int64_t& to) {
  if (auto f = param(c, "from"); !f.empty()) {
    auto v = parse_time_param(f, "from");
    if (!v) return v.error();
    from = *v;
  }
  if (auto t = param(c, "to"); !t.empty()) {
    auto v = parse_time_param(t, "to");
    if (!v) return v.error();
    to = *v;
  }
  if (from != 0 && to != 0 && to <= from)
    return ApiError::invalid_request("to must be after from", "to");
  return {};
}

// Runs a store coroutine to its end on a private io_context (the admin thread may block).
template <class T>
Task<void> store_into(Task<Result<T>> task, std::optional<Result<T>>* out) {
  out->emplace(co_await std::move(task));
}

template <class T>
Result<T> run_sync(Task<Result<T>> task) {
  boost::asio::io_context ioc;
  std::optional<Result<T>> out;
  boost::asio::co_spawn(ioc, store_into(std::move(task), &out), boost::asio::detached);
  ioc.run();
  if (!out) return ApiError::internal("the quota store did not answer");
  return std::move(*out);
}

// The rule `id` of the kind the path names (rate limit or budget) must exist.
Result<std::shared_ptr<quota::QuotaStore>> quota_store_for(const QueryContext& c, bool budget) {
  const std::string& id = (*c.params)[0];
  const QuotasConfig& q = c.snapshot->config.quotas;
  bool found = false;
  if (budget) {
    for (const auto& b : q.budgets) found = found || b.id == id;
  } else {
    for (const auto& l : q.limits) found = found || l.id == id;
  }
  if (!found)
    return ApiError::not_found("no " + std::string(budget ? "budget" : "rate limit") + " '" + id +
                               "'");
  return shared_quota_store(q);
}

Result<std::string> usage_of(const QueryContext& c, bool budget) {
  auto store = quota_store_for(c, budget);
  if (!store) return store.error();
  const std::string id = (*c.params)[0], scope = param(c, "scope");
  return run_sync(quota_usage_json(c.snapshot->config, **store, id, wall_clock_us(), scope));
}

Result<std::string> reset_of(const QueryContext& c, bool budget) {
  auto store = quota_store_for(c, budget);
  if (!store) return store.error();
  const std::string id = (*c.params)[0], scope = param(c, "scope");
  auto n = run_sync(quota_reset(c.snapshot->config, **store, id, wall_clock_us(), scope));
  if (!n) return n.error();
  json::object o;
  o["id"] = id;
  o["deleted"] = *n;
  return json::serialize(o);
}

Result<std::shared_ptr<cache::Cache>> cache_of(const QueryContext& c) {
  const CacheConfig& cfg = c.snapshot->config.cache;
  if (!cfg.enabled) return ApiError::not_found("the cache is not enabled (config: cache)");
  return cache::shared_cache(cfg);
}

}  // namespace

Result<std::string> query_cache(const QueryContext& c) {
  const CacheConfig& cfg = c.snapshot->config.cache;
  json::object o;
  o["enabled"] = cfg.enabled;
  if (cfg.enabled) {
    auto cache = cache_of(c);
    if (!cache) return cache.error();
    const cache::StoreStats st = (*cache)->store->stats();
    o["store"] = cfg.store;
    o["scope"] = cfg.scope;
    o["ttl_seconds"] = cfg.ttl.count() / 1000;
    o["max_temperature"] = cfg.max_temperature;
    o["entries"] = st.entries;
    o["bytes"] = st.bytes;
    o["evictions"] = st.evictions;
    json::object sem;
    sem["enabled"] = cfg.semantic.enabled;
    if (cfg.semantic.enabled) {
      sem["embedding_model"] = cfg.semantic.embedding_model;
      sem["threshold"] = cfg.semantic.threshold;
      sem["guard"] = cfg.semantic.guard;
      sem["vectors"] = (*cache)->index->size();
      sem["memory_bytes"] = (*cache)->index->memory_bytes();
    }
    o["semantic"] = std::move(sem);
  }
  return json::serialize(o);
}

Result<std::string> purge_cache(const QueryContext& c) {
  auto cache = cache_of(c);
  if (!cache) return cache.error();
  const std::string key = param(c, "key"), consumer = param(c, "consumer"),
                    group = param(c, "group"), shared = param(c, "shared");
  const int given = !key.empty() + !consumer.empty() + !group.empty() + !shared.empty();
  if (given > 1)
    return ApiError::invalid_request("give one of key, consumer, group, shared (or none: all)");
  json::object o;
  if (!key.empty()) {
    // "<16 hex scope>:<64 hex>", as x-torii-cache-key shows it.
    const bool valid = key.size() == 16 + 1 + 64 && key[16] == ':' &&
                       std::all_of(key.begin(), key.end(), [](char ch) {
                         return ch == ':' || std::isdigit(static_cast<unsigned char>(ch)) ||
                                (ch >= 'a' && ch <= 'f');
                       });
    if (!valid)
      return ApiError::invalid_request("key: a cache key as x-torii-cache-key shows it", "key");
    auto n = run_sync((*cache)->store->erase(key));
    if (!n) return n.error();
    (*cache)->index->erase(key);
    o["deleted"] = *n;
    o["key"] = key;
    return json::serialize(o);
  }
  std::string prefix, scope;
  if (!consumer.empty()) scope = "consumer:" + consumer;
  if (!group.empty()) {
    // As tenant_of() writes it: the groups sorted, comma-separated.
    std::vector<std::string> groups;
    std::size_t at = 0;
    while (at <= group.size()) {
      std::size_t comma = std::min(group.find(',', at), group.size());
      if (comma > at) groups.push_back(group.substr(at, comma - at));
      at = comma + 1;
    }
    std::sort(groups.begin(), groups.end());
    scope = "group:";
    for (std::size_t i = 0; i < groups.size(); ++i) (scope += i ? "," : "") += groups[i];
  }
  if (!shared.empty()) {
    if (shared != "true") return ApiError::invalid_request("shared: must be true", "shared");
    scope = "shared";
  }
  if (!scope.empty()) prefix = cache::scope_digest(scope) + ":";
  auto n = run_sync((*cache)->store->purge(prefix));
  if (!n) return n.error();
  o["deleted"] = *n;
  o["vectors_deleted"] = (*cache)->index->purge(prefix);
  if (!scope.empty()) o["scope"] = scope;
  return json::serialize(o);
}

Result<std::string> query_limit_usage(const QueryContext& c) { return usage_of(c, false); }
Result<std::string> query_budget_usage(const QueryContext& c) { return usage_of(c, true); }
Result<std::string> reset_limit(const QueryContext& c) { return reset_of(c, false); }
Result<std::string> reset_budget(const QueryContext& c) { return reset_of(c, true); }

Result<int64_t> parse_time_param(const std::string& text, const std::string& name) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch));
      }) && text.size() <= 15)
    return std::stoll(text);
  if (auto s = parse_rfc3339(text)) return *s * 1000;
  return ApiError::invalid_request(
      name + ": an RFC 3339 date-time (2026-11-22T10:00:00Z) or Unix milliseconds", name);
}

Result<std::string> query_audit_events(const QueryContext& c) {
  auto db = audit_db(c);
  if (!db) return db.error();
  AuditSearch q;
  q.consumer = param(c, "consumer");
  q.model = param(c, "model");
  q.provider = param(c, "provider");
  q.key = param(c, "key");
  q.route = param(c, "route");
  q.outcome = param(c, "outcome");
  q.cursor = param(c, "cursor");
  auto status = int_param(c, "status", 0, 0, 599);
  if (!status) return status.error();
  q.status = *status;
  auto limit = int_param(c, "limit", 50, 1, 1000);
  if (!limit) return limit.error();
  q.limit = *limit;
  if (auto r = time_range(c, q.from_ms, q.to_ms); !r) return r.error();
  return search_audit(*db, q);
}

Result<std::string> query_usage(const QueryContext& c) {
  auto db = audit_db(c);
  if (!db) return db.error();
  UsageQuery q;
  const std::string g = param(c, "group_by");
  std::size_t i = 0;
  while (i < g.size()) {
    auto j = g.find(',', i);
    if (j == std::string::npos) j = g.size();
    if (j > i) q.group_by.push_back(g.substr(i, j - i));
    i = j + 1;
  }
  q.consumer = param(c, "consumer");
  q.model = param(c, "model");
  q.provider = param(c, "provider");
  if (auto r = time_range(c, q.from_ms, q.to_ms); !r) return r.error();
  return usage_aggregates(*db, q);
}

Result<std::string> query_provider_health(const QueryContext& c) {
  json::array data;
  std::set<std::string> seen;
  for (const auto& [alias, variants] : c.snapshot->routes) {
    for (const auto& route : variants) {
      for (const auto& t : route.targets) {
        if (t.provider == nullptr || !t.health) continue;
        const std::string id = t.provider->name() + "/" + t.model;
        if (!seen.insert(id).second) continue;
        json::object o;
        o["provider"] = t.provider->name();
        o["model"] = t.model;
        o["breaker"] = std::string(routing::to_string(t.health->state()));
        o["inflight"] = t.health->inflight();
        o["latency_ewma_us"] = t.health->ewma_us();
        o["keys"] = static_cast<int64_t>(t.keys.size());
        data.push_back(std::move(o));
      }
    }
  }
  json::object out;
  out["data"] = std::move(data);
  return json::serialize(out);
}

}  // namespace torii::admin
