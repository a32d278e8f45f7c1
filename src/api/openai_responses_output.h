#pragma once
// The answer side of the OpenAI Responses inbound API (api/openai_responses.h): a canonical
// ChatResult as a Response object, and canonical stream events as the Responses SSE sequence.
// Internal to the codec; exposed for its unit tests.
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "api/inbound.h"

namespace torii::responses_output {

// A 400 naming `field`: "'<field>' <what>".
ApiError field_error(std::string field, std::string what);

// The string's text when `v` is a JSON string, else "".
std::string_view str_or_empty(const boost::json::value* v);

// The Response object (JSON text) for a complete answer.
std::string encode_response(const ChatResult& result);

// The encoder for one streamed answer. Events it writes, each as "event: <type>\ndata: {...}"
// with a growing sequence_number:
//   response.created, response.in_progress (before the first content, or at the end);
//   per text run: output_item.added (message), content_part.added, output_text.delta…,
//     output_text.done, content_part.done, output_item.done;
//   per thinking run: output_item.added (reasoning), reasoning_summary_part.added,
//     reasoning_summary_text.delta…, reasoning_summary_text.done, reasoning_summary_part.done,
//     output_item.done (encrypted_content = the signature);
//   per tool call: output_item.added (function_call), function_call_arguments.delta…,
//     function_call_arguments.done, output_item.done;
//   finish(): response.completed, or response.incomplete (finish length / content_filter),
//     carrying the full response with usage;
//   fail(e): an `error` event, then response.failed.
// raw(name, data): passthrough from a provider that speaks Responses: the event re-framed
// unchanged; finish() then adds nothing, fail(e) an `error` event numbered after the last one.
std::unique_ptr<StreamEncoder> make_stream_encoder(const InboundInfo& info);

}  // namespace torii::responses_output
