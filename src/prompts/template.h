#pragma once
// Prompt templates (docs/PROMPTS.md): text with {{placeholders}}. A text is parsed once, when a
// snapshot is built, into literal and placeholder pieces; a request renders it without parsing
// again. Values are inserted as text: a value holding "{{...}}" is not expanded.
//
// Placeholders (spaces inside the braces are allowed):
//   {{body.<path>}}              a string or number of the request body; a dotted path, a number
//                                indexes an array ({{body.messages.0.content}})
//   {{vars.<path>}}              shorthand for body.torii.variables.<path>
//   {{consumer.id}}              the caller's consumer id
//   {{consumer.metadata.<key>}}  a metadata label of the caller (the rest is the key)
//   {{model}}, {{route}}         the model the client asked for, the route that serves it
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "core/error.h"
#include "core/result.h"

namespace torii {

struct Snapshot;

namespace prompts {

// What placeholders read; any pointer may be null (its placeholders then resolve to nothing).
struct RenderInput {
  const boost::json::object* body = nullptr;       // {{body.*}}
  const boost::json::object* variables = nullptr;  // {{vars.*}}
  std::string_view consumer_id;                    // {{consumer.id}} ("" : nothing)
  const std::map<std::string, std::string>* metadata = nullptr;  // {{consumer.metadata.*}}
  std::string_view model, route;
};

class Template {
 public:
  enum class Root : uint8_t { body, vars, consumer_id, consumer_metadata, model, route };
  struct Placeholder {
    Root root = Root::body;
    std::vector<std::string> path;  // body and vars: the segments; consumer_metadata: the key
    std::string name;               // as written, without braces and spaces: "vars.text"
  };

  Template() = default;

  // Errors (a load error, a 400 invalid_request_error): "{{" without "}}", an empty
  // placeholder, an unknown root, a root without its path; the message quotes the placeholder.
  static Result<Template> parse(std::string_view text);

  // The text with every placeholder replaced. A placeholder that resolves to nothing (absent,
  // null, an object, an array or a boolean) is a 400 prompt_variable_missing whose param names
  // it (torii.variables.<path> for vars, the body path for body, the placeholder otherwise).
  Result<std::string> render(const RenderInput& in) const;

  bool empty() const { return pieces_.empty(); }
  const std::vector<Placeholder>& placeholders() const { return placeholders_; }

 private:
  struct Piece {
    std::string literal;  // copied as is when placeholder < 0
    int placeholder = -1;  // index in placeholders_
  };
  std::vector<Piece> pieces_;
  std::vector<Placeholder> placeholders_;
};

// The library of a snapshot: every template and context of `prompts:`, parsed.
struct LibraryTemplate {
  std::string id;
  PromptRole role = PromptRole::user;
  Template text;
};
struct LibraryMessage {
  PromptRole role = PromptRole::user;
  Template content;
};
struct LibraryContext {
  std::string id;
  Template system;  // empty: none
  std::vector<LibraryMessage> pre, post;
};

class Library {
 public:
  // Errors name the entry: "prompts.templates[summarize].text: unknown placeholder ...".
  static Result<std::shared_ptr<const Library>> build(const PromptsConfig& cfg);
  const LibraryTemplate* find_template(std::string_view id) const;
  const LibraryContext* find_context(std::string_view id) const;
  bool empty() const { return templates_.empty() && contexts_.empty(); }

 private:
  std::vector<LibraryTemplate> templates_;
  std::vector<LibraryContext> contexts_;
};

// For other policies (the guardrails' llm_judge): the template `id` of the snapshot's library,
// rendered with `in` (put the extra variables, e.g. {"text": ...}, in in.variables: the
// template reads them as {{vars.text}}). Errors: 404 not_found when the snapshot has no such
// template, else render's.
Result<std::string> render_library_template(const Snapshot& snap, std::string_view id,
                                            const RenderInput& in);

}  // namespace prompts
}  // namespace torii
