// The sqlite sink: the embedded default. One row per event, the JSON text kept whole; the
// columns for queries are virtual generated columns computed by SQLite's JSON functions, so
// the schema follows the event without a parse on our side.
#include <sqlite3.h>

#include <filesystem>

#include "audit/sinks.h"

namespace torii::audit {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_events (
  id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  ts INTEGER GENERATED ALWAYS AS (json_extract(event, '$.start_unix_us')) VIRTUAL,
  request_id TEXT GENERATED ALWAYS AS (json_extract(event, '$.request_id')) VIRTUAL,
  consumer TEXT GENERATED ALWAYS AS (json_extract(event, '$.consumer')) VIRTUAL,
  key TEXT GENERATED ALWAYS AS (json_extract(event, '$.key')) VIRTUAL,
  model TEXT GENERATED ALWAYS AS (json_extract(event, '$.model')) VIRTUAL,
  provider TEXT GENERATED ALWAYS AS (json_extract(event, '$.provider')) VIRTUAL,
  route TEXT GENERATED ALWAYS AS (json_extract(event, '$.route')) VIRTUAL,
  status INTEGER GENERATED ALWAYS AS (json_extract(event, '$.status')) VIRTUAL,
  outcome TEXT GENERATED ALWAYS AS (json_extract(event, '$.outcome')) VIRTUAL,
  cost_micros INTEGER GENERATED ALWAYS AS (json_extract(event, '$.cost_micros')) VIRTUAL,
  prompt_tokens INTEGER GENERATED ALWAYS AS (json_extract(event, '$.usage.prompt')) VIRTUAL,
  completion_tokens INTEGER GENERATED ALWAYS AS (json_extract(event, '$.usage.completion')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events(ts);
CREATE INDEX IF NOT EXISTS audit_events_consumer ON audit_events(consumer, ts);
CREATE INDEX IF NOT EXISTS audit_events_model ON audit_events(model, ts);
CREATE INDEX IF NOT EXISTS audit_events_provider ON audit_events(provider, ts);
CREATE INDEX IF NOT EXISTS audit_events_status ON audit_events(status, ts);
)sql";

// A line that is not JSON would make every query over the generated columns fail, so it is
// not inserted (WHERE json_valid). Events come from to_json: this guards against a damaged
// spill file only. An event without an id gets a random one.
constexpr const char* kInsert =
    "INSERT OR IGNORE INTO audit_events(id, event) "
    "SELECT coalesce(json_extract(?1, '$.id'), lower(hex(randomblob(16)))), ?1 "
    "WHERE json_valid(?1)";

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
    for (const auto& e : events) {
      sqlite3_bind_text(insert_, 1, e.data(), static_cast<int>(e.size()), SQLITE_STATIC);
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
