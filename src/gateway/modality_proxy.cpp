// The other modalities' end of a try (docs/MODALITIES.md): the attempt loop, the target's
// health and the failover are proxy.cpp's, shared with chat; here a 2xx answer becomes the
// client's. Speech is streamed as the audio arrives; the rest is decoded by the provider
// (asynchronous jobs polled to completion) and answered whole.
#include "gateway/proxy_internal.h"

#include <algorithm>

#include "api/openai_modalities.h"
#include "config/snapshot.h"
#include "pipeline/runner.h"
#include "quota/money.h"
#include "upstream/http_client.h"

namespace torii::proxy_detail {

namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;
// How long an asynchronous job may run when the route sets no deadline.
constexpr std::chrono::minutes kMaxJobWait{10};

// Speech: the upstream audio, streamed to the client piece by piece as it comes. Its price is
// known before the first byte (characters), so x-torii-cost-usd is a plain header.
Task<Outcome> relay_audio(RequestContext& ctx, Exchange& ex, const Provider& provider,
                          const ModalityCall& call, UpstreamResponse& resp, std::size_t ran,
                          ApiError& last) {
  ctx.usage.characters = speech_characters(*call.body);
  price_call(ctx);
  std::string content_type(resp.header("content-type"));
  if (content_type.empty()) content_type = "application/octet-stream";
  for (;;) {
    auto piece = co_await resp.read_some();
    if (!piece) {
      if (!ex.response_started()) {  // nothing sent: the next target may speak it
        last = piece.error();
        last.retryable = true;
        co_return Outcome::next_target;
      }
      // Audio has no error event: the connection is closed without the last chunk, so the
      // client sees a cut transfer, never a clean end.
      ctx.error = piece.error();
      ex.abort();
      co_return Outcome::stop;
    }
    if (piece->empty()) break;
    if (!ex.response_started()) {
      Headers h;
      h.emplace_back("content-type", content_type);
      h.emplace_back("cache-control", "no-cache");
      answer_headers(ctx, h);
      if (ctx.cost_micros >= 0)
        h.emplace_back("x-torii-cost-usd", quota::format_micros(ctx.cost_micros));
      ctx.status = 200;
      ctx.stream_started = true;
      ctx.timings.first_byte = Clock::now();
      resp.set_deadline(Clock::time_point::max());  // committed: only the idle timeout now
      if (!co_await ex.start_stream(200, std::move(h))) {
        ctx.client_disconnected = true;
        co_return Outcome::stop;
      }
    }
    if (!co_await ex.write(*piece)) {
      ctx.client_disconnected = true;  // dropping `resp` closes the upstream connection
      co_return Outcome::stop;
    }
  }
  if (!ex.response_started()) {
    last = ApiError::bad_gateway("provider '" + provider.name() + "' returned no audio");
    last.retryable = true;
    co_return Outcome::next_target;
  }
  const auto& chain = ctx.snapshot->policies;
  for (std::size_t i = ran; i-- > 0;) chain[i]->on_stream_end(ctx);
  if (!co_await ex.finish_stream()) ctx.client_disconnected = true;
  co_return Outcome::done;
}

// The 504 of a job still running at its deadline.
ApiError job_timeout(const Provider& provider, int polls) {
  ApiError e = ApiError::gateway_timeout("provider '" + provider.name() + "': the job was still " +
                                         "running after " + std::to_string(polls) +
                                         " poll(s) when the deadline came");
  e.retryable = true;
  return e;
}

}  // namespace

ApiError no_modality(const Provider& provider, Modality m) {
  return ApiError::invalid_request("provider '" + provider.name() + "' (" +
                                       std::string(provider.kind()) + ") does not serve " +
                                       std::string(modality_name(m)),
                                   "model", "unsupported_modality");
}

ModalityCall modality_call(RequestContext& ctx, Exchange& ex, std::string_view upstream_model) {
  ModalityCall c;
  c.modality = ctx.modality;
  c.body = &ctx.request;
  c.form = ctx.form.get();
  c.upstream_model = upstream_model;
  if (!ctx.request_edited && !ctx.form) c.raw_text = ex.body();
  c.ignored = &ctx.ignored;
  return c;
}

Task<Outcome> relay_modality(RequestContext& ctx, Exchange& ex, const Provider& provider,
                             const ModalityCall& call, UpstreamResponse& resp, std::size_t ran,
                             ApiError& last, Clock::time_point deadline) {
  if (call.modality == Modality::speech)
    co_return co_await relay_audio(ctx, ex, provider, call, resp, ran, last);
  std::string content_type(resp.header("content-type"));
  auto body = co_await resp.read_all(kMaxResponseBody);
  if (!body) {
    last = body.error();
    last.retryable = true;
    co_return Outcome::next_target;
  }
  auto reply = provider.decode_modality(call, 0, content_type, std::move(*body));
  // An asynchronous provider's job: poll it until it is done, failed, or out of time.
  const Clock::time_point job_deadline = std::min(deadline, Clock::now() + kMaxJobWait);
  int step = 0;
  while (reply && reply->next) {
    if (Clock::now() + reply->poll_after >= job_deadline) {
      last = job_timeout(provider, step);
      co_return Outcome::next_target;
    }
    if (reply->poll_after.count() > 0) co_await sleep_for(reply->poll_after);
    UpstreamRequest poll = std::move(*reply->next);
    poll.deadline = job_deadline;
    auto sent = co_await UpstreamClient::local().send(provider.endpoint(), poll);
    if (!sent) {
      last = sent.error();
      last.retryable = true;
      co_return Outcome::next_target;
    }
    UpstreamResponse& answer = **sent;
    if (answer.status() < 200 || answer.status() >= 300) {
      auto text = co_await answer.read_all(kMaxErrorBody);
      const std::string_view t = text ? std::string_view(*text) : std::string_view();
      last = provider.map_error(answer.status(), t, answer.header("retry-after"));
      co_return last.retryable ? Outcome::next_target : Outcome::stop;
    }
    content_type = answer.header("content-type");
    auto next_body = co_await answer.read_all(kMaxResponseBody);
    if (!next_body) {
      last = next_body.error();
      last.retryable = true;
      co_return Outcome::next_target;
    }
    reply = provider.decode_modality(call, ++step, content_type, std::move(*next_body));
  }
  if (!reply) {
    last = reply.error();
    last.retryable = last.status >= 500;
    co_return last.retryable ? Outcome::next_target : Outcome::stop;
  }
  ctx.usage = reply->usage;
  co_return co_await send_whole(ctx, ex, ran, std::move(reply->body), reply->content_type);
}

}  // namespace torii::proxy_detail
