// Queries over the SQLite audit sink's table audit_events(id, ts, event) (audit/sink_sqlite.cpp).
// Only `ts` (µs) and `id` are indexed, so time bounds go on `ts`; the other filters read the
// event with json_extract (SQLite caches a statement's recent JSON parses across its
// json_extract calls, so several filters on one row parse the event once).
#include "admin/audit_query.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <variant>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "core/base64.h"
#include "core/json_text.h"

namespace torii::admin {
namespace {

namespace json = boost::json;

constexpr int kBusyTimeoutMs = 2000;
constexpr int kMaxLimit = 1000;

// A read-only connection, closed on scope exit.
struct Db {
  sqlite3* db = nullptr;
  ~Db() {
    if (db) sqlite3_close_v2(db);
  }
};

struct Stmt {
  sqlite3_stmt* st = nullptr;
  ~Stmt() {
    if (st) sqlite3_finalize(st);
  }
};

ApiError db_error(const std::string& path, sqlite3* db, int rc) {
  const char* why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return ApiError::internal("audit database " + path + " cannot be read: " + why);
}

// Opens `path` read-only. False: no events yet (no file, or the sink has not created its table).
Result<bool> open_db(const std::string& path, Db& out) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return false;
  int rc = sqlite3_open_v2(path.c_str(), &out.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return db_error(path, out.db, rc);
  sqlite3_busy_timeout(out.db, kBusyTimeoutMs);
  // Reading the schema is where a file that is not a database (or a corrupt header) shows.
  Stmt s;
  rc = sqlite3_prepare_v2(out.db,
                          "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                          "name = 'audit_events'",
                          -1, &s.st, nullptr);
  if (rc != SQLITE_OK) return db_error(path, out.db, rc);
  rc = sqlite3_step(s.st);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(path, out.db, rc);
}

using Param = std::variant<int64_t, std::string>;

// A WHERE clause built from constant SQL fragments, with its values bound in order.
struct Where {
  std::string sql = " WHERE 1";
  std::vector<Param> params;

  void add(const char* fragment, Param p) {
    sql += fragment;
    params.push_back(std::move(p));
  }
  // `AND json_extract(event, '<json_path>') = ?` when `value` is set.
  void text_eq(const char* fragment, const std::string& value) {
    if (!value.empty()) add(fragment, value);
  }
  void time_range(int64_t from_ms, int64_t to_ms) {
    if (from_ms != 0) add(" AND ts >= ?", from_ms * 1000);
    if (to_ms != 0) add(" AND ts < ?", to_ms * 1000);
  }
};

int bind_all(sqlite3_stmt* st, const std::vector<Param>& params) {
  int i = 1;
  for (const auto& p : params) {
    int rc;
    if (const auto* n = std::get_if<int64_t>(&p)) {
      rc = sqlite3_bind_int64(st, i, *n);
    } else {
      const auto& s = std::get<std::string>(p);
      rc = sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) return rc;
    ++i;
  }
  return SQLITE_OK;
}

// The cursor: base64url (no padding) of "<ts>.<rowid>".
std::string encode_cursor(int64_t ts, int64_t rowid) {
  std::string s = base64_encode(std::to_string(ts) + "." + std::to_string(rowid));
  while (!s.empty() && s.back() == '=') s.pop_back();
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

bool parse_int(std::string_view s, int64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

bool decode_cursor(std::string_view text, int64_t& ts, int64_t& rowid) {
  std::string raw;
  if (text.size() > 64 || !base64_decode(text, raw)) return false;
  auto dot = raw.find('.');
  if (dot == std::string::npos) return false;
  return parse_int(std::string_view(raw).substr(0, dot), ts) &&
         parse_int(std::string_view(raw).substr(dot + 1), rowid) && rowid > 0;
}

// Valid until the next step of `st`.
std::string_view column_text(sqlite3_stmt* st, int i) {
  const auto* p = sqlite3_column_text(st, i);
  return p ? std::string_view(reinterpret_cast<const char*>(p),
                              static_cast<std::size_t>(sqlite3_column_bytes(st, i)))
           : std::string_view();
}

// ---- usage ----

// Per event, one json_extract with several paths (one parse of the event) gives a small JSON
// array of these members; the groups are summed here. (Grouping in SQL made SQLite's sorter
// carry every event's whole text to evaluate the sums after sorting: ~5x slower.)
constexpr const char* kUsageSelect =
    "SELECT ts, json_extract(event, '$.consumer', '$.key', '$.model', '$.provider', '$.route', "
    "'$.outcome', '$.usage.prompt', '$.usage.completion', '$.usage.cached', "
    "'$.usage.reasoning', '$.cost_micros', '$.modality') FROM audit_events";
enum UsageMember {
  kConsumer, kKey, kModel, kProvider, kRoute, kOutcome, kPrompt, kModality = 11, kMembers = 12
};
constexpr int kDayKey = -1;

struct GroupKey {
  std::string_view name;
  int member;  // index in the extracted array, or kDayKey
};

constexpr GroupKey kGroupKeys[] = {{"consumer", kConsumer}, {"key", kKey},
                                   {"model", kModel},       {"provider", kProvider},
                                   {"route", kRoute},       {"day", kDayKey},
                                   {"modality", kModality}};

// The sums after the group keys, in output order; the last five are the members from kPrompt.
constexpr const char* kUsageColumns[] = {"requests",         "errors",
                                         "prompt_tokens",    "completion_tokens",
                                         "cached_tokens",    "reasoning_tokens",
                                         "cost_micros"};
constexpr std::size_t kSums = std::size(kUsageColumns);

using Sums = std::array<int64_t, kSums>;
// A group's key: each group_by value in order, nullopt for a JSON null (sorts first).
using GroupValues = std::vector<std::optional<std::string>>;

int64_t as_int(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  if (v.is_double()) return static_cast<int64_t>(v.get_double());
  return 0;
}

// "YYYY-MM-DD" (UTC) of a time in µs since the epoch.
std::string utc_day(int64_t ts_us) {
  namespace chr = std::chrono;
  const chr::sys_days day = chr::floor<chr::days>(chr::sys_time<chr::microseconds>(
      chr::microseconds(ts_us)));
  const chr::year_month_day ymd(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

void append_usd(std::string& out, int64_t micros) {
  char buf[40];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<double>(micros) / 1e6);
  out.append(buf, ec == std::errc() ? p : buf);
}

}  // namespace

Result<std::string> search_audit(const std::string& db_path, const AuditSearch& q) {
  int64_t cursor_ts = 0, cursor_rowid = 0;
  if (!q.cursor.empty() && !decode_cursor(q.cursor, cursor_ts, cursor_rowid)) {
    return ApiError::invalid_request("cursor is not a valid page cursor", "cursor");
  }
  const int limit = std::clamp(q.limit, 1, kMaxLimit);

  Db db;
  auto opened = open_db(db_path, db);
  if (!opened) return opened.error();
  if (!*opened) return std::string(R"({"data":[],"next_cursor":null})");

  Where w;
  w.time_range(q.from_ms, q.to_ms);
  if (!q.cursor.empty()) {
    // Strictly older than the cursor's row in (ts, rowid) order; the first term bounds the
    // index range on ts.
    w.add(" AND ts <= ?", cursor_ts);
    w.add(" AND (ts < ?", cursor_ts);
    w.add(" OR rowid < ?)", cursor_rowid);
  }
  w.text_eq(" AND json_extract(event, '$.consumer') = ?", q.consumer);
  w.text_eq(" AND json_extract(event, '$.model') = ?", q.model);
  w.text_eq(" AND json_extract(event, '$.provider') = ?", q.provider);
  w.text_eq(" AND json_extract(event, '$.key') = ?", q.key);
  w.text_eq(" AND json_extract(event, '$.route') = ?", q.route);
  w.text_eq(" AND json_extract(event, '$.outcome') = ?", q.outcome);
  if (q.status != 0) w.add(" AND json_extract(event, '$.status') = ?", int64_t{q.status});
  // One row more than the page: whether it exists says if there is a next page.
  w.add(" ORDER BY ts DESC, rowid DESC LIMIT ?", int64_t{limit} + 1);

  const std::string sql = "SELECT ts, rowid, event FROM audit_events" + w.sql;
  Stmt s;
  int rc = sqlite3_prepare_v2(db.db, sql.c_str(), -1, &s.st, nullptr);
  if (rc == SQLITE_OK) rc = bind_all(s.st, w.params);
  if (rc != SQLITE_OK) return db_error(db_path, db.db, rc);

  std::string out = R"({"data":[)";
  int rows = 0;
  int64_t last_ts = 0, last_rowid = 0;
  bool more = false;
  while ((rc = sqlite3_step(s.st)) == SQLITE_ROW) {
    if (rows == limit) {
      more = true;
      break;
    }
    if (rows++) out += ',';
    last_ts = sqlite3_column_int64(s.st, 0);
    last_rowid = sqlite3_column_int64(s.st, 1);
    // The event's JSON text as the sink stored it (one object, written by audit::to_json).
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s.st, 2));
    if (text) out.append(text, static_cast<std::size_t>(sqlite3_column_bytes(s.st, 2)));
    else out += "null";
  }
  if (!more && rc != SQLITE_DONE) return db_error(db_path, db.db, rc);
  out += R"(],"next_cursor":)";
  if (more) append_json_string(out, encode_cursor(last_ts, last_rowid));
  else out += "null";
  out += '}';
  return out;
}

Result<std::string> usage_aggregates(const std::string& db_path, const UsageQuery& q) {
  static const std::vector<std::string> kDefault = {"consumer", "model", "day"};
  const auto& names = q.group_by.empty() ? kDefault : q.group_by;
  std::vector<const GroupKey*> keys;
  for (const auto& name : names) {
    const auto* k = std::find_if(std::begin(kGroupKeys), std::end(kGroupKeys),
                                 [&](const GroupKey& g) { return g.name == name; });
    if (k == std::end(kGroupKeys)) {
      return ApiError::invalid_request(
          "unknown group_by '" + name.substr(0, 64) +
              "': expected consumer, key, model, provider, route, modality or day",
          "group_by");
    }
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }

  std::map<GroupValues, Sums> groups;
  Db db;
  auto opened = open_db(db_path, db);
  if (!opened) return opened.error();
  if (*opened) {
    Where w;
    w.time_range(q.from_ms, q.to_ms);
    w.text_eq(" AND json_extract(event, '$.consumer') = ?", q.consumer);
    w.text_eq(" AND json_extract(event, '$.model') = ?", q.model);
    w.text_eq(" AND json_extract(event, '$.provider') = ?", q.provider);
    const std::string sql = kUsageSelect + w.sql;
    Stmt s;
    int rc = sqlite3_prepare_v2(db.db, sql.c_str(), -1, &s.st, nullptr);
    if (rc == SQLITE_OK) rc = bind_all(s.st, w.params);
    if (rc != SQLITE_OK) return db_error(db_path, db.db, rc);

    // The extracted arrays are small: parsed into a reused stack buffer.
    unsigned char buf[4096];
    GroupValues key(keys.size());
    while ((rc = sqlite3_step(s.st)) == SQLITE_ROW) {
      const int64_t ts = sqlite3_column_int64(s.st, 0);
      json::monotonic_resource mr(buf, sizeof buf);
      boost::system::error_code ec;
      const json::value v = json::parse(column_text(s.st, 1), ec, &mr);
      if (ec || !v.is_array() || v.get_array().size() != kMembers) continue;  // not an event
      const json::array& m = v.get_array();
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const int member = keys[i]->member;
        if (member == kDayKey) key[i] = utc_day(ts);
        else if (m[member].is_string()) key[i] = std::string(m[member].get_string());
        else if (member == kModality) key[i] = "chat";  // events written before it existed
        else key[i].reset();
      }
      Sums& sums = groups[key];
      sums[0] += 1;
      sums[1] += !(m[kOutcome].is_string() && m[kOutcome].get_string() == "ok");
      for (std::size_t j = 2; j < kSums; ++j) sums[j] += as_int(m[kPrompt + (j - 2)]);
    }
    if (rc != SQLITE_DONE) return db_error(db_path, db.db, rc);
  }

  std::string out = R"({"data":[)";
  bool first = true;
  for (const auto& [values, sums] : groups) {
    out += first ? "{" : ",{";
    first = false;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, keys[i]->name);
      out += ':';
      if (values[i]) append_json_string(out, *values[i]);
      else out += "null";
    }
    for (std::size_t j = 0; j < kSums; ++j) {
      out += ",\"";
      out += kUsageColumns[j];
      out += "\":";
      append_json_int(out, sums[j]);
    }
    out += R"(,"cost_usd":)";
    append_usd(out, sums[kSums - 1]);
    out += '}';
  }
  out += R"(],"from_ms":)";
  append_json_int(out, q.from_ms);
  out += R"(,"to_ms":)";
  append_json_int(out, q.to_ms);
  out += '}';
  return out;
}

}  // namespace torii::admin
