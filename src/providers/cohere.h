#pragma once
// Cohere's native chat API (v2): POST {base}/v2/chat, Bearer key, answers as JSON or as SSE
// events (message-start, content-start/delta/end, tool-plan-delta, tool-call-start/delta/end,
// citation-start/end, message-end). Translation (canonical <-> Cohere):
//  - messages: system/user/assistant/tool (tool_call_id); text and image_url content, assistant
//    tool_calls (OpenAI shape, arguments as a JSON text), thinking blocks as content
//    {type:"thinking"}; a tool plan (tool_plan) is decoded as thinking. Documents (PDF) -> 400.
//  - tools (OpenAI shape), strict -> strict_tools, tool_choice none/required -> NONE/REQUIRED,
//    a named tool -> REQUIRED with only that tool declared.
//  - response_format json_object / json_schema -> {type:"json_object"[, json_schema]}.
//  - max_tokens, temperature, top_p -> p, top_k -> k, seed, stop -> stop_sequences,
//    frequency/presence penalty, thinking budget / reasoning effort -> thinking
//    {type:"enabled"|"disabled", token_budget}.
//  - Hints dropped (listed in ignored): parallel_tool_calls, user, and unknown fields.
//    n > 1 and logprobs -> 400.
//  - finish: COMPLETE/STOP_SEQUENCE -> stop, MAX_TOKENS/ERROR_LIMIT -> length, TOOL_CALL ->
//    tool_calls, ERROR_TOXIC -> content_filter, ERROR/TIMEOUT -> error.
//  - usage: tokens {input_tokens, output_tokens} (billed_units when tokens is absent),
//    cached_tokens when present.
// Embeddings (the modality and the semantic cache's calls): POST {base}/v2/embed {"model",
// "texts", "input_type" (the client's extra field "input_type", else search_document),
// "embedding_types":["float"], "output_dimension" (from "dimensions")} -> embeddings.float and
// meta.billed_units.input_tokens. At most 96 texts per call; token-id inputs are a 400.
// Cohere's answer carries no model name and no creation time: ChatResult::model and created
// stay empty / 0 (the gateway fills them from the route).
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

// Builds a Cohere provider (kind "cohere"). `endpoint` comes from base_url (default
// https://api.cohere.com).
Result<std::unique_ptr<Provider>> make_cohere(const ProviderConfig& config, Endpoint endpoint);

}  // namespace torii
