#pragma once
// The pipeline runner: the phases of docs/LIFE_OF_A_REQUEST.md for one request.
#include "core/task.h"
#include "pipeline/request_context.h"
#include "routing/route.h"
#include "server/http.h"

namespace torii {

// Runs ctx through the snapshot's policy chain and the upstream call, and answers on `ex`.
// Always runs every policy's on_complete before returning (also when the coroutine is
// destroyed at shutdown).
Task<void> run_pipeline(RequestContext& ctx, Exchange& ex);

// Answers with `e` in the shape of the client's API (ctx.codec; OpenAI when unset), with
// x-request-id and Retry-After.
Task<void> send_error(RequestContext& ctx, Exchange& ex, const ApiError& e);

// What routing, authorization and quota rules (`when:`) read from this request.
routing::RuleInput rule_input(const RequestContext& ctx);

// Records that a policy changed ctx.request: the client's bytes are no longer forwarded as they
// came, and the canonical form is decoded again from the edited request.
inline void mark_request_edited(RequestContext& ctx) {
  ctx.request_edited = true;
  ctx.canonical.reset();
}

// The canonical form of ctx.request, decoded on first call (errors are the client's: 400s).
Result<const ChatRequest*> canonical_request(RequestContext& ctx);

}  // namespace torii
