#pragma once
// The canonical chat model: what every inbound API (OpenAI chat, Anthropic Messages, OpenAI
// Responses, legacy completions) and every provider format (OpenAI-compatible, Anthropic, Gemini,
// Bedrock Converse, Cohere, Ollama…) share. Inbound codecs decode the client's JSON into a
// ChatRequest and encode a ChatResult / StreamEvents back; provider codecs encode a ChatRequest
// into the native request and decode the native answer into a ChatResult / StreamEvents.
//
// Translation rule (issue "Providers"): every field with a counterpart is translated. A field
// without one is dropped only when it is a hint (seed, user, parallel_tool_calls…); the encoder
// then names it in `ChatCall::ignored` and the client sees it in `x-torii-ignored-params`.
// When dropping it would change the meaning (n > 1, logprobs, a JSON schema the target cannot
// enforce…), the encoder answers a 400 that names the field and the provider.
//
// When the client's format is the provider's own (OpenAI chat → OpenAI-compatible, Anthropic →
// Anthropic), providers skip this model and forward the client's JSON with small edits
// ("passthrough", see provider.h): unknown fields then survive and nothing is serialised twice.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace torii {

// Token usage. OpenAI's meaning, whatever the provider: prompt_tokens counts ALL input tokens,
// cached reads and cache writes included (Anthropic's input_tokens excludes them: its decoder
// adds cache_read_input_tokens and cache_creation_input_tokens; its encoder subtracts them).
// -1 = not reported.
struct Usage {
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;     // includes reasoning tokens
  int64_t total_tokens = -1;
  int64_t cached_tokens = -1;         // input tokens read from the provider's prompt cache
  int64_t cache_write_tokens = -1;    // input tokens written to the prompt cache (Anthropic)
  int64_t reasoning_tokens = -1;      // output tokens spent thinking
  // The other modalities' units (providers/modality.h): images made, seconds of audio (in
  // milliseconds: transcribed, or spoken), characters spoken.
  int64_t images = -1;
  int64_t audio_ms = -1;
  int64_t characters = -1;
  bool known() const {
    return prompt_tokens >= 0 || completion_tokens >= 0 || images >= 0 || audio_ms >= 0 ||
           characters >= 0;
  }
  // Fills total_tokens from the parts when the provider did not send it.
  void complete() {
    if (total_tokens < 0 && prompt_tokens >= 0 && completion_tokens >= 0)
      total_tokens = prompt_tokens + completion_tokens;
  }
};

enum class Role : uint8_t { system, user, assistant, tool };

// One piece of a message. Which fields matter depends on `kind` (the others stay empty).
struct Part {
  enum class Kind : uint8_t {
    text,               // text
    image,              // media_type + data (base64), or url; detail = OpenAI's hint
    document,           // media_type + data (base64, e.g. application/pdf), or url; text = title
    thinking,           // text (the reasoning), signature (Anthropic's, Gemini's thoughtSignature)
    redacted_thinking,  // data (opaque, Anthropic's redacted_thinking)
    tool_call,          // id, name, arguments (JSON text): an assistant's call
    tool_result,        // id (of the call answered), content (text/image parts), is_error
  };
  Kind kind = Kind::text;
  std::string text;
  std::string media_type;
  std::string data;
  std::string url;        // http(s) URL; data: URLs are split into media_type + data on decode
  std::string detail;
  std::string signature;
  std::string id;
  std::string name;
  std::string arguments;  // always a JSON text (an object); "{}" when the call had none
  std::vector<Part> content;
  bool is_error = false;
  bool cache_hint = false;  // Anthropic's cache_control {"type":"ephemeral"} on this part

  static Part make_text(std::string t) {
    Part p;
    p.text = std::move(t);
    return p;
  }
};

// A message. A tool result is a `tool` message with one tool_result part per result
// (OpenAI sends one message per result; Anthropic puts them in a user message: the codecs
// convert). System instructions are `system` messages, in order (OpenAI's developer role too).
struct Message {
  Role role = Role::user;
  std::vector<Part> parts;
  std::string name;  // OpenAI's participant name (a hint)
};

struct Tool {
  std::string name;
  std::string description;
  boost::json::value parameters;  // JSON Schema object; null when the tool takes none
  std::optional<bool> strict;
};

struct ToolChoice {
  enum class Mode : uint8_t { unset, auto_, none, required, tool };
  Mode mode = Mode::unset;
  std::string name;  // mode == tool
};

struct ResponseFormat {
  enum class Kind : uint8_t { unset, text, json_object, json_schema };
  Kind kind = Kind::unset;
  std::string name;           // json_schema's name
  boost::json::value schema;  // json_schema's schema
  std::optional<bool> strict;
};

struct ChatRequest {
  std::string model;  // as the client sent it (the route resolves it)
  std::vector<Message> messages;
  std::vector<Tool> tools;
  ToolChoice tool_choice;
  std::optional<bool> parallel_tool_calls;  // hint
  ResponseFormat response_format;
  std::vector<std::string> stop;
  std::optional<double> temperature, top_p, presence_penalty, frequency_penalty;
  std::optional<int64_t> top_k;
  std::optional<int64_t> max_tokens;  // max_tokens or max_completion_tokens (output cap)
  std::optional<int64_t> seed;        // hint
  std::optional<int64_t> n;           // choices wanted; only 1 translates across formats
  bool logprobs = false;
  std::optional<int64_t> top_logprobs;
  std::string reasoning_effort;            // "minimal" | "low" | "medium" | "high"; "" unset
  std::optional<int64_t> thinking_budget;  // thinking tokens (Anthropic, Gemini); 0 = disabled
  bool stream = false;
  bool include_usage = false;  // the client asked for usage in the stream (OpenAI)
  std::string user;            // end-user id (hint)
  // Fields of the inbound request the canonical model does not hold; a cross-format encoder
  // lists them as ignored (they reach a same-format provider through passthrough).
  std::vector<std::string> unknown_fields;
};

// One mapping between reasoning effort levels and thinking budgets, shared by every adapter so
// that a level means the same spend everywhere: minimal 1024, low 2048, medium 8192,
// high 16384 tokens; "none" 0 (thinking off). -1 for an unknown level.
int64_t effort_thinking_budget(std::string_view effort);
// The reverse, for providers that take a level (OpenAI): <= 2048 low, <= 8192 medium, else high.
std::string_view thinking_budget_effort(int64_t budget);

enum class FinishReason : uint8_t { unset, stop, length, tool_calls, content_filter, error };

// "stop", "length", "tool_calls", "content_filter", "error", or "" for unset (OpenAI's names).
std::string_view openai_finish_reason(FinishReason r);

// A complete (non-streamed) answer.
struct ChatResult {
  std::string id;
  std::string model;  // as the provider named it
  int64_t created = 0;
  std::vector<Part> parts;  // the assistant's output: text, thinking, redacted_thinking, tool_call
  FinishReason finish = FinishReason::unset;
  std::string native_finish;   // the provider's own reason ("end_turn", "SAFETY"…), for audit
  std::string stop_sequence;   // the stop sequence that matched, when the provider says
  std::string refusal;         // OpenAI's message.refusal
  Usage usage;
};

// One streamed event, format-independent. Strings are valid only during the callback.
// A stream is: start, then content events (text / thinking / tool calls, interleaved as the
// provider sends them), then finish, then usage (when known), in that order. Tool-call events
// carry the tool call's ordinal `index` (0, 1, …); its `tool_call_start` comes before its args.
struct StreamEvent {
  enum class Kind : uint8_t {
    start,               // id, name = the model (empty: the gateway fills in the target's)
    text,                // text (a delta)
    thinking,            // text (a delta)
    thinking_signature,  // text = the signature of the current thinking block
    redacted_thinking,   // text = data
    tool_call_start,     // index, id, name; text = the call's signature (Gemini), if any
    tool_call_args,      // index, text = a fragment of the arguments' JSON text
    finish,              // finish, text = native reason, id = stop sequence matched (if any)
    usage,               // usage
  };
  Kind kind = Kind::text;
  int index = 0;
  std::string_view text, id, name;
  FinishReason finish = FinishReason::unset;
  Usage usage;
};

}  // namespace torii
