#include "api/openai_chat.h"

#include <boost/json/parse.hpp>

#include "api/inbound.h"
#include "providers/openai_format.h"

namespace torii {
namespace json = boost::json;

namespace {

ApiError field_error(std::string field, std::string what) {
  std::string msg = "'" + field + "' " + what;
  return ApiError::invalid_request(std::move(msg), std::move(field));
}

bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }
bool is_number(const json::value& v) { return v.is_number(); }

// `allow_empty`: the request names a prompt template, which becomes its message.
Result<void> check_messages(const json::value& v, bool allow_empty) {
  if (!v.is_array()) return field_error("messages", "must be an array of messages");
  const auto& arr = v.get_array();
  if (arr.empty() && !allow_empty)
    return field_error("messages", "must contain at least one message");
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string at = "messages[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) return field_error(at, "must be an object");
    const auto& m = arr[i].get_object();
    auto role = m.if_contains("role");
    if (!role || !role->is_string()) return field_error(at + ".role", "must be a string");
    auto content = m.if_contains("content");
    if (content && !content->is_string() && !content->is_array() && !content->is_null())
      return field_error(at + ".content", "must be a string, an array of parts or null");
  }
  return {};
}

}  // namespace

Result<ChatRequestInfo> decode_openai_chat(std::string_view body, json::object& out) {
  if (body.empty()) return ApiError::invalid_request("request body is empty; expected a JSON object");
  json::parse_options opt;
  opt.max_depth = 64;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, out.storage(), opt);  // in out's arena, then moved
  if (ec) return ApiError::invalid_request("request body is not valid JSON: " + ec.message());
  if (!v.is_object()) return ApiError::invalid_request("request body must be a JSON object");
  out = std::move(v.get_object());

  ChatRequestInfo info;
  auto model = out.if_contains("model");
  if (!model) return field_error("model", "is required");
  if (!model->is_string() || model->get_string().empty())
    return field_error("model", "must be a non-empty string");
  info.model = std::string(model->get_string());

  auto messages = out.if_contains("messages");
  if (!messages) return field_error("messages", "is required");
  if (auto r = check_messages(*messages, names_prompt_template(out)); !r) return r.error();

  if (auto s = out.if_contains("stream"); s && !s->is_null()) {
    if (!s->is_bool()) return field_error("stream", "must be a boolean");
    info.stream = s->get_bool();
  }
  if (auto so = out.if_contains("stream_options"); so && !so->is_null()) {
    if (!so->is_object()) return field_error("stream_options", "must be an object");
    if (auto iu = so->get_object().if_contains("include_usage"); iu && !iu->is_null()) {
      if (!iu->is_bool()) return field_error("stream_options.include_usage", "must be a boolean");
      info.include_usage = iu->get_bool();
    }
  }
  for (const char* f : {"temperature", "top_p", "presence_penalty", "frequency_penalty"}) {
    if (auto x = out.if_contains(f); x && !x->is_null() && !is_number(*x))
      return field_error(f, "must be a number");
  }
  for (const char* f : {"max_tokens", "max_completion_tokens", "n", "seed"}) {
    if (auto x = out.if_contains(f); x && !x->is_null() && !is_integer(*x))
      return field_error(f, "must be an integer");
  }
  if (auto n = out.if_contains("n"); n && n->is_int64() && n->get_int64() < 1)
    return field_error("n", "must be at least 1");
  if (auto t = out.if_contains("tools"); t && !t->is_null() && !t->is_array())
    return field_error("tools", "must be an array");
  if (auto st = out.if_contains("stop"); st && !st->is_null() && !st->is_string() && !st->is_array())
    return field_error("stop", "must be a string or an array of strings");
  return info;
}

void append_sse_data(std::string& out, std::string_view json) {
  out.append("data: ").append(json).append("\n\n");
}


// --- the inbound codec ------------------------------------------------------------------------

namespace {

class OpenAiChatStream final : public StreamEncoder {
 public:
  explicit OpenAiChatStream(bool include_usage)
      : include_usage_(include_usage), writer_(include_usage) {}
  void event(const StreamEvent& e) override { writer_.write(e, out); }
  void raw(std::string_view, std::string_view data, bool usage_only) override {
    if (usage_only && !include_usage_) return;  // torii asked for it; the client did not
    append_sse_data(out, data);
  }
  void finish() override { out.append(kSseDone); }
  void fail(const ApiError& e) override { append_sse_data(out, to_openai_json(e)); }

 private:
  bool include_usage_;
  OpenAiChunkWriter writer_;
};

class OpenAiChatCodec final : public InboundCodec {
 public:
  WireFormat format() const override { return WireFormat::openai_chat; }
  Result<InboundInfo> parse(std::string_view body, json::object& raw) const override {
    auto r = decode_openai_chat(body, raw);
    if (!r) return r.error();
    return InboundInfo{std::move(r->model), r->stream, r->include_usage};
  }
  Result<void> to_canonical(const json::object& raw, ChatRequest& out) const override {
    return openai_request_to_canonical(raw, out);
  }
  std::string encode_result(const ChatResult& result) const override {
    return canonical_to_openai_response(result);
  }
  std::unique_ptr<StreamEncoder> stream_encoder(const InboundInfo& info) const override {
    return std::make_unique<OpenAiChatStream>(info.include_usage);
  }
  std::string error_body(const ApiError& e) const override { return to_openai_json(e); }
};

}  // namespace

const InboundCodec& openai_chat_codec() {
  static const OpenAiChatCodec codec;
  return codec;
}

}  // namespace torii
