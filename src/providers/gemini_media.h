#pragma once
// The Gemini provider's modalities besides chat (gemini.cpp calls these):
//
//   image_generation  POST {base}/{version}/models/{model}:predict (Imagen)
//     {"instances":[{"prompt"}],"parameters":{"sampleCount":n,"aspectRatio"?}}
//     → {"predictions":[{"bytesBase64Encoded","mimeType","prompt"?}]} → data[].b64_json.
//     n is 1..4 (more is a 400); size "WxH" goes as the nearest of Imagen's aspect ratios
//     (1:1, 3:4, 4:3, 9:16, 16:9); response_format "url" still answers b64_json and lists
//     response_format as ignored (Imagen returns bytes, never URLs). Predictions that carry
//     only raiFilteredReason (the safety filter) are dropped; none left is a 400
//     content_policy_violation.
//   embeddings        POST {base}/{version}/models/{model}:batchEmbedContents
//     {"requests":[{"model":"models/{model}","content":{"parts":[{"text"}]},
//     "outputDimensionality"?}]} → {"embeddings":[{"values":[...]}]}. At most 100 inputs
//     (Gemini's batch limit; more is a 400 naming input). Gemini reports no tokens for
//     embeddings: usage stays unknown unless an answer carries usageMetadata.
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "providers/modality.h"
#include "providers/provider.h"

namespace torii {

// Where a Gemini provider's requests go, and its prebuilt JSON header lines (with the key).
struct GeminiWire {
  std::string_view provider;  // the provider's name, for messages
  std::string_view base_path;
  std::string_view version;   // "" when base_url already ends with one
  std::string_view header_block;
};

// Imagen's aspect ratios (Gemini API).
inline constexpr std::string_view kImagenAspectRatios[] = {"1:1", "3:4", "4:3", "9:16", "16:9"};
inline constexpr int kImagenMaxImages = 4;
inline constexpr std::size_t kGeminiMaxEmbedBatch = 100;

Result<UpstreamRequest> encode_imagen(const GeminiWire& wire, const ModalityCall& call);
Result<ModalityReply> decode_imagen(std::string_view provider, std::string_view body);

// The embeddings request for `inputs` (dimensions 0: the model's default).
Result<UpstreamRequest> encode_gemini_embeddings(const GeminiWire& wire, std::string_view model,
                                                 std::span<const std::string> inputs,
                                                 int dimensions);
// One vector per input (`inputs` of them; 0: any number, at least one), all of one dimension.
Result<EmbeddingsResult> decode_gemini_embeddings(std::string_view provider,
                                                  std::string_view body, std::size_t inputs);

// The embeddings modality: the client's OpenAI body → encode_gemini_embeddings (dimensions,
// encoding_format checked; user and unknown fields ignored), and the answer →
// openai_embeddings_json in the client's encoding_format.
Result<UpstreamRequest> encode_gemini_embeddings_call(const GeminiWire& wire,
                                                      const ModalityCall& call);
Result<ModalityReply> decode_gemini_embeddings_call(std::string_view provider,
                                                    const ModalityCall& call,
                                                    std::string_view body);

}  // namespace torii
