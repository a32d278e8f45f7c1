// Rendered contexts and templates into request bodies (see inject.h).
#include "prompts/inject.h"

#include <boost/json/array.hpp>

namespace torii::prompts {

namespace json = boost::json;

namespace {

ApiError field_error(std::string field, std::string what) {
  std::string msg = "'" + field + "' " + what;
  return ApiError::invalid_request(std::move(msg), std::move(field));
}

std::string_view role_name(PromptRole r) {
  switch (r) {
    case PromptRole::assistant: return "assistant";
    case PromptRole::system: return "system";
    default: return "user";
  }
}

json::value message(PromptRole role, std::string_view content, const json::storage_ptr& sp) {
  json::object o(sp);
  o.emplace("role", role_name(role));
  o.emplace("content", content);
  return o;
}

json::value text_block(std::string_view text, const json::storage_ptr& sp) {
  json::object o(sp);
  o.emplace("type", "text");
  o.emplace("text", text);
  return o;
}

// `a` and `b` joined by a blank line (either may be empty).
std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!a.empty() && !b.empty()) out += "\n\n";
  out += b;
  return out;
}

// Puts `text` before (or after) a content value: a string (joined by a blank line), a list of
// parts or blocks (a text part of its own), or null (replaced).
void add_text(json::value& content, std::string_view text, bool before) {
  if (content.is_string()) {
    const std::string s(content.get_string());
    content = before ? join(text, s) : join(s, text);
  } else if (content.is_array()) {
    json::array& a = content.get_array();
    json::value block = text_block(text, a.storage());
    if (before) a.insert(a.begin(), std::move(block));
    else a.push_back(std::move(block));
  } else {
    content = text;
  }
}

// The body's member `key` as an array; an absent or null one becomes [].
json::array* array_member(json::object& body, std::string_view key) {
  json::value& v = body[key];
  if (v.is_null()) v = json::array(body.storage());
  return v.is_array() ? &v.get_array() : nullptr;
}

void insert_pre(json::array& list, std::size_t at, const Rendered& r) {
  for (const auto& m : r.pre)
    list.insert(list.begin() + static_cast<std::ptrdiff_t>(at++),
                message(m.role, m.content, list.storage()));
}

void append_post(json::array& list, const Rendered& r) {
  for (const auto& m : r.post) list.push_back(message(m.role, m.content, list.storage()));
}

bool is_system_message(const json::value& m) {
  if (!m.is_object()) return false;
  auto role = m.get_object().if_contains("role");
  return role && role->is_string() &&
         (role->get_string() == "system" || role->get_string() == "developer");
}

Result<void> openai_chat(json::object& body, const Rendered& r) {
  json::array* msgs = array_member(body, "messages");
  if (!msgs) return field_error("messages", "must be an array of messages");
  const auto& sp = msgs->storage();
  if (!r.system.empty()) {
    if (!msgs->empty() && is_system_message((*msgs)[0]))
      add_text((*msgs)[0].get_object()["content"], r.system, true);
    else
      msgs->insert(msgs->begin(), message(PromptRole::system, r.system, sp));
  }
  std::size_t at = 0;
  while (at < msgs->size() && is_system_message((*msgs)[at])) ++at;
  insert_pre(*msgs, at, r);
  if (r.last) msgs->push_back(message(r.last->role, r.last->content, sp));
  append_post(*msgs, r);
  if (msgs->empty()) return field_error("messages", "must contain at least one message");
  return {};
}

Result<void> anthropic(json::object& body, const Rendered& r) {
  if (!r.system.empty()) add_text(body["system"], r.system, true);
  if (r.last && r.last->role == PromptRole::system)
    add_text(body["system"], r.last->content, false);
  json::array* msgs = array_member(body, "messages");
  if (!msgs) return field_error("messages", "must be an array of messages");
  insert_pre(*msgs, 0, r);
  if (r.last && r.last->role != PromptRole::system)
    msgs->push_back(message(r.last->role, r.last->content, msgs->storage()));
  append_post(*msgs, r);
  if (msgs->empty()) return field_error("messages", "must contain at least one message");
  return {};
}

Result<void> responses(json::object& body, const Rendered& r) {
  if (!r.system.empty()) {
    json::value& ins = body["instructions"];
    if (!ins.is_string() && !ins.is_null()) return field_error("instructions", "must be a string");
    add_text(ins, r.system, true);
  }
  if (json::value* in = body.if_contains("input"); in && in->is_string()) {
    const std::string text(in->get_string());
    json::array items(body.storage());
    items.push_back(message(PromptRole::user, text, body.storage()));
    *in = std::move(items);
  }
  json::array* input = array_member(body, "input");
  if (!input) return field_error("input", "must be a string or an array of input items");
  insert_pre(*input, 0, r);
  if (r.last) input->push_back(message(r.last->role, r.last->content, input->storage()));
  append_post(*input, r);
  if (input->empty()) return field_error("input", "must contain at least one input item");
  return {};
}

Result<void> completions(json::object& body, const Rendered& r) {
  auto wrap = [&](std::string_view prompt) {
    std::string out = r.system;
    for (const auto& m : r.pre) out = join(out, m.content);
    out = join(out, prompt);
    if (r.last) out = join(out, r.last->content);
    for (const auto& m : r.post) out = join(out, m.content);
    return out;
  };
  json::value& p = body["prompt"];
  if (p.is_null()) p = wrap({});
  else if (p.is_string()) p = wrap(std::string(p.get_string()));
  else if (p.is_array() && p.get_array().empty()) p.get_array().emplace_back(wrap({}));
  else if (p.is_array()) {
    for (auto& x : p.get_array())
      if (!x.is_string())
        return field_error("prompt", "must be text (a string or strings) to take a prompt "
                                     "context or template, not token ids");
    for (auto& x : p.get_array()) x = wrap(std::string(x.get_string()));
  } else {
    return field_error("prompt", "must be a string or an array");
  }
  return {};
}

}  // namespace

Result<void> inject(InboundApi api, json::object& body, const Rendered& r) {
  switch (api) {
    case InboundApi::openai_chat: return openai_chat(body, r);
    case InboundApi::anthropic_messages:
    case InboundApi::anthropic_count_tokens: return anthropic(body, r);
    case InboundApi::openai_responses: return responses(body, r);
    case InboundApi::openai_completions: return completions(body, r);
    default: return ApiError::invalid_request("this API takes no prompt context or template");
  }
}

}  // namespace torii::prompts
