#pragma once
// The gateway: the Handler that runs every request through the pipeline of
// docs/LIFE_OF_A_REQUEST.md (policies, routing with fallback, the upstream call, streaming).
#include <memory>
#include <string>

#include "config/snapshot.h"
#include "core/request_id.h"
#include "server/http.h"

namespace torii {

std::shared_ptr<Handler> make_gateway(SnapshotHolder& snapshots);

// GET /metrics: Prometheus text of the requests, audit and pools (audit/metrics.h), then the
// routing state of `snap` (breakers, in flight, latency, retries). Served by the gateway's
// listener, or by the admin listener when there is one.
std::string prometheus_text(const Snapshot& snap);

}  // namespace torii
