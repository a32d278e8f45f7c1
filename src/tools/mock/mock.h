#pragma once
// `torii mock`: an OpenAI-compatible provider emulator, used as the upstream in tests and
// benchmarks. Its wire behaviour (routes, knobs, faults) is the contract in the project brief
// and docs; the pure parts (knobs, content, chunk building) live in mock_wire.h.
#include <memory>
#include <string>
#include <vector>

#include "server/http.h"

namespace torii {

// Defaults for every request, set from the `torii mock` CLI flags. Each may be overridden per
// request (body field "mock" or headers x-mock-*; see MockKnobs in mock_wire.h).
struct MockOptions {
  int latency_ms = 0, ttft_ms = 0, chunks = 8, interval_ms = 0, tokens_per_chunk = 1;
  std::vector<std::string> models = {"mock-1", "gpt-4o-mini"};
};

// A Handler (src/server/http.h) that emulates an OpenAI-compatible provider:
//   POST /v1/chat/completions  chat.completion, or SSE chat.completion.chunk events
//   POST /v1/moderations       OpenAI's moderation object (mock_moderation in mock_wire.h)
//   POST /v1/embeddings        OpenAI's embeddings, deterministic (mock_embedding.h)
//   GET  /v1/models            the configured models
//   GET  /mock/stats           request and stream counters
//   GET  /mock/last            the last chat, moderation or embeddings request (method, target,
//                              headers, body)
//   POST /mock/reset           zeroes the counters and forgets the last request
//   GET  /health               {"status":"ok"}
// Unknown paths answer 404 and a wrong method 405, both as OpenAI error objects.
// Thread-safe (shared by all worker threads): counters are std::atomic; /mock/last is guarded
// by a mutex (it is test-only, held only to swap a pointer).
std::shared_ptr<Handler> make_mock_handler(MockOptions options);

}  // namespace torii
