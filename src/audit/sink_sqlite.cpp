// The sqlite sink: the embedded default. One row per event, the JSON text kept whole; the
// columns for queries are virtual generated columns computed by SQLite's JSON functions, so
// the schema follows the event without a parse on our side.
#include <sqlite3.h>

#include <boost/json/parse.hpp>

#include <charconv>
#include <filesystem>
#include <string_view>

#include "audit/sinks.h"

namespace torii::audit {
namespace {

// Stored: the id (unique), the start time (indexed) and the event's JSON text; an insert pays
// for two appending index entries (the id and the time both grow with time) and no JSON parse.
// The columns for queries are in the view audit_events_v, read with SQLite's JSON functions.
// (Generated columns on the table are computed at every insert, indexed or not: measured at
// ~60k instructions per event with eleven of them.)
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_events (
  id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  event TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_events_id ON audit_events(id);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events(ts);
CREATE VIEW IF NOT EXISTS audit_events_v AS SELECT
  id, ts, event,
  json_extract(event, '$.request_id') AS request_id,
  json_extract(event, '$.consumer') AS consumer,
  json_extract(event, '$.key') AS key,
  json_extract(event, '$.model') AS model,
  json_extract(event, '$.provider') AS provider,
  json_extract(event, '$.route') AS route,
  json_extract(event, '$.status') AS status,
  json_extract(event, '$.outcome') AS outcome,
  json_extract(event, '$.cost_micros') AS cost_micros,
  json_extract(event, '$.usage.prompt') AS prompt_tokens,
  json_extract(event, '$.usage.completion') AS completion_tokens
FROM audit_events;
)sql";

constexpr const char* kInsert = "INSERT OR IGNORE INTO audit_events(id, ts, event) VALUES (?1, ?2, ?3)";

// The id and start time of an event line: read from to_json's layout without a parse
// ({"id":"…", … "start_unix_us":N …}), else from a parse (a spill file's line written by
// another version). False when the line is not a JSON object with an id: it is skipped, since it
// would break every query over the generated columns.
bool id_and_ts(std::string_view line, std::string& id, int64_t& ts) {
  id = event_id(line);
  if (id.empty()) return false;
  constexpr std::string_view kTs = "\"start_unix_us\":";
  if (auto at = line.find(kTs); at != std::string_view::npos && line.rfind("{\"id\":\"", 0) == 0) {
    const char* p = line.data() + at + kTs.size();
    const char* end = line.data() + line.size();
    auto [q, ec] = std::from_chars(p, end, ts);
    if (ec == std::errc() && q != p) return true;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return false;
  const auto* t = v.as_object().if_contains("start_unix_us");
  ts = t && t->is_int64() ? t->as_int64() : 0;
  return true;
}

class SqliteSink final : public AuditSink {
 public:
  explicit SqliteSink(std::string name, std::string path)
      : name_(std::move(name)), path_(std::move(path)) {}
  ~SqliteSink() override {
    if (insert_) sqlite3_finalize(insert_);
    if (db_) sqlite3_close_v2(db_);
  }

  const std::string& name() const override { return name_; }

  Result<void> open() {
    std::error_code ec;
    auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return sink_error(name_, "cannot create " + parent.string() + ": " + ec.message());
    int rc = sqlite3_open_v2(path_.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) return fail("cannot open " + path_);
    sqlite3_busy_timeout(db_, 5000);
    if (auto r = exec("PRAGMA journal_mode=WAL"); !r) return r;
    if (auto r = exec("PRAGMA synchronous=NORMAL"); !r) return r;
    if (auto r = exec(kSchema); !r) return r;
    if (auto r = exec("PRAGMA user_version=1"); !r) return r;
    if (sqlite3_prepare_v3(db_, kInsert, -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) !=
        SQLITE_OK) {
      return fail("cannot prepare the insert");
    }
    return {};
  }

  Result<void> write(std::span<const std::string> events) override {
    if (events.empty()) return {};
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    std::string id;
    for (const auto& e : events) {
      int64_t ts = 0;
      if (!id_and_ts(e, id, ts)) continue;
      sqlite3_bind_text(insert_, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert_, 2, ts);
      sqlite3_bind_text(insert_, 3, e.data(), static_cast<int>(e.size()), SQLITE_STATIC);
      int rc = sqlite3_step(insert_);
      sqlite3_reset(insert_);
      sqlite3_clear_bindings(insert_);
      if (rc != SQLITE_DONE) {
        auto err = fail("insert");
        rollback();
        return err;
      }
    }
    if (auto r = exec("COMMIT"); !r) {
      rollback();
      return r;
    }
    return {};
  }

  void flush() override { (void)exec("PRAGMA wal_checkpoint(PASSIVE)"); }

 private:
  ApiError fail(const std::string& what) const {
    return sink_error(name_, what + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }

  Result<void> exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return {};
    std::string text = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return sink_error(name_, path_ + ": " + text);
  }

  void rollback() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  std::string name_;
  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<AuditSink>> make_sqlite_sink(const AuditSinkConfig& c) {
  if (c.path.empty()) return sink_error(c.name, "sqlite needs a path");
  auto sink = std::make_unique<SqliteSink>(c.name, c.path);
  if (auto r = sink->open(); !r) return r.error();
  return std::unique_ptr<AuditSink>(std::move(sink));
}

}  // namespace torii::audit
