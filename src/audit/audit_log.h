#pragma once
// AuditLog: the process's audit pipeline (docs/AUDIT.md, docs/OBSERVABILITY.md).
//
//   worker: AuditPolicy::on_complete builds an AuditEvent (copies) ─► submit(): a bounded queue
//           (one short lock; full: the event is dropped and counted, the request never waits)
//   dispatcher thread: takes the queue in batches (audit.batch, or what came in audit.flush),
//           serializes each event once (to_json), updates the metrics, writes the access log,
//           hands the JSON lines to each sink's SinkRunner and the events to the OTLP exporter
//   runner threads (one per sink): write batches; a failing sink's batches spill to a file
//           and are replayed, in order, when it is back (sink_runner.h)
//
// One per process, made by `torii serve` (start()) and reconfigured on reload: sinks whose
// config did not change keep their runner (and its spill file). Tests and `torii check` make
// none: the policy then records nothing.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "audit/event.h"
#include "config/config.h"

namespace torii::audit {

struct QueueStats {
  std::atomic<uint64_t> submitted{0};
  std::atomic<uint64_t> dropped{0};  // the queue was full
  std::atomic<int64_t> depth{0};
};

class AuditLog {
 public:
  // Starts the process's pipeline for `cfg` (audit, tracing, metrics). Errors: a sink that
  // cannot be made (bad path). Called once by `torii serve`.
  static Result<void> start(const Config& cfg);
  // Applies a reloaded config: new sinks start, removed ones flush and stop, unchanged ones
  // stay. Errors leave the current pipeline as it was.
  static Result<void> reconfigure(const Config& cfg);
  // The running pipeline, or null (tests, `torii check`). One atomic load.
  static AuditLog* current() noexcept;
  // Flushes every queued event to the sinks (or their spill files), stops the threads, logs
  // how many events were recorded and dropped, and destroys the pipeline (current() is null
  // after); true when nothing was left in memory at `deadline`. For SIGTERM, after the server
  // has stopped (no request may run any more).
  static bool stop(std::chrono::steady_clock::time_point deadline);

  virtual ~AuditLog() = default;
  // Queues the event. Never blocks past a short lock; false when it was dropped (queue full).
  virtual bool submit(AuditEvent&& e) noexcept = 0;
  // Whether events go to sinks or traces (not just metrics): the policy then copies bodies etc.
  virtual bool records() const noexcept = 0;
  // Prometheus text of the request metrics, the audit queue and sinks, the exporter and the
  // upstream pools (the routing state is appended by the gateway).
  virtual std::string metrics_text() const = 0;
  virtual const QueueStats& queue_stats() const noexcept = 0;
};

}  // namespace torii::audit
