#pragma once
#include <benchmark/benchmark.h>
// Inputs shared by the micro-benchmarks: realistic OpenAI traffic, built once per process from
// the mock's own wire code (tools/mock/mock_wire.h), so the bytes are those the bench upstream
// sends. Every accessor returns the same object on each call.
#include <cstdint>
#include <string>
#include <vector>

namespace torii::bench {

// One OpenAI stream as the mock sends it with stream_options.include_usage: a role chunk,
// content chunks, the finish_reason chunk and the usage chunk (64 chat.completion.chunk events,
// ~200 bytes each), then `data: [DONE]`.
struct OpenAiStream {
  std::string wire;                 // the SSE bytes, as read from the socket
  std::vector<std::string> events;  // each event's data (the JSON after "data: ")
  std::string content_event;        // the data of one typical content chunk
  std::string usage_event;          // the data of the usage chunk (choices: [])
};
const OpenAiStream& openai_stream();

// Chat-completions request bodies: one user message (~150 bytes), and a 50-message
// conversation with sampling parameters (~20 KB). Both have "stream": true.
const std::string& small_chat_request();
const std::string& large_chat_request();

// A typical non-streamed chat.completion answer (~600 bytes), usage last as OpenAI sends it.
const std::string& completion_answer();

// Records one call per iteration over `bytes` bytes of input, and the label shown by the report.
inline void report_per_call(benchmark::State& state, std::size_t bytes, const std::string& label) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(label);
}

}  // namespace torii::bench
