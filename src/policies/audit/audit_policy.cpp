#include "policies/audit/audit_policy.h"

#include <boost/json/serialize.hpp>

#include "audit/audit_log.h"
#include "audit/event.h"
#include "config/snapshot.h"

namespace torii {

namespace {

constexpr std::size_t kMaxBody = 1 << 20;  // a recorded body is cut past 1 MiB (and says so)

std::string_view api_name(InboundApi api) {
  switch (api) {
    case InboundApi::openai_chat: return "openai_chat";
    case InboundApi::openai_models: return "openai_models";
    case InboundApi::anthropic_messages: return "anthropic_messages";
    case InboundApi::anthropic_count_tokens: return "anthropic_count_tokens";
    case InboundApi::openai_responses: return "openai_responses";
    case InboundApi::openai_completions: return "openai_completions";
    case InboundApi::openai_embeddings: return "openai_embeddings";
    case InboundApi::openai_images: return "openai_images";
    case InboundApi::openai_audio: return "openai_audio";
    case InboundApi::openai_moderations: return "openai_moderations";
    default: return "unknown";
  }
}

int64_t micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

int64_t count(int64_t v) { return v < 0 ? 0 : v; }

// The end user the client named: OpenAI's "user", Anthropic's metadata.user_id.
std::string end_user(const boost::json::object& req) {
  const boost::json::value* v = req.if_contains("user");
  if (!v || !v->is_string()) {
    if (const auto* m = req.if_contains("metadata"); m && m->is_object())
      v = m->as_object().if_contains("user_id");
  }
  if (!v || !v->is_string()) return {};
  std::string_view s = v->as_string();
  return std::string(s.substr(0, 256));
}

void append_capped(std::string& to, std::string_view data) {
  if (to.size() >= kMaxBody) return;
  to.append(data.substr(0, kMaxBody - to.size()));
  if (to.size() >= kMaxBody) to += "…[truncated]";
}

// Bodies, when audit.bodies is on: the answer (whole, or the stream's events as sent).
struct BodyState final : PolicyState {
  std::string response;
};

class AuditPolicy final : public Policy {
 public:
  explicit AuditPolicy(bool bodies) : bodies_(bodies) {}

  std::string_view name() const override { return "audit"; }

  // Nothing to decide before the answer: spare the runner the coroutine hook.
  bool on_request_now(RequestContext&, Verdict&) override { return true; }

  Verdict on_chunk(RequestContext& ctx, const StreamChunk& chunk) override {
    if (bodies_ && !chunk.data.empty() && recording()) {
      auto& s = ctx.state<BodyState>();
      append_capped(s.response, chunk.data);
      append_capped(s.response, "\n");
    }
    return Verdict::next();
  }

  bool on_response_now(RequestContext& ctx, ResponseView& r, Verdict& out) override {
    if (bodies_ && recording()) append_capped(ctx.state<BodyState>().response, r.body);
    return true;  // out stays next
  }

  void on_complete(RequestContext& ctx) noexcept override {
    audit::AuditLog* log = audit::AuditLog::current();
    if (!log) return;
    try {
      audit::AuditEvent e = audit_event_of(ctx);
      if (bodies_ && log->records()) {
        if (!ctx.request.empty()) {
          e.request_body = boost::json::serialize(ctx.request);
          if (e.request_body->size() > kMaxBody) {
            e.request_body->resize(kMaxBody);
            *e.request_body += "…[truncated]";
          }
        }
        if (ctx.has_state<BodyState>()) e.response_body = std::move(ctx.state<BodyState>().response);
      }
      log->submit(std::move(e));
    } catch (...) {
      // Out of memory while copying: the queue's drop counter does not see it; nothing else
      // to do without risking the request.
    }
  }

 private:
  static bool recording() {
    audit::AuditLog* log = audit::AuditLog::current();
    return log && log->records();
  }
  const bool bodies_;
};

}  // namespace

std::string_view audit_outcome(const RequestContext& ctx) {
  if (ctx.client_disconnected) return "client_disconnected";
  // A guardrail's deny, answered as an error, a refusal, or a stream's error event.
  for (const GuardrailResult& g : ctx.guardrails)
    if (g.action == "deny") return "denied";
  if (ctx.error && ctx.stream_started) return "stream_failed";
  const int s = ctx.status;
  if (s == 0) return "aborted";
  if (s < 400 && !ctx.error) return "ok";
  if (s == 401) return "unauthenticated";
  if (s == 403) return "denied";
  if (s == 429) return "rate_limited";
  if (s >= 500) return ctx.attempts.empty() ? "error" : "upstream_error";
  return "client_error";
}

audit::AuditEvent audit_event_of(const RequestContext& ctx) {
  audit::AuditEvent e;
  const Clock::time_point end = ctx.timings.end == Clock::time_point{} ? Clock::now()
                                                                       : ctx.timings.end;
  const int64_t total = micros(end - ctx.timings.start);
  e.start_unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        ctx.wall_start.time_since_epoch()).count();
  e.end_unix_us = e.start_unix_us + total;
  // Time-ordered (µs, then the random span id): unique, and appended at the end of an index.
  static constexpr char hex[] = "0123456789abcdef";
  e.id.resize(32);
  for (int i = 0; i < 16; ++i)
    e.id[i] = hex[(static_cast<uint64_t>(e.start_unix_us) >> (60 - 4 * i)) & 0xf];
  for (int i = 0; i < 16; ++i) e.id[16 + i] = ctx.trace.span_id[i] ? ctx.trace.span_id[i] : '0';
  e.request_id = ctx.request_id;
  e.trace_id.assign(ctx.trace.trace_id.data(), ctx.trace.trace_id.size());
  e.span_id.assign(ctx.trace.span_id.data(), ctx.trace.span_id.size());
  if (ctx.trace.has_parent)
    e.parent_span_id.assign(ctx.trace.parent_span_id.data(), ctx.trace.parent_span_id.size());
  e.sampled = ctx.trace.sampled;

  const Principal& p = ctx.principal;
  if (p.authenticated) {
    e.consumer = p.id;
    e.key = p.key_name;
    if (p.groups) e.groups = *p.groups;
  }
  e.user = end_user(ctx.request);

  e.api = api_name(ctx.api);
  e.modality = modality_name(ctx.modality);
  if (ctx.head) {
    e.method = ctx.head->method;
    std::string_view path = ctx.head->path();
    e.path = path.substr(0, std::min<std::size_t>(path.find('?'), 2048));
    e.user_agent = std::string(ctx.head->header("user-agent").substr(0, 512));
  }
  if (ctx.route) e.route = ctx.route->name;
  e.model = ctx.model;
  e.provider = ctx.provider;
  e.upstream_model = ctx.upstream_model;
  e.stream = ctx.stream;
  int64_t upstream_us = 0;
  e.attempts.reserve(ctx.attempts.size());
  for (const Attempt& a : ctx.attempts) {
    audit::AttemptRecord& r = e.attempts.emplace_back();
    r.provider = a.provider;
    r.model = a.model;
    r.status = a.status;
    r.error = a.error;
    r.start_us = a.started == Clock::time_point{} ? 0 : micros(a.started - ctx.timings.start);
    r.duration_us = micros(a.elapsed);
    r.span_id.assign(a.span_id.data(), a.span_id.size());
    upstream_us += r.duration_us;
  }

  if (!ctx.cache.status.empty()) {
    e.cache = ctx.cache.status == "semantic-hit" ? "semantic_hit" : std::string(ctx.cache.status);
    e.cache_reason = ctx.cache.reason;
    e.cache_similarity = ctx.cache.similarity;
    e.cache_saved_micros = ctx.cache.saved_micros;
  }
  e.guardrails.reserve(ctx.guardrails.size());
  for (const GuardrailResult& g : ctx.guardrails) {
    audit::GuardrailRecord& r = e.guardrails.emplace_back();
    r.name = g.id;
    r.phase = g.phase;
    r.action = g.action;
    r.reason = g.reason;
    r.latency_us = g.latency_us;
  }

  e.status = ctx.status;
  e.outcome = audit_outcome(ctx);
  if (ctx.error) {
    e.error_type = ctx.error->type;
    e.error_code = ctx.error->code;
    e.error_message = ctx.error->message.substr(0, 1024);
  } else if (ctx.client_disconnected) {
    e.error_type = "client_disconnected";
    e.error_message = "the client closed the connection before the answer ended";
  }
  e.usage.prompt = count(ctx.usage.prompt_tokens);
  e.usage.completion = count(ctx.usage.completion_tokens);
  e.usage.cached = count(ctx.usage.cached_tokens);
  e.usage.cache_write = count(ctx.usage.cache_write_tokens);
  e.usage.reasoning = count(ctx.usage.reasoning_tokens);
  e.usage.images = ctx.usage.images;
  e.usage.audio_ms = ctx.usage.audio_ms;
  e.usage.characters = ctx.usage.characters;
  e.cost_micros = ctx.cost_micros;

  e.total_us = total;
  e.overhead_us = std::max<int64_t>(0, total - upstream_us);
  if (ctx.timings.first_byte != Clock::time_point{})
    e.ttft_us = micros(ctx.timings.first_byte - ctx.timings.start);
  e.client_ip = ctx.client_ip;
  return e;
}

std::unique_ptr<Policy> make_audit_policy(const Config& cfg) {
  return std::make_unique<AuditPolicy>(cfg.audit.bodies);
}

}  // namespace torii
