#include "providers/gemini_media.h"

#include <charconv>
#include <ctime>

#include <boost/json.hpp>

#include "core/json_access.h"
#include "core/json_text.h"
#include "providers/gemini.h"
#include "providers/image_request.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::arr_at;
using jsonx::int_at;
using jsonx::obj_at;
using jsonx::str_at;

ApiError bad_answer(std::string_view provider, std::string_view why) {
  return ApiError::bad_gateway("provider '" + std::string(provider) + "' (gemini) sent " +
                               std::string(why));
}

UpstreamRequest post(const GeminiWire& w, std::string_view model, std::string_view method,
                     std::string body) {
  UpstreamRequest r;
  r.path = gemini_method_path(w.base_path, w.version, model, method);
  r.header_block = w.header_block;
  r.body = std::move(body);
  return r;
}

// The body as a JSON object, or a 502 naming the provider.
Result<json::value> parse_object(std::string_view provider, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad_answer(provider, "a body that is not a JSON object");
  return v;
}

// A positive integer field of the client's body, 0 when absent; a 400 naming it otherwise.
Result<int> positive_field(const ModalityCall& call, std::string_view name) {
  const std::string text = field_text(call, name);
  if (text.empty()) return 0;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 1)
    return ApiError::invalid_request("'" + std::string(name) + "' must be a positive integer",
                                     std::string(name));
  return v;
}

}  // namespace

// --- Imagen ----------------------------------------------------------------------------------

Result<UpstreamRequest> encode_imagen(const GeminiWire& w, const ModalityCall& call) {
  auto ask = read_image_ask(call, w.provider, "gemini", kImagenMaxImages,
                            "Imagen makes 1 to 4 images per request");
  if (!ask) return ask.error();
  // Imagen answers base64 bytes only: a client asking for URLs gets b64_json.
  if (!ask->b64 && !field_text(call, "response_format").empty() && call.ignored)
    add_ignored(*call.ignored, "response_format");
  std::string body = R"({"instances":[{"prompt":)";
  append_json_string(body, ask->prompt);
  body += R"(}],"parameters":{"sampleCount":)";
  append_json_int(body, ask->n);  // always: Imagen's own default is 4
  if (ask->size) {
    body += R"(,"aspectRatio":)";
    append_json_string(body, nearest_aspect_ratio(*ask->size, kImagenAspectRatios));
  }
  body += "}}";
  return post(w, call.upstream_model, ":predict", std::move(body));
}

Result<ModalityReply> decode_imagen(std::string_view provider, std::string_view body) {
  auto v = parse_object(provider, body);
  if (!v) return v.error();
  const json::object& root = v->get_object();
  const json::value* preds = root.if_contains("predictions");
  if (preds && !preds->is_array()) return bad_answer(provider, "predictions that are not a list");
  std::vector<GeneratedImage> images;
  std::string filtered;  // the last raiFilteredReason
  if (preds) {
    for (const json::value& p : preds->get_array()) {
      const json::object* o = p.if_object();
      if (!o) return bad_answer(provider, "a prediction that is not an object");
      std::string_view bytes = str_at(*o, "bytesBase64Encoded");
      if (bytes.empty()) {
        if (std::string_view why = str_at(*o, "raiFilteredReason"); !why.empty()) {
          filtered = why;
          continue;
        }
        return bad_answer(provider, "a prediction with no image");
      }
      GeneratedImage& img = images.emplace_back();
      img.b64 = bytes;
      img.revised_prompt = str_at(*o, "prompt");  // the enhanced prompt, when Imagen rewrote it
    }
  }
  // Imagen drops the images its safety filter blocks; with none left it answers {} (or only
  // raiFilteredReason entries): the prompt was refused, as OpenAI's content_policy_violation.
  if (images.empty())
    return ApiError::invalid_request(
        "provider '" + std::string(provider) + "' (gemini) made no image: " +
            (filtered.empty() ? std::string("the safety filter blocked them")
                              : upstream_excerpt(filtered, 300)),
        "prompt", "content_policy_violation");
  ModalityReply reply;
  reply.body = openai_images_json(images, static_cast<int64_t>(std::time(nullptr)));
  reply.usage.images = static_cast<int64_t>(images.size());
  return reply;
}

// --- embeddings ------------------------------------------------------------------------------

Result<UpstreamRequest> encode_gemini_embeddings(const GeminiWire& w, std::string_view model,
                                                 std::span<const std::string> inputs,
                                                 int dimensions) {
  if (inputs.empty()) return ApiError::invalid_request("'input' must not be empty", "input");
  if (inputs.size() > kGeminiMaxEmbedBatch)
    return no_counterpart(w.provider, "gemini", "input",
                          "Gemini embeds at most 100 texts per request");
  if (model.starts_with("models/")) model.remove_prefix(7);
  std::string name = "models/";
  name += model;
  std::string body = R"({"requests":[)";
  body.reserve(body.size() + inputs.size() * (64 + name.size()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (i) body += ',';
    body += R"({"model":)";
    append_json_string(body, name);
    body += R"(,"content":{"parts":[{"text":)";
    append_json_string(body, inputs[i]);
    body += "}]}";
    if (dimensions > 0) {
      body += R"(,"outputDimensionality":)";
      append_json_int(body, dimensions);
    }
    body += '}';
  }
  body += "]}";
  return post(w, model, ":batchEmbedContents", std::move(body));
}

Result<EmbeddingsResult> decode_gemini_embeddings(std::string_view provider,
                                                  std::string_view body, std::size_t inputs) {
  auto v = parse_object(provider, body);
  if (!v) return v.error();
  const json::object& root = v->get_object();
  const json::array* list = arr_at(root, "embeddings");
  if (!list || list->empty()) return bad_answer(provider, "no embeddings");
  if (inputs && list->size() != inputs)
    return bad_answer(provider, std::to_string(list->size()) + " embeddings for " +
                                    std::to_string(inputs) + " inputs");
  EmbeddingsResult out;
  out.vectors.reserve(list->size());
  for (const json::value& e : *list) {
    const json::object* o = e.if_object();
    const json::array* values = o ? arr_at(*o, "values") : nullptr;
    if (!values || values->empty()) return bad_answer(provider, "an embedding with no values");
    auto& vec = out.vectors.emplace_back();
    vec.reserve(values->size());
    for (const json::value& x : *values) {
      if (!x.is_number()) return bad_answer(provider, "an embedding value that is not a number");
      vec.push_back(static_cast<float>(x.to_number<double>()));
    }
    if (vec.size() != out.vectors.front().size())
      return bad_answer(provider, "embeddings of different dimensions");
  }
  // Not sent today; read should Gemini start reporting it.
  if (const json::object* u = obj_at(root, "usageMetadata")) {
    out.usage.prompt_tokens = int_at(*u, "promptTokenCount");
    out.usage.total_tokens = int_at(*u, "totalTokenCount");
    if (out.usage.total_tokens < 0) out.usage.total_tokens = out.usage.prompt_tokens;
  }
  return out;
}

Result<UpstreamRequest> encode_gemini_embeddings_call(const GeminiWire& w,
                                                      const ModalityCall& call) {
  auto texts = input_texts(call);
  if (!texts) return texts.error();
  auto dims = positive_field(call, "dimensions");
  if (!dims) return dims.error();
  const std::string format = field_text(call, "encoding_format");
  if (!format.empty() && format != "float" && format != "base64")
    return ApiError::invalid_request("'encoding_format' must be float or base64",
                                     "encoding_format");
  if (call.body && call.ignored)
    for (const auto& kv : *call.body) {
      std::string_view k(kv.key().data(), kv.key().size());
      if (k != "model" && k != "input" && k != "dimensions" && k != "encoding_format" &&
          !kv.value().is_null())
        add_ignored(*call.ignored, k);  // user, and hints of other providers
    }
  return encode_gemini_embeddings(w, call.upstream_model, *texts, *dims);
}

Result<ModalityReply> decode_gemini_embeddings_call(std::string_view provider,
                                                    const ModalityCall& call,
                                                    std::string_view body) {
  auto texts = input_texts(call);
  if (!texts) return texts.error();
  auto r = decode_gemini_embeddings(provider, body, texts->size());
  if (!r) return r.error();
  const auto encoding = field_text(call, "encoding_format") == "base64" ? VectorEncoding::base64
                                                                        : VectorEncoding::floats;
  ModalityReply reply;
  reply.body = openai_embeddings_json(r->vectors, call.upstream_model, r->usage, encoding);
  reply.usage = r->usage;
  return reply;
}

}  // namespace torii
