#pragma once
// The audit sinks (docs/AUDIT.md) and their factory. Each sink is an AuditSink (sink.h): it is
// called by its SinkRunner's thread only and may block within its timeouts.
//
// What each one guarantees when write() succeeds:
// - jsonl: the lines are in the file and fdatasync'ed. A failed write is rolled back (the file
//   is truncated to its size before the batch), except for the part of a batch that was already
//   rotated out, which a retry repeats (readers deduplicate on "id").
// - sqlite: the batch's transaction committed (WAL, synchronous=NORMAL: survives a process
//   crash; a power loss may undo the last commits). A replayed batch duplicates nothing.
// - webhook: the endpoint answered 2xx to the POST of the whole batch (a JSON array).
// - redis: every XADD of the batch was acknowledged (one pipelined round trip).
// - stdout: the lines were written and fflush'ed.
#include <memory>
#include <string>
#include <string_view>

#include "audit/sink.h"
#include "config/config.h"
#include "core/result.h"

namespace torii::audit {

// Builds the sink `c.type` names (jsonl, sqlite, webhook, redis, stdout), opening its file or
// database now. Errors (unknown type, missing or unusable path, SQLite cannot open, bad URL,
// bad header) are ApiErrors whose message names the sink and never holds a secret.
Result<std::unique_ptr<AuditSink>> make_sink(const AuditSinkConfig& c);

// The individual sinks (make_sink dispatches to them; `c.name` is already defaulted).
Result<std::unique_ptr<AuditSink>> make_jsonl_sink(const AuditSinkConfig& c);
Result<std::unique_ptr<AuditSink>> make_sqlite_sink(const AuditSinkConfig& c);
Result<std::unique_ptr<AuditSink>> make_webhook_sink(const AuditSinkConfig& c);
Result<std::unique_ptr<AuditSink>> make_redis_sink(const AuditSinkConfig& c);
Result<std::unique_ptr<AuditSink>> make_stdout_sink(const AuditSinkConfig& c);

// The "id" member of one event line (its first member when written by to_json; any position
// is found, at a parse's cost). Empty when the line has none or is not a JSON object.
std::string event_id(std::string_view line);

// "audit sink NAME: " + what, as a 500-class ApiError.
ApiError sink_error(const std::string& name, const std::string& what);

}  // namespace torii::audit
