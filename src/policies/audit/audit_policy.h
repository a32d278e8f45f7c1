#pragma once
// AuditPolicy: turns each finished request into one AuditEvent (audit/event.h) and hands it to
// the process's AuditLog (audit/audit_log.h), which feeds the sinks, the metrics, the access
// log and the traces off the request path. First in the chain, so its on_complete runs last
// (after every other policy settled: quotas, guardrails). Exactly one event per request that
// reached the pipeline, whatever its end: answer, error, denial, disconnect, mid-stream failure.
#include <memory>

#include "config/config.h"
#include "pipeline/policy.h"

namespace torii {

std::unique_ptr<Policy> make_audit_policy(const Config& cfg);

namespace audit {
struct AuditEvent;
}
// The event of a finished request (exposed for the unit tests).
audit::AuditEvent audit_event_of(const RequestContext& ctx);
// The outcome label of a finished request: ok, client_error, unauthenticated, denied,
// rate_limited, upstream_error, stream_failed, client_disconnected, error, aborted.
std::string_view audit_outcome(const RequestContext& ctx);

}  // namespace torii
