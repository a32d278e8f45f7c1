// The OpenAI legacy completions format of `torii mock` (POST /v1/completions): a
// text_completion object, or `data:` chunks ending with `data: [DONE]`. Written from the public
// OpenAI API reference, independently of the gateway's codec in src/api/. There are no tool
// calls and no roles in this API: one prompt in, one choice of text out.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include <boost/json.hpp>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;

namespace {

// The API's default when max_tokens is absent: answers are cut at 16 tokens.
constexpr std::int64_t kDefaultMaxTokens = 16;

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

std::string_view finish_reason(const MockScript& s) {
  if (s.blocked) return "content_filter";
  if (s.truncated) return "length";
  return "stop";
}

// {"id":"cmpl-<id>","object":"text_completion","created":N,"model":"M","choices":[
void append_head(std::string& out, const MockScript& s) {
  out += R"({"id":"cmpl-)";
  append_json_escaped(out, s.id);
  out += R"(","object":"text_completion","created":)";
  append_int(out, s.created);
  out += R"(,"model":")";
  append_json_escaped(out, s.model);
  out += R"(","choices":[)";
}

// One choice: the words [first, first + count), and the finish reason or null.
void append_choice(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count, std::string_view finish) {
  out += R"({"text":")";
  if (s.words && count > 0) s.words->append(out, first, count);
  out += R"(","index":0,"logprobs":null,"finish_reason":)";
  if (finish.empty()) {
    out += "null";
  } else {
    out += '"';
    out += finish;
    out += '"';
  }
  out += '}';
}

void append_usage(std::string& out, const MockScript& s) {
  out += R"({"prompt_tokens":)";
  append_int(out, s.prompt_tokens);
  out += R"(,"completion_tokens":)";
  append_int(out, s.completion_tokens);
  out += R"(,"total_tokens":)";
  append_int(out, s.prompt_tokens + s.completion_tokens);
  out += R"(,"prompt_tokens_details":{"cached_tokens":)";
  append_int(out, s.cached_tokens);
  out += R"(},"completion_tokens_details":{"reasoning_tokens":)";
  append_int(out, s.reasoning_tokens);
  out += "}}";
}

class CompletionsFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "openai-completions"; }
  bool matches(std::string_view path) const override {
    return path == "/v1/completions" || path == "/completions";
  }
  Result<MockTurn> parse(std::string_view target, const Headers& headers,
                         std::string_view body) const override;

  std::string whole(const MockScript& s) const override {
    std::string out;
    out.reserve(360 + s.model.size() + static_cast<std::size_t>(s.content_words) * 8);
    append_head(out, s);
    append_choice(out, s, 0, s.content_words, finish_reason(s));
    out += R"(],"usage":)";
    append_usage(out, s);
    out += '}';
    return out;
  }

  // The API sends no role event: the first chunk already carries text.
  void stream_start(std::string&, const MockScript&) const override {}

  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override {
    out += "data: ";
    append_head(out, s);
    append_choice(out, s, first, count, {});
    out += "]}\n\n";
  }

  void stream_end(std::string& out, const MockScript& s) const override {
    out += "data: ";
    append_head(out, s);
    append_choice(out, s, 0, 0, finish_reason(s));
    out += "]}\n\n";
    if (s.include_usage) {
      out += "data: ";
      append_head(out, s);
      out += R"(],"usage":)";
      append_usage(out, s);
      out += "}\n\n";
    }
    out += "data: [DONE]\n\n";
  }

  std::string error_body(const ApiError& e) const override { return to_openai_json(e); }
};

Result<MockTurn> CompletionsFormat::parse(std::string_view, const Headers&,
                                          std::string_view body) const {
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::error_code ec;
  const json::value doc = json::parse(body, ec, &mr);
  if (ec) return ApiError::invalid_request("malformed JSON in request body: " + ec.message());
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("request body must be a JSON object");

  MockTurn turn;
  const json::value* model = req->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty())
    return ApiError::invalid_request("'model' is required and must be a string", "model");
  turn.model = model->get_string();

  // prompt: a string, or an array of prompts (strings, or token arrays). The mock answers one
  // choice, to the last text prompt; every prompt counts in the usage.
  const json::value* prompt = req->if_contains("prompt");
  auto bad_prompt = [] {
    return ApiError::invalid_request("'prompt' is required and must be a string or an array",
                                     "prompt");
  };
  if (!prompt) return bad_prompt();
  std::int64_t bytes = 0, tokens = 0;
  if (prompt->is_string()) {
    turn.last_user_text = prompt->get_string();
    bytes = std::int64_t(turn.last_user_text.size());
  } else if (const json::array* list = prompt->if_array()) {
    for (const json::value& p : *list) {
      if (p.is_string()) {
        turn.last_user_text = p.get_string();
        bytes += std::int64_t(turn.last_user_text.size());
      } else if (p.is_int64() || p.is_uint64()) {
        ++tokens;  // one prompt given as token ids
      } else if (const json::array* ids = p.if_array()) {
        tokens += std::int64_t(ids->size());
      } else {
        return bad_prompt();
      }
    }
  } else {
    return bad_prompt();
  }
  turn.prompt_tokens = std::max<std::int64_t>(1, (bytes + 3) / 4 + tokens);

  if (const json::value* s = req->if_contains("stream"); s && !s->is_null()) {
    if (!s->is_bool()) return ApiError::invalid_request("'stream' must be a boolean", "stream");
    turn.stream = s->get_bool();
  }
  if (const json::value* so = req->if_contains("stream_options"); so && so->is_object()) {
    const json::value* iu = so->get_object().if_contains("include_usage");
    turn.include_usage = iu && iu->is_bool() && iu->get_bool();
  }
  turn.max_tokens = kDefaultMaxTokens;
  if (const json::value* mt = req->if_contains("max_tokens"); mt && !mt->is_null()) {
    if (mt->is_int64() && mt->get_int64() >= 0) turn.max_tokens = mt->get_int64();
    else if (mt->is_uint64()) turn.max_tokens = INT64_MAX;
    else
      return ApiError::invalid_request("'max_tokens' must be a non-negative integer",
                                       "max_tokens");
  }
  if (const json::value* mock = req->if_contains("mock"))
    turn.knobs = json::value(*mock, json::storage_ptr());  // off the stack buffer
  return turn;
}

}  // namespace

const MockFormat& mock_completions_format() {
  static const CompletionsFormat format;
  return format;
}

}  // namespace torii
