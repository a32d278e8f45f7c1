#pragma once
// An OpenAI image generation request (POST /v1/images/generations) read for the adapters of
// providers with their own image API (Gemini's Imagen, Leonardo, Luma): the fields they map,
// checked, and the hints they cannot take put in the call's ignored list.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "providers/modality.h"

namespace torii {

// OpenAI's `size` "WxH" in pixels.
struct ImageSize {
  int width = 0;
  int height = 0;
};

// What the adapters map; every other field of the body is a hint with no counterpart.
struct ImageAsk {
  std::string prompt;
  int n = 1;
  std::optional<ImageSize> size;  // absent or "auto": the provider's default
  bool b64 = false;               // response_format "b64_json" (else "url", OpenAI's default)
};

// Reads call.body: `prompt` (required, a non-empty string), `n` (1..max_n; a larger n is a 400
// naming "n" with `n_why`), `size` ("WxH" or "auto"), `response_format` (url | b64_json).
// `stream` true is a 400 (no provider here streams partial images). quality, style, user,
// background, moderation, output_format, output_compression and unknown fields go to
// *call.ignored. Errors name the provider and its kind.
Result<ImageAsk> read_image_ask(const ModalityCall& call, std::string_view provider,
                                std::string_view kind, int max_n, std::string_view n_why);

// Parses "WxH" (1..16384 each); nullopt for "" and "auto"; else a 400 naming `size`.
Result<std::optional<ImageSize>> parse_image_size(std::string_view text);

// The entry of `ratios` ("W:H" each) nearest to size's shape, compared as log(width/height) so
// that 2:1 and 1:2 are as far from 1:1.
std::string_view nearest_aspect_ratio(ImageSize size, std::span<const std::string_view> ratios);

}  // namespace torii
