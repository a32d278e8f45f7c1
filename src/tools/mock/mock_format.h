#pragma once
// The wire formats `torii mock` speaks. The mock's handler (mock.cpp) is format-independent:
// it reads the body, asks the format that matches the path to parse it into a MockTurn, builds
// one MockScript (knobs, words, tool call, thinking, usage), applies latency and faults, and
// paces the stream. A format only turns the script into its own bytes.
//
// The mock is written independently of the provider adapters (src/providers/): it is the
// other side of the wire that tests them, so it must not share their code.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/result.h"
#include "server/http.h"
#include "tools/mock/mock_wire.h"

namespace torii {

// What the mock understood of one chat request, whatever its format.
struct MockTurn {
  std::string model;                 // from the body, or from the path (Gemini, Bedrock, Azure)
  bool stream = false;
  bool include_usage = false;        // OpenAI's stream_options.include_usage (others: always)
  std::string last_user_text;        // the text of the last user message: the words echoed
  std::int64_t prompt_tokens = 1;    // about one per 4 bytes of all the request's text, >= 1
  std::optional<std::int64_t> max_tokens;  // the output cap the client sent
  std::string tool_name;             // the first declared tool; "" when none or choice "none"
  bool last_is_tool_result = false;  // the conversation ends with a tool result
  bool thinking = false;             // the request asked for reasoning / thinking
  int images = 0;                    // image parts seen in the request
  boost::json::value knobs;          // the body's "mock" object (null when absent)
};

// The answer the mock plays, built once per request by the handler from the turn and knobs.
//  - A tool call is made when the turn declares a tool and does not end with a tool result:
//    `tool_name` with arguments `tool_args` ({"q":"<first word>"}); no text then, and the
//    finish reason is the format's "tool calls" one.
//  - Otherwise the answer is `words` [0, content_words): `truncated` (finish "length") when
//    max_tokens cut it; `blocked` (knob) answers no text and the format's content-filter
//    finish (OpenAI content_filter, Anthropic refusal, Gemini SAFETY, Bedrock content_filtered…).
//  - `thinking` (requested, or knob thinking=1) puts a reasoning block first: text
//    kMockThinking, signature kMockSignature, counted in reasoning_tokens.
struct MockScript {
  std::string id;                 // "mock-N", unique in the process; a format may prefix it
                                  // (OpenAI: "chatcmpl-mock-N")
  std::int64_t created = 0;
  std::string model;
  const MockWords* words = nullptr;
  std::int64_t content_words = 0;
  int chunks = 0;                 // stream: content chunks, each of tokens_per_chunk words
  int tokens_per_chunk = 1;       // (the last may be shorter when truncated)
  bool truncated = false;
  bool blocked = false;
  bool thinking = false;
  std::string tool_name;          // "" when no tool call
  std::string tool_args;          // JSON text
  bool include_usage = false;
  std::int64_t prompt_tokens = 0;       // all input tokens, cached and cache writes included
  std::int64_t completion_tokens = 0;   // content words + tool call + reasoning
  std::int64_t cached_tokens = 0;       // knob cached_tokens
  std::int64_t cache_write_tokens = 0;  // knob cache_write_tokens
  std::int64_t reasoning_tokens = 0;    // thinking words when thinking
};

inline constexpr std::string_view kMockThinking = "The mock considers the question.";
inline constexpr std::string_view kMockSignature = "bW9jay1zaWduYXR1cmU=";
inline constexpr std::int64_t kMockThinkingTokens = 5;  // the words of kMockThinking

class MockFormat {
 public:
  virtual ~MockFormat() = default;
  virtual std::string_view name() const = 0;  // "openai", "anthropic", "gemini"…
  // True when this format serves POST `path` (query string removed).
  virtual bool matches(std::string_view path) const = 0;
  // Parses a request; an error is answered with this format's error body.
  // `target` is the full request target (query string included: Gemini's alt=sse).
  virtual Result<MockTurn> parse(std::string_view target, const Headers& headers,
                                 std::string_view body) const = 0;
  // The non-streamed answer body.
  virtual std::string whole(const MockScript& s) const = 0;
  virtual std::string_view stream_content_type() const { return "text/event-stream"; }
  // Stream pieces: the start (incl. any thinking block), one content chunk of words
  // [first, first + count), and the end (tool call with its arguments in at least two
  // fragments, finish, usage, terminator).
  virtual void stream_start(std::string& out, const MockScript& s) const = 0;
  virtual void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                           std::int64_t count) const = 0;
  virtual void stream_end(std::string& out, const MockScript& s) const = 0;
  // An error in this format's shape (the status is e.status).
  virtual std::string error_body(const ApiError& e) const = 0;
};

// Every format, in match order (mock_formats.cpp; one line per format).
const std::vector<const MockFormat*>& mock_formats();

// The format that serves POST `path` (query string removed), or nullptr.
const MockFormat* find_mock_format(std::string_view path);

// Builds the script of one answer from the turn, the request's knobs and the words (which must
// outlive the script; build them with MockWords(turn.last_user_text, knobs.total_words())).
// Applies the rules above: the tool-call rule and the tool_call knob (-1 automatic, 0 never,
// 1 even after a tool result), max_tokens truncation (content words capped, chunks shortened,
// finish "length"), blocked (wins over a tool call), thinking, and usage:
//   prompt_tokens = turn.prompt_tokens + cached_tokens + cache_write_tokens;
//   completion_tokens = content words + reasoning_tokens + tool call tokens
//   (bytes of name and arguments / 4, rounded up).
// id and created are left for the caller to fill.
MockScript make_mock_script(const MockTurn& turn, const MockKnobs& knobs, const MockWords& words);

// Words of stream content chunk `i` of `s` (tokens_per_chunk, the last one shorter when
// truncated): a format's stream_text is called with [i * tokens_per_chunk, + this).
inline std::int64_t mock_chunk_words(const MockScript& s, int i) {
  const std::int64_t first = std::int64_t(i) * s.tokens_per_chunk;
  const std::int64_t left = s.content_words - first;
  return left < s.tokens_per_chunk ? (left > 0 ? left : 0) : s.tokens_per_chunk;
}

}  // namespace torii
