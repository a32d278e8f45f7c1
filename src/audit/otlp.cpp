#include "audit/otlp.h"

#include <boost/json.hpp>

#include "audit/trace_context.h"
#include "core/log.h"
#include "upstream/http_client.h"

namespace torii::audit {
namespace {

namespace json = boost::json;

constexpr int kSpanKindServer = 2;
constexpr int kSpanKindClient = 3;
constexpr int kStatusUnset = 0;
constexpr int kStatusError = 2;
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

void add(json::array& attrs, std::string_view key, json::object value) {
  json::object a;
  a["key"] = key;
  a["value"] = std::move(value);
  attrs.emplace_back(std::move(a));
}

void add_str(json::array& attrs, std::string_view key, std::string_view v) {
  if (v.empty()) return;  // an empty attribute says nothing; leave it out
  add(attrs, key, json::object{{"stringValue", v}});
}

// OTLP JSON carries int64 as a decimal string.
void add_int(json::array& attrs, std::string_view key, int64_t v) {
  add(attrs, key, json::object{{"intValue", std::to_string(v)}});
}

void add_double(json::array& attrs, std::string_view key, double v) {
  add(attrs, key, json::object{{"doubleValue", v}});
}

void add_bool(json::array& attrs, std::string_view key, bool v) {
  add(attrs, key, json::object{{"boolValue", v}});
}

std::string nanos(int64_t unix_us) { return std::to_string(unix_us * 1000); }

bool event_failed(const AuditEvent& e) {
  return e.status >= 500 || (!e.outcome.empty() && e.outcome != "ok");
}

bool attempt_failed(const AttemptRecord& a) {
  return !a.error.empty() || a.status == 0 || a.status >= 400;
}

// error.type: the most specific cause known; the HTTP status as a string (HTTP semconv) when
// no cause was recorded.
std::string event_error_type(const AuditEvent& e) {
  if (!e.error_type.empty()) return e.error_type;
  if (!e.error_code.empty()) return e.error_code;
  if (e.status >= 400) return std::to_string(e.status);
  if (!e.outcome.empty()) return e.outcome;
  return "_OTHER";
}

std::string attempt_error_type(const AttemptRecord& a) {
  if (!a.error.empty()) return a.error;
  if (a.status > 0) return std::to_string(a.status);
  return "_OTHER";
}

std::string span_name(std::string_view op, std::string_view model) {
  std::string s(op);
  if (!model.empty()) s.append(" ").append(model);
  return s;
}

// SERVER span attributes: HTTP (http.request.method, url.path, http.response.status_code,
// client.address, user_agent.original), GenAI (gen_ai.operation.name, gen_ai.request.model,
// gen_ai.response.model, gen_ai.provider.name and its older name gen_ai.system,
// gen_ai.usage.input_tokens / output_tokens / cache_read.input_tokens /
// cache_creation.input_tokens), error.type when failed, and torii.* (route, consumer, key, api,
// stream, cost_usd, outcome, request_id, cache, reasoning_tokens, ttft_us, overhead_us).
json::array server_attributes(const AuditEvent& e, std::string_view op) {
  json::array a;
  a.reserve(32);
  add_str(a, "http.request.method", e.method);
  add_str(a, "url.path", e.path);
  if (e.status > 0) add_int(a, "http.response.status_code", e.status);
  add_str(a, "client.address", e.client_ip);
  add_str(a, "user_agent.original", e.user_agent);
  add_str(a, "gen_ai.operation.name", op);
  add_str(a, "gen_ai.request.model", e.model);
  add_str(a, "gen_ai.response.model", e.upstream_model);
  add_str(a, "gen_ai.provider.name", e.provider);
  add_str(a, "gen_ai.system", e.provider);
  add_int(a, "gen_ai.usage.input_tokens", e.usage.prompt);
  add_int(a, "gen_ai.usage.output_tokens", e.usage.completion);
  if (e.usage.cached > 0) add_int(a, "gen_ai.usage.cache_read.input_tokens", e.usage.cached);
  if (e.usage.cache_write > 0)
    add_int(a, "gen_ai.usage.cache_creation.input_tokens", e.usage.cache_write);
  if (event_failed(e)) add_str(a, "error.type", event_error_type(e));
  add_str(a, "torii.route", e.route);
  add_str(a, "torii.consumer", e.consumer);
  add_str(a, "torii.key", e.key);
  add_str(a, "torii.api", e.api);
  add_bool(a, "torii.stream", e.stream);
  if (e.cost_micros >= 0) add_double(a, "torii.cost_usd", static_cast<double>(e.cost_micros) / 1e6);
  add_str(a, "torii.outcome", e.outcome);
  add_str(a, "torii.request_id", e.request_id);
  add_str(a, "torii.cache", e.cache);
  if (e.usage.reasoning > 0) add_int(a, "torii.usage.reasoning_tokens", e.usage.reasoning);
  if (e.ttft_us >= 0) add_int(a, "torii.ttft_us", e.ttft_us);
  add_int(a, "torii.overhead_us", e.overhead_us);
  return a;
}

// CLIENT span attributes: gen_ai.operation.name, gen_ai.provider.name (+ gen_ai.system),
// gen_ai.request.model (the attempt's model), http.response.status_code when one was received,
// error.type when it failed.
json::array attempt_attributes(const AttemptRecord& at, std::string_view op) {
  json::array a;
  a.reserve(8);
  add_str(a, "gen_ai.operation.name", op);
  add_str(a, "gen_ai.provider.name", at.provider);
  add_str(a, "gen_ai.system", at.provider);
  add_str(a, "gen_ai.request.model", at.model);
  if (at.status > 0) add_int(a, "http.response.status_code", at.status);
  if (attempt_failed(at)) add_str(a, "error.type", attempt_error_type(at));
  return a;
}

json::object status_object(bool failed, std::string_view message) {
  if (!failed) return json::object{{"code", kStatusUnset}};
  json::object s;
  s["code"] = kStatusError;
  if (!message.empty()) s["message"] = message;
  return s;
}

json::object server_span(const AuditEvent& e) {
  const std::string_view op = operation_name(e.api);
  json::object s;
  s["traceId"] = e.trace_id;
  s["spanId"] = e.span_id;
  if (!e.parent_span_id.empty()) s["parentSpanId"] = e.parent_span_id;
  s["name"] = span_name(op, e.model);
  s["kind"] = kSpanKindServer;
  s["startTimeUnixNano"] = nanos(e.start_unix_us);
  s["endTimeUnixNano"] = nanos(e.end_unix_us);
  s["attributes"] = server_attributes(e, op);
  const bool failed = event_failed(e);
  std::string message = e.error_message;
  if (failed && message.empty()) message = event_error_type(e);
  s["status"] = status_object(failed, message);
  return s;
}

json::object attempt_span(const AuditEvent& e, const AttemptRecord& at) {
  const std::string_view op = operation_name(e.api);
  json::object s;
  s["traceId"] = e.trace_id;
  // An attempt recorded without a span id still gets a span, under a fresh id.
  s["spanId"] = at.span_id.empty() ? new_span_id() : at.span_id;
  s["parentSpanId"] = e.span_id;
  s["name"] = span_name(op, at.model);
  s["kind"] = kSpanKindClient;
  const int64_t start = e.start_unix_us + at.start_us;
  s["startTimeUnixNano"] = nanos(start);
  s["endTimeUnixNano"] = nanos(start + at.duration_us);
  s["attributes"] = attempt_attributes(at, op);
  const bool failed = attempt_failed(at);
  s["status"] = status_object(failed, failed ? attempt_error_type(at) : std::string());
  return s;
}

}  // namespace

std::string_view operation_name(std::string_view api) {
  if (api.find("embedding") != std::string_view::npos) return "embeddings";
  if (api == "openai_completions") return "text_completion";
  if (api.find("gemini") != std::string_view::npos) return "generate_content";
  return "chat";
}

std::string otlp_json(std::span<const AuditEvent* const> events, std::string_view service_name) {
  json::array spans;
  for (const AuditEvent* e : events) {
    if (!e) continue;
    spans.emplace_back(server_span(*e));
    for (const auto& at : e->attempts) spans.emplace_back(attempt_span(*e, at));
  }
  json::array resource_attrs;
  add(resource_attrs, "service.name", json::object{{"stringValue", service_name}});
  json::object scope_spans{{"scope", json::object{{"name", "torii"}}},
                           {"spans", std::move(spans)}};
  json::object resource_spans{{"resource", json::object{{"attributes", std::move(resource_attrs)}}},
                              {"scopeSpans", json::array{std::move(scope_spans)}}};
  json::object root{{"resourceSpans", json::array{std::move(resource_spans)}}};
  return json::serialize(root);
}

// ---- OtlpExporter

Result<std::unique_ptr<OtlpExporter>> OtlpExporter::make(const TracingConfig& config,
                                                         Options options) {
  if (config.otlp_endpoint.empty())
    return ApiError::invalid_request("tracing.otlp_endpoint is empty");
  auto post = JsonPost::make(config.otlp_endpoint, config.headers, config.timeout, "torii-otlp");
  if (!post) return ApiError::invalid_request("tracing: " + post.error().message);
  if (options.queue_capacity == 0) options.queue_capacity = 1;
  if (options.batch_size == 0) options.batch_size = 1;
  return std::unique_ptr<OtlpExporter>(
      new OtlpExporter(std::move(*post), config.service_name, config.sample, std::move(options)));
}

OtlpExporter::OtlpExporter(JsonPost post, std::string service_name, double ratio,
                           Options options)
    : post_(std::move(post)),
      service_name_(std::move(service_name)),
      ratio_(ratio),
      options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

OtlpExporter::~OtlpExporter() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OtlpExporter::submit(std::shared_ptr<const std::vector<AuditEvent>> batch) {
  if (!batch || batch->empty()) return;
  Pending p;
  p.events.reserve(batch->size());
  uint64_t unsampled = 0;
  for (const auto& e : *batch) {
    bool keep = options_.sample ? options_.sample(e)
                                : should_sample(std::nullopt, e.trace_id, ratio_);
    if (keep) p.events.push_back(&e);
    else ++unsampled;
  }
  if (unsampled) unsampled_.fetch_add(unsampled, std::memory_order_relaxed);
  if (p.events.empty()) return;
  p.owner = std::move(batch);
  std::size_t dropped = 0;
  {
    std::lock_guard lk(mu_);
    const std::size_t room =
        options_.queue_capacity > queued_events_ ? options_.queue_capacity - queued_events_ : 0;
    if (stop_) {
      dropped = p.events.size();
      p.events.clear();
    } else if (p.events.size() > room) {
      dropped = p.events.size() - room;
      p.events.resize(room);
    }
    if (!p.events.empty()) {
      queued_events_ += p.events.size();
      queue_.push_back(std::move(p));
    }
  }
  if (dropped) dropped_.fetch_add(dropped, std::memory_order_relaxed);
  cv_.notify_one();
}

bool OtlpExporter::flush(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_until(lk, deadline,
                             [&] { return queued_events_ == 0 && in_flight_ == 0; });
}

std::size_t OtlpExporter::queued() const {
  std::lock_guard lk(mu_);
  return queued_events_;
}

void OtlpExporter::run() {
  std::vector<const AuditEvent*> events;
  std::vector<std::shared_ptr<const std::vector<AuditEvent>>> owners;
  for (;;) {
    events.clear();
    owners.clear();
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (stop_) {
        dropped_.fetch_add(queued_events_, std::memory_order_relaxed);
        queue_.clear();
        queued_events_ = 0;
        idle_cv_.notify_all();
        return;
      }
      while (!queue_.empty() && events.size() < options_.batch_size) {
        Pending& p = queue_.front();
        const std::size_t n = std::min(options_.batch_size - events.size(),
                                       p.events.size() - p.next);
        events.insert(events.end(), p.events.begin() + p.next, p.events.begin() + p.next + n);
        owners.push_back(p.owner);
        p.next += n;
        if (p.next == p.events.size()) queue_.pop_front();
      }
      queued_events_ -= events.size();
      in_flight_ = events.size();
    }
    const bool ok = post(otlp_json(events, service_name_));
    (ok ? exported_ : dropped_).fetch_add(events.size(), std::memory_order_relaxed);
    owners.clear();  // release the batches outside the lock
    {
      std::lock_guard lk(mu_);
      in_flight_ = 0;
      if (queued_events_ == 0) idle_cv_.notify_all();
    }
  }
}

bool OtlpExporter::post(const std::string& body) {
  const std::size_t tries = options_.retry_backoff.size() + 1;
  for (std::size_t i = 0; i < tries; ++i) {
    if (i > 0) {
      // Back off, but give up at once when the exporter is being destroyed.
      std::unique_lock lk(mu_);
      if (cv_.wait_for(lk, options_.retry_backoff[i - 1], [&] { return stop_; })) return false;
    }
    auto r = post_.send(body, kMaxAnswerBytes);
    if (r && r->status >= 200 && r->status < 300) return true;
    failed_posts_.fetch_add(1, std::memory_order_relaxed);
    // One line per failure would flood the log when the collector is down: the first few, then
    // every 100th.
    const uint64_t n = posts_warned_.fetch_add(1, std::memory_order_relaxed);
    if (n < 5 || n % 100 == 0) {
      if (r) {
        log::warn("otlp export to {}: HTTP {}", post_.shown_url(), r->status);
      } else {
        log::warn("otlp export to {}: {}", post_.shown_url(), r.error().message);
      }
    }
  }
  return false;
}

}  // namespace torii::audit
