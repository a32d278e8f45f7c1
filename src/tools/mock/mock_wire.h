#pragma once
// The pure parts of `torii mock` (no sockets, no coroutines), so they can be unit-tested:
// per-request knobs, deterministic content, usage estimation and the wire JSON it sends.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "core/result.h"
#include "server/http.h"

namespace torii {

struct MockOptions;

// The knobs that shape one mock answer. Defaults come from MockOptions; a request overrides
// them with headers `x-mock-<name with - for _>` first, then with its body's "mock" object
// (so the body wins when both name a knob). All values are non-negative integers.
struct MockKnobs {
  int latency_ms = 0;          // delay before the response head
  int ttft_ms = 0;             // stream: delay between the head and the first content chunk
  int chunks = 8;              // stream: content chunks (non-stream: same words, one message)
  int interval_ms = 0;         // stream: delay between content chunks
  int tokens_per_chunk = 1;    // words per content chunk
  int status = 0;              // answer this status with an OpenAI error body (0 or <400: none)
  int fail_percent = -1;       // -1 unset; else this % of requests fail with status (or 500)
  int retry_after = -1;        // -1 unset; else the Retry-After header value of an error
  int reset_after_chunks = -1; // -1 unset; stream: abort the connection after N content chunks
  int stall_ms = 0;            // stop sending this long (non-stream: before the head)
  int stall_after_chunks = 0;  // stream: the stall comes after this many content chunks
  int thinking = 0;            // 1: answer with a reasoning block even when not asked for
  int cached_tokens = 0;       // prompt tokens reported as cache reads (added to the prompt)
  int cache_write_tokens = 0;  // prompt tokens reported as cache writes (added to the prompt)
  int blocked = 0;             // 1: no text, the format's content-filter finish reason
  int tool_call = -1;          // -1: call the first declared tool unless the last message is a
                               // tool result; 0: never call a tool; 1: call it even then
  int stream_usage = 0;        // 1: a stream always ends with usage, asked for or not (Mistral)
  int fail_first = -1;         // -1 unset; else the first N requests carrying this knob (counted
                               // per mock process, zeroed by POST /mock/reset) fail with status
                               // (or 500); later ones answer normally unless fail_percent says
  int glue = 0;                // 1: words are written without the space after each (a token
                               // split across chunks: "AKIAIOSF" "ODNN7EXA" "MPLE")
  int polls = 2;               // asynchronous jobs (Leonardo, Luma): polls that find the job
                               // still pending before it is done

  static MockKnobs from_options(const MockOptions& options);

  // The status of an injected failure for this request, or 0 for a normal answer.
  // `roll` is a uniform random number in [0, 100): the request fails when roll < fail_percent.
  // `seen` is, when fail_first is set, this request's 1-based rank among the requests that
  // carried fail_first: it fails while seen <= fail_first. Once fail_first is set, `status`
  // alone no longer fails every request (as with fail_percent).
  int fault_status(int roll, std::int64_t seen = 0) const;
  // Words generated in total (chunks * tokens_per_chunk).
  std::int64_t total_words() const {
    return static_cast<std::int64_t>(chunks) * tokens_per_chunk;
  }
};

// Applies every `x-mock-*` header. An unknown knob or a bad value (not a non-negative integer,
// out of range) is a 400 naming the knob in `param`. Every knob is an integer >= 0, except
// tool_call (-1, 0 or 1).
Result<void> apply_header_knobs(MockKnobs& knobs, const Headers& headers);
// Applies the body's "mock" field (must be an object of integer knobs). Same errors.
Result<void> apply_body_knobs(MockKnobs& knobs, const boost::json::value& mock);

// Appends `s` JSON-escaped (without quotes). `s` is assumed to be valid UTF-8.
void append_json_escaped(std::string& out, std::string_view s);

// The text of one message's "content": a string, or the "text" of each part of an array.
// Appends it to `out` (parts separated by a space).
void append_message_text(std::string& out, const boost::json::value& content);

// prompt_tokens: about one token per 4 bytes of the messages' text content, at least 1.
std::int64_t estimate_prompt_tokens(const boost::json::value& messages);

// The deterministic words the mock answers with: the words of the last user message, cycled,
// or a fixed list when that message has no words. Each word is stored JSON-escaped and followed
// by a space (one word = one token). Glued words (knob glue) are written without that space, so
// that the words of consecutive chunks join into one token.
class MockWords {
 public:
  // Collects at most `needed` words (more are never used) from `text` (split on whitespace).
  MockWords(std::string_view text, std::int64_t needed, bool glue = false);
  // The same, from the last "user" message of an OpenAI `messages` array.
  MockWords(const boost::json::value& messages, std::int64_t needed, bool glue = false);
  // Appends the JSON-escaped words [first, first + count) (cycling) to `out`, each followed by
  // its space unless glued.
  void append(std::string& out, std::int64_t first, std::int64_t count) const;
  bool glued() const { return glue_; }
  // Word i (< size()), JSON-escaped, without its trailing space.
  std::string_view word(std::size_t i) const;
  std::size_t size() const { return ends_.size(); }

 private:
  void collect(std::string_view text, std::int64_t needed);
  void add(std::string_view word);
  std::string text_;              // escaped words, each followed by a space
  std::vector<std::uint32_t> ends_;  // end offset of each word in text_
  bool glue_ = false;
};

struct MockUsage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
};

// OpenAI chat wire pieces (defined in mock_openai.cpp, which serves the OpenAI MockFormat with
// them; kept here for the micro-benchmark fixtures, which build the bench upstream's bytes).
// Builds the SSE events of one stream from a small string template: every event shares the
// prefix `data: {"id":..,"object":"chat.completion.chunk","created":..,"model":..,"choices":[`.
class MockChunks {
 public:
  MockChunks(std::string_view id, std::int64_t created, std::string_view model);
  // The first event: delta {role:"assistant", content:""}.
  void append_role(std::string& out) const;
  // One content event with words [first, first + count).
  void append_content(std::string& out, const MockWords& words, std::int64_t first,
                      std::int64_t count) const;
  // The event with finish_reason "stop" and an empty delta.
  void append_finish(std::string& out) const;
  // The usage event (`choices: []`), sent when stream_options.include_usage was set.
  void append_usage(std::string& out, const MockUsage& usage) const;
  // `data: [DONE]`.
  static void append_done(std::string& out);

 private:
  std::string prefix_;
};

// The non-stream chat.completion object, whose message content is words [0, count).
std::string build_completion_json(std::string_view id, std::int64_t created,
                                  std::string_view model, const MockWords& words,
                                  std::int64_t count, const MockUsage& usage);

// The ApiError of an injected status (each format renders it in its own shape).
ApiError mock_fault_error(int status);

// POST /v1/moderations: OpenAI's moderation object for the request `body`, with id
// "modr-mock-<n>". "input" is a string or an array of strings; each gets the categories hate,
// harassment, self-harm, sexual and violence, scored 0.9 when the input holds the category's
// name as a word (any case) and 0.01 otherwise, and is flagged when a score is >= 0.5. "model"
// (optional, a string) is echoed, default "omni-moderation-latest". A model named
// "mistral-moderation..." gets Mistral's shape instead: its nine categories (sexual,
// hate_and_discrimination, violence_and_threats, ..., pii), scored by the words sexual, hate,
// violence and self-harm, and no "flagged". A bad body is a 400 naming the field.
Result<std::string> mock_moderation(std::string_view body, std::int64_t n);

}  // namespace torii
