#pragma once
// Where a rendered context and template go in a request body, for each inbound API
// (docs/PROMPTS.md, "Where the texts go"):
//   system text  before the client's system prompt (joined with a blank line; a block or part
//                of its own when the client's is a list);
//   pre          after the system prompt, before the conversation;
//   template     after the conversation (its role);
//   post         after everything.
// OpenAI chat: `messages` (system = a leading "system" or "developer" message). Anthropic
// Messages: `system` and `messages` (a system template joins `system`). OpenAI Responses:
// `instructions` and `input` (a string becomes one user item). Legacy completions: `prompt`
// (system, pre, prompt, template, post joined by blank lines; each prompt of a list).
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "core/result.h"
#include "pipeline/request_context.h"

namespace torii::prompts {

struct RenderedMessage {
  PromptRole role = PromptRole::user;
  std::string content;
};

// What a context and a template rendered to for one request.
struct Rendered {
  std::string system;  // "" : none
  std::vector<RenderedMessage> pre, post;
  std::optional<RenderedMessage> last;  // the template
  bool empty() const { return system.empty() && pre.empty() && post.empty() && !last; }
};

// Puts `r` into `body` (a request of inbound API `api`, already checked by its codec; new values
// are allocated from body.storage()). Errors are 400s naming the field: a conversation still
// empty afterwards, a completions prompt of token ids.
Result<void> inject(InboundApi api, boost::json::object& body, const Rendered& r);

}  // namespace torii::prompts
