#pragma once
// The gateway: the Handler that runs every request through the pipeline of
// docs/LIFE_OF_A_REQUEST.md (policies, routing with fallback, the upstream call, streaming).
#include <memory>

#include "config/snapshot.h"
#include "server/http.h"

namespace torii {

std::shared_ptr<Handler> make_gateway(SnapshotHolder& snapshots);

// A request id: the client's x-request-id when it is sane (<= 128 chars of [A-Za-z0-9._:-]),
// else a new random one.
std::string request_id_for(std::string_view client_value);

}  // namespace torii
