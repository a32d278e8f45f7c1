#include "providers/openai_format.h"

#include <ctime>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.h"
#include "providers/provider.h"

namespace torii {
namespace json = boost::json;

namespace {

ApiError field_error(const std::string& field, const std::string& what) {
  return ApiError::invalid_request("'" + field + "' " + what, field);
}

std::string_view sv(const json::string& s) { return {s.data(), s.size()}; }

const json::string* str_field(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

std::optional<double> num_field(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  if (!v || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

std::optional<int64_t> int_field(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}

// "data:<media>;base64,<data>" → media type and data; false when `url` is not such a URL.
bool split_data_url(std::string_view url, std::string& media, std::string& data) {
  if (url.substr(0, 5) != "data:") return false;
  auto comma = url.find(',');
  auto semi = url.find(";base64");
  if (comma == std::string_view::npos || semi == std::string_view::npos || semi > comma)
    return false;
  media.assign(url.substr(5, semi - 5));
  data.assign(url.substr(comma + 1));
  return true;
}

Result<void> content_parts(const json::value& content, const std::string& at,
                           std::vector<Part>& out) {
  if (content.is_null()) return {};
  if (content.is_string()) {
    out.push_back(Part::make_text(std::string(sv(content.get_string()))));
    return {};
  }
  if (!content.is_array()) return field_error(at, "must be a string or an array of parts");
  const auto& arr = content.get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string pat = at + "[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) return field_error(pat, "must be an object");
    const auto& p = arr[i].get_object();
    auto type = str_field(p, "type");
    if (!type) return field_error(pat + ".type", "must be a string");
    if (*type == "text" || *type == "input_text" || *type == "output_text") {
      auto t = str_field(p, "text");
      if (!t) return field_error(pat + ".text", "must be a string");
      out.push_back(Part::make_text(std::string(sv(*t))));
    } else if (*type == "image_url") {
      auto iu = p.if_contains("image_url");
      const json::string* url = nullptr;
      Part part;
      part.kind = Part::Kind::image;
      if (iu && iu->is_string()) url = &iu->get_string();
      if (iu && iu->is_object()) {
        url = str_field(iu->get_object(), "url");
        if (auto d = str_field(iu->get_object(), "detail")) part.detail = sv(*d);
      }
      if (!url) return field_error(pat + ".image_url.url", "must be a string");
      if (!split_data_url(sv(*url), part.media_type, part.data)) part.url = sv(*url);
      out.push_back(std::move(part));
    } else if (*type == "file") {
      auto f = p.if_contains("file");
      if (!f || !f->is_object()) return field_error(pat + ".file", "must be an object");
      const auto& fo = f->get_object();
      Part part;
      part.kind = Part::Kind::document;
      if (auto n = str_field(fo, "filename")) part.text = sv(*n);
      auto fd = str_field(fo, "file_data");
      if (!fd || !split_data_url(sv(*fd), part.media_type, part.data))
        return field_error(pat + ".file.file_data",
                           "must be a base64 data URL (file ids are not portable across "
                           "providers)");
      out.push_back(std::move(part));
    } else {
      return field_error(pat + ".type", "'" + std::string(sv(*type)) +
                                            "' parts cannot be translated to another provider");
    }
  }
  return {};
}

Result<void> decode_message(const json::object& m, const std::string& at, ChatRequest& out) {
  auto role = str_field(m, "role");
  if (!role) return field_error(at + ".role", "must be a string");
  Message msg;
  if (auto n = str_field(m, "name")) msg.name = sv(*n);
  const json::value* content = m.if_contains("content");
  static const json::value kNull;
  if (!content) content = &kNull;
  if (*role == "system" || *role == "developer") {
    msg.role = Role::system;
    if (auto r = content_parts(*content, at + ".content", msg.parts); !r) return r;
  } else if (*role == "user") {
    msg.role = Role::user;
    if (auto r = content_parts(*content, at + ".content", msg.parts); !r) return r;
  } else if (*role == "assistant") {
    msg.role = Role::assistant;
    if (auto rc = str_field(m, "reasoning_content"); rc && !rc->empty()) {
      Part t;
      t.kind = Part::Kind::thinking;
      t.text = sv(*rc);
      msg.parts.push_back(std::move(t));
    }
    if (auto r = content_parts(*content, at + ".content", msg.parts); !r) return r;
    if (auto tc = m.if_contains("tool_calls"); tc && !tc->is_null()) {
      if (!tc->is_array()) return field_error(at + ".tool_calls", "must be an array");
      const auto& calls = tc->get_array();
      for (std::size_t i = 0; i < calls.size(); ++i) {
        std::string cat = at + ".tool_calls[" + std::to_string(i) + "]";
        const json::object* c = calls[i].if_object();
        const json::value* fn = c ? c->if_contains("function") : nullptr;
        if (!fn || !fn->is_object()) return field_error(cat + ".function", "must be an object");
        Part p;
        p.kind = Part::Kind::tool_call;
        if (auto id = str_field(*c, "id")) p.id = sv(*id);
        auto name = str_field(fn->get_object(), "name");
        if (!name) return field_error(cat + ".function.name", "must be a string");
        p.name = sv(*name);
        auto args = str_field(fn->get_object(), "arguments");
        p.arguments = args && !args->empty() ? std::string(sv(*args)) : "{}";
        msg.parts.push_back(std::move(p));
      }
    }
  } else if (*role == "tool") {
    msg.role = Role::tool;
    Part p;
    p.kind = Part::Kind::tool_result;
    auto id = str_field(m, "tool_call_id");
    if (!id) return field_error(at + ".tool_call_id", "must be a string");
    p.id = sv(*id);
    if (auto r = content_parts(*content, at + ".content", p.content); !r) return r;
    // OpenAI sends one message per result: consecutive results share one canonical message.
    if (!out.messages.empty() && out.messages.back().role == Role::tool) {
      out.messages.back().parts.push_back(std::move(p));
      return {};
    }
    msg.parts.push_back(std::move(p));
  } else {
    return field_error(at + ".role", "'" + std::string(sv(*role)) + "' is not a known role");
  }
  out.messages.push_back(std::move(msg));
  return {};
}

Result<void> decode_tools(const json::value& v, ChatRequest& out) {
  if (!v.is_array()) return field_error("tools", "must be an array");
  const auto& arr = v.get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string at = "tools[" + std::to_string(i) + "]";
    const json::object* t = arr[i].if_object();
    if (!t) return field_error(at, "must be an object");
    auto type = str_field(*t, "type");
    if (type && *type != "function")
      return field_error(at + ".type", "'" + std::string(sv(*type)) +
                                           "' tools cannot be translated to another provider");
    auto fn = t->if_contains("function");
    if (!fn || !fn->is_object()) return field_error(at + ".function", "must be an object");
    const auto& f = fn->get_object();
    Tool tool;
    auto name = str_field(f, "name");
    if (!name || name->empty()) return field_error(at + ".function.name", "must be a string");
    tool.name = sv(*name);
    if (auto d = str_field(f, "description")) tool.description = sv(*d);
    if (auto p = f.if_contains("parameters"); p && !p->is_null()) tool.parameters = *p;
    if (auto s = f.if_contains("strict"); s && s->is_bool()) tool.strict = s->get_bool();
    out.tools.push_back(std::move(tool));
  }
  return {};
}

Result<void> decode_tool_choice(const json::value& v, ChatRequest& out) {
  auto& tc = out.tool_choice;
  if (v.is_string()) {
    auto s = sv(v.get_string());
    if (s == "auto") tc.mode = ToolChoice::Mode::auto_;
    else if (s == "none") tc.mode = ToolChoice::Mode::none;
    else if (s == "required") tc.mode = ToolChoice::Mode::required;
    else return field_error("tool_choice", "must be 'auto', 'none', 'required' or an object");
    return {};
  }
  const json::object* o = v.if_object();
  const json::value* fn = o ? o->if_contains("function") : nullptr;
  const json::string* name = fn && fn->is_object() ? str_field(fn->get_object(), "name") : nullptr;
  if (!name) return field_error("tool_choice.function.name", "must be a string");
  tc.mode = ToolChoice::Mode::tool;
  tc.name = sv(*name);
  return {};
}

Result<void> decode_response_format(const json::value& v, ChatRequest& out) {
  const json::object* o = v.if_object();
  auto type = o ? str_field(*o, "type") : nullptr;
  if (!type) return field_error("response_format.type", "must be a string");
  auto& rf = out.response_format;
  if (*type == "text") {
    rf.kind = ResponseFormat::Kind::text;
  } else if (*type == "json_object") {
    rf.kind = ResponseFormat::Kind::json_object;
  } else if (*type == "json_schema") {
    rf.kind = ResponseFormat::Kind::json_schema;
    auto js = o->if_contains("json_schema");
    if (!js || !js->is_object())
      return field_error("response_format.json_schema", "must be an object");
    const auto& j = js->get_object();
    if (auto n = str_field(j, "name")) rf.name = sv(*n);
    if (auto s = j.if_contains("schema")) rf.schema = *s;
    if (auto s = j.if_contains("strict"); s && s->is_bool()) rf.strict = s->get_bool();
  } else {
    return field_error("response_format.type", "must be text, json_object or json_schema");
  }
  return {};
}

}  // namespace

Result<void> openai_request_to_canonical(const json::object& r, ChatRequest& out) {
  for (const auto& kv : r) {
    std::string_view k(kv.key().data(), kv.key().size());
    const json::value& v = kv.value();
    if (v.is_null() && k != "messages") continue;
    if (k == "model") {
      out.model = sv(v.get_string());
    } else if (k == "messages") {
      const auto& arr = v.get_array();
      for (std::size_t i = 0; i < arr.size(); ++i)
        if (auto e = decode_message(arr[i].get_object(), "messages[" + std::to_string(i) + "]", out);
            !e)
          return e;
    } else if (k == "tools") {
      if (auto e = decode_tools(v, out); !e) return e;
    } else if (k == "tool_choice") {
      if (auto e = decode_tool_choice(v, out); !e) return e;
    } else if (k == "parallel_tool_calls") {
      if (v.is_bool()) out.parallel_tool_calls = v.get_bool();
    } else if (k == "response_format") {
      if (auto e = decode_response_format(v, out); !e) return e;
    } else if (k == "stop") {
      if (v.is_string()) out.stop.emplace_back(sv(v.get_string()));
      else
        for (const auto& s : v.get_array())
          if (s.is_string()) out.stop.emplace_back(sv(s.get_string()));
    } else if (k == "temperature") {
      out.temperature = num_field(r, k);
    } else if (k == "top_p") {
      out.top_p = num_field(r, k);
    } else if (k == "presence_penalty") {
      out.presence_penalty = num_field(r, k);
    } else if (k == "frequency_penalty") {
      out.frequency_penalty = num_field(r, k);
    } else if (k == "top_k") {
      out.top_k = int_field(r, k);
    } else if (k == "max_tokens" || k == "max_completion_tokens") {
      if (!out.max_tokens || k == "max_completion_tokens") out.max_tokens = int_field(r, k);
    } else if (k == "seed") {
      out.seed = int_field(r, k);
    } else if (k == "n") {
      out.n = int_field(r, k);
    } else if (k == "logprobs") {
      out.logprobs = v.is_bool() && v.get_bool();
    } else if (k == "top_logprobs") {
      out.top_logprobs = int_field(r, k);
    } else if (k == "reasoning_effort") {
      if (!v.is_string()) return field_error("reasoning_effort", "must be a string");
      out.reasoning_effort = sv(v.get_string());
    } else if (k == "thinking") {
      // Anthropic's shape, which several OpenAI clients send: {"type":"enabled","budget_tokens"}.
      const json::object* t = v.if_object();
      auto type = t ? str_field(*t, "type") : nullptr;
      if (!type) return field_error("thinking.type", "must be a string");
      if (*type == "disabled") out.thinking_budget = 0;
      else if (auto b = int_field(*t, "budget_tokens")) out.thinking_budget = *b;
      else return field_error("thinking.budget_tokens", "must be an integer");
    } else if (k == "stream") {
      out.stream = v.is_bool() && v.get_bool();
    } else if (k == "stream_options") {
      if (auto iu = v.get_object().if_contains("include_usage"); iu && iu->is_bool())
        out.include_usage = iu->get_bool();
    } else if (k == "user") {
      if (v.is_string()) out.user = sv(v.get_string());
    } else {
      out.unknown_fields.emplace_back(k);
    }
  }
  return {};
}

// --- canonical → OpenAI request ---------------------------------------------------------------

namespace {

ApiError no_counterpart(std::string_view provider, std::string_view field, std::string_view why) {
  return torii::no_counterpart(provider, "OpenAI format", field, why);
}

json::value media_url(const Part& p) {
  if (!p.url.empty()) return json::string(p.url);
  std::string u = "data:" + p.media_type + ";base64,";
  u += p.data;
  return json::string(u);
}

// The message content as OpenAI parts (a plain string when it is one text part).
Result<json::value> encode_content(const std::vector<Part>& parts, std::string_view provider,
                                   bool text_only) {
  std::size_t texts = 0;
  for (const auto& p : parts) texts += p.kind == Part::Kind::text;
  if (texts == parts.size() && texts <= 1) {
    if (parts.empty()) return json::value(json::string());
    return json::value(json::string(parts[0].text));
  }
  json::array arr;
  for (const auto& p : parts) {
    switch (p.kind) {
      case Part::Kind::text:
        arr.push_back(json::object{{"type", "text"}, {"text", p.text}});
        break;
      case Part::Kind::image: {
        if (text_only) return no_counterpart(provider, "tool_result.image", "tool results take text only");
        json::object iu{{"url", media_url(p)}};
        if (!p.detail.empty()) iu["detail"] = p.detail;
        arr.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(iu)}});
        break;
      }
      case Part::Kind::document: {
        if (text_only || !p.url.empty())
          return no_counterpart(provider, "document", "documents must be inline base64 data");
        json::object f{{"file_data", media_url(p)}};
        if (!p.text.empty()) f["filename"] = p.text;
        arr.push_back(json::object{{"type", "file"}, {"file", std::move(f)}});
        break;
      }
      default:
        break;  // thinking and tool parts are handled by the caller
    }
  }
  return json::value(std::move(arr));
}

std::string joined_text(const std::vector<Part>& parts) {
  std::string out;
  for (const auto& p : parts)
    if (p.kind == Part::Kind::text) out += p.text;
  return out;
}

}  // namespace

Result<std::string> canonical_to_openai_request(const ChatRequest& r, std::string_view model,
                                                bool stream, const OpenAiDialect& dialect,
                                                std::string_view provider,
                                                std::vector<std::string>& ignored) {
  json::object o;
  o["model"] = model;
  json::array messages;
  for (const auto& m : r.messages) {
    if (m.role == Role::tool) {
      for (const auto& p : m.parts) {
        if (p.kind != Part::Kind::tool_result) continue;
        auto c = encode_content(p.content, provider, true);
        if (!c) return c.error();
        json::object tm{{"role", "tool"}, {"tool_call_id", p.id}, {"content", std::move(*c)}};
        messages.push_back(std::move(tm));
      }
      continue;
    }
    json::object jm;
    jm["role"] = m.role == Role::system ? "system" : m.role == Role::user ? "user" : "assistant";
    if (!m.name.empty()) jm["name"] = m.name;
    if (m.role == Role::system) {
      jm["content"] = joined_text(m.parts);
    } else if (m.role == Role::user) {
      auto c = encode_content(m.parts, provider, false);
      if (!c) return c.error();
      jm["content"] = std::move(*c);
    } else {
      std::string text, reasoning;
      json::array calls;
      for (const auto& p : m.parts) {
        if (p.kind == Part::Kind::text) text += p.text;
        else if (p.kind == Part::Kind::thinking) reasoning += p.text;
        else if (p.kind == Part::Kind::redacted_thinking) add_ignored(ignored, "redacted_thinking");
        else if (p.kind == Part::Kind::tool_call)
          calls.push_back(json::object{
              {"id", p.id},
              {"type", "function"},
              {"function", json::object{{"name", p.name}, {"arguments", p.arguments}}}});
      }
      if (!reasoning.empty()) {
        // Earlier turns' reasoning: only some vendors take it back; elsewhere it is context
        // the provider would not use.
        if (dialect.reasoning_content) jm["reasoning_content"] = reasoning;
        else add_ignored(ignored, "thinking");
      }
      if (!text.empty() || calls.empty()) jm["content"] = text;
      else jm["content"] = nullptr;
      if (!calls.empty()) jm["tool_calls"] = std::move(calls);
    }
    messages.push_back(std::move(jm));
  }
  o["messages"] = std::move(messages);

  if (!r.tools.empty()) {
    json::array tools;
    for (const auto& t : r.tools) {
      json::object fn{{"name", t.name}};
      if (!t.description.empty()) fn["description"] = t.description;
      if (!t.parameters.is_null()) fn["parameters"] = t.parameters;
      if (t.strict) fn["strict"] = *t.strict;
      tools.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    o["tools"] = std::move(tools);
  }
  switch (r.tool_choice.mode) {
    case ToolChoice::Mode::unset: break;
    case ToolChoice::Mode::auto_: o["tool_choice"] = "auto"; break;
    case ToolChoice::Mode::none: o["tool_choice"] = "none"; break;
    case ToolChoice::Mode::required: o["tool_choice"] = "required"; break;
    case ToolChoice::Mode::tool:
      o["tool_choice"] = json::object{{"type", "function"},
                                      {"function", json::object{{"name", r.tool_choice.name}}}};
  }
  if (r.parallel_tool_calls && !r.tools.empty()) o["parallel_tool_calls"] = *r.parallel_tool_calls;
  switch (r.response_format.kind) {
    case ResponseFormat::Kind::unset: break;
    case ResponseFormat::Kind::text: o["response_format"] = json::object{{"type", "text"}}; break;
    case ResponseFormat::Kind::json_object:
      o["response_format"] = json::object{{"type", "json_object"}};
      break;
    case ResponseFormat::Kind::json_schema: {
      json::object js{{"name", r.response_format.name.empty() ? "response" : r.response_format.name},
                      {"schema", r.response_format.schema}};
      if (r.response_format.strict) js["strict"] = *r.response_format.strict;
      o["response_format"] = json::object{{"type", "json_schema"}, {"json_schema", std::move(js)}};
    }
  }
  if (r.stop.size() == 1) o["stop"] = r.stop[0];
  else if (!r.stop.empty()) {
    json::array stop;
    for (const auto& x : r.stop) stop.push_back(json::string(x));
    o["stop"] = std::move(stop);
  }
  if (r.temperature) o["temperature"] = *r.temperature;
  if (r.top_p) o["top_p"] = *r.top_p;
  if (r.presence_penalty) o["presence_penalty"] = *r.presence_penalty;
  if (r.frequency_penalty) o["frequency_penalty"] = *r.frequency_penalty;
  if (r.top_k) add_ignored(ignored, "top_k");
  if (r.max_tokens) o[dialect.max_completion_tokens ? "max_completion_tokens" : "max_tokens"] = *r.max_tokens;
  if (r.seed) o["seed"] = *r.seed;
  if (r.n) o["n"] = *r.n;
  if (r.logprobs) o["logprobs"] = true;
  if (r.top_logprobs) o["top_logprobs"] = *r.top_logprobs;
  if (!r.reasoning_effort.empty()) {
    o["reasoning_effort"] = r.reasoning_effort;
  } else if (r.thinking_budget && *r.thinking_budget > 0) {
    // OpenAI takes an effort, not a budget: the nearest level.
    o["reasoning_effort"] = thinking_budget_effort(*r.thinking_budget);
  }
  if (!r.user.empty()) o["user"] = r.user;
  if (stream) {
    o["stream"] = true;
    if (dialect.stream_usage_option)
      o["stream_options"] = json::object{{"include_usage", true}};
  }
  for (const auto& f : r.unknown_fields) add_ignored(ignored, f);
  return json::serialize(o);
}

// --- answers ----------------------------------------------------------------------------------

std::string_view openai_finish_reason(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::tool_calls: return "tool_calls";
    case FinishReason::content_filter: return "content_filter";
    case FinishReason::error: return "error";
    default: return "";
  }
}

FinishReason parse_openai_finish(std::string_view r) {
  if (r == "stop") return FinishReason::stop;
  if (r == "length") return FinishReason::length;
  if (r == "tool_calls" || r == "function_call") return FinishReason::tool_calls;
  if (r == "content_filter") return FinishReason::content_filter;
  if (r.empty()) return FinishReason::unset;
  return FinishReason::error;
}

Usage parse_openai_usage(const json::object& u);  // provider.h

Result<ChatResult> openai_response_to_canonical(std::string_view body, std::string_view provider) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  auto bad = [&](std::string_view why) {
    return ApiError::bad_gateway("provider '" + std::string(provider) + "' returned " +
                                 std::string(why));
  };
  if (ec || !v.is_object()) return bad("a body that is not JSON");
  const auto& o = v.get_object();
  ChatResult out;
  if (auto id = str_field(o, "id")) out.id = sv(*id);
  if (auto m = str_field(o, "model")) out.model = sv(*m);
  if (auto c = int_field(o, "created")) out.created = *c;
  if (auto u = o.if_contains("usage"); u && u->is_object()) out.usage = parse_openai_usage(u->get_object());
  auto choices = o.if_contains("choices");
  if (!choices || !choices->is_array() || choices->get_array().empty() ||
      !choices->get_array()[0].is_object())
    return bad("an answer without choices");
  const auto& choice = choices->get_array()[0].get_object();
  if (auto f = str_field(choice, "finish_reason")) {
    out.native_finish = sv(*f);
    out.finish = parse_openai_finish(out.native_finish);
  }
  auto msg = choice.if_contains("message");
  if (!msg || !msg->is_object()) return bad("a choice without a message");
  const auto& m = msg->get_object();
  if (auto rc = str_field(m, "reasoning_content"); rc && !rc->empty()) {
    Part t;
    t.kind = Part::Kind::thinking;
    t.text = sv(*rc);
    out.parts.push_back(std::move(t));
  }
  if (auto c = str_field(m, "content"); c && !c->empty()) out.parts.push_back(Part::make_text(std::string(sv(*c))));
  if (auto rf = str_field(m, "refusal")) out.refusal = sv(*rf);
  if (auto tc = m.if_contains("tool_calls"); tc && tc->is_array()) {
    for (const auto& c : tc->get_array()) {
      const json::object* co = c.if_object();
      const json::value* fn = co ? co->if_contains("function") : nullptr;
      if (!fn || !fn->is_object()) return bad("a malformed tool call");
      Part p;
      p.kind = Part::Kind::tool_call;
      if (auto id = str_field(*co, "id")) p.id = sv(*id);
      if (auto n = str_field(fn->get_object(), "name")) p.name = sv(*n);
      auto a = str_field(fn->get_object(), "arguments");
      p.arguments = a && !a->empty() ? std::string(sv(*a)) : "{}";
      out.parts.push_back(std::move(p));
    }
  }
  return out;
}

namespace {

void append_usage(std::string& out, const Usage& u) {
  out.append("{\"prompt_tokens\":");
  append_json_int(out, std::max<int64_t>(u.prompt_tokens, 0));
  out.append(",\"completion_tokens\":");
  append_json_int(out, std::max<int64_t>(u.completion_tokens, 0));
  out.append(",\"total_tokens\":");
  int64_t total = u.total_tokens >= 0 ? u.total_tokens
                                      : std::max<int64_t>(u.prompt_tokens, 0) +
                                            std::max<int64_t>(u.completion_tokens, 0);
  append_json_int(out, total);
  if (u.cached_tokens >= 0) {
    out.append(",\"prompt_tokens_details\":{\"cached_tokens\":");
    append_json_int(out, u.cached_tokens);
    out.push_back('}');
  }
  if (u.reasoning_tokens >= 0) {
    out.append(",\"completion_tokens_details\":{\"reasoning_tokens\":");
    append_json_int(out, u.reasoning_tokens);
    out.push_back('}');
  }
  if (u.cache_write_tokens >= 0) {  // not OpenAI's: kept so that costs stay exact
    out.append(",\"cache_write_tokens\":");
    append_json_int(out, u.cache_write_tokens);
  }
  out.push_back('}');
}

}  // namespace

std::string canonical_to_openai_response(const ChatResult& r) {
  std::string out;
  out.reserve(256);
  out.append("{\"id\":");
  append_json_string(out, r.id.empty() ? "chatcmpl-torii" : r.id);
  out.append(",\"object\":\"chat.completion\",\"created\":");
  append_json_int(out, r.created ? r.created : static_cast<int64_t>(std::time(nullptr)));
  out.append(",\"model\":");
  append_json_string(out, r.model);
  out.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  std::string text, reasoning;
  bool calls = false;
  for (const auto& p : r.parts) {
    if (p.kind == Part::Kind::text) text += p.text;
    else if (p.kind == Part::Kind::thinking) reasoning += p.text;
    else if (p.kind == Part::Kind::tool_call) calls = true;
  }
  if (text.empty() && calls) out.append("null");
  else append_json_string(out, text);
  if (!reasoning.empty()) {
    out.append(",\"reasoning_content\":");
    append_json_string(out, reasoning);
  }
  if (!r.refusal.empty()) {
    out.append(",\"refusal\":");
    append_json_string(out, r.refusal);
  }
  if (calls) {
    out.append(",\"tool_calls\":[");
    bool first = true;
    for (const auto& p : r.parts) {
      if (p.kind != Part::Kind::tool_call) continue;
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"id\":");
      append_json_string(out, p.id);
      out.append(",\"type\":\"function\",\"function\":{\"name\":");
      append_json_string(out, p.name);
      out.append(",\"arguments\":");
      append_json_string(out, p.arguments);
      out.append("}}");
    }
    out.push_back(']');
  }
  out.append("},\"finish_reason\":");
  auto fr = openai_finish_reason(r.finish);
  if (fr.empty()) out.append("null");
  else append_json_string(out, fr);
  out.append("}]");
  if (r.usage.known()) {
    out.append(",\"usage\":");
    append_usage(out, r.usage);
  }
  out.push_back('}');
  return out;
}

// --- streams ----------------------------------------------------------------------------------

Result<void> openai_chunk_to_events(std::string_view chunk, bool& started, Usage& usage,
                                    const std::function<void(const StreamEvent&)>& emit) {
  boost::system::error_code ec;
  json::value v = json::parse(chunk, ec);
  if (ec || !v.is_object()) return ApiError::bad_gateway("upstream sent an undecodable stream event");
  const auto& o = v.get_object();
  StreamEvent e;
  if (!started) {
    started = true;
    e.kind = StreamEvent::Kind::start;
    if (auto id = str_field(o, "id")) e.id = sv(*id);
    if (auto m = str_field(o, "model")) e.name = sv(*m);
    emit(e);
  }
  if (auto ch = o.if_contains("choices"); ch && ch->is_array() && !ch->get_array().empty() &&
                                          ch->get_array()[0].is_object()) {
    const auto& c = ch->get_array()[0].get_object();
    if (auto d = c.if_contains("delta"); d && d->is_object()) {
      const auto& delta = d->get_object();
      if (auto rc = str_field(delta, "reasoning_content"); rc && !rc->empty()) {
        e = {};
        e.kind = StreamEvent::Kind::thinking;
        e.text = sv(*rc);
        emit(e);
      }
      if (auto t = str_field(delta, "content"); t && !t->empty()) {
        e = {};
        e.kind = StreamEvent::Kind::text;
        e.text = sv(*t);
        emit(e);
      }
      if (auto tc = delta.if_contains("tool_calls"); tc && tc->is_array()) {
        for (const auto& call : tc->get_array()) {
          const json::object* co = call.if_object();
          if (!co) continue;
          int index = static_cast<int>(int_field(*co, "index").value_or(0));
          auto fn = co->if_contains("function");
          const json::object* f = fn && fn->is_object() ? &fn->get_object() : nullptr;
          auto id = str_field(*co, "id");
          auto name = f ? str_field(*f, "name") : nullptr;
          if (id || name) {
            e = {};
            e.kind = StreamEvent::Kind::tool_call_start;
            e.index = index;
            if (id) e.id = sv(*id);
            if (name) e.name = sv(*name);
            emit(e);
          }
          if (auto a = f ? str_field(*f, "arguments") : nullptr; a && !a->empty()) {
            e = {};
            e.kind = StreamEvent::Kind::tool_call_args;
            e.index = index;
            e.text = sv(*a);
            emit(e);
          }
        }
      }
    }
    if (auto f = str_field(c, "finish_reason")) {
      e = {};
      e.kind = StreamEvent::Kind::finish;
      e.finish = parse_openai_finish(sv(*f));
      e.text = sv(*f);
      emit(e);
    }
  }
  if (auto u = o.if_contains("usage"); u && u->is_object()) {
    usage = parse_openai_usage(u->get_object());
    e = {};
    e.kind = StreamEvent::Kind::usage;
    e.usage = usage;
    emit(e);
  }
  return {};
}

void OpenAiChunkWriter::prefix(std::string& out) {
  out.append("data: {\"id\":");
  append_json_string(out, id_);
  out.append(",\"object\":\"chat.completion.chunk\",\"created\":");
  append_json_int(out, created_);
  out.append(",\"model\":");
  append_json_string(out, model_);
}

void OpenAiChunkWriter::write(const StreamEvent& e, std::string& out) {
  using K = StreamEvent::Kind;
  if (e.kind == K::start) {
    if (!e.id.empty()) id_ = e.id;
    model_ = e.name;
    created_ = static_cast<int64_t>(std::time(nullptr));
    prefix(out);
    out.append(R"(,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"
               "\n\n");
    return;
  }
  if (e.kind == K::usage) {
    if (!include_usage_) return;
    prefix(out);
    out.append(",\"choices\":[],\"usage\":");
    append_usage(out, e.usage);
    out.append("}\n\n");
    return;
  }
  if (e.kind == K::thinking_signature || e.kind == K::redacted_thinking) return;  // no counterpart
  prefix(out);
  out.append(",\"choices\":[{\"index\":0,\"delta\":{");
  switch (e.kind) {
    case K::text:
      out.append("\"content\":");
      append_json_string(out, e.text);
      break;
    case K::thinking:
      out.append("\"reasoning_content\":");
      append_json_string(out, e.text);
      break;
    case K::tool_call_start:
      out.append("\"tool_calls\":[{\"index\":");
      append_json_int(out, e.index);
      out.append(",\"id\":");
      append_json_string(out, e.id);
      out.append(",\"type\":\"function\",\"function\":{\"name\":");
      append_json_string(out, e.name);
      out.append(",\"arguments\":\"\"}}]");
      break;
    case K::tool_call_args:
      out.append("\"tool_calls\":[{\"index\":");
      append_json_int(out, e.index);
      out.append(",\"function\":{\"arguments\":");
      append_json_string(out, e.text);
      out.append("}}]");
      break;
    default:
      break;
  }
  out.append("},\"finish_reason\":");
  if (e.kind == K::finish) {
    auto fr = openai_finish_reason(e.finish);
    if (fr.empty()) out.append("null");
    else append_json_string(out, fr);
  } else {
    out.append("null");
  }
  out.append("}]}\n\n");
}

}  // namespace torii
