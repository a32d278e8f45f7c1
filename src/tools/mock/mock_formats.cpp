// The registry of the wire formats `torii mock` speaks, and the format-independent script rules.
#include <algorithm>

#include "tools/mock/mock_format.h"

namespace torii {

// Each format's file defines its accessor; declare it here and list it below.
const MockFormat& mock_openai_format();
const MockFormat& mock_bedrock_format();
const MockFormat& mock_anthropic_format();
const MockFormat& mock_gemini_format();
const MockFormat& mock_cohere_format();
const MockFormat& mock_ollama_format();
const MockFormat& mock_responses_format();
const MockFormat& mock_completions_format();

const std::vector<const MockFormat*>& mock_formats() {
  // One line per format. Paths must not overlap: the first format that matches serves a path.
  static const std::vector<const MockFormat*> formats = {
      &mock_openai_format(),
      &mock_bedrock_format(),
      &mock_anthropic_format(),
      &mock_gemini_format(),
      &mock_cohere_format(),
      &mock_ollama_format(),
      &mock_responses_format(),
      &mock_completions_format(),
  };
  return formats;
}

const MockFormat* find_mock_format(std::string_view path) {
  for (const MockFormat* f : mock_formats())
    if (f->matches(path)) return f;
  return nullptr;
}

MockScript make_mock_script(const MockTurn& turn, const MockKnobs& k, const MockWords& words) {
  MockScript s;
  s.model = turn.model;
  s.words = &words;
  s.tokens_per_chunk = k.tokens_per_chunk;
  s.include_usage = turn.include_usage || k.stream_usage == 1;
  s.blocked = k.blocked == 1;
  s.thinking = turn.thinking || k.thinking == 1;
  s.reasoning_tokens = s.thinking ? kMockThinkingTokens : 0;
  s.cached_tokens = k.cached_tokens;
  s.cache_write_tokens = k.cache_write_tokens;
  s.prompt_tokens = turn.prompt_tokens + s.cached_tokens + s.cache_write_tokens;

  const bool call_tool = !s.blocked && !turn.tool_name.empty() &&
                         (k.tool_call == 1 || (k.tool_call == -1 && !turn.last_is_tool_result));
  std::int64_t tool_tokens = 0;
  if (call_tool) {
    s.tool_name = turn.tool_name;
    s.tool_args.reserve(16 + words.word(0).size());
    s.tool_args += R"({"q":")";
    s.tool_args += words.word(0);  // stored JSON-escaped: the arguments stay valid JSON
    s.tool_args += R"("})";
    tool_tokens = std::int64_t(s.tool_name.size() + s.tool_args.size() + 3) / 4;
  } else if (!s.blocked) {
    s.content_words = k.total_words();
    s.chunks = k.chunks;
    if (turn.max_tokens && *turn.max_tokens < s.content_words) {
      s.truncated = true;
      s.content_words = std::max<std::int64_t>(0, *turn.max_tokens);
      // tokens_per_chunk > 0 here: total_words() exceeded a non-negative cap.
      s.chunks = static_cast<int>((s.content_words + k.tokens_per_chunk - 1) / k.tokens_per_chunk);
    }
  }
  s.completion_tokens = s.content_words + s.reasoning_tokens + tool_tokens;
  return s;
}

}  // namespace torii
