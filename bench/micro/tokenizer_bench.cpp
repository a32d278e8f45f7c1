// Tokenizer throughput (MB/s) on a fixed ~1 MiB corpus, for the table bench/tokenizer.sh and
// BENCHMARKS.md print beside js-tiktoken and tiktoken (WASM), measured by bench/tokenizer.mjs
// on the same bytes.
//
// Corpus: $TORII_TOKENIZER_CORPUS if set, else docs/*.md sorted by name, concatenated, repeated
// up to 1 MiB and cut back to the last '\n' (the rule bench/tokenizer.mjs follows too).
// Tables: $TORII_DATA_DIR if set, else <repo>/data/tokenizer (scripts/setup.sh writes it).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace torii::bench {
namespace {

namespace fs = std::filesystem;

// The checkout: the first directory holding docs/ and data/ above the binary (build/bench/), as
// __FILE__ may be relative to the build directory (ccache's prefix maps).
fs::path repo_root() {
  std::error_code ec;
  fs::path d = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int depth = 0; depth < 4 && !ec && d.has_parent_path(); ++depth, d = d.parent_path()) {
    if (fs::is_directory(d / "docs", ec) && fs::is_directory(d / "data", ec)) return d;
  }
  return fs::current_path(ec);
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return std::move(ss).str();
}

const std::string& corpus() {
  static const std::string text = [] {
    if (const char* env = std::getenv("TORII_TOKENIZER_CORPUS"); env && *env) return slurp(env);
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(repo_root() / "docs", ec)) {
      if (entry.path().extension() == ".md") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
    std::string one;
    for (const auto& f : files) one += slurp(f);
    if (one.empty()) return one;
    const std::size_t limit = 1 << 20;
    std::string all;
    while (all.size() < limit) all += one;
    all.resize(limit);
    all.resize(all.rfind('\n') + 1);
    return all;
  }();
  return text;
}

const tokenizer::Bpe* table(tokenizer::Encoding e) {
  static const bool env_set = [] {
    if (!std::getenv("TORII_DATA_DIR")) {
      ::setenv("TORII_DATA_DIR", (repo_root() / "data" / "tokenizer").c_str(), 0);
    }
    return true;
  }();
  (void)env_set;
  return tokenizer::get(e);
}

void run(benchmark::State& state, tokenizer::Encoding e, bool ids) {
  const tokenizer::Bpe* bpe = table(e);
  const std::string& text = corpus();
  if (!bpe || text.empty()) {
    state.SkipWithError(!bpe ? "no tokenizer data (scripts/setup.sh)" : "empty corpus");
    return;
  }
  std::size_t tokens = bpe->count(text);
  if (tokens != bpe->encode(text).size()) {
    state.SkipWithError("count() differs from encode().size()");
    return;
  }
  for (auto _ : state) {
    if (ids) {
      auto v = bpe->encode(text);
      benchmark::DoNotOptimize(v.data());
    } else {
      benchmark::DoNotOptimize(bpe->count(text));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetLabel(std::to_string(text.size()) + " B, " + std::to_string(tokens) + " tokens");
}

void BM_tokenizer_count_cl100k(benchmark::State& s) { run(s, tokenizer::Encoding::cl100k_base, false); }
void BM_tokenizer_count_o200k(benchmark::State& s) { run(s, tokenizer::Encoding::o200k_base, false); }
void BM_tokenizer_encode_cl100k(benchmark::State& s) { run(s, tokenizer::Encoding::cl100k_base, true); }
void BM_tokenizer_encode_o200k(benchmark::State& s) { run(s, tokenizer::Encoding::o200k_base, true); }

BENCHMARK(BM_tokenizer_count_cl100k)->Name("tokenizer/count/cl100k_base")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_tokenizer_count_o200k)->Name("tokenizer/count/o200k_base")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_tokenizer_encode_cl100k)->Name("tokenizer/encode/cl100k_base")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_tokenizer_encode_o200k)->Name("tokenizer/encode/o200k_base")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace torii::bench
