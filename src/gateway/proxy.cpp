#include "gateway/proxy.h"

#include "api/openai_chat.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "pipeline/runner.h"
#include "upstream/http_client.h"
#include "upstream/sse_parser.h"

namespace torii {

namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kMaxResponseBody = 64u << 20;

enum class Outcome { done, next_target, stop };

// Ends a stream that already started with an error event: never a clean [DONE].
Task<void> fail_stream(RequestContext& ctx, Exchange& ex, const ApiError& e) {
  ctx.error = e;
  std::string out;
  append_sse_data(out, to_openai_json(e));
  if (co_await ex.write(out)) co_await ex.finish_stream();
}

Headers stream_headers(const RequestContext& ctx) {
  return {{"content-type", "text/event-stream"},
          {"cache-control", "no-cache"},
          {"x-request-id", ctx.request_id}};
}

// Forwards a 2xx streamed answer. Returns next_target only when nothing reached the client.
Task<Outcome> relay_stream(RequestContext& ctx, Exchange& ex, const Provider& provider,
                           UpstreamResponse& resp, std::size_t ran, ApiError& last) {
  const auto& chain = ctx.snapshot->policies;
  auto decoder = provider.stream_decoder();
  SseParser parser;
  std::string out;
  bool done = false;
  bool rejected = false;  // the failure is a policy's verdict, not the upstream's
  std::optional<ApiError> failure;

  auto emit = [&](StreamChunk&& chunk) {
    if (failure) return;
    if (chunk.usage_only && !ctx.client_wants_usage) return;  // we asked for it, they did not
    for (std::size_t i = ran; i-- > 0;) {
      Verdict v = chain[i]->on_chunk(ctx, chunk);
      if (v.kind() == Verdict::Kind::reject) {
        failure = v.error();
        rejected = true;
        return;
      }
    }
    append_sse_data(out, chunk.data);
  };
  auto on_event = [&](SseEvent& ev) {
    auto r = decoder->on_event(ev, emit, ctx.usage, done);
    if (!r) failure = r.error();
    return !failure && !done;
  };

  for (;;) {
    auto piece = co_await resp.read_some();
    if (!piece) {
      failure = piece.error();
    } else if (piece->empty()) {
      break;  // the body ended cleanly
    } else if (!done && !parser.feed(*piece, on_event) && !failure && !done) {
      failure = ApiError::bad_gateway("upstream stream event exceeds the size limit");
    }
    if (failure && !ex.response_started() && out.empty()) {
      // Nothing reached the client: an upstream failure may go to the next target; a policy's
      // reject is the answer (another provider would not change the verdict).
      last = *failure;
      last.retryable = !rejected;
      co_return rejected ? Outcome::stop : Outcome::next_target;
    }
    if (!out.empty()) {
      if (!ex.response_started()) {
        ctx.timings.first_byte = Clock::now();
        ctx.status = 200;
        ctx.stream_started = true;
        if (!co_await ex.start_stream(200, stream_headers(ctx))) {
          ctx.client_disconnected = true;
          co_return Outcome::stop;
        }
      }
      if (!co_await ex.write(out)) {
        ctx.client_disconnected = true;  // dropping `resp` closes the upstream connection
        co_return Outcome::stop;
      }
      out.clear();
    }
    if (failure) {
      co_await fail_stream(ctx, ex, *failure);
      co_return Outcome::stop;
    }
    if (done) {
      // Read the rest of the body (normally nothing) so the connection can be reused.
      for (;;) {
        auto rest = co_await resp.read_some();
        if (!rest || rest->empty()) break;
      }
      break;
    }
  }
  if (!ex.response_started()) {
    ctx.status = 200;
    ctx.stream_started = true;
    if (!co_await ex.start_stream(200, stream_headers(ctx))) co_return Outcome::stop;
  }
  if (co_await ex.write(kSseDone)) co_await ex.finish_stream();
  else ctx.client_disconnected = true;
  co_return Outcome::done;
}

// Forwards a 2xx whole answer.
Task<Outcome> relay_whole(RequestContext& ctx, Exchange& ex, const Provider& provider,
                          UpstreamResponse& resp, std::size_t ran, ApiError& last) {
  auto body = co_await resp.read_all(kMaxResponseBody);
  if (!body) {
    last = body.error();
    last.retryable = true;
    co_return Outcome::next_target;
  }
  auto decoded = provider.decode_chat(std::move(*body));
  if (!decoded) {
    last = decoded.error();
    last.retryable = true;
    co_return Outcome::next_target;
  }
  ctx.usage = decoded->usage;
  ResponseView view{200, decoded->body};
  const auto& chain = ctx.snapshot->policies;
  for (std::size_t i = ran; i-- > 0;) {
    Verdict v = co_await chain[i]->on_response(ctx, view);
    if (v.kind() == Verdict::Kind::reject) {
      co_await send_error(ctx, ex, v.error());
      co_return Outcome::stop;
    }
  }
  ctx.status = view.status;
  ctx.timings.first_byte = Clock::now();
  // (GCC 12 mis-compiles a braced header list inside a co_await expression: build it first.)
  Headers headers{{"content-type", "application/json"}, {"x-request-id", ctx.request_id}};
  if (!co_await ex.respond(view.status, std::move(headers), std::move(view.body)))
    ctx.client_disconnected = true;
  co_return Outcome::done;
}

Task<Outcome> try_target(RequestContext& ctx, Exchange& ex, const Target& target, std::size_t ran,
                         ApiError& last) {
  const Provider& provider = *target.provider;
  if (ctx.stream && !provider.capabilities().chat_stream) {
    last = ApiError::invalid_request("provider '" + provider.name() + "' cannot stream", "stream");
    co_return Outcome::next_target;
  }
  auto req = provider.encode_chat(ChatCall{ctx.request, target.model, ctx.stream});
  if (!req) {
    last = req.error();
    co_return Outcome::next_target;
  }
  Attempt& attempt = ctx.attempts.emplace_back();
  attempt.provider = provider.name();
  attempt.model = target.model;
  auto started = Clock::now();
  ctx.timings.upstream_sent = started;

  auto sent = co_await UpstreamClient::local().send(provider.endpoint(), *req);
  if (!sent) {
    last = sent.error();
    attempt.error = last.message;
    attempt.elapsed = Clock::now() - started;
    co_return last.retryable ? Outcome::next_target : Outcome::stop;
  }
  UpstreamResponse& resp = **sent;
  attempt.status = resp.status();
  if (resp.status() < 200 || resp.status() >= 300) {
    auto body = co_await resp.read_all(kMaxErrorBody);
    last = provider.map_error(resp.status(), body ? std::string_view(*body) : std::string_view(),
                              resp.header("retry-after"));
    attempt.error = last.message;
    attempt.elapsed = Clock::now() - started;
    co_return last.retryable ? Outcome::next_target : Outcome::stop;
  }
  ctx.provider = provider.name();
  ctx.upstream_model = target.model;
  Outcome o = ctx.stream ? co_await relay_stream(ctx, ex, provider, resp, ran, last)
                         : co_await relay_whole(ctx, ex, provider, resp, ran, last);
  attempt.elapsed = Clock::now() - started;
  if (o == Outcome::next_target) attempt.error = last.message;
  co_return o;
}

}  // namespace

Task<void> proxy_chat(RequestContext& ctx, Exchange& ex, std::size_t ran) {
  ApiError last = ApiError::bad_gateway("route '" + ctx.route->name + "' has no target");
  for (const Target& target : ctx.route->targets) {
    Outcome o = co_await try_target(ctx, ex, target, ran, last);
    if (o == Outcome::done) co_return;
    if (o == Outcome::stop) {
      if (!ex.response_started() && !ctx.client_disconnected) co_await send_error(ctx, ex, last);
      co_return;
    }
    if (ex.draining()) break;
  }
  if (ctx.route->targets.size() > 1)
    last.message = "all " + std::to_string(ctx.route->targets.size()) + " targets of route '" +
                   ctx.route->name + "' failed; last: " + last.message;
  co_await send_error(ctx, ex, last);
}

}  // namespace torii
