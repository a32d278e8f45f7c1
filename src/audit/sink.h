#pragma once
// AuditSink: where audit events go (docs/AUDIT.md). A sink receives batches of events as JSON
// lines (one object each, no newline; the schema of audit/event.h). The events are handed over
// by a SinkRunner (sink_runner.h), on the runner's own thread: a sink is never called from two
// threads at once and never on a request's path, so it may block (file, SQLite, a blocking HTTP
// or Redis call), within its timeouts.
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace torii::audit {

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // The sink's label, for logs and metrics ("sqlite", "jsonl", "webhook", ...; the config's
  // `name:` when given).
  virtual const std::string& name() const = 0;
  // Appends the batch. Success means every event of it is durable in the sink (committed,
  // written, acknowledged). An error means the runner will retry the whole batch later: a sink
  // must then either have written nothing or tolerate the repeat (each event has a unique "id";
  // SQLite ignores an id it holds). Never throws.
  virtual Result<void> write(std::span<const std::string> events) = 0;
  // Flushes buffered output (called at shutdown, after the last write). Default: nothing.
  virtual void flush() {}
};

}  // namespace torii::audit
