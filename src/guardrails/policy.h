#pragma once
// The guardrail policy: runs the configured checks (guardrail.h) on a request's texts in
// on_request (phase before) and on the answer in on_response or, for streams, through a
// StreamFilter (phase after). See docs/GUARDRAILS.md.
//
//  - Texts: every message text part, system prompts (OpenAI system/developer messages,
//    Anthropic `system`, Responses `instructions`), tool-call arguments, tool results, the
//    legacy `prompt`; in answers, the text and tool-call arguments. Images and other binary
//    parts are not read.
//  - Order: the configured order. A deny stops the phase; a redaction rewrites the texts the
//    next checks read and what goes upstream (or to the client). Remote checks run after the
//    local ones of the phase (cheap first) when the config lists them so.
//  - Outcome: a deny answers 400 `guardrail_denied` naming the guardrail and a reason (never
//    the detected text), or, with on_deny: refusal, a 200 assistant message with the refusal
//    text (finish content_filter), streamed when the client asked for a stream.
//  - Streams: the answer's text is held back by guardrails.stream_holdback bytes and scanned
//    over a window that overlaps what was already sent, so a match split across chunks is
//    seen whole before any of it is sent; redaction rewrites text not yet sent. A deny stops
//    the stream with the format's error event. Checks that need the whole answer (remote
//    ones, response_schema) hold the whole stream until its end.
#include <memory>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "guardrails/guardrail.h"
#include "pipeline/policy.h"

namespace torii {

// Builds the policy from `snapshot.config.guardrails` (the snapshot under construction: its
// providers and routes exist). Errors name the guardrail (a bad pattern or schema).
Result<std::unique_ptr<Policy>> make_guardrail_policy(const Snapshot& snapshot);

}  // namespace torii
