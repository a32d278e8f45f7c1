// The audit search and usage aggregates (admin/audit_query.h) over a real SQLite file written
// by the real SQLite sink, from events serialized by audit::to_json.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "temp_dir.h"
#include "admin/audit_query.h"
#include "audit/event.h"
#include "audit/sinks.h"

namespace torii::admin {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using audit::AuditEvent;

struct TempDir : test_util::TempDir {
  TempDir() : test_util::TempDir("auditq") {}
};

// 2026-09-16T00:00:00Z, in µs: the first event's start.
constexpr int64_t kDay0Us = 1789516800LL * 1000000;
constexpr int64_t kStepUs = 8640LL * 1000000;  // ten steps a day

// Event `i` of the fixture: pairs of events share a start time (ties broken by row order), the
// 60 of them span three UTC days, and the members cycle with different periods.
AuditEvent make_event(int i, int64_t ts_us) {
  AuditEvent e;
  char id[40];
  std::snprintf(id, sizeof id, "%016llx%016x", static_cast<unsigned long long>(ts_us), i);
  e.id = id;
  e.request_id = "req-" + std::to_string(i);
  e.start_unix_us = ts_us;
  e.end_unix_us = ts_us + 1000;
  e.consumer = i % 10 == 9 ? "" : (i % 2 ? "team-b" : "team-a");
  e.key = e.consumer.empty() ? "" : "key-" + std::to_string(i % 3);
  e.api = i % 5 == 4 ? "openai_embeddings" : "openai_chat";
  e.modality = i % 5 == 4 ? "embeddings" : "chat";
  e.method = "POST";
  e.path = i % 5 == 4 ? "/v1/embeddings" : "/v1/chat/completions";
  e.model = i % 3 == 0 ? "fast" : (i % 3 == 1 ? "mock/mock-1" : "mock/gpt-4o-mini");
  e.route = i % 3 == 0 ? "fast" : e.model;
  e.provider = i % 4 == 0 ? "backup" : "mock";
  e.upstream_model = "mock-1";
  if (i % 7 == 3) {
    e.status = 502;
    e.outcome = "upstream_error";
    e.error_type = "upstream_error";
    e.error_message = "upstream failed";
  } else if (i % 10 == 9) {
    e.status = 401;
    e.outcome = "unauthenticated";
  } else {
    e.status = 200;
    e.outcome = "ok";
    e.usage = {10 + i, 20 + 2 * i, i % 5, 0, i % 4};
    e.cost_micros = 1000 + 37 * i;
  }
  return e;
}

std::unique_ptr<audit::AuditSink> open_sink(const std::string& path) {
  AuditSinkConfig c;
  c.type = "sqlite";
  c.name = "sqlite";
  c.path = path;
  auto r = audit::make_sink(c);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(*r) : nullptr;
}

void write(audit::AuditSink& sink, const std::vector<AuditEvent>& events) {
  std::vector<std::string> lines;
  for (const auto& e : events) lines.push_back(audit::to_json(e));
  auto r = sink.write(lines);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

// The fixture's events, written in index order (so row order = index order).
struct Fixture {
  TempDir dir;
  std::string db = dir / "audit/audit.db";
  std::vector<AuditEvent> events;
  std::unique_ptr<audit::AuditSink> sink = open_sink(db);

  explicit Fixture(int n = 60) {
    for (int i = 0; i < n; ++i) events.push_back(make_event(i, kDay0Us + (i / 2) * kStepUs));
    // Two batches: rows of both commits are read alike.
    std::vector<AuditEvent> a(events.begin(), events.begin() + n / 2);
    std::vector<AuditEvent> b(events.begin() + n / 2, events.end());
    write(*sink, a);
    write(*sink, b);
  }

  // The ids of the events `keep` selects, newest first (start time, then row order).
  std::vector<std::string> expected(const std::function<bool(const AuditEvent&)>& keep) const {
    std::vector<std::pair<int64_t, int>> order;
    for (int i = 0; i < static_cast<int>(events.size()); ++i)
      if (keep(events[i])) order.emplace_back(events[i].start_unix_us, i);
    std::sort(order.rbegin(), order.rend());
    std::vector<std::string> ids;
    for (auto& [ts, i] : order) ids.push_back(events[i].id);
    return ids;
  }
};

json::object search_ok(const std::string& db, const AuditSearch& q) {
  auto r = search_audit(db, q);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  return json::parse(*r).as_object();
}

std::vector<std::string> ids_of(const json::object& page) {
  std::vector<std::string> ids;
  for (const auto& e : page.at("data").as_array()) ids.emplace_back(e.at("id").as_string());
  return ids;
}

// Every page of `q` from the start; `between(page_no)` runs after each page.
std::vector<std::string> all_pages(const std::string& db, AuditSearch q, int* pages = nullptr,
                                   const std::function<void(int)>& between = {}) {
  std::vector<std::string> ids;
  int n = 0;
  q.cursor.clear();
  for (;;) {
    auto page = search_ok(db, q);
    if (page.empty()) break;
    auto got = ids_of(page);
    ids.insert(ids.end(), got.begin(), got.end());
    ++n;
    if (between) between(n);
    if (page.at("next_cursor").is_null()) break;
    EXPECT_EQ(got.size(), static_cast<std::size_t>(q.limit)) << "a short page that is not last";
    q.cursor = std::string(page.at("next_cursor").as_string());
    if (n > 1000) {
      ADD_FAILURE() << "paging does not end";
      break;
    }
  }
  if (pages) *pages = n;
  return ids;
}

TEST(AuditQuery, NoFilterReturnsEveryEventNewestFirstAsStored) {
  Fixture f;
  AuditSearch q;
  q.limit = 1000;
  auto r = search_audit(f.db, q);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto page = json::parse(*r).as_object();
  EXPECT_TRUE(page.at("next_cursor").is_null());
  EXPECT_EQ(ids_of(page), f.expected([](const AuditEvent&) { return true; }));
  // The objects are the stored JSON text, byte for byte.
  EXPECT_NE(r->find(audit::to_json(f.events[17])), std::string::npos);
}

TEST(AuditQuery, EachFilterMatchesExactly) {
  Fixture f;
  struct Case {
    const char* what;
    std::function<void(AuditSearch&)> set;
    std::function<bool(const AuditEvent&)> keep;
  };
  const std::vector<Case> cases = {
      {"consumer", [](AuditSearch& q) { q.consumer = "team-b"; },
       [](const AuditEvent& e) { return e.consumer == "team-b"; }},
      {"model", [](AuditSearch& q) { q.model = "mock/mock-1"; },
       [](const AuditEvent& e) { return e.model == "mock/mock-1"; }},
      {"provider", [](AuditSearch& q) { q.provider = "backup"; },
       [](const AuditEvent& e) { return e.provider == "backup"; }},
      {"key", [](AuditSearch& q) { q.key = "key-2"; },
       [](const AuditEvent& e) { return e.key == "key-2"; }},
      {"route", [](AuditSearch& q) { q.route = "fast"; },
       [](const AuditEvent& e) { return e.route == "fast"; }},
      {"outcome", [](AuditSearch& q) { q.outcome = "upstream_error"; },
       [](const AuditEvent& e) { return e.outcome == "upstream_error"; }},
      {"status", [](AuditSearch& q) { q.status = 401; },
       [](const AuditEvent& e) { return e.status == 401; }},
      {"combined",
       [](AuditSearch& q) {
         q.consumer = "team-a";
         q.provider = "mock";
         q.status = 200;
       },
       [](const AuditEvent& e) {
         return e.consumer == "team-a" && e.provider == "mock" && e.status == 200;
       }},
      {"no match", [](AuditSearch& q) { q.consumer = "team-a' OR 1=1 --"; },
       [](const AuditEvent&) { return false; }},
  };
  for (const auto& c : cases) {
    AuditSearch q;
    q.limit = 1000;
    c.set(q);
    auto want = f.expected(c.keep);
    if (std::string(c.what) != "no match") {
      EXPECT_FALSE(want.empty()) << c.what;
    }
    EXPECT_EQ(ids_of(search_ok(f.db, q)), want) << c.what;
  }
}

TEST(AuditQuery, TimeRangeIsHalfOpenOnStartTime) {
  Fixture f;
  // Extra events one µs around a millisecond boundary.
  const int64_t edge_ms = (kDay0Us + 5 * kStepUs) / 1000;
  AuditEvent before = make_event(100, edge_ms * 1000 - 1);
  AuditEvent at = make_event(101, edge_ms * 1000);
  AuditEvent in_ms = make_event(102, edge_ms * 1000 + 999);
  write(*f.sink, {before, at, in_ms});
  f.events.insert(f.events.end(), {before, at, in_ms});

  const int64_t to_ms = (kDay0Us + 12 * kStepUs) / 1000;  // events 24, 25 start exactly here
  AuditSearch q;
  q.limit = 1000;
  q.from_ms = edge_ms;
  q.to_ms = to_ms;
  auto got = ids_of(search_ok(f.db, q));
  auto want = f.expected([&](const AuditEvent& e) {
    return e.start_unix_us >= edge_ms * 1000 && e.start_unix_us < to_ms * 1000;
  });
  EXPECT_EQ(got, want);
  EXPECT_EQ(std::count(got.begin(), got.end(), at.id), 1);
  EXPECT_EQ(std::count(got.begin(), got.end(), in_ms.id), 1);
  EXPECT_EQ(std::count(got.begin(), got.end(), before.id), 0);
  EXPECT_EQ(std::count(got.begin(), got.end(), f.events[24].id), 0);
  EXPECT_EQ(std::count(got.begin(), got.end(), f.events[23].id), 1);

  // Open ends.
  q.to_ms = 0;
  EXPECT_EQ(ids_of(search_ok(f.db, q)),
            f.expected([&](const AuditEvent& e) { return e.start_unix_us >= edge_ms * 1000; }));
  q.from_ms = 0;
  q.to_ms = edge_ms;
  EXPECT_EQ(ids_of(search_ok(f.db, q)),
            f.expected([&](const AuditEvent& e) { return e.start_unix_us < edge_ms * 1000; }));
}

TEST(AuditQuery, PagingCoversEveryEventOnceInOrder) {
  Fixture f;
  for (int limit : {1, 2, 7, 30, 59, 60, 61}) {
    AuditSearch q;
    q.limit = limit;
    int pages = 0;
    EXPECT_EQ(all_pages(f.db, q, &pages), f.expected([](const AuditEvent&) { return true; }))
        << "limit " << limit;
    EXPECT_EQ(pages, (60 + limit - 1) / limit) << "limit " << limit;
  }
  // With a filter: the cursor keeps it.
  AuditSearch q;
  q.limit = 4;
  q.consumer = "team-a";
  EXPECT_EQ(all_pages(f.db, q),
            f.expected([](const AuditEvent& e) { return e.consumer == "team-a"; }));
}

TEST(AuditQuery, PagingIsStableWhileEventsArrive) {
  Fixture f;
  const auto want = f.expected([](const AuditEvent&) { return true; });
  AuditSearch q;
  q.limit = 8;
  int n = 0;
  std::vector<AuditEvent> newer;
  auto got = all_pages(f.db, q, nullptr, [&](int page) {
    // Newer events between pages, one with the newest existing start time (a tie).
    std::vector<AuditEvent> batch = {
        make_event(200 + page, kDay0Us + (100 + page) * kStepUs),
        make_event(300 + page, f.events.back().start_unix_us)};
    write(*f.sink, batch);
    newer.insert(newer.end(), batch.begin(), batch.end());
    ++n;
  });
  EXPECT_EQ(got, want);
  EXPECT_GE(n, 8);
  // They are all there for a new search, on top.
  AuditSearch first;
  first.limit = 1000;
  auto now = ids_of(search_ok(f.db, first));
  EXPECT_EQ(now.size(), want.size() + newer.size());
  // Every new event is newer, or ties with the newest and was written later: all come first.
  EXPECT_EQ(std::vector<std::string>(now.end() - static_cast<long>(want.size()), now.end()), want);
}

TEST(AuditQuery, LimitIsClamped) {
  Fixture f;
  AuditSearch q;
  q.limit = 0;
  auto page = search_ok(f.db, q);
  EXPECT_EQ(page.at("data").as_array().size(), 1u);
  EXPECT_TRUE(page.at("next_cursor").is_string());
  q.limit = -5;
  EXPECT_EQ(search_ok(f.db, q).at("data").as_array().size(), 1u);
  q.limit = 1'000'000;
  EXPECT_EQ(search_ok(f.db, q).at("data").as_array().size(), 60u);
}

TEST(AuditQuery, BadCursorIsInvalidRequest) {
  Fixture f;
  for (const std::string& bad : std::vector<std::string>{"!!!", "bm90IGEgY3Vyc29y" /* "not a cursor" */, "MTIz" /* "123" */,
                          "MTIzLjA" /* "123.0": no row 0 */, "LTEuNQ" /* "-1.5" */,
                          std::string(200, 'A')}) {
    AuditSearch q;
    q.cursor = bad;
    auto r = search_audit(f.db, q);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, "cursor");
    EXPECT_EQ(r.error().type, "invalid_request_error");
  }
  // A well-formed cursor past the oldest event: an empty last page.
  AuditSearch q;
  q.cursor = "MS4x";  // "1.1"
  auto page = search_ok(f.db, q);
  EXPECT_TRUE(page.at("data").as_array().empty());
  EXPECT_TRUE(page.at("next_cursor").is_null());
}

TEST(AuditQuery, MissingDatabaseIsEmpty) {
  TempDir dir;
  auto s = search_ok(dir / "nope/audit.db", AuditSearch{});
  EXPECT_TRUE(s.at("data").as_array().empty());
  EXPECT_TRUE(s.at("next_cursor").is_null());
  UsageQuery u;
  u.from_ms = 5;
  auto r = usage_aggregates(dir / "nope/audit.db", u);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto v = json::parse(*r).as_object();
  EXPECT_TRUE(v.at("data").as_array().empty());
  EXPECT_EQ(v.at("from_ms").as_int64(), 5);
  // An empty file (a database without the sink's table yet) is no events too.
  { std::ofstream(dir / "empty.db"); }
  EXPECT_TRUE(search_ok(dir / "empty.db", AuditSearch{}).at("data").as_array().empty());
  EXPECT_FALSE(fs::exists(dir / "nope")) << "a read must not create the file";
}

TEST(AuditQuery, CorruptDatabaseIsA500) {
  TempDir dir;
  {
    std::ofstream out(dir / "bad.db");
    out << std::string(8192, 'z');
  }
  auto r = search_audit(dir / "bad.db", AuditSearch{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 500);
  EXPECT_NE(r.error().message.find("bad.db"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not a database"), std::string::npos) << r.error().message;
  auto u = usage_aggregates(dir / "bad.db", UsageQuery{});
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().status, 500);
}

TEST(AuditQuery, ReadsAfterTheSinkClosed) {
  Fixture f;
  f.sink.reset();  // last connection: the WAL is checkpointed and removed
  AuditSearch q;
  q.limit = 1000;
  EXPECT_EQ(ids_of(search_ok(f.db, q)).size(), 60u);
}

TEST(AuditQuery, ReadsWhileTheSinkWrites) {
  Fixture f;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int b = 0; b < 40; ++b) {
      std::vector<AuditEvent> batch;
      for (int i = 0; i < 25; ++i) {
        batch.push_back(make_event(1000 + b * 25 + i, kDay0Us + (40 + b) * kStepUs + i));
      }
      write(*f.sink, batch);
    }
    done = true;
  });
  int reads = 0;
  while (!done || reads < 3) {
    AuditSearch q;
    q.limit = 10;
    auto s = search_audit(f.db, q);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto u = usage_aggregates(f.db, UsageQuery{});
    ASSERT_TRUE(u.ok()) << u.error().message;
    ++reads;
  }
  writer.join();
  UsageQuery all;
  all.group_by = {"provider"};
  int64_t n = 0;
  const auto totals = json::parse(*usage_aggregates(f.db, all));
  for (const auto& row : totals.at("data").as_array()) n += row.at("requests").as_int64();
  EXPECT_EQ(n, 60 + 40 * 25);
}

// ---- usage ----

struct Sums {
  int64_t requests = 0, errors = 0, prompt = 0, completion = 0, cached = 0, reasoning = 0,
          micros = 0;
};

std::string day_of(int64_t ts_us) {
  std::time_t t = ts_us / 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string key_of(const json::object& row, const std::vector<std::string>& names) {
  std::string k;
  for (const auto& n : names) {
    const auto& v = row.at(n);
    k += (v.is_null() ? std::string("<null>") : std::string(v.as_string())) + "|";
  }
  return k;
}

std::string key_of(const AuditEvent& e, const std::vector<std::string>& names) {
  std::string k;
  for (const auto& n : names) {
    std::string v = n == "consumer" ? e.consumer
                  : n == "model"    ? e.model
                  : n == "key"      ? e.key
                  : n == "provider" ? e.provider
                  : n == "route"    ? e.route
                  : n == "modality" ? e.modality
                                    : day_of(e.start_unix_us);
    k += (v.empty() ? std::string("<null>") : v) + "|";
  }
  return k;
}

void expect_usage(const Fixture& f, const UsageQuery& q, const std::vector<std::string>& names,
                  const std::function<bool(const AuditEvent&)>& keep) {
  std::map<std::string, Sums> want;
  for (const auto& e : f.events) {
    if (!keep(e)) continue;
    auto& s = want[key_of(e, names)];
    s.requests++;
    s.errors += e.outcome != "ok";
    s.prompt += e.usage.prompt;
    s.completion += e.usage.completion;
    s.cached += e.usage.cached;
    s.reasoning += e.usage.reasoning;
    s.micros += std::max<int64_t>(e.cost_micros, 0);
  }
  auto r = usage_aggregates(f.db, q);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto v = json::parse(*r).as_object();
  const auto& rows = v.at("data").as_array();
  ASSERT_EQ(rows.size(), want.size()) << *r;
  std::vector<std::string> order;
  for (const auto& row_v : rows) {
    const auto& row = row_v.as_object();
    ASSERT_EQ(row.size(), names.size() + 8) << json::serialize(row);
    std::string k = key_of(row, names);
    order.push_back(k);
    ASSERT_TRUE(want.count(k)) << k;
    const Sums& s = want[k];
    EXPECT_EQ(row.at("requests").as_int64(), s.requests) << k;
    EXPECT_EQ(row.at("errors").as_int64(), s.errors) << k;
    EXPECT_EQ(row.at("prompt_tokens").as_int64(), s.prompt) << k;
    EXPECT_EQ(row.at("completion_tokens").as_int64(), s.completion) << k;
    EXPECT_EQ(row.at("cached_tokens").as_int64(), s.cached) << k;
    EXPECT_EQ(row.at("reasoning_tokens").as_int64(), s.reasoning) << k;
    EXPECT_EQ(row.at("cost_micros").as_int64(), s.micros) << k;
    EXPECT_NEAR(json::value_to<double>(row.at("cost_usd")), s.micros / 1e6, 1e-12) << k;
  }
  // Sorted by the group keys ("<null>" sorts after letters here, before them in SQL: compare
  // without the null rows).
  std::vector<std::string> no_null;
  for (auto& k : order)
    if (k.find("<null>") == std::string::npos) no_null.push_back(k);
  EXPECT_TRUE(std::is_sorted(no_null.begin(), no_null.end()));
  EXPECT_EQ(v.at("from_ms").as_int64(), q.from_ms);
  EXPECT_EQ(v.at("to_ms").as_int64(), q.to_ms);
}

TEST(AuditQuery, UsageDefaultGroupsByConsumerModelDay) {
  Fixture f;
  expect_usage(f, UsageQuery{}, {"consumer", "model", "day"}, [](const AuditEvent&) {
    return true;
  });
}

TEST(AuditQuery, UsageSumsEqualTheInsertedTotals) {
  Fixture f;
  Sums total;
  for (const auto& e : f.events) {
    total.requests++;
    total.prompt += e.usage.prompt;
    total.micros += std::max<int64_t>(e.cost_micros, 0);
  }
  for (std::vector<std::string> names :
       {std::vector<std::string>{"day"}, {"consumer"}, {"model"}, {"key", "provider"},
        {"route", "day", "consumer"}, {"modality"}, {"modality", "consumer"}}) {
    UsageQuery q;
    q.group_by = names;
    expect_usage(f, q, names, [](const AuditEvent&) { return true; });
    // Whatever the grouping, the rows add up to the whole.
    auto v = json::parse(*usage_aggregates(f.db, q)).as_object();
    Sums got;
    for (const auto& row : v.at("data").as_array()) {
      got.requests += row.at("requests").as_int64();
      got.prompt += row.at("prompt_tokens").as_int64();
      got.micros += row.at("cost_micros").as_int64();
    }
    EXPECT_EQ(got.requests, total.requests);
    EXPECT_EQ(got.prompt, total.prompt);
    EXPECT_EQ(got.micros, total.micros);
  }
  // Days: three of 20 events each.
  UsageQuery q;
  q.group_by = {"day"};
  auto v = json::parse(*usage_aggregates(f.db, q)).as_object();
  const auto& rows = v.at("data").as_array();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("day").as_string(), "2026-09-16");
  EXPECT_EQ(rows[2].at("day").as_string(), "2026-09-18");
  for (const auto& row : rows) EXPECT_EQ(row.at("requests").as_int64(), 20);
}

TEST(AuditQuery, UsageFiltersAndTimeRange) {
  Fixture f;
  UsageQuery q;
  q.group_by = {"model", "model", "day"};  // a repeat counts once
  q.consumer = "team-a";
  q.provider = "mock";
  q.from_ms = (kDay0Us + kStepUs * 3) / 1000;
  q.to_ms = (kDay0Us + kStepUs * 20) / 1000;
  expect_usage(f, q, {"model", "day"}, [&](const AuditEvent& e) {
    return e.consumer == "team-a" && e.provider == "mock" &&
           e.start_unix_us >= q.from_ms * 1000 && e.start_unix_us < q.to_ms * 1000;
  });
  UsageQuery m;
  m.group_by = {"consumer"};
  m.model = "fast";
  expect_usage(f, m, {"consumer"}, [](const AuditEvent& e) { return e.model == "fast"; });
}

TEST(AuditQuery, UsageUnknownGroupByIsInvalidRequest) {
  Fixture f;
  UsageQuery q;
  q.group_by = {"consumer", "ts); DROP TABLE audit_events; --"};
  auto r = usage_aggregates(f.db, q);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().param, "group_by");
  // Validated before any file access: also for a missing database.
  EXPECT_FALSE(usage_aggregates(f.dir / "none.db", q).ok());
  AuditSearch all;
  all.limit = 1000;
  EXPECT_EQ(ids_of(search_ok(f.db, all)).size(), 60u);
}

// Timings over 100k events (not a test of speed: prints them). Run with
// --gtest_also_run_disabled_tests --gtest_filter='*AuditQuery*Speed*'.
TEST(AuditQuery, DISABLED_Speed100k) {
  TempDir dir;
  const std::string db = dir / "audit.db";
  auto sink = open_sink(db);
  ASSERT_TRUE(sink);
  constexpr int kN = 100000;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<AuditEvent> batch;
  for (int i = 0; i < kN; ++i) {
    // 100k events over 30 days; realistic sizes (to_json of a full event, ~1 KB).
    AuditEvent e = make_event(i, kDay0Us + int64_t{i} * 25920000);
    e.trace_id = std::string(32, 'a');
    e.span_id = std::string(16, 'b');
    e.user_agent = "OpenAI/Python 1.54.0";
    e.client_ip = "10.0.0.1";
    e.groups = {"eng", "ml"};
    e.attempts.push_back({"mock", "mock-1", e.status, "", 100, 20000, std::string(16, 'c')});
    batch.push_back(std::move(e));
    if (batch.size() == 512 || i == kN - 1) {
      write(*sink, batch);
      batch.clear();
    }
  }
  auto ms = [](auto a, auto b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  auto t1 = std::chrono::steady_clock::now();
  std::printf("insert %d events: %.0f ms\n", kN, ms(t0, t1));
  auto time = [&](const char* what, auto&& fn) {
    fn();  // warm the page cache
    auto a = std::chrono::steady_clock::now();
    constexpr int kReps = 5;
    for (int i = 0; i < kReps; ++i) fn();
    auto b = std::chrono::steady_clock::now();
    std::printf("%-52s %8.2f ms\n", what, ms(a, b) / kReps);
  };
  AuditSearch first;
  time("search: first page (50), no filter", [&] { ASSERT_TRUE(search_audit(db, first).ok()); });
  AuditSearch deep;
  auto p = search_ok(db, first);
  deep.cursor = std::string(p.at("next_cursor").as_string());
  time("search: second page (cursor)", [&] { ASSERT_TRUE(search_audit(db, deep).ok()); });
  AuditSearch common;
  common.consumer = "team-a";
  time("search: page, consumer filter (45% match)",
       [&] { ASSERT_TRUE(search_audit(db, common).ok()); });
  AuditSearch rare;
  rare.status = 502;
  rare.model = "fast";
  time("search: page, status+model filter (~5% match)",
       [&] { ASSERT_TRUE(search_audit(db, rare).ok()); });
  AuditSearch none;
  none.consumer = "nobody";
  time("search: filter matching nothing (full scan)",
       [&] { ASSERT_TRUE(search_audit(db, none).ok()); });
  AuditSearch day;
  day.consumer = "nobody";
  day.from_ms = (kDay0Us + 86400LL * 1000000 * 10) / 1000;
  day.to_ms = day.from_ms + 86400000;
  time("search: no match within one day (ts range)",
       [&] { ASSERT_TRUE(search_audit(db, day).ok()); });
  UsageQuery u;
  time("usage: consumer,model,day over 100k", [&] {
    auto r = usage_aggregates(db, u);
    ASSERT_TRUE(r.ok());
  });
  UsageQuery ud;
  ud.group_by = {"day"};
  time("usage: day over 100k", [&] { ASSERT_TRUE(usage_aggregates(db, ud).ok()); });
  UsageQuery u1;
  u1.from_ms = day.from_ms;
  u1.to_ms = day.to_ms;
  time("usage: consumer,model,day over one day", [&] {
    ASSERT_TRUE(usage_aggregates(db, u1).ok());
  });
  auto all = json::parse(*usage_aggregates(db, ud)).as_object();
  int64_t n = 0;
  for (const auto& row : all.at("data").as_array()) n += row.at("requests").as_int64();
  EXPECT_EQ(n, kN);
}

}  // namespace
}  // namespace torii::admin
