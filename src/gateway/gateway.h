#pragma once
// The gateway: the Handler that runs every request through the pipeline of
// docs/LIFE_OF_A_REQUEST.md (policies, routing with fallback, the upstream call, streaming).
#include <memory>

#include "config/snapshot.h"
#include "core/request_id.h"
#include "server/http.h"

namespace torii {

std::shared_ptr<Handler> make_gateway(SnapshotHolder& snapshots);

}  // namespace torii
