#include "pipeline/runner.h"

#include "api/inbound.h"
#include "api/openai_modalities.h"
#include "core/multipart.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "api/anthropic_messages.h"
#include "gateway/count_tokens.h"
#include "gateway/proxy.h"
#include "identity/authz.h"

#include <strings.h>

#include <boost/asio/this_coro.hpp>

#include <ctime>
#include <optional>

namespace torii {

bool RequestContext::has_response_header(std::string_view name) const {
  for (const auto& kv : response_headers)
    if (kv.first.size() == name.size() &&
        strncasecmp(kv.first.data(), name.data(), name.size()) == 0)
      return true;
  return false;
}

int RequestContext::next_slot_id() {
  static std::atomic<int> next{0};
  return next.fetch_add(1);
}

Task<void> send_error(RequestContext& ctx, Exchange& ex, const ApiError& e) {
  ctx.status = e.status;
  if (!ctx.error) ctx.error = e;
  Headers h{{"content-type", "application/json"}, {"x-request-id", ctx.request_id}};
  if (!e.retry_after.empty()) h.emplace_back("retry-after", e.retry_after);
  if (!e.retry_after_ms.empty()) h.emplace_back("retry-after-ms", e.retry_after_ms);
  if (!ctx.attempts.empty()) h.emplace_back("x-torii-attempts", std::to_string(ctx.attempts.size()));
  for (const auto& [name, value] : ctx.response_headers) h.emplace_back(name, value);
  for (const auto& kv : ctx.upstream_rate_limits)
    if (find_header(h, kv.first).empty()) h.push_back(kv);
  // (Built first: GCC 12 mis-compiles a conditional temporary inside a co_await expression.)
  std::string body = ctx.codec ? ctx.codec->error_body(e) : to_openai_json(e);
  co_await ex.respond(e.status, std::move(h), std::move(body));
}

// What routing and authorization rules read from this request.
routing::RuleInput rule_input(const RequestContext& ctx) {
  routing::RuleInput in;
  in.header = [&ctx](std::string_view name) { return ctx.head->header(name); };
  in.metadata = ctx.principal.metadata;
  in.groups = ctx.principal.groups;
  in.body = &ctx.request;
  in.prompt_tokens = [&ctx, tokens = int64_t{-1}]() mutable {
    if (tokens < 0) tokens = routing::estimate_prompt_tokens(ctx.request);
    return tokens;
  };
  in.consumer = ctx.principal.id;
  in.key = ctx.principal.key_name;
  in.claims = ctx.principal.claims;
  in.model = ctx.model;
  in.modality = modality_name(ctx.modality);
  return in;
}

Result<const ChatRequest*> canonical_request(RequestContext& ctx) {
  if (!ctx.canonical) {
    auto c = std::make_unique<ChatRequest>();
    if (auto r = ctx.codec->to_canonical(ctx.request, *c); !r) return r.error();
    ctx.canonical = std::move(c);
  }
  return ctx.canonical.get();
}

namespace {

// Runs on_complete for every policy, in reverse, whatever happened (RAII, so that a coroutine
// destroyed at shutdown still completes its policies).
struct CompleteGuard {
  RequestContext& ctx;
  ~CompleteGuard() {
    ctx.timings.end = Clock::now();
    const auto& chain = ctx.snapshot->policies;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) (*it)->on_complete(ctx);
    if (ctx.error && ctx.status >= 500)
      log::warn("request {} failed: {} {}", ctx.request_id, ctx.status, ctx.error->message);
  }
};

// The end of the next Server-Sent Event in `body` from `at` (past its blank line), or npos.
std::size_t next_event_end(std::string_view body, std::size_t at) {
  for (std::size_t i = body.find('\n', at); i != std::string_view::npos; i = body.find('\n', i + 1)) {
    if (i + 1 < body.size() && body[i + 1] == '\n') return i + 2;
    if (i + 2 < body.size() && body[i + 1] == '\r' && body[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

// A complete SSE body sent as a stream, one event per chunk (a cached streamed answer: the
// client's SDK sees the events arrive as they did the first time, not one block).
Task<void> answer_stream(RequestContext& ctx, Exchange& ex, Headers h, std::string body) {
  if (find_header(h, "content-type").empty()) h.emplace_back("content-type", "text/event-stream");
  h.emplace_back("cache-control", "no-cache");
  ctx.stream_started = true;
  if (!co_await ex.start_stream(ctx.status, std::move(h))) {
    ctx.client_disconnected = true;
    co_return;
  }
  ctx.timings.first_byte = Clock::now();
  const std::string_view all = body;
  std::size_t at = 0;
  while (at < all.size()) {
    std::size_t end = next_event_end(all, at);
    if (end == std::string_view::npos) end = all.size();
    if (!co_await ex.write(all.substr(at, end - at))) {
      ctx.client_disconnected = true;
      co_return;
    }
    at = end;
  }
  if (!co_await ex.finish_stream()) ctx.client_disconnected = true;
}

Task<void> answer(RequestContext& ctx, Exchange& ex, Verdict& v) {
  if (v.kind() == Verdict::Kind::reject) {
    co_await send_error(ctx, ex, v.error());
    co_return;
  }
  ctx.status = v.status();
  Headers h = std::move(v.headers());
  h.emplace_back("x-request-id", ctx.request_id);
  for (const auto& [name, value] : ctx.response_headers) h.emplace_back(name, value);
  if (v.streamed()) {
    co_await answer_stream(ctx, ex, std::move(h), std::move(v.body()));
    co_return;
  }
  if (find_header(h, "content-type").empty()) h.emplace_back("content-type", "application/json");
  if (!co_await ex.respond(v.status(), std::move(h), std::move(v.body())))
    ctx.client_disconnected = true;
}

// The client's cache directive in the body, "torii": {"cache": "no-cache" | "no-store" | true
// | false}: read into ctx.cache and removed (with "torii" when nothing else is left in it), so
// that no provider sees it. Other members of "torii" are the prompt library's.
std::optional<ApiError> take_cache_directive(RequestContext& ctx) {
  auto* torii = ctx.request.if_contains("torii");
  if (!torii || !torii->is_object()) return std::nullopt;
  auto& o = torii->get_object();
  const auto* c = o.if_contains("cache");
  if (!c) return std::nullopt;
  if (c->is_bool()) {
    ctx.cache.no_lookup = ctx.cache.no_store = !c->get_bool();
  } else if (c->is_string() && c->get_string() == "no-cache") {
    ctx.cache.no_lookup = true;
  } else if (c->is_string() && c->get_string() == "no-store") {
    ctx.cache.no_lookup = ctx.cache.no_store = true;
  } else {
    return ApiError::invalid_request(
        "'torii.cache' must be true, false, \"no-cache\" or \"no-store\"", "torii.cache",
        "invalid_torii_field");
  }
  o.erase("cache");
  if (o.empty()) ctx.request.stable_erase("torii");
  mark_request_edited(ctx);
  return std::nullopt;
}

ApiError body_error(BodyError e, const ServerOptions& opt, const MultipartParser* upload) {
  switch (e) {
    case BodyError::too_large:
      return upload ? ApiError::too_large("the upload exceeds " +
                                          std::to_string(opt.max_upload_bytes) +
                                          " bytes (server.max_upload_bytes)")
                    : ApiError::too_large("request body exceeds " +
                                          std::to_string(opt.max_body_bytes) + " bytes");
    case BodyError::rejected:
      if (upload && upload->error()) return *upload->error();
      return ApiError::invalid_request("request body refused");
    case BodyError::timeout:
      return ApiError{408, "invalid_request_error", "request_timeout",
                      "request body not received in time"};
    default:
      return ApiError::invalid_request("request body could not be read");
  }
}

// The parser of an upload to a multipart endpoint, from the request's Content-Type.
Result<std::unique_ptr<MultipartParser>> start_upload(const RequestContext& ctx) {
  auto boundary = multipart_boundary(ctx.head->header("content-type"));
  if (!boundary)
    return ApiError::invalid_request(
        std::string(ctx.head->path()) +
            " takes a multipart/form-data upload (Content-Type: multipart/form-data; "
            "boundary=...)",
        {}, "invalid_content_type");
  return std::make_unique<MultipartParser>(std::move(*boundary));
}

// The request's body checked and parsed into ctx.request (and ctx.form for an upload): what
// routing and framing need.
Result<InboundInfo> parse_body(RequestContext& ctx, std::string_view body,
                               MultipartParser* upload) {
  if (ctx.api == InboundApi::anthropic_count_tokens)  // a Messages body without max_tokens
    return parse_anthropic_request(body, ctx.request, /*require_max_tokens=*/false);
  if (ctx.modality == Modality::chat) return ctx.codec->parse(body, ctx.request);
  Result<ModalityInfo> m = ApiError::invalid_request("");
  if (upload) {
    auto form = upload->finish(body);
    if (!form) return form.error();
    ctx.form = std::make_unique<Form>(std::move(*form));
    m = parse_modality_form(ctx.modality, *ctx.form, ctx.request);
  } else {
    m = parse_modality_json(ctx.modality, body, ctx.request);
  }
  if (!m) return m.error();
  return InboundInfo{std::move(m->model), false, false};
}

// Content rules: the first rule whose conditions all hold names the route to use instead.
const Route* apply_rules(RequestContext& ctx, const Route& route, Route& scratch) {
  const routing::RuleInput in = rule_input(ctx);
  for (const RouteRuleConfig& rule : route.rules) {
    bool all = true;
    for (const auto& c : rule.when) all = all && routing::matches(c, in);
    if (all) return ctx.snapshot->resolve(rule.route, ctx.principal.groups, scratch);
  }
  return &route;
}

// Authorization (a plain function: its input stays off the coroutine frame). Returns the
// refusal, or sets ctx.denied_targets and returns nothing.
std::optional<ApiError> authorize(RequestContext& ctx) {
  const identity::Authorizer& authz = *ctx.snapshot->authorizer;
  routing::RuleInput in = rule_input(ctx);
  if (authz.needs_time()) in.now = ::time(nullptr);
  identity::AuthzDecision d = authz.check(in, *ctx.route);
  if (d.denied_by) {
    ApiError e = ApiError::permission("request denied by authorization rule '" + *d.denied_by +
                                      "'");
    e.code = "access_denied";
    return e;
  }
  ctx.denied_targets = d.denied_targets;
  return std::nullopt;
}

}  // namespace

Task<void> run_pipeline(RequestContext& ctx, Exchange& ex) {
  Route scratch;  // (before the guard: ctx.route may point here until on_complete has run)
  CompleteGuard guard{ctx};
  const Snapshot& snap = *ctx.snapshot;
  ctx.executor = co_await net::this_coro::executor;

  for (const auto& p : snap.policies) {
    Verdict v = co_await p->on_headers(ctx);
    if (!v.is_next()) {
      co_await answer(ctx, ex, v);
      co_return;
    }
  }

  if (ctx.api == InboundApi::openai_models) {
    ctx.status = 200;
    Headers headers{{"content-type", "application/json"}, {"x-request-id", ctx.request_id}};
    // (Built first: GCC 12 mis-compiles a conditional temporary inside a co_await expression.)
    std::string body = ctx.principal.groups ? snap.models_for(ctx.principal.groups) : snap.models_json;
    co_await ex.respond(200, std::move(headers), std::move(body));
    co_return;
  }

  // An upload is parsed as it arrives (a malformed one is refused at its first bad byte).
  std::unique_ptr<MultipartParser> upload;
  if (is_multipart(ctx.modality)) {
    auto made = start_upload(ctx);
    if (!made) {
      co_await send_error(ctx, ex, made.error());
      co_return;
    }
    upload = std::move(*made);
  }
  BodyError be = upload ? co_await ex.read_body(
                              snap.config.server.max_upload_bytes,
                              [p = upload.get()](std::string_view all) { return bool(p->feed(all)); })
                        : co_await ex.read_body();
  if (be != BodyError::none) {
    if (be == BodyError::closed) ctx.client_disconnected = true;
    else co_await send_error(ctx, ex, body_error(be, snap.config.server, upload.get()));
    co_return;
  }
  ctx.timings.body_read = Clock::now();

  auto info = parse_body(ctx, ex.body(), upload.get());
  if (!info) {
    co_await send_error(ctx, ex, info.error());
    co_return;
  }
  ctx.model = std::move(info->model);
  ctx.stream = info->stream;
  ctx.client_wants_usage = info->include_usage;
  if (auto bad = take_cache_directive(ctx)) {
    co_await send_error(ctx, ex, *bad);
    co_return;
  }

  ctx.route = snap.resolve(ctx.model, ctx.principal.groups, scratch);
  if (ctx.route && !ctx.route->rules.empty()) ctx.route = apply_rules(ctx, *ctx.route, scratch);
  if (!ctx.route) {
    ApiError e = ApiError::not_found("model '" + ctx.model + "' does not exist: use "
                                     "'<provider>/<model>' or a route alias (GET /v1/models)",
                                     "model_not_found");
    e.param = "model";
    co_await send_error(ctx, ex, e);
    co_return;
  }
  if (snap.authorizer && snap.authorizer->active()) {
    if (auto denied = authorize(ctx)) {
      co_await send_error(ctx, ex, *denied);
      co_return;
    }
  }
  std::size_t ran = 0;
  for (const auto& p : snap.policies) {
    Verdict v;
    if (!p->on_request_now(ctx, v)) v = co_await p->on_request(ctx);
    ++ran;
    if (!v.is_next()) {
      co_await answer(ctx, ex, v);
      co_return;
    }
  }

  if (ctx.api == InboundApi::anthropic_count_tokens) co_await count_tokens(ctx, ex);
  else co_await proxy_chat(ctx, ex, ran);
}

}  // namespace torii
