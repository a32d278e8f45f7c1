// Request and answer codecs: the inbound OpenAI decoder, the upstream body encoder for the
// openai vendor, and usage extraction from a non-streamed answer.
#include <benchmark/benchmark.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "api/openai_chat.h"
#include "fixtures.h"
#include "providers/openai_compatible.h"

namespace torii::bench {
namespace {
namespace json = boost::json;

// Decodes like the gateway: into an object whose storage is a 4 KiB in-object arena with a
// monotonic resource (RequestContext), falling back to the heap past it.
void run_decode(benchmark::State& state, const std::string& body) {
  bool ok = true;
  for (auto _ : state) {
    alignas(16) unsigned char arena[4096];
    json::monotonic_resource memory(arena, sizeof arena);
    json::object request{json::storage_ptr(&memory)};
    auto info = decode_openai_chat(body, request);
    ok &= info.ok();
    benchmark::DoNotOptimize(request);
  }
  if (!ok) {
    state.SkipWithError("decode_openai_chat rejected the request");
    return;
  }
  report_per_call(state, body.size(), std::to_string(body.size()) + " B request");
}

void BM_decode_openai_chat_small(benchmark::State& state) { run_decode(state, small_chat_request()); }
void BM_decode_openai_chat_large(benchmark::State& state) { run_decode(state, large_chat_request()); }
BENCHMARK(BM_decode_openai_chat_small);
BENCHMARK(BM_decode_openai_chat_large);

// The same decode with the default (heap) storage: what the arena saves.
void BM_decode_openai_chat_large_heap(benchmark::State& state) {
  const std::string& body = large_chat_request();
  bool ok = true;
  for (auto _ : state) {
    json::object request;
    ok &= decode_openai_chat(body, request).ok();
    benchmark::DoNotOptimize(request);
  }
  if (!ok) {
    state.SkipWithError("decode_openai_chat rejected the request");
    return;
  }
  report_per_call(state, body.size(), std::to_string(body.size()) + " B request, heap storage");
}
BENCHMARK(BM_decode_openai_chat_large_heap);

// The upstream body for the openai vendor, streaming (adds stream_options.include_usage).
void run_encode(benchmark::State& state, const std::string& body) {
  const VendorSpec* vendor = find_vendor("openai");
  json::object request;
  if (!vendor || !decode_openai_chat(body, request).ok()) {
    state.SkipWithError("no openai vendor, or the request does not decode");
    return;
  }
  std::size_t out_bytes = 0;
  for (auto _ : state) {
    std::string out = encode_openai_body(request, "gpt-4o-mini", true, *vendor);
    out_bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  // Bytes are those written: the upstream body.
  report_per_call(state, out_bytes, std::to_string(out_bytes) + " B body out");
}

void BM_encode_openai_body_small(benchmark::State& state) { run_encode(state, small_chat_request()); }
void BM_encode_openai_body_large(benchmark::State& state) { run_encode(state, large_chat_request()); }
BENCHMARK(BM_encode_openai_body_small);
BENCHMARK(BM_encode_openai_body_large);

// Usage from a non-streamed answer: the scan the gateway does...
void BM_find_usage(benchmark::State& state) {
  const std::string& body = completion_answer();
  bool ok = true;
  for (auto _ : state) {
    Usage usage;
    ok &= find_usage(body, usage);
    benchmark::DoNotOptimize(usage);
  }
  if (!ok) {
    state.SkipWithError("find_usage did not find the usage object");
    return;
  }
  report_per_call(state, body.size(), std::to_string(body.size()) + " B answer");
}
BENCHMARK(BM_find_usage);

// ...and the full parse it avoids (which must read the same numbers).
void BM_find_usage_full_parse(benchmark::State& state) {
  const std::string& body = completion_answer();
  Usage scanned;
  bool ok = find_usage(body, scanned);
  for (auto _ : state) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    Usage usage;
    if (auto u = !ec && v.is_object() ? v.get_object().if_contains("usage") : nullptr;
        u && u->is_object())
      usage = parse_openai_usage(u->get_object());
    ok &= usage.prompt_tokens == scanned.prompt_tokens &&
          usage.completion_tokens == scanned.completion_tokens &&
          usage.total_tokens == scanned.total_tokens;
    benchmark::DoNotOptimize(usage);
  }
  if (!ok) {
    state.SkipWithError("the full parse and find_usage disagree");
    return;
  }
  report_per_call(state, body.size(), std::to_string(body.size()) + " B answer, boost::json::parse");
}
BENCHMARK(BM_find_usage_full_parse);

}  // namespace
}  // namespace torii::bench
