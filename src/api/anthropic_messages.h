#pragma once
// The Anthropic Messages inbound API (POST /v1/messages): the codec singleton is declared in
// api/inbound.h (anthropic_messages_codec()). This header exposes the pieces other parts of
// the gateway reuse: the request check shared with /v1/messages/count_tokens, the stop-reason
// mapping, and the two encoders (anthropic_messages_encode.cpp).
//
// Wire facts (Anthropic's public API reference):
//  - request: model, max_tokens (required), messages [{role user|assistant, content string |
//    blocks}], system (string | text blocks), tools, tool_choice, stop_sequences, temperature,
//    top_p, top_k, thinking, metadata.user_id, output_config, stream;
//  - answer: {id:"msg_…", type:"message", role:"assistant", model, content:[blocks],
//    stop_reason, stop_sequence, usage}; usage.input_tokens EXCLUDES cache reads and writes;
//  - stream: message_start, (content_block_start, content_block_delta*, content_block_stop)*,
//    message_delta {stop_reason, stop_sequence, usage}, message_stop; `event: error` on failure;
//  - errors: {"type":"error","error":{"type","message"}}.
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "api/inbound.h"
#include "core/result.h"
#include "providers/canonical.h"

namespace torii {

// Parses `body` into `raw` (allocated from raw.storage()) and checks the fields routing and
// framing rely on: model (non-empty string), messages (non-empty array of {role user|assistant,
// content string | array of typed blocks}), stream (bool), the types of system, sampling
// fields, stop_sequences, tools, tool_choice, thinking and metadata; max_tokens (an integer
// >= 1) is required when `require_max_tokens` (Messages) and optional otherwise (count_tokens).
// Errors are 400s naming the field in `param`. InboundInfo::include_usage is always true:
// Anthropic streams always carry usage.
Result<InboundInfo> parse_anthropic_request(std::string_view body, boost::json::object& raw,
                                            bool require_max_tokens);

// Anthropic's stop_reason for a canonical finish: stop → end_turn (stop_sequence when
// `has_stop_sequence`), length → max_tokens, tool_calls → tool_use, content_filter → refusal,
// other → end_turn. A `native` reason that is already one of Anthropic's names (Anthropic,
// Bedrock Converse) is kept as it is.
std::string_view anthropic_stop_reason(FinishReason finish, std::string_view native,
                                       bool has_stop_sequence);

// The Messages answer body for a canonical result (see the header comment for the shape).
std::string encode_anthropic_message(const ChatResult& result);

// The SSE encoder for one streamed answer. `info.model` names the message when the upstream's
// start event carries no model.
std::unique_ptr<StreamEncoder> make_anthropic_stream_encoder(const InboundInfo& info);

}  // namespace torii
