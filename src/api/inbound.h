#pragma once
// Inbound APIs: the wire formats clients speak (OpenAI chat, Anthropic Messages, OpenAI
// Responses, legacy completions). One codec per API turns the client's JSON into the canonical
// request (providers/canonical.h) and the canonical answer, streamed or not, back into the
// client's shape. Codecs are stateless singletons; a stream gets its own StreamEncoder.
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/error.h"
#include "core/result.h"
#include "providers/canonical.h"
#include "providers/provider.h"

namespace torii {

// What the gateway needs before the full decode: enough to route and to frame the answer.
struct InboundInfo {
  std::string model;
  bool stream = false;
  bool include_usage = false;  // the client wants usage in its stream (OpenAI's option)
};

// The client-facing end of a stream. Canonical events and passthrough events come in through
// StreamSink; the bytes for the client accumulate in `out` (the proxy writes and clears it).
class StreamEncoder : public StreamSink {
 public:
  std::string out;
  // The upstream stream ended cleanly: append what closes it (OpenAI: "data: [DONE]").
  virtual void finish() = 0;
  // The stream failed after it started: append the format's error event (no clean end).
  virtual void fail(const ApiError& e) = 0;
};

class InboundCodec {
 public:
  virtual ~InboundCodec() = default;
  virtual WireFormat format() const = 0;
  // Parses `body` into `raw` (allocated from raw.storage()) and checks the fields routing and
  // framing rely on. Errors are 400s naming the field in `param`.
  virtual Result<InboundInfo> parse(std::string_view body, boost::json::object& raw) const = 0;
  // The full decode of a parsed request into the canonical model (done only when the chosen
  // provider does not speak this format). Errors are 400s naming the field.
  virtual Result<void> to_canonical(const boost::json::object& raw, ChatRequest& out) const = 0;
  // The client's body for a complete canonical answer.
  virtual std::string encode_result(const ChatResult& result) const = 0;
  // The encoder for one streamed answer.
  virtual std::unique_ptr<StreamEncoder> stream_encoder(const InboundInfo& info) const = 0;
  // An error in this API's shape (OpenAI: {"error":{...}}; Anthropic: {"type":"error",...}).
  virtual std::string error_body(const ApiError& e) const = 0;
};

// Whether a request names a prompt template ("torii": {"template": ...}, docs/PROMPTS.md): its
// conversation may then be empty, since the prompt library appends the rendered template (a
// request still empty after it is refused there).
inline bool names_prompt_template(const boost::json::object& raw) {
  auto t = raw.if_contains("torii");
  return t && t->is_object() && t->get_object().contains("template");
}

// The codec singletons.
const InboundCodec& openai_chat_codec();
const InboundCodec& anthropic_messages_codec();
const InboundCodec& openai_responses_codec();
const InboundCodec& openai_completions_codec();

}  // namespace torii
