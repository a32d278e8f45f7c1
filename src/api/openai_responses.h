#pragma once
// The OpenAI Responses inbound API (POST /v1/responses): the client's request ↔ the canonical
// model, and the canonical answer → a Response object or the Responses SSE event sequence.
//
// torii is stateless: it keeps no responses, so `previous_response_id`, `conversation`,
// `background` and stored prompts are refused (400) when the request is translated; a provider
// that speaks Responses natively gets the client's JSON as sent (passthrough) and may honour
// them. `store` is a hint and is ignored. Built-in tools (web_search, file_search…) exist only
// at OpenAI: translated requests with them are a 400 naming the tool type.
//
// Mapping (translated path):
//   instructions                          → a system message, first
//   input: string                         → one user message
//   input[]: {role, content}              → messages (developer → system); input_text /
//            output_text / refusal → text, input_image → image (URL or data: URL),
//            input_file → document (file_data data: URL or file_url; file_id → 400)
//   input[]: function_call                → an assistant tool_call part (merged into the
//                                           preceding assistant message)
//   input[]: function_call_output         → a tool message with a tool_result part
//   input[]: reasoning                    → a thinking part (text = summary texts, signature =
//                                           encrypted_content); no text → redacted_thinking
//   tools[] {type:function}, tool_choice, text.format → response_format, max_output_tokens,
//   temperature, top_p, top_logprobs, reasoning.effort, parallel_tool_calls, user: translated;
//   metadata, truncation, store, include, service_tier, text.verbosity, reasoning.summary…:
//   hints, listed in ChatRequest::unknown_fields.
//
// Answers: a Response {id "resp_…", object "response", status "completed" | "incomplete"
// (finish length → reason max_output_tokens; content_filter → reason content_filter), output:
// reasoning items, one message item (output_text / refusal), function_call items, usage}.
#include "api/inbound.h"

namespace torii {

// The Response's id for an upstream answer id: kept when it already is "resp_…", else
// "resp_" + the id (or a random one when empty), so logs can be matched to the upstream.
std::string responses_id(std::string_view upstream_id);

}  // namespace torii
