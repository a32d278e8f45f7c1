// The ConfigStore conformance suite (admin/config_store.h), run over the three backends: memory,
// SQLite (a fresh file per test) and Redis (a redis-server started here, with a password and a
// non-zero db, a fresh key prefix per test). Backend-specific tests follow: SQLite across
// processes, Redis pub/sub, outage and reconnection.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "temp_dir.h"
#include "admin/config_store.h"
#include "redis_server.h"

namespace torii::admin {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kPassword[] = "cfg-store-pass-42";

testing::RedisServer& redis_server() {
  static testing::RedisServer server(kPassword);
  return server;
}

RedisConfig redis_config(const testing::RedisServer& srv, const std::string& prefix) {
  RedisConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = srv.port();
  cfg.db = 2;
  cfg.password.value = srv.password();
  cfg.prefix = prefix;
  cfg.timeout = milliseconds(500);
  cfg.connect_timeout = milliseconds(500);
  return cfg;
}

std::string unique_prefix() {
  static std::atomic<int> n{0};
  return "cs" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ":";
}

// A fresh temporary directory, removed at the end.
struct TempDir : test_util::TempDir {
  TempDir() : test_util::TempDir("cfgstore") {}
};

// Records the watch callback's calls; wait_for() blocks until a predicate over them holds.
struct Changes {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, int64_t>> calls;

  auto callback() {
    return [this](std::string name, int64_t version) {
      std::lock_guard lock(mu);
      calls.emplace_back(std::move(name), version);
      cv.notify_all();
    };
  }
  bool wait_for(const std::string& name, int64_t version, milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] {
      for (auto& c : calls) {
        if (c.first == name && c.second == version) return true;
      }
      return false;
    });
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return calls.size();
  }
};

HistoryRecord record(int i) {
  HistoryRecord r;
  r.ts_ms = 1'760'000'000'123 + i;  // beyond 2^32 and 14 digits: must round-trip exactly
  r.actor = "alice";
  r.action = i % 2 ? "update" : "create";
  r.entity = "providers/p" + std::to_string(i);
  r.version = i;
  r.before = i == 0 ? "" : R"({"n":)" + std::to_string(i - 1) + "}";
  r.after = R"({"n":)" + std::to_string(i) + R"(,"s":"quote \" and ü"})";
  return r;
}

enum class Backend { memory, sqlite, redis };

std::string name_of(const ::testing::TestParamInfo<Backend>& p) {
  switch (p.param) {
    case Backend::memory: return "memory";
    case Backend::sqlite: return "sqlite";
    case Backend::redis: return "redis";
  }
  return "unknown";
}

class ConfigStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() { redis_server().stop(); }

  void SetUp() override {
    if (GetParam() == Backend::redis) {
      if (!testing::RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
      ASSERT_TRUE(redis_server().start()) << "redis-server did not start";
      prefix_ = unique_prefix();
    }
    store_ = open();
    ASSERT_NE(store_, nullptr);
  }

  // A new store object on the same data (SQLite: the same file; Redis: the same keys).
  std::unique_ptr<ConfigStore> open() {
    switch (GetParam()) {
      case Backend::memory:
        return make_memory_config_store();
      case Backend::sqlite: {
        auto r = make_sqlite_config_store(dir_.path + "/nested/dir/admin.db");
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? std::move(*r) : nullptr;
      }
      case Backend::redis: {
        auto r = make_redis_config_store(redis_config(redis_server(), prefix_));
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? std::move(*r) : nullptr;
      }
    }
    return nullptr;
  }

  bool shared() const { return GetParam() != Backend::memory; }

  TempDir dir_;
  std::string prefix_;
  std::unique_ptr<ConfigStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, ConfigStoreTest,
                         ::testing::Values(Backend::memory, Backend::sqlite, Backend::redis),
                         name_of);

TEST_P(ConfigStoreTest, MissingDocumentIsVersionZero) {
  auto r = store_->load(kConfigDoc);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 0);
  EXPECT_EQ(r->json, "");
  EXPECT_EQ(store_->kind(), name_of({GetParam(), 0}));
}

TEST_P(ConfigStoreTest, SaveWithExpectedZeroCreates) {
  const std::string json = R"({"providers":[{"name":"a"}],"text":"ü \"q\""})";
  auto v = store_->save(kConfigDoc, 0, json);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, 1);
  auto r = store_->load(kConfigDoc);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->json, json);
  // Another document is untouched.
  EXPECT_EQ(store_->load(kAccountsDoc)->version, 0);
}

TEST_P(ConfigStoreTest, StaleVersionConflictsAndWritesNothing) {
  ASSERT_EQ(*store_->save(kConfigDoc, 0, R"({"v":1})"), 1);
  for (int64_t stale : {0, 2, 7}) {
    auto v = store_->save(kConfigDoc, stale, R"({"v":"stale"})");
    ASSERT_FALSE(v.ok()) << "expected " << stale << " was accepted";
    EXPECT_EQ(v.error().status, 409);
    EXPECT_EQ(v.error().code, "version_conflict");
  }
  auto r = store_->load(kConfigDoc);
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->json, R"({"v":1})");
  // Expected 1 on a missing document is a conflict too.
  auto v = store_->save(kAccountsDoc, 1, "{}");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().status, 409);
  EXPECT_EQ(store_->load(kAccountsDoc)->version, 0);
}

TEST_P(ConfigStoreTest, VersionsIncreaseByOne) {
  for (int64_t i = 0; i < 6; ++i) {
    auto v = store_->save(kConfigDoc, i, "{\"i\":" + std::to_string(i) + "}");
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(*v, i + 1);
  }
  auto r = store_->load(kConfigDoc);
  EXPECT_EQ(r->version, 6);
  EXPECT_EQ(r->json, "{\"i\":5}");
  EXPECT_EQ(*store_->save("doc with spaces/and:colons", 0, "[]"), 1);
  EXPECT_EQ(store_->load("doc with spaces/and:colons")->json, "[]");
}

TEST_P(ConfigStoreTest, TwoObjectsSeeEachOthersWritesAndConflicts) {
  if (!shared()) GTEST_SKIP() << "the memory store is private to its object";
  auto other = open();
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(*store_->save(kConfigDoc, 0, R"({"by":"a"})"), 1);
  auto seen = other->load(kConfigDoc);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->version, 1);
  EXPECT_EQ(seen->json, R"({"by":"a"})");
  ASSERT_EQ(*other->save(kConfigDoc, 1, R"({"by":"b"})"), 2);
  // `store_` still believes version 1: its write is refused.
  auto v = store_->save(kConfigDoc, 1, R"({"by":"a again"})");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().status, 409);
  EXPECT_EQ(v.error().code, "version_conflict");
  EXPECT_EQ(store_->load(kConfigDoc)->json, R"({"by":"b"})");
  // History appended by one is read by the other.
  auto id = other->append_history(record(1));
  ASSERT_TRUE(id.ok());
  auto h = store_->history(0, 10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].id, *id);
  EXPECT_EQ((*h)[0].entity, "providers/p1");
}

// Racing writers that all name the same version: exactly one wins.
TEST_P(ConfigStoreTest, ConcurrentSavesOfOneVersionHaveOneWinner) {
  constexpr int kWriters = 6;
  std::vector<std::unique_ptr<ConfigStore>> stores;
  for (int i = 0; i < kWriters; ++i) stores.push_back(shared() ? open() : nullptr);
  std::atomic<int> wins{0}, conflicts{0}, others{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      ConfigStore& s = stores[i] ? *stores[i] : *store_;
      auto v = s.save(kConfigDoc, 0, "{\"w\":" + std::to_string(i) + "}");
      if (v.ok()) ++wins;
      else if (v.error().status == 409) ++conflicts;
      else ++others;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kWriters - 1);
  EXPECT_EQ(others.load(), 0);
  EXPECT_EQ(store_->load(kConfigDoc)->version, 1);
}

TEST_P(ConfigStoreTest, HistoryNewestFirstWithPaging) {
  EXPECT_TRUE(store_->history(0, 10)->empty());
  std::vector<int64_t> ids;
  for (int i = 0; i < 25; ++i) {
    auto id = store_->append_history(record(i));
    ASSERT_TRUE(id.ok()) << id.error().message;
    if (!ids.empty()) {
      EXPECT_GT(*id, ids.back());
    }
    ids.push_back(*id);
  }
  auto page1 = store_->history(0, 10);
  ASSERT_TRUE(page1.ok()) << page1.error().message;
  ASSERT_EQ(page1->size(), 10u);
  for (int k = 0; k < 10; ++k) {
    const auto& r = (*page1)[k];
    EXPECT_EQ(r.id, ids[24 - k]);
    const auto want = record(24 - k);
    EXPECT_EQ(r.ts_ms, want.ts_ms);
    EXPECT_EQ(r.actor, want.actor);
    EXPECT_EQ(r.action, want.action);
    EXPECT_EQ(r.entity, want.entity);
    EXPECT_EQ(r.version, want.version);
    EXPECT_EQ(r.before, want.before);
    EXPECT_EQ(r.after, want.after);
  }
  auto page2 = store_->history(page1->back().id, 10);
  ASSERT_EQ(page2->size(), 10u);
  EXPECT_EQ(page2->front().id, ids[14]);
  EXPECT_EQ(page2->back().id, ids[5]);
  auto page3 = store_->history(page2->back().id, 10);
  ASSERT_EQ(page3->size(), 5u);
  EXPECT_EQ(page3->front().id, ids[4]);
  EXPECT_EQ(page3->back().id, ids[0]);
  EXPECT_EQ(page3->back().before, "");  // an empty before stays empty
  EXPECT_TRUE(store_->history(ids[0], 10)->empty());
  // A before_id in the middle, a small limit, a limit of 0.
  auto mid = store_->history(ids[12], 3);
  ASSERT_EQ(mid->size(), 3u);
  EXPECT_EQ((*mid)[0].id, ids[11]);
  EXPECT_EQ((*mid)[2].id, ids[9]);
  EXPECT_TRUE(store_->history(0, 0)->empty());
  // A before_id past the newest is the same as 0.
  EXPECT_EQ(store_->history(ids.back() + 100, 1)->front().id, ids.back());
}

// Redaction is the caller's job: the store keeps exactly what it is given.
TEST_P(ConfigStoreTest, HistoryKeepsRecordsVerbatim) {
  HistoryRecord r = record(3);
  r.after = R"({"api_key":"sk-live-not-redacted","nested":{"k":[1,2,3]}})";
  r.action = "rotate";
  ASSERT_TRUE(store_->append_history(r).ok());
  auto h = store_->history(0, 5);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(h->front().after, r.after);
  EXPECT_EQ(h->front().action, "rotate");
}

// ---------- SQLite ----------

TEST(ConfigStoreSqlite, CreatesDirectoriesAndKeepsDataAcrossReopen) {
  TempDir dir;
  const std::string path = dir.path + "/a/b/c/store.db";
  {
    auto s = make_sqlite_config_store(path);
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_EQ(*(*s)->save(kConfigDoc, 0, "{\"kept\":true}"), 1);
    ASSERT_TRUE((*s)->append_history(record(0)).ok());
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  auto s = make_sqlite_config_store(path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->load(kConfigDoc)->json, "{\"kept\":true}");
  EXPECT_EQ((*s)->history(0, 10)->size(), 1u);
  // Ids keep increasing after a reopen.
  EXPECT_EQ(*(*s)->append_history(record(1)), 2);
}

TEST(ConfigStoreSqlite, UnopenablePathIsAnError) {
  auto s = make_sqlite_config_store("/proc/torii-no/such.db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().status, 503);
}

// Two processes increment a counter document with load + compare-and-set, retrying on
// conflicts: a lost update would leave the counter below the number of increments.
TEST(ConfigStoreSqlite, CompareAndSetHoldsAcrossProcesses) {
  TempDir dir;
  const std::string path = dir.path + "/shared.db";
  ASSERT_TRUE(make_sqlite_config_store(path).ok());  // the schema, before the race
  constexpr int kIncrements = 60;
  auto work = [&]() -> int {  // returns the number of conflicts seen, -1 on error
    auto s = make_sqlite_config_store(path);
    if (!s.ok()) return -1;
    int conflicts = 0;
    for (int done = 0; done < kIncrements;) {
      auto cur = (*s)->load("counter");
      if (!cur.ok()) return -1;
      const int n = cur->version == 0 ? 0 : std::stoi(cur->json);
      auto v = (*s)->save("counter", cur->version, std::to_string(n + 1));
      if (v.ok()) {
        ++done;
      } else if (v.error().status == 409) {
        ++conflicts;
      } else {
        return -1;
      }
    }
    return conflicts;
  };
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(work() < 0 ? 1 : 0);
  const int conflicts = work();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GE(conflicts, 0);
  auto s = make_sqlite_config_store(path);
  auto doc = (*s)->load("counter");
  EXPECT_EQ(doc->version, 2 * kIncrements);
  EXPECT_EQ(doc->json, std::to_string(2 * kIncrements));
}

// ---------- Redis ----------

class ConfigStoreRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_server().start()) << "redis-server did not start";
    prefix_ = unique_prefix();
  }
  std::unique_ptr<ConfigStore> open(const testing::RedisServer& srv) {
    auto r = make_redis_config_store(redis_config(srv, prefix_));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : nullptr;
  }
  std::string prefix_;
};

TEST_F(ConfigStoreRedis, SaveCallsTheOtherNodesWatchNeverItsOwn) {
  auto a = open(redis_server());
  auto b = open(redis_server());
  ASSERT_TRUE(a && b);
  Changes ca, cb;
  a->watch(ca.callback());
  b->watch(cb.callback());
  std::this_thread::sleep_for(milliseconds(300));  // both subscribed
  ASSERT_EQ(*a->save(kConfigDoc, 0, "{}"), 1);
  EXPECT_TRUE(cb.wait_for(std::string(kConfigDoc), 1, milliseconds(2000)));
  ASSERT_EQ(*b->save(kAccountsDoc, 0, "{}"), 1);
  ASSERT_EQ(*b->save(kAccountsDoc, 1, "{}"), 2);
  EXPECT_TRUE(ca.wait_for(std::string(kAccountsDoc), 2, milliseconds(2000)));
  // A refused save announces nothing.
  ASSERT_FALSE(a->save(kConfigDoc, 0, "{}").ok());
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(ca.size(), 2u);  // accounts 1 and 2, never its own config save
  EXPECT_EQ(cb.size(), 1u);  // config 1 only
  EXPECT_FALSE(ca.wait_for(std::string(kConfigDoc), 1, milliseconds(0)));
}

TEST_F(ConfigStoreRedis, OtherPrefixesAreNotHeard) {
  auto a = open(redis_server());
  Changes ca;
  a->watch(ca.callback());
  std::this_thread::sleep_for(milliseconds(300));
  auto cfg = redis_config(redis_server(), unique_prefix());
  auto other = make_redis_config_store(cfg);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->save(kConfigDoc, 0, "{}").ok());
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(ca.size(), 0u);
}

TEST_F(ConfigStoreRedis, UnreachableOrRefusedIs503WithoutThePassword) {
  testing::RedisServer srv("pw-never-in-messages");
  ASSERT_TRUE(srv.start());
  auto cfg = redis_config(srv, prefix_);
  cfg.password.value = "wrong-password-xyz";
  auto bad = make_redis_config_store(cfg);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status, 503);
  EXPECT_EQ(bad.error().message.find("wrong-password-xyz"), std::string::npos);
  srv.stop();
  cfg.password.value = srv.password();
  auto down = make_redis_config_store(cfg);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().status, 503);
  EXPECT_NE(down.error().message.find("127.0.0.1:" + std::to_string(srv.port())),
            std::string::npos)
      << down.error().message;
  EXPECT_EQ(down.error().message.find(srv.password()), std::string::npos);
}

TEST_F(ConfigStoreRedis, KilledServerGives503QuicklyThenRecovers) {
  testing::RedisServer srv("pw-kill-test");
  ASSERT_TRUE(srv.start());
  auto s = open(srv);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(*s->save(kConfigDoc, 0, "{}"), 1);
  srv.stop();
  auto t0 = Clock::now();
  auto v = s->save(kConfigDoc, 1, "{}");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().status, 503);
  EXPECT_NE(v.error().message.find(std::to_string(srv.port())), std::string::npos);
  EXPECT_EQ(v.error().message.find(srv.password()), std::string::npos);
  auto l = s->load(kConfigDoc);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().status, 503);
  auto h = s->history(0, 5);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().status, 503);
  EXPECT_LT(Clock::now() - t0, milliseconds(3000));
  // Back (empty: no persistence): the same object reconnects on its own.
  ASSERT_TRUE(srv.start());
  auto again = s->save(kConfigDoc, 0, "{\"after\":\"restart\"}");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 1);
}

TEST_F(ConfigStoreRedis, FrozenServerTimesOutWith503) {
  testing::RedisServer srv;
  ASSERT_TRUE(srv.start());
  auto s = open(srv);
  ASSERT_NE(s, nullptr);
  srv.freeze();
  auto t0 = Clock::now();
  auto v = s->save(kConfigDoc, 0, "{}");
  const auto took = Clock::now() - t0;
  srv.thaw();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().status, 503);
  EXPECT_LT(took, milliseconds(3000));
}

// After the subscriber lost its connection, every document is announced (version 0), since
// messages may have been missed; messages flow again afterwards.
TEST_F(ConfigStoreRedis, WatchReconnectsAndResyncs) {
  testing::RedisServer srv("pw-watch");
  ASSERT_TRUE(srv.start());
  auto a = open(srv);
  auto b = open(srv);
  ASSERT_TRUE(a && b);
  Changes ca;
  a->watch(ca.callback());
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_EQ(*b->save(kConfigDoc, 0, "{}"), 1);
  ASSERT_TRUE(ca.wait_for(std::string(kConfigDoc), 1, milliseconds(2000)));
  srv.stop();
  std::this_thread::sleep_for(milliseconds(500));  // the watcher notices, backs off
  ASSERT_TRUE(srv.start());
  // Written while nobody listened (no message): only the resync can tell `a`.
  ASSERT_EQ(srv.command("HSET " + prefix_ + "doc:missed version 5 json {}", 2), ":2");
  EXPECT_TRUE(ca.wait_for("missed", 0, milliseconds(4000)));
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_EQ(*b->save(kAccountsDoc, 0, "{}"), 1);
  EXPECT_TRUE(ca.wait_for(std::string(kAccountsDoc), 1, milliseconds(2000)));
}

TEST_F(ConfigStoreRedis, DestructorWithActiveWatchIsPrompt) {
  auto s = open(redis_server());
  ASSERT_NE(s, nullptr);
  Changes c;
  s->watch(c.callback());
  std::this_thread::sleep_for(milliseconds(300));
  auto t0 = Clock::now();
  s.reset();
  EXPECT_LT(Clock::now() - t0, milliseconds(1000));
}

TEST_F(ConfigStoreRedis, DestructorWhileRedisIsDownIsPrompt) {
  testing::RedisServer srv;
  ASSERT_TRUE(srv.start());
  auto s = open(srv);
  ASSERT_NE(s, nullptr);
  Changes c;
  s->watch(c.callback());
  std::this_thread::sleep_for(milliseconds(200));
  srv.stop();
  std::this_thread::sleep_for(milliseconds(2500));  // the backoff has grown to its ceiling
  auto t0 = Clock::now();
  s.reset();
  EXPECT_LT(Clock::now() - t0, milliseconds(1000));
}

}  // namespace
}  // namespace torii::admin
