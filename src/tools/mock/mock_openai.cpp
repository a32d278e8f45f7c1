// The OpenAI chat completions format of `torii mock` (also Azure OpenAI's deployment path and
// Cloudflare's OpenAI-compatible path). The JSON is written by hand: the words are stored
// escaped already, and the stream's hot path should not build a DOM per chunk.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include <boost/json.hpp>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kChatPath = "/chat/completions";
constexpr std::string_view kAzurePrefix = "/openai/deployments/";
constexpr std::string_view kToolCallId = "call_mock_1";

constexpr std::string_view kRoleEvent =
    R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"
    "\n\n";
constexpr std::string_view kContentOpen = R"({"index":0,"delta":{"content":")";
constexpr std::string_view kReasoningOpen = R"({"index":0,"delta":{"reasoning_content":")";
constexpr std::string_view kDeltaClose = R"("},"finish_reason":null}]})"
                                         "\n\n";

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// `data: {"id":"<id_prefix><id>","object":"chat.completion.chunk","created":N,"model":"M",
// "choices":[` : what every event of one stream starts with.
void append_chunk_head(std::string& out, std::string_view id_prefix, std::string_view id,
                       std::int64_t created, std::string_view model) {
  out += R"(data: {"id":")";
  out += id_prefix;
  append_json_escaped(out, id);
  out += R"(","object":"chat.completion.chunk","created":)";
  append_int(out, created);
  out += R"(,"model":")";
  append_json_escaped(out, model);
  out += R"(","choices":[)";
}

void append_usage_object(std::string& out, const MockUsage& u) {
  out += R"({"prompt_tokens":)";
  append_int(out, u.prompt_tokens);
  out += R"(,"completion_tokens":)";
  append_int(out, u.completion_tokens);
  out += R"(,"total_tokens":)";
  append_int(out, u.prompt_tokens + u.completion_tokens);
  out += R"(,"prompt_tokens_details":{"cached_tokens":)";
  append_int(out, u.cached_tokens);
  out += R"(},"completion_tokens_details":{"reasoning_tokens":)";
  append_int(out, u.reasoning_tokens);
  out += "}}";
}

void append_finish_event(std::string& out, std::string_view reason) {
  out += R"({"index":0,"delta":{},"finish_reason":")";
  out += reason;
  out += R"("}]})";
  out += "\n\n";
}

MockUsage usage_of(const MockScript& s) {
  return {s.prompt_tokens, s.completion_tokens, s.cached_tokens, s.reasoning_tokens};
}

std::string_view finish_reason(const MockScript& s) {
  if (s.blocked) return "content_filter";
  if (!s.tool_name.empty()) return "tool_calls";
  if (s.truncated) return "length";
  return "stop";
}

// Where to cut `s` in two non-empty fragments without splitting a UTF-8 sequence.
std::size_t split_point(std::string_view s) {
  std::size_t at = s.size() / 2;
  while (at > 1 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return std::max<std::size_t>(at, 1);
}

// The deployment of an Azure path "/openai/deployments/{d}/chat/completions", or "".
std::string_view azure_deployment(std::string_view path) {
  if (!path.starts_with(kAzurePrefix) || !path.ends_with(kChatPath)) return {};
  if (path.size() <= kAzurePrefix.size() + kChatPath.size()) return {};
  std::string_view d = path.substr(kAzurePrefix.size(),
                                   path.size() - kAzurePrefix.size() - kChatPath.size());
  return d.find('/') == std::string_view::npos ? d : std::string_view{};
}

// v[key] when v is an object that has it, else nullptr.
const json::value* member(const json::value* v, std::string_view key) {
  const json::object* o = v ? v->if_object() : nullptr;
  return o ? o->if_contains(key) : nullptr;
}

// A non-negative integer field, absent or null = nullopt; anything else is a 400.
Result<std::optional<std::int64_t>> optional_count(const json::object& req,
                                                   std::string_view name) {
  const json::value* v = req.if_contains(name);
  if (!v || v->is_null()) return std::optional<std::int64_t>{};
  if (v->is_int64() && v->get_int64() >= 0) return std::optional<std::int64_t>{v->get_int64()};
  if (v->is_uint64()) return std::optional<std::int64_t>{INT64_MAX};
  return ApiError::invalid_request("'" + std::string(name) + "' must be a non-negative integer",
                                   std::string(name));
}

class OpenAiFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "openai"; }

  bool matches(std::string_view path) const override {
    // Any ".../chat/completions": vendors put it under their own prefixes (Azure's v1 API,
    // Cloudflare's, a gateway's), and the built-in mock serves them all.
    return path.ends_with(kChatPath);
  }

  Result<MockTurn> parse(std::string_view target, const Headers& headers,
                         std::string_view body) const override;
  std::string whole(const MockScript& s) const override;
  void stream_start(std::string& out, const MockScript& s) const override;
  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override;
  void stream_end(std::string& out, const MockScript& s) const override;
  std::string error_body(const ApiError& e) const override { return to_openai_json(e); }

 private:
  static void head(std::string& out, const MockScript& s) {
    append_chunk_head(out, "chatcmpl-", s.id, s.created, s.model);
  }
};

Result<MockTurn> OpenAiFormat::parse(std::string_view target, const Headers&,
                                     std::string_view body) const {
  // Most requests fit the stack buffer: the DOM is thrown away once the turn is read.
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::error_code ec;
  const json::value doc = json::parse(body, ec, &mr);
  if (ec) return ApiError::invalid_request("malformed JSON in request body: " + ec.message());
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("request body must be a JSON object");

  MockTurn turn;
  const std::string_view path = target.substr(0, target.find('?'));
  if (std::string_view deployment = azure_deployment(path); !deployment.empty()) {
    turn.model = deployment;  // Azure names the model by the deployment in the path
  } else {
    const json::value* model = req->if_contains("model");
    if (!model || !model->is_string() || model->get_string().empty())
      return ApiError::invalid_request("'model' is required and must be a string", "model");
    turn.model = model->get_string();
  }
  const json::value* messages = req->if_contains("messages");
  if (!messages || !messages->is_array())
    return ApiError::invalid_request("'messages' is required and must be an array", "messages");
  if (const json::value* s = req->if_contains("stream"); s && !s->is_null()) {
    if (!s->is_bool()) return ApiError::invalid_request("'stream' must be a boolean", "stream");
    turn.stream = s->get_bool();
  }
  if (const json::value* so = req->if_contains("stream_options"); so && so->is_object()) {
    const json::value* iu = so->get_object().if_contains("include_usage");
    turn.include_usage = iu && iu->is_bool() && iu->get_bool();
  }
  auto max_tokens = optional_count(*req, "max_tokens");
  if (!max_tokens) return max_tokens.error();
  auto max_completion = optional_count(*req, "max_completion_tokens");
  if (!max_completion) return max_completion.error();
  turn.max_tokens = *max_completion ? *max_completion : *max_tokens;

  const json::array& list = messages->get_array();
  bool found_user = false;
  for (auto it = list.rbegin(); it != list.rend(); ++it) {
    const json::object* m = it->if_object();
    const json::value* role = m ? m->if_contains("role") : nullptr;
    if (!role || !role->is_string()) continue;
    if (it == list.rbegin()) turn.last_is_tool_result = role->get_string() == "tool";
    if (found_user || role->get_string() != "user") continue;
    found_user = true;
    if (const json::value* content = m->if_contains("content"))
      append_message_text(turn.last_user_text, *content);
  }
  for (const json::value& m : list) {
    const json::object* o = m.if_object();
    const json::value* content = o ? o->if_contains("content") : nullptr;
    if (!content || !content->is_array()) continue;
    for (const json::value& part : content->get_array()) {
      const json::object* p = part.if_object();
      const json::value* type = p ? p->if_contains("type") : nullptr;
      if (type && type->is_string() && type->get_string() == "image_url") ++turn.images;
    }
  }
  turn.prompt_tokens = estimate_prompt_tokens(*messages);

  const json::value* choice = req->if_contains("tool_choice");
  const bool no_tools = choice && choice->is_string() && choice->get_string() == "none";
  const json::value* tools = req->if_contains("tools");
  if (!no_tools && tools && tools->is_array() && !tools->get_array().empty()) {
    // tool_choice {"type":"function","function":{"name"}} picks the tool; else the first one.
    const json::value* name = member(member(choice, "function"), "name");
    if (!name || !name->is_string())
      name = member(member(&tools->get_array().front(), "function"), "name");
    if (name && name->is_string()) turn.tool_name = name->get_string();
  }
  if (const json::value* effort = req->if_contains("reasoning_effort"))
    turn.thinking = !effort->is_null() && !(effort->is_string() && effort->get_string() == "none");
  if (const json::value* mock = req->if_contains("mock"))
    turn.knobs = json::value(*mock, json::storage_ptr());  // off the stack buffer
  return turn;
}

std::string OpenAiFormat::whole(const MockScript& s) const {
  std::string out;
  out.reserve(400 + s.model.size() + s.tool_args.size() * 2 +
              static_cast<std::size_t>(s.content_words) * 8);
  out += R"({"id":"chatcmpl-)";
  append_json_escaped(out, s.id);
  out += R"(","object":"chat.completion","created":)";
  append_int(out, s.created);
  out += R"(,"model":")";
  append_json_escaped(out, s.model);
  out += R"(","choices":[{"index":0,"message":{"role":"assistant","content":)";
  if (!s.tool_name.empty()) {
    out += "null";
  } else {
    out += '"';
    if (s.words && s.content_words > 0) s.words->append(out, 0, s.content_words);
    out += '"';
  }
  if (s.thinking) {
    out += R"(,"reasoning_content":")";
    append_json_escaped(out, kMockThinking);
    out += '"';
  }
  if (!s.tool_name.empty()) {
    out += R"(,"tool_calls":[{"id":")";
    out += kToolCallId;
    out += R"(","type":"function","function":{"name":")";
    append_json_escaped(out, s.tool_name);
    out += R"(","arguments":")";
    append_json_escaped(out, s.tool_args);
    out += R"("}}])";
  }
  out += R"(},"logprobs":null,"finish_reason":")";
  out += finish_reason(s);
  out += R"("}],"usage":)";
  append_usage_object(out, usage_of(s));
  out += '}';
  return out;
}

void OpenAiFormat::stream_start(std::string& out, const MockScript& s) const {
  head(out, s);
  out += kRoleEvent;
  if (!s.thinking) return;
  // Two reasoning deltas, as DeepSeek and vLLM stream reasoning_content.
  const std::size_t cut = kMockThinking.find(' ', kMockThinking.size() / 2) + 1;
  for (std::string_view part : {kMockThinking.substr(0, cut), kMockThinking.substr(cut)}) {
    head(out, s);
    out += kReasoningOpen;
    append_json_escaped(out, part);
    out += kDeltaClose;
  }
}

void OpenAiFormat::stream_text(std::string& out, const MockScript& s, std::int64_t first,
                               std::int64_t count) const {
  head(out, s);
  out += kContentOpen;
  if (s.words && count > 0) s.words->append(out, first, count);
  out += kDeltaClose;
}

void OpenAiFormat::stream_end(std::string& out, const MockScript& s) const {
  if (!s.tool_name.empty()) {
    head(out, s);
    out += R"({"index":0,"delta":{"tool_calls":[{"index":0,"id":")";
    out += kToolCallId;
    out += R"(","type":"function","function":{"name":")";
    append_json_escaped(out, s.tool_name);
    out += R"(","arguments":""}}]},"finish_reason":null}]})";
    out += "\n\n";
    const std::string_view args = s.tool_args;
    const std::size_t cut = split_point(args);
    for (std::string_view part : {args.substr(0, cut), args.substr(cut)}) {
      head(out, s);
      out += R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":")";
      append_json_escaped(out, part);
      out += R"("}}]},"finish_reason":null}]})";
      out += "\n\n";
    }
  }
  head(out, s);
  append_finish_event(out, finish_reason(s));
  if (s.include_usage) {
    head(out, s);
    out += R"(],"usage":)";
    append_usage_object(out, usage_of(s));
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
}

}  // namespace

const MockFormat& mock_openai_format() {
  static const OpenAiFormat format;
  return format;
}

// The legacy building blocks (mock_wire.h), on the same writers as the format.

MockChunks::MockChunks(std::string_view id, std::int64_t created, std::string_view model) {
  prefix_.reserve(128 + model.size());
  append_chunk_head(prefix_, "", id, created, model);
}

void MockChunks::append_role(std::string& out) const {
  out += prefix_;
  out += kRoleEvent;
}

void MockChunks::append_content(std::string& out, const MockWords& words, std::int64_t first,
                                std::int64_t count) const {
  out += prefix_;
  out += kContentOpen;
  words.append(out, first, count);
  out += kDeltaClose;
}

void MockChunks::append_finish(std::string& out) const {
  out += prefix_;
  append_finish_event(out, "stop");
}

void MockChunks::append_usage(std::string& out, const MockUsage& u) const {
  out += prefix_;
  out += R"(],"usage":)";
  append_usage_object(out, u);
  out += "}\n\n";
}

void MockChunks::append_done(std::string& out) { out += "data: [DONE]\n\n"; }

std::string build_completion_json(std::string_view id, std::int64_t created,
                                  std::string_view model, const MockWords& words,
                                  std::int64_t count, const MockUsage& usage) {
  std::string out;
  out.reserve(320 + model.size() + static_cast<std::size_t>(count) * 8);
  out += R"({"id":")";
  append_json_escaped(out, id);
  out += R"(","object":"chat.completion","created":)";
  append_int(out, created);
  out += R"(,"model":")";
  append_json_escaped(out, model);
  out += R"(","choices":[{"index":0,"message":{"role":"assistant","content":")";
  words.append(out, 0, count);
  out += R"("},"logprobs":null,"finish_reason":"stop"}],"usage":)";
  append_usage_object(out, usage);
  out += '}';
  return out;
}

}  // namespace torii
