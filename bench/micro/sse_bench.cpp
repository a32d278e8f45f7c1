// Streaming hot path: SSE parsing of an upstream stream and the OpenAI stream decoder, the two
// steps every upstream event goes through before it is written to the client.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fixtures.h"
#include "providers/openai_compatible.h"
#include "upstream/sse_parser.h"

namespace torii::bench {
namespace {

// One parser per stream, as the gateway has; the stream fed in pieces of `piece` bytes
// (0: the whole stream in one call, as when the upstream's writes were coalesced).
void run_sse_feed(benchmark::State& state, std::size_t piece) {
  const OpenAiStream& s = openai_stream();
  std::string_view wire = s.wire;
  {  // Once untimed: the parser must give back exactly the events the mock wrote.
    std::vector<std::string> got;
    SseParser parser;
    for (std::size_t at = 0; at < wire.size(); at += piece ? piece : wire.size())
      parser.feed(wire.substr(at, piece ? piece : wire.size()), [&](SseEvent& ev) {
        got.push_back(ev.data);
        return true;
      });
    if (got != s.events) {
      state.SkipWithError("the parser's events differ from the stream's");
      return;
    }
  }
  std::size_t events = 0;
  const std::function<bool(SseEvent&)> on_event = [&](SseEvent& ev) {
    benchmark::DoNotOptimize(ev.data.data());
    ++events;
    return true;
  };
  for (auto _ : state) {
    SseParser parser;
    if (piece == 0) {
      parser.feed(wire, on_event);
    } else {
      for (std::size_t at = 0; at < wire.size(); at += piece)
        parser.feed(wire.substr(at, std::min(piece, wire.size() - at)), on_event);
    }
  }
  if (events != s.events.size() * state.iterations()) {
    state.SkipWithError("the parser did not deliver every event");
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(wire.size() * state.iterations()));
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetLabel(std::to_string(s.events.size() - 1) + " chunks + [DONE], " +
                 std::to_string(wire.size()) + " B");
}

void BM_sse_feed_whole(benchmark::State& state) { run_sse_feed(state, 0); }
void BM_sse_feed_1KiB(benchmark::State& state) { run_sse_feed(state, 1024); }
BENCHMARK(BM_sse_feed_whole);
BENCHMARK(BM_sse_feed_1KiB);

std::unique_ptr<Provider> openai_provider() {
  ProviderConfig config;
  config.name = "openai";
  config.kind = "openai-compatible";
  auto endpoint = make_endpoint("http://127.0.0.1:1/v1", "", {});
  const VendorSpec* vendor = find_vendor(config.kind);
  if (!endpoint || !vendor) {
    std::fprintf(stderr, "micro bench: cannot build the openai-compatible provider\n");
    std::abort();
  }
  return make_openai_compatible(config, *vendor, std::move(endpoint.value()));
}

// One upstream event through the stream decoder; `usage_expected` says whether it must
// report usage (else the benchmark would measure a decoder that skipped its work).
// Counts what a decoder emits (passthrough chunks and canonical events).
struct CountingSink final : StreamSink {
  std::size_t emitted = 0;
  void event(const StreamEvent& e) override {
    benchmark::DoNotOptimize(e.text.data());
    ++emitted;
  }
  void raw(std::string_view, std::string_view data, bool) override {
    benchmark::DoNotOptimize(data.data());
    ++emitted;
  }
};

void run_stream_decoder(benchmark::State& state, const std::string& data, bool usage_expected) {
  const auto provider = openai_provider();
  const auto decoder = provider->stream_decoder(true);
  auto& sse = static_cast<SseStreamDecoder&>(*decoder);
  SseEvent ev;
  ev.data = data;
  CountingSink sink;
  Usage usage;
  bool done = false;
  for (auto _ : state) {
    auto r = sse.on_event(ev, sink, usage, done);
    benchmark::DoNotOptimize(r);
  }
  if (sink.emitted != static_cast<std::size_t>(state.iterations()) || done ||
      usage.known() != usage_expected) {
    state.SkipWithError("the decoder did not decode the event as expected");
    return;
  }
  report_per_call(state, data.size(), std::to_string(data.size()) + " B event");
}

void BM_stream_decoder_content(benchmark::State& state) {
  run_stream_decoder(state, openai_stream().content_event, false);
}
void BM_stream_decoder_usage(benchmark::State& state) {
  run_stream_decoder(state, openai_stream().usage_event, true);
}
BENCHMARK(BM_stream_decoder_content);
BENCHMARK(BM_stream_decoder_usage);

// The whole stream's events through one decoder, as one gateway stream sees them.
void BM_stream_decoder_stream(benchmark::State& state) {
  const OpenAiStream& s = openai_stream();
  const auto provider = openai_provider();
  std::vector<SseEvent> events(s.events.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].data = s.events[i];
    bytes += s.events[i].size();
  }
  CountingSink sink;
  bool ok = true;
  for (auto _ : state) {
    const auto decoder = provider->stream_decoder(true);
    auto& sse = static_cast<SseStreamDecoder&>(*decoder);
    Usage usage;
    bool done = false;
    for (const auto& ev : events) ok &= sse.on_event(ev, sink, usage, done).ok();
    ok &= done && usage.known();
  }
  if (!ok) {
    state.SkipWithError("the decoder rejected the stream");
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
  state.SetItemsProcessed(static_cast<int64_t>(events.size() * state.iterations()));
  state.SetLabel(std::to_string(events.size() - 1) + " chunks + [DONE], " +
                 std::to_string(bytes) + " B of data");
}
BENCHMARK(BM_stream_decoder_stream);

}  // namespace
}  // namespace torii::bench
