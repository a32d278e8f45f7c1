#pragma once
// Hive's V3 API (kind "hive"): image generation, no chat. Bearer key.
//  - image_generation: POST {base}/{model} (the model is a path, black-forest-labs/flux-schnell)
//    {"input":{"prompt","num_images":n,"image_size":{"width","height"}?,"output_format"}},
//    answered synchronously with {"id","model","input",...,"output":[{"url"}...]} -> OpenAI's
//    data[].url; usage.images = the images made. size "WxH" -> image_size ("auto": Hive's
//    default); output_format png (default) or jpeg; response_format b64_json and
//    output_format webp -> 400 (Hive answers PNG/JPEG URLs); quality, style, user and the other
//    hints are dropped (ignored).
// Errors: {"message"} / {"error"} / {"detail"} bodies -> the usual map.
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

inline constexpr std::string_view kHiveDefaultBaseUrl = "https://api.thehive.ai/api/v3";

// Builds a Hive provider. `endpoint` comes from base_url.
Result<std::unique_ptr<Provider>> make_hive(const ProviderConfig& config, Endpoint endpoint);

}  // namespace torii
