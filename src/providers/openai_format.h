#pragma once
// OpenAI chat-completions JSON ↔ the canonical model, in the four directions: the inbound
// codec (api/openai_chat) decodes requests and encodes answers; the OpenAI-compatible provider
// encodes requests and decodes answers when the client spoke another format.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "providers/canonical.h"

namespace torii {

// --- requests ---------------------------------------------------------------------------------

// Decodes an OpenAI chat request (already parsed and checked by decode_openai_chat) into `out`.
// Errors are 400s naming the field ("messages[2].content[0].type").
Result<void> openai_request_to_canonical(const boost::json::object& request, ChatRequest& out);

struct OpenAiDialect {
  bool max_completion_tokens = false;  // send max_completion_tokens rather than max_tokens
  bool stream_usage_option = true;     // ask for usage with stream_options.include_usage
  bool reasoning_content = false;      // the vendor accepts assistant reasoning_content in input
};

// Encodes a canonical request as an OpenAI chat body for `model`. Hints with no counterpart go
// to `ignored`; a meaning the format cannot carry is a 400 naming the field and `provider`.
Result<std::string> canonical_to_openai_request(const ChatRequest& request, std::string_view model,
                                                bool stream, const OpenAiDialect& dialect,
                                                std::string_view provider,
                                                std::vector<std::string>& ignored);

// --- answers ----------------------------------------------------------------------------------

FinishReason parse_openai_finish(std::string_view reason);

// Decodes an OpenAI chat.completion body (the first choice).
Result<ChatResult> openai_response_to_canonical(std::string_view body, std::string_view provider);

// Encodes a canonical answer as a chat.completion body.
std::string canonical_to_openai_response(const ChatResult& result);

// --- streams ----------------------------------------------------------------------------------

// Decodes one chat.completion.chunk (JSON text) into canonical events, in order. `started`
// tracks whether the start event was emitted (first chunk). Usage, when the chunk has it, is
// stored in `usage` and emitted as a usage event.
Result<void> openai_chunk_to_events(std::string_view chunk, bool& started, Usage& usage,
                                    const std::function<void(const StreamEvent&)>& emit);

// Encodes canonical events as OpenAI chunk events ("data: {...}\n\n"), one encoder per stream.
class OpenAiChunkWriter {
 public:
  explicit OpenAiChunkWriter(bool include_usage) : include_usage_(include_usage) {}
  void write(const StreamEvent& e, std::string& out);

 private:
  void prefix(std::string& out);
  bool include_usage_;
  std::string id_ = "chatcmpl-torii", model_;
  int64_t created_ = 0;
};

}  // namespace torii
