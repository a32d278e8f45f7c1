#pragma once
// The pipeline runner: the phases of docs/LIFE_OF_A_REQUEST.md for one request.
#include "core/task.h"
#include "pipeline/request_context.h"
#include "server/http.h"

namespace torii {

// Runs ctx through the snapshot's policy chain and the upstream call, and answers on `ex`.
// Always runs every policy's on_complete before returning (also when the coroutine is
// destroyed at shutdown).
Task<void> run_pipeline(RequestContext& ctx, Exchange& ex);

// Answers with `e` in the shape of ctx.api (OpenAI today), with x-request-id and Retry-After.
Task<void> send_error(RequestContext& ctx, Exchange& ex, const ApiError& e);

}  // namespace torii
