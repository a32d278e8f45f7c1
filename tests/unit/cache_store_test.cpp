// The cache store conformance suite (cache/store.h), run over the memory store (on a test clock)
// and the Redis store (against a redis-server started here, with a password and db 2). Then the
// memory store's own cases (LRU under both limits, shards, threads), the Redis store's (two
// nodes, key layout, failures), the vector log (Redis stream) and the entry record's codec.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "cache/redis_store.h"
#include "cache/store.h"
#include "redis_server.h"

namespace torii::cache {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
constexpr char kPassword[] = "cache-s3cret-pass";
constexpr int kDb = 2;
constexpr int64_t kMaxEntryBytes = 64 * 1024;

// Runs one coroutine to completion on `ioc` (restarted: pooled connections stay bound to it).
template <class T>
T run(net::io_context& ioc, Task<T> task) {
  std::optional<T> out;
  net::co_spawn(
      ioc, [&]() -> Task<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.restart();
  ioc.run();
  return std::move(*out);
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

testing::RedisServer& redis_server() {
  static testing::RedisServer server(kPassword);
  return server;
}

// A fresh key prefix per call: the server lives for the whole program.
std::string fresh_prefix() {
  static std::atomic<int> n{0};
  return "c" + std::to_string(n++) + ":";
}

RedisConfig redis_config(const std::string& prefix) {
  RedisConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = redis_server().port();
  cfg.db = kDb;
  cfg.password.value = kPassword;
  cfg.prefix = prefix;
  cfg.pool = 2;
  cfg.timeout = milliseconds(200);  // generous: the test machine is shared
  cfg.connect_timeout = milliseconds(500);
  return cfg;
}

// A port nothing listens on (bound then closed: connecting is refused at once).
int dead_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

Entry sample(std::string body, bool stream = false) {
  Entry e;
  e.body = std::move(body);
  e.stream = stream;
  e.created_ms = 1'767'225'600'123;
  e.cost_micros = 4'200;
  e.prompt_tokens = 12;
  e.completion_tokens = 34;
  e.provider = "openai";
  e.model = "gpt-4o-mini";
  return e;
}

std::shared_ptr<const Entry> shared(Entry e) { return std::make_shared<const Entry>(std::move(e)); }

void expect_same(const Entry& a, const Entry& b) {
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.stream, b.stream);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.cost_micros, b.cost_micros);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.completion_tokens, b.completion_tokens);
  EXPECT_EQ(a.provider, b.provider);
  EXPECT_EQ(a.model, b.model);
}

// The error every store failure must come back as.
template <class T>
void expect_unavailable(const Result<T>& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 503);
  EXPECT_EQ(r.error().code, "cache_store_unavailable");
  EXPECT_EQ(r.error().message.find(kPassword), std::string::npos) << r.error().message;
}

// ---- The conformance suite: both stores ------------------------------------------------------

enum class Backend { memory, redis };

std::string name_of(const ::testing::TestParamInfo<Backend>& p) {
  return p.param == Backend::memory ? "memory" : "redis";
}

class CacheStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() { redis_server().stop(); }

  void SetUp() override {
    if (GetParam() == Backend::memory) {
      store_ = make_memory_cache_store_for_test(10'000, 256 << 20, kMaxEntryBytes,
                                                [this] { return now_ms_.load(); });
      return;
    }
    if (!testing::RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_server().start()) << "redis-server did not start";
    prefix_ = fresh_prefix();
    store_ = make_redis_cache(redis_config(prefix_), kMaxEntryBytes, 1000).store;
  }

  bool redis() const { return GetParam() == Backend::redis; }

  // Time passes: the memory store's clock moves; Redis' expiry needs the real thing.
  void advance(milliseconds ms) {
    if (redis())
      std::this_thread::sleep_for(ms);
    else
      now_ms_ += ms.count();
  }

  std::shared_ptr<const Entry> lookup(const std::string& key) {
    auto r = run(ioc_, store_->lookup(key));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : nullptr;
  }
  void put(const std::string& key, Entry e, milliseconds ttl = milliseconds(60'000)) {
    auto r = run(ioc_, store_->put(key, shared(std::move(e)), ttl));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  int64_t erase(const std::string& key) {
    auto r = run(ioc_, store_->erase(key));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : -1;
  }
  int64_t purge(const std::string& prefix) {
    auto r = run(ioc_, store_->purge(prefix));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : -1;
  }
  std::string body_of(const std::string& key) {
    auto e = lookup(key);
    return e ? e->body : "<miss>";
  }

  net::io_context ioc_;
  std::atomic<int64_t> now_ms_{1'000'000};
  std::shared_ptr<CacheStore> store_;
  std::string prefix_;
};

TEST_P(CacheStoreTest, RoundTripKeepsEveryField) {
  Entry a = sample("{\"id\":\"chatcmpl-1\",\"choices\":[]}");
  put("0a1b:d1", a);
  auto got = lookup("0a1b:d1");
  ASSERT_TRUE(got);
  expect_same(*got, a);

  // A stream's bytes, binary-safe, and the "unknown" values.
  std::string stream = "data: {\"x\":1}\n\n";
  stream += '\0';
  stream += "\xff data: [DONE]\n\n";
  Entry b = sample(stream, true);
  b.cost_micros = -1;
  b.prompt_tokens = -1;
  b.completion_tokens = -1;
  b.provider.clear();
  put("0a1b:d2", b);
  got = lookup("0a1b:d2");
  ASSERT_TRUE(got);
  expect_same(*got, b);
  EXPECT_EQ(got->body.size(), stream.size());
}

TEST_P(CacheStoreTest, MissIsNullNotAnError) {
  EXPECT_EQ(lookup("0a1b:nothing"), nullptr);
  EXPECT_EQ(erase("0a1b:nothing"), 0);
  EXPECT_EQ(purge("0a1b:"), 0);
}

TEST_P(CacheStoreTest, PutReplacesTheEntry) {
  put("k:1", sample("first"));
  put("k:1", sample("second", true));
  auto got = lookup("k:1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body, "second");
  EXPECT_TRUE(got->stream);
  if (!redis()) {
    EXPECT_EQ(store_->stats().entries, 1);
  }
}

TEST_P(CacheStoreTest, EntryExpiresAfterItsTtl) {
  put("ttl:short", sample("short"), milliseconds(100));
  put("ttl:long", sample("long"), milliseconds(60'000));
  EXPECT_EQ(body_of("ttl:short"), "short");
  advance(milliseconds(250));
  EXPECT_EQ(lookup("ttl:short"), nullptr);
  EXPECT_EQ(body_of("ttl:long"), "long");
  EXPECT_EQ(erase("ttl:short"), 0);  // gone: nothing live to erase
}

TEST_P(CacheStoreTest, PutWithoutTtlOnlyRemoves) {
  put("zero:a", sample("a"));
  put("zero:a", sample("b"), milliseconds(0));
  EXPECT_EQ(lookup("zero:a"), nullptr);
  put("zero:b", sample("b"), milliseconds(-5));
  EXPECT_EQ(lookup("zero:b"), nullptr);
}

TEST_P(CacheStoreTest, EraseRemovesOneKey) {
  put("e:a", sample("a"));
  put("e:ab", sample("ab"));
  EXPECT_EQ(erase("e:a"), 1);
  EXPECT_EQ(lookup("e:a"), nullptr);
  EXPECT_EQ(erase("e:a"), 0);
  EXPECT_EQ(body_of("e:ab"), "ab");  // exact key, not a prefix
}

TEST_P(CacheStoreTest, PurgeRemovesOnlyThePrefix) {
  put("s1:a", sample("1a"));
  put("s1:b", sample("1b"));
  put("s10:a", sample("10a"));
  put("s2:a", sample("2a"));
  EXPECT_EQ(purge("s1:"), 2);
  EXPECT_EQ(lookup("s1:a"), nullptr);
  EXPECT_EQ(lookup("s1:b"), nullptr);
  EXPECT_EQ(body_of("s10:a"), "10a");
  EXPECT_EQ(body_of("s2:a"), "2a");
  EXPECT_EQ(purge("s1:"), 0);
}

TEST_P(CacheStoreTest, PurgePrefixGlobCharactersAreLiteral) {
  for (const char* k : {"a*:1", "ab:2", "a[b]:3", "a?:4", "a\\:5", "aX:6", "a]:7"})
    put(k, sample(k));
  EXPECT_EQ(purge("a*"), 1);
  EXPECT_EQ(lookup("a*:1"), nullptr);
  EXPECT_EQ(body_of("ab:2"), "ab:2");
  EXPECT_EQ(purge("a[b]"), 1);
  EXPECT_EQ(body_of("ab:2"), "ab:2");
  EXPECT_EQ(purge("a?"), 1);
  EXPECT_EQ(body_of("aX:6"), "aX:6");
  EXPECT_EQ(purge("a\\"), 1);
  EXPECT_EQ(purge("a]"), 1);
  EXPECT_EQ(body_of("ab:2"), "ab:2");
  EXPECT_EQ(body_of("aX:6"), "aX:6");
  EXPECT_EQ(purge("a"), 2);
}

TEST_P(CacheStoreTest, PurgeEverything) {
  put("t1:a", sample("a"));
  put("t2:b", sample("b"));
  put("t3:c", sample("c"));
  EXPECT_EQ(purge(""), 3);
  EXPECT_EQ(lookup("t1:a"), nullptr);
  EXPECT_EQ(lookup("t3:c"), nullptr);
  EXPECT_EQ(purge(""), 0);
  if (!redis()) {
    EXPECT_EQ(store_->stats().bytes, 0);
  }
}

// More keys than one SCAN page (Redis pages by 500): every one goes.
TEST_P(CacheStoreTest, PurgeManyKeys) {
  constexpr int kKeys = 1300;
  for (int i = 0; i < kKeys; ++i) put("many:" + std::to_string(i), sample("x"));
  put("other:1", sample("y"));
  EXPECT_EQ(purge("many:"), kKeys);
  EXPECT_EQ(lookup("many:777"), nullptr);
  EXPECT_EQ(body_of("other:1"), "y");
}

TEST_P(CacheStoreTest, BigEntryIsNotStored) {
  put("big:1", sample(std::string(kMaxEntryBytes + 1, 'x')));  // ok, but forgotten
  EXPECT_EQ(lookup("big:1"), nullptr);
  put("big:2", sample(std::string(kMaxEntryBytes / 2, 'y')));
  auto got = lookup("big:2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body.size(), static_cast<std::size_t>(kMaxEntryBytes / 2));
  // A refused put leaves the store as it was.
  put("big:2", sample(std::string(kMaxEntryBytes + 1, 'z')));
  got = lookup("big:2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body[0], 'y');
}

INSTANTIATE_TEST_SUITE_P(Stores, CacheStoreTest, ::testing::Values(Backend::memory, Backend::redis),
                         name_of);

// ---- The memory store ------------------------------------------------------------------------

struct TestClock {
  std::shared_ptr<std::atomic<int64_t>> ms = std::make_shared<std::atomic<int64_t>>(5'000);
  std::function<int64_t()> fn() const {
    return [ms = ms] { return ms->load(); };
  }
};

bool hit(CacheStore& s, std::string_view key) {
  std::shared_ptr<const Entry> out;
  EXPECT_TRUE(s.lookup_now(key, out));
  return out != nullptr;
}

void put_now(CacheStore& s, std::string_view key, std::string body,
             milliseconds ttl = milliseconds(60'000)) {
  EXPECT_TRUE(s.put_now(key, shared(sample(std::move(body))), ttl));
}

TEST(MemoryCacheStore, SyncFormsAgreeWithCoroutines) {
  TestClock clock;
  auto s = make_memory_cache_store_for_test(100, 1 << 20, 1 << 16, clock.fn());
  put_now(*s, "k:1", "one");
  net::io_context ioc;
  auto r = run(ioc, s->lookup("k:1"));
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->body, "one");
  ASSERT_TRUE(run(ioc, s->put("k:2", shared(sample("two")), milliseconds(10))).ok());
  std::shared_ptr<const Entry> out;
  ASSERT_TRUE(s->lookup_now("k:2", out));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->body, "two");
  // The sync lookup hands out the stored entry itself: no copy of the body.
  std::shared_ptr<const Entry> again;
  ASSERT_TRUE(s->lookup_now("k:2", again));
  EXPECT_EQ(out.get(), again.get());
}

TEST(MemoryCacheStore, TtlEdgeOnTheClockAndExpiredEntriesLeaveWhenMet) {
  TestClock clock;
  auto s = make_memory_cache_store_for_test(100, 1 << 20, 1 << 16, clock.fn());
  put_now(*s, "t:a", "a", milliseconds(1000));
  *clock.ms += 999;
  EXPECT_TRUE(hit(*s, "t:a"));
  EXPECT_EQ(s->stats().entries, 1);
  *clock.ms += 1;  // now == expiry: expired
  EXPECT_FALSE(hit(*s, "t:a"));
  const StoreStats st = s->stats();
  EXPECT_EQ(st.entries, 0);  // removed when met
  EXPECT_EQ(st.bytes, 0);
  EXPECT_EQ(st.evictions, 0);  // an expiry is not an eviction
  // An expired entry not yet met still counts, and is not "live" for erase / purge.
  put_now(*s, "t:b", "b", milliseconds(10));
  put_now(*s, "t:c", "c", milliseconds(10));
  put_now(*s, "t:d", "d", milliseconds(100));
  *clock.ms += 50;
  EXPECT_EQ(s->stats().entries, 3);
  net::io_context ioc;
  EXPECT_EQ(*run(ioc, s->erase("t:b")), 0);
  EXPECT_EQ(*run(ioc, s->purge("t:")), 1);  // t:d only; t:c removed silently
  EXPECT_EQ(s->stats().entries, 0);
}

TEST(MemoryCacheStore, LeastRecentlyUsedGoesFirstUnderTheEntryLimit) {
  auto s = make_memory_cache_store(3, 1 << 30, 1 << 16);  // small: one shard, exact LRU
  put_now(*s, "a", "a");
  put_now(*s, "b", "b");
  put_now(*s, "c", "c");
  EXPECT_TRUE(hit(*s, "a"));  // a is now the most recent: b is the oldest
  put_now(*s, "d", "d");
  EXPECT_FALSE(hit(*s, "b"));
  EXPECT_TRUE(hit(*s, "c"));  // order now: c, d, a: a is the oldest
  put_now(*s, "e", "e");
  EXPECT_FALSE(hit(*s, "a"));
  EXPECT_TRUE(hit(*s, "c"));
  EXPECT_TRUE(hit(*s, "d"));
  EXPECT_TRUE(hit(*s, "e"));
  put_now(*s, "c", "c2");  // a replace is no eviction
  const StoreStats st = s->stats();
  EXPECT_EQ(st.entries, 3);
  EXPECT_EQ(st.evictions, 2);
}

TEST(MemoryCacheStore, LeastRecentlyUsedGoesFirstUnderTheByteLimit) {
  // One entry's cost (its strings and the bookkeeping), measured.
  auto probe = make_memory_cache_store(10, 1 << 20, 1 << 16);
  put_now(*probe, "k1", std::string(1000, 'x'));
  const int64_t c = probe->stats().bytes;
  ASSERT_GT(c, 1000);
  ASSERT_LT(c, 2000);  // what the arithmetic below relies on

  auto s = make_memory_cache_store(100, 3 * c + c / 2, 1 << 16);  // room for 3.5 entries
  put_now(*s, "k1", std::string(1000, '1'));
  put_now(*s, "k2", std::string(1000, '2'));
  put_now(*s, "k3", std::string(1000, '3'));
  EXPECT_EQ(s->stats().bytes, 3 * c);
  EXPECT_TRUE(hit(*s, "k1"));
  put_now(*s, "k4", std::string(1000, '4'));  // k2 goes, not k1
  EXPECT_EQ(s->stats().evictions, 1);
  EXPECT_FALSE(hit(*s, "k2"));
  EXPECT_TRUE(hit(*s, "k3"));
  // Order now: k3, k4, k1. An entry of cost c + 1000 needs two of them to go: k1, then k4.
  put_now(*s, "k5", std::string(2000, '5'));
  EXPECT_FALSE(hit(*s, "k1"));
  EXPECT_FALSE(hit(*s, "k4"));
  EXPECT_TRUE(hit(*s, "k3"));
  EXPECT_TRUE(hit(*s, "k5"));
  const StoreStats st = s->stats();
  EXPECT_EQ(st.entries, 2);
  EXPECT_EQ(st.bytes, c + (c + 1000));
  EXPECT_EQ(st.evictions, 3);
  // Bigger than the whole budget: refused, nothing evicted.
  put_now(*s, "k6", std::string(3 * c + c / 2, '6'));
  EXPECT_FALSE(hit(*s, "k6"));
  EXPECT_EQ(s->stats().evictions, 3);
}

TEST(MemoryCacheStore, ShardedStoreKeepsItsLimitsAndCountsEvictions) {
  // 1024 entries, 1 GiB: 16 shards of 64 entries each.
  auto s = make_memory_cache_store(1024, int64_t{1} << 30, 1 << 16);
  constexpr int kKeys = 3000;
  for (int i = 0; i < kKeys; ++i) put_now(*s, "s:" + std::to_string(i), "v");
  const StoreStats st = s->stats();
  EXPECT_EQ(st.entries, 1024);  // every shard got far more than its 64 keys
  EXPECT_EQ(st.entries + st.evictions, kKeys);
  int found = 0;
  for (int i = 0; i < kKeys; ++i) found += hit(*s, "s:" + std::to_string(i)) ? 1 : 0;
  EXPECT_EQ(found, 1024);
  EXPECT_TRUE(hit(*s, "s:" + std::to_string(kKeys - 1)));  // the newest stays
}

TEST(MemoryCacheStore, NoLimitsWhenZero) {
  auto s = make_memory_cache_store(0, 0, 0);
  for (int i = 0; i < 200; ++i) put_now(*s, "u:" + std::to_string(i), std::string(100'000, 'u'));
  EXPECT_EQ(s->stats().entries, 200);
  EXPECT_EQ(s->stats().evictions, 0);
  EXPECT_TRUE(hit(*s, "u:0"));
}

// Four threads put, look up, erase and purge at once; the counts stay exact.
TEST(MemoryCacheStore, ConcurrencySmoke) {
  auto s = make_memory_cache_store(2048, int64_t{1} << 30, 1 << 16);
  constexpr int kKeys = 4000;
  std::atomic<int64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      net::io_context ioc;
      for (int i = 0; i < 20'000; ++i) {
        const std::string key =
            "p" + std::to_string(rng() % 4) + ":" + std::to_string(rng() % kKeys);
        switch (rng() % 8) {
          case 0:
            (void)run(ioc, s->erase(key));
            break;
          case 1:
            if (i % 1000 == 0) (void)run(ioc, s->purge("p" + std::to_string(t) + ":1"));
            break;
          case 2:
          case 3:
          case 4: {
            std::shared_ptr<const Entry> out;
            s->lookup_now(key, out);
            if (out) {
              EXPECT_EQ(out->body, key);  // never another key's entry
              ++hits;
            }
            break;
          }
          default:
            s->put_now(key, shared(sample(key)), milliseconds(60'000));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(hits.load(), 0);
  const StoreStats st = s->stats();
  EXPECT_LE(st.entries, 2048);
  EXPECT_GT(st.evictions, 0);
  int64_t found = 0, bytes = 0;
  for (int p = 0; p < 4; ++p)
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = "p" + std::to_string(p) + ":" + std::to_string(k);
      std::shared_ptr<const Entry> out;
      s->lookup_now(key, out);
      if (out) ++found, bytes += static_cast<int64_t>(key.size() + out->body.size() +
                                                      out->provider.size() + out->model.size());
    }
  EXPECT_EQ(found, st.entries);  // stats() is exact
  EXPECT_EQ(st.bytes - bytes, 256 * found);
}

// ---- The Redis store -------------------------------------------------------------------------

class RedisCacheTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { redis_server().stop(); }
  void SetUp() override {
    if (!testing::RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_server().start()) << "redis-server did not start";
    prefix_ = fresh_prefix();
  }
  RedisCache make(int64_t max_vectors = 1000) {
    return make_redis_cache(redis_config(prefix_), kMaxEntryBytes, max_vectors);
  }
  std::string cmd(const std::string& c) { return redis_server().command(c, kDb); }

  net::io_context ioc_;
  std::string prefix_;
};

TEST_F(RedisCacheTest, TwoNodesShareEntries) {
  auto a = make().store, b = make().store;
  ASSERT_TRUE(run(ioc_, a->put("n:1", shared(sample("from a")), milliseconds(60'000))).ok());
  auto got = run(ioc_, b->lookup("n:1"));
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(*got);
  expect_same(**got, sample("from a"));
  // Node b's erase and purge are node a's too; b's io_context on another thread works as well.
  Result<int64_t> erased = ApiError::internal("not run");
  std::thread other([&] {
    net::io_context ioc;
    erased = run(ioc, b->erase("n:1"));
  });
  other.join();
  ASSERT_TRUE(erased.ok()) << erased.error().message;
  EXPECT_EQ(*erased, 1);
  EXPECT_EQ(*run(ioc_, a->lookup("n:1")), nullptr);
  const StoreStats st = a->stats();
  EXPECT_EQ(st.entries, -1);
  EXPECT_EQ(st.bytes, -1);
  EXPECT_EQ(st.evictions, 0);
}

TEST_F(RedisCacheTest, KeyLayoutTtlAndThePurgeLeavesOtherKeys) {
  auto c = make();
  ASSERT_TRUE(run(ioc_, c.store->put("L:1", shared(sample("x")), milliseconds(30'000))).ok());
  // `<prefix>cache:<key>`, in db 2, with its TTL, holding the record.
  const std::string pttl = cmd("PTTL " + prefix_ + "cache:L:1");
  ASSERT_EQ(pttl.substr(0, 1), ":") << pttl;
  EXPECT_GT(std::stoll(pttl.substr(1)), 25'000);
  EXPECT_LE(std::stoll(pttl.substr(1)), 30'000);
  EXPECT_EQ(redis_server().command("EXISTS " + prefix_ + "cache:L:1", 0), ":0");
  EXPECT_EQ(cmd("EVAL \"return redis.call('GETRANGE', KEYS[1], 0, 2) == 'TC1' and 1 or 0\" 1 " +
                prefix_ + "cache:L:1"),
            ":1");  // the record's magic

  // The vectors' stream and a foreign key under the same prefix survive purge("").
  VectorRecord rec{"p:ctx", "L:1", "hello", {1.0f, 0.0f}, 1};
  ASSERT_TRUE(run(ioc_, c.vectors->publish(rec)).ok());
  EXPECT_EQ(cmd("SET " + prefix_ + "other 1"), "+OK");
  auto n = run(ioc_, c.store->purge(""));
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(cmd("EXISTS " + prefix_ + "cache:L:1"), ":0");
  EXPECT_EQ(cmd("XLEN " + prefix_ + "cachevec"), ":1");
  EXPECT_EQ(cmd("EXISTS " + prefix_ + "other"), ":1");
}

TEST_F(RedisCacheTest, UndecodableRecordIsAMiss) {
  auto s = make().store;
  EXPECT_EQ(cmd("SET " + prefix_ + "cache:bad:1 TC2garbage"), "+OK");
  auto got = run(ioc_, s->lookup("bad:1"));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, nullptr);
  EXPECT_EQ(cmd("HSET " + prefix_ + "cache:bad:2 f v"), ":1");  // not even a string
  auto wrong = run(ioc_, s->lookup("bad:2"));
  expect_unavailable(wrong);
}

TEST_F(RedisCacheTest, RedisDownIsAQuick503WithoutThePassword) {
  RedisConfig cfg = redis_config(prefix_);
  cfg.port = dead_port();
  auto s = make_redis_cache(cfg, kMaxEntryBytes, 10).store;
  auto t = Clock::now();
  expect_unavailable(run(ioc_, s->lookup("d:1")));
  expect_unavailable(run(ioc_, s->put("d:1", shared(sample("x")), milliseconds(1000))));
  expect_unavailable(run(ioc_, s->erase("d:1")));
  expect_unavailable(run(ioc_, s->purge("d:")));
  EXPECT_LT(ms_since(t), 600.0) << "refused, then paused: no call waits";
  auto r = run(ioc_, s->lookup("d:1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("cache store unavailable: ", 0), 0u) << r.error().message;
}

TEST_F(RedisCacheTest, StalledRedisTimesOut) {
  auto s = make().store;
  ASSERT_TRUE(run(ioc_, s->put("f:1", shared(sample("x")), milliseconds(60'000))).ok());
  redis_server().freeze();
  auto t = Clock::now();
  auto r = run(ioc_, s->lookup("f:1"));
  const double ms = ms_since(t);
  redis_server().thaw();
  expect_unavailable(r);
  EXPECT_GE(ms, 190.0);  // waited for the answer, up to the timeout (200 ms)
  EXPECT_LT(ms, 200 + 300.0);
  EXPECT_NE(r.error().message.find("did not answer"), std::string::npos) << r.error().message;
}

TEST_F(RedisCacheTest, WrongPasswordIsAnErrorWithoutSecrets) {
  RedisConfig cfg = redis_config(prefix_);
  cfg.password.value = "not-the-cache-password";
  auto s = make_redis_cache(cfg, kMaxEntryBytes, 10).store;
  auto r = run(ioc_, s->lookup("w:1"));
  expect_unavailable(r);
  EXPECT_EQ(r.error().message.find("not-the-cache-password"), std::string::npos);
  EXPECT_NE(r.error().message.find("AUTH"), std::string::npos) << r.error().message;
}

// ---- The vector log (Redis stream) -----------------------------------------------------------

// A node's reader: the log's records applied on an io_context run by a thread of its own.
class ReaderThread {
 public:
  explicit ReaderThread(VectorLog& log) : log_(log) {
    log.start(ioc_.get_executor(), [this](VectorRecord r) {
      std::lock_guard lock(mu_);
      got_.push_back(std::move(r));
    });
    thread_ = std::thread([this] {
      ioc_.run();
      done_ = true;
    });
  }
  ~ReaderThread() {
    ioc_.stop();
    thread_.join();
  }

  // Waits until `n` records were applied (true), at most `max`.
  bool wait_for(std::size_t n, milliseconds max = milliseconds(5000)) {
    const auto until = Clock::now() + max;
    while (Clock::now() < until) {
      if (records().size() >= n) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }
  std::vector<VectorRecord> records() {
    std::lock_guard lock(mu_);
    return got_;
  }
  // stop(), then how long until the reader left its io_context with no work (ms; -1: not
  // within 5 s).
  double stop_and_time() {
    const auto t = Clock::now();
    log_.stop();
    while (!done_ && ms_since(t) < 5000) std::this_thread::sleep_for(milliseconds(5));
    return done_ ? ms_since(t) : -1;
  }

 private:
  VectorLog& log_;
  net::io_context ioc_;
  std::mutex mu_;
  std::vector<VectorRecord> got_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

VectorRecord vrec(int i) {
  VectorRecord r;
  r.partition = "ab12:ctx" + std::to_string(i % 2);
  r.key = "ab12:key" + std::to_string(i);
  r.prompt = "prompt \xc3\xa9 " + std::to_string(i);
  r.vector = {0.5f * static_cast<float>(i), -1.25f, 3e-8f, std::numeric_limits<float>::max()};
  r.expires_ms = 1'767'225'600'000 + i;
  return r;
}

void expect_same(const VectorRecord& a, const VectorRecord& b) {
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.vector, b.vector);  // bit for bit
  EXPECT_EQ(a.expires_ms, b.expires_ms);
}

class VectorLogTest : public RedisCacheTest {};

TEST_F(VectorLogTest, PublishedOnOneNodeAppliedOnAnotherInOrder) {
  auto a = make(), b = make();
  ReaderThread reader(*b.vectors);
  std::this_thread::sleep_for(milliseconds(100));  // b is blocked in XREAD: records arrive live
  for (int i = 0; i < 5; ++i) {
    auto r = run(ioc_, a.vectors->publish(vrec(i)));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  ASSERT_TRUE(reader.wait_for(5));
  auto got = reader.records();
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) expect_same(got[i], vrec(i));
  const double ms = reader.stop_and_time();
  EXPECT_GE(ms, 0) << "the reader did not end after stop()";
  EXPECT_LT(ms, 2500.0);
}

TEST_F(VectorLogTest, LateReaderReadsTheHistoryFromTheStart) {
  auto a = make();
  constexpr int kRecords = 600;  // more than one XREAD's COUNT (256)
  for (int i = 0; i < kRecords; ++i) ASSERT_TRUE(run(ioc_, a.vectors->publish(vrec(i))).ok());
  auto late = make();
  ReaderThread reader(*late.vectors);
  ASSERT_TRUE(reader.wait_for(kRecords));
  auto got = reader.records();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) ASSERT_EQ(got[i].key, vrec(i).key) << i;
  expect_same(got[599], vrec(599));
}

TEST_F(VectorLogTest, MalformedEntriesAreSkipped) {
  auto a = make();
  const std::string key = prefix_ + "cachevec";
  ASSERT_TRUE(run(ioc_, a.vectors->publish(vrec(0))).ok());
  // Another writer's entries: fields missing, an expiry that is no number, a vector that is
  // no whole number of floats, an empty key.
  for (const char* fields : {"partition p key k", "partition p key k expires x1 vec abcd",
                             "partition p key k expires 5 vec abc", "foo bar",
                             "partition p key \"\" expires 5 vec abcd"})
    ASSERT_EQ(cmd("XADD " + key + " * " + fields).substr(0, 1), "$") << fields;
  VectorRecord nan = vrec(1);
  nan.vector[1] = std::nanf("");
  ASSERT_TRUE(run(ioc_, a.vectors->publish(nan)).ok());  // not finite: skipped on read
  // Good ones, by hand: an unknown field is ignored.
  for (const char* fields : {"partition p key k expires 5 vec abcd extra ignored",
                             "partition p key k expires 5 vec abcd"})
    ASSERT_EQ(cmd("XADD " + key + " * " + fields).substr(0, 1), "$") << fields;
  ASSERT_TRUE(run(ioc_, a.vectors->publish(vrec(2))).ok());

  auto b = make();
  ReaderThread reader(*b.vectors);
  ASSERT_TRUE(reader.wait_for(4));
  std::this_thread::sleep_for(milliseconds(100));  // nothing more comes
  auto got = reader.records();
  ASSERT_EQ(got.size(), 4u);
  expect_same(got[0], vrec(0));
  EXPECT_EQ(got[1].key, "k");
  ASSERT_EQ(got[1].vector.size(), 1u);  // "abcd": one float
  EXPECT_EQ(got[1].expires_ms, 5);
  EXPECT_EQ(got[2].key, "k");
  expect_same(got[3], vrec(2));
}

TEST_F(VectorLogTest, StreamIsTrimmedToAboutMaxVectors) {
  auto a = make(100);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(run(ioc_, a.vectors->publish(vrec(i))).ok());
  const std::string len = cmd("XLEN " + prefix_ + "cachevec");
  ASSERT_EQ(len.substr(0, 1), ":");
  EXPECT_GE(std::stoll(len.substr(1)), 100);
  EXPECT_LT(std::stoll(len.substr(1)), 300);  // "~": whole stream nodes (100 entries) go
}

TEST_F(VectorLogTest, StopEndsTheReaderWhileRedisIsDown) {
  RedisConfig cfg = redis_config(prefix_);
  cfg.port = dead_port();
  auto c = make_redis_cache(cfg, kMaxEntryBytes, 10);
  ReaderThread reader(*c.vectors);
  // Failed at 0, 250 and 750 ms: in the middle of a 1 s backoff.
  std::this_thread::sleep_for(milliseconds(1000));
  const double ms = reader.stop_and_time();
  EXPECT_GE(ms, 0) << "the reader did not end after stop()";
  EXPECT_LT(ms, 500.0) << "the backoff must see stop()";
  EXPECT_TRUE(reader.records().empty());
}

TEST_F(VectorLogTest, ReaderReconnectsAfterRedisComesBack) {
  auto a = make(), b = make();
  ReaderThread reader(*b.vectors);
  ASSERT_TRUE(run(ioc_, a.vectors->publish(vrec(0))).ok());
  ASSERT_TRUE(reader.wait_for(1));
  redis_server().stop();  // the data is lost with it (no persistence)
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(redis_server().start());
  // A's pool is paused for a second after its own failure, if it had one: retry until it works.
  const auto until = Clock::now() + milliseconds(5000);
  bool published = false;
  while (!published && Clock::now() < until) {
    published = run(ioc_, a.vectors->publish(vrec(1))).ok();
    if (!published) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(published);
  // The restarted server's stream ids come from its clock, later than the reader's last id:
  // the reader, reconnected, sees the new entry.
  ASSERT_TRUE(reader.wait_for(2, milliseconds(8000)));
  expect_same(reader.records()[1], vrec(1));
}

// ---- The entry record --------------------------------------------------------------------------

TEST(CacheEntryCodec, RoundTripEveryField) {
  Entry e = sample(std::string("a\0b\xff\n", 5), true);
  e.cost_micros = -1;
  e.prompt_tokens = std::numeric_limits<int64_t>::max();
  e.completion_tokens = std::numeric_limits<int64_t>::min();
  const std::string bytes = encode_entry(e);
  EXPECT_EQ(bytes.substr(0, 3), "TC1");
  auto d = decode_entry(bytes);
  ASSERT_TRUE(d);
  expect_same(*d, e);
  auto empty = decode_entry(encode_entry(Entry{}));
  ASSERT_TRUE(empty);
  expect_same(*empty, Entry{});
}

TEST(CacheEntryCodec, RefusesWhatItDidNotWrite) {
  const std::string good = encode_entry(sample("body"));
  EXPECT_FALSE(decode_entry(""));
  EXPECT_FALSE(decode_entry("TC1"));
  EXPECT_FALSE(decode_entry(good + "x"));  // trailing bytes
  std::string v2 = good;
  v2[2] = '2';  // another version
  EXPECT_FALSE(decode_entry(v2));
  std::string flags = good;
  flags[3] = 2;  // an unknown flag
  EXPECT_FALSE(decode_entry(flags));
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(decode_entry(good.substr(0, n))) << n;
}

// Random truncations and byte flips never crash, and whatever decodes is exactly a record
// encode_entry writes (encoding it again gives the same bytes): broken magic or lengths never
// decode. Run under ASan (make asan) for the "never reads past the end" part.
TEST(CacheEntryCodec, FuzzedRecordsNeverDecodeAsGarbage) {
  std::mt19937 rng(20260110);
  Entry e = sample(std::string(300, 'b'));
  const std::string good = encode_entry(e);
  // The offsets of the magic, the flags and the three length fields.
  const std::size_t provider_len = 4 + 32, model_len = provider_len + 4 + e.provider.size(),
                    body_len = model_len + 4 + e.model.size();
  auto structural = [&](std::size_t i) {
    return i < 4 || (i >= provider_len && i < provider_len + 4) ||
           (i >= model_len && i < model_len + 4) || (i >= body_len && i < body_len + 4);
  };
  int decoded = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::string bytes = good;
    const int kind = static_cast<int>(rng() % 3);
    std::size_t at = rng() % bytes.size();
    if (kind == 0) {
      bytes.resize(rng() % bytes.size());  // truncated
    } else {
      const auto mask = static_cast<char>(1 + rng() % 255);
      if (kind == 2) at = rng() % (body_len + 4);  // aim at the header
      bytes[at] = static_cast<char>(bytes[at] ^ mask);
    }
    auto d = decode_entry(bytes);
    if (!d) continue;
    ++decoded;
    EXPECT_NE(kind, 0) << "a truncated record decoded";
    EXPECT_EQ(encode_entry(*d), bytes);
    // A flipped byte in the magic, a length or the unknown flag bits never decodes; bit 0 of
    // the flags is the stream flag.
    if (structural(at) && at != 3) {
      ADD_FAILURE() << "decoded with byte " << at << " flipped";
    }
    if (at == 3) {
      EXPECT_EQ(static_cast<uint8_t>(bytes[3]), e.stream ? 0 : 1);
    }
  }
  EXPECT_GT(decoded, 0);  // flips in values and bodies do decode (no checksum)
  // Random bytes behind the magic.
  for (int round = 0; round < 5'000; ++round) {
    std::string bytes = "TC1";
    const std::size_t n = rng() % 80;
    for (std::size_t i = 0; i < n; ++i) bytes += static_cast<char>(rng() % 4 == 0 ? 0 : rng());
    if (auto d = decode_entry(bytes)) {
      EXPECT_EQ(encode_entry(*d), bytes);
    }
  }
}

}  // namespace
}  // namespace torii::cache
