// QuotasLoader: `quotas:` and `prices:` (see loader_quotas.h).
#include "config/loader_quotas.h"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

#include "quota/money.h"
#include "quota/prices.h"

namespace torii::config_detail {

namespace {

constexpr int64_t kMaxCount = int64_t{1} << 40;  // requests or tokens per window or period

std::optional<QuotaScope> scope_of(const std::string& s) {
  if (s == "key") return QuotaScope::key;
  if (s == "consumer") return QuotaScope::consumer;
  if (s == "group") return QuotaScope::group;
  if (s == "model") return QuotaScope::model;
  if (s == "route") return QuotaScope::route;
  if (s == "provider") return QuotaScope::provider;
  return std::nullopt;
}

}  // namespace

void QuotasLoader::quotas(const YAML::Node& v, const std::string& path, Config& cfg) {
  QuotasConfig& q = cfg.quotas;
  std::set<std::string> ids;
  auto unique = [&](const YAML::Node& at, const std::string& p, const std::string& id) {
    if (!id.empty() && !valid_entity_id(id))  // part of store keys
      error(at, p, "must be at most 64 letters, digits, '.', '_' or '-', got '" + id + "'");
    else if (!id.empty() && !ids.insert(id).second)
      error(at, p, "duplicate id '" + id + "' (limits and budgets share one namespace)");
  };
  each_key(v, path,
           {"store", "redis", "on_store_error", "default_max_tokens", "limits", "budgets"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "store") {
               auto s = nonempty(x, p);
               if (s && *s != "memory" && *s != "redis")
                 error(x, p, "must be memory or redis");
               else if (s) q.store = *s;
             }
             if (k == "redis") redis(x, p, q.redis);
             if (k == "on_store_error") {
               auto s = nonempty(x, p);
               if (s && *s != "open" && *s != "closed") error(x, p, "must be open or closed");
               else if (s) q.fail_open = *s == "open";
             }
             if (k == "default_max_tokens") count(x, p, 1, 10'000'000, q.default_max_tokens);
             if (k == "limits" || k == "budgets") {
               if (!x.IsSequence()) return error(x, p, "must be a list");
               for (std::size_t i = 0; i < x.size(); ++i) {
                 const std::string ip = index_path(p, i);
                 if (k == "limits") {
                   limit(x[i], ip, q.limits.emplace_back());
                   unique(x[i], ip + ".id", q.limits.back().id);
                 } else {
                   budget(x[i], ip, q.budgets.emplace_back());
                   unique(x[i], ip + ".id", q.budgets.back().id);
                 }
               }
             }
           });
}

void QuotasLoader::redis(const YAML::Node& v, const std::string& path, RedisConfig& out) {
  each_key(v, path,
           {"url", "host", "port", "db", "password", "prefix", "pool", "timeout_ms",
            "connect_timeout_ms"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "url") redis_url(x, p, out);
             if (k == "host") set_str(x, p, out.host);
             if (k == "port") count(x, p, 1, 65535, out.port);
             if (k == "db") count(x, p, 0, 1000, out.db);
             if (k == "password") out.password = secret(x, p);
             if (k == "prefix") {
               if (auto s = str(x, p)) out.prefix = *s;
             }
             if (k == "pool") count(x, p, 1, 64, out.pool);
             if (k == "timeout_ms") millis(x, p, out.timeout);
             if (k == "connect_timeout_ms") millis(x, p, out.connect_timeout);
           });
}

// redis://[:password@]host[:port][/db]. A password in a URL is a literal secret: prefer
// `password: ${env:...}`.
void QuotasLoader::redis_url(const YAML::Node& v, const std::string& path, RedisConfig& out) {
  auto s = nonempty(v, path);
  if (!s) return;
  auto u = boost::urls::parse_uri(*s);
  if (!u || u->scheme() != "redis" || u->host().empty()) {
    error(v, path, "must be redis://[:password@]host[:port][/db]");
    return;
  }
  out.host = u->host();
  if (u->has_port()) {
    int port = 0;
    auto ps = u->port();
    auto [end, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
    if (ec != std::errc() || end != ps.data() + ps.size() || port < 1 || port > 65535)
      return error(v, path, "the port must be from 1 to 65535");
    out.port = port;
  }
  std::string db = u->path();
  if (!db.empty() && db != "/") {
    int n = -1;
    auto [end, ec] = std::from_chars(db.data() + 1, db.data() + db.size(), n);
    if (ec != std::errc() || end != db.data() + db.size() || n < 0 || n > 1000)
      return error(v, path, "the path must be a database number (/0)");
    out.db = n;
  }
  if (u->has_password()) out.password.value = u->password();
}

void QuotasLoader::scope(const YAML::Node& v, const std::string& path,
                         std::vector<QuotaScope>& out) {
  if (!v.IsSequence()) {
    if (auto s = nonempty(v, path)) {  // one scope without brackets
      if (auto sc = scope_of(*s)) out.push_back(*sc);
      else error(v, path, "unknown scope '" + *s + "' (key, consumer, group, model, route, provider)");
    }
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto s = nonempty(v[i], index_path(path, i));
    if (!s) continue;
    auto sc = scope_of(*s);
    if (!sc) {
      error(v[i], index_path(path, i),
            "unknown scope '" + *s + "' (key, consumer, group, model, route, provider)");
    } else if (std::find(out.begin(), out.end(), *sc) != out.end()) {
      error(v[i], index_path(path, i), "scope '" + *s + "' is listed twice");
    } else {
      out.push_back(*sc);
    }
  }
}

void QuotasLoader::limit(const YAML::Node& v, const std::string& path, RateLimitConfig& out) {
  out.line = line_of(v);
  std::set<std::string> got;
  each_key(v, path, {"id", "scope", "when", "requests", "tokens", "per"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             if (k == "id") set_str(x, p, out.id);
             if (k == "scope") scope(x, p, out.scope);
             if (k == "when") conditions(x, p, out.when, /*authz=*/true);
             if (k == "requests") count(x, p, 1, kMaxCount, out.requests);
             if (k == "tokens") count(x, p, 1, kMaxCount, out.tokens);
             if (k == "per") {
               auto s = nonempty(x, p);
               if (!s) return;
               using std::chrono::milliseconds;
               if (*s == "second") out.window = milliseconds(1'000);
               else if (*s == "minute") out.window = milliseconds(60'000);
               else if (*s == "hour") out.window = milliseconds(3'600'000);
               else if (*s == "day") out.window = milliseconds(86'400'000);
               else error(x, p, "must be second, minute, hour or day");
             }
           });
  require(v, path, got, {"id", "per"});
  if (v.IsMap() && !got.count("requests") && !got.count("tokens"))
    error(v, path, "needs requests or tokens (or both)");
}

void QuotasLoader::budget(const YAML::Node& v, const std::string& path, BudgetConfig& out) {
  out.line = line_of(v);
  std::set<std::string> got;
  each_key(v, path, {"id", "scope", "when", "usd", "tokens", "period", "mode", "webhook"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             if (k == "id") set_str(x, p, out.id);
             if (k == "scope") scope(x, p, out.scope);
             if (k == "when") conditions(x, p, out.when, /*authz=*/true);
             if (k == "usd") {
               auto s = nonempty(x, p);
               if (!s) return;
               auto m = quota::parse_micros(*s);
               if (!m || *m == 0)
                 error(x, p, "must be a positive USD amount with at most 6 decimals, got '" +
                                 *s + "'");
               else out.usd_micros = *m;
             }
             if (k == "tokens") count(x, p, 1, kMaxCount, out.tokens);
             if (k == "period") {
               auto s = nonempty(x, p);
               if (!s) return;
               if (*s == "hour") out.period = BudgetPeriod::hour;
               else if (*s == "day") out.period = BudgetPeriod::day;
               else if (*s == "week") out.period = BudgetPeriod::week;
               else if (*s == "month") out.period = BudgetPeriod::month;
               else if (*s == "total") out.period = BudgetPeriod::total;
               else error(x, p, "must be hour, day, week, month or total");
             }
             if (k == "mode") {
               auto s = nonempty(x, p);
               if (s && *s != "block" && *s != "soft") error(x, p, "must be block or soft");
               else if (s) out.soft = *s == "soft";
             }
             if (k == "webhook") {
               auto s = nonempty(x, p);
               if (!s) return;
               auto u = boost::urls::parse_uri(*s);
               if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty())
                 error(x, p, "must be an http(s) URL");
               else out.webhook = *s;
             }
           });
  require(v, path, got, {"id", "period"});
  if (v.IsMap() && !got.count("usd") && !got.count("tokens"))
    error(v, path, "needs usd or tokens (or both)");
}

void QuotasLoader::prices(const YAML::Node& v, const std::string& path, Config& cfg) {
  if (!v.IsMap()) return error(v, path, "must be a mapping of model -> prices");
  for (const auto& kv : v) {
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    const std::string p = key_path(path, name);
    if (name.empty()) {
      error(kv.first, p, "must be a model name");
      continue;
    }
    if (name.find('*') != std::string::npos && name.find('*') != name.size() - 1) {
      error(kv.first, p, "a '*' may only end the name (a prefix)");
      continue;
    }
    if (cfg.prices.count(name)) {
      error(kv.first, p, "duplicate model");
      continue;
    }
    PriceConfig& pc = cfg.prices[name];
    if (!kv.second.IsMap()) {
      error(kv.second, p, "must be a mapping such as {input: 2.50, output: 10.00}");
      continue;
    }
    for (const auto& f : kv.second) {
      const std::string field = f.first.IsScalar() ? f.first.Scalar() : std::string();
      const std::string fp = key_path(p, field);
      if (!f.second.IsScalar()) {
        error(f.second, fp, "must be a USD amount");
        continue;
      }
      if (auto e = quota::set_price_field(pc, field, f.second.Scalar())) error(f.first, fp, *e);
    }
  }
}

}  // namespace torii::config_detail
