#pragma once
// The Luma AI provider (config kind "luma"): image generation (Photon models) through
// asynchronous jobs (image_jobs.h). No chat.
//
//   create: POST {base}/generations/image {"prompt","model":<upstream model>,"aspect_ratio"?}
//           → a Generation {"id","state":"queued"|"dreaming"|"completed"|"failed",
//              "failure_reason","assets":{"image":<url>}}
//   poll:   GET {base}/generations/{id} → the same Generation
//
// base defaults to https://api.lumalabs.ai/dream-machine/v1; the key goes as
// `Authorization: Bearer`. OpenAI's size "WxH" goes as the nearest of Luma's aspect ratios
// (1:1, 3:4, 4:3, 9:16, 16:9, 9:21, 21:9). Luma makes one image per generation: n > 1 is a
// 400 naming n. Luma answers URLs only: response_format b64_json is a 400 naming it.
// completed → data[0].url, failed → 502 with failure_reason. Errors are FastAPI's
// {"detail": "..." | [{"msg", "loc"...}]}; a 404 (an unknown generation) is a 502.
#include <memory>
#include <string_view>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

inline constexpr std::string_view kLumaDefaultBaseUrl = "https://api.lumalabs.ai/dream-machine/v1";
inline constexpr std::string_view kLumaAspectRatios[] = {"1:1", "3:4", "4:3", "9:16",
                                                         "16:9", "9:21", "21:9"};

// Builds the provider (registry row "luma"). Fails (400) without a key or with a bad
// options.poll_ms.
Result<std::unique_ptr<Provider>> make_luma(const ProviderConfig& config, Endpoint endpoint);

// Maps a non-2xx Luma answer.
ApiError map_luma_error(std::string_view provider, int status, std::string_view body,
                        std::string_view retry_after);

}  // namespace torii
