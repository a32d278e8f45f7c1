#pragma once
// Read side of the SQLite audit sink (docs/AUDIT.md): the admin API's event search
// (GET /api/v1/audit/events) and usage aggregates (GET /api/v1/usage).
//
// Both functions are blocking and thread-safe: each call opens its own read-only connection
// (SQLITE_OPEN_READONLY, busy timeout 2 s) on `db_path`, so they may run on any thread while the
// sink writes the same file (WAL: a reader never blocks the writer and sees a committed state).
// Every user value is a bound parameter; the SQL text is assembled from constant fragments only.
//
// Errors common to both:
// - the file does not exist, or holds no audit table yet: not an error, an empty result;
// - the file is not a database, is corrupt or cannot be read: ApiError 500 (internal_error)
//   whose message names the file and SQLite's reason.
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace torii::admin {

// Filters of an audit search. Every filter is optional and they combine with AND.
struct AuditSearch {
  // Exact matches on the event's members of those names ("" = any). `key` is the credential's
  // name, `outcome` one of docs/AUDIT.md's outcomes.
  std::string consumer, model, provider, key, route, outcome;
  int status = 0;                  // the HTTP status sent to the client; 0 = any
  int64_t from_ms = 0, to_ms = 0;  // [from, to) on the event's start time (unix ms); 0 = open
  int limit = 50;                  // events per page, clamped to 1..1000
  std::string cursor;              // a previous page's next_cursor; "" = start at the newest
};

// One page of events, newest first (by start time, ties by insertion order):
//   {"data":[<event objects exactly as stored>], "next_cursor":"..." | null}
// next_cursor is null on the last page. The cursor holds the last event's position (start time,
// row id), and the next page holds the events strictly older than it, so pages neither repeat
// nor skip an event while new events are being written (a new event lands on the first page).
// A cursor that does not decode is ApiError invalid_request (400, param "cursor").
Result<std::string> search_audit(const std::string& db_path, const AuditSearch& q);

// Usage aggregates over the audited events.
struct UsageQuery {
  // Group keys, in output order, among: consumer, key, model, provider, route, day (the UTC date
  // of the event's start, "YYYY-MM-DD"). Empty = consumer, model, day. A repeated name counts
  // once.
  std::vector<std::string> group_by;
  std::string consumer, model, provider;  // exact-match filters, "" = any
  int64_t from_ms = 0, to_ms = 0;         // [from, to) on the start time (unix ms); 0 = open
};

// {"data":[{<each group key>: string|null, "requests":N, "errors":N, "prompt_tokens":N,
//   "completion_tokens":N, "cached_tokens":N, "reasoning_tokens":N, "cost_micros":N,
//   "cost_usd":0.0123}, ...], "from_ms":N, "to_ms":N}
// One row per group, sorted by the group keys (null first). `errors` counts events whose outcome
// is not "ok" (4xx, 5xx, denials, broken streams, disconnects). Costs are the sums of the
// events' cost_micros (unpriced events count 0); cost_usd = cost_micros / 1e6. from_ms and
// to_ms echo the query (0 = open). An unknown group_by name is ApiError invalid_request
// (400, param "group_by").
Result<std::string> usage_aggregates(const std::string& db_path, const UsageQuery& q);

}  // namespace torii::admin
