#pragma once
// The upstream phase of a chat request: walk the route's targets in order until one answers
// before the first byte reaches the client; forward its answer, streamed event by event.
#include <cstddef>

#include "core/task.h"
#include "pipeline/request_context.h"
#include "server/http.h"

namespace torii {

// ctx.route is set. `ran` is how many policies ran on_request (the response hooks run for
// those only, in reverse).
Task<void> proxy_chat(RequestContext& ctx, Exchange& ex, std::size_t ran);

}  // namespace torii
