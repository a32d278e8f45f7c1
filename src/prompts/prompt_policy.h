#pragma once
// The prompt library as a policy (docs/PROMPTS.md). In on_request, after the quota policy and
// before the guardrails: reads and removes the body's `torii` field ({"context", "template",
// "variables"}), renders the route's context (its default, or the client's pick among the
// route's `contexts`) and the client's template (among the route's `templates`), and puts them
// into the request in the client's format (prompts/inject.h). Synchronous: on_request_now.
// Refusals, 400 in the client's shape: prompt_not_allowed (an id the route does not offer, a
// `torii` field on a route without prompts), prompt_variable_missing (a placeholder without a
// value), a `torii` field that is not {"context", "template", "variables"}.
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "pipeline/policy.h"

namespace torii {

struct Snapshot;

// Whether a config needs the policy: templates or contexts exist, or a route has `prompts:`.
bool prompts_configured(const Config& cfg);

// Built once the snapshot's routes and its prompt library (snap.prompts) are in place; keeps
// pointers into both. Errors: a route naming a context or template the library lacks.
Result<std::unique_ptr<Policy>> make_prompt_policy(const Snapshot& snap);

}  // namespace torii
