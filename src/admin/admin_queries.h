#pragma once
// The admin API's read side over live state (docs/ADMIN_API.md#queries): audit search and usage
// aggregates (over the SQLite audit sink), provider health and breaker states (the live
// snapshot), quota consumption and resets (the live quota store). Each returns the JSON body.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/snapshot.h"
#include "core/result.h"

namespace torii::admin {

struct QueryContext {
  std::shared_ptr<const Snapshot> snapshot;
  const std::map<std::string, std::string>* query = nullptr;  // the decoded query string
  const std::vector<std::string>* params = nullptr;           // path parameters
  std::string actor;
};

// GET /api/v1/audit/events?consumer=&model=&provider=&key=&route=&outcome=&status=&from=&to=
//   &limit=&cursor=   (from/to: RFC 3339 or Unix milliseconds)
Result<std::string> query_audit_events(const QueryContext& c);
// GET /api/v1/usage?group_by=consumer,model,day&consumer=&model=&provider=&from=&to=
Result<std::string> query_usage(const QueryContext& c);
// GET /api/v1/health/providers
Result<std::string> query_provider_health(const QueryContext& c);
// GET /api/v1/rate-limits/{id}/usage, /api/v1/budgets/{id}/usage
Result<std::string> query_limit_usage(const QueryContext& c);
Result<std::string> query_budget_usage(const QueryContext& c);
// POST /api/v1/rate-limits/{id}/reset, /api/v1/budgets/{id}/reset
Result<std::string> reset_limit(const QueryContext& c);
Result<std::string> reset_budget(const QueryContext& c);

// GET /api/v1/cache: the answer cache's configuration and sizes (docs/CACHING.md).
Result<std::string> query_cache(const QueryContext& c);
// DELETE /api/v1/cache/entries?key=|consumer=|group=|shared=true: purges one entry, one
// tenant's entries, or (no parameter) everything; the semantic index follows.
Result<std::string> purge_cache(const QueryContext& c);

// "2026-11-22T10:00:00Z" (or with an offset) or Unix milliseconds -> Unix milliseconds.
Result<int64_t> parse_time_param(const std::string& text, const std::string& name);

}  // namespace torii::admin
