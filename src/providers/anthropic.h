#pragma once
// The Anthropic provider (config kind "anthropic"): POST {base}/v1/messages with `x-api-key`
// and `anthropic-version` (config api_version, default 2023-06-01).
//
// It speaks the Anthropic Messages format natively: a client of torii's /v1/messages reaches
// it through passthrough (the client's JSON with "model" replaced; the answer and the SSE
// events go back as they came). Other clients go through the canonical model:
//  - system messages (wherever they are) → top-level "system", in order; `tool` messages →
//    a user message of tool_result blocks; consecutive same-role messages are merged
//    (Anthropic requires alternation).
//  - max_tokens is required by Anthropic: absent, torii sends kAnthropicDefaultMaxTokens
//    (plus the thinking budget when thinking is on, since the budget counts in max_tokens).
//  - reasoning_effort → thinking.budget_tokens: minimal/low 1024, medium 4096, high 16384,
//    "none" → thinking disabled. When the client's max_tokens leaves no room for the budget
//    (budget >= max_tokens) the budget shrinks to max_tokens - 1, and below Anthropic's
//    minimum (1024) thinking is not enabled and "reasoning_effort" is reported as ignored.
//    An explicit thinking_budget is sent as is.
//  - response_format json_schema → output_config.format {type:json_schema, schema}
//    (structured outputs, GA in the Messages API); json_object has no enforced counterpart
//    and is a 400. n > 1 and logprobs are 400s. seed, presence/frequency_penalty, participant
//    names, image detail and unknown fields are ignored hints; parallel_tool_calls=false
//    becomes tool_choice.disable_parallel_tool_use; user → metadata.user_id.
//  - Thinking parts without a signature (from another provider) cannot be replayed to
//    Anthropic (it verifies them): they are dropped and "thinking" is reported as ignored.
//  - stop reasons: end_turn/stop_sequence → stop, max_tokens and
//    model_context_window_exceeded → length, tool_use → tool_calls, refusal →
//    content_filter, pause_turn (a server-tool turn paused) → stop; native_finish keeps the
//    original.
//  - usage: prompt = input + cache_read + cache_creation; cached = cache_read_input_tokens;
//    cache_write = cache_creation_input_tokens; completion = output_tokens.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

inline constexpr std::string_view kAnthropicDefaultBaseUrl = "https://api.anthropic.com";
inline constexpr std::string_view kAnthropicDefaultVersion = "2023-06-01";
inline constexpr int64_t kAnthropicDefaultMaxTokens = 4096;
inline constexpr int64_t kAnthropicMinThinkingBudget = 1024;

// Builds the provider (the registry's factory for kind "anthropic").
Result<std::unique_ptr<Provider>> make_anthropic(const ProviderConfig& config, Endpoint endpoint);

// Passthrough: the client's Anthropic request with "model" replaced and "stream" set to
// `stream`; every other field is copied as it was. `raw_text`, when not empty, is the exact
// text `request` was parsed from (ChatCall::raw_text): the edits are then spliced into it
// (core/json_splice.h) instead of re-serialising `request`, which stays the fallback.
std::string encode_anthropic_passthrough(const boost::json::object& request,
                                         std::string_view model, bool stream,
                                         std::string_view raw_text = {});

// Canonical → Anthropic request body. `provider` names the provider in 400 messages; dropped
// hints are appended to `ignored`.
Result<std::string> encode_anthropic_request(const ChatRequest& request, std::string_view model,
                                             bool stream, std::string_view provider,
                                             std::vector<std::string>& ignored);

// Anthropic's "usage" object → canonical Usage (OpenAI meaning, see canonical.h).
Usage parse_anthropic_usage(const boost::json::object& usage);

// Anthropic stop_reason → FinishReason (unset for null / unknown).
FinishReason anthropic_finish_reason(std::string_view stop_reason);

// A 2xx Messages answer → ChatResult. Undecodable answers are 502s naming `provider`.
Result<ChatResult> decode_anthropic_message(std::string_view body, std::string_view provider);

// The stream decoder: passthrough forwards every event through StreamSink::raw; otherwise
// events become canonical StreamEvents.
std::unique_ptr<StreamDecoder> make_anthropic_stream_decoder(bool passthrough,
                                                             std::string provider);

// An Anthropic error (HTTP status + body {"type":"error","error":{"type","message"}}) → the
// error the client sees. 529 (overloaded) → 503, retryable.
ApiError map_anthropic_error(std::string_view provider, int status, std::string_view body,
                             std::string_view retry_after);

// An in-stream error event's error object {"type","message"} → ApiError.
ApiError anthropic_stream_error(std::string_view provider, const boost::json::object& error);

// Copies anthropic-ratelimit-* (and retry-after) as OpenAI's x-ratelimit-* names:
// requests-limit → x-ratelimit-limit-requests, tokens-remaining →
// x-ratelimit-remaining-tokens, input-tokens-reset → x-ratelimit-reset-input-tokens… Reset
// values stay Anthropic's RFC 3339 timestamps.
void anthropic_rate_limit_headers(const UpstreamResponse& response, Headers& out);

}  // namespace torii
