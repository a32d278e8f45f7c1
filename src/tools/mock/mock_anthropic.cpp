// The Anthropic Messages format of `torii mock`: POST /v1/messages, whole answers and the full
// SSE event sequence (message_start, ping, content_block_start / _delta / _stop per block,
// message_delta, message_stop). Written from Anthropic's public API reference, independently
// of the provider adapter (src/providers/anthropic): it is the other side of the wire.
//
// Like the real API it requires the `anthropic-version` header and `max_tokens`.
// Usage follows Anthropic's meaning: input_tokens excludes cache reads and cache writes.
#include <charconv>
#include <cstdint>

#include <boost/json.hpp>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kToolUseId = "toolu_mock_1";

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void event(std::string& out, std::string_view name) {
  out += "event: ";
  out += name;
  out += "\ndata: ";
}

std::string_view stop_reason(const MockScript& s) {
  if (s.blocked) return "refusal";
  if (!s.tool_name.empty()) return "tool_use";
  if (s.truncated) return "max_tokens";
  return "end_turn";
}

bool has_text_block(const MockScript& s) {
  return s.tool_name.empty() && !s.blocked && s.content_words > 0 && s.words;
}

// The index of the text or tool_use block (after the thinking block, when there is one).
int main_index(const MockScript& s) { return s.thinking ? 1 : 0; }

std::size_t split_point(std::string_view s) {
  std::size_t at = s.size() / 2;
  while (at > 1 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return std::max<std::size_t>(at, 1);
}

// {"input_tokens":..,"cache_creation_input_tokens":..,"cache_read_input_tokens":..,
//  "output_tokens":..}: input_tokens excludes what the cache read or wrote.
void append_usage(std::string& out, const MockScript& s, std::int64_t output) {
  out += R"({"input_tokens":)";
  append_int(out, std::max<std::int64_t>(0, s.prompt_tokens - s.cached_tokens -
                                                s.cache_write_tokens));
  out += R"(,"cache_creation_input_tokens":)";
  append_int(out, s.cache_write_tokens);
  out += R"(,"cache_read_input_tokens":)";
  append_int(out, s.cached_tokens);
  out += R"(,"output_tokens":)";
  append_int(out, output);
  out += '}';
}

void append_head(std::string& out, const MockScript& s) {
  out += R"({"id":"msg_)";
  append_json_escaped(out, s.id);
  out += R"(","type":"message","role":"assistant","model":")";
  append_json_escaped(out, s.model);
  out += '"';
}

// Bytes of text a content value holds: a string, or blocks with text / tool_result content /
// tool_use input.
std::int64_t content_bytes(const json::value& content) {
  if (const auto* s = content.if_string()) return std::int64_t(s->size());
  std::int64_t bytes = 0;
  const auto* blocks = content.if_array();
  if (!blocks) return 0;
  for (const auto& b : *blocks) {
    const auto* o = b.if_object();
    if (!o) continue;
    if (const auto* t = o->if_contains("text"); t && t->is_string()) bytes += t->get_string().size();
    if (const auto* c = o->if_contains("content")) bytes += content_bytes(*c);
    if (const auto* n = o->if_contains("name"); n && n->is_string()) bytes += n->get_string().size();
    if (const auto* in = o->if_contains("input")) bytes += json::serialize(*in).size();
  }
  return bytes;
}

int count_images(const json::value& content) {
  int n = 0;
  if (const auto* blocks = content.if_array())
    for (const auto& b : *blocks) {
      const auto* o = b.if_object();
      if (!o) continue;
      const auto* t = o->if_contains("type");
      if (t && t->is_string() && t->get_string() == "image") ++n;
      if (const auto* c = o->if_contains("content")) n += count_images(*c);
    }
  return n;
}

bool has_block(const json::value& content, std::string_view type) {
  if (const auto* blocks = content.if_array())
    for (const auto& b : *blocks) {
      const auto* o = b.if_object();
      const auto* t = o ? o->if_contains("type") : nullptr;
      if (t && t->is_string() && t->get_string() == type) return true;
    }
  return false;
}

class AnthropicFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "anthropic"; }
  bool matches(std::string_view path) const override { return path == "/v1/messages"; }
  Result<MockTurn> parse(std::string_view target, const Headers& headers,
                         std::string_view body) const override;
  std::string whole(const MockScript& s) const override;
  void stream_start(std::string& out, const MockScript& s) const override;
  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override;
  void stream_end(std::string& out, const MockScript& s) const override;
  std::string error_body(const ApiError& e) const override { return to_anthropic_json(e); }
};

Result<MockTurn> AnthropicFormat::parse(std::string_view, const Headers& headers,
                                        std::string_view body) const {
  if (find_header(headers, "anthropic-version").empty())
    return ApiError::invalid_request("anthropic-version: header is required",
                                     "anthropic-version");
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::error_code ec;
  const json::value doc = json::parse(body, ec, &mr);
  if (ec) return ApiError::invalid_request("malformed JSON in request body: " + ec.message());
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("request body must be a JSON object");

  MockTurn turn;
  turn.include_usage = true;  // Anthropic streams always carry usage
  const json::value* model = req->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty())
    return ApiError::invalid_request("model: Field required", "model");
  turn.model = model->get_string();
  const json::value* messages = req->if_contains("messages");
  if (!messages || !messages->is_array())
    return ApiError::invalid_request("messages: Field required", "messages");
  const json::value* max_tokens = req->if_contains("max_tokens");
  if (!max_tokens || !max_tokens->is_int64() || max_tokens->get_int64() < 1)
    return ApiError::invalid_request("max_tokens: Field required (an integer >= 1)",
                                     "max_tokens");
  turn.max_tokens = max_tokens->get_int64();
  if (const json::value* s = req->if_contains("stream"); s && !s->is_null()) {
    if (!s->is_bool()) return ApiError::invalid_request("stream: must be a boolean", "stream");
    turn.stream = s->get_bool();
  }

  std::int64_t bytes = 0;
  if (const json::value* system = req->if_contains("system")) bytes += content_bytes(*system);
  const json::array& list = messages->get_array();
  bool found_user = false;
  for (auto it = list.rbegin(); it != list.rend(); ++it) {
    const json::object* m = it->if_object();
    if (!m) return ApiError::invalid_request("messages: each message must be an object", "messages");
    const json::value* role = m->if_contains("role");
    const json::value* content = m->if_contains("content");
    if (!role || !role->is_string() || (role->get_string() != "user" &&
                                        role->get_string() != "assistant"))
      return ApiError::invalid_request("messages: role must be \"user\" or \"assistant\"",
                                       "messages");
    if (!content || !(content->is_string() || content->is_array()))
      return ApiError::invalid_request("messages: content must be a string or an array",
                                       "messages");
    bytes += content_bytes(*content);
    turn.images += count_images(*content);
    const bool user = role->get_string() == "user";
    if (it == list.rbegin()) turn.last_is_tool_result = user && has_block(*content, "tool_result");
    if (found_user || !user) continue;
    const std::size_t before = turn.last_user_text.size();
    append_message_text(turn.last_user_text, *content);
    found_user = turn.last_user_text.size() > before;  // a tool-result-only turn has no words
  }
  turn.prompt_tokens = std::max<std::int64_t>(1, (bytes + 3) / 4);

  const json::value* choice = req->if_contains("tool_choice");
  const json::object* choice_obj = choice ? choice->if_object() : nullptr;
  const json::value* choice_type = choice_obj ? choice_obj->if_contains("type") : nullptr;
  const bool none = choice_type && choice_type->is_string() && choice_type->get_string() == "none";
  const json::value* tools = req->if_contains("tools");
  if (!none && tools && tools->is_array() && !tools->get_array().empty()) {
    const json::value* name = nullptr;
    if (choice_type && choice_type->is_string() && choice_type->get_string() == "tool")
      name = choice_obj->if_contains("name");
    const json::object* first = tools->get_array().front().if_object();
    if (!name && first) name = first->if_contains("name");
    if (name && name->is_string()) turn.tool_name = name->get_string();
  }
  if (const json::value* thinking = req->if_contains("thinking"); thinking && thinking->is_object()) {
    const json::value* type = thinking->get_object().if_contains("type");
    turn.thinking = type && type->is_string() && type->get_string() != "disabled";
  }
  if (const json::value* mock = req->if_contains("mock"))
    turn.knobs = json::value(*mock, json::storage_ptr());  // off the stack buffer
  return turn;
}

std::string AnthropicFormat::whole(const MockScript& s) const {
  std::string out;
  out.reserve(400 + s.model.size() + s.tool_args.size() +
              static_cast<std::size_t>(s.content_words) * 8);
  append_head(out, s);
  out += R"(,"content":[)";
  bool first = true;
  if (s.thinking) {
    out += R"({"type":"thinking","thinking":")";
    append_json_escaped(out, kMockThinking);
    out += R"(","signature":")";
    out += kMockSignature;
    out += R"("})";
    first = false;
  }
  if (!s.tool_name.empty()) {
    if (!first) out += ',';
    out += R"({"type":"tool_use","id":")";
    out += kToolUseId;
    out += R"(","name":")";
    append_json_escaped(out, s.tool_name);
    out += R"(","input":)";
    out += s.tool_args;
    out += '}';
  } else if (has_text_block(s)) {
    if (!first) out += ',';
    out += R"({"type":"text","text":")";
    s.words->append(out, 0, s.content_words);
    out += R"("})";
  }
  out += R"(],"stop_reason":")";
  out += stop_reason(s);
  out += R"(","stop_sequence":null,"usage":)";
  append_usage(out, s, s.completion_tokens);
  out += '}';
  return out;
}

void AnthropicFormat::stream_start(std::string& out, const MockScript& s) const {
  event(out, "message_start");
  out += R"({"type":"message_start","message":)";
  append_head(out, s);
  out += R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":)";
  append_usage(out, s, 1);
  out += "}}\n\n";
  event(out, "ping");
  out += "{\"type\":\"ping\"}\n\n";
  if (s.thinking) {
    event(out, "content_block_start");
    out += R"({"type":"content_block_start","index":0,)"
           R"("content_block":{"type":"thinking","thinking":""}})";
    out += "\n\n";
    const std::size_t cut = kMockThinking.find(' ', kMockThinking.size() / 2) + 1;
    for (std::string_view part : {kMockThinking.substr(0, cut), kMockThinking.substr(cut)}) {
      event(out, "content_block_delta");
      out += R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":")";
      append_json_escaped(out, part);
      out += "\"}}\n\n";
    }
    event(out, "content_block_delta");
    out += R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":")";
    out += kMockSignature;
    out += "\"}}\n\n";
    event(out, "content_block_stop");
    out += "{\"type\":\"content_block_stop\",\"index\":0}\n\n";
  }
  if (has_text_block(s)) {
    event(out, "content_block_start");
    out += R"({"type":"content_block_start","index":)";
    append_int(out, main_index(s));
    out += R"(,"content_block":{"type":"text","text":""}})";
    out += "\n\n";
  }
}

void AnthropicFormat::stream_text(std::string& out, const MockScript& s, std::int64_t first,
                                  std::int64_t count) const {
  if (!has_text_block(s) || count <= 0) return;
  event(out, "content_block_delta");
  out += R"({"type":"content_block_delta","index":)";
  append_int(out, main_index(s));
  out += R"(,"delta":{"type":"text_delta","text":")";
  s.words->append(out, first, count);
  out += "\"}}\n\n";
}

void AnthropicFormat::stream_end(std::string& out, const MockScript& s) const {
  const int index = main_index(s);
  if (has_text_block(s)) {
    event(out, "content_block_stop");
    out += R"({"type":"content_block_stop","index":)";
    append_int(out, index);
    out += "}\n\n";
  } else if (!s.tool_name.empty()) {
    event(out, "content_block_start");
    out += R"({"type":"content_block_start","index":)";
    append_int(out, index);
    out += R"(,"content_block":{"type":"tool_use","id":")";
    out += kToolUseId;
    out += R"(","name":")";
    append_json_escaped(out, s.tool_name);
    out += R"(","input":{}}})";
    out += "\n\n";
    const std::string_view args = s.tool_args;
    const std::size_t cut = split_point(args);
    for (std::string_view part : {args.substr(0, cut), args.substr(cut)}) {
      event(out, "content_block_delta");
      out += R"({"type":"content_block_delta","index":)";
      append_int(out, index);
      out += R"(,"delta":{"type":"input_json_delta","partial_json":")";
      append_json_escaped(out, part);
      out += "\"}}\n\n";
    }
    event(out, "content_block_stop");
    out += R"({"type":"content_block_stop","index":)";
    append_int(out, index);
    out += "}\n\n";
  }
  event(out, "message_delta");
  out += R"({"type":"message_delta","delta":{"stop_reason":")";
  out += stop_reason(s);
  out += R"(","stop_sequence":null},"usage":{"output_tokens":)";
  append_int(out, s.completion_tokens);
  out += "}}\n\n";
  event(out, "message_stop");
  out += "{\"type\":\"message_stop\"}\n\n";
}

}  // namespace

const MockFormat& mock_anthropic_format() {
  static const AnthropicFormat format;
  return format;
}

}  // namespace torii
