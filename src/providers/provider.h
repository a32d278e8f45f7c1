#pragma once
// Provider: one narrow interface per upstream vendor (STYLE.md: TensorZero's narrow trait).
// A provider is a pure codec plus an endpoint: it turns a canonical call into an upstream HTTP
// request and the upstream's answer back into the client's shape. It does no I/O; the
// upstream client (upstream/http_client.h) does, so every provider is testable without sockets.
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "providers/canonical.h"
#include "providers/modality.h"
#include "server/http.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"
#include "upstream/sse_parser.h"

namespace torii {

// The wire formats torii speaks, inbound (clients) and outbound (providers).
enum class WireFormat : uint8_t {
  openai_chat,         // POST /v1/chat/completions
  anthropic_messages,  // POST /v1/messages
  openai_responses,    // POST /v1/responses
  openai_completions,  // POST /v1/completions (legacy)
  native,              // a provider's own format no client speaks (Gemini, Bedrock, Cohere…)
};

// What a provider can do. The conformance suite (tests/conformance) reads these lists; the
// gateway answers a clear 400 for a request that needs something not announced here.
// Providers never implement "unsupported" stubs.
struct Capabilities {
  bool chat = false;
  bool chat_stream = false;
  bool tools = false;
  bool stream_tools = false;     // tool calls work in streams (whole or in argument fragments)
  bool images = false;           // image parts in user messages
  bool documents = false;        // document (PDF) parts
  bool json_mode = false;        // response_format json_object
  bool json_schema = false;      // response_format json_schema, enforced by the provider
  bool thinking = false;         // reasoning effort / thinking budget, thinking in answers
  bool stream_usage_option = false;  // accepts stream_options.include_usage
  bool embeddings = false;       // encode_embeddings / decode_embeddings, and the modality
  // The other modalities (providers/modality.h): encode_modality / decode_modality take them.
  bool image_generation = false;
  bool image_edit = false;
  bool speech = false;
  bool transcription = false;
  bool translation = false;
  bool moderation = false;
  // Whether calls of `m` are supported (chat: `chat`).
  bool supports(Modality m) const;
};

// An embeddings call (the semantic cache's vectors).
struct EmbeddingsCall {
  std::string_view upstream_model;
  std::span<const std::string> inputs;  // texts, one vector each
  int dimensions = 0;                   // 0: the model's default
};

struct EmbeddingsResult {
  std::vector<std::vector<float>> vectors;  // in the order of the inputs
  Usage usage;
};

// Reads OpenAI's "usage" object; fields absent stay -1.
Usage parse_openai_usage(const boost::json::object& usage);

// A chat call for one target.
struct ChatCall {
  WireFormat inbound = WireFormat::openai_chat;  // the client's format
  // The client's decoded JSON, as sent (unknown fields included). A provider that speaks the
  // inbound format forwards it with small edits (passthrough): see Provider::speaks.
  const boost::json::object* raw = nullptr;
  // The canonical request; set when the provider does not speak the inbound format.
  const ChatRequest* request = nullptr;
  std::string_view upstream_model;
  bool stream = false;
  // Hints the encoder dropped (no counterpart at the provider); reported to the client in
  // `x-torii-ignored-params`. Never null.
  std::vector<std::string>* ignored = nullptr;
  // The client's request head, for the few headers a passthrough forwards (anthropic-beta).
  // May be null (tests, count_tokens).
  const RequestHead* client = nullptr;
  // The client's body bytes exactly as received, the text `raw` was parsed from (the gateway
  // sets it from Exchange::body(), which outlives the call). With it, a passthrough encoder
  // splices its few edits into the text and copies every other member verbatim instead of
  // re-serialising `raw` (core/json_splice.h). Empty: encoders serialise `raw` (tests,
  // count_tokens). Whoever edits `raw` after parsing must leave this empty.
  std::string_view raw_text;
};

// A decoded non-streamed answer: `raw` (passthrough: the body for the client, unchanged) or
// `result` (canonical). result.usage is filled in both cases.
struct ChatResponse {
  std::string raw;
  ChatResult result;
};

// Where a stream's output goes (the inbound API's encoder, behind the policies' on_chunk).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // A canonical event (the provider does not speak the client's format).
  virtual void event(const StreamEvent& e) = 0;
  // Passthrough: one native event, already in the client's format. `name` is the SSE event
  // name (empty for OpenAI), `data` its data. `usage_only`: OpenAI's trailing usage chunk.
  virtual void raw(std::string_view name, std::string_view data, bool usage_only) = 0;
};

// Turns one upstream stream's body into events for a sink. One per stream.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Called with each piece of the body as it arrives (split anywhere). Sets `usage` when an
  // event carried usage; returns an error for an upstream error event or an undecodable one;
  // sets `done` when the provider signalled the end ([DONE], message_stop…).
  virtual Result<void> feed(std::string_view bytes, StreamSink& sink, Usage& usage, bool& done) = 0;
};

// A StreamDecoder for providers that answer with Server-Sent Events: one call per event.
class SseStreamDecoder : public StreamDecoder {
 public:
  Result<void> feed(std::string_view bytes, StreamSink& sink, Usage& usage, bool& done) final;
  virtual Result<void> on_event(const SseEvent& event, StreamSink& sink, Usage& usage,
                                bool& done) = 0;

 private:
  SseParser parser_;
};

class Provider;

// The 400 for a field provider `name` (of `kind`) has no counterpart for, naming the field in
// the message and in `param`.
ApiError no_counterpart(std::string_view name, std::string_view kind, std::string_view field,
                        std::string_view why);
// The error the client sees for a non-2xx upstream `status` from provider `name`, given the
// provider's own message (already an upstream_excerpt): 400/409/422 → 400, 404 → 404
// model_not_found, 401/403 → 502 upstream_auth (never the client's fault; the message is not
// echoed), 413 → 413, 429 → 429 with Retry-After, 408/504 → 504, other → 502; 429, 408 and
// 5xx are retryable. Each adapter extracts its message, then calls this.
ApiError map_upstream_status(std::string_view name, int status, const std::string& message,
                             std::string_view retry_after);
// Adds hint `field` to a call's ignored list once (x-torii-ignored-params).
void add_ignored(std::vector<std::string>& ignored, std::string_view field);

// The first thing `request` needs that `provider` does not announce, as a 400 naming the field
// and the provider; nullopt when the provider can take it. Run on translated requests (a
// passthrough provider is the client's own format: the provider itself answers).
std::optional<ApiError> missing_capability(const ChatRequest& request, const Provider& provider);

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const std::string& name() const = 0;
  // The config kind ("openai", "anthropic", "gemini"…).
  virtual std::string_view kind() const = 0;
  virtual const Capabilities& capabilities() const = 0;
  virtual const Endpoint& endpoint() const = 0;
  // Models listed by GET /v1/models, without the "<provider>/" prefix.
  virtual const std::vector<std::string>& models() const = 0;
  // True when the provider speaks `format` natively: encode_chat then gets call.raw (no
  // canonical request), decode_chat fills ChatResponse::raw, and the stream decoder calls
  // StreamSink::raw. The fast path: nothing is translated or serialised twice.
  // (OpenAI Responses passed through is decoded by the gateway, not by decode_chat and
  // stream_decoder: its wire is the same at every vendor that has it; openai_passthrough.h.)
  virtual bool speaks(WireFormat format) const { return false; }

  // Builds the upstream request for a chat call. An error is a client error (400) that names
  // the field and the provider.
  virtual Result<UpstreamRequest> encode_chat(const ChatCall& call) const = 0;
  // Decodes a 2xx non-streamed answer (passthrough: the client's format is the provider's).
  virtual Result<ChatResponse> decode_chat(std::string&& body, bool passthrough) const = 0;
  // A decoder for a 2xx streamed answer.
  virtual std::unique_ptr<StreamDecoder> stream_decoder(bool passthrough) const = 0;
  // Maps a non-2xx upstream answer to the error the client sees (never the raw body blindly).
  virtual ApiError map_error(int status, std::string_view body, std::string_view retry_after) const = 0;
  // Builds the upstream request for Anthropic's POST /v1/messages/count_tokens (call.raw = the
  // client's Anthropic body: rewrite "model" to call.upstream_model, drop "max_tokens" and
  // "stream"). Default: an error (the gateway then estimates).
  virtual Result<UpstreamRequest> encode_count_tokens(const ChatCall& call) const {
    return ApiError::invalid_request("provider '" + name() + "' cannot count tokens");
  }
  // Builds the upstream request for an embeddings call (when capabilities().embeddings).
  // Default: an error naming the provider.
  virtual Result<UpstreamRequest> encode_embeddings(const EmbeddingsCall& call) const {
    return ApiError::invalid_request("provider '" + name() + "' has no embeddings");
  }
  // Decodes a 2xx embeddings answer: one vector per input, all of one dimension.
  virtual Result<EmbeddingsResult> decode_embeddings(std::string_view body) const {
    return ApiError::bad_gateway("provider '" + name() + "' has no embeddings");
  }
  // Builds the first upstream request of a modality call (capabilities().supports(modality)).
  // An error is the client's (400 naming the field and the provider).
  virtual Result<UpstreamRequest> encode_modality(const ModalityCall& call) const {
    return ApiError::invalid_request("provider '" + name() + "' does not serve " +
                                     std::string(modality_name(call.modality)));
  }
  // Decodes the 2xx answer to request `step` of a call (0: encode_modality's; then the polls
  // the replies asked for) into the client's answer, or the next request. `content_type` is
  // the answer's. Speech is not decoded: its audio is streamed as it comes (see
  // speech_content_type).
  virtual Result<ModalityReply> decode_modality(const ModalityCall& call, int step,
                                                std::string_view content_type,
                                                std::string&& body) const {
    return ApiError::bad_gateway("provider '" + name() + "' does not serve " +
                                 std::string(modality_name(call.modality)));
  }
  // Copies the provider's rate-limit headers as OpenAI's x-ratelimit-* names (the default
  // copies x-ratelimit-* as they are). They go to the client and the audit.
  virtual void rate_limit_headers(const UpstreamResponse& response, Headers& out) const;
};

}  // namespace torii
