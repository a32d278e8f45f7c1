#pragma once
// Request metrics for GET /metrics (docs/OBSERVABILITY.md lists every series). Updated by the
// audit dispatcher thread from each AuditEvent, so a request pays nothing for them beyond the
// event it already builds; read (serialized) by whichever worker serves /metrics.
#include <memory>
#include <string>

#include "audit/event.h"

namespace prometheus {
class Registry;
}

namespace torii::audit {

class RequestMetrics {
 public:
  RequestMetrics();
  ~RequestMetrics();
  // Counts one finished request. Dispatcher thread only.
  void observe(const AuditEvent& e);
  // The registry, for gauges the caller adds (queue, sinks) before serializing.
  prometheus::Registry& registry();
  // Prometheus text format 0.0.4 of everything in the registry. Any thread.
  std::string text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torii::audit
