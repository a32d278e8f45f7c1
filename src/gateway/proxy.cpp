#include "gateway/proxy.h"

#include "api/inbound.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "pipeline/runner.h"
#include "providers/openai_passthrough.h"
#include "upstream/http_client.h"
#include "upstream/sse_parser.h"

namespace torii {

namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kMaxResponseBody = 64u << 20;

enum class Outcome { done, next_target, stop };

// The answer's extra headers: request id, the provider's rate limits, ignored hints.
void answer_headers(const RequestContext& ctx, Headers& h) {
  h.emplace_back("x-request-id", ctx.request_id);
  for (const auto& kv : ctx.upstream_rate_limits) h.push_back(kv);
  if (!ctx.ignored.empty()) {
    std::string list;
    for (const auto& f : ctx.ignored) list += (list.empty() ? "" : ",") + f;
    h.emplace_back("x-torii-ignored-params", std::move(list));
  }
}

Headers stream_headers(const RequestContext& ctx) {
  Headers h{{"content-type", "text/event-stream"}, {"cache-control", "no-cache"}};
  answer_headers(ctx, h);
  return h;
}

// Runs the policies' on_chunk (reverse order) on each event, then hands it to the encoder.
class PolicySink final : public StreamSink {
 public:
  PolicySink(RequestContext& ctx, std::size_t ran, StreamEncoder& enc)
      : ctx_(ctx), ran_(ran), enc_(enc) {}
  std::optional<ApiError> rejected;

  void event(const StreamEvent& e) override {
    if (e.kind == StreamEvent::Kind::start && (e.name.empty() || e.id.empty())) {
      // Providers that do not name the model (Bedrock, Cohere) or the answer (Ollama).
      StreamEvent named = e;
      if (named.name.empty()) named.name = ctx_.upstream_model;
      if (named.id.empty()) named.id = ctx_.request_id;
      if (pass(StreamChunk{&named, {}, {}, false})) enc_.event(named);
      return;
    }
    if (pass(StreamChunk{&e, {}, {}, false})) enc_.event(e);
  }
  void raw(std::string_view name, std::string_view data, bool usage_only) override {
    if (pass(StreamChunk{nullptr, name, data, usage_only})) enc_.raw(name, data, usage_only);
  }

 private:
  bool pass(const StreamChunk& c) {
    if (rejected) return false;
    const auto& chain = ctx_.snapshot->policies;
    for (std::size_t i = ran_; i-- > 0;) {
      Verdict v = chain[i]->on_chunk(ctx_, c);
      if (v.kind() == Verdict::Kind::reject) {
        rejected = v.error();
        return false;
      }
    }
    return true;
  }
  RequestContext& ctx_;
  std::size_t ran_;
  StreamEncoder& enc_;
};

// Forwards a 2xx streamed answer. Returns next_target only when nothing reached the client.
Task<Outcome> relay_stream(RequestContext& ctx, Exchange& ex, const Provider& provider,
                           bool passthrough, UpstreamResponse& resp, std::size_t ran,
                           ApiError& last) {
  // A passed-through Responses stream is the same wire for every vendor that has the API:
  // decoded here, not by each provider (openai_passthrough.h).
  auto decoder = passthrough && ctx.codec->format() == WireFormat::openai_responses
                     ? make_responses_passthrough_decoder(provider.name())
                     : provider.stream_decoder(passthrough);
  InboundInfo info{ctx.model, true, ctx.client_wants_usage};
  auto encoder = ctx.codec->stream_encoder(info);
  std::string& out = encoder->out;
  PolicySink sink(ctx, ran, *encoder);
  bool done = false;
  std::optional<ApiError> failure;

  for (;;) {
    auto piece = co_await resp.read_some();
    if (!piece) {
      failure = piece.error();
    } else if (piece->empty()) {
      break;  // the body ended cleanly
    } else if (!done) {
      if (auto r = decoder->feed(*piece, sink, ctx.usage, done); !r) failure = r.error();
    }
    if (sink.rejected && !failure) failure = sink.rejected;
    if (failure && !ex.response_started() && out.empty()) {
      // Nothing reached the client: an upstream failure may go to the next target; a policy's
      // reject is the answer (another provider would not change the verdict).
      last = *failure;
      last.retryable = !sink.rejected;
      co_return sink.rejected ? Outcome::stop : Outcome::next_target;
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
      // The stream already started: end it with the format's error event, never a clean end.
      // (Inline: GCC 12 mis-compiled this as a separate coroutine taking the encoder.)
      ctx.error = *failure;
      encoder->fail(*failure);
      bool sent = co_await ex.write(out);
      if (sent) co_await ex.finish_stream();
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
  encoder->finish();
  if (co_await ex.write(out)) co_await ex.finish_stream();
  else ctx.client_disconnected = true;
  co_return Outcome::done;
}

// The client's body for a 2xx whole answer `body` (passthrough: as it came; else decoded and
// encoded in the client's format), with ctx.usage set. A plain function, not a coroutine: the
// decoded answer lives on the stack, which keeps relay_whole's frame small enough for Asio's
// recycling allocator (frames over 1 KiB are a malloc and a free per request).
Result<std::string> client_body(RequestContext& ctx, const Provider& provider, bool passthrough,
                                std::string&& body) {
  if (passthrough && ctx.codec->format() == WireFormat::openai_responses) {
    auto usage = responses_body_usage(body, provider.name());  // see relay_stream
    if (!usage) return usage.error();
    ctx.usage = *usage;
    return std::move(body);
  }
  auto decoded = provider.decode_chat(std::move(body), passthrough);
  if (!decoded) return decoded.error();
  ctx.usage = decoded->result.usage;
  if (passthrough) return std::move(decoded->raw);
  ChatResult& r = decoded->result;  // providers that do not name the model or the answer
  if (r.model.empty()) r.model = ctx.upstream_model;
  if (r.id.empty()) r.id = ctx.request_id;
  return ctx.codec->encode_result(r);
}

// Forwards a 2xx whole answer.
Task<Outcome> relay_whole(RequestContext& ctx, Exchange& ex, const Provider& provider,
                          bool passthrough, UpstreamResponse& resp, std::size_t ran,
                          ApiError& last) {
  auto body = co_await resp.read_all(kMaxResponseBody);
  if (!body) {
    last = body.error();
    last.retryable = true;
    co_return Outcome::next_target;
  }
  auto answer = client_body(ctx, provider, passthrough, std::move(*body));
  if (!answer) {
    last = answer.error();
    last.retryable = true;
    co_return Outcome::next_target;
  }
  ResponseView view{200, *answer};
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
  Headers headers{{"content-type", "application/json"}};
  answer_headers(ctx, headers);
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
  const WireFormat format = ctx.codec->format();
  const bool passthrough = provider.speaks(format);
  ChatCall call{format, nullptr, nullptr, target.model, ctx.stream, &ctx.ignored, ctx.head};
  if (passthrough) {
    call.raw = &ctx.request;
    call.raw_text = ex.body();
  } else {
    auto canonical = canonical_request(ctx);
    if (!canonical) {  // the request itself cannot be translated: no target would do better
      last = canonical.error();
      co_return Outcome::stop;
    }
    if (auto e = missing_capability(**canonical, provider)) {  // another target may have it
      last = *e;
      co_return Outcome::next_target;
    }
    call.request = *canonical;
  }
  ctx.ignored.clear();
  auto req = provider.encode_chat(call);
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
  ctx.upstream_rate_limits.clear();  // the last answering provider's, errors included (429s)
  provider.rate_limit_headers(resp, ctx.upstream_rate_limits);
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
  Outcome o = ctx.stream ? co_await relay_stream(ctx, ex, provider, passthrough, resp, ran, last)
                         : co_await relay_whole(ctx, ex, provider, passthrough, resp, ran, last);
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
