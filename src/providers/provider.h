#pragma once
// Provider: one narrow interface per upstream vendor (STYLE.md: TensorZero's narrow trait).
// A provider is a pure codec plus an endpoint: it turns a canonical call into an upstream HTTP
// request and the upstream's answer back into the client's shape. It does no I/O; the
// upstream client (upstream/http_client.h) does, so every provider is testable without sockets.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "server/http.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"
#include "upstream/sse_parser.h"

namespace torii {

// What a provider can do. The gateway answers a clear 400 for anything not announced here;
// providers never implement "unsupported" stubs.
struct Capabilities {
  bool chat = false;
  bool chat_stream = false;
  bool stream_usage_option = false;  // accepts stream_options.include_usage
};

// Token usage as reported by the provider (OpenAI's names; -1 = not reported).
struct Usage {
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
  int64_t total_tokens = -1;
  int64_t cached_tokens = -1;     // prompt_tokens_details.cached_tokens
  int64_t reasoning_tokens = -1;  // completion_tokens_details.reasoning_tokens
  bool known() const { return prompt_tokens >= 0 || completion_tokens >= 0; }
};

// Reads OpenAI's "usage" object; fields absent stay -1.
Usage parse_openai_usage(const boost::json::object& usage);

// A chat call in canonical form: the decoded OpenAI request (the canonical shape), the model
// name at the provider, and whether to stream.
struct ChatCall {
  const boost::json::object& request;  // as the client sent it (unknown fields included)
  std::string_view upstream_model;
  bool stream = false;
};

// A decoded non-streamed chat answer: the body to send the client (OpenAI shape) and usage.
struct ChatResponse {
  std::string body;
  Usage usage;
};

// One event for the client's stream, in OpenAI's chunk shape (the JSON after "data: ").
struct StreamChunk {
  std::string data;
  bool usage_only = false;  // the trailing usage chunk (choices empty)
};

// Turns a provider's stream, one SSE event at a time, into OpenAI chunks. One per stream.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Called for each upstream event. Emits zero or more chunks through `emit`; sets `usage`
  // when the event carried usage; returns an error for an upstream error event or an
  // undecodable one. `done` is set when the provider signalled the end ([DONE] or equivalent).
  virtual Result<void> on_event(const SseEvent& event, const std::function<void(StreamChunk&&)>& emit,
                                Usage& usage, bool& done) = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const std::string& name() const = 0;
  virtual const Capabilities& capabilities() const = 0;
  virtual const Endpoint& endpoint() const = 0;
  // Models listed by GET /v1/models, without the "<provider>/" prefix.
  virtual const std::vector<std::string>& models() const = 0;

  // Builds the upstream request for a chat call. An error is a client error (400).
  virtual Result<UpstreamRequest> encode_chat(const ChatCall& call) const = 0;
  // Decodes a 2xx non-streamed answer.
  virtual Result<ChatResponse> decode_chat(std::string&& body) const = 0;
  // A decoder for a 2xx streamed answer.
  virtual std::unique_ptr<StreamDecoder> stream_decoder() const = 0;
  // Maps a non-2xx upstream answer to the error the client sees (never the raw body blindly).
  virtual ApiError map_error(int status, std::string_view body, std::string_view retry_after) const = 0;
};

}  // namespace torii
