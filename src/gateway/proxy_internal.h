#pragma once
// What the chat proxy (proxy.cpp) and the other modalities' relay (modality_proxy.cpp) share:
// the attempt loop lives in proxy.cpp; each try ends in one of the relays.
#include <chrono>
#include <cstddef>

#include "core/task.h"
#include "pipeline/request_context.h"
#include "providers/provider.h"
#include "server/http.h"

namespace torii::proxy_detail {

inline constexpr std::size_t kMaxResponseBody = 64u << 20;

// What one try came to: the answer went out, the next target may try, or the request ends.
enum class Outcome { done, next_target, stop };

// The answer's extra headers: request id, who answered, the provider's rate limits, ignored
// hints.
void answer_headers(const RequestContext& ctx, Headers& h);
// Prices the call from ctx.usage (when known) into ctx.cost_micros.
void price_call(RequestContext& ctx);
// Answers a whole 2xx `body` of `content_type`: priced from ctx.usage, then the policies'
// on_response (reverse; a reject is answered instead), then sent with the answer's headers and
// x-torii-cost-usd. `ran`: the policies that ran on_request.
Task<Outcome> send_whole(RequestContext& ctx, Exchange& ex, std::size_t ran, std::string body,
                         std::string_view content_type);
// Waits `pause` on the worker (a coroutine of its own: its timer stays off the caller's frame).
Task<void> sleep_for(std::chrono::milliseconds pause);

// The 400 of a target whose provider does not serve `m` (the next target may).
ApiError no_modality(const Provider& provider, Modality m);
// The modality call of this request for a target's model.
ModalityCall modality_call(RequestContext& ctx, Exchange& ex, std::string_view upstream_model);
// Forwards a 2xx answer of a modality call: speech streamed as it comes; the others decoded
// (an asynchronous provider's job polled until `deadline`) and answered whole, after the
// policies' on_response. next_target only when nothing reached the client.
Task<Outcome> relay_modality(RequestContext& ctx, Exchange& ex, const Provider& provider,
                             const ModalityCall& call, UpstreamResponse& resp, std::size_t ran,
                             ApiError& last, Clock::time_point deadline);

}  // namespace torii::proxy_detail
