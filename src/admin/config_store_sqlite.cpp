// The SQLite ConfigStore: the embedded default, one file. Several processes may open the same
// file, so the compare-and-set reads and writes inside one BEGIN IMMEDIATE transaction (the write
// lock is taken before the read: no other process can slip a write between the two). WAL mode
// lets readers run beside the writer; busy_timeout makes a waiting writer retry for 5 s.
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <mutex>

#include "admin/config_store.h"
#include "core/clock.h"

namespace torii::admin {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS docs (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  json TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  entity TEXT NOT NULL,
  version INTEGER NOT NULL,
  before TEXT NOT NULL,
  after TEXT NOT NULL
);
)sql";

constexpr const char* kLoad = "SELECT version, json FROM docs WHERE name = ?1";
constexpr const char* kUpsert =
    "INSERT INTO docs(name, version, json, updated_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(name) DO UPDATE SET version = excluded.version, json = excluded.json, "
    "updated_ms = excluded.updated_ms";
constexpr const char* kAppend =
    "INSERT INTO history(ts_ms, actor, action, entity, version, before, after) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kHistory =
    "SELECT id, ts_ms, actor, action, entity, version, before, after FROM history "
    "WHERE id < ?1 ORDER BY id DESC LIMIT ?2";

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

// A prepared statement, reset (and its bindings cleared) when the scope ends.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

class SqliteConfigStore final : public ConfigStore {
 public:
  explicit SqliteConfigStore(std::string path) : path_(std::move(path)) {}
  ~SqliteConfigStore() override {
    for (auto* s : {load_, upsert_, append_, history_}) {
      if (s) sqlite3_finalize(s);
    }
    if (db_) sqlite3_close_v2(db_);
  }

  Result<void> open() {
    std::error_code ec;
    auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return ApiError::unavailable("cannot create " + parent.string() + ": " + ec.message());
    int rc = sqlite3_open_v2(path_.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) return fail("cannot open");
    sqlite3_busy_timeout(db_, 5000);
    if (auto r = exec("PRAGMA journal_mode=WAL"); !r) return r;
    if (auto r = exec("PRAGMA synchronous=NORMAL"); !r) return r;
    if (auto r = exec(kSchema); !r) return r;
    const std::pair<const char*, sqlite3_stmt**> stmts[] = {
        {kLoad, &load_}, {kUpsert, &upsert_}, {kAppend, &append_}, {kHistory, &history_}};
    for (auto [sql, out] : stmts) {
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr) != SQLITE_OK) {
        return fail("cannot prepare a statement");
      }
    }
    return {};
  }

  Result<StoredDoc> load(std::string_view name) override {
    std::lock_guard lock(mu_);
    return read_doc(name);
  }

  Result<int64_t> save(std::string_view name, int64_t expected, const std::string& json) override {
    std::lock_guard lock(mu_);
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r.error();
    auto current = read_doc(name);
    if (!current) {
      rollback();
      return current.error();
    }
    if (current->version != expected) {
      rollback();
      return ApiError{409, "invalid_request_error", "version_conflict",
                      "document '" + std::string(name) + "' is at version " +
                          std::to_string(current->version) + ", not " + std::to_string(expected)};
    }
    {
      Stmt s(upsert_);
      bind_text(s.get(), 1, name);
      sqlite3_bind_int64(s.get(), 2, expected + 1);
      bind_text(s.get(), 3, json);
      sqlite3_bind_int64(s.get(), 4, unix_ms());
      if (sqlite3_step(s.get()) != SQLITE_DONE) {
        auto err = fail("cannot write '" + std::string(name) + "'");
        rollback();
        return err;
      }
    }
    if (auto r = exec("COMMIT"); !r) {
      rollback();
      return r.error();
    }
    return expected + 1;
  }

  Result<int64_t> append_history(const HistoryRecord& r) override {
    std::lock_guard lock(mu_);
    Stmt s(append_);
    sqlite3_bind_int64(s.get(), 1, r.ts_ms);
    bind_text(s.get(), 2, r.actor);
    bind_text(s.get(), 3, r.action);
    bind_text(s.get(), 4, r.entity);
    sqlite3_bind_int64(s.get(), 5, r.version);
    bind_text(s.get(), 6, r.before);
    bind_text(s.get(), 7, r.after);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("cannot append to the history");
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
  }

  Result<std::vector<HistoryRecord>> history(int64_t before_id, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<HistoryRecord> out;
    if (limit <= 0) return out;
    Stmt s(history_);
    sqlite3_bind_int64(s.get(), 1, before_id <= 0 ? INT64_MAX : before_id);
    sqlite3_bind_int(s.get(), 2, limit);
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      HistoryRecord r;
      r.id = sqlite3_column_int64(s.get(), 0);
      r.ts_ms = sqlite3_column_int64(s.get(), 1);
      r.actor = column_text(s.get(), 2);
      r.action = column_text(s.get(), 3);
      r.entity = column_text(s.get(), 4);
      r.version = sqlite3_column_int64(s.get(), 5);
      r.before = column_text(s.get(), 6);
      r.after = column_text(s.get(), 7);
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return fail("cannot read the history");
    return out;
  }

  std::string_view kind() const override { return "sqlite"; }

 private:
  // Called with mu_ held.
  Result<StoredDoc> read_doc(std::string_view name) {
    Stmt s(load_);
    bind_text(s.get(), 1, name);
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return StoredDoc{};
    if (rc != SQLITE_ROW) return fail("cannot read '" + std::string(name) + "'");
    return StoredDoc{sqlite3_column_int64(s.get(), 0), column_text(s.get(), 1)};
  }

  ApiError fail(const std::string& what) const {
    return ApiError::unavailable("config store " + path_ + ": " + what + ": " +
                                 (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }

  Result<void> exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return {};
    std::string text = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return ApiError::unavailable("config store " + path_ + ": " + text);
  }

  void rollback() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  std::mutex mu_;
  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* load_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
  sqlite3_stmt* append_ = nullptr;
  sqlite3_stmt* history_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<ConfigStore>> make_sqlite_config_store(const std::string& path) {
  if (path.empty()) return ApiError::unavailable("the sqlite config store needs a path");
  auto store = std::make_unique<SqliteConfigStore>(path);
  if (auto r = store->open(); !r) return r.error();
  return std::unique_ptr<ConfigStore>(std::move(store));
}

}  // namespace torii::admin
