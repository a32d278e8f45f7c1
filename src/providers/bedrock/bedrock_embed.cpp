// Bedrock's embedding models through InvokeModel: the request bodies of the Amazon Titan and
// Cohere embed families, and their answers (bedrock.h describes the mapping).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_access.h"
#include "providers/bedrock/bedrock_internal.h"

namespace torii::bedrock_detail {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxCohereTexts = 96;
constexpr std::string_view kCohereInputTypes[] = {"search_document", "search_query",
                                                  "classification", "clustering"};

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

ApiError refuse(std::string_view provider, std::string_view field, std::string_view why) {
  return no_counterpart(provider, "bedrock", field, why);
}

// {"inputText", ...}: v2 adds "dimensions" and "normalize":true (OpenAI's vectors are unit
// length), the multimodal model embeddingConfig.outputEmbeddingLength; G1 takes the text only.
Result<std::string> titan_body(const EmbeddingsAsk& ask, EmbedFamily family,
                               std::string_view provider) {
  json::object b;
  b["inputText"] = ask.texts.front();
  const int d = ask.dimensions;
  if (family == EmbedFamily::titan_v2) {
    if (d > 0 && d != 256 && d != 512 && d != 1024)
      return refuse(provider, "dimensions", "Titan text embeddings v2 make 256, 512 or 1024");
    if (d > 0) b["dimensions"] = d;
    b["normalize"] = true;
  } else if (family == EmbedFamily::titan_multimodal) {
    if (d > 0 && d != 256 && d != 384 && d != 1024)
      return refuse(provider, "dimensions", "Titan multimodal embeddings make 256, 384 or 1024");
    if (d > 0) b["embeddingConfig"] = json::object{{"outputEmbeddingLength", d}};
  } else if (d > 0) {
    return refuse(provider, "dimensions", "Titan text embeddings G1 have one size (1536)");
  }
  return json::serialize(b);
}

}  // namespace

EmbedFamily embed_family(std::string_view model) {
  // Ids as listed ("amazon.titan-embed-text-v2:0"), with a region prefix ("us.cohere.embed-v4:0")
  // or as an ARN that still names the model.
  if (contains(model, "cohere.embed")) return EmbedFamily::cohere;
  if (contains(model, "titan-embed-image")) return EmbedFamily::titan_multimodal;
  if (contains(model, "titan-embed-text-v1") || contains(model, "titan-embed-g1"))
    return EmbedFamily::titan_v1;
  if (contains(model, "titan-embed")) return EmbedFamily::titan_v2;
  return EmbedFamily::unknown;
}

Result<std::string> encode_embed(const EmbeddingsAsk& ask, std::string_view model,
                                 std::string_view input_type, std::string_view provider,
                                 std::vector<std::string>* ignored) {
  const EmbedFamily family = embed_family(model);
  if (family == EmbedFamily::unknown)
    return ApiError::invalid_request(
        "provider '" + std::string(provider) + "' (bedrock) embeds with Amazon Titan and Cohere "
        "embed models; the model id '" + std::string(model.substr(0, 200)) +
        "' names neither",
        "model");
  if (family == EmbedFamily::cohere) {
    if (ask.texts.size() > kMaxCohereTexts)
      return refuse(provider, "input", "Cohere embed on Bedrock takes at most 96 texts per call");
    if (input_type.empty()) input_type = kCohereInputTypes[0];
    bool known = false;
    for (std::string_view t : kCohereInputTypes) known = known || t == input_type;
    if (!known)
      return ApiError::invalid_request(
          "provider '" + std::string(provider) + "' (bedrock): 'input_type' must be "
          "search_document, search_query, classification or clustering",
          "input_type");
    // Embed v3 has one size; v4 and later take output_dimension.
    if (ask.dimensions > 0 && contains(model, "-v3"))
      return refuse(provider, "dimensions", "Cohere embed v3 models have one size (1024)");
    json::object b;
    json::array texts;
    texts.reserve(ask.texts.size());
    for (const auto& t : ask.texts) texts.emplace_back(t);
    b["texts"] = std::move(texts);
    b["input_type"] = json::string_view(input_type.data(), input_type.size());
    if (ask.dimensions > 0) b["output_dimension"] = ask.dimensions;
    return json::serialize(b);
  }
  if (ask.texts.size() > 1)
    return refuse(provider, "input",
                  "Amazon Titan embeds one input per call; send one text per request (or use a "
                  "Cohere embed model for batches)");
  if (!input_type.empty() && ignored) add_ignored(*ignored, "input_type");
  return titan_body(ask, family, provider);
}

Result<EmbeddingsResult> decode_embed(std::string_view body, std::size_t expected,
                                      std::string_view provider) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return unusable_embeddings(provider, "not a JSON object");
  const json::object& o = v.get_object();
  EmbeddingsResult out;
  if (const json::value* one = o.if_contains("embedding")) {
    // Titan: {"embedding":[...],"inputTextTokenCount":n}.
    json::array one_list;
    one_list.push_back(*one);
    const json::value list(std::move(one_list));
    if (auto why = read_vectors(&list, expected, out.vectors))
      return unusable_embeddings(provider, *why);
    out.usage.prompt_tokens = jsonx::int_at(o, "inputTextTokenCount");
    return out;
  }
  // Cohere: {"embeddings":[[...]]} (embeddings_floats) or {"embeddings":{"float":[[...]]}}.
  // Bedrock reports its tokens in a header only: usage stays unknown.
  const json::value* list = o.if_contains("embeddings");
  if (list && list->is_object()) list = list->get_object().if_contains("float");
  if (auto why = read_vectors(list, expected, out.vectors))
    return unusable_embeddings(provider, *why);
  return out;
}

}  // namespace torii::bedrock_detail
