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
#include "pipeline/policy.h"
#include "providers/provider.h"

namespace torii {

struct Target {
  const Provider* provider = nullptr;
  std::string model;  // the model name at the provider
};

struct Route {
  std::string name;
  std::vector<Target> targets;  // tried in order
};

struct Snapshot {
  Config config;
  std::vector<std::unique_ptr<Provider>> providers;
  std::unordered_map<std::string, const Provider*> provider_by_name;
  std::unordered_map<std::string, Route> routes;  // aliases and "<provider>/<listed model>"
  std::vector<std::unique_ptr<Policy>> policies;  // the chain, in order
  std::string models_json;                        // the GET /v1/models body

  // The route for a client's "model": an alias, a listed "<provider>/<model>", or any model at
  // a known provider (then built in `scratch`). nullptr when no provider matches.
  const Route* resolve(std::string_view model, Route& scratch) const;
};

// Builds and validates the live objects. `builtin_mock_url` is the base URL of the in-process
// mock that providers of kind "mock" point at. Errors name the provider or route.
Result<std::shared_ptr<const Snapshot>> build_snapshot(Config config,
                                                       const std::string& builtin_mock_url);

// The current snapshot, swapped atomically.
class SnapshotHolder {
 public:
  std::shared_ptr<const Snapshot> get() const { return current_.load(std::memory_order_acquire); }
  void set(std::shared_ptr<const Snapshot> s) { current_.store(std::move(s), std::memory_order_release); }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> current_;
};

}  // namespace torii
