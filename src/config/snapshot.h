#pragma once
// Snapshot: the live objects built from one Config (providers, routes, the policy chain).
// Immutable once built and shared by every request that started under it; a reload builds a
// new one and swaps it in (SnapshotHolder), while requests in flight keep theirs.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "identity/authz.h"
#include "pipeline/policy.h"
#include "providers/provider.h"
#include "quota/prices.h"
#include "routing/route.h"

namespace torii {

namespace prompts {
class Library;  // prompts/template.h
}

// A declared provider as routes use it.
struct ProviderSlot {
  const ProviderConfig* config = nullptr;
  std::vector<const Provider*> keys;  // one instance per API key; keys[0] is "the" provider
  // Health of models addressed as "<provider>/<model>" without being listed (one for all).
  std::shared_ptr<routing::TargetHealth> unlisted;
};

struct Snapshot {
  Config config;
  std::vector<std::unique_ptr<Provider>> providers;  // the first key's instance of each
  std::vector<std::unique_ptr<Provider>> key_instances;  // the instances of the other keys
  std::unordered_map<std::string, const Provider*> provider_by_name;
  std::unordered_map<std::string, ProviderSlot> provider_slots;
  // Aliases and "<provider>/<listed model>"; an alias may have one variant per consumer group
  // (declaration order) and one for everyone.
  std::unordered_map<std::string, std::vector<Route>> routes;
  std::vector<std::unique_ptr<routing::RouteState>> route_states;
  std::unique_ptr<routing::RouteState> direct_state;  // unlisted "<provider>/<model>"
  std::unique_ptr<routing::HealthRegistry> own_registry;  // when none was given
  std::vector<std::unique_ptr<Policy>> policies;  // the chain, in order
  std::unique_ptr<identity::Authorizer> authorizer;
  // `prompts:` parsed (prompts/template.h); null when there are no templates or contexts.
  std::shared_ptr<const prompts::Library> prompts;
  std::unique_ptr<quota::PriceTable> prices;  // built-in table + `prices:` (never null once built)  // `authorization:`, once the route is known
  std::string models_json;                        // GET /v1/models for a caller with no group

  // The route for a client's "model", for a caller in `groups` (may be null): an alias (the
  // first variant of one of the caller's groups, else the one for everyone), a listed
  // "<provider>/<model>", or any model at a known provider (then built in `scratch`).
  // nullptr when nothing matches.
  const Route* resolve(std::string_view model, const std::vector<std::string>* groups,
                       Route& scratch) const;
  // The GET /v1/models body for a caller in `groups`.
  std::string models_for(const std::vector<std::string>* groups) const;
  // Prometheus text for the routing state (targets, breakers, retry budgets).
  std::string routing_metrics() const;
};

// Builds and validates the live objects. `builtin_mock_url` is the base URL of the in-process
// mock that providers of kind "mock" point at. Target health comes from `registry` (kept
// across reloads), or a fresh one when null. Errors name the provider or route.
Result<std::shared_ptr<const Snapshot>> build_snapshot(Config config,
                                                       const std::string& builtin_mock_url,
                                                       routing::HealthRegistry* registry = nullptr);

// The current snapshot, swapped atomically.
class SnapshotHolder {
 public:
  std::shared_ptr<const Snapshot> get() const { return current_.load(std::memory_order_acquire); }
  void set(std::shared_ptr<const Snapshot> s) {
    current_.store(std::move(s), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> current_;
};

}  // namespace torii
