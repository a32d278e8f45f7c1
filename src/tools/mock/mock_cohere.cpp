// The Cohere v2 format of `torii mock`: POST /v2/chat. Non-streamed answers are one JSON
// object; streams are SSE events named by their type (message-start, content-start,
// content-delta, content-end, tool-call-start, tool-call-delta, tool-call-end, message-end),
// each data object repeating its "type". The stream ends after message-end (no terminator).
// Blocked answers finish with ERROR_TOXIC and no text (Cohere's content-filter reason).
// Written independently of providers/cohere.cpp: it is the other side of the wire.
#include <algorithm>
#include <charconv>
#include <cstdint>

#include <boost/json.hpp>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;

namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

std::string_view finish_reason(const MockScript& s) {
  if (s.blocked) return "ERROR_TOXIC";
  if (!s.tool_name.empty()) return "TOOL_CALL";
  if (s.truncated) return "MAX_TOKENS";
  return "COMPLETE";
}

bool has_text(const MockScript& s) { return s.tool_name.empty() && !s.blocked; }

void append_usage(std::string& out, const MockScript& s) {
  out += R"("usage":{"billed_units":{"input_tokens":)";
  append_int(out, s.prompt_tokens);
  out += R"(,"output_tokens":)";
  append_int(out, s.completion_tokens);
  out += R"(},"tokens":{"input_tokens":)";
  append_int(out, s.prompt_tokens);
  out += R"(,"output_tokens":)";
  append_int(out, s.completion_tokens);
  out += '}';
  if (s.cached_tokens > 0) {
    out += R"(,"cached_tokens":)";
    append_int(out, s.cached_tokens);
  }
  out += '}';
}

std::string call_id(const MockScript& s) { return s.tool_name + "_" + s.id; }

void event(std::string& out, std::string_view type, std::string_view data_after_type) {
  out += "event: ";
  out += type;
  out += "\ndata: {\"type\":\"";
  out += type;
  out += '"';
  out += data_after_type;
  out += "}\n\n";
}

class CohereFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "cohere"; }
  bool matches(std::string_view path) const override { return path == "/v2/chat"; }

  Result<MockTurn> parse(std::string_view target, const Headers&,
                         std::string_view body) const override;

  std::string whole(const MockScript& s) const override {
    std::string out;
    out.reserve(300 + s.tool_args.size() + static_cast<std::size_t>(s.content_words) * 8);
    out += R"({"id":")";
    append_json_escaped(out, s.id);
    out += R"(","finish_reason":")";
    out += finish_reason(s);
    out += R"(","message":{"role":"assistant","content":[)";
    if (s.thinking && !s.blocked) {
      out += R"({"type":"thinking","thinking":")";
      append_json_escaped(out, kMockThinking);
      out += "\"}";
    }
    if (has_text(s)) {
      if (s.thinking) out += ',';
      out += R"({"type":"text","text":")";
      if (s.words && s.content_words > 0) s.words->append(out, 0, s.content_words);
      out += "\"}";
    }
    out += ']';
    if (!s.tool_name.empty() && !s.blocked) {
      out += R"(,"tool_calls":[{"id":")";
      append_json_escaped(out, call_id(s));
      out += R"(","type":"function","function":{"name":")";
      append_json_escaped(out, s.tool_name);
      out += R"(","arguments":")";
      append_json_escaped(out, s.tool_args);
      out += "\"}}]";
    }
    out += "},";
    append_usage(out, s);
    out += '}';
    return out;
  }

  void stream_start(std::string& out, const MockScript& s) const override {
    std::string d = R"(,"id":")";
    append_json_escaped(d, s.id);
    d += R"(","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],)"
         R"("citations":[]}})";
    event(out, "message-start", d);
    if (s.blocked) return;
    if (s.thinking) {
      event(out, "content-start",
            R"(,"index":0,"delta":{"message":{"content":{"type":"thinking","thinking":""}}})");
      d = R"(,"index":0,"delta":{"message":{"content":{"thinking":")";
      append_json_escaped(d, kMockThinking);
      d += "\"}}}";
      event(out, "content-delta", d);
      event(out, "content-end", R"(,"index":0)");
    }
    if (has_text(s)) {
      d = R"(,"index":)";
      d += s.thinking ? '1' : '0';
      d += R"(,"delta":{"message":{"content":{"type":"text","text":""}}})";
      event(out, "content-start", d);
    }
  }

  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override {
    if (!has_text(s)) return;
    std::string d = R"(,"index":)";
    d += s.thinking ? '1' : '0';
    d += R"(,"delta":{"message":{"content":{"text":")";
    if (s.words && count > 0) s.words->append(d, first, count);
    d += "\"}}}";
    event(out, "content-delta", d);
  }

  void stream_end(std::string& out, const MockScript& s) const override {
    if (has_text(s)) event(out, "content-end", s.thinking ? R"(,"index":1)" : R"(,"index":0)");
    if (!s.tool_name.empty() && !s.blocked) {
      std::string d = R"(,"index":0,"delta":{"message":{"tool_calls":{"id":")";
      append_json_escaped(d, call_id(s));
      d += R"(","type":"function","function":{"name":")";
      append_json_escaped(d, s.tool_name);
      d += R"(","arguments":""}}}})";
      event(out, "tool-call-start", d);
      // The arguments in two fragments, as Cohere streams them.
      std::size_t half = s.tool_args.size() / 2;
      for (std::string_view piece : {std::string_view(s.tool_args).substr(0, half),
                                     std::string_view(s.tool_args).substr(half)}) {
        d = R"(,"index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":")";
        append_json_escaped(d, piece);
        d += "\"}}}}";
        event(out, "tool-call-delta", d);
      }
      event(out, "tool-call-end", R"(,"index":0)");
    }
    std::string d = R"(,"delta":{"finish_reason":")";
    d += finish_reason(s);
    d += "\",";
    append_usage(d, s);
    d += '}';
    event(out, "message-end", d);
  }

  std::string error_body(const ApiError& e) const override {
    std::string out = R"({"id":"mock-error","message":")";
    append_json_escaped(out, e.message);
    out += "\"}";
    return out;
  }
};

// Text bytes of a message's content (string, or text items) and images seen.
std::size_t content_bytes(const json::value& c, std::string* text, int& images) {
  if (c.is_string()) {
    if (text) text->assign(c.get_string().data(), c.get_string().size());
    return c.get_string().size();
  }
  std::size_t bytes = 0;
  if (!c.is_array()) return 0;
  for (const json::value& iv : c.get_array()) {
    const json::object* item = iv.if_object();
    if (!item) continue;
    const json::value* t = item->if_contains("text");
    if (t && t->is_string()) {
      bytes += t->get_string().size();
      if (text) {
        if (!text->empty()) *text += ' ';
        text->append(t->get_string().data(), t->get_string().size());
      }
    }
    const json::value* type = item->if_contains("type");
    if (type && type->is_string() && type->get_string() == "image_url") ++images;
  }
  return bytes;
}

Result<MockTurn> CohereFormat::parse(std::string_view, const Headers&,
                                     std::string_view body) const {
  MockTurn turn;
  turn.include_usage = true;  // message-end always carries usage
  json::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec) return ApiError::invalid_request("invalid request: body is not valid JSON");
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("invalid request: body must be an object");
  const json::value* model = req->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty())
    return ApiError::invalid_request("invalid request: model must be a non-empty string", "model");
  turn.model = model->get_string();
  const json::value* mv = req->if_contains("messages");
  if (!mv || !mv->is_array() || mv->get_array().empty())
    return ApiError::invalid_request("invalid request: messages must be a non-empty list",
                                     "messages");
  if (const json::value* st = req->if_contains("stream")) {
    if (!st->is_bool()) return ApiError::invalid_request("invalid request: stream must be a boolean",
                                                         "stream");
    turn.stream = st->get_bool();
  }
  std::size_t bytes = 0;
  const json::array& msgs = mv->get_array();
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const json::object* m = msgs[i].if_object();
    const json::value* role = m ? m->if_contains("role") : nullptr;
    if (!role || !role->is_string())
      return ApiError::invalid_request("invalid request: messages[" + std::to_string(i) +
                                       "].role is required", "messages");
    std::string text;
    if (const json::value* c = m->if_contains("content"))
      bytes += content_bytes(*c, &text, turn.images);
    if (const json::value* tc = m->if_contains("tool_calls"); tc && tc->is_array())
      bytes += json::serialize(*tc).size();
    if (role->get_string() == "user" && !text.empty()) turn.last_user_text = std::move(text);
    turn.last_is_tool_result = role->get_string() == "tool";
  }
  turn.prompt_tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>((bytes + 3) / 4));
  const json::value* choice = req->if_contains("tool_choice");
  bool calls_off = choice && choice->is_string() && choice->get_string() == "NONE";
  if (const json::value* tools = req->if_contains("tools");
      tools && tools->is_array() && !tools->get_array().empty() && !calls_off) {
    const json::object* t = tools->get_array()[0].if_object();
    const json::value* fn = t ? t->if_contains("function") : nullptr;
    const json::value* name = fn && fn->is_object() ? fn->get_object().if_contains("name") : nullptr;
    if (name && name->is_string()) turn.tool_name = name->get_string();
  }
  if (const json::value* m = req->if_contains("max_tokens")) {
    if (!m->is_int64() || m->get_int64() < 0)
      return ApiError::invalid_request("invalid request: max_tokens must be a non-negative integer",
                                       "max_tokens");
    turn.max_tokens = m->get_int64();
  }
  if (const json::value* th = req->if_contains("thinking"); th && th->is_object()) {
    const json::value* type = th->get_object().if_contains("type");
    turn.thinking = type && type->is_string() && type->get_string() == "enabled";
  }
  if (const json::value* mock = req->if_contains("mock")) turn.knobs = *mock;
  return turn;
}

}  // namespace

const MockFormat& mock_cohere_format() {
  static const CohereFormat format;
  return format;
}

}  // namespace torii
