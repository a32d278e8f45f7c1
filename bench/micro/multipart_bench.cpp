// Uploads: the multipart parser as the gateway runs it (fed the growing body in the pieces the
// socket delivers) and the writer that re-writes the form for the provider.
#include <benchmark/benchmark.h>

#include <string>

#include "core/multipart.h"

namespace torii::bench {
namespace {

// A form: a model field and a file of `bytes` (arbitrary bytes, CRLFs and dashes included).
std::string upload(std::size_t bytes) {
  std::string file;
  file.reserve(bytes);
  for (std::size_t i = 0; file.size() < bytes; ++i) file += (i % 97 == 0) ? "\r\n--" : "abcdefgh";
  file.resize(bytes);
  return "--bench\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
         "--bench\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
         "Content-Type: audio/wav\r\n\r\n" + file + "\r\n--bench--\r\n";
}

// Fed in pieces of state.range(1) bytes, as read_body hands them over.
void BM_MultipartParse(benchmark::State& state) {
  const std::string body = upload(static_cast<std::size_t>(state.range(0)));
  const std::size_t piece = static_cast<std::size_t>(state.range(1));
  for (auto _ : state) {
    MultipartParser p("bench");
    for (std::size_t n = piece; n < body.size(); n += piece)
      if (!p.feed(std::string_view(body).substr(0, n))) state.SkipWithError("feed failed");
    auto form = p.finish(body);
    if (!form || form->parts.size() != 2) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(form);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_MultipartParse)->Args({1 << 20, 64 << 10})->Args({25 << 20, 64 << 10});

void BM_MultipartWrite(benchmark::State& state) {
  const std::string file(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    MultipartWriter w;
    w.field("model", "whisper-1");
    w.file("file", "a.wav", "audio/wav", file);
    std::string body = w.close();
    benchmark::DoNotOptimize(body.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file.size()));
}
BENCHMARK(BM_MultipartWrite)->Arg(1 << 20);

}  // namespace
}  // namespace torii::bench
