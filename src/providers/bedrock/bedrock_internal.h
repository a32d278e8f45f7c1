#pragma once
// Pieces of the Bedrock provider shared by its own files (not an interface for others).
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "providers/canonical.h"
#include "providers/embeddings_native.h"

namespace torii::bedrock_detail {

// The Converse request body for `rq`; names dropped hints in `ignored`; a 400 for a field
// whose loss would change the meaning.
Result<std::string> encode_converse(const ChatRequest& rq, std::string_view provider,
                                    std::vector<std::string>& ignored);

// The embedding model families InvokeModel serves, told from the model id (bedrock.h).
enum class EmbedFamily : uint8_t { unknown, titan_v1, titan_v2, titan_multimodal, cohere };
EmbedFamily embed_family(std::string_view model_id);

// The InvokeModel body embedding `ask` with `model` (a 400 naming the field the family cannot
// take: a batch for Titan, dimensions it does not make, an unknown input_type...). `input_type`
// is the client's ("" when absent); a family without one adds it to `ignored` (may be null).
Result<std::string> encode_embed(const EmbeddingsAsk& ask, std::string_view model,
                                 std::string_view input_type, std::string_view provider,
                                 std::vector<std::string>* ignored);

// Decodes an InvokeModel embeddings answer by its shape (Titan's "embedding", Cohere's
// "embeddings"); `expected` vectors (0: any number).
Result<EmbeddingsResult> decode_embed(std::string_view body, std::size_t expected,
                                      std::string_view provider);

}  // namespace torii::bedrock_detail
