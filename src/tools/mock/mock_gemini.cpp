// The Google Gemini format of `torii mock`: POST /v1beta/models/{model}:generateContent and
// :streamGenerateContent?alt=sse (also under /v1/). Streams are SSE events, each a partial
// GenerateContentResponse, separated by CRLF CRLF as Gemini sends them; the stream ends with
// the body (no terminator). Without alt=sse Gemini streams a JSON array: the mock answers 400.
// Also Imagen's POST .../models/{model}:predict and POST .../models/{model}:batchEmbedContents
// (endpoints of mock_endpoint.h; the key header x-goog-api-key is required there).
// Written independently of providers/gemini.cpp: it is the other side of the wire.
#include <algorithm>
#include <charconv>
#include <cstdint>

#include <boost/json.hpp>

#include "tools/mock/mock_embedding.h"
#include "tools/mock/mock_endpoint.h"
#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kGenerate = ":generateContent";
constexpr std::string_view kStream = ":streamGenerateContent";
constexpr std::string_view kPrefixes[] = {"/v1beta/models/", "/v1/models/"};
constexpr std::string_view kEventEnd = "\r\n\r\n";

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The model of a Gemini path and whether it is the streaming method; false when not one.
bool split_path(std::string_view path, std::string_view& model, bool& stream) {
  for (std::string_view prefix : kPrefixes) {
    if (!path.starts_with(prefix)) continue;
    std::string_view rest = path.substr(prefix.size());
    if (rest.ends_with(kGenerate)) {
      model = rest.substr(0, rest.size() - kGenerate.size());
      stream = false;
    } else if (rest.ends_with(kStream)) {
      model = rest.substr(0, rest.size() - kStream.size());
      stream = true;
    } else {
      return false;
    }
    return !model.empty() && model.find('/') == std::string_view::npos;
  }
  return false;
}

bool has_query_param(std::string_view target, std::string_view param) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    if (query.substr(0, amp) == param) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

const json::object* obj(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v ? v->if_object() : nullptr;
}
const json::array* arr(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v ? v->if_array() : nullptr;
}

std::string_view status_name(int status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return "UNKNOWN";
  }
}

// Google's error object: {"error":{"code","message","status","details"?}}.
std::string gemini_error(const ApiError& e) {
  std::string out = R"({"error":{"code":)";
  append_int(out, e.status);
  out += R"(,"message":")";
  append_json_escaped(out, e.message);
  out += R"(","status":")";
  out += status_name(e.status);
  out += '"';
  if (e.status == 429 && !e.retry_after.empty()) {
    out += R"(,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":")";
    append_json_escaped(out, e.retry_after);
    out += "s\"}]";
  }
  out += "}}";
  return out;
}

std::string_view finish_reason(const MockScript& s) {
  if (s.blocked) return "SAFETY";
  if (s.truncated) return "MAX_TOKENS";
  return "STOP";  // also after a function call: Gemini has no "tool calls" reason
}

void append_usage(std::string& out, const MockScript& s) {
  out += R"("usageMetadata":{"promptTokenCount":)";
  append_int(out, s.prompt_tokens);
  out += R"(,"candidatesTokenCount":)";
  append_int(out, s.completion_tokens - s.reasoning_tokens);
  out += R"(,"totalTokenCount":)";
  append_int(out, s.prompt_tokens + s.completion_tokens);
  if (s.cached_tokens > 0) {
    out += R"(,"cachedContentTokenCount":)";
    append_int(out, s.cached_tokens);
  }
  if (s.reasoning_tokens > 0) {
    out += R"(,"thoughtsTokenCount":)";
    append_int(out, s.reasoning_tokens);
  }
  out += '}';
}

void append_tail(std::string& out, const MockScript& s) {
  out += R"(,"modelVersion":")";
  append_json_escaped(out, s.model);
  out += R"(","responseId":")";
  append_json_escaped(out, s.id);
  out += "\"}";
}

void append_thought_part(std::string& out) {
  out += R"({"text":")";
  append_json_escaped(out, kMockThinking);
  out += R"(","thought":true,"thoughtSignature":")";
  out += kMockSignature;
  out += "\"}";
}

void append_call_part(std::string& out, const MockScript& s) {
  out += R"({"functionCall":{"name":")";
  append_json_escaped(out, s.tool_name);
  out += R"(","args":)";
  out += s.tool_args;  // JSON text already
  out += "}}";
}

constexpr std::string_view kBlockedCandidate =
    R"({"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":)"
    R"("HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]})";

class GeminiFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "gemini"; }

  bool matches(std::string_view path) const override {
    std::string_view model;
    bool stream = false;
    return split_path(path, model, stream);
  }

  Result<MockTurn> parse(std::string_view target, const Headers&,
                         std::string_view body) const override;

  std::string whole(const MockScript& s) const override {
    std::string out;
    out.reserve(300 + s.model.size() + s.tool_args.size() +
                static_cast<std::size_t>(s.content_words) * 8);
    out += R"({"candidates":[)";
    if (s.blocked) {
      out += kBlockedCandidate;
    } else {
      out += R"({"content":{"parts":[)";
      if (s.thinking) append_thought_part(out);
      if (!s.tool_name.empty()) {
        if (s.thinking) out += ',';
        append_call_part(out, s);
      } else {
        if (s.thinking) out += ',';
        out += R"({"text":")";
        if (s.words && s.content_words > 0) s.words->append(out, 0, s.content_words);
        out += "\"}";
      }
      out += R"(],"role":"model"},"finishReason":")";
      out += finish_reason(s);
      out += R"(","index":0})";
    }
    out += "],";
    append_usage(out, s);
    append_tail(out, s);
    return out;
  }

  void stream_start(std::string& out, const MockScript& s) const override {
    if (!s.thinking || s.blocked) return;  // the first text chunk opens the stream
    out += R"(data: {"candidates":[{"content":{"parts":[)";
    append_thought_part(out);
    out += R"(],"role":"model"},"index":0}],)";
    partial_usage(out, s);
    append_tail(out, s);
    out += kEventEnd;
  }

  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override {
    out += R"(data: {"candidates":[{"content":{"parts":[{"text":")";
    if (s.words && count > 0) s.words->append(out, first, count);
    out += R"("}],"role":"model"},"index":0}],)";
    partial_usage(out, s);
    append_tail(out, s);
    out += kEventEnd;
  }

  void stream_end(std::string& out, const MockScript& s) const override {
    out += R"(data: {"candidates":[)";
    if (s.blocked) {
      out += kBlockedCandidate;
    } else {
      // Gemini sends a function call whole, in one part: there are no argument fragments.
      out += R"({"content":{"parts":[)";
      if (!s.tool_name.empty()) append_call_part(out, s);
      else out += R"({"text":""})";
      out += R"(],"role":"model"},"finishReason":")";
      out += finish_reason(s);
      out += R"(","index":0})";
    }
    out += "],";
    append_usage(out, s);
    append_tail(out, s);
    out += kEventEnd;
  }

  std::string error_body(const ApiError& e) const override { return gemini_error(e); }

 private:
  // Gemini repeats usageMetadata in every chunk; before the end it knows only the prompt.
  static void partial_usage(std::string& out, const MockScript& s) {
    out += R"("usageMetadata":{"promptTokenCount":)";
    append_int(out, s.prompt_tokens);
    out += R"(,"totalTokenCount":)";
    append_int(out, s.prompt_tokens);
    out += '}';
  }
};

// Text bytes of a Content's parts (for the prompt estimate) and, when `text` is set, the text
// parts joined by spaces.
std::size_t content_text(const json::object& content, std::string* text, int& images,
                         bool& tool_result) {
  std::size_t bytes = 0;
  tool_result = false;
  const json::array* parts = arr(content, "parts");
  if (!parts) return 0;
  for (const json::value& pv : *parts) {
    const json::object* p = pv.if_object();
    if (!p) continue;
    if (const json::value* t = p->if_contains("text"); t && t->is_string()) {
      bytes += t->get_string().size();
      if (text) {
        if (!text->empty()) *text += ' ';
        text->append(t->get_string().data(), t->get_string().size());
      }
    } else if (const json::object* d = obj(*p, "inlineData")) {
      const json::value* mime = d->if_contains("mimeType");
      if (mime && mime->is_string() && mime->get_string().starts_with("image/")) ++images;
    } else if (const json::object* f = obj(*p, "fileData")) {
      const json::value* mime = f->if_contains("mimeType");
      if (mime && mime->is_string() && mime->get_string().starts_with("image/")) ++images;
    } else if (const json::object* r = obj(*p, "functionResponse")) {
      tool_result = true;
      if (const json::value* resp = r->if_contains("response"))
        bytes += json::serialize(*resp).size();
    } else if (const json::object* c = obj(*p, "functionCall")) {
      if (const json::value* args = c->if_contains("args"))
        bytes += json::serialize(*args).size();
    }
  }
  return bytes;
}

Result<MockTurn> GeminiFormat::parse(std::string_view target, const Headers&,
                                     std::string_view body) const {
  MockTurn turn;
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view model;
  if (!split_path(path, model, turn.stream))
    return ApiError::not_found("unknown Gemini method: " + std::string(path));
  turn.model = percent_decode(model);
  if (turn.stream && !has_query_param(target, "alt=sse"))
    return ApiError::invalid_request(
        "the mock streams Server-Sent Events only: add ?alt=sse to streamGenerateContent", "alt");
  turn.include_usage = true;  // Gemini always sends usageMetadata

  json::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec) return ApiError::invalid_request("Invalid JSON payload received: " + ec.message());
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("Invalid JSON payload received: not an object");
  const json::array* contents = arr(*req, "contents");
  if (!contents || contents->empty())
    return ApiError::invalid_request("* GenerateContentRequest.contents: contents is not specified",
                                     "contents");

  std::size_t bytes = 0;
  int images = 0;
  bool tool_result = false;
  if (const json::object* sys = obj(*req, "systemInstruction"))
    bytes += content_text(*sys, nullptr, images, tool_result);
  // The last user turn with text gives the words; the last content says whether the
  // conversation ends with a function response.
  for (std::size_t i = 0; i < contents->size(); ++i) {
    const json::object* c = (*contents)[i].if_object();
    if (!c)
      return ApiError::invalid_request("contents[" + std::to_string(i) + "] must be a Content",
                                       "contents");
    const json::value* role = c->if_contains("role");
    bool user = !role || (role->is_string() && role->get_string() == "user");
    std::string text;
    bytes += content_text(*c, &text, images, tool_result);
    if (user && !text.empty()) {
      turn.last_user_text = std::move(text);
    }
    turn.last_is_tool_result = tool_result;
  }
  turn.images = images;
  turn.prompt_tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>((bytes + 3) / 4));

  bool calls_off = false;
  if (const json::object* tc = obj(*req, "toolConfig"))
    if (const json::object* fc = obj(*tc, "functionCallingConfig")) {
      const json::value* mode = fc->if_contains("mode");
      calls_off = mode && mode->is_string() && mode->get_string() == "NONE";
      const json::array* allowed = arr(*fc, "allowedFunctionNames");
      if (!calls_off && allowed && !allowed->empty() && (*allowed)[0].is_string())
        turn.tool_name = (*allowed)[0].get_string();
    }
  if (const json::array* tools = arr(*req, "tools"); tools && !calls_off && turn.tool_name.empty())
    for (const json::value& t : *tools) {
      const json::object* to = t.if_object();
      const json::array* decls = to ? arr(*to, "functionDeclarations") : nullptr;
      if (!decls || decls->empty() || !(*decls)[0].is_object()) continue;
      const json::value* name = (*decls)[0].get_object().if_contains("name");
      if (name && name->is_string()) turn.tool_name = name->get_string();
      break;
    }

  if (const json::object* gc = obj(*req, "generationConfig")) {
    if (const json::value* m = gc->if_contains("maxOutputTokens")) {
      if (!m->is_int64() || m->get_int64() < 0)
        return ApiError::invalid_request(
            "generationConfig.maxOutputTokens must be a non-negative integer",
            "generationConfig.maxOutputTokens");
      turn.max_tokens = m->get_int64();
    }
    if (const json::object* th = obj(*gc, "thinkingConfig")) {
      const json::value* include = th->if_contains("includeThoughts");
      const json::value* budget = th->if_contains("thinkingBudget");
      bool zero = budget && budget->is_int64() && budget->get_int64() == 0;
      turn.thinking = include && include->is_bool() && include->get_bool() && !zero;
    }
  }
  if (const json::value* mock = req->if_contains("mock")) turn.knobs = *mock;
  return turn;
}

// --- Imagen and embeddings (mock_endpoint.h) ---------------------------------------------------

// The model of "/v1beta/models/{model}{method}" (also /v1/), or "" when the path is not that.
std::string_view method_model(std::string_view path, std::string_view method) {
  for (std::string_view prefix : kPrefixes) {
    if (!path.starts_with(prefix) || !path.ends_with(method)) continue;
    std::string_view model =
        path.substr(prefix.size(), path.size() - prefix.size() - method.size());
    if (!model.empty() && model.find('/') == std::string_view::npos) return model;
  }
  return {};
}

// Gemini refuses a call without a key (the mock checks presence, not value).
std::optional<ApiError> missing_key(const MockRequest& req) {
  if (!req.header("x-goog-api-key").empty()) return std::nullopt;
  return ApiError::permission(
      "Method doesn't allow unregistered callers (callers without established identity). "
      "Please use API Key or other form of API consumer identity to call this API.");
}

class GeminiEndpoint : public MockEndpoint {
 public:
  MockAnswer error(const ApiError& e) const override {
    MockAnswer a;
    a.status = e.status;
    a.body = gemini_error(e);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
};

constexpr std::string_view kPredict = ":predict";
constexpr std::string_view kImagenRatios[] = {"1:1", "3:4", "4:3", "9:16", "16:9"};

// POST .../models/{model}:predict (Imagen): {"instances":[{"prompt"}],"parameters":
// {"sampleCount" 1..4 (default 4),"aspectRatio"?}} → {"predictions":[{"mimeType",
// "bytesBase64Encoded"}...]}; with the knob blocked=1 every image is filtered: {}.
class ImagenPredict final : public GeminiEndpoint {
 public:
  std::string_view name() const override { return "gemini-predict"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return method == "POST" && !method_model(path, kPredict).empty();
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs& knobs, MockJobs&) const override {
    if (auto e = missing_key(req)) return error(*e);
    json::error_code ec;
    const json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object())
      return error(ApiError::invalid_request("Invalid JSON payload received."));
    const json::object& o = doc.get_object();
    for (const auto& kv : o)
      if (kv.key() != "instances" && kv.key() != "parameters")
        return error(ApiError::invalid_request("Invalid JSON payload received. Unknown name \"" +
                                               std::string(kv.key()) + "\": Cannot find field."));
    const json::array* instances = arr(o, "instances");
    const json::object* first =
        instances && !instances->empty() ? (*instances)[0].if_object() : nullptr;
    const json::value* prompt = first ? first->if_contains("prompt") : nullptr;
    if (!prompt || !prompt->is_string() || prompt->get_string().empty())
      return error(ApiError::invalid_request("instances[0].prompt is required", "prompt"));
    std::int64_t count = 4;  // Imagen's default
    if (const json::object* p = obj(o, "parameters")) {
      if (const json::value* n = p->if_contains("sampleCount")) {
        if (!n->is_int64() || n->get_int64() < 1 || n->get_int64() > 4)
          return error(ApiError::invalid_request("sampleCount must be 1 to 4", "sampleCount"));
        count = n->get_int64();
      }
      if (const json::value* r = p->if_contains("aspectRatio")) {
        bool known = false;
        for (std::string_view k : kImagenRatios)
          known = known || (r->is_string() && r->get_string() == k);
        if (!known)
          return error(ApiError::invalid_request(
              "aspectRatio must be one of 1:1, 3:4, 4:3, 9:16, 16:9", "aspectRatio"));
      }
    }
    if (knobs.blocked) return MockAnswer::json("{}");
    std::string out = R"({"predictions":[)";
    for (std::int64_t i = 0; i < count; ++i) {
      if (i) out += ',';
      out += R"({"mimeType":"image/png","bytesBase64Encoded":")";
      out += kMockPngB64;
      out += "\"}";
    }
    out += "]}";
    return MockAnswer::json(std::move(out));
  }
};

constexpr std::string_view kBatchEmbed = ":batchEmbedContents";
constexpr int kEmbedDims = 768, kMaxEmbedDims = 3072;
constexpr std::size_t kMaxEmbedBatch = 100;

// POST .../models/{model}:batchEmbedContents: {"requests":[{"model":"models/{model}",
// "content":{"parts":[{"text"}...]},"outputDimensionality"?}...]} (at most 100; each model the
// URL's) → {"embeddings":[{"values":[...]}...]}, mock_embedding of each request's text (768
// dimensions by default, 1..3072).
class GeminiBatchEmbed final : public GeminiEndpoint {
 public:
  std::string_view name() const override { return "gemini-embed"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return method == "POST" && !method_model(path, kBatchEmbed).empty();
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    if (auto e = missing_key(req)) return error(*e);
    const std::string model = "models/" + percent_decode(method_model(req.path, kBatchEmbed));
    json::error_code ec;
    const json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object())
      return error(ApiError::invalid_request("Invalid JSON payload received."));
    const json::array* requests = arr(doc.get_object(), "requests");
    if (!requests || requests->empty())
      return error(ApiError::invalid_request("* BatchEmbedContentsRequest.requests: requests is "
                                             "not specified", "requests"));
    if (requests->size() > kMaxEmbedBatch)
      return error(ApiError::invalid_request("* BatchEmbedContentsRequest.requests: at most 100 "
                                             "requests can be in one batch", "requests"));
    std::string out = R"({"embeddings":[)";
    for (std::size_t i = 0; i < requests->size(); ++i) {
      const std::string at = "requests[" + std::to_string(i) + "]";
      const json::object* r = (*requests)[i].if_object();
      if (!r) return error(ApiError::invalid_request(at + " must be an EmbedContentRequest", at));
      const json::value* m = r->if_contains("model");
      if (!m || !m->is_string() || m->get_string() != model)
        return error(ApiError::invalid_request(
            at + ".model must be the batch's model, " + model, at + ".model"));
      std::string text;
      const json::object* content = obj(*r, "content");
      if (const json::array* parts = content ? arr(*content, "parts") : nullptr)
        for (const json::value& p : *parts)
          if (const json::object* po = p.if_object())
            if (const json::value* t = po->if_contains("text"); t && t->is_string())
              text.append(t->get_string().data(), t->get_string().size());
      if (text.empty())
        return error(ApiError::invalid_request(at + ".content must have text", at + ".content"));
      int dims = kEmbedDims;
      if (const json::value* d = r->if_contains("outputDimensionality")) {
        if (!d->is_int64() || d->get_int64() < 1 || d->get_int64() > kMaxEmbedDims)
          return error(ApiError::invalid_request(at + ".outputDimensionality must be 1 to 3072",
                                                 at + ".outputDimensionality"));
        dims = static_cast<int>(d->get_int64());
      }
      if (i) out += ',';
      out += R"({"values":[)";
      const std::vector<float> v = mock_embedding(text, dims);
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (k) out += ',';
        char buf[32];
        auto [end, fe] = std::to_chars(buf, buf + sizeof buf, v[k]);
        out.append(buf, end);
      }
      out += "]}";
    }
    out += "]}";
    return MockAnswer::json(std::move(out));
  }
};

}  // namespace

const MockFormat& mock_gemini_format() {
  static const GeminiFormat format;
  return format;
}
const MockEndpoint& mock_gemini_predict() {
  static const ImagenPredict e;
  return e;
}
const MockEndpoint& mock_gemini_embed() {
  static const GeminiBatchEmbed e;
  return e;
}

}  // namespace torii
