#include "config/snapshot.h"
#include "guardrails/policy.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>
#include <ctime>
#include <set>
#include <tuple>

#include "core/log.h"
#include "cache/cache_policy.h"
#include "policies/audit/audit_policy.h"
#include "policies/auth/auth_policy.h"
#include "policies/quota/quota_policy.h"
#include "prompts/prompt_policy.h"
#include "prompts/template.h"
#include "quota/prices.h"
#include "providers/openai_compatible.h"
#include "providers/registry.h"
#include "providers/vendors.h"
#include "upstream/egress.h"

namespace torii {
namespace json = boost::json;

namespace {

bool in_groups(const std::string& group, const std::vector<std::string>* groups) {
  if (group.empty()) return true;
  if (!groups) return false;
  for (const auto& g : *groups)
    if (g == group) return true;
  return false;
}

}  // namespace

const Route* Snapshot::resolve(std::string_view model, const std::vector<std::string>* groups,
                               Route& scratch) const {
  if (auto it = routes.find(std::string(model)); it != routes.end()) {
    const Route* everyone = nullptr;
    for (const Route& r : it->second) {
      if (r.group.empty()) everyone = everyone ? everyone : &r;
      else if (in_groups(r.group, groups)) return &r;
    }
    if (everyone) return everyone;
    // Only group variants, none of them the caller's: as if the alias did not exist.
  }
  auto slash = model.find('/');
  if (slash == std::string_view::npos || slash + 1 == model.size()) return nullptr;
  auto p = provider_slots.find(std::string(model.substr(0, slash)));
  if (p == provider_slots.end()) return nullptr;
  const ProviderSlot& slot = p->second;
  scratch = Route{};
  scratch.name = std::string(model);
  Target t;
  t.provider = slot.keys.front();
  t.model = std::string(model.substr(slash + 1));
  t.keys = slot.keys;
  t.breaker = &slot.config->breaker;
  t.rate_limit_cooldown = slot.config->rate_limit_cooldown;
  t.health = slot.unlisted;
  t.price = prices->find(slot.keys.front()->name(), t.model);
  scratch.targets.push_back(std::move(t));
  scratch.tiers.push_back(Route::Tier{0, 1, {0}});
  scratch.state = direct_state.get();
  return &scratch;
}

std::string Snapshot::models_for(const std::vector<std::string>* groups) const {
  json::array data;
  auto created = static_cast<int64_t>(std::time(nullptr));
  auto add = [&](const std::string& id, const std::string& owner) {
    data.push_back(json::object{{"id", id}, {"object", "model"}, {"created", created},
                                {"owned_by", owner}});
  };
  for (const auto& p : providers)
    for (const auto& m : p->models()) add(p->name() + "/" + m, p->name());
  std::set<std::string> seen;
  for (const auto& r : config.routes)
    if (in_groups(r.group, groups) && seen.insert(r.name).second) add(r.name, "torii");
  return json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
}

namespace {

// One Prometheus metric family: its HELP and TYPE lines, then one sample per labelled series.
template <class Series, class Value>
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            const std::vector<Series>& series, Value value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out.append(name).append(" ").append(type).append("\n");
  for (const auto& s : series) {
    out.append(name).append("{").append(s.labels).append("} ");
    const double v = value(s);
    if (v == std::floor(v) && std::abs(v) < 1e15) {
      out += std::to_string(static_cast<int64_t>(v));
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", v);
      out += buf;
    }
    out += '\n';
  }
}

struct TargetSeries {
  std::string labels;  // provider="a",model="m"
  const routing::TargetHealth* h;
  bool operator<(const TargetSeries& o) const { return labels < o.labels; }
};
struct RouteSeries {
  std::string labels;  // route="r" (or "r@group")
  const routing::RouteState* s;
  bool operator<(const RouteSeries& o) const { return labels < o.labels; }
};
struct ProviderSeries {
  std::string labels;  // provider="a"
  const ProviderSlot* slot;
  bool operator<(const ProviderSeries& o) const { return labels < o.labels; }
};

}  // namespace

std::string Snapshot::routing_metrics() const {
  std::vector<TargetSeries> targets;
  std::set<const routing::TargetHealth*> seen;
  auto add = [&](const std::string& provider, const std::string& model,
                 const routing::TargetHealth* h) {
    if (seen.insert(h).second)
      targets.push_back({"provider=\"" + provider + "\",model=\"" + model + "\"", h});
  };
  std::vector<RouteSeries> route_series;
  for (const auto& [name, variants] : routes) {
    for (const Route& r : variants) {
      for (const Target& t : r.targets) add(t.provider->name(), t.model, t.health.get());
      if (r.name.find('/') == std::string::npos)  // aliases (not a listed provider/model)
        route_series.push_back(
            {"route=\"" + (r.group.empty() ? r.name : r.name + "@" + r.group) + "\"", r.state});
    }
  }
  std::vector<ProviderSeries> checked;
  for (const auto& [name, slot] : provider_slots) {
    add(name, "*", slot.unlisted.get());
    if (slot.config->health_check.enabled) checked.push_back({"provider=\"" + name + "\"", &slot});
  }
  std::sort(targets.begin(), targets.end());
  std::sort(route_series.begin(), route_series.end());
  std::sort(checked.begin(), checked.end());

  std::string out;
  using T = const TargetSeries&;
  family(out, "torii_target_breaker_state", "gauge",
         "Circuit breaker of a target: 0 closed, 1 open, 2 half-open.", targets,
         [](T t) { return static_cast<int>(t.h->state()); });
  family(out, "torii_target_inflight", "gauge", "Upstream calls in flight.", targets,
         [](T t) { return t.h->inflight(); });
  family(out, "torii_target_latency_ewma_seconds", "gauge",
         "Time to the answer's head of successful calls, EWMA.", targets,
         [](T t) { return static_cast<double>(t.h->ewma_us()) / 1e6; });
  family(out, "torii_target_calls_total", "counter", "Upstream calls.", targets,
         [](T t) { return static_cast<double>(t.h->calls()); });
  family(out, "torii_target_failures_total", "counter", "Upstream calls that failed.", targets,
         [](T t) { return static_cast<double>(t.h->failures()); });
  family(out, "torii_target_breaker_opened_total", "counter", "Times the breaker opened.",
         targets, [](T t) { return static_cast<double>(t.h->opened()); });
  family(out, "torii_provider_health_check_failing", "gauge",
         "The provider's active health check fails (its targets are skipped).", checked,
         [](const ProviderSeries& p) {
           return p.slot->unlisted->check_failed->load(std::memory_order_relaxed) ? 1 : 0;
         });
  family(out, "torii_route_retries_total", "counter", "Retries (tries after the first).",
         route_series,
         [](const RouteSeries& r) { return static_cast<double>(r.s->budget.retries()); });
  family(out, "torii_route_retry_budget_exhausted_total", "counter",
         "Retries refused by the retry budget.", route_series,
         [](const RouteSeries& r) { return static_cast<double>(r.s->budget.exhausted()); });
  return out;
}

namespace {

// The provider instances of one declared provider: one per API key.
Result<void> make_provider(Snapshot& s, const ProviderConfig& pc,
                           const std::string& builtin_mock_url, routing::HealthRegistry& registry,
                           const std::shared_ptr<EgressPolicy>& egress) {
  const ProviderKind* vendor = find_provider_kind(pc.kind);
  if (!vendor)
    return ApiError::invalid_request("provider '" + pc.name + "': unknown kind '" + pc.kind + "'");
  // The built-in mock serves OpenAI paths under /v1 and each native vendor's paths as the
  // vendor has them: from its root, under the path of the kind's default base URL
  // (Leonardo's /api/rest/v1, Luma's /dream-machine/v1, Hive's /api/v3).
  const bool builtin = pc.kind == "mock" || pc.base_url == kBuiltinMock;
  const VendorSpec* spec = find_vendor(pc.kind);
  const bool openai_paths = spec != nullptr && spec->chat_path == "/chat/completions";
  if (builtin && builtin_mock_url.empty())
    return ApiError::invalid_request("provider '" + pc.name +
                                     "': the built-in mock is not running (it starts only "
                                     "when the config at startup uses it)");
  std::string_view native_path = vendor->default_base_url;
  if (const auto scheme = native_path.find("://"); scheme != std::string_view::npos) {
    const auto slash = native_path.find('/', scheme + 3);
    native_path = slash == std::string_view::npos ? std::string_view() : native_path.substr(slash);
  }
  std::string base = builtin ? builtin_mock_url + std::string(openai_paths ? "/v1" : native_path)
                     : pc.base_url.empty() ? std::string(vendor->default_base_url)
                                           : pc.base_url;
  if (base.empty())
    return ApiError::invalid_request("provider '" + pc.name + "': base_url is required for kind '" +
                                     pc.kind + "'");
  if (vendor->key_required && pc.api_key.empty())
    return ApiError::invalid_request("provider '" + pc.name + "': api_key is required for kind '" +
                                     pc.kind + "'");
  if (pc.extra_api_keys.size() + 1 > static_cast<std::size_t>(routing::TargetHealth::kMaxKeys))
    return ApiError::invalid_request("provider '" + pc.name + "': at most " +
                                     std::to_string(routing::TargetHealth::kMaxKeys) + " API keys");
  ProviderSlot slot;
  slot.config = &pc;
  for (std::size_t k = 0; k <= pc.extra_api_keys.size(); ++k) {
    auto ep = make_endpoint(base, pc.ca_file, pc.timeouts);
    if (!ep) return ApiError::invalid_request("provider '" + pc.name + "': " + ep.error().message);
    // Egress: the built-in mock is the gateway's own, on loopback; every other provider is
    // checked at connect, and a literal refused address is refused right here.
    if (!builtin) {
      if (const char* why = egress->literal_refusal(ep->host))
        return ApiError::invalid_request("provider '" + pc.name + "': base_url host " + ep->host +
                                         " is " + why + "; egress refuses it (allow it with "
                                         "egress.allow_networks)");
      ep->egress = egress;
      // Pooled connections were checked against the allowance they were opened under: a
      // reload that changes it must not reuse them, so the allowance is part of the pool key.
      for (const auto& n : s.config.egress.allow_networks) ep->key += "|net:" + n;
    }
    ProviderConfig keyed;
    const ProviderConfig* use = &pc;
    if (k > 0) {  // the same provider with another key
      keyed = pc;
      keyed.api_key = pc.extra_api_keys[k - 1];
      use = &keyed;
    }
    auto made = vendor->make(*use, std::move(*ep));
    if (!made) return made.error();
    slot.keys.push_back(made->get());
    if (k == 0) s.providers.push_back(std::move(*made));
    else s.key_instances.push_back(std::move(*made));
  }
  slot.unlisted = registry.get(pc.name, "*");
  s.provider_by_name[pc.name] = slot.keys.front();
  s.provider_slots[pc.name] = std::move(slot);
  return {};
}

Target make_target(const Snapshot& s, const ProviderSlot& slot, const std::string& model,
                   int weight, int priority, routing::HealthRegistry& registry) {
  Target t;
  t.price = s.prices->find(slot.keys.front()->name(), model);
  t.provider = slot.keys.front();
  t.model = model;
  t.weight = weight;
  t.priority = priority;
  t.keys = slot.keys;
  t.breaker = &slot.config->breaker;
  t.rate_limit_cooldown = slot.config->rate_limit_cooldown;
  t.health = registry.get(slot.config->name, model);
  return t;
}

}  // namespace

namespace {

// A money budget counts nothing for a model without a price: say so at load.
void warn_unpriced(const Snapshot& s) {
  bool money = false;
  for (const auto& b : s.config.quotas.budgets) money = money || b.usd_micros > 0;
  if (!money) return;
  std::set<std::string> told;
  for (const auto& [name, variants] : s.routes)
    for (const Route& r : variants)
      for (const Target& t : r.targets) {
        const std::string full = t.provider->name() + "/" + t.model;
        if (!t.price && told.insert(full).second)
          log::warn("no price for {}: money budgets count its calls as 0 USD (add it under "
                    "prices:)", full);
      }
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> build_snapshot(Config config,
                                                       const std::string& builtin_mock_url,
                                                       routing::HealthRegistry* registry) {
  auto s = std::make_shared<Snapshot>();
  s->config = std::move(config);  // first: the routes point into it
  if (!registry) {
    s->own_registry = std::make_unique<routing::HealthRegistry>();
    registry = s->own_registry.get();
  }
  // One egress policy for the snapshot's provider endpoints: allow_networks, and as hosts
  // allow_hosts plus every provider's host (read back from the endpoints the providers made:
  // some, like bedrock, derive theirs). Complete before the snapshot is published.
  auto egress = EgressPolicy::make(s->config.egress);
  if (!egress) return egress.error();
  for (const auto& pc : s->config.providers)
    if (auto r = make_provider(*s, pc, builtin_mock_url, *registry, *egress); !r) return r.error();
  for (const auto* list : {&s->providers, &s->key_instances})
    for (const auto& p : *list) (*egress)->allow_host(p->endpoint().host);
  s->direct_state = std::make_unique<routing::RouteState>(1);
  s->prices = std::make_unique<quota::PriceTable>(s->config.prices);  // the targets' prices

  // "<provider>/<listed model>": one target each.
  for (const auto& [name, slot] : s->provider_slots) {
    for (const auto& m : slot.keys.front()->models()) {
      Route r;
      r.name = name + "/" + m;
      r.targets.push_back(make_target(*s, slot, m, 1, 0, *registry));
      routing::prepare_tiers(r);
      s->route_states.push_back(std::make_unique<routing::RouteState>(r.tiers.size()));
      r.state = s->route_states.back().get();
      s->routes[r.name].push_back(std::move(r));
    }
  }
  for (const auto& rc : s->config.routes) {
    Route r;
    r.name = rc.name;
    r.group = rc.group;
    r.strategy = rc.strategy;
    r.retry = rc.retry;
    r.failover = rc.failover;
    if (rc.targets.empty() || rc.targets.size() > 64)
      return ApiError::invalid_request("route '" + rc.name + "': needs 1 to 64 targets");
    for (const auto& t : rc.targets) {
      auto p = s->provider_slots.find(t.provider);
      if (p == s->provider_slots.end())
        return ApiError::invalid_request("route '" + rc.name + "': target '" + t.provider + "/" +
                                         t.model + "' names no provider");
      r.targets.push_back(make_target(*s, p->second, t.model, t.weight, t.priority, *registry));
    }
    r.rules = rc.rules;
    routing::prepare_tiers(r);
    s->route_states.push_back(std::make_unique<routing::RouteState>(r.tiers.size()));
    r.state = s->route_states.back().get();
    s->routes[rc.name].push_back(std::move(r));
  }
  for (const auto& rc : s->config.routes)
    for (const auto& rule : rc.rules)
      if (!s->routes.count(rule.route))
        return ApiError::invalid_request("route '" + rc.name + "': rule sends to unknown route '" +
                                         rule.route + "'");
  if (!s->config.api_keys.empty() || !s->config.jwt.empty()) {
    auto auth = make_auth_policy(s->config);
    if (!auth) return auth.error();
    s->policies.push_back(std::move(*auth));
  }
  s->authorizer = std::make_unique<identity::Authorizer>(s->config.authorization);
  if (s->config.quotas.active()) {
    auto store = shared_quota_store(s->config.quotas);
    if (!store) return store.error();
    auto quota = make_quota_policy(s->config, std::move(*store));
    if (!quota) return quota.error();
    s->policies.push_back(std::move(*quota));
    warn_unpriced(*s);
  }
  // The prompt library: after the quota (a refused request renders nothing), before the
  // guardrails (they check the prompt as it will be sent).
  if (prompts_configured(s->config)) {
    if (!s->config.prompts.templates.empty() || !s->config.prompts.contexts.empty()) {
      auto lib = prompts::Library::build(s->config.prompts);
      if (!lib) return lib.error();
      s->prompts = std::move(*lib);
    }
    auto prompt_policy = make_prompt_policy(*s);
    if (!prompt_policy) return prompt_policy.error();
    s->policies.push_back(std::move(*prompt_policy));
  }
  // The cache: after the prompt library (the key covers the prompt as rendered), before the
  // guardrails (their edits never reach the key, and its response hooks, in reverse, see the
  // answer the guardrails let through, as the client gets it).
  if (s->config.cache.active()) {
    auto cache = make_cache_policy(*s);
    if (!cache) return cache.error();
    s->policies.push_back(std::move(*cache));
  }
  // Last: the texts it checks are the ones that go upstream (after the prompt contexts), and
  // its after-phase hooks run first on the answer (reverse order).
  if (s->config.guardrails.active()) {
    auto guard = make_guardrail_policy(*s);
    if (!guard) return guard.error();
    s->policies.push_back(std::move(*guard));
  }
  // First, so that its on_complete runs last (after the others settled).
  if (s->config.metrics || s->config.audit.enabled || !s->config.tracing.otlp_endpoint.empty())
    s->policies.insert(s->policies.begin(), make_audit_policy(s->config));
  s->models_json = s->models_for(nullptr);
  return std::shared_ptr<const Snapshot>(std::move(s));
}

}  // namespace torii
