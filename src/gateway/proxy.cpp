#include "gateway/proxy.h"
#include "gateway/proxy_internal.h"

#include "api/inbound.h"
#include "audit/trace_context.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "pipeline/runner.h"
#include "providers/openai_passthrough.h"
#include "quota/money.h"
#include "quota/prices.h"
#include "upstream/http_client.h"
#include "upstream/sse_parser.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace torii {

namespace proxy_detail {

void answer_headers(const RequestContext& ctx, Headers& h) {
  h.emplace_back("x-request-id", ctx.request_id);
  h.emplace_back("x-torii-provider", ctx.provider);
  h.emplace_back("x-torii-model", ctx.upstream_model);
  h.emplace_back("x-torii-attempts", std::to_string(ctx.attempts.size()));
  // The gateway's own limits (quota policy) replace the provider's headers of the same name.
  for (const auto& [name, value] : ctx.response_headers) h.emplace_back(name, value);
  for (const auto& kv : ctx.upstream_rate_limits)
    if (!ctx.has_response_header(kv.first)) h.push_back(kv);
  if (!ctx.ignored.empty()) {
    std::string list;
    for (const auto& f : ctx.ignored) list += (list.empty() ? "" : ",") + f;
    h.emplace_back("x-torii-ignored-params", std::move(list));
  }
}

// The answering model's price (null: not priced), looked up when the snapshot was built.
const quota::Price* price_of(const RequestContext& ctx) { return ctx.price; }

void price_call(RequestContext& ctx) {
  if (!ctx.usage.known()) return;
  if (const quota::Price* p = price_of(ctx)) ctx.cost_micros = quota::cost_micros(*p, ctx.usage);
}

// A separate coroutine, so that the timer is not part of proxy_chat's frame (which must stay
// under Asio's 1 KiB recycling limit: a larger frame costs a malloc and a free per request).
Task<void> sleep_for(std::chrono::milliseconds pause) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(pause);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

Task<Outcome> send_whole(RequestContext& ctx, Exchange& ex, std::size_t ran, std::string body,
                         std::string_view content_type) {
  // Priced before on_response (the quota policy settles there), from the reported usage only:
  // the header never carries what a policy estimated.
  price_call(ctx);
  const int64_t cost = ctx.cost_micros;
  ResponseView view{200, body};
  const auto& chain = ctx.snapshot->policies;
  for (std::size_t i = ran; i-- > 0;) {
    Verdict v;
    if (!chain[i]->on_response_now(ctx, view, v)) v = co_await chain[i]->on_response(ctx, view);
    if (v.kind() == Verdict::Kind::reject) {
      co_await send_error(ctx, ex, v.error());
      co_return Outcome::stop;
    }
  }
  ctx.status = view.status;
  ctx.timings.first_byte = Clock::now();
  // (GCC 12 mis-compiles a braced header list inside a co_await expression: build it first.)
  Headers headers;
  headers.emplace_back("content-type", std::string(content_type));
  answer_headers(ctx, headers);
  if (cost >= 0) headers.emplace_back("x-torii-cost-usd", quota::format_micros(cost));
  if (!co_await ex.respond(view.status, std::move(headers), std::move(view.body)))
    ctx.client_disconnected = true;
  co_return Outcome::done;
}

}  // namespace proxy_detail

namespace {

using namespace proxy_detail;

constexpr std::size_t kMaxErrorBody = 64 * 1024;

Headers stream_headers(const RequestContext& ctx) {
  Headers h{{"content-type", "text/event-stream"}, {"cache-control", "no-cache"}};
  answer_headers(ctx, h);
  // The cost is known at the end only: an HTTP trailer (HTTP/1.1 chunked streams).
  if (price_of(ctx)) h.emplace_back("trailer", "x-torii-cost-usd");
  return h;
}

// The trailer that ends a priced stream: "x-torii-cost-usd: 0.000125\r\n", or "".
std::string cost_trailer(RequestContext& ctx) {
  price_call(ctx);
  if (ctx.cost_micros < 0) return {};
  return "x-torii-cost-usd: " + quota::format_micros(ctx.cost_micros) + "\r\n";
}

bool has(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// Whether a passed-through event only opens the answer (no content yet): Anthropic's
// message_start, content_block_start and ping; the Responses API's created / in_progress /
// added events; OpenAI's first chunk, which carries the role and an empty content. Such events
// are held back with the response head until one with content comes, so that a stream that
// breaks before its first token can still fail over. When unsure, an event counts as content.
bool preamble_only(std::string_view name, std::string_view data) {
  if (name.empty()) {  // OpenAI chat chunk
    return has(data, "\"role\"") && !has(data, "\"tool_calls\"") &&
           !has(data, "\"finish_reason\":\"") && !has(data, "\"reasoning") &&
           (has(data, "\"content\":\"\"") || has(data, "\"content\":null") ||
            !has(data, "\"content\""));
  }
  return name == "message_start" || name == "content_block_start" || name == "ping" ||
         name == "response.created" || name == "response.in_progress" ||
         name == "response.output_item.added" || name == "response.content_part.added";
}

// Runs the policies' on_chunk (reverse order) on each event, then hands it to the encoder.
// A request's StreamFilter (guardrails) sees canonical events first and forwards them to
// `downstream`, when it wants and as it wants.
class PolicySink final : public StreamSink {
 public:
  PolicySink(RequestContext& ctx, std::size_t ran, StreamEncoder& enc)
      : ctx_(ctx), ran_(ran), enc_(enc), downstream(*this) {}
  std::optional<ApiError> rejected;
  bool content = false;  // an event with content (not only the answer's opening) went through

  // Where the filter's events go: the policies' on_chunk and the encoder.
  struct Downstream final : StreamFilter::Out {
    explicit Downstream(PolicySink& s) : sink(s) {}
    void event(const StreamEvent& e) override { sink.forward(e); }
    PolicySink& sink;
  } downstream;

  void event(const StreamEvent& e) override {
    if (rejected) return;
    if (ctx_.stream_filter) {
      if (auto err = ctx_.stream_filter->event(e, downstream)) rejected = std::move(err);
      return;
    }
    forward(e);
  }

  void forward(const StreamEvent& e) {
    if (e.kind != StreamEvent::Kind::start) content = true;
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
    if (!content && !preamble_only(name, data)) content = true;
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
  // A stream filter (guardrails) reads canonical events: the answer is decoded into them even
  // when the provider speaks the client's format (try_target translated the request when the
  // format's answer has no canonical decoder at the provider).
  const bool raw_events = passthrough && !ctx.stream_filter;
  if (ctx.stream_filter) ctx.stream_filter->reset();
  auto decoder = raw_events && ctx.codec->format() == WireFormat::openai_responses
                     ? make_responses_passthrough_decoder(provider.name())
                     : provider.stream_decoder(raw_events);
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
    if (failure && !ex.response_started()) {
      // Nothing reached the client: an upstream failure may go to the next target; a policy's
      // reject is the answer (another provider would not change the verdict).
      last = *failure;
      last.retryable = !sink.rejected;
      co_return sink.rejected ? Outcome::stop : Outcome::next_target;
    }
    // Until an event with content, the opening events wait with the response head (see
    // preamble_only): nothing is committed, a failure can still go to another target.
    if (!out.empty() && (sink.content || ex.response_started())) {
      if (!ex.response_started()) {
        ctx.timings.first_byte = Clock::now();
        ctx.status = 200;
        ctx.stream_started = true;
        resp.set_deadline(Clock::time_point::max());  // committed: only the idle timeout now
        if (!co_await ex.start_stream(200, stream_headers(ctx))) {
          ctx.client_disconnected = true;
          co_return Outcome::stop;
        }
      }
      if (ctx.stream_record) *ctx.stream_record += out;  // the cache keeps what was sent
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
  if (ctx.stream_filter) {
    // What the filter held back, after the checks that need the whole answer.
    std::optional<ApiError> denied = co_await ctx.stream_filter->end(sink.downstream);
    if (!denied && sink.rejected) denied = sink.rejected;
    if (denied) {
      if (!ex.response_started()) {
        last = *denied;
        last.retryable = false;
        co_return Outcome::stop;
      }
      ctx.error = *denied;
      encoder->fail(*denied);
      if (co_await ex.write(out)) co_await ex.finish_stream();
      co_return Outcome::stop;
    }
  }
  if (!ex.response_started()) {
    ctx.status = 200;
    ctx.stream_started = true;
    if (!co_await ex.start_stream(200, stream_headers(ctx))) co_return Outcome::stop;
  }
  encoder->finish();
  // The cost comes from the reported usage only (not from what a policy may estimate next).
  const std::string trailer = cost_trailer(ctx);
  const auto& chain = ctx.snapshot->policies;
  for (std::size_t i = ran; i-- > 0;) chain[i]->on_stream_end(ctx);
  if (ctx.stream_record) *ctx.stream_record += out;
  if (co_await ex.write(out)) {
    co_await ex.finish_stream(trailer);
  } else {
    ctx.client_disconnected = true;
  }
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
  co_return co_await send_whole(ctx, ex, ran, std::move(*answer), "application/json");
}

// What one try came to, for the route (go on or not) and the target's health.
struct TryReport {
  Outcome outcome = Outcome::stop;
  bool called = false;  // an upstream call was made (else the target could not take the request)
  routing::TryResult health = routing::TryResult::neutral;
  int64_t latency_us = 0;    // send to response head
  int64_t cool_until_ns = 0; // 429: when the key may be used again
};

// The failure class of an error from the upstream client or a relay (no HTTP status).
bool failover_on_transport(const FailoverConfig& f, const ApiError& e) {
  if (e.status == 504) return f.timeout;
  if (e.code == "upstream_reset") return f.reset;
  if (e.code == "upstream_unreachable" || e.code == "upstream_tls") return f.connect;
  return f.reset;  // an unreadable answer
}

bool failover_on_status(const FailoverConfig& f, int status, std::string_view body) {
  if (status == 429) return f.rate_limited;
  if (status >= 500) return f.server_errors;
  for (int s : f.statuses)
    if (s == status) return true;
  for (const auto& e : f.errors)
    if (body.find(e) != std::string_view::npos) return true;
  return false;
}

// The chat request for `provider`: passthrough (it speaks the client's format) or translated.
// An error with `fatal` set is the request's own fault (no target would do better); any other
// means this target cannot take it.
Result<UpstreamRequest> prepare_chat(RequestContext& ctx, Exchange& ex, const Provider& provider,
                                     const Target& target, bool& passthrough, bool& fatal) {
  const Capabilities& caps = provider.capabilities();
  if (!caps.chat)
    return ApiError::invalid_request("provider '" + provider.name() + "' does not serve chat",
                                     "model");
  if (ctx.stream && !caps.chat_stream)
    return ApiError::invalid_request("provider '" + provider.name() + "' cannot stream", "stream");
  const WireFormat format = ctx.codec->format();
  // A stream filter needs canonical events: the provider decodes them from its chat formats
  // (OpenAI chat, Anthropic) only, so Responses and legacy completions are translated then.
  passthrough = provider.speaks(format) &&
                !(ctx.stream_filter && (format == WireFormat::openai_responses ||
                                        format == WireFormat::openai_completions));
  ChatCall call{format, nullptr, nullptr, target.model, ctx.stream, &ctx.ignored, ctx.head};
  if (passthrough) {
    call.raw = &ctx.request;
    if (!ctx.request_edited) call.raw_text = ex.body();
  } else {
    auto canonical = canonical_request(ctx);
    if (!canonical) {
      fatal = true;
      return canonical.error();
    }
    if (auto e = missing_capability(**canonical, provider)) return *e;
    call.request = *canonical;
  }
  ctx.ignored.clear();
  return provider.encode_chat(call);
}

// `keep_last`: an upstream failure is already in `last`; a target that cannot take the
// request (skipped, no call) must not replace it.
Task<TryReport> try_target(RequestContext& ctx, Exchange& ex, const Route& route,
                           const Target& target, int key, Clock::time_point deadline,
                           std::size_t ran, ApiError& last, bool keep_last) {
  TryReport rep;
  const Provider& provider = *target.keys[static_cast<std::size_t>(key)];
  // The other modalities: the call, kept for the answer's decoding (unused for chat).
  ModalityCall mcall;
  bool passthrough = false;
  bool fatal = false;  // the request itself is at fault: no target would do better
  Result<UpstreamRequest> req = ApiError{};
  if (ctx.modality == Modality::chat) {
    req = prepare_chat(ctx, ex, provider, target, passthrough, fatal);
  } else if (!provider.capabilities().supports(ctx.modality)) {
    req = no_modality(provider, ctx.modality);
  } else {
    mcall = modality_call(ctx, ex, target.model);
    ctx.ignored.clear();
    req = provider.encode_modality(mcall);
  }
  if (!req && fatal) {
    last = req.error();
    co_return rep;
  }
  if (!req) {  // another target may take it
    if (!keep_last) last = req.error();
    rep.outcome = Outcome::next_target;
    co_return rep;
  }
  req->deadline = deadline;
  // Policies with per-target work (provider-scoped quotas): a reject skips this target.
  const auto& chain = ctx.snapshot->policies;
  for (std::size_t i = 0; i < ran; ++i) {
    if (!chain[i]->wants_attempts()) continue;
    Verdict v = co_await chain[i]->on_attempt(ctx, target);
    if (v.kind() == Verdict::Kind::reject) {
      last = v.error();
      rep.outcome = Outcome::next_target;
      co_return rep;
    }
  }
  rep.called = true;
  Attempt& attempt = ctx.attempts.emplace_back();
  attempt.provider = provider.name();
  attempt.model = target.model;
  // W3C trace context upstream: this attempt is a span of the request's trace.
  audit::new_span_id(attempt.span_id.data());
  req->headers.emplace_back(
      "traceparent", audit::format_traceparent({ctx.trace.trace_id.data(), 32},
                                               {attempt.span_id.data(), 16}, ctx.trace.sampled));
  auto started = Clock::now();
  attempt.started = started;
  ctx.timings.upstream_sent = started;
  auto since = [&] {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  };

  auto sent = co_await UpstreamClient::local().send(provider.endpoint(), *req);
  if (!sent) {
    last = sent.error();
    attempt.error = last.message;
    attempt.elapsed = Clock::now() - started;
    rep.health = routing::TryResult::failure;
    rep.latency_us = since();
    rep.outcome =
        failover_on_transport(route.failover, last) ? Outcome::next_target : Outcome::stop;
    co_return rep;
  }
  UpstreamResponse& resp = **sent;
  rep.latency_us = since();
  attempt.status = resp.status();
  ctx.upstream_rate_limits.clear();  // the last answering provider's, errors included (429s)
  provider.rate_limit_headers(resp, ctx.upstream_rate_limits);
  if (resp.status() < 200 || resp.status() >= 300) {
    auto body = co_await resp.read_all(kMaxErrorBody);
    std::string_view text = body ? std::string_view(*body) : std::string_view();
    last = provider.map_error(resp.status(), text, resp.header("retry-after"));
    attempt.error = last.message;
    attempt.elapsed = Clock::now() - started;
    if (resp.status() == 429) {
      rep.health = routing::TryResult::rate_limited;
      int64_t pause = routing::retry_after_ms(resp.header("retry-after"),
                                              resp.header("retry-after-ms"));
      if (pause < 0) pause = target.rate_limit_cooldown.count();
      pause = std::min<int64_t>(pause, 3'600'000);  // an hour at most
      rep.cool_until_ns = routing::now_ns() + pause * 1'000'000;
    } else {
      rep.health = resp.status() >= 500 ? routing::TryResult::failure : routing::TryResult::success;
    }
    rep.outcome = failover_on_status(route.failover, resp.status(), text) ? Outcome::next_target
                                                                          : Outcome::stop;
    co_return rep;
  }
  ctx.provider = provider.name();
  ctx.upstream_model = target.model;
  ctx.price = target.price;
  resp.set_deadline(deadline);
  Outcome o = Outcome::stop;
  if (ctx.modality != Modality::chat)
    o = co_await relay_modality(ctx, ex, provider, mcall, resp, ran, last, deadline);
  else if (ctx.stream)
    o = co_await relay_stream(ctx, ex, provider, passthrough, resp, ran, last);
  else
    o = co_await relay_whole(ctx, ex, provider, passthrough, resp, ran, last);
  attempt.elapsed = Clock::now() - started;
  rep.outcome = o;
  if (o == Outcome::next_target) {  // the answer broke before anything reached the client
    attempt.error = last.message;
    rep.health = routing::TryResult::failure;
    if (!failover_on_transport(route.failover, last)) rep.outcome = Outcome::stop;
  } else if (ctx.error && ctx.stream_started) {
    rep.health = routing::TryResult::failure;  // cut mid-stream
  } else {
    rep.health = routing::TryResult::success;
  }
  co_return rep;
}

std::string millis_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// The 504 of a route whose retry.deadline_ms passed, after `calls` attempts that ended in `last`.
ApiError deadline_reached(const Route& route, int calls, const ApiError& last) {
  return ApiError::gateway_timeout("route '" + route.name + "': deadline of " +
                                   millis_text(route.retry.deadline) + " reached after " +
                                   std::to_string(calls) + " attempt(s); last: " + last.message);
}

// Full-jitter exponential backoff: uniform in [0, min(max, base * 2^n)].
std::chrono::milliseconds backoff_for(const RetryConfig& r, int n) {
  int64_t cap = r.backoff.count();
  for (int i = 0; i < n && cap < r.max_backoff.count(); ++i) cap *= 2;
  cap = std::min<int64_t>(cap, r.max_backoff.count());
  if (cap <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(routing::rng()));
}

}  // namespace

Task<void> proxy_chat(RequestContext& ctx, Exchange& ex, std::size_t ran) {
  const Route& route = *ctx.route;
  const RetryConfig& retry = route.retry;
  const auto start = Clock::now();
  route.state->budget.on_request(routing::now_ns());
  const auto deadline = retry.deadline.count() > 0 ? start + retry.deadline
                                                   : Clock::time_point::max();
  ApiError last;             // the failure to answer with (no string built up front)
  bool failed_once = false;  // `last` holds a real failure
  uint64_t tried = 0;
  // Targets that cannot take this request: authorization removed them, or (found on the way)
  // they lack a capability or an encoding.
  uint64_t unable = ctx.denied_targets;
  int calls = 0, retries_of_tried = 0;
  const int max_calls = route.max_attempts();
  bool budget_out = false;

  while (calls < max_calls && !ctx.client_disconnected) {
    if (calls > 0 && ex.draining()) break;
    if (Clock::now() >= deadline) {
      last = deadline_reached(route, calls, last);
      failed_once = true;
      break;
    }
    routing::NoPick why;
    routing::Pick pick = routing::select(route, tried, false, routing::now_ns(), why, unable);
    bool budget_taken = false;
    if (pick.target < 0 && why.all_tried && calls > 0) {
      // Every usable target was tried: a retry of one of them, after a backoff.
      if (!route.state->budget.try_retry(retry.budget_percent, retry.min_retries_per_second,
                                         routing::now_ns())) {
        budget_out = true;
        break;
      }
      budget_taken = true;
      const auto pause = backoff_for(retry, retries_of_tried++);
      if (Clock::now() + pause >= deadline) {
        // The pause would end past the deadline: no try could start in time, so say it now.
        last = ApiError::gateway_timeout("route '" + route.name + "': the deadline of " +
                                         millis_text(retry.deadline) + " leaves no time for a " +
                                         "retry after " + std::to_string(calls) +
                                         " attempt(s); last: " + last.message);
        break;
      }
      if (pause.count() > 0) co_await sleep_for(pause);
      pick = routing::select(route, 0, true, routing::now_ns(), why, unable);
    }
    if (pick.target < 0) {
      if (!failed_once && why.rate_limited && !why.unhealthy) {
        // The providers asked us to wait (429 + Retry-After): so must the client.
        last = ApiError::rate_limited("every target of '" + route.name +
                                      "' is rate limited: its keys are cooling down after 429s");
        failed_once = true;
      } else if (!failed_once) {
        last = ApiError::unavailable("no healthy target for '" + route.name +
                                     "': every target's circuit breaker is open or its health "
                                     "check fails");
        last.code = "no_healthy_target";
        failed_once = true;
      }
      if (why.retry_at_ns > 0) {
        const int64_t wait = why.retry_at_ns - routing::now_ns();
        const int64_t seconds = (wait + 999'999'999) / 1'000'000'000;  // rounded up
        last.retry_after = std::to_string(std::max<int64_t>(1, seconds));
      }
      break;
    }
    const Target& target = route.targets[static_cast<std::size_t>(pick.target)];
    if (calls > 0 && !budget_taken &&
        !route.state->budget.try_retry(retry.budget_percent, retry.min_retries_per_second,
                                       routing::now_ns())) {
      target.health->finish(*target.breaker, pick.probe, routing::TryResult::neutral, 0, pick.key,
                            0, routing::now_ns());
      budget_out = true;
      break;
    }
    tried |= uint64_t{1} << pick.target;
    auto try_deadline = deadline;
    if (retry.per_try_timeout.count() > 0)
      try_deadline = std::min(try_deadline, Clock::now() + retry.per_try_timeout);
    TryReport rep =
        co_await try_target(ctx, ex, route, target, pick.key, try_deadline, ran, last, calls > 0);
    target.health->finish(*target.breaker, pick.probe, rep.health, rep.latency_us, pick.key,
                          rep.cool_until_ns, routing::now_ns());
    if (rep.outcome == Outcome::done) co_return;
    if (rep.called) ++calls;
    else unable |= uint64_t{1} << pick.target;
    failed_once = true;
    if (rep.health == routing::TryResult::failure && last.status == 504 &&
        Clock::now() >= try_deadline) {
      if (try_deadline == deadline)
        last = deadline_reached(route, calls, last);
      else
        last.message = "provider '" + target.provider->name() + "' gave no answer within the "
                       "route's per-try timeout of " + millis_text(retry.per_try_timeout);
    }
    if (Clock::now() >= deadline) {
      // Attempts were left: the deadline ended the request, not the last failure (a try that
      // began just before the deadline and failed just after it).
      if (calls < max_calls && last.status != 504) last = deadline_reached(route, calls, last);
      break;
    }
    if (rep.outcome == Outcome::stop) {
      if (!ex.response_started() && !ctx.client_disconnected) co_await send_error(ctx, ex, last);
      co_return;
    }
  }
  if (ctx.client_disconnected || ex.response_started()) co_return;
  if (!failed_once) last = ApiError::bad_gateway("route '" + route.name + "': no target tried");
  if (budget_out) last.message += " (no retry: the route's retry budget is spent)";
  else if (calls > 1)
    last.message = "all " + std::to_string(calls) + " attempts on route '" + route.name +
                   "' failed; last: " + last.message;
  co_await send_error(ctx, ex, last);
}

}  // namespace torii
