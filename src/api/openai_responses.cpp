#include "api/openai_responses.h"

#include <optional>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/openai_responses_output.h"
#include "core/request_id.h"

namespace torii {
namespace json = boost::json;

std::string responses_id(std::string_view upstream_id) {
  if (upstream_id.starts_with("resp_")) return std::string(upstream_id);
  if (upstream_id.empty()) return "resp_" + request_id_for({});
  std::string id = "resp_";
  id.append(upstream_id);
  return id;
}

namespace {

using responses_output::field_error;
using responses_output::str_or_empty;

// Keys of the request the translation reads; any other key is a hint without counterpart.
constexpr std::string_view kKnownKeys[] = {
    "model", "input", "instructions", "stream", "stream_options", "tools", "tool_choice", "text",
    "max_output_tokens", "temperature", "top_p", "top_logprobs", "reasoning",
    "parallel_tool_calls", "user", "safety_identifier", "previous_response_id", "conversation",
    "prompt", "background"};

bool known_key(std::string_view k) {
  for (auto known : kKnownKeys)
    if (k == known) return true;
  return false;
}

bool present(const json::value* v) { return v && !v->is_null(); }

// The integer in `v`, or nullopt when it is not an integer that fits (never throws).
std::optional<int64_t> as_int(const json::value& v) {
  boost::system::error_code ec;
  auto n = v.to_number<int64_t>(ec);
  if (ec || v.is_double()) return std::nullopt;
  return n;
}

// "data:<media>;base64,<data>" → media_type + data. False when `url` is not such a URL.
bool split_data_url(std::string_view url, Part& p) {
  if (!url.starts_with("data:")) return false;
  auto comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  std::string_view meta = url.substr(5, comma - 5);
  if (auto semi = meta.find(';'); semi != std::string_view::npos) meta = meta.substr(0, semi);
  p.media_type = std::string(meta);
  p.data = std::string(url.substr(comma + 1));
  return true;
}

// One content part of an input message or of a function_call_output's array.
Result<void> decode_part(const json::value& v, const std::string& at, std::vector<Part>& parts) {
  if (!v.is_object()) return field_error(at, "must be an object");
  const auto& o = v.get_object();
  std::string_view type = str_or_empty(o.if_contains("type"));
  if (type == "input_text" || type == "output_text" || type == "text") {
    auto t = o.if_contains("text");
    if (!t || !t->is_string()) return field_error(at + ".text", "must be a string");
    parts.push_back(Part::make_text(std::string(t->get_string())));
    return {};
  }
  if (type == "refusal") {
    parts.push_back(Part::make_text(std::string(str_or_empty(o.if_contains("refusal")))));
    return {};
  }
  if (type == "input_image") {
    if (present(o.if_contains("file_id")))
      return field_error(at + ".file_id",
                         "is not supported: torii stores no files; send image_url (a URL or a "
                         "data: URL) instead");
    auto url = o.if_contains("image_url");
    if (!url || !url->is_string() || url->get_string().empty())
      return field_error(at + ".image_url", "must be a non-empty string");
    Part p;
    p.kind = Part::Kind::image;
    std::string_view u = url->get_string();
    if (!split_data_url(u, p)) p.url = std::string(u);
    p.detail = std::string(str_or_empty(o.if_contains("detail")));
    parts.push_back(std::move(p));
    return {};
  }
  if (type == "input_file") {
    if (present(o.if_contains("file_id")))
      return field_error(at + ".file_id",
                         "is not supported: torii stores no files; send file_data (a data: URL) "
                         "or file_url instead");
    Part p;
    p.kind = Part::Kind::document;
    p.text = std::string(str_or_empty(o.if_contains("filename")));
    if (auto d = o.if_contains("file_data"); d && d->is_string() && !d->get_string().empty()) {
      std::string_view data = d->get_string();
      if (!split_data_url(data, p)) {  // bare base64: OpenAI's file inputs are PDFs
        p.media_type = "application/pdf";
        p.data = std::string(data);
      }
    } else if (auto u = o.if_contains("file_url"); u && u->is_string() && !u->get_string().empty()) {
      p.url = std::string(u->get_string());
    } else {
      return field_error(at, "needs file_data or file_url");
    }
    parts.push_back(std::move(p));
    return {};
  }
  if (type.empty()) return field_error(at + ".type", "is required");
  return field_error(at + ".type", "'" + std::string(type) + "' is not supported");
}

Result<void> decode_content(const json::value* content, const std::string& at,
                            std::vector<Part>& parts) {
  if (!content || content->is_null()) return {};
  if (content->is_string()) {
    parts.push_back(Part::make_text(std::string(content->get_string())));
    return {};
  }
  if (!content->is_array()) return field_error(at, "must be a string or an array of parts");
  const auto& arr = content->get_array();
  for (std::size_t j = 0; j < arr.size(); ++j)
    if (auto r = decode_part(arr[j], at + "[" + std::to_string(j) + "]", parts); !r) return r;
  return {};
}

// The assistant message an output item (reasoning, function_call, assistant message) joins:
// the previous message when it is the assistant's, so one turn stays one message.
Message& assistant_turn(ChatRequest& out) {
  if (out.messages.empty() || out.messages.back().role != Role::assistant) {
    out.messages.emplace_back();
    out.messages.back().role = Role::assistant;
  }
  return out.messages.back();
}

Result<void> decode_item(const json::value& v, const std::string& at, ChatRequest& out) {
  if (!v.is_object()) return field_error(at, "must be an object");
  const auto& o = v.get_object();
  std::string_view type = str_or_empty(o.if_contains("type"));
  if (type.empty() || type == "message") {
    auto role_v = o.if_contains("role");
    if (!role_v || !role_v->is_string()) return field_error(at + ".role", "must be a string");
    std::string_view role = role_v->get_string();
    std::vector<Part> parts;
    if (auto r = decode_content(o.if_contains("content"), at + ".content", parts); !r) return r;
    if (role == "assistant") {
      auto& m = assistant_turn(out);
      for (auto& p : parts) m.parts.push_back(std::move(p));
      return {};
    }
    Message m;
    if (role == "user") m.role = Role::user;
    else if (role == "system" || role == "developer") m.role = Role::system;
    else return field_error(at + ".role", "must be user, assistant, system or developer");
    m.parts = std::move(parts);
    out.messages.push_back(std::move(m));
    return {};
  }
  if (type == "function_call") {
    auto call_id = o.if_contains("call_id");
    auto name = o.if_contains("name");
    if (!call_id || !call_id->is_string()) return field_error(at + ".call_id", "must be a string");
    if (!name || !name->is_string()) return field_error(at + ".name", "must be a string");
    Part p;
    p.kind = Part::Kind::tool_call;
    p.id = std::string(call_id->get_string());
    p.name = std::string(name->get_string());
    std::string_view args = str_or_empty(o.if_contains("arguments"));
    p.arguments = args.empty() ? std::string("{}") : std::string(args);
    assistant_turn(out).parts.push_back(std::move(p));
    return {};
  }
  if (type == "function_call_output") {
    auto call_id = o.if_contains("call_id");
    if (!call_id || !call_id->is_string()) return field_error(at + ".call_id", "must be a string");
    Part p;
    p.kind = Part::Kind::tool_result;
    p.id = std::string(call_id->get_string());
    auto output = o.if_contains("output");
    if (!output || (!output->is_string() && !output->is_array()))
      return field_error(at + ".output", "must be a string or an array of parts");
    if (auto r = decode_content(output, at + ".output", p.content); !r) return r;
    // Results that follow each other answer one assistant turn: one tool message.
    if (out.messages.empty() || out.messages.back().role != Role::tool) {
      out.messages.emplace_back();
      out.messages.back().role = Role::tool;
    }
    out.messages.back().parts.push_back(std::move(p));
    return {};
  }
  if (type == "reasoning") {
    std::string text;
    auto join = [&](const json::value* arr_v) {
      if (!arr_v || !arr_v->is_array()) return;
      for (const auto& s : arr_v->get_array()) {
        if (!s.is_object()) continue;
        std::string_view t = str_or_empty(s.get_object().if_contains("text"));
        if (t.empty()) continue;
        if (!text.empty()) text += "\n\n";
        text.append(t);
      }
    };
    join(o.if_contains("summary"));
    if (text.empty()) join(o.if_contains("content"));
    std::string_view enc = str_or_empty(o.if_contains("encrypted_content"));
    Part p;
    if (text.empty()) {
      if (enc.empty()) return {};  // nothing to carry
      p.kind = Part::Kind::redacted_thinking;
      p.data = std::string(enc);
    } else {
      p.kind = Part::Kind::thinking;
      p.text = std::move(text);
      p.signature = std::string(enc);
    }
    assistant_turn(out).parts.push_back(std::move(p));
    return {};
  }
  if (type == "item_reference")
    return field_error(at + ".type",
                       "'item_reference' is not supported: torii does not store responses; "
                       "send the full input");
  return field_error(at + ".type", "'" + std::string(type) +
                                       "' items are not supported when the provider does not "
                                       "speak the Responses API");
}

Result<void> decode_tools(const json::value& v, ChatRequest& out) {
  if (!v.is_array()) return field_error("tools", "must be an array");
  const auto& arr = v.get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string at = "tools[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) return field_error(at, "must be an object");
    const auto& t = arr[i].get_object();
    std::string_view type = str_or_empty(t.if_contains("type"));
    if (type != "function")
      return field_error(at + ".type",
                         "'" + std::string(type) +
                             "' is a built-in tool of OpenAI's Responses API; torii can "
                             "translate only function tools for this provider");
    auto name = t.if_contains("name");
    if (!name || !name->is_string() || name->get_string().empty())
      return field_error(at + ".name", "must be a non-empty string");
    Tool tool;
    tool.name = std::string(name->get_string());
    tool.description = std::string(str_or_empty(t.if_contains("description")));
    if (auto p = t.if_contains("parameters"); present(p)) {
      if (!p->is_object()) return field_error(at + ".parameters", "must be an object");
      tool.parameters = *p;
    }
    if (auto s = t.if_contains("strict"); present(s)) {
      if (!s->is_bool()) return field_error(at + ".strict", "must be a boolean");
      tool.strict = s->get_bool();
    }
    out.tools.push_back(std::move(tool));
  }
  return {};
}

Result<void> decode_tool_choice(const json::value& v, ChatRequest& out) {
  if (v.is_string()) {
    std::string_view s = v.get_string();
    if (s == "auto") out.tool_choice.mode = ToolChoice::Mode::auto_;
    else if (s == "none") out.tool_choice.mode = ToolChoice::Mode::none;
    else if (s == "required") out.tool_choice.mode = ToolChoice::Mode::required;
    else return field_error("tool_choice", "must be auto, none, required or an object");
    return {};
  }
  if (!v.is_object()) return field_error("tool_choice", "must be a string or an object");
  const auto& o = v.get_object();
  std::string_view type = str_or_empty(o.if_contains("type"));
  if (type != "function")
    return field_error("tool_choice.type", "'" + std::string(type) +
                                               "' cannot be translated; only function tool "
                                               "choices can");
  auto name = o.if_contains("name");
  if (!name || !name->is_string()) return field_error("tool_choice.name", "must be a string");
  out.tool_choice.mode = ToolChoice::Mode::tool;
  out.tool_choice.name = std::string(name->get_string());
  return {};
}

Result<void> decode_text(const json::value& v, ChatRequest& out) {
  if (!v.is_object()) return field_error("text", "must be an object");
  const auto& o = v.get_object();
  for (const auto& kv : o)
    if (kv.key() != "format") out.unknown_fields.push_back("text." + std::string(kv.key()));
  auto f = o.if_contains("format");
  if (!present(f)) return {};
  if (!f->is_object()) return field_error("text.format", "must be an object");
  const auto& fo = f->get_object();
  std::string_view type = str_or_empty(fo.if_contains("type"));
  auto& rf = out.response_format;
  if (type == "text") {
    rf.kind = ResponseFormat::Kind::text;
  } else if (type == "json_object") {
    rf.kind = ResponseFormat::Kind::json_object;
  } else if (type == "json_schema") {
    auto schema = fo.if_contains("schema");
    if (!schema || !schema->is_object())
      return field_error("text.format.schema", "must be an object");
    rf.kind = ResponseFormat::Kind::json_schema;
    rf.name = std::string(str_or_empty(fo.if_contains("name")));
    rf.schema = *schema;
    if (auto s = fo.if_contains("strict"); s && s->is_bool()) rf.strict = s->get_bool();
  } else {
    return field_error("text.format.type", "must be text, json_object or json_schema");
  }
  return {};
}

class ResponsesCodec final : public InboundCodec {
 public:
  WireFormat format() const override { return WireFormat::openai_responses; }

  Result<InboundInfo> parse(std::string_view body, json::object& raw) const override {
    if (body.empty())
      return ApiError::invalid_request("request body is empty; expected a JSON object");
    json::parse_options opt;
    opt.max_depth = 64;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, raw.storage(), opt);
    if (ec) return ApiError::invalid_request("request body is not valid JSON: " + ec.message());
    if (!v.is_object()) return ApiError::invalid_request("request body must be a JSON object");
    raw = std::move(v.get_object());

    InboundInfo info;
    auto model = raw.if_contains("model");
    if (!model) return field_error("model", "is required");
    if (!model->is_string() || model->get_string().empty())
      return field_error("model", "must be a non-empty string");
    info.model = std::string(model->get_string());
    if (auto in = raw.if_contains("input"); present(in) && !in->is_string() && !in->is_array())
      return field_error("input", "must be a string or an array of input items");
    if (auto s = raw.if_contains("instructions"); present(s) && !s->is_string())
      return field_error("instructions", "must be a string");
    if (auto s = raw.if_contains("stream"); present(s)) {
      if (!s->is_bool()) return field_error("stream", "must be a boolean");
      info.stream = s->get_bool();
    }
    for (const char* f : {"temperature", "top_p"})
      if (auto x = raw.if_contains(f); present(x) && !x->is_number())
        return field_error(f, "must be a number");
    for (const char* f : {"max_output_tokens", "top_logprobs"})
      if (auto x = raw.if_contains(f); present(x) && !x->is_int64() && !x->is_uint64())
        return field_error(f, "must be an integer");
    if (auto t = raw.if_contains("tools"); present(t) && !t->is_array())
      return field_error("tools", "must be an array");
    // A Responses stream always ends with the full response, usage included.
    info.include_usage = true;
    return info;
  }

  Result<void> to_canonical(const json::object& raw, ChatRequest& out) const override {
    out.model = std::string(str_or_empty(raw.if_contains("model")));
    if (auto s = raw.if_contains("stream"); s && s->is_bool()) out.stream = s->get_bool();
    out.include_usage = true;
    // torii keeps no state: what refers to a stored response, conversation or prompt is refused.
    if (auto p = raw.if_contains("previous_response_id");
        present(p) && !(p->is_string() && p->get_string().empty()))
      return field_error("previous_response_id",
                         "is not supported: torii does not store responses; send the full input");
    if (present(raw.if_contains("conversation")))
      return field_error("conversation",
                         "is not supported: torii does not store conversations; send the full "
                         "input");
    if (present(raw.if_contains("prompt")))
      return field_error("prompt", "is not supported: torii has no stored prompts");
    if (auto b = raw.if_contains("background"); b && b->is_bool() && b->get_bool())
      return field_error("background", "is not supported: torii does not store responses");

    if (auto s = raw.if_contains("instructions"); s && s->is_string() && !s->get_string().empty()) {
      Message m;
      m.role = Role::system;
      m.parts.push_back(Part::make_text(std::string(s->get_string())));
      out.messages.push_back(std::move(m));
    }
    if (auto in = raw.if_contains("input"); present(in)) {
      if (in->is_string()) {
        Message m;
        m.parts.push_back(Part::make_text(std::string(in->get_string())));
        out.messages.push_back(std::move(m));
      } else if (in->is_array()) {
        const auto& arr = in->get_array();
        for (std::size_t i = 0; i < arr.size(); ++i)
          if (auto r = decode_item(arr[i], "input[" + std::to_string(i) + "]", out); !r) return r;
      } else {
        return field_error("input", "must be a string or an array of input items");
      }
    }
    bool has_turn = false;
    for (const auto& m : out.messages) has_turn = has_turn || m.role != Role::system;
    if (!has_turn) return field_error("input", "is required (at least one input item)");

    if (auto t = raw.if_contains("tools"); present(t))
      if (auto r = decode_tools(*t, out); !r) return r;
    if (auto t = raw.if_contains("tool_choice"); present(t))
      if (auto r = decode_tool_choice(*t, out); !r) return r;
    if (auto t = raw.if_contains("text"); present(t))
      if (auto r = decode_text(*t, out); !r) return r;
    if (auto x = raw.if_contains("max_output_tokens"); present(x)) {
      out.max_tokens = as_int(*x);
      if (!out.max_tokens || *out.max_tokens < 1)
        return field_error("max_output_tokens", "must be a positive integer");
    }
    if (auto x = raw.if_contains("temperature"); present(x) && x->is_number())
      out.temperature = x->to_number<double>();
    if (auto x = raw.if_contains("top_p"); present(x) && x->is_number())
      out.top_p = x->to_number<double>();
    if (auto x = raw.if_contains("top_logprobs"); present(x)) {
      out.top_logprobs = as_int(*x);
      if (!out.top_logprobs) return field_error("top_logprobs", "must be an integer");
      out.logprobs = *out.top_logprobs > 0;
      if (!out.logprobs) out.top_logprobs.reset();
    }
    if (auto r = raw.if_contains("reasoning"); present(r)) {
      if (!r->is_object()) return field_error("reasoning", "must be an object");
      for (const auto& kv : r->get_object()) {
        if (kv.key() == "effort") {
          if (kv.value().is_string()) out.reasoning_effort = std::string(kv.value().get_string());
          else if (!kv.value().is_null())
            return field_error("reasoning.effort", "must be a string");
        } else if (!kv.value().is_null()) {
          out.unknown_fields.push_back("reasoning." + std::string(kv.key()));
        }
      }
    }
    if (auto p = raw.if_contains("parallel_tool_calls"); p && p->is_bool())
      out.parallel_tool_calls = p->get_bool();
    if (auto u = raw.if_contains("user"); u && u->is_string()) out.user = std::string(u->get_string());
    if (auto u = raw.if_contains("safety_identifier"); out.user.empty() && u && u->is_string())
      out.user = std::string(u->get_string());
    for (const auto& kv : raw)
      if (!known_key(kv.key()) && !kv.value().is_null())
        out.unknown_fields.push_back(std::string(kv.key()));
    return {};
  }

  std::string encode_result(const ChatResult& result) const override {
    return responses_output::encode_response(result);
  }

  std::unique_ptr<StreamEncoder> stream_encoder(const InboundInfo& info) const override {
    return responses_output::make_stream_encoder(info);
  }

  std::string error_body(const ApiError& e) const override { return to_openai_json(e); }
};

}  // namespace

const InboundCodec& openai_responses_codec() {
  static const ResponsesCodec codec;
  return codec;
}

}  // namespace torii
