// The Anthropic Messages inbound codec: request checks and the decode into the canonical model.
// The encoders (whole answer, SSE stream) are in anthropic_messages_encode.cpp.
#include "api/anthropic_messages.h"

#include <array>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace torii {
namespace json = boost::json;

namespace {

ApiError field_error(std::string field, std::string what) {
  std::string msg = "'" + field + "' " + what;
  return ApiError::invalid_request(std::move(msg), std::move(field));
}

// A field without a counterpart in the canonical model, so no non-Anthropic provider can take
// it (the request reaches to_canonical only when the target does not speak Anthropic).
ApiError no_counterpart(std::string field, std::string_view what) {
  std::string msg = "'" + field + "' (" + std::string(what) +
                    ") has no counterpart outside Anthropic providers";
  return ApiError::invalid_request(std::move(msg), std::move(field));
}

bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }
bool present(const json::value* v) { return v && !v->is_null(); }

std::string_view str_or_empty(const json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// A string field that must be there.
Result<std::string_view> required_string(const json::object& o, std::string_view key,
                                         const std::string& at) {
  auto v = o.if_contains(key);
  if (!v || !v->is_string()) return field_error(at + "." + std::string(key), "must be a string");
  return std::string_view(v->get_string());
}

Result<void> check_blocks(const json::value& content, const std::string& at) {
  if (content.is_string()) return {};
  if (!content.is_array()) return field_error(at, "must be a string or an array of content blocks");
  const auto& arr = content.get_array();
  for (std::size_t j = 0; j < arr.size(); ++j) {
    std::string bat = at + "[" + std::to_string(j) + "]";
    if (!arr[j].is_object()) return field_error(bat, "must be an object");
    auto t = arr[j].get_object().if_contains("type");
    if (!t || !t->is_string()) return field_error(bat + ".type", "must be a string");
  }
  return {};
}

// `allow_empty`: the request names a prompt template, which becomes its message.
Result<void> check_messages(const json::value& v, bool allow_empty = false) {
  if (!v.is_array()) return field_error("messages", "must be an array of messages");
  const auto& arr = v.get_array();
  if (arr.empty() && !allow_empty)
    return field_error("messages", "must contain at least one message");
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string at = "messages[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) return field_error(at, "must be an object");
    const auto& m = arr[i].get_object();
    auto role = m.if_contains("role");
    if (!role || !role->is_string() ||
        (role->get_string() != "user" && role->get_string() != "assistant"))
      return field_error(at + ".role", "must be \"user\" or \"assistant\"");
    auto content = m.if_contains("content");
    if (!content) return field_error(at + ".content", "is required");
    if (auto r = check_blocks(*content, at + ".content"); !r) return r;
  }
  return {};
}

bool has_cache_control(const json::object& b) {
  auto cc = b.if_contains("cache_control");
  return cc && cc->is_object();
}

// image / document "source": base64 {media_type, data} or url {url}.
Result<void> media_source(const json::object& block, const std::string& at, Part& p) {
  auto src = block.if_contains("source");
  if (!src || !src->is_object()) return field_error(at + ".source", "must be an object");
  const auto& s = src->get_object();
  std::string_view type = str_or_empty(s, "type");
  if (type == "base64") {
    auto mt = required_string(s, "media_type", at + ".source");
    if (!mt) return mt.error();
    auto data = required_string(s, "data", at + ".source");
    if (!data) return data.error();
    p.media_type = std::string(*mt);
    p.data = std::string(*data);
    return {};
  }
  if (type == "url") {
    auto url = required_string(s, "url", at + ".source");
    if (!url) return url.error();
    p.url = std::string(*url);
    return {};
  }
  if (type == "file") return no_counterpart(at + ".source", "a Files API file_id");
  return field_error(at + ".source.type", "must be \"base64\" or \"url\"");
}

// Appends the canonical part(s) of one non-tool_result block.
Result<void> append_block(const json::object& b, const std::string& at, Role role,
                          std::vector<Part>& out) {
  std::string_view type = str_or_empty(b, "type");
  bool assistant_only = type == "tool_use" || type == "thinking" || type == "redacted_thinking";
  if (assistant_only && role != Role::assistant)
    return field_error(at + ".type", "'" + std::string(type) + "' is only valid in assistant messages");
  Part p;
  p.cache_hint = has_cache_control(b);
  if (type == "text") {
    auto t = required_string(b, "text", at);
    if (!t) return t.error();
    p.text = std::string(*t);
  } else if (type == "image") {
    p.kind = Part::Kind::image;
    if (auto r = media_source(b, at, p); !r) return r;
  } else if (type == "document") {
    auto src = b.if_contains("source");
    std::string_view stype =
        src && src->is_object() ? str_or_empty(src->get_object(), "type") : std::string_view();
    if (stype == "text") {  // plain text: its text is the content
      auto t = required_string(src->get_object(), "data", at + ".source");
      if (!t) return t.error();
      p.text = std::string(*t);
    } else if (stype == "content") {  // a list of text blocks
      auto c = src->get_object().if_contains("content");
      if (c && c->is_string()) {
        p.text = std::string(c->get_string());
      } else if (c && c->is_array()) {
        const auto& arr = c->get_array();
        for (std::size_t k = 0; k < arr.size(); ++k) {
          std::string kat = at + ".source.content[" + std::to_string(k) + "]";
          if (!arr[k].is_object()) return field_error(kat, "must be an object");
          if (auto r = append_block(arr[k].get_object(), kat, role, out); !r) return r;
        }
        return {};
      } else {
        return field_error(at + ".source.content", "must be a string or an array of blocks");
      }
    } else {
      p.kind = Part::Kind::document;
      if (auto r = media_source(b, at, p); !r) return r;
      p.text = std::string(str_or_empty(b, "title"));
    }
  } else if (type == "thinking") {
    p.kind = Part::Kind::thinking;
    auto t = required_string(b, "thinking", at);
    if (!t) return t.error();
    p.text = std::string(*t);
    p.signature = std::string(str_or_empty(b, "signature"));
  } else if (type == "redacted_thinking") {
    p.kind = Part::Kind::redacted_thinking;
    auto d = required_string(b, "data", at);
    if (!d) return d.error();
    p.data = std::string(*d);
  } else if (type == "tool_use") {
    p.kind = Part::Kind::tool_call;
    auto id = required_string(b, "id", at);
    if (!id) return id.error();
    auto name = required_string(b, "name", at);
    if (!name) return name.error();
    p.id = std::string(*id);
    p.name = std::string(*name);
    auto input = b.if_contains("input");
    if (present(input) && !input->is_object()) return field_error(at + ".input", "must be an object");
    p.arguments = present(input) ? json::serialize(*input) : std::string("{}");
  } else {
    return no_counterpart(at, "content block type '" + std::string(type) + "'");
  }
  out.push_back(std::move(p));
  return {};
}

Result<void> tool_result_part(const json::object& b, const std::string& at, Part& p) {
  p.kind = Part::Kind::tool_result;
  p.cache_hint = has_cache_control(b);
  auto id = required_string(b, "tool_use_id", at);
  if (!id) return id.error();
  p.id = std::string(*id);
  if (auto e = b.if_contains("is_error"); present(e)) {
    if (!e->is_bool()) return field_error(at + ".is_error", "must be a boolean");
    p.is_error = e->get_bool();
  }
  auto c = b.if_contains("content");
  if (!present(c)) return {};
  if (c->is_string()) {
    p.content.push_back(Part::make_text(std::string(c->get_string())));
    return {};
  }
  if (auto r = check_blocks(*c, at + ".content"); !r) return r;
  const auto& arr = c->get_array();
  for (std::size_t k = 0; k < arr.size(); ++k) {
    std::string kat = at + ".content[" + std::to_string(k) + "]";
    if (auto r = append_block(arr[k].get_object(), kat, Role::user, p.content); !r) return r;
  }
  return {};
}

// One Anthropic message → one canonical message; a user message's tool_result blocks become
// a `tool` message placed before the rest of its content (Anthropic puts results first).
Result<void> convert_message(const json::object& m, std::size_t i, std::vector<Message>& out) {
  std::string at = "messages[" + std::to_string(i) + "]";
  Role role = m.at("role").get_string() == "assistant" ? Role::assistant : Role::user;
  const json::value& content = m.at("content");
  Message msg;
  msg.role = role;
  if (content.is_string()) {
    msg.parts.push_back(Part::make_text(std::string(content.get_string())));
    out.push_back(std::move(msg));
    return {};
  }
  Message tools;
  tools.role = Role::tool;
  const auto& arr = content.get_array();
  for (std::size_t j = 0; j < arr.size(); ++j) {
    std::string bat = at + ".content[" + std::to_string(j) + "]";
    const auto& b = arr[j].get_object();
    if (b.at("type").get_string() == "tool_result") {
      if (role != Role::user)
        return field_error(bat + ".type", "'tool_result' is only valid in user messages");
      Part p;
      if (auto r = tool_result_part(b, bat, p); !r) return r;
      tools.parts.push_back(std::move(p));
      continue;
    }
    if (auto r = append_block(b, bat, role, msg.parts); !r) return r;
  }
  bool only_tools = !tools.parts.empty() && msg.parts.empty();
  if (!tools.parts.empty()) out.push_back(std::move(tools));
  if (!only_tools) out.push_back(std::move(msg));
  return {};
}

Result<void> convert_system(const json::value& v, std::vector<Message>& out) {
  Message sys;
  sys.role = Role::system;
  if (v.is_string()) {
    sys.parts.push_back(Part::make_text(std::string(v.get_string())));
  } else if (v.is_array()) {
    const auto& arr = v.get_array();
    for (std::size_t k = 0; k < arr.size(); ++k) {
      std::string at = "system[" + std::to_string(k) + "]";
      if (!arr[k].is_object() || str_or_empty(arr[k].get_object(), "type") != "text")
        return field_error(at, "must be a text block");
      const auto& b = arr[k].get_object();
      auto t = required_string(b, "text", at);
      if (!t) return t.error();
      Part p = Part::make_text(std::string(*t));
      p.cache_hint = has_cache_control(b);
      sys.parts.push_back(std::move(p));
    }
  } else {
    return field_error("system", "must be a string or an array of text blocks");
  }
  if (!sys.parts.empty()) out.push_back(std::move(sys));
  return {};
}

Result<void> convert_tools(const json::value& v, std::vector<Tool>& out) {
  if (!v.is_array()) return field_error("tools", "must be an array");
  const auto& arr = v.get_array();
  for (std::size_t k = 0; k < arr.size(); ++k) {
    std::string at = "tools[" + std::to_string(k) + "]";
    if (!arr[k].is_object()) return field_error(at, "must be an object");
    const auto& t = arr[k].get_object();
    std::string_view type = str_or_empty(t, "type");
    if (!type.empty() && type != "custom")
      return no_counterpart(at, "server tool '" + std::string(type) + "'");
    Tool tool;
    auto name = required_string(t, "name", at);
    if (!name) return name.error();
    tool.name = std::string(*name);
    if (auto d = t.if_contains("description"); present(d)) {
      if (!d->is_string()) return field_error(at + ".description", "must be a string");
      tool.description = std::string(d->get_string());
    }
    auto schema = t.if_contains("input_schema");
    if (!schema || !schema->is_object()) return field_error(at + ".input_schema", "must be an object");
    tool.parameters = json::value(*schema, json::storage_ptr());  // out of the request's arena
    if (auto s = t.if_contains("strict"); s && s->is_bool()) tool.strict = s->get_bool();
    out.push_back(std::move(tool));
  }
  return {};
}

Result<void> convert_tool_choice(const json::object& tc, ChatRequest& out) {
  std::string_view type = str_or_empty(tc, "type");
  if (type == "auto") out.tool_choice.mode = ToolChoice::Mode::auto_;
  else if (type == "any") out.tool_choice.mode = ToolChoice::Mode::required;
  else if (type == "none") out.tool_choice.mode = ToolChoice::Mode::none;
  else if (type == "tool") {
    auto name = required_string(tc, "name", "tool_choice");
    if (!name) return name.error();
    out.tool_choice.mode = ToolChoice::Mode::tool;
    out.tool_choice.name = std::string(*name);
  } else {
    return field_error("tool_choice.type", "must be one of \"auto\", \"any\", \"tool\", \"none\"");
  }
  if (auto d = tc.if_contains("disable_parallel_tool_use"); present(d)) {
    if (!d->is_bool()) return field_error("tool_choice.disable_parallel_tool_use", "must be a boolean");
    out.parallel_tool_calls = !d->get_bool();
  }
  return {};
}

Result<void> convert_thinking(const json::object& th, ChatRequest& out) {
  std::string_view type = str_or_empty(th, "type");
  if (type == "enabled") {
    auto b = th.if_contains("budget_tokens");
    if (!b || !is_integer(*b) || (b->is_int64() && b->get_int64() < 0))
      return field_error("thinking.budget_tokens", "must be a non-negative integer");
    out.thinking_budget = b->is_int64() ? b->get_int64() : static_cast<int64_t>(b->get_uint64());
  } else if (type == "disabled") {
    out.thinking_budget = 0;
  } else if (type == "adaptive" || type == "between_tools") {
    // Thinking on, its budget left to the model: the closest canonical hint is an effort.
    if (out.reasoning_effort.empty()) out.reasoning_effort = "medium";
  } else {
    return field_error("thinking.type", "must be \"enabled\", \"disabled\" or \"adaptive\"");
  }
  return {};
}

Result<void> convert_output_config(const json::value& v, ChatRequest& out) {
  if (!v.is_object()) return field_error("output_config", "must be an object");
  const auto& oc = v.get_object();
  if (auto e = oc.if_contains("effort"); present(e)) {
    if (!e->is_string()) return field_error("output_config.effort", "must be a string");
    std::string_view effort = e->get_string();
    if (effort == "low" || effort == "medium" || effort == "high") out.reasoning_effort = effort;
    else if (effort == "xhigh" || effort == "max") out.reasoning_effort = "high";
    else return field_error("output_config.effort", "must be low, medium, high, xhigh or max");
  }
  if (auto f = oc.if_contains("format"); present(f)) {
    if (!f->is_object() || str_or_empty(f->get_object(), "type") != "json_schema")
      return field_error("output_config.format", "must be {\"type\":\"json_schema\",\"schema\":{…}}");
    auto schema = f->get_object().if_contains("schema");
    if (!schema || !schema->is_object())
      return field_error("output_config.format.schema", "must be an object");
    out.response_format.kind = ResponseFormat::Kind::json_schema;
    out.response_format.name = "output";
    out.response_format.schema = json::value(*schema, json::storage_ptr());
  }
  return {};
}

constexpr std::array<std::string_view, 14> kKnownFields = {
    "model",    "messages",      "max_tokens",  "system", "stream", "tools", "tool_choice",
    "metadata", "stop_sequences", "temperature", "top_p",  "top_k",  "thinking",
    "output_config"};

class AnthropicMessagesCodec final : public InboundCodec {
 public:
  WireFormat format() const override { return WireFormat::anthropic_messages; }

  Result<InboundInfo> parse(std::string_view body, json::object& raw) const override {
    return parse_anthropic_request(body, raw, true);
  }

  Result<void> to_canonical(const json::object& raw, ChatRequest& out) const override {
    for (const auto& kv : raw) {
      bool known = false;
      for (auto k : kKnownFields) known = known || kv.key() == k;
      if (!known) out.unknown_fields.emplace_back(kv.key());
    }
    if (auto m = raw.if_contains("model"); m && m->is_string()) out.model = std::string(m->get_string());
    if (auto s = raw.if_contains("stream"); s && s->is_bool()) out.stream = s->get_bool();
    out.include_usage = out.stream;
    if (auto mt = raw.if_contains("max_tokens"); mt && mt->is_int64()) out.max_tokens = mt->get_int64();
    if (auto s = raw.if_contains("system"); present(s))
      if (auto r = convert_system(*s, out.messages); !r) return r;
    auto msgs = raw.if_contains("messages");
    if (!msgs || !msgs->is_array()) return field_error("messages", "must be an array of messages");
    if (auto r = check_messages(*msgs); !r) return r;  // to_canonical may run without parse
    const auto& arr = msgs->get_array();
    for (std::size_t i = 0; i < arr.size(); ++i)
      if (auto r = convert_message(arr[i].get_object(), i, out.messages); !r) return r;
    if (auto t = raw.if_contains("tools"); present(t))
      if (auto r = convert_tools(*t, out.tools); !r) return r;
    if (auto tc = raw.if_contains("tool_choice"); present(tc)) {
      if (!tc->is_object()) return field_error("tool_choice", "must be an object");
      if (auto r = convert_tool_choice(tc->get_object(), out); !r) return r;
    }
    if (auto ss = raw.if_contains("stop_sequences"); present(ss)) {
      if (!ss->is_array()) return field_error("stop_sequences", "must be an array of strings");
      for (const auto& s : ss->get_array()) {
        if (!s.is_string()) return field_error("stop_sequences", "must be an array of strings");
        out.stop.emplace_back(s.get_string());
      }
    }
    if (auto t = raw.if_contains("temperature"); present(t) && t->is_number())
      out.temperature = t->to_number<double>();
    if (auto t = raw.if_contains("top_p"); present(t) && t->is_number()) out.top_p = t->to_number<double>();
    if (auto t = raw.if_contains("top_k"); present(t) && t->is_int64()) out.top_k = t->get_int64();
    if (auto o = raw.if_contains("output_config"); present(o))
      if (auto r = convert_output_config(*o, out); !r) return r;
    if (auto th = raw.if_contains("thinking"); present(th)) {
      if (!th->is_object()) return field_error("thinking", "must be an object");
      if (auto r = convert_thinking(th->get_object(), out); !r) return r;
    }
    if (auto md = raw.if_contains("metadata"); present(md) && md->is_object())
      out.user = std::string(str_or_empty(md->get_object(), "user_id"));
    return {};
  }

  std::string encode_result(const ChatResult& result) const override {
    return encode_anthropic_message(result);
  }

  std::unique_ptr<StreamEncoder> stream_encoder(const InboundInfo& info) const override {
    return make_anthropic_stream_encoder(info);
  }

  std::string error_body(const ApiError& e) const override { return to_anthropic_json(e); }
};

}  // namespace

Result<InboundInfo> parse_anthropic_request(std::string_view body, json::object& raw,
                                            bool require_max_tokens) {
  if (body.empty()) return ApiError::invalid_request("request body is empty; expected a JSON object");
  json::parse_options opt;
  opt.max_depth = 64;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, raw.storage(), opt);
  if (ec) return ApiError::invalid_request("request body is not valid JSON: " + ec.message());
  if (!v.is_object()) return ApiError::invalid_request("request body must be a JSON object");
  raw = std::move(v.get_object());

  InboundInfo info;
  info.include_usage = true;
  auto model = raw.if_contains("model");
  if (!model) return field_error("model", "is required");
  if (!model->is_string() || model->get_string().empty())
    return field_error("model", "must be a non-empty string");
  info.model = std::string(model->get_string());

  auto mt = raw.if_contains("max_tokens");
  if (!present(mt)) {
    if (require_max_tokens) return field_error("max_tokens", "is required");
  } else if (!is_integer(*mt) || (mt->is_int64() && mt->get_int64() < 1)) {
    return field_error("max_tokens", "must be an integer >= 1");
  }
  auto messages = raw.if_contains("messages");
  if (!messages) return field_error("messages", "is required");
  if (auto r = check_messages(*messages, names_prompt_template(raw)); !r) return r.error();

  if (auto s = raw.if_contains("stream"); present(s)) {
    if (!s->is_bool()) return field_error("stream", "must be a boolean");
    info.stream = s->get_bool();
  }
  if (auto s = raw.if_contains("system"); present(s) && !s->is_string() && !s->is_array())
    return field_error("system", "must be a string or an array of text blocks");
  for (const char* f : {"temperature", "top_p"})
    if (auto x = raw.if_contains(f); present(x) && !x->is_number()) return field_error(f, "must be a number");
  if (auto x = raw.if_contains("top_k"); present(x) && !is_integer(*x))
    return field_error("top_k", "must be an integer");
  if (auto ss = raw.if_contains("stop_sequences"); present(ss)) {
    if (!ss->is_array()) return field_error("stop_sequences", "must be an array of strings");
    for (const auto& s : ss->get_array())
      if (!s.is_string()) return field_error("stop_sequences", "must be an array of strings");
  }
  if (auto t = raw.if_contains("tools"); present(t) && !t->is_array())
    return field_error("tools", "must be an array");
  for (const char* f : {"tool_choice", "thinking"}) {
    auto x = raw.if_contains(f);
    if (!present(x)) continue;
    if (!x->is_object()) return field_error(f, "must be an object");
    auto t = x->get_object().if_contains("type");
    if (!t || !t->is_string()) return field_error(std::string(f) + ".type", "must be a string");
  }
  if (auto md = raw.if_contains("metadata"); present(md)) {
    if (!md->is_object()) return field_error("metadata", "must be an object");
    if (auto u = md->get_object().if_contains("user_id"); present(u) && !u->is_string())
      return field_error("metadata.user_id", "must be a string");
  }
  return info;
}

std::string_view anthropic_stop_reason(FinishReason finish, std::string_view native,
                                       bool has_stop_sequence) {
  static constexpr std::array<std::string_view, 7> kAnthropic = {
      "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
      "model_context_window_exceeded"};
  for (auto r : kAnthropic)
    if (native == r) return r;
  switch (finish) {
    case FinishReason::stop: return has_stop_sequence ? "stop_sequence" : "end_turn";
    case FinishReason::length: return "max_tokens";
    case FinishReason::tool_calls: return "tool_use";
    case FinishReason::content_filter: return "refusal";
    default: return has_stop_sequence ? "stop_sequence" : "end_turn";
  }
}

const InboundCodec& anthropic_messages_codec() {
  static const AnthropicMessagesCodec codec;
  return codec;
}

}  // namespace torii
