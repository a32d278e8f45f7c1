// The native embeddings endpoints of `torii mock`, each with the vendor's own request checks,
// answer and error shapes, over the deterministic test embedding (mock_embedding.h):
//   POST /v2/embed              Cohere: Bearer key; {"model","texts","input_type",
//                               "embedding_types","output_dimension","truncate"} ->
//                               {"id","embeddings":{"float":[[...]]},"texts","meta":{"billed_units"}}
//   POST /model/{id}/invoke     Bedrock InvokeModel (SigV4 Authorization and X-Amz-Date
//                               required, not verified): Amazon Titan embeddings (one
//                               inputText per call) and Cohere embed models ("texts")
//   POST /api/embed             Ollama: {"model","input","dimensions","truncate","options",
//                               "keep_alive"} -> {"model","embeddings","prompt_eval_count"}
// Token counts are about one per 4 bytes of each text (at least 1 each), as the OpenAI
// embeddings endpoint of the mock counts them. Written apart from the adapters (src/providers/).
#include <algorithm>
#include <atomic>
#include <charconv>

#include <boost/json.hpp>

#include "tools/mock/mock_embedding.h"
#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;

namespace {

std::atomic<std::int64_t> next_embed_id{0};

std::int64_t tokens_of(std::string_view text) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(text.size() / 4));
}

void append_vector(std::string& out, const std::vector<float>& v) {
  out += '[';
  char buf[32];
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, end);
  }
  out += ']';
}

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s);
  out += '"';
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// A JSON integer in [1, max], or -1.
std::int64_t positive_int(const json::value& v, std::int64_t max) {
  std::int64_t n = -1;
  if (v.is_int64()) n = v.get_int64();
  else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(max)) n = static_cast<std::int64_t>(v.get_uint64());
  return n >= 1 && n <= max ? n : -1;
}

// "texts": 1 to 96 strings (Cohere, native and on Bedrock).
Result<std::vector<std::string>> cohere_texts(const json::object& o) {
  const json::value* t = o.if_contains("texts");
  if (!t || !t->is_array() || t->get_array().empty())
    return ApiError::invalid_request("invalid request: texts must be a non-empty list of strings",
                                     "texts");
  if (t->get_array().size() > 96)
    return ApiError::invalid_request("invalid request: texts must have at most 96 items", "texts");
  std::vector<std::string> out;
  for (const json::value& x : t->get_array()) {
    if (!x.is_string())
      return ApiError::invalid_request("invalid request: texts must be strings", "texts");
    out.emplace_back(x.get_string());
  }
  return out;
}

Result<void> cohere_input_type(const json::object& o) {
  const json::value* t = o.if_contains("input_type");
  if (!t) return ApiError::invalid_request("invalid request: input_type is required", "input_type");
  const std::string_view s = t->is_string() ? std::string_view(t->get_string()) : "";
  if (s != "search_document" && s != "search_query" && s != "classification" &&
      s != "clustering" && s != "image")
    return ApiError::invalid_request("invalid request: input_type must be one of search_document, "
                                     "search_query, classification, clustering, image",
                                     "input_type");
  return {};
}

// Cohere's output_dimension: embed v4 and later only, 256/512/1024/1536. `dims` keeps the
// model's default when absent.
Result<void> cohere_dimension(const json::object& o, std::string_view model, int& dims) {
  dims = contains(model, "v3") ? 1024 : 1536;
  const json::value* d = o.if_contains("output_dimension");
  if (!d || d->is_null()) return {};
  if (contains(model, "v3"))
    return ApiError::invalid_request("invalid request: output_dimension is not supported for " +
                                         std::string(model),
                                     "output_dimension");
  const std::int64_t n = positive_int(*d, 4096);
  if (n != 256 && n != 512 && n != 1024 && n != 1536)
    return ApiError::invalid_request(
        "invalid request: output_dimension must be one of 256, 512, 1024, 1536", "output_dimension");
  dims = static_cast<int>(n);
  return {};
}

// "embedding_types": absent, or a list the mock can make (float only). Returns whether given.
Result<bool> cohere_types(const json::object& o) {
  const json::value* t = o.if_contains("embedding_types");
  if (!t) return false;
  if (!t->is_array() || t->get_array().empty())
    return ApiError::invalid_request("invalid request: embedding_types must be a list",
                                     "embedding_types");
  for (const json::value& x : t->get_array())
    if (!x.is_string() || x.get_string() != "float")
      return ApiError::invalid_request("the mock makes float embeddings only", "embedding_types");
  return true;
}

Result<json::object> json_body(std::string_view body) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object())
    return ApiError::invalid_request("invalid request: the body must be a JSON object");
  return std::move(doc.get_object());
}

// --- Cohere: POST /v2/embed ------------------------------------------------------------------

class CohereEmbed final : public MockEndpoint {
 public:
  std::string_view name() const override { return "cohere-embed"; }
  bool matches(std::string_view, std::string_view path) const override {
    return path == "/v2/embed";
  }
  // {"id":"…","message":"…"}.
  MockAnswer error(const ApiError& e) const override {
    std::string body = R"({"id":"mock-error","message":)";
    append_quoted(body, e.message);
    body += '}';
    MockAnswer a = MockAnswer::json(std::move(body), e.status);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    if (req.method != "POST") return error(method_not_allowed(req.method));
    const std::string_view auth = req.header("authorization");
    if (!auth.starts_with("Bearer ") || auth.size() <= 7)
      return error(ApiError::authentication("no api key supplied"));
    auto o = json_body(req.body);
    if (!o) return error(o.error());
    const json::value* model = o->if_contains("model");
    if (!model || !model->is_string() || model->get_string().empty())
      return error(ApiError::invalid_request("invalid request: model is required", "model"));
    if (o->contains("images") || o->contains("inputs"))
      return error(ApiError::invalid_request("the mock embeds texts only"));
    auto texts = cohere_texts(*o);
    if (!texts) return error(texts.error());
    if (auto r = cohere_input_type(*o); !r) return error(r.error());
    if (auto r = cohere_types(*o); !r) return error(r.error());
    int dims = 0;
    if (auto r = cohere_dimension(*o, model->get_string(), dims); !r) return error(r.error());
    if (const json::value* t = o->if_contains("truncate")) {
      const std::string_view s = t->is_string() ? std::string_view(t->get_string()) : "";
      if (s != "NONE" && s != "START" && s != "END")
        return error(ApiError::invalid_request("invalid request: truncate must be NONE, START or END",
                                               "truncate"));
    }
    std::string out = R"({"id":"embed-mock-)" + std::to_string(++next_embed_id) +
                      R"(","embeddings":{"float":[)";
    std::int64_t tokens = 0;
    for (std::size_t i = 0; i < texts->size(); ++i) {
      if (i) out += ',';
      append_vector(out, mock_embedding((*texts)[i], dims));
      tokens += tokens_of((*texts)[i]);
    }
    out += R"(]},"texts":[)";
    for (std::size_t i = 0; i < texts->size(); ++i) {
      if (i) out += ',';
      append_quoted(out, (*texts)[i]);
    }
    out += R"(],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":)" +
           std::to_string(tokens) + R"(}},"response_type":"embeddings_by_type"})";
    return MockAnswer::json(std::move(out));
  }

  static ApiError method_not_allowed(std::string_view method) {
    ApiError e = ApiError::invalid_request("method " + std::string(method) + " is not allowed");
    e.status = 405;
    return e;
  }
};

// --- Bedrock: POST /model/{id}/invoke --------------------------------------------------------

// The model id of "/model/{id}/invoke" (percent-decoded), or "" when the path is not one.
std::string invoke_model(std::string_view path) {
  constexpr std::string_view kPrefix = "/model/", kSuffix = "/invoke";
  if (!path.starts_with(kPrefix) || !path.ends_with(kSuffix) ||
      path.size() <= kPrefix.size() + kSuffix.size())
    return {};
  std::string_view enc = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (contains(enc, "/")) return {};
  std::string id;
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                        : c >= 'a' && c <= 'f'   ? c - 'a' + 10 : -1;
  };
  for (std::size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '%' && i + 2 < enc.size() && hex(enc[i + 1]) >= 0 && hex(enc[i + 2]) >= 0) {
      id.push_back(static_cast<char>(hex(enc[i + 1]) * 16 + hex(enc[i + 2])));
      i += 2;
    } else {
      id.push_back(enc[i]);
    }
  }
  return id;
}

ApiError extraneous(std::string_view key) {
  return ApiError::invalid_request("Malformed input request: extraneous key [" + std::string(key) +
                                       "] is not permitted, please reformat your input and try again.",
                                   std::string(key));
}

class BedrockInvoke final : public MockEndpoint {
 public:
  std::string_view name() const override { return "bedrock-invoke"; }
  bool matches(std::string_view, std::string_view path) const override {
    return !invoke_model(path).empty();
  }
  // {"message":"…"} with x-amzn-ErrorType, as Bedrock answers.
  MockAnswer error(const ApiError& e) const override {
    std::string body = R"({"message":)";
    append_quoted(body, e.message);
    body += '}';
    MockAnswer a = MockAnswer::json(std::move(body), e.status);
    const char* type = e.status == 403   ? "AccessDeniedException"
                       : e.status == 404 ? "ResourceNotFoundException"
                       : e.status == 429 ? "ThrottlingException"
                       : e.status >= 500 ? "InternalServerException"
                                         : "ValidationException";
    a.headers.emplace_back("x-amzn-errortype", type);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    if (req.method != "POST") return error(CohereEmbed::method_not_allowed(req.method));
    const std::string_view auth = req.header("authorization");
    if (!auth.starts_with("AWS4-HMAC-SHA256 Credential=") || !contains(auth, "SignedHeaders=") ||
        !contains(auth, "Signature=") || req.header("x-amz-date").empty())
      return error(ApiError::permission(
          "missing AWS SigV4 authorization (Authorization, X-Amz-Date)"));
    const std::string model = invoke_model(req.path);
    auto o = json_body(req.body);
    if (!o) return error(o.error());
    if (contains(model, "cohere.embed")) return cohere(model, *o);
    if (contains(model, "titan-embed")) return titan(model, *o);
    return error(ApiError::invalid_request("The provided model identifier is invalid."));
  }

 private:
  // Titan: v2 {"inputText","dimensions","normalize","embeddingTypes"}; G1 {"inputText"};
  // multimodal {"inputText","inputImage","embeddingConfig":{"outputEmbeddingLength"}}.
  MockAnswer titan(std::string_view model, const json::object& o) const {
    const bool image = contains(model, "titan-embed-image");
    const bool g1 = contains(model, "titan-embed-text-v1") || contains(model, "titan-embed-g1");
    int dims = g1 ? 1536 : 1024;
    for (const auto& kv : o) {
      const std::string_view k = kv.key();
      if (k == "inputText") continue;
      if (!g1 && !image && (k == "dimensions" || k == "normalize" || k == "embeddingTypes")) continue;
      if (image && (k == "inputImage" || k == "embeddingConfig")) continue;
      return error(extraneous(k));
    }
    const json::value* text = o.if_contains("inputText");
    if (!text || !text->is_string() || text->get_string().empty())
      return error(ApiError::invalid_request(
          "Malformed input request: #: required key [inputText] not found", "inputText"));
    if (const json::value* d = o.if_contains("dimensions")) {
      const std::int64_t n = positive_int(*d, 4096);
      if (n != 256 && n != 512 && n != 1024)
        return error(ApiError::invalid_request(
            "Malformed input request: #/dimensions: 256, 512 or 1024 expected", "dimensions"));
      dims = static_cast<int>(n);
    }
    if (const json::value* n = o.if_contains("normalize"); n && !n->is_bool())
      return error(ApiError::invalid_request(
          "Malformed input request: #/normalize: expected type: Boolean", "normalize"));
    if (const json::value* c = o.if_contains("embeddingConfig")) {
      const json::value* len = c->is_object() ? c->get_object().if_contains("outputEmbeddingLength")
                                              : nullptr;
      const std::int64_t n = len ? positive_int(*len, 4096) : -1;
      if (n != 256 && n != 384 && n != 1024)
        return error(ApiError::invalid_request(
            "Malformed input request: #/embeddingConfig/outputEmbeddingLength: 256, 384 or 1024 "
            "expected",
            "embeddingConfig"));
      dims = static_cast<int>(n);
    }
    const std::vector<float> v = mock_embedding(text->get_string(), dims);
    std::string out = R"({"embedding":)";
    append_vector(out, v);
    out += R"(,"inputTextTokenCount":)" + std::to_string(tokens_of(text->get_string()));
    if (!g1 && !image) {
      out += R"(,"embeddingsByType":{"float":)";
      append_vector(out, v);
      out += '}';
    }
    out += '}';
    return MockAnswer::json(std::move(out));
  }

  // Cohere embed on Bedrock: no "model" in the body; "embeddings" is a list of vectors, or an
  // object by type when embedding_types was given.
  MockAnswer cohere(std::string_view model, const json::object& o) const {
    for (const auto& kv : o) {
      const std::string_view k = kv.key();
      if (k != "texts" && k != "input_type" && k != "truncate" && k != "embedding_types" &&
          k != "images" && k != "output_dimension" && k != "max_tokens" && k != "inputs")
        return error(extraneous(k));
    }
    if (o.contains("images") || o.contains("inputs"))
      return error(ApiError::invalid_request("the mock embeds texts only"));
    auto texts = cohere_texts(o);
    if (!texts) return error(texts.error());
    if (auto r = cohere_input_type(o); !r) return error(r.error());
    auto by_type = cohere_types(o);
    if (!by_type) return error(by_type.error());
    int dims = 0;
    if (auto r = cohere_dimension(o, model, dims); !r) return error(r.error());
    std::string out = R"({"embeddings":)";
    out += *by_type ? R"({"float":[)" : "[";
    for (std::size_t i = 0; i < texts->size(); ++i) {
      if (i) out += ',';
      append_vector(out, mock_embedding((*texts)[i], dims));
    }
    out += *by_type ? "]}" : "]";
    out += R"(,"id":"embed-mock-)" + std::to_string(++next_embed_id) + R"(","response_type":)";
    out += *by_type ? R"("embeddings_by_type")" : R"("embeddings_floats")";
    out += R"(,"texts":[)";
    for (std::size_t i = 0; i < texts->size(); ++i) {
      if (i) out += ',';
      append_quoted(out, (*texts)[i]);
    }
    out += "]}";
    return MockAnswer::json(std::move(out));
  }
};

// --- Ollama: POST /api/embed -----------------------------------------------------------------

class OllamaEmbed final : public MockEndpoint {
 public:
  std::string_view name() const override { return "ollama-embed"; }
  bool matches(std::string_view, std::string_view path) const override {
    return path == "/api/embed";
  }
  // {"error":"…"}.
  MockAnswer error(const ApiError& e) const override {
    std::string body = R"({"error":)";
    append_quoted(body, e.message);
    body += '}';
    MockAnswer a = MockAnswer::json(std::move(body), e.status);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    if (req.method != "POST") return error(CohereEmbed::method_not_allowed(req.method));
    auto o = json_body(req.body);
    if (!o) return error(o.error());
    const json::value* model = o->if_contains("model");
    if (!model || !model->is_string() || model->get_string().empty())
      return error(ApiError::invalid_request("model is required", "model"));
    std::vector<std::string> texts;
    const json::value* input = o->if_contains("input");
    if (input && input->is_string()) {
      texts.emplace_back(input->get_string());
    } else if (input && input->is_array()) {
      for (const json::value& x : input->get_array()) {
        if (!x.is_string())
          return error(ApiError::invalid_request("invalid input type", "input"));
        texts.emplace_back(x.get_string());
      }
    } else {
      return error(ApiError::invalid_request("invalid input type", "input"));
    }
    int dims = 768;
    if (const json::value* d = o->if_contains("dimensions"); d && !d->is_null()) {
      const std::int64_t n = positive_int(*d, 4096);
      if (n < 0)
        return error(ApiError::invalid_request("dimensions must be a positive integer",
                                               "dimensions"));
      dims = static_cast<int>(n);
    }
    if (const json::value* t = o->if_contains("truncate"); t && !t->is_bool())
      return error(ApiError::invalid_request("truncate must be a boolean", "truncate"));
    if (const json::value* t = o->if_contains("options"); t && !t->is_object())
      return error(ApiError::invalid_request("options must be an object", "options"));
    if (const json::value* k = o->if_contains("keep_alive"); k && !k->is_string() && !k->is_number())
      return error(ApiError::invalid_request("keep_alive must be a duration", "keep_alive"));
    std::string out = R"({"model":)";
    append_quoted(out, model->get_string());
    out += R"(,"embeddings":[)";
    std::int64_t tokens = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (i) out += ',';
      append_vector(out, mock_embedding(texts[i], dims));
      tokens += tokens_of(texts[i]);
    }
    out += R"(],"total_duration":1000000,"load_duration":0,"prompt_eval_count":)" +
           std::to_string(tokens) + '}';
    return MockAnswer::json(std::move(out));
  }
};

}  // namespace

const MockEndpoint& mock_cohere_embed() {
  static const CohereEmbed e;
  return e;
}
const MockEndpoint& mock_bedrock_invoke() {
  static const BedrockInvoke e;
  return e;
}
const MockEndpoint& mock_ollama_embed() {
  static const OllamaEmbed e;
  return e;
}

}  // namespace torii
