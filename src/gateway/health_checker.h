#pragma once
// Active health checks: for each provider with `health_check` set, GET {base_url}{path} every
// interval on a thread of its own (never a worker's). A connection failure, a timeout or a 5xx
// takes the provider's targets out of selection until a check passes again; any other answer
// (401 included: the check sends no credentials) counts as healthy. Results land in the
// provider's flag in the HealthRegistry, which its TargetHealth objects read.
#include <memory>

#include "config/snapshot.h"

namespace torii {

class HealthChecker {
 public:
  explicit HealthChecker(routing::HealthRegistry& registry);
  ~HealthChecker();  // stops the checks and joins the thread
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Checks the providers of `snapshot` from now on (those of the previous one stop).
  void watch(std::shared_ptr<const Snapshot> snapshot);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace torii
