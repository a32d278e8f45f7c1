// The semantic cache's vector index (src/cache/semantic_index.h), then the labelled set
// (tests/data/cache_pairs.json) through the mock embedding, the index and the false-hit guard.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "cache/guard.h"
#include "cache/semantic_index.h"
#include "tools/mock/mock_embedding.h"

namespace torii::cache {
namespace {

namespace json = boost::json;
using Vec = std::vector<float>;

constexpr int64_t kNow = 1'000'000;
constexpr int64_t kLater = kNow + 60'000;

std::vector<std::string> keys_of(const std::vector<SemanticCandidate>& found) {
  std::vector<std::string> keys;
  for (const auto& c : found) keys.push_back(c.key);
  return keys;
}

Vec unit(Vec v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  for (float& x : v) x = float(x / std::sqrt(n));
  return v;
}

Vec random_unit(std::mt19937& rng, int dims) {
  std::normal_distribution<float> g;
  Vec v(dims);
  for (float& x : v) x = g(rng);
  return unit(v);
}

// `v` moved a little: cosine about 0.95 with `v`.
Vec near(std::mt19937& rng, const Vec& v, float noise = 0.3f) {
  Vec n = random_unit(rng, static_cast<int>(v.size()));
  Vec out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = v[i] + noise * n[i];
  return unit(out);
}

float dot(const Vec& a, const Vec& b) {
  float s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(SemanticIndex, AddAndSearchBestFirst) {
  SemanticIndex index(100);
  EXPECT_TRUE(index.add("t:c", "k-x", "about x", Vec{1, 0, 0, 0}, kLater));
  EXPECT_TRUE(index.add("t:c", "k-xy", "about x and y", Vec{1, 1, 0, 0}, kLater));
  EXPECT_TRUE(index.add("t:c", "k-y", "about y", Vec{0, 1, 0, 0}, kLater));
  EXPECT_EQ(index.size(), 3);

  auto found = index.search("t:c", Vec{3, 0.5, 0, 0}, -1, 10, kNow);  // normalised here too
  ASSERT_EQ(keys_of(found), (std::vector<std::string>{"k-x", "k-xy", "k-y"}));
  EXPECT_EQ(found[0].prompt, "about x");
  EXPECT_NEAR(found[0].similarity, 3 / std::sqrt(9.25), 1e-5);
  EXPECT_NEAR(found[1].similarity, 3.5 / std::sqrt(9.25) / std::sqrt(2.0), 1e-5);
  EXPECT_NEAR(found[2].similarity, 0.5 / std::sqrt(9.25), 1e-5);

  // k and the threshold.
  EXPECT_EQ(keys_of(index.search("t:c", Vec{3, 0.5, 0, 0}, -1, 2, kNow)),
            (std::vector<std::string>{"k-x", "k-xy"}));
  EXPECT_EQ(keys_of(index.search("t:c", Vec{3, 0.5, 0, 0}, 0.9f, 10, kNow)),
            (std::vector<std::string>{"k-x"}));
  EXPECT_TRUE(index.search("t:c", Vec{0, 0, 1, 0}, 0.1f, 10, kNow).empty());
  EXPECT_TRUE(index.search("t:c", Vec{1, 0, 0, 0}, -1, 0, kNow).empty());
  EXPECT_TRUE(index.search("t:other", Vec{1, 0, 0, 0}, -1, 10, kNow).empty());
  // A vector's opposite: similarity -1.
  EXPECT_NEAR(index.search("t:c", Vec{-1, 0, 0, 0}, -1, 10, kNow).back().similarity, -1, 1e-6);
}

TEST(SemanticIndex, ReplaceByKeyAndErase) {
  SemanticIndex index(100);
  ASSERT_TRUE(index.add("t:c", "k", "old", Vec{1, 0, 0}, kLater));
  ASSERT_TRUE(index.add("t:c", "k", "new", Vec{0, 1, 0}, kLater));
  EXPECT_EQ(index.size(), 1);
  auto found = index.search("t:c", Vec{0, 1, 0}, 0.99f, 10, kNow);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].prompt, "new");
  EXPECT_TRUE(index.search("t:c", Vec{1, 0, 0}, 0.5f, 10, kNow).empty());

  // The same key in another partition moves there.
  ASSERT_TRUE(index.add("t:d", "k", "moved", Vec{0, 1, 0}, kLater));
  EXPECT_EQ(index.size(), 1);
  EXPECT_TRUE(index.search("t:c", Vec{0, 1, 0}, -1, 10, kNow).empty());
  EXPECT_EQ(index.search("t:d", Vec{0, 1, 0}, -1, 10, kNow).at(0).prompt, "moved");

  EXPECT_TRUE(index.erase("k"));
  EXPECT_FALSE(index.erase("k"));
  EXPECT_FALSE(index.erase("never"));
  EXPECT_EQ(index.size(), 0);
  EXPECT_TRUE(index.search("t:d", Vec{0, 1, 0}, -1, 10, kNow).empty());
  // An emptied partition takes another dimension afterwards.
  EXPECT_TRUE(index.add("t:d", "k2", "p", Vec{1, 0}, kLater));
}

TEST(SemanticIndex, PartitionsAreIsolated) {
  SemanticIndex index(100);
  ASSERT_TRUE(index.add("tenant1:ctx", "a", "pa", Vec{1, 0}, kLater));
  ASSERT_TRUE(index.add("tenant2:ctx", "b", "pb", Vec{1, 0}, kLater));
  EXPECT_EQ(keys_of(index.search("tenant1:ctx", Vec{1, 0}, -1, 10, kNow)),
            std::vector<std::string>{"a"});
  EXPECT_EQ(keys_of(index.search("tenant2:ctx", Vec{1, 0}, -1, 10, kNow)),
            std::vector<std::string>{"b"});
  EXPECT_TRUE(index.search("tenant1", Vec{1, 0}, -1, 10, kNow).empty());  // no prefix match
}

TEST(SemanticIndex, DimensionsAndBadVectorsAreRefused) {
  SemanticIndex index(100);
  ASSERT_TRUE(index.add("t:c", "a", "p", Vec{1, 0, 0, 0}, kLater));
  EXPECT_FALSE(index.add("t:c", "b", "p", Vec{1, 0, 0}, kLater));  // the partition's is 4
  EXPECT_TRUE(index.search("t:c", Vec{1, 0, 0}, -1, 10, kNow).empty());
  EXPECT_TRUE(index.add("t:other", "b", "p", Vec{1, 0, 0}, kLater));  // another partition
  EXPECT_EQ(index.size(), 2);

  const float nan = std::nanf(""), inf = INFINITY;
  for (const Vec& bad : {Vec{}, Vec{0, 0, 0, 0}, Vec{1, nan, 0, 0}, Vec{inf, 0, 0, 0},
                         Vec{-inf, 1, 0, 0}}) {
    EXPECT_FALSE(index.add("t:c", "bad", "p", bad, kLater));
    EXPECT_TRUE(index.search("t:c", bad, -1, 10, kNow).empty());
  }
  EXPECT_EQ(index.size(), 2);
  // Tiny but representable vectors are fine once normalised.
  EXPECT_TRUE(index.add("t:c", "tiny", "p", Vec{1e-40f, 1e-40f, 0, 0}, kLater));  // subnormal
  EXPECT_NEAR(index.search("t:c", Vec{1, 1, 0, 0}, -1, 1, kNow).at(0).similarity, 1, 1e-5);
}

TEST(SemanticIndex, ExpiredEntriesAreSkipped) {
  SemanticIndex index(100);
  ASSERT_TRUE(index.add("t:c", "old", "p", Vec{1, 0}, kNow));       // expires now
  ASSERT_TRUE(index.add("t:c", "fresh", "p", Vec{1, 0.1f}, kNow + 1));
  EXPECT_EQ(keys_of(index.search("t:c", Vec{1, 0}, -1, 10, kNow - 1)),
            (std::vector<std::string>{"old", "fresh"}));
  EXPECT_EQ(keys_of(index.search("t:c", Vec{1, 0}, -1, 10, kNow)),
            std::vector<std::string>{"fresh"});
  EXPECT_TRUE(index.search("t:c", Vec{1, 0}, -1, 10, kNow + 1).empty());
}

TEST(SemanticIndex, EvictsTheOldestAtMaxEntries) {
  SemanticIndex index(3);
  ASSERT_TRUE(index.add("t:a", "k1", "p", Vec{1, 0}, kLater));
  ASSERT_TRUE(index.add("t:b", "k2", "p", Vec{1, 0}, kLater));
  ASSERT_TRUE(index.add("t:a", "k3", "p", Vec{1, 0}, kLater));
  ASSERT_TRUE(index.add("t:a", "k1", "p", Vec{1, 0}, kLater));  // replaced: now the newest
  EXPECT_EQ(index.size(), 3);
  ASSERT_TRUE(index.add("t:c", "k4", "p", Vec{1, 0}, kLater));  // evicts k2, the oldest
  EXPECT_EQ(index.size(), 3);
  EXPECT_TRUE(index.search("t:b", Vec{1, 0}, -1, 10, kNow).empty());
  EXPECT_FALSE(index.erase("k2"));
  ASSERT_TRUE(index.add("t:c", "k5", "p", Vec{1, 0}, kLater));  // evicts k3
  EXPECT_EQ(keys_of(index.search("t:a", Vec{1, 0}, -1, 10, kNow)),
            std::vector<std::string>{"k1"});
  EXPECT_EQ(index.size(), 3);

  SemanticIndex none(0);
  EXPECT_FALSE(none.add("t:a", "k", "p", Vec{1, 0}, kLater));
  EXPECT_EQ(none.size(), 0);
}

TEST(SemanticIndex, PurgeByPrefix) {
  SemanticIndex index(100);
  for (std::string part : {"aa:1", "aa:2", "ab:1"})
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(index.add(part, part + "/" + std::to_string(i), "p", Vec{1, float(i)}, kLater));
  EXPECT_EQ(index.size(), 9);
  EXPECT_EQ(index.purge("aa:"), 6);
  EXPECT_EQ(index.size(), 3);
  EXPECT_TRUE(index.search("aa:1", Vec{1, 0}, -1, 10, kNow).empty());
  EXPECT_EQ(index.search("ab:1", Vec{1, 0}, -1, 10, kNow).size(), 3u);
  EXPECT_FALSE(index.erase("aa:1/0"));
  EXPECT_EQ(index.purge("zz"), 0);
  // A purged partition is usable again, with any dimension.
  EXPECT_TRUE(index.add("aa:1", "again", "p", Vec{1, 0, 0}, kLater));
  EXPECT_EQ(index.purge(""), 4);
  EXPECT_EQ(index.size(), 0);
}

// The exact top-k (brute force) over `data`, as keys.
std::vector<std::string> exact_top(const std::vector<Vec>& data, const Vec& q, std::size_t k) {
  std::vector<std::pair<float, std::size_t>> all;
  for (std::size_t i = 0; i < data.size(); ++i) all.emplace_back(dot(data[i], q), i);
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < std::min(k, all.size()); ++i)
    keys.push_back("k" + std::to_string(all[i].second));
  return keys;
}

// A partition is scanned flat below this many entries, then gets a graph (semantic_index.cpp).
constexpr std::size_t kGraphFrom = 1024;

TEST(SemanticIndex, FlatAndGraphAgreeAcrossTheSwitch) {
  constexpr int kDims = 48;
  std::mt19937 rng(7);
  std::vector<Vec> data;
  for (int i = 0; i < 3000; ++i) data.push_back(random_unit(rng, kDims));
  std::vector<Vec> queries;
  for (int i = 0; i < 40; ++i) queries.push_back(random_unit(rng, kDims));

  SemanticIndex index(10'000);
  std::size_t added = 0;
  int recall_hits = 0, recall_total = 0;
  for (std::size_t size : {10ul, 500ul, kGraphFrom - 1, kGraphFrom, kGraphFrom + 1, 3000ul}) {
    for (; added < size; ++added)
      ASSERT_TRUE(index.add("t:c", "k" + std::to_string(added), "p", data[added], kLater));
    const std::vector<Vec> stored(data.begin(), data.begin() + size);
    for (const Vec& q : queries) {
      const auto found = index.search("t:c", q, -1, 5, kNow);
      const auto expected = exact_top(stored, q, 5);
      if (size < kGraphFrom) {
        ASSERT_EQ(keys_of(found), expected) << "size " << size;  // a flat scan is exact
        for (const auto& c : found)
          EXPECT_NEAR(c.similarity, dot(data[std::stoul(c.key.substr(1))], q), 1e-5);
      } else {
        for (const auto& key : expected)
          recall_hits += std::find_if(found.begin(), found.end(),
                                      [&](auto& c) { return c.key == key; }) != found.end();
        recall_total += 5;
      }
    }
    // A near-duplicate of a stored vector is found first, flat or graph.
    for (std::size_t i = 0; i < size; i += std::max<std::size_t>(1, size / 20)) {
      const auto found = index.search("t:c", near(rng, data[i]), 0.8f, 1, kNow);
      ASSERT_EQ(found.size(), 1u) << "size " << size << " entry " << i;
      EXPECT_EQ(found[0].key, "k" + std::to_string(i));
    }
  }
  // Uniformly random vectors are the graph's worst case; the top 5 is still nearly all there.
  EXPECT_GE(recall_hits, recall_total * 95 / 100) << recall_hits << "/" << recall_total;
  EXPECT_GT(recall_total, 0);
}

TEST(SemanticIndex, GraphReusesFreedEntries) {
  constexpr int kDims = 32, kN = 1200;  // past kGraphFrom: a graph
  std::mt19937 rng(11);
  std::vector<Vec> data;
  for (int i = 0; i < 2 * kN; ++i) data.push_back(random_unit(rng, kDims));
  SemanticIndex index(10'000);
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(index.add("t:c", "k" + std::to_string(i), "p", data[i], kLater));
  const int64_t bytes_full = index.memory_bytes();
  for (int i = 0; i < kN; i += 2) ASSERT_TRUE(index.erase("k" + std::to_string(i)));
  for (int i = kN; i < kN + kN / 2; ++i)  // as many as were erased: their places are reused
    ASSERT_TRUE(index.add("t:c", "k" + std::to_string(i), "p", data[i], kLater));
  for (int i = 1; i < kN; i += 2)  // replaced in place by another vector
    ASSERT_TRUE(index.add("t:c", "k" + std::to_string(i), "p", data[kN + kN / 2 + i / 2], kLater));
  for (int i = 1; i < kN; i += 2)  // and again by the same one (nothing to re-link)
    ASSERT_TRUE(index.add("t:c", "k" + std::to_string(i), "p", data[kN + kN / 2 + i / 2], kLater));
  EXPECT_EQ(index.size(), kN);
  // The graph did not grow: the churn reused its places (a new place costs ~270 bytes here;
  // what grew is the add queue's stale items, 40 bytes each, compacted at 2 x entries + 1024).
  EXPECT_LE(index.memory_bytes(), bytes_full + kN * 100);

  auto top = [&](const Vec& v) {
    const auto found = index.search("t:c", v, 0.999f, 1, kNow);
    return found.empty() ? std::string("none") : found[0].key;
  };
  for (int i = 0; i < kN; i += 2) EXPECT_EQ(top(data[i]), "none") << i;  // erased
  for (int i = kN; i < kN + kN / 2; ++i) EXPECT_EQ(top(data[i]), "k" + std::to_string(i));
  for (int i = 1; i < kN; i += 2) {
    EXPECT_EQ(top(data[i]), "none") << i;  // its old vector
    EXPECT_EQ(top(data[kN + kN / 2 + i / 2]), "k" + std::to_string(i));
  }
}

TEST(SemanticIndex, MemoryBytesGrowsWithEntries) {
  std::mt19937 rng(3);
  SemanticIndex index(100'000);
  const int64_t empty = index.memory_bytes();
  EXPECT_GT(empty, 0);
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(index.add("t:c", "key-" + std::to_string(i) + std::string(40, 'x'),
                          std::string(100, 'p'), random_unit(rng, 256), kLater));
  const int64_t flat = index.memory_bytes();
  // At least the vectors, keys and prompts.
  EXPECT_GT(flat - empty, 50 * (256 * 4 + 40 + 100));
  for (int i = 50; i < 1000; ++i)
    ASSERT_TRUE(index.add("t:c", "key-" + std::to_string(i), "p", random_unit(rng, 256), kLater));
  const int64_t flat1000 = index.memory_bytes();
  EXPECT_GT(flat1000 - empty, 1000 * 256 * 4);
  EXPECT_LT(flat1000 - empty, 2 * 1000 * (256 * 4 + 100));
  for (int i = 1000; i < 1100; ++i)
    ASSERT_TRUE(index.add("t:c", "key-" + std::to_string(i), "p", random_unit(rng, 256), kLater));
  const int64_t graph = index.memory_bytes();
  // Vectors plus links (level 0: 32 links of 4 bytes) for 1100 entries, the graph's fixed
  // part (hnswlib's 65536 update locks); at most: 2048 places (the capacity doubles), each with
  // its lock, slot and bookkeeping, and the keys.
  EXPECT_GT(graph - empty, 1100 * (256 * 4 + 32 * 4) + 65536 * 40);
  EXPECT_LT(graph - empty, 2048 * (256 * 4 + 32 * 4 + 250) + 65536 * 40 + 1100 * 200);
  index.purge("");
  EXPECT_EQ(index.memory_bytes(), empty);
}

TEST(SemanticIndex, ConcurrentAddsSearchesAndRemovals) {
  constexpr int kDims = 16;
  SemanticIndex index(2500);  // up to ~1250 per partition: past kGraphFrom, graphs too
  std::atomic<bool> failed{false};
  std::atomic<int64_t> hits{0};
  auto writer = [&](int seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 4000; ++i) {
      const std::string part = "t:" + std::to_string(rng() % 2);
      const std::string key = "k" + std::to_string(rng() % 3000);
      if (!index.add(part, key, key, random_unit(rng, kDims), kLater)) failed = true;
      if (i % 50 == 0) index.erase("k" + std::to_string(rng() % 3000));
      if (i == 3000 && seed == 1) index.purge("t:1");
    }
  };
  auto reader = [&](int seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 3000; ++i) {
      const auto found =
          index.search("t:" + std::to_string(rng() % 2), random_unit(rng, kDims), 0.2f, 3, kNow);
      hits += static_cast<int64_t>(found.size());
      for (const auto& c : found)
        if (c.key != c.prompt || c.similarity < 0.2f) failed = true;
      if (i % 200 == 0) index.memory_bytes();
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(writer, 1);
  threads.emplace_back(writer, 2);
  threads.emplace_back(reader, 3);
  threads.emplace_back(reader, 4);
  for (auto& t : threads) t.join();
  EXPECT_FALSE(failed);
  EXPECT_GT(hits.load(), 0);
  EXPECT_LE(index.size(), 2500);
  EXPECT_GT(index.size(), 1000);
  // What the count says is what the partitions hold.
  int64_t counted = 0;
  for (int p = 0; p < 2; ++p)
    counted += static_cast<int64_t>(
        index.search("t:" + std::to_string(p), Vec(kDims, 1.0f), -1, 5000, kNow).size());
  EXPECT_GE(counted, index.size() * 9 / 10);  // a graph may miss a few
  EXPECT_LE(counted, index.size());
}

// ---- The labelled set -------------------------------------------------------------------------

// The semantic cache's threshold in these tests: a paraphrase scores 0.92 or more through the
// mock embedding, an unrelated pair under 0.5.
constexpr float kThreshold = 0.90f;
constexpr int kDims = 256;

std::string read_pairs_file() {
  namespace fs = std::filesystem;
  std::vector<fs::path> roots;
  if (const char* dir = std::getenv("TORII_SOURCE_DIR")) roots.emplace_back(dir);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path());  // build/torii_unit_tests
  roots.push_back(fs::current_path());
  roots.push_back(fs::path(__FILE__).parent_path().parent_path().parent_path());
  for (const auto& root : roots) {
    std::ifstream in(root / "tests/data/cache_pairs.json");
    if (!in) continue;
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  return {};
}

struct Pair {
  std::string a, b, kind;
  bool same = false;
};

std::vector<Pair> load_pairs() {
  const std::string text = read_pairs_file();
  EXPECT_FALSE(text.empty()) << "tests/data/cache_pairs.json not found (set TORII_SOURCE_DIR)";
  std::vector<Pair> pairs;
  if (text.empty()) return pairs;
  const json::value doc = json::parse(text);
  for (const json::value& v : doc.as_array()) {
    const json::object& o = v.as_object();
    pairs.push_back({std::string(o.at("a").as_string()), std::string(o.at("b").as_string()),
                     std::string(o.at("kind").as_string()), o.at("same").as_bool()});
  }
  return pairs;
}

TEST(CachePairs, TheSetIsAsSpecified) {
  const auto pairs = load_pairs();
  std::map<std::string, int> kinds;
  for (const Pair& p : pairs) {
    ++kinds[p.kind];
    EXPECT_EQ(p.same, p.kind == "paraphrase") << p.a;
    EXPECT_NE(p.a, p.b);
  }
  EXPECT_GE(pairs.size(), 60u);
  EXPECT_GE(kinds["paraphrase"], 25);
  for (const char* k : {"negation", "polarity", "number", "entity", "quoted", "unrelated"})
    EXPECT_GE(kinds[k], 5) << k;
  EXPECT_EQ(kinds.size(), 7u);
}

struct Tally {
  int pairs = 0, embedding_hits = 0, guarded_hits = 0;
  float min_sim = 2, max_sim = -2;
};

TEST(CachePairs, EmbeddingIndexAndGuard) {
  const auto pairs = load_pairs();
  ASSERT_FALSE(pairs.empty());
  SemanticIndex index(10'000);
  std::map<std::string, Tally> tally;
  int near_miss_embedding_hits = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const Pair& p = pairs[i];
    // One partition per pair, as one conversation context each.
    const std::string part = "t:" + std::to_string(i);
    ASSERT_TRUE(index.add(part, "k" + std::to_string(i), p.a, mock_embedding(p.a, kDims), kLater));
    const Vec query = mock_embedding(p.b, kDims);
    const float sim = dot(mock_embedding(p.a, kDims), query);
    const auto found = index.search(part, query, kThreshold, 1, kNow);
    const bool embedding_hit = !found.empty();
    const GuardVerdict verdict =
        embedding_hit ? same_meaning(p.b, found[0].prompt) : same_meaning(p.b, p.a);
    const bool guarded_hit = embedding_hit && verdict.same;

    Tally& t = tally[p.kind];
    ++t.pairs;
    t.embedding_hits += embedding_hit;
    t.guarded_hits += guarded_hit;
    t.min_sim = std::min(t.min_sim, sim);
    t.max_sim = std::max(t.max_sim, sim);

    if (p.same) {
      EXPECT_TRUE(embedding_hit) << "paraphrase missed by the embedding (" << sim << "): " << p.a
                                 << " | " << p.b;
      EXPECT_TRUE(guarded_hit) << "paraphrase refused by the guard (" << verdict.reason
                               << "): " << p.a << " | " << p.b;
    } else if (p.kind == "unrelated") {
      EXPECT_FALSE(embedding_hit) << sim << ": " << p.a << " | " << p.b;
    } else {
      near_miss_embedding_hits += embedding_hit;
      EXPECT_FALSE(guarded_hit) << "false hit: " << p.a << " | " << p.b;
      EXPECT_EQ(verdict.reason, p.kind) << p.a << " | " << p.b;
    }
  }
  // The embedding alone would serve (nearly) every near-miss: the guard does the work.
  EXPECT_GE(near_miss_embedding_hits, 28);

  std::ostringstream table;
  table << "threshold " << kThreshold << ", " << kDims << " dims\n"
        << "kind        pairs  cosine min..max  embedding-only hits  with guard hits\n";
  int false_alone = 0, false_guarded = 0, para = 0, para_alone = 0, para_guarded = 0;
  for (const auto& [kind, t] : tally) {
    char line[160];
    std::snprintf(line, sizeof line, "%-10s  %5d  %5.2f..%5.2f  %19d  %15d\n", kind.c_str(),
                  t.pairs, t.min_sim, t.max_sim, t.embedding_hits, t.guarded_hits);
    table << line;
    if (kind == "paraphrase") {
      para = t.pairs;
      para_alone = t.embedding_hits;
      para_guarded = t.guarded_hits;
    } else {
      false_alone += t.embedding_hits;
      false_guarded += t.guarded_hits;
    }
  }
  table << "paraphrases served: " << para_alone << "/" << para << " embedding-only, "
        << para_guarded << "/" << para << " with guard; false hits: " << false_alone
        << " embedding-only, " << false_guarded << " with guard\n";
  std::cout << table.str();
  RecordProperty("paraphrase_hits_with_guard", para_guarded);
  RecordProperty("false_hits_embedding_only", false_alone);
  RecordProperty("false_hits_with_guard", false_guarded);
}

}  // namespace
}  // namespace torii::cache
