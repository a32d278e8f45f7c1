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

// One chat request in each inbound format, the same conversation in all three: a system prompt,
// three user turns with the two assistant answers between them (~1 KB of text) and one tool
// (get_weather). The large variant adds a ~60 KB base64 PNG to the last user turn (~64 KB body).
// Not streamed; the models are gpt-4o-mini / claude-sonnet-4-5.
struct ChatBodies {
  std::string openai_chat;         // POST /v1/chat/completions
  std::string anthropic_messages;  // POST /v1/messages
  std::string openai_responses;    // POST /v1/responses
};
const ChatBodies& chat_bodies(bool large);
// The base64 data of the large bodies' image (~60 KB, no JSON escaping needed).
const std::string& image_base64();

// Heap allocations so far in this process (operator new is replaced in fixtures.cpp to count).
std::uint64_t allocation_count();

// Reports the allocations made since `before` (taken just before the benchmark loop) as the
// counter "allocs", averaged per iteration.
inline void report_allocations(benchmark::State& state, std::uint64_t before) {
  state.counters["allocs"] = benchmark::Counter(static_cast<double>(allocation_count() - before),
                                                benchmark::Counter::kAvgIterations);
}

// Records one call per iteration over `bytes` bytes of input, and the label shown by the report.
inline void report_per_call(benchmark::State& state, std::size_t bytes, const std::string& label) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(label);
}

}  // namespace torii::bench
