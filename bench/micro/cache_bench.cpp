// The semantic cache's index and guard (src/cache/semantic_index.h, guard.h): search at 100k
// entries in ONE partition (the worst case: one tenant, one shared context), random unit
// vectors from a fixed seed; the index is built once per dimension and kept (static).
//   Semantic_Search/<dims>:    one search (k = 1, threshold 0.9) for a near-duplicate of a
//                              stored vector (cosine ~0.95: a hit), mean time per search
//   Semantic_SearchP99/<dims>: 10k such searches timed one by one: p50/p99 (µs), the share
//                              found first (recall of a planted near-duplicate), recall@1 of
//                              random queries against brute force (the graph's worst case),
//                              memory_bytes() per entry and the build time of the 100k index
//   Semantic_SearchP99Clustered/256: the same over clustered vectors (1000 centres, each entry
//                              a centre plus noise: cosine ~0.75 within a cluster), closer to
//                              real embeddings than uniform noise
//   Semantic_Replace/<dims>:   an add that replaces an existing key at 100k with a moved vector
//                              (the graph re-links it)
//   Semantic_ReplaceSame/<dims>: the same key and vector again (a re-cached prompt: no re-link)
//   Semantic_SearchSmall/<n>/<dims>: a search in a partition of n entries (1023: the flat scan's
//                              last size; 1024: the graph it switches to)
//   Semantic_Guard:            same_meaning() on a paraphrase pair (the cost of a hit)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/guard.h"
#include "cache/semantic_index.h"

namespace torii::bench {
namespace {

using cache::SemanticIndex;
using Vec = std::vector<float>;

constexpr int kEntries = 100'000;
constexpr int64_t kNow = 1'000'000, kExpires = kNow + 3'600'000;
constexpr const char* kPartition = "3f2a9c1e:5b7d0e44a1c2";

Vec random_unit(std::mt19937& rng, int dims) {
  std::normal_distribution<float> g;
  Vec v(dims);
  double n = 0;
  for (float& x : v) {
    x = g(rng);
    n += double(x) * x;
  }
  for (float& x : v) x = float(x / std::sqrt(n));
  return v;
}

// `v` with noise: cosine about 0.95 with it.
Vec near(std::mt19937& rng, const Vec& v) {
  const Vec n = random_unit(rng, static_cast<int>(v.size()));
  Vec out(v.size());
  double norm = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out[i] = v[i] + 0.33f * n[i];
    norm += double(out[i]) * out[i];
  }
  for (float& x : out) x = float(x / std::sqrt(norm));
  return out;
}

std::string key_of(int i) { return "3f2a9c1e:" + std::to_string(1'000'000'000 + i); }

struct Fixture {
  std::unique_ptr<SemanticIndex> index;
  std::vector<Vec> data;     // what was added, by entry
  std::vector<Vec> queries;  // near-duplicates of data[query_of[i]]
  std::vector<int> query_of;
  double build_seconds = 0;
};

// The 100k index of `dims` (negative: clustered), built on first use. Keys and prompts have
// realistic sizes.
Fixture& fixture(int dims) {
  static std::map<int, std::unique_ptr<Fixture>> all;
  auto& f = all[dims];
  if (f) return *f;
  const bool clustered = dims < 0;
  dims = std::abs(dims);
  f = std::make_unique<Fixture>();
  f->index = std::make_unique<SemanticIndex>(kEntries * 2);
  std::mt19937 rng(42);
  f->data.reserve(kEntries);
  const std::string prompt(120, 'p');
  std::vector<Vec> centres;
  for (int i = 0; clustered && i < 1000; ++i) centres.push_back(random_unit(rng, dims));
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kEntries; ++i) {
    Vec v = random_unit(rng, dims);
    if (clustered) {
      const Vec& c = centres[rng() % centres.size()];
      double n = 0;
      for (int d = 0; d < dims; ++d) {
        v[d] = c[d] + 0.6f * v[d];
        n += double(v[d]) * v[d];
      }
      for (float& x : v) x = float(x / std::sqrt(n));
    }
    f->data.push_back(std::move(v));
    f->index->add(kPartition, key_of(i), prompt, f->data.back(), kExpires);
  }
  f->build_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (int i = 0; i < 10'000; ++i) {
    const int of = static_cast<int>(rng() % kEntries);
    f->query_of.push_back(of);
    f->queries.push_back(near(rng, f->data[of]));
  }
  return *f;
}

void Semantic_Search(benchmark::State& state) {
  Fixture& f = fixture(static_cast<int>(state.range(0)));
  std::size_t i = 0, found = 0;
  for (auto _ : state) {
    auto r = f.index->search(kPartition, f.queries[i % f.queries.size()], 0.9f, 1, kNow);
    found += r.size();
    benchmark::DoNotOptimize(r);
    ++i;
  }
  state.counters["found"] = static_cast<double>(found) / static_cast<double>(i);
}
BENCHMARK(Semantic_Search)->Arg(256)->Arg(1536)->Unit(benchmark::kMicrosecond);

// `which`: the fixture's dims (negative: clustered).
void search_p99(benchmark::State& state, int which) {
  Fixture& f = fixture(which);
  const int dims = static_cast<int>(f.data[0].size());
  for (auto _ : state) {
    std::vector<double> us;
    us.reserve(f.queries.size());
    int planted = 0;
    for (std::size_t i = 0; i < f.queries.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = f.index->search(kPartition, f.queries[i], 0.9f, 1, kNow);
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      planted += !r.empty() && r[0].key == key_of(f.query_of[i]);
    }
    std::sort(us.begin(), us.end());
    state.counters["p50_us"] = us[us.size() / 2];
    state.counters["p99_us"] = us[us.size() * 99 / 100];
    state.counters["found_first"] = planted / static_cast<double>(f.queries.size());
    // Random queries (no near neighbour): recall@1 against a brute-force scan.
    std::mt19937 rng(7);
    int exact = 0;
    constexpr int kRandom = 100;
    for (int q = 0; q < kRandom; ++q) {
      const Vec v = random_unit(rng, dims);
      int best = 0;
      float best_sim = -2;
      for (int i = 0; i < kEntries; ++i) {
        float s = 0;
        for (int d = 0; d < dims; ++d) s += f.data[i][d] * v[d];
        if (s > best_sim) best_sim = s, best = i;
      }
      auto r = f.index->search(kPartition, v, -1, 1, kNow);
      exact += !r.empty() && r[0].key == key_of(best);
    }
    state.counters["random_recall1"] = exact / static_cast<double>(kRandom);
  }
  state.counters["bytes_per_entry"] = static_cast<double>(f.index->memory_bytes()) / kEntries;
  state.counters["build_s"] = f.build_seconds;
}
void Semantic_SearchP99(benchmark::State& state) {
  search_p99(state, static_cast<int>(state.range(0)));
}
void Semantic_SearchP99Clustered(benchmark::State& state) {
  search_p99(state, -static_cast<int>(state.range(0)));
}
BENCHMARK(Semantic_SearchP99)->Arg(256)->Arg(1536)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(Semantic_SearchP99Clustered)->Arg(256)->Iterations(1)->Unit(benchmark::kMillisecond);

void Semantic_Replace(benchmark::State& state) {
  const int dims = static_cast<int>(state.range(0));
  Fixture& f = fixture(dims);
  std::mt19937 rng(99);
  const std::string prompt(120, 'p');
  std::size_t i = 0;
  for (auto _ : state) {
    // The entry moves a little (a re-cached prompt): the graph repairs its links.
    const int of = static_cast<int>(rng() % kEntries);
    f.data[of] = near(rng, f.data[of]);
    f.index->add(kPartition, key_of(of), prompt, f.data[of], kExpires);
    ++i;
  }
}
BENCHMARK(Semantic_Replace)->Arg(256)->Arg(1536)->Unit(benchmark::kMicrosecond);

void Semantic_ReplaceSame(benchmark::State& state) {
  Fixture& f = fixture(static_cast<int>(state.range(0)));
  std::mt19937 rng(98);
  const std::string prompt(120, 'p');
  for (auto _ : state) {
    const int of = static_cast<int>(rng() % kEntries);
    f.index->add(kPartition, key_of(of), prompt, f.data[of], kExpires);
  }
}
BENCHMARK(Semantic_ReplaceSame)->Arg(256)->Arg(1536)->Unit(benchmark::kMicrosecond);

void Semantic_SearchSmall(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), dims = static_cast<int>(state.range(1));
  SemanticIndex index(10'000);
  std::mt19937 rng(5);
  std::vector<Vec> data;
  for (int i = 0; i < n; ++i) {
    data.push_back(random_unit(rng, dims));
    index.add("t:c", key_of(i), "prompt", data.back(), kExpires);
  }
  std::vector<Vec> queries;
  for (int i = 0; i < 256; ++i) queries.push_back(near(rng, data[rng() % n]));
  std::size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(index.search("t:c", queries[i++ % 256], 0.9f, 1, kNow));
  state.counters["bytes"] = static_cast<double>(index.memory_bytes());
}
BENCHMARK(Semantic_SearchSmall)
    ->ArgsProduct({{64, 1023, 1024, 4096}, {256, 1536}})
    ->Unit(benchmark::kMicrosecond);

void Semantic_Guard(benchmark::State& state) {
  const std::string a = "How do I convert a string to an integer in JavaScript? I tried "
                        "parseInt(\"42px\") and got 42, but Number(\"42px\") gives NaN.";
  const std::string b = "In JavaScript, how can I turn a string into an integer? "
                        "parseInt(\"42px\") gives 42 while Number(\"42px\") gives NaN.";
  for (auto _ : state) benchmark::DoNotOptimize(cache::same_meaning(a, b));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (a.size() + b.size())));
}
BENCHMARK(Semantic_Guard);

}  // namespace
}  // namespace torii::bench
