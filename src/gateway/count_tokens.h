#pragma once
// POST /v1/messages/count_tokens (Anthropic): the input tokens a Messages request would use.
// The body is a Messages request without max_tokens; the answer is {"input_tokens": N}.
//
// When the resolved route's first target speaks Anthropic Messages natively (kind
// "anthropic"), the request is forwarded to that provider's count_tokens endpoint
// (Provider::encode_count_tokens) and its figure returned. Otherwise, or when that provider
// has no count_tokens endpoint or fails with anything but a 400, torii estimates and adds the
// header `x-torii-estimated: true`:
//   - text (system, text blocks, thinking, tool names/descriptions/schemas, tool inputs,
//     tool results): one token per 4 bytes, rounded up;
//   - each image: kImageTokens; each PDF/URL document: kDocumentTokens;
//   - each message: kMessageOverhead tokens (role and framing);
//   - at least 1.
// It runs through the pipeline like any request (policies see InboundApi::anthropic_count_tokens
// and may let it pass without charging: counting generates nothing). Errors are Anthropic-shaped.
#include <cstdint>

#include <boost/json/object.hpp>

#include "core/task.h"
#include "pipeline/request_context.h"
#include "server/http.h"

namespace torii {

inline constexpr int64_t kImageTokens = 1600;     // Anthropic's ceiling for one image (~1.15 MP)
inline constexpr int64_t kDocumentTokens = 3000;  // a PDF page costs 1500-3000; pages unknown
inline constexpr int64_t kMessageOverhead = 4;

// The estimate described above, for a parsed Messages request.
int64_t estimate_input_tokens(const boost::json::object& raw);

// Answers one count_tokens request whose body is parsed and whose route is resolved (the
// pipeline runner calls it in place of the upstream chat call).
Task<void> count_tokens(RequestContext& ctx, Exchange& ex);

}  // namespace torii
