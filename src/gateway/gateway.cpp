#include "gateway/gateway.h"


#include "api/inbound.h"
#include "api/openai_modalities.h"
#include "audit/audit_log.h"
#include "audit/trace_context.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "core/request_id.h"
#include "pipeline/runner.h"

namespace torii {

namespace {

Headers json_headers(const std::string& request_id) {
  return {{"content-type", "application/json"}, {"x-request-id", request_id}};
}

// The request's trace: the client's traceparent when valid, else a new trace; a new span.
void start_trace(RequestContext& ctx, std::string_view traceparent) {
  std::optional<audit::TraceContext> parent;
  if (!traceparent.empty()) parent = audit::parse_traceparent(traceparent);
  TraceIds& t = ctx.trace;
  if (parent) {
    t.trace_id = parent->trace_id;
    t.parent_span_id = parent->parent_span_id;
    t.has_parent = true;
  } else {
    audit::new_trace_id(t.trace_id.data());
  }
  audit::new_span_id(t.span_id.data());
  t.sampled = audit::should_sample(parent, {t.trace_id.data(), t.trace_id.size()},
                                   ctx.snapshot->config.tracing.sample);
}

class Gateway final : public Handler {
 public:
  explicit Gateway(SnapshotHolder& s) : snapshots_(s) {}

  Task<void> handle(Exchange& ex) override {
    const RequestHead& head = ex.head();
    std::string_view path = head.path();
    std::string id = request_id_for(head.header("x-request-id"));

    if (path == "/health" || path == "/ready" || path == "/metrics") {
      if (head.method != "GET") {
        Headers h = json_headers(id);
        h.emplace_back("allow", "GET");
        // (No braced temporaries inside co_await expressions: GCC 12 miscompiles them.)
        ApiError e{405, "invalid_request_error", "method_not_allowed",
                   std::string(path) + " accepts GET only"};
        co_await ex.respond(405, std::move(h), to_openai_json(e));
        co_return;
      }
      if (path == "/metrics") {
        auto snap = snapshots_.get();
        if (!snap->config.metrics || snap->config.admin.enabled) {
          // With an admin listener, the metrics (consumer names, usage) are served there only.
          std::string why = snap->config.metrics
                                ? "metrics are served on the admin listener (GET /metrics there)"
                                : "metrics are off (metrics: false)";
          std::string err = to_openai_json(ApiError::not_found(std::move(why), "unknown_url"));
          co_await ex.respond(404, json_headers(id), std::move(err));
          co_return;
        }
        Headers h{{"content-type", "text/plain; version=0.0.4; charset=utf-8"},
                  {"x-request-id", id}};
        co_await ex.respond(200, std::move(h), prometheus_text(*snap));
        co_return;
      }
      bool ready = path == "/health" || !ex.draining();
      co_await ex.respond(ready ? 200 : 503, json_headers(id),
                          path == "/health" ? R"({"status":"ok"})"
                          : ready           ? R"({"status":"ready"})"
                                            : R"({"status":"draining"})");
      co_return;
    }
    InboundApi api = InboundApi::unknown;
    std::string_view method = "POST";
    const InboundCodec* codec = nullptr;
    Modality modality = Modality::chat;
    std::string_view api_path = path;
    if (api_path.starts_with("/v1/")) api_path.remove_prefix(3);  // the /v1 prefix is optional
    // Azure OpenAI's style, as its SDKs send it: /openai/deployments/{deployment}/chat/completions
    // ?api-version=... The body's "model" (the SDKs put the model there too) is what routes.
    if (api_path.starts_with("/openai/")) api_path.remove_prefix(7);
    if (api_path.starts_with("/deployments/")) {
      const std::string_view rest = api_path.substr(13);
      if (const auto slash = rest.find('/'); slash != std::string_view::npos && slash > 0)
        api_path = rest.substr(slash);
    }
    if (api_path == "/chat/completions") {
      api = InboundApi::openai_chat;
      codec = &openai_chat_codec();
    } else if (api_path == "/messages") {
      api = InboundApi::anthropic_messages;
      codec = &anthropic_messages_codec();
    } else if (api_path == "/messages/count_tokens") {
      api = InboundApi::anthropic_count_tokens;
      codec = &anthropic_messages_codec();
    } else if (api_path == "/responses") {
      api = InboundApi::openai_responses;
      codec = &openai_responses_codec();
    } else if (api_path == "/completions") {
      api = InboundApi::openai_completions;
      codec = &openai_completions_codec();
    } else if (api_path == "/models") {
      api = InboundApi::openai_models;
      method = "GET";
    } else if (auto m = modality_for_path(api_path)) {
      modality = *m;
      api = modality == Modality::embeddings   ? InboundApi::openai_embeddings
            : modality == Modality::moderation ? InboundApi::openai_moderations
            : (modality == Modality::image_generation || modality == Modality::image_edit)
                ? InboundApi::openai_images
                : InboundApi::openai_audio;
      codec = &openai_chat_codec();  // for the errors' shape (OpenAI's)
    }
    if (api == InboundApi::unknown) {
      co_await ex.respond(404, json_headers(id),
                          to_openai_json(ApiError::not_found(
                              "unknown path '" + std::string(path) + "'", "unknown_url")));
      co_return;
    }
    if (head.method != method) {
      ApiError e{405, "invalid_request_error", "method_not_allowed",
                 std::string(path) + " accepts " + std::string(method) + " only"};
      Headers h = json_headers(id);
      h.emplace_back("allow", std::string(method));
      co_await ex.respond(405, std::move(h), to_openai_json(e));
      co_return;
    }

    RequestContext ctx;
    ctx.request_id = std::move(id);
    ctx.snapshot = snapshots_.get();
    ctx.head = &head;
    ctx.api = api;
    ctx.codec = codec;
    ctx.modality = modality;
    ctx.timings.start = Clock::now();
    ctx.wall_start = std::chrono::system_clock::now();
    ctx.client_ip = ex.peer();
    start_trace(ctx, head.header("traceparent"));
    co_await run_pipeline(ctx, ex);
  }

 private:
  SnapshotHolder& snapshots_;
};

}  // namespace

std::shared_ptr<Handler> make_gateway(SnapshotHolder& snapshots) {
  return std::make_shared<Gateway>(snapshots);
}

std::string prometheus_text(const Snapshot& snap) {
  std::string body;
  if (audit::AuditLog* log = audit::AuditLog::current()) body = log->metrics_text();
  body += snap.routing_metrics();
  return body;
}

}  // namespace torii
