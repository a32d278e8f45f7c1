// The Ollama native format of `torii mock`: POST /api/chat. Streams (the default when the
// request has no "stream": false) are NDJSON, application/x-ndjson: one JSON object per line,
// the last with done:true, done_reason and the token counts. Tool calls come whole, with
// arguments as an object and no id. Ollama has no content filter: a blocked answer is empty
// (done_reason "stop").
// Written independently of providers/ollama.cpp: it is the other side of the wire.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>

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

// {"model":"…","created_at":"…Z",
void append_head(std::string& out, const MockScript& s) {
  out += R"({"model":")";
  append_json_escaped(out, s.model);
  out += R"(","created_at":")";
  std::time_t t = static_cast<std::time_t>(s.created);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  out.append(buf, n);
  out += "\",";
}

void append_call(std::string& out, const MockScript& s) {
  out += R"("tool_calls":[{"function":{"name":")";
  append_json_escaped(out, s.tool_name);
  out += R"(","arguments":)";
  out += s.tool_args;  // a JSON object already
  out += "}}]";
}

void append_done(std::string& out, const MockScript& s) {
  out += R"("done":true,"done_reason":")";
  out += s.truncated ? "length" : "stop";
  out += R"(","total_duration":0,"load_duration":0,"prompt_eval_count":)";
  append_int(out, s.prompt_tokens);
  out += R"(,"prompt_eval_duration":0,"eval_count":)";
  append_int(out, s.completion_tokens);
  out += R"(,"eval_duration":0})";
}

class OllamaFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "ollama"; }
  bool matches(std::string_view path) const override { return path == "/api/chat"; }
  std::string_view stream_content_type() const override { return "application/x-ndjson"; }

  Result<MockTurn> parse(std::string_view target, const Headers&,
                         std::string_view body) const override;

  std::string whole(const MockScript& s) const override {
    std::string out;
    out.reserve(300 + s.tool_args.size() + static_cast<std::size_t>(s.content_words) * 8);
    append_head(out, s);
    out += R"("message":{"role":"assistant","content":")";
    if (s.tool_name.empty() && !s.blocked && s.words && s.content_words > 0)
      s.words->append(out, 0, s.content_words);
    out += '"';
    if (s.thinking && !s.blocked) {
      out += R"(,"thinking":")";
      append_json_escaped(out, kMockThinking);
      out += '"';
    }
    if (!s.tool_name.empty() && !s.blocked) {
      out += ',';
      append_call(out, s);
    }
    out += "},";
    append_done(out, s);
    return out;
  }

  void stream_start(std::string& out, const MockScript& s) const override {
    if (!s.thinking || s.blocked) return;
    append_head(out, s);
    out += R"("message":{"role":"assistant","content":"","thinking":")";
    append_json_escaped(out, kMockThinking);
    out += R"("},"done":false})";
    out += '\n';
  }

  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override {
    if (!s.tool_name.empty() || s.blocked) return;
    append_head(out, s);
    out += R"("message":{"role":"assistant","content":")";
    if (s.words && count > 0) s.words->append(out, first, count);
    out += R"("},"done":false})";
    out += '\n';
  }

  void stream_end(std::string& out, const MockScript& s) const override {
    if (!s.tool_name.empty() && !s.blocked) {
      // Ollama sends a tool call whole, in one line, before the final one.
      append_head(out, s);
      out += R"("message":{"role":"assistant","content":"",)";
      append_call(out, s);
      out += R"(},"done":false})";
      out += '\n';
    }
    append_head(out, s);
    out += R"("message":{"role":"assistant","content":""},)";
    append_done(out, s);
    out += '\n';
  }

  std::string error_body(const ApiError& e) const override {
    std::string out = R"({"error":")";
    append_json_escaped(out, e.message);
    out += "\"}";
    return out;
  }
};

Result<MockTurn> OllamaFormat::parse(std::string_view, const Headers&,
                                     std::string_view body) const {
  MockTurn turn;
  turn.include_usage = true;  // the last line always has the counts
  turn.stream = true;         // Ollama's default
  json::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec) return ApiError::invalid_request("invalid character in JSON body: " + ec.message());
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("the body must be a JSON object");
  const json::value* model = req->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty())
    return ApiError::invalid_request("model is required", "model");
  turn.model = model->get_string();
  const json::value* mv = req->if_contains("messages");
  if (!mv || !mv->is_array() || mv->get_array().empty())
    return ApiError::invalid_request("messages is required", "messages");
  if (const json::value* st = req->if_contains("stream")) {
    if (!st->is_bool()) return ApiError::invalid_request("stream must be a boolean", "stream");
    turn.stream = st->get_bool();
  }
  std::size_t bytes = 0;
  for (const json::value& v : mv->get_array()) {
    const json::object* m = v.if_object();
    if (!m) return ApiError::invalid_request("each message must be an object", "messages");
    const json::value* role = m->if_contains("role");
    const json::value* content = m->if_contains("content");
    std::string_view text;
    if (content && content->is_string()) {
      text = {content->get_string().data(), content->get_string().size()};
      bytes += text.size();
    }
    if (const json::value* im = m->if_contains("images"); im && im->is_array())
      turn.images += static_cast<int>(im->get_array().size());
    if (const json::value* tc = m->if_contains("tool_calls"); tc && tc->is_array())
      bytes += json::serialize(*tc).size();
    bool user = role && role->is_string() && role->get_string() == "user";
    if (user && !text.empty()) turn.last_user_text = std::string(text);
    turn.last_is_tool_result = role && role->is_string() && role->get_string() == "tool";
  }
  turn.prompt_tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>((bytes + 3) / 4));
  if (const json::value* tools = req->if_contains("tools");
      tools && tools->is_array() && !tools->get_array().empty()) {
    const json::object* t = tools->get_array()[0].if_object();
    const json::value* fn = t ? t->if_contains("function") : nullptr;
    const json::value* name = fn && fn->is_object() ? fn->get_object().if_contains("name") : nullptr;
    if (name && name->is_string()) turn.tool_name = name->get_string();
  }
  if (const json::value* o = req->if_contains("options"); o && o->is_object()) {
    if (const json::value* n = o->get_object().if_contains("num_predict")) {
      if (!n->is_int64())
        return ApiError::invalid_request("options.num_predict must be an integer",
                                         "options.num_predict");
      if (n->get_int64() >= 0) turn.max_tokens = n->get_int64();  // -1: no limit
    }
  }
  if (const json::value* th = req->if_contains("think")) {
    turn.thinking = (th->is_bool() && th->get_bool()) ||
                    (th->is_string() && th->get_string() != "false" && !th->get_string().empty());
  }
  if (const json::value* mock = req->if_contains("mock")) turn.knobs = *mock;
  return turn;
}

}  // namespace

const MockFormat& mock_ollama_format() {
  static const OllamaFormat format;
  return format;
}

}  // namespace torii
