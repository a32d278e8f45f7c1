// The audit sinks against real files, a real SQLite database, a real HTTP listener and a real
// redis-server.
#include <hiredis/hiredis.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "temp_dir.h"
#include "audit/sinks.h"
#include "http_test_server.h"
#include "redis_server.h"

namespace torii::audit {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct TempDir : test_util::TempDir {
  TempDir() : test_util::TempDir("audit") {}
};

std::string event(const std::string& id, const std::string& consumer = "team-a",
                  std::size_t pad = 0) {
  json::object o;
  o["id"] = id;
  o["request_id"] = "req-" + id;
  o["start_unix_us"] = 1700000000000000LL;
  o["consumer"] = consumer;
  o["key"] = "key-a";
  o["model"] = "mock/mock-1";
  o["provider"] = "mock";
  o["route"] = "";
  o["status"] = 200;
  o["outcome"] = "ok";
  o["cost_micros"] = 42;
  o["usage"] = json::object{{"prompt", 7}, {"completion", 11}};
  if (pad) o["pad"] = std::string(pad, 'x');
  return json::serialize(o);
}

std::vector<std::string> batch_of(int from, int count, std::size_t pad = 0) {
  std::vector<std::string> out;
  for (int i = from; i < from + count; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "e%04d", i);
    out.push_back(event(id, "team-a", pad));
  }
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::unique_ptr<AuditSink> make(const AuditSinkConfig& c) {
  auto r = make_sink(c);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(*r) : nullptr;
}

// ---- factory ----

TEST(AuditSinks, FactoryRejectsUnknownTypeAndDefaultsTheName) {
  AuditSinkConfig c;
  c.type = "kafka";
  auto r = make_sink(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("kafka"), std::string::npos);
  EXPECT_GE(r.error().status, 500);
  c.type = "stdout";
  auto s = make(c);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name(), "stdout");
  EXPECT_TRUE(s->write(batch_of(0, 1)).ok());
}

TEST(AuditSinks, EventIdFastAndSlowPaths) {
  EXPECT_EQ(event_id(event("abc")), "abc");
  EXPECT_EQ(event_id(R"({"x":1,"id":"later"})"), "later");
  EXPECT_EQ(event_id("not json"), "");
  EXPECT_EQ(event_id(R"({"x":1})"), "");
}

// ---- jsonl ----

TEST(AuditSinks, JsonlAppendsLinesIntact) {
  TempDir dir;
  AuditSinkConfig c;
  c.type = "jsonl";
  c.name = "file";
  c.path = dir / "sub/dir/audit.jsonl";  // parent directories are created
  auto sink = make(c);
  ASSERT_TRUE(sink);
  auto a = batch_of(0, 3), b = batch_of(3, 2);
  ASSERT_TRUE(sink->write(a).ok());
  ASSERT_TRUE(sink->write(b).ok());
  auto lines = read_lines(c.path);
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(lines, a);
}

TEST(AuditSinks, JsonlRotatesBySizeWithoutSplittingOrLosingLines) {
  TempDir dir;
  AuditSinkConfig c;
  c.type = "jsonl";
  c.path = dir / "audit.jsonl";
  c.max_bytes = 1000;
  c.keep = 3;
  auto sink = make(c);
  ASSERT_TRUE(sink);
  const int total = 60;
  for (int i = 0; i < total; i += 6) ASSERT_TRUE(sink->write(batch_of(i, 6, 40)).ok());
  EXPECT_FALSE(fs::exists(c.path + ".4"));
  // Oldest first: .3, .2, .1, then the live file. The ids must be one contiguous run that
  // ends with the last written event: only whole files were dropped.
  std::vector<std::string> ids;
  const std::vector<std::string> files = {c.path + ".3", c.path + ".2", c.path + ".1", c.path};
  for (const auto& f : files) {
    ASSERT_TRUE(fs::exists(f)) << f;
    EXPECT_LE(static_cast<int64_t>(fs::file_size(f)), c.max_bytes) << f;
    for (const auto& line : read_lines(f)) {
      auto v = json::parse(line);  // throws on a split line
      ids.push_back(std::string(v.at("id").as_string()));
    }
  }
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), "e0059");
  int first = std::atoi(ids.front().c_str() + 1);
  EXPECT_GT(first, 0);  // something was dropped with the oldest file
  for (std::size_t i = 0; i < ids.size(); ++i) {
    char want[16];
    std::snprintf(want, sizeof want, "e%04d", first + static_cast<int>(i));
    ASSERT_EQ(ids[i], want);
  }
}

TEST(AuditSinks, JsonlRotatesByAge) {
  TempDir dir;
  AuditSinkConfig c;
  c.type = "jsonl";
  c.path = dir / "audit.jsonl";
  c.max_age = std::chrono::seconds(1);
  auto sink = make(c);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->write(batch_of(0, 2)).ok());
  ASSERT_TRUE(sink->write(batch_of(2, 1)).ok());  // young: same file
  EXPECT_FALSE(fs::exists(c.path + ".1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(sink->write(batch_of(3, 2)).ok());
  EXPECT_EQ(read_lines(c.path + ".1").size(), 3u);
  EXPECT_EQ(read_lines(c.path), batch_of(3, 2));
}

TEST(AuditSinks, JsonlReopensARemovedFile) {
  TempDir dir;
  AuditSinkConfig c;
  c.type = "jsonl";
  c.path = dir / "audit.jsonl";
  auto sink = make(c);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->write(batch_of(0, 2)).ok());
  fs::rename(c.path, c.path + ".moved");  // as logrotate does
  ASSERT_TRUE(sink->write(batch_of(2, 2)).ok());
  EXPECT_EQ(read_lines(c.path), batch_of(2, 2));
  EXPECT_EQ(read_lines(c.path + ".moved"), batch_of(0, 2));
}

TEST(AuditSinks, JsonlBadPathIsAnErrorNamingTheSink) {
  TempDir dir;
  std::ofstream(dir / "plain") << "x";
  AuditSinkConfig c;
  c.type = "jsonl";
  c.name = "trail";
  c.path = dir / "plain/audit.jsonl";  // parent is a file
  auto r = make_sink(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("audit sink trail"), std::string::npos);
}

// ---- sqlite ----

int64_t query_int(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

std::string query_text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return v;
}

TEST(AuditSinks, SqliteBatchLandsOnceWithQueryColumns) {
  TempDir dir;
  AuditSinkConfig c;
  c.type = "sqlite";
  c.path = dir / "db/audit.db";
  auto sink = make(c);
  ASSERT_TRUE(sink);
  auto batch = batch_of(0, 3);
  batch.push_back(event("other", "team-b"));
  ASSERT_TRUE(sink->write(batch).ok());
  ASSERT_TRUE(sink->write(batch).ok());  // a replay: INSERT OR IGNORE
  ASSERT_TRUE(sink->write(std::vector<std::string>{event("late"), "not json"}).ok());

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(c.path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM audit_events"), 5);
  EXPECT_EQ(query_text(db, "SELECT consumer FROM audit_events_v WHERE id='other'"), "team-b");
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM audit_events_v WHERE consumer='team-a'"), 4);
  EXPECT_EQ(query_int(db, "SELECT prompt_tokens + completion_tokens FROM audit_events_v "
                          "WHERE id='e0001'"), 18);
  EXPECT_EQ(query_int(db, "SELECT status FROM audit_events_v WHERE id='e0002'"), 200);
  EXPECT_EQ(query_int(db, "SELECT ts FROM audit_events WHERE id='e0000'"), 1700000000000000LL);
  EXPECT_EQ(query_int(db, "PRAGMA user_version"), 1);
  EXPECT_EQ(query_text(db, "PRAGMA journal_mode"), "wal");
  // A time range is served by the ts index.
  std::string plan;
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT * FROM audit_events_v WHERE ts > 5 "
                                   "AND model = 'x'", -1, &st, nullptr), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW)
    plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
  sqlite3_finalize(st);
  EXPECT_NE(plan.find("audit_events_ts"), std::string::npos) << plan;
  sqlite3_close(db);

  // A second "process": a new sink on the same file sees and keeps the rows.
  sink.reset();
  auto again = make(c);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->write(batch_of(2, 3)).ok());  // e0002 known, e0003/e0004 new
  ASSERT_EQ(sqlite3_open(c.path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM audit_events"), 7);
  sqlite3_close(db);
}

TEST(AuditSinks, SqliteCannotOpenIsAnError) {
  TempDir dir;
  fs::create_directories(dir / "isadir.db");
  AuditSinkConfig c;
  c.type = "sqlite";
  c.name = "db";
  c.path = dir / "isadir.db";
  auto r = make_sink(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("audit sink db"), std::string::npos);
}

// ---- webhook ----

using torii::test::HttpTestServer;

TEST(AuditSinks, WebhookPostsTheBatchAsAJsonArray) {
  HttpTestServer server(200);
  AuditSinkConfig c;
  c.type = "webhook";
  c.name = "siem";
  c.url = server.url("/hook?t=q");
  c.headers = {{"X-Token", "s3cret-token"}};
  auto sink = make(c);
  ASSERT_TRUE(sink);
  auto batch = batch_of(0, 3);
  ASSERT_TRUE(sink->write(batch).ok());
  const auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "[" + batch[0] + "," + batch[1] + "," + batch[2] + "]");
  auto parsed = json::parse(got[0].body);
  EXPECT_EQ(parsed.as_array().size(), 3u);
  const auto& head = got[0].head;
  EXPECT_EQ(head.rfind("POST /hook?t=q HTTP/1.1", 0), 0u) << head;
  EXPECT_NE(head.find("X-Token: s3cret-token"), std::string::npos);
  EXPECT_NE(head.find("application/json"), std::string::npos);
}

TEST(AuditSinks, WebhookNon2xxAndTransportErrorsAreErrorsWithoutSecrets) {
  AuditSinkConfig c;
  c.type = "webhook";
  c.name = "siem";
  c.headers = {{"Authorization", "Bearer s3cret-token"}};
  c.timeout = std::chrono::milliseconds(2000);
  {
    HttpTestServer server(503);
    c.url = server.url("/hook?t=q");
    auto sink = make(c);
    ASSERT_TRUE(sink);
    auto r = sink->write(batch_of(0, 2));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("503"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("audit sink siem"), std::string::npos);
    EXPECT_EQ(r.error().message.find("s3cret"), std::string::npos);
    EXPECT_EQ(r.error().message.find("t=q"), std::string::npos);  // the query stays out too
  }
  int port = 0;
  {
    HttpTestServer gone(200);
    port = gone.port();
  }
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  auto sink = make(c);
  ASSERT_TRUE(sink);
  auto r = sink->write(batch_of(0, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("s3cret"), std::string::npos);

  c.url = "ftp://example.com/x";
  EXPECT_FALSE(make_sink(c).ok());
  c.url = "http://127.0.0.1/x";
  c.headers = {{"X-Bad", "a\r\nInjected: 1"}};
  auto bad = make_sink(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("Injected"), std::string::npos);
}

// ---- redis ----

TEST(AuditSinks, RedisXaddsEveryEventAndReconnects) {
  if (!testing::RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
  testing::RedisServer srv("redis-pw");
  ASSERT_TRUE(srv.start());
  AuditSinkConfig c;
  c.type = "redis";
  c.redis.host = "127.0.0.1";
  c.redis.port = srv.port();
  c.redis.password.value = "redis-pw";
  c.redis.db = 2;
  c.stream = "torii:audit";
  c.maxlen = 1000;
  c.timeout = std::chrono::milliseconds(1000);
  auto sink = make(c);
  ASSERT_TRUE(sink);
  auto batch = batch_of(0, 3);
  ASSERT_TRUE(sink->write(batch).ok());
  EXPECT_EQ(srv.command("XLEN torii:audit", 2), ":3");

  redisContext* ctx = redisConnect("127.0.0.1", srv.port());
  ASSERT_TRUE(ctx && !ctx->err);
  freeReplyObject(redisCommand(ctx, "AUTH redis-pw"));
  freeReplyObject(redisCommand(ctx, "SELECT 2"));
  auto* reply = static_cast<redisReply*>(redisCommand(ctx, "XRANGE torii:audit - +"));
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(reply->elements, 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    redisReply* fields = reply->element[i]->element[1];
    ASSERT_EQ(fields->elements, 4u);
    EXPECT_EQ(std::string(fields->element[0]->str), "id");
    EXPECT_EQ(std::string(fields->element[1]->str), event_id(batch[i]));
    EXPECT_EQ(std::string(fields->element[2]->str), "event");
    EXPECT_EQ(std::string(fields->element[3]->str, fields->element[3]->len), batch[i]);
  }
  freeReplyObject(reply);
  redisFree(ctx);

  srv.stop();
  auto down = sink->write(batch_of(3, 1));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().message.find("redis-pw"), std::string::npos);
  ASSERT_TRUE(srv.start());  // same port, empty (no persistence)
  ASSERT_TRUE(sink->write(batch_of(4, 2)).ok());
  EXPECT_EQ(srv.command("XLEN torii:audit", 2), ":2");
}

TEST(AuditSinks, RedisWrongPasswordIsAnErrorWithoutThePassword) {
  if (!testing::RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
  testing::RedisServer srv("right-pw");
  ASSERT_TRUE(srv.start());
  AuditSinkConfig c;
  c.type = "redis";
  c.redis.port = srv.port();
  c.redis.password.value = "wrong-pw";
  auto sink = make(c);
  ASSERT_TRUE(sink);
  auto r = sink->write(batch_of(0, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("wrong-pw"), std::string::npos);
  EXPECT_NE(r.error().message.find("AUTH"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace torii::audit
