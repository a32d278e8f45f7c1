#pragma once
// The Leonardo.Ai provider (config kind "leonardo"): image generation through asynchronous
// jobs (image_jobs.h). No chat.
//
//   create: POST {base}/generations
//           {"prompt","modelId":<upstream model>,"num_images":n,"width"?,"height"?}
//           → {"sdGenerationJob":{"generationId","apiCreditCost"}}
//   poll:   GET {base}/generations/{generationId}
//           → {"generations_by_pk":{"id","status":"PENDING"|"COMPLETE"|"FAILED",
//              "generated_images":[{"url","nsfw","id"}]}}
//
// base defaults to https://cloud.leonardo.ai/api/rest/v1; the key goes as
// `Authorization: Bearer`. OpenAI's size "WxH" goes as width and height (Leonardo wants
// multiples of 8 and answers 400 otherwise); n is 1..8. Leonardo answers URLs only: a client
// asking response_format b64_json gets a 400 naming it. COMPLETE → data[].url, FAILED → 502.
// Errors are Hasura's {"error","path","code"}; a 404 (an unknown generation) is a 502.
#include <memory>
#include <string_view>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

inline constexpr std::string_view kLeonardoDefaultBaseUrl = "https://cloud.leonardo.ai/api/rest/v1";
inline constexpr int kLeonardoMaxImages = 8;

// Builds the provider (registry row "leonardo"). Fails (400) without a key or with a bad
// options.poll_ms.
Result<std::unique_ptr<Provider>> make_leonardo(const ProviderConfig& config, Endpoint endpoint);

// Maps a non-2xx Leonardo answer.
ApiError map_leonardo_error(std::string_view provider, int status, std::string_view body,
                            std::string_view retry_after);

}  // namespace torii
