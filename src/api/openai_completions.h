#pragma once
// The legacy OpenAI completions inbound API (POST /v1/completions): prompt in, text out.
//
// Translated path (the provider does not speak completions): the prompt becomes one user
// message of a chat request, and the chat answer's text comes back as choices[0].text.
//   prompt: a string, or an array holding exactly one string. An array of several prompts is
//     a 400 naming `prompt` (OpenAI answers one choice per prompt; torii translates one
//     request to one chat call and does not fan out: send one request per prompt). Token-id
//     prompts (arrays of integers) are a 400 too: a chat provider takes text.
//   max_tokens: defaults to 16, as OpenAI's completions API does.
//   temperature, top_p, stop, presence_penalty, frequency_penalty, seed, user: translated.
//   n > 1, best_of > 1, echo, suffix, logprobs: a 400 naming the field (they change what the
//     answer means and a chat provider has no counterpart).
//   logit_bias and other fields: hints, listed in ChatRequest::unknown_fields.
// A provider that speaks completions natively (passthrough) gets the client's JSON as sent,
// so all of the above (several prompts, n, echo, logprobs…) work there.
//
// Answers: {id "cmpl-…", object "text_completion", created, model, choices: [{text, index 0,
// logprobs null, finish_reason}], usage}. Streams: "data: {object text_completion, choices:
// [{text…}]}" chunks, a last chunk with the finish_reason, a usage chunk (choices []) only
// when the client set stream_options.include_usage, then "data: [DONE]".
#include "api/inbound.h"

namespace torii {

// The completion id for an upstream answer id: "cmpl-…" kept, "chatcmpl-X" → "cmpl-X",
// anything else prefixed with "cmpl-" (random when empty).
std::string completions_id(std::string_view upstream_id);

}  // namespace torii
