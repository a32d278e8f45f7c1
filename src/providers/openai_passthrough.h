#pragma once
// Native pass-through of OpenAI's Responses API (POST /v1/responses) to the OpenAI-compatible
// vendors that have it: the client's JSON goes upstream with "model" replaced, and the answer
// comes back unchanged. torii only reads what it needs: usage (for cost and the audit) and
// error events. The legacy completions API reuses the chat passthrough (same chunk framing).
#include <memory>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "providers/provider.h"

namespace torii {

// Reads a Responses "usage" object (input_tokens, output_tokens, input_tokens_details
// .cached_tokens, output_tokens_details.reasoning_tokens, total_tokens) into canonical Usage.
Usage parse_responses_usage(const boost::json::object& usage);

// Usage of a whole Response body; a 502 when the body is not a JSON object.
Result<Usage> responses_body_usage(std::string_view body, std::string_view provider);

// The stream decoder of a passed-through Responses stream: every event goes to the sink as it
// came (name and data); response.completed / response.incomplete carry the usage and end the
// stream; `error` and response.failed events are upstream failures.
std::unique_ptr<StreamDecoder> make_responses_passthrough_decoder(std::string provider);

}  // namespace torii
