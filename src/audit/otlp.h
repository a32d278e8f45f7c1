#pragma once
// Traces from audit events: the OTLP/HTTP JSON encoding (otlp_json) and the exporter that POSTs
// it to a collector off the request path (OtlpExporter). Traces are not the audit record: the
// exporter drops (and counts) what it cannot send; the audit sinks are what must not lose events.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "audit/event.h"
#include "config/config.h"
#include "core/result.h"
#include "upstream/json_post.h"

namespace torii::audit {

// One ExportTraceServiceRequest (OTLP/HTTP JSON: ids as lowercase hex strings, times as
// unix-nano strings, enums as integers) with resource attribute service.name = `service_name`
// and one scope "torii". Per event: a SERVER span (the gateway's span: the event's trace_id,
// span_id, parent_span_id, start/end; name "<gen_ai.operation.name> <model>"), and one CLIENT
// child span per attempt (the attempt's span_id; start = event start + attempt.start_us).
// Attributes: see docs in otlp.cpp (server_attributes / attempt_attributes). Null pointers are
// skipped.
std::string otlp_json(std::span<const AuditEvent* const> events, std::string_view service_name);

// The gen_ai.operation.name for an inbound API name (openai_chat -> "chat",
// openai_completions -> "text_completion", *embedding* -> "embeddings", ...).
std::string_view operation_name(std::string_view api);

// Exports traces to TracingConfig::otlp_endpoint from its own thread.
//
// submit() queues a batch (never blocks on I/O: it takes a short lock); the thread POSTs
// otlp_json of up to `batch_size` events at a time, with content-type application/json and the
// config's headers, through http_fetch (timeout: TracingConfig::timeout per try). A 2xx answer
// counts the events as exported; anything else (status or transport error) is retried after
// each `retry_backoff` delay (default 200 ms, then 1 s), then the events are dropped and counted.
class OtlpExporter {
 public:
  struct Options {
    std::size_t queue_capacity = 8192;  // events waiting; past it submit drops and counts
    std::size_t batch_size = 512;       // events per POST
    std::vector<std::chrono::milliseconds> retry_backoff{std::chrono::milliseconds(200),
                                                         std::chrono::milliseconds(1000)};
    // Which events are exported, evaluated in submit(). Null: the trace-id ratio rule of
    // should_sample() with TracingConfig::sample (a client's sampled flag is then unknown);
    // the gateway should pass e.g. [](const AuditEvent& e) { return e.sampled; } once the
    // decision taken at request time is recorded in the event.
    std::function<bool(const AuditEvent&)> sample;
  };

  // Validates the config (a parseable http(s) endpoint, header names and values without CR/LF)
  // and starts the thread. An empty otlp_endpoint is an error: build no exporter then.
  static Result<std::unique_ptr<OtlpExporter>> make(const TracingConfig& config, Options options);
  static Result<std::unique_ptr<OtlpExporter>> make(const TracingConfig& config) {
    return make(config, Options{});
  }

  // Stops the thread: a POST in progress ends (no further retry), what is still queued is
  // dropped and counted. Call flush() first for a graceful shutdown.
  ~OtlpExporter();
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  // Queues the sampled events of `batch` (kept alive by the pointer until posted). Events past
  // queue_capacity are dropped and counted. Thread-safe; never waits for the network.
  void submit(std::shared_ptr<const std::vector<AuditEvent>> batch);

  // Waits until every event submitted before the call is exported or dropped, or until
  // `deadline`. True when nothing is left.
  bool flush(std::chrono::steady_clock::time_point deadline);

  // Counters (events, except failed_posts: POST attempts that got no 2xx).
  uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t failed_posts() const { return failed_posts_.load(std::memory_order_relaxed); }
  uint64_t unsampled() const { return unsampled_.load(std::memory_order_relaxed); }
  std::size_t queued() const;

 private:
  struct Pending {
    std::shared_ptr<const std::vector<AuditEvent>> owner;  // keeps `events` alive
    std::vector<const AuditEvent*> events;
    std::size_t next = 0;  // first not yet taken by the thread
  };

  OtlpExporter(JsonPost post, std::string service_name, double ratio, Options options);
  void run();
  // One batch through http_fetch with the retries; true when a try got a 2xx.
  bool post(const std::string& body);

  const JsonPost post_;  // holds header values (secrets): never logged
  const std::string service_name_;
  const double ratio_;
  const Options options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // work queued, or stop
  std::condition_variable idle_cv_;  // the queue emptied and nothing is in flight
  std::deque<Pending> queue_;
  std::size_t queued_events_ = 0;
  std::size_t in_flight_ = 0;  // events taken by the thread, not yet counted
  bool stop_ = false;

  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_posts_{0};
  std::atomic<uint64_t> unsampled_{0};
  std::atomic<uint64_t> posts_warned_{0};
  std::thread thread_;
};

}  // namespace torii::audit
