#pragma once
// The Google Gemini provider (config kind "gemini"): the Gemini API's native generateContent
// format, translated from and to the canonical model (no client speaks it, so there is no
// passthrough).
//
//   whole:  POST {base}/{version}/models/{model}:generateContent
//   stream: POST {base}/{version}/models/{model}:streamGenerateContent?alt=sse
//   images (Imagen) and embeddings: gemini_media.h (:predict, :batchEmbedContents)
//
// {version} is config.api_version, "v1beta" by default (skipped when base_url already ends with
// a version segment such as "/v1beta"). The key goes in the `x-goog-api-key` header, never in
// the URL (URLs end up in logs). The model name is percent-encoded into the path.
//
// Translation choices (see gemini.cpp for the details):
//  - tool call ids: Gemini has none. Answers get "call_<n>" (n = the call's ordinal in that
//    answer, the same whole or streamed); a tool result finds its function name from the
//    latest earlier tool_call with the same id in the conversation (400 when none).
//  - image/document URLs go as fileData {fileUri}: Gemini accepts its Files API URIs, YouTube
//    URLs and (model-dependent) some public http(s) URLs; it answers 400 for the others, and
//    that 400 reaches the client with Gemini's message.
//  - tool parameter schemas are reduced to the OpenAPI 3.0 subset Gemini's `parameters`
//    accepts (gemini_schema below); json_schema response formats use responseJsonSchema,
//    which takes JSON Schema as it is.
//  - n > 1 and logprobs are 400s (the canonical answer carries one choice and no logprobs).
//  - In streams, a thoughtSignature carried by a functionCall part is reported in the
//    tool_call_start event's `text` (the canonical StreamEvent has no dedicated field).
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

inline constexpr std::string_view kGeminiDefaultBaseUrl =
    "https://generativelanguage.googleapis.com";

// Builds the provider (registry row "gemini"). Fails (400) when the key is missing.
Result<std::unique_ptr<Provider>> make_gemini(const ProviderConfig& config, Endpoint endpoint);

// The request path for `model` ("/v1beta/models/gemini-2.5-flash:generateContent"); a model
// given as the resource name "models/<id>" loses its prefix, the rest is percent-encoded.
std::string gemini_path(std::string_view base_path, std::string_view version,
                        std::string_view model, bool stream);
// The same for any model method: `method` is appended as it is (":predict",
// ":batchEmbedContents").
std::string gemini_method_path(std::string_view base_path, std::string_view version,
                               std::string_view model, std::string_view method);

// A JSON Schema reduced to the subset Gemini's FunctionDeclaration.parameters accepts
// (OpenAPI 3.0 Schema: type, format, title, description, nullable, enum, properties, required,
// items, anyOf, min/max*, pattern, example, default, propertyOrdering). Other keywords
// ($schema, $ref, $defs, additionalProperties, oneOf, allOf, const…) are dropped, except that
// `type: [T, "null"]` becomes `type: T, nullable: true` and `const: v` becomes `enum: [v]`.
// Enum values become strings (Gemini's enum is string[]).
boost::json::value gemini_schema(const boost::json::value& schema);

// Gemini's finishReason → the canonical one (STOP → stop, MAX_TOKENS → length, SAFETY and the
// other filters → content_filter, malformed/unexpected tool calls → error, others → stop).
FinishReason gemini_finish_reason(std::string_view reason);

// Maps a non-2xx Gemini answer ({"error":{"code","message","status","details"}}).
ApiError map_gemini_error(std::string_view provider, int status, std::string_view body,
                          std::string_view retry_after);

}  // namespace torii
