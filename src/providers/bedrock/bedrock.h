#pragma once
// The AWS Bedrock provider (config kind "bedrock"): the Converse / ConverseStream APIs,
// translated from and to the canonical model (no client speaks them: no passthrough).
//
//   whole:  POST {base}/model/{modelId}/converse          -> application/json
//   stream: POST {base}/model/{modelId}/converse-stream   -> application/vnd.amazon.eventstream
//
// {base} is https://bedrock-runtime.{region}.amazonaws.com unless base_url is set (the mock).
// The model id is percent-encoded into one path segment (':' -> %3A, an ARN's '/' -> %2F).
// Every request is signed with SigV4 (service "bedrock", config.region) at encode time; the
// signing key is derived once per day and cached. Credentials: aws_access_key_id and
// aws_secret_access_key (required), aws_session_token (optional); api_key is not used.
//
// Translation choices:
//  - system messages -> `system` [{text}]; tool messages -> user messages of toolResult blocks
//    (text content; images of a tool result go as image blocks inside it); consecutive
//    messages of one role are merged (Converse wants alternating roles).
//  - images and documents go as bytes only: a URL is a 400 (Bedrock cannot fetch URLs).
//    Image formats png/jpeg/gif/webp; document formats from the media type (pdf, csv, doc,
//    docx, xls, xlsx, html, txt, md); the document name is the part's title (sanitised).
//  - a part's cache hint becomes a `cachePoint` block after it.
//  - thinking <-> reasoningContent {reasoningText {text, signature}}, redacted_thinking <->
//    reasoningContent {redactedContent}.
//  - reasoning_effort / thinking_budget and top_k have no Converse field: they go in
//    additionalModelRequestFields in Anthropic-on-Bedrock's shape ({"thinking": {"type":
//    "enabled", "budget_tokens": N}}, {"top_k": k}); other model families may refuse them
//    (Bedrock then answers a 400 that reaches the client).
//  - tool_choice none: Converse has no "none"; the tools are not sent (unless the conversation
//    already holds tool blocks, which Bedrock only accepts with a toolConfig: then they are
//    sent with auto and "tool_choice" is reported as ignored).
//  - response_format json_object / json_schema, n > 1 and logprobs are 400s; seed, user,
//    presence/frequency penalties, parallel_tool_calls and top_logprobs are ignored hints.
//  - usage: Bedrock's inputTokens excludes cache reads and writes (reported apart, as
//    Anthropic does); the canonical prompt_tokens adds them back.
//  - Bedrock sends no response id or model name in the body: answers get "bedrock-<n>" ids and
//    an empty model.
//
// Embeddings (the modality and the semantic cache's calls) go through InvokeModel,
//   POST {base}/model/{modelId}/invoke, signed the same way; the body depends on the model
// family, told from the model id:
//  - Amazon Titan text v2 ("amazon.titan-embed-text-v2:0"): {"inputText", "dimensions"
//    (256|512|1024), "normalize": true} -> {"embedding", "inputTextTokenCount"}; Titan G1
//    ("titan-embed-text-v1", "titan-embed-g1-…") takes inputText only (dimensions -> 400); the
//    multimodal Titan ("titan-embed-image-…") maps dimensions (256|384|1024) to
//    embeddingConfig.outputEmbeddingLength. Titan embeds ONE input per call: a batch of more
//    than one is a 400 naming "input". The client's input_type is ignored.
//  - Cohere embed ("cohere.embed-…", region prefixes allowed): {"texts" (at most 96),
//    "input_type" (the client's extra field, else search_document), "output_dimension"
//    (from dimensions; v3 models have none -> 400)} -> "embeddings" as [[...]] or
//    {"float": [[...]]}. Bedrock reports Cohere's tokens in a response header only: usage stays
//    unknown.
//  - any other model id (an ARN that names no family...) is a 400 naming "model".
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

// The public endpoint; {region} is config.region.
inline constexpr std::string_view kBedrockDefaultBaseUrl =
    "https://bedrock-runtime.{region}.amazonaws.com";
// What the registry row gives as default base URL: a URL must parse before the factory runs,
// so the factory swaps this placeholder host for the region's endpoint.
inline constexpr std::string_view kBedrockPlaceholderBaseUrl =
    "https://bedrock-runtime.aws-region.amazonaws.com";

// Builds the provider (registry row "bedrock"). Fails (400) naming the missing field when
// region, aws_access_key_id or aws_secret_access_key is empty.
Result<std::unique_ptr<Provider>> make_bedrock(const ProviderConfig& config, Endpoint endpoint);

// The same with the clock that dates signatures (tests pass a fixed one).
Result<std::unique_ptr<Provider>> make_bedrock_with_clock(const ProviderConfig& config,
                                                          Endpoint endpoint,
                                                          std::time_t (*clock)());

// "{base_path}/model/{percent-encoded model}/converse[-stream]".
std::string bedrock_path(std::string_view base_path, std::string_view model, bool stream);
// "{base_path}/model/{percent-encoded model}/invoke" (InvokeModel: the embedding models).
std::string bedrock_invoke_path(std::string_view base_path, std::string_view model);

// Converse's stopReason -> the canonical one (end_turn, stop_sequence -> stop; max_tokens,
// model_context_window_exceeded -> length; tool_use -> tool_calls; guardrail_intervened,
// content_filtered -> content_filter; others -> stop).
FinishReason bedrock_finish_reason(std::string_view reason);

// Maps a non-2xx Bedrock answer ({"message": "..."}).
ApiError map_bedrock_error(std::string_view provider, int status, std::string_view body,
                           std::string_view retry_after);

// Maps a modelled exception of a stream (`:exception-type`, payload {"message": "..."}):
// throttlingException -> 429 retryable; validationException -> 400; modelTimeoutException ->
// 504; serviceUnavailableException, internalServerException, modelStreamErrorException and
// others -> 502 (retryable).
ApiError map_bedrock_exception(std::string_view provider, std::string_view exception_type,
                               std::string_view payload);

}  // namespace torii
