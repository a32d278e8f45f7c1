#pragma once
// The embeddings modality for providers with their own embeddings API (Cohere's /v2/embed,
// Bedrock's InvokeModel, Ollama's /api/embed): reading the client's OpenAI-shaped request
// (/v1/embeddings) once, and reading the vectors of a native answer. The OpenAI-compatible
// vendors forward the client's body instead and need none of this.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "providers/modality.h"
#include "providers/provider.h"

namespace torii {

// What the client's /v1/embeddings body asks of a native provider.
struct EmbeddingsAsk {
  std::vector<std::string> texts;  // "input": one vector each, in order
  int dimensions = 0;              // "dimensions"; 0: the model's default
  VectorEncoding encoding = VectorEncoding::floats;  // "encoding_format"
};

// Reads call.body for provider `name` of `kind` (which embeds text only):
//  - "input": a string or an array of strings, not empty; an array of token ids (OpenAI takes
//    int arrays) is a 400 naming "input";
//  - "dimensions": a positive integer (400 naming it otherwise);
//  - "encoding_format": "float" (default) or "base64" (the gateway packs the floats);
//  - "model" is the route's (call.upstream_model is what goes upstream).
// The fields in `own` are the caller's to read; every other field ("user", unknown ones) is
// added to *call.ignored.
Result<EmbeddingsAsk> read_embeddings_ask(const ModalityCall& call, std::string_view name,
                                          std::string_view kind,
                                          std::span<const std::string_view> own = {});

// The same for the semantic cache's call (EmbeddingsCall: texts and dimensions).
EmbeddingsAsk embeddings_ask(const EmbeddingsCall& call);

// The number of inputs of a call's "input" (1 for a string), 0 when it is not a list of texts.
std::size_t embeddings_input_count(const ModalityCall& call);

// Reads `list`, an array of arrays of numbers, into `out` (one vector per item). Returns why
// it is unusable (not an array, a value that is not a number, an empty vector, vectors of
// different dimensions, or `expected` > 0 vectors asked and another number given), or nullopt.
std::optional<std::string> read_vectors(const boost::json::value* list, std::size_t expected,
                                        std::vector<std::vector<float>>& out);

// The 502 for a 2xx embeddings answer of provider `name` that cannot be used.
ApiError unusable_embeddings(std::string_view name, std::string_view why);

// The client's answer (openai_embeddings_json) for `result`, named after `model`, with the
// provider's token count as usage (prompt = total).
ModalityReply embeddings_reply(const EmbeddingsResult& result, std::string_view model,
                               VectorEncoding encoding);

}  // namespace torii
