#pragma once
// Ollama's native chat API: POST {base}/api/chat, no key (a configured api_key is sent as
// Bearer, for Ollama behind an authenticating proxy). Answers are JSON, or NDJSON when
// streaming (one JSON object per line; the last has done:true and the token counts).
// Translation (canonical <-> Ollama):
//  - messages: role, content (text parts joined), images (base64 only: an http(s) image URL is
//    a 400), thinking, tool_calls {function:{name, arguments OBJECT}}; a tool result becomes a
//    `tool` message with tool_name (looked up from the call it answers).
//  - tools (OpenAI shape); tool_choice none drops the tools; required / a named tool -> 400
//    (Ollama cannot force a call).
//  - response_format json_object -> format:"json", json_schema -> format:<schema>.
//  - think: reasoning_effort low/medium/high -> that string, other efforts -> true;
//    thinking_budget 0 -> false, > 0 -> true (the budget itself is a dropped hint).
//  - options: temperature, top_p, top_k, seed, num_predict (max_tokens), stop,
//    presence_penalty, frequency_penalty; every config `options` entry is sent in options
//    too (numbers and true/false; the request's own fields win), except options.keep_alive,
//    sent as the top-level keep_alive (a number of seconds or a duration such as "5m").
//  - n > 1 and logprobs -> 400; parallel_tool_calls, user, unknown fields -> ignored.
//  - finish: done_reason stop -> stop (tool_calls when the answer has tool calls),
//    length -> length; usage: prompt_eval_count, eval_count.
//  - embeddings (the modality and the semantic cache's calls): POST {base}/api/embed
//    {"model", "input":[texts], "dimensions", options, keep_alive} -> embeddings and
//    prompt_eval_count (the prompt tokens); token-id inputs are a 400.
//  - Ollama has no tool-call ids: calls are named call_0, call_1… in answer order; a streamed
//    call comes whole (one tool_call_args event with all its arguments).
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

// Builds an Ollama provider (kind "ollama"). `endpoint` comes from base_url (default
// http://127.0.0.1:11434). Errors: a config option that is neither a number nor true/false.
Result<std::unique_ptr<Provider>> make_ollama(const ProviderConfig& config, Endpoint endpoint);

}  // namespace torii
