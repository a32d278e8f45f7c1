// The admin API's view of the quota counters: a rule's consumption as JSON, and its reset
// (declared in quota_policy.h; docs/QUOTAS.md, "Admin API"). Off the request path: the store is
// scanned by key prefix ("rl:<id>:" or "bg:<id>:", ids never contain ':').
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>

#include "policies/quota/quota_policy.h"
#include "quota/money.h"
#include "quota/plan.h"
#include "quota/store.h"

namespace torii {

using namespace quota;

namespace {

namespace json = boost::json;

// Unix µs as RFC 3339 in UTC: "2026-11-22T11:00:01Z", with ".mmm" when not on a second.
std::string rfc3339(int64_t us) {
  using namespace std::chrono;
  const sys_time<microseconds> t{microseconds(us)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss hms(floor<milliseconds>(t - day));
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d",
                        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                        static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                        static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  if (const auto ms = hms.subseconds().count(); ms != 0)
    n += std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(ms));
  return std::string(buf, static_cast<std::size_t>(n)) + "Z";
}

// Undoes append_escaped (plan.h).
std::string unescape(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size()) {
      const std::string_view code = v.substr(i + 1, 2);
      char c = 0;
      if (code == "25") c = '%';
      else if (code == "2C") c = ',';
      else if (code == "3A") c = ':';
      else if (code == "3D") c = '=';
      if (c) {
        out += c;
        i += 2;
        continue;
      }
    }
    out += v[i];
  }
  return out;
}

// A counter's scope ("key=alice,model=m1", or "*") as name -> value pairs, values unescaped.
using ScopeValues = std::vector<std::pair<std::string, std::string>>;
ScopeValues parse_scope(std::string_view s) {
  ScopeValues out;
  if (s == "*") return out;
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    const std::string_view part = s.substr(0, comma);
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) out.emplace_back("", unescape(part));
    else out.emplace_back(std::string(part.substr(0, eq)), unescape(part.substr(eq + 1)));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool is_scope_name(std::string_view n) {
  for (QuotaScope s : {QuotaScope::key, QuotaScope::consumer, QuotaScope::group,
                       QuotaScope::model, QuotaScope::route, QuotaScope::provider})
    if (scope_name(s) == n) return true;
  return false;
}

// The `scope` selector of the admin functions (see quota_policy.h).
struct ScopeFilter {
  bool all = true;
  bool global = false;              // "*"
  std::optional<std::string> name;  // "key=alice": key
  std::string value;

  explicit ScopeFilter(std::string_view f) {
    if (f.empty()) return;
    all = false;
    if (f == "*") {
      global = true;
      return;
    }
    const std::size_t eq = f.find('=');
    if (eq != std::string_view::npos && is_scope_name(f.substr(0, eq))) {
      name = std::string(f.substr(0, eq));
      value = std::string(f.substr(eq + 1));
    } else {
      value = std::string(f);
    }
  }

  bool matches(std::string_view scope) const {
    if (all) return true;
    if (global) return scope == "*";
    for (const auto& [n, v] : parse_scope(scope))
      if (v == value && (!name || *name == n)) return true;
    return false;
  }
};

json::object scope_json(std::string_view scope) {
  json::object o;
  for (auto& [n, v] : parse_scope(scope)) o[n] = v;
  return o;
}

json::array scope_names(const std::vector<QuotaScope>& scope) {
  json::array a;
  for (QuotaScope s : scope) a.emplace_back(scope_name(s));
  return a;
}

// A counter key's parts. Rate: "rl:<id>:req|tok:<scope>". Budget: "bg:<id>:usd|tok:<scope>:
// <period>" (the scope's ':' are escaped). False for a key of another shape.
struct KeyParts {
  std::string_view unit, scope, period;
};
bool split_key(std::string_view key, std::string_view rule_id, bool rate, KeyParts& out) {
  const std::size_t head = 3 + rule_id.size() + 1;  // "rl:" id ":"
  if (key.size() < head + 4 || key[head + 3] != ':') return false;
  out.unit = key.substr(head, 3);
  std::string_view rest = key.substr(head + 4);
  if (!rate) {
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return false;
    out.period = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  out.scope = rest;
  return true;
}

const RateLimitConfig* find_limit(const Config& cfg, std::string_view id) {
  for (const auto& l : cfg.quotas.limits)
    if (l.id == id) return &l;
  return nullptr;
}
const BudgetConfig* find_budget(const Config& cfg, std::string_view id) {
  for (const auto& b : cfg.quotas.budgets)
    if (b.id == id) return &b;
  return nullptr;
}

ApiError unknown_rule(std::string_view id) {
  return ApiError::not_found("no quota limit or budget with id '" + std::string(id) + "'");
}

std::string_view period_name(BudgetPeriod p) {
  switch (p) {
    case BudgetPeriod::hour: return "hour";
    case BudgetPeriod::day: return "day";
    case BudgetPeriod::week: return "week";
    case BudgetPeriod::month: return "month";
    case BudgetPeriod::total: return "total";
  }
  return "?";
}

// One GCRA cell's figures (see quota_policy.h for the rounding).
json::object rate_figures(std::optional<int64_t> tat_us, int64_t now_us, int64_t limit,
                          int64_t window_us) {
  const int64_t inc = increment_us(1, limit, window_us);
  const int64_t ahead = tat_us && *tat_us > now_us ? *tat_us - now_us : 0;
  const int64_t used = ahead == 0 ? 0 : (ahead + inc - 1) / inc;
  return {{"used", used},
          {"limit", limit},
          {"remaining", std::max<int64_t>(0, limit - used)},
          {"resets_at", rfc3339(now_us + ahead)}};
}

json::object budget_figures(int64_t total, int64_t limit, bool usd) {
  const int64_t left = std::max<int64_t>(0, limit - total);
  if (usd)
    return {{"spent", format_micros(total)},
            {"limit", format_micros(limit)},
            {"remaining", format_micros(left)}};
  return {{"spent", total}, {"limit", limit}, {"remaining", left}};
}

Task<Result<std::string>> rate_usage(QuotaStore& store, const RateLimitConfig& l, int64_t now_us,
                                     const ScopeFilter& filter, std::size_t max_counters) {
  const std::string prefix = "rl:" + l.id + ":";
  const std::size_t cap = max_counters * 2 + 2;  // two cells per scope at most
  auto found = co_await store.scan(prefix, cap);
  if (!found) co_return found.error();
  struct Cells {
    std::optional<int64_t> req, tok;
  };
  std::map<std::string, Cells> by_scope;  // sorted: a stable answer
  for (const CounterState& c : *found) {
    KeyParts k;
    if (!c.rate || !split_key(c.key, l.id, true, k) || !filter.matches(k.scope)) continue;
    if (c.tat_us <= now_us) continue;  // nothing in the window
    Cells& cells = by_scope[std::string(k.scope)];
    (k.unit == "req" ? cells.req : cells.tok) = c.tat_us;
  }
  const int64_t window_us =
      std::chrono::duration_cast<std::chrono::microseconds>(l.window).count();
  json::array counters;
  for (const auto& [scope, cells] : by_scope) {
    if (counters.size() >= max_counters) break;
    json::object c{{"scope", scope_json(scope)}};
    if (l.requests > 0) c["requests"] = rate_figures(cells.req, now_us, l.requests, window_us);
    if (l.tokens > 0) c["tokens"] = rate_figures(cells.tok, now_us, l.tokens, window_us);
    counters.emplace_back(std::move(c));
  }
  json::object limits;
  if (l.requests > 0) limits["requests"] = l.requests;
  if (l.tokens > 0) limits["tokens"] = l.tokens;
  json::object out{{"id", l.id},
                   {"kind", "rate_limit"},
                   {"scope", scope_names(l.scope)},
                   {"window_ms", static_cast<int64_t>(l.window.count())},
                   {"limits", std::move(limits)}};
  out["truncated"] = by_scope.size() > max_counters || found->size() >= cap;
  out["counters"] = std::move(counters);
  co_return json::serialize(out);
}

Task<Result<std::string>> budget_usage(QuotaStore& store, const BudgetConfig& b, int64_t now_us,
                                       const ScopeFilter& filter, std::size_t max_counters) {
  const Period period = period_at(b.period, now_us / 1000);
  const std::string prefix = "bg:" + b.id + ":";
  // Counters of past periods (kept a day after theirs) share the prefix: room for them.
  const std::size_t cap = max_counters * 4 + 16;
  auto found = co_await store.scan(prefix, cap);
  if (!found) co_return found.error();
  struct Totals {
    std::optional<int64_t> usd, tok;
  };
  std::map<std::string, Totals> by_scope;
  for (const CounterState& c : *found) {
    KeyParts k;
    if (c.rate || !split_key(c.key, b.id, false, k) || k.period != period.id ||
        !filter.matches(k.scope))
      continue;
    Totals& t = by_scope[std::string(k.scope)];
    (k.unit == "usd" ? t.usd : t.tok) = c.total;
  }
  json::array counters;
  for (const auto& [scope, t] : by_scope) {
    if (counters.size() >= max_counters) break;
    json::object c{{"scope", scope_json(scope)}, {"period", period.id}};
    if (b.usd_micros > 0) c["usd"] = budget_figures(t.usd.value_or(0), b.usd_micros, true);
    if (b.tokens > 0) c["tokens"] = budget_figures(t.tok.value_or(0), b.tokens, false);
    counters.emplace_back(std::move(c));
  }
  json::object limits;
  if (b.usd_micros > 0) limits["usd"] = format_micros(b.usd_micros);
  if (b.tokens > 0) limits["tokens"] = b.tokens;
  json::object out{{"id", b.id},
                   {"kind", "budget"},
                   {"scope", scope_names(b.scope)},
                   {"period", period_name(b.period)},
                   {"mode", b.soft ? "soft" : "block"},
                   {"current_period", period.id},
                   {"limits", std::move(limits)}};
  if (period.end_ms > 0) out["resets_at"] = rfc3339(period.end_ms * 1000);
  else out["resets_at"] = nullptr;
  out["truncated"] = by_scope.size() > max_counters || found->size() >= cap;
  out["counters"] = std::move(counters);
  co_return json::serialize(out);
}

}  // namespace

Task<Result<std::string>> quota_usage_json(const Config& cfg, QuotaStore& store,
                                           std::string_view rule_id, int64_t now_us,
                                           std::string_view scope, std::size_t max_counters) {
  const ScopeFilter filter(scope);
  max_counters = std::max<std::size_t>(max_counters, 1);
  if (const RateLimitConfig* l = find_limit(cfg, rule_id))
    co_return co_await rate_usage(store, *l, now_us, filter, max_counters);
  if (const BudgetConfig* b = find_budget(cfg, rule_id))
    co_return co_await budget_usage(store, *b, now_us, filter, max_counters);
  co_return unknown_rule(rule_id);
}

Task<Result<int64_t>> quota_reset(const Config& cfg, QuotaStore& store, std::string_view rule_id,
                                  int64_t /*now_us*/, std::string_view scope) {
  const RateLimitConfig* l = find_limit(cfg, rule_id);
  const BudgetConfig* b = l ? nullptr : find_budget(cfg, rule_id);
  if (!l && !b) co_return unknown_rule(rule_id);
  const std::string id(rule_id);
  const std::string prefix = (l ? "rl:" : "bg:") + id + ":";
  if (scope.empty()) co_return co_await store.erase(prefix);
  // One scope's counters: listed, then deleted by their exact keys (a prefix would also take
  // "key=alice2" for "key=alice").
  const ScopeFilter filter(scope);
  auto found = co_await store.scan(prefix, std::numeric_limits<std::size_t>::max());
  if (!found) co_return found.error();
  std::vector<std::string> keys;
  for (CounterState& c : *found) {
    KeyParts k;
    if (split_key(c.key, id, l != nullptr, k) && filter.matches(k.scope))
      keys.push_back(std::move(c.key));
  }
  co_return co_await store.erase_keys(keys);
}

}  // namespace torii
