#include "audit/audit_log.h"

#include <re2/re2.h>

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>
#include <vector>

#include "audit/metrics.h"
#include "audit/otlp.h"
#include "audit/sink_runner.h"
#include "audit/sinks.h"
#include "core/log.h"
#include "upstream/http_client.h"

namespace torii::audit {

namespace {

// What makes two sink configs the same sink (a reload keeps its runner and spill file).
std::string signature(const AuditSinkConfig& c) {
  std::string s = c.type + '\n' + c.name + '\n' + c.path + '\n' + std::to_string(c.max_bytes) +
                  '\n' + std::to_string(c.max_age.count()) + '\n' + std::to_string(c.keep) +
                  '\n' + c.url + '\n' + std::to_string(c.timeout.count()) + '\n' +
                  c.redis.host + ':' + std::to_string(c.redis.port) + '/' +
                  std::to_string(c.redis.db) + '\n' + c.redis.password.value + '\n' + c.stream +
                  '\n' + std::to_string(c.maxlen);
  for (const auto& [k, v] : c.headers) s += '\n' + k + '=' + v;
  return s;
}

std::string tracing_signature(const TracingConfig& t) {
  std::string s = t.otlp_endpoint + '\n' + t.service_name + '\n' + std::to_string(t.sample) +
                  '\n' + std::to_string(t.timeout.count());
  for (const auto& [k, v] : t.headers) s += '\n' + k + '=' + v;
  return s;
}

// logfmt value: bare when simple, else quoted with \" and \\ escaped.
void logfmt(std::string& out, std::string_view key, std::string_view v) {
  out += ' ';
  out += key;
  out += '=';
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '\\' || c == '=' || static_cast<unsigned char>(c) < 0x20)
      plain = false;
  if (plain) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    out += c;
  }
  out += '"';
}

// The line's prefix as the logger writes it ("2026-11-22T18:12:11.936 info "), at the
// request's end (local time, as the logger's).
void access_prefix(std::string& out, int64_t unix_us) {
  const std::time_t secs = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  out += fmt::format(".{:03d} info ", static_cast<int>((unix_us / 1000) % 1000));
}

// Appends one access line (with its newline) to `out`.
void access_line(std::string& out, const AuditEvent& e) {
  access_prefix(out, e.end_unix_us);
  out += "access";
  logfmt(out, "request_id", e.request_id);
  logfmt(out, "client", e.client_ip);
  logfmt(out, "method", e.method);
  logfmt(out, "path", e.path);
  logfmt(out, "status", std::to_string(e.status));
  logfmt(out, "outcome", e.outcome);
  logfmt(out, "consumer", e.consumer);
  logfmt(out, "key", e.key);
  logfmt(out, "model", e.model);
  logfmt(out, "provider", e.provider);
  logfmt(out, "attempts", std::to_string(e.attempts.size()));
  logfmt(out, "stream", e.stream ? "true" : "false");
  logfmt(out, "tokens_in", std::to_string(e.usage.prompt));
  logfmt(out, "tokens_out", std::to_string(e.usage.completion));
  logfmt(out, "total_ms", fmt::format("{:.3f}", e.total_us / 1000.0));
  if (e.ttft_us >= 0) logfmt(out, "ttft_ms", fmt::format("{:.3f}", e.ttft_us / 1000.0));
  if (!e.error_code.empty()) logfmt(out, "error", e.error_code);
  logfmt(out, "user_agent", e.user_agent);
  out += '\n';
}

// Writes the access lines of a batch to stderr in few writes, each at most a pipe's atomic
// size and cut at a line end (so another thread's log line never lands inside one of ours).
void write_access_lines(const std::vector<AuditEvent>& events) {
  std::string buf;
  buf.reserve(4096);
  auto flush = [&buf] {
    std::size_t at = 0;
    while (at < buf.size()) {
      const ssize_t n = ::write(STDERR_FILENO, buf.data() + at, buf.size() - at);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        break;  // stderr is gone: nothing to do
      }
      at += static_cast<std::size_t>(n);
    }
    buf.clear();
  };
  std::string line;
  for (const AuditEvent& e : events) {
    line.clear();
    access_line(line, e);
    if (buf.size() + line.size() > PIPE_BUF) flush();
    buf += line;
  }
  flush();
}

class Pipeline final : public AuditLog {
 public:
  Pipeline() {
    auto& reg = metrics_.registry();
    auto gauge = [&reg](const char* name, const char* help) -> prometheus::Family<prometheus::Gauge>& {
      return prometheus::BuildGauge().Name(name).Help(help).Register(reg);
    };
    queue_family_ = &gauge("torii_audit_queue", "The audit queue: depth (events waiting), "
                                                "capacity, submitted and dropped (totals).");
    sink_family_ = &gauge("torii_audit_sink", "Per audit sink: written, write_errors, spilled, "
                                              "replayed, lost (totals); queued, spill_pending, "
                                              "up (now).");
    trace_family_ = &gauge("torii_trace_export", "OTLP trace export: exported, dropped, "
                                                 "failed_posts (totals), queued (now).");
    pool_family_ = &gauge("torii_upstream_connections", "Upstream connection pools, all "
                                                        "workers: opened, closed, reused "
                                                        "(totals), idle (now).");
    thread_ = std::thread([this] { run(); });
  }

  ~Pipeline() override { shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(2)); }

  Result<void> apply(const Config& cfg) {
    // Build what is new first: an error leaves everything as it was.
    std::vector<std::shared_ptr<SinkRunner>> runners;
    std::vector<std::string> signatures;
    {
      std::lock_guard lock(config_mu_);
      for (const AuditSinkConfig& sc : cfg.audit.sinks) {
        if (!cfg.audit.enabled) break;
        std::string sig = signature(sc);
        std::shared_ptr<SinkRunner> keep;
        for (std::size_t i = 0; i < signatures_.size(); ++i)
          if (signatures_[i] == sig) keep = runners_[i];
        if (!keep) {
          auto sink = make_sink(sc);
          if (!sink) return sink.error();
          RunnerOptions opt;
          opt.spill_dir = cfg.audit.spill_dir;
          keep = std::make_shared<SinkRunner>(std::move(*sink), opt);
        }
        runners.push_back(std::move(keep));
        signatures.push_back(std::move(sig));
      }
    }
    std::shared_ptr<OtlpExporter> exporter;
    const std::string tsig = tracing_signature(cfg.tracing);
    if (!cfg.tracing.otlp_endpoint.empty()) {
      std::lock_guard lock(config_mu_);
      if (exporter_ && tsig == tracing_signature_) {
        exporter = exporter_;
      } else {
        OtlpExporter::Options o;
        o.sample = [](const AuditEvent& e) { return e.sampled; };
        auto made = OtlpExporter::make(cfg.tracing, std::move(o));
        if (!made) return made.error();
        exporter = std::move(*made);
      }
    }
    std::vector<std::unique_ptr<RE2>> redact;
    for (const std::string& pattern : cfg.audit.redact) {
      auto re = std::make_unique<RE2>(pattern, RE2::Quiet);
      if (!re->ok())
        return ApiError::internal("audit.redact: bad pattern: " + re->error());
      redact.push_back(std::move(re));
    }
    std::vector<std::shared_ptr<SinkRunner>> retired;
    std::shared_ptr<OtlpExporter> retired_exporter;
    {
      std::lock_guard lock(config_mu_);
      if (exporter_ != exporter) retired_exporter = exporter_;
      for (std::size_t i = 0; i < runners_.size(); ++i) {
        bool kept = false;
        for (const auto& r : runners) kept = kept || r == runners_[i];
        if (!kept) retired.push_back(runners_[i]);
      }
      runners_ = std::move(runners);
      signatures_ = std::move(signatures);
      exporter_ = std::move(exporter);
      tracing_signature_ = tsig;
      redact_ = std::move(redact);
      records_.store(!runners_.empty() || exporter_ != nullptr, std::memory_order_relaxed);
      batch_.store(std::max<std::size_t>(1, cfg.audit.batch), std::memory_order_relaxed);
      flush_ms_.store(cfg.audit.flush.count(), std::memory_order_relaxed);
      access_log_ = cfg.audit.access_log;
      capacity_.store(std::max<std::size_t>(1, cfg.audit.queue), std::memory_order_relaxed);
    }
    // A removed sink writes what it holds before it goes (its spill file stays on disk).
    for (auto& r : retired) r->flush(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    if (retired_exporter)
      retired_exporter->flush(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    return {};
  }

  bool submit(AuditEvent&& e) noexcept override {
    bool wake;
    {
      std::lock_guard lock(mu_);
      if (stop_ || queue_.size() >= capacity_.load(std::memory_order_relaxed)) {
        stats_.dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      queue_.push_back(std::move(e));
      stats_.depth.store(static_cast<int64_t>(queue_.size()), std::memory_order_relaxed);
      // Only a full batch wakes the dispatcher (else it wakes every audit.flush): no
      // context switch per request.
      wake = queue_.size() == batch_.load(std::memory_order_relaxed);
    }
    stats_.submitted.fetch_add(1, std::memory_order_relaxed);
    if (wake) cv_.notify_one();
    return true;
  }

  bool records() const noexcept override { return records_.load(std::memory_order_relaxed); }

  const QueueStats& queue_stats() const noexcept override { return stats_; }

  std::string metrics_text() const override {
    std::lock_guard lock(config_mu_);
    auto set = [](prometheus::Family<prometheus::Gauge>* f, prometheus::Labels l, double v) {
      f->Add(l).Set(v);
    };
    set(queue_family_, {{"stat", "depth"}}, stats_.depth.load());
    set(queue_family_, {{"stat", "capacity"}}, capacity_.load());
    set(queue_family_, {{"stat", "submitted"}}, stats_.submitted.load());
    set(queue_family_, {{"stat", "dropped"}}, stats_.dropped.load());
    for (const auto& r : runners_) {
      const SinkStats& s = r->stats();
      const std::string& n = r->name();
      set(sink_family_, {{"sink", n}, {"stat", "written"}}, s.written.load());
      set(sink_family_, {{"sink", n}, {"stat", "write_errors"}}, s.write_errors.load());
      set(sink_family_, {{"sink", n}, {"stat", "spilled"}}, s.spilled.load());
      set(sink_family_, {{"sink", n}, {"stat", "replayed"}}, s.replayed.load());
      set(sink_family_, {{"sink", n}, {"stat", "lost"}}, s.lost.load());
      set(sink_family_, {{"sink", n}, {"stat", "queued"}}, s.queued.load());
      set(sink_family_, {{"sink", n}, {"stat", "spill_pending"}}, s.spill_pending.load());
      set(sink_family_, {{"sink", n}, {"stat", "up"}}, s.up.load() ? 1 : 0);
    }
    if (exporter_) {
      set(trace_family_, {{"stat", "exported"}}, exporter_->exported());
      set(trace_family_, {{"stat", "dropped"}}, exporter_->dropped());
      set(trace_family_, {{"stat", "failed_posts"}}, exporter_->failed_posts());
      set(trace_family_, {{"stat", "queued"}}, exporter_->queued());
    }
    const UpstreamPoolStats& p = upstream_pool_stats();
    set(pool_family_, {{"stat", "opened"}}, p.opened.load());
    set(pool_family_, {{"stat", "closed"}}, p.closed.load());
    set(pool_family_, {{"stat", "reused"}}, p.reused.load());
    set(pool_family_, {{"stat", "idle"}}, p.idle.load());
    return metrics_.text();
  }

  bool shutdown(std::chrono::steady_clock::time_point deadline) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return drained_;
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();  // it drains the queue before it returns
    bool ok = true;
    std::lock_guard lock(config_mu_);
    for (auto& r : runners_) ok = r->flush(deadline) && ok;
    if (exporter_) exporter_->flush(deadline);
    std::lock_guard qlock(mu_);
    stopped_ = true;
    drained_ = ok;
    return ok;
  }

 private:
  void run() {
    std::vector<AuditEvent> batch;
    for (;;) {
      bool stopping;
      {
        std::unique_lock lock(mu_);
        const std::size_t want = batch_.load(std::memory_order_relaxed);
        const auto wait_until =
            std::chrono::steady_clock::now() +
            std::chrono::milliseconds(flush_ms_.load(std::memory_order_relaxed));
        cv_.wait_until(lock, wait_until, [&] { return stop_ || queue_.size() >= want; });
        stopping = stop_;
        batch.swap(queue_);  // all of it (O(1)); the workers refill the emptied vector
        // ...which may have lost its buffer to the trace exporter: one allocation per batch
        // here, rather than a growth (and a move of every queued event) under the workers.
        if (queue_.capacity() < want) queue_.reserve(want);
        stats_.depth.store(0, std::memory_order_relaxed);
        if (stopping && batch.empty()) return;
      }
      // In sink batches of at most audit.batch events.
      const std::size_t want = std::max<std::size_t>(1, batch_.load(std::memory_order_relaxed));
      for (std::size_t at = 0; at < batch.size(); at += want) {
        const std::size_t end = std::min(batch.size(), at + want);
        std::vector<AuditEvent> part;
        if (at == 0 && end == batch.size()) {
          part.swap(batch);
        } else {
          part.assign(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(at)),
                      std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(end)));
        }
        dispatch(part);
      }
      batch.clear();
    }
  }

  void dispatch(std::vector<AuditEvent>& events) {
    std::vector<std::shared_ptr<SinkRunner>> runners;
    std::shared_ptr<OtlpExporter> exporter;
    bool access;
    {
      std::lock_guard lock(config_mu_);
      runners = runners_;
      exporter = exporter_;
      access = access_log_;
      for (AuditEvent& e : events) {
        for (const auto& re : redact_) {
          if (e.request_body) RE2::GlobalReplace(&*e.request_body, *re, "[REDACTED]");
          if (e.response_body) RE2::GlobalReplace(&*e.response_body, *re, "[REDACTED]");
        }
      }
    }
    for (const AuditEvent& e : events) metrics_.observe(e);
    if (access && spdlog::default_logger()->should_log(spdlog::level::info))
      write_access_lines(events);
    if (!runners.empty()) {
      auto lines = std::make_shared<std::vector<std::string>>();
      lines->reserve(events.size());
      for (const AuditEvent& e : events) lines->push_back(to_json(e));
      std::shared_ptr<const std::vector<std::string>> shared = std::move(lines);
      for (auto& r : runners) r->push(shared);
    }
    if (exporter)
      exporter->submit(std::make_shared<const std::vector<AuditEvent>>(std::move(events)));
  }

  // The queue (workers → dispatcher).
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AuditEvent> queue_;
  std::atomic<std::size_t> capacity_{65536};
  std::atomic<std::size_t> batch_{512};
  std::atomic<int64_t> flush_ms_{200};
  bool stop_ = false, stopped_ = false, drained_ = true;
  QueueStats stats_;

  // The configuration (reload thread ↔ dispatcher ↔ /metrics).
  mutable std::mutex config_mu_;
  std::vector<std::shared_ptr<SinkRunner>> runners_;
  std::vector<std::string> signatures_;
  std::shared_ptr<OtlpExporter> exporter_;
  std::string tracing_signature_;
  std::vector<std::unique_ptr<RE2>> redact_;
  std::atomic<bool> records_{false};
  bool access_log_ = true;

  RequestMetrics metrics_;
  prometheus::Family<prometheus::Gauge>* queue_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* sink_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* trace_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* pool_family_ = nullptr;
  std::thread thread_;
};

std::atomic<Pipeline*> current_pipeline{nullptr};
std::unique_ptr<Pipeline> owned_pipeline;  // main thread only (start, stop)

}  // namespace

Result<void> AuditLog::start(const Config& cfg) {
  auto p = std::make_unique<Pipeline>();
  if (auto r = p->apply(cfg); !r) return r.error();
  owned_pipeline = std::move(p);
  current_pipeline.store(owned_pipeline.get(), std::memory_order_release);
  return {};
}

Result<void> AuditLog::reconfigure(const Config& cfg) {
  Pipeline* p = current_pipeline.load(std::memory_order_acquire);
  if (!p) return start(cfg);
  return p->apply(cfg);
}

AuditLog* AuditLog::current() noexcept { return current_pipeline.load(std::memory_order_acquire); }

bool AuditLog::stop(std::chrono::steady_clock::time_point deadline) {
  Pipeline* p = current_pipeline.load(std::memory_order_acquire);
  if (!p) return true;
  const bool drained = p->shutdown(deadline);
  const QueueStats& q = p->queue_stats();
  log::info("audit: {} events recorded, {} dropped{}", q.submitted.load(), q.dropped.load(),
            drained ? "" : " (some still waiting in memory at the deadline: see spill files)");
  // Gone before main returns (the server's threads have stopped: no request can reach it), not
  // among the statics destroyed at exit in an unknown order.
  current_pipeline.store(nullptr, std::memory_order_release);
  owned_pipeline.reset();
  return drained;
}

}  // namespace torii::audit
