#pragma once
// The quota policy (docs/QUOTAS.md): rate limits (GCRA) and budgets (reserve, then settle) over
// a QuotaStore, and the x-ratelimit-* headers.
//   on_request   reserves for every limit and budget that applies (one store call), or refuses
//                with 429 (503 when the store is down and on_store_error is closed);
//   on_attempt   the same for provider-scoped entries, before each upstream call;
//   on_chunk     keeps a streamed answer's text, for a stream that ends without usage;
//   on_response, on_stream_end  settle an answer before it is written: actual usage and cost
//                minus what was reserved, then alert soft budgets' webhooks;
//   on_complete  settles the rest (failed calls give everything back but the request count).
// Prices come from the targets (Target::price, the snapshot's PriceTable).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"
#include "core/task.h"
#include "pipeline/policy.h"

namespace torii {

namespace quota {
class QuotaStore;
}  // namespace quota

// Wall-clock time in µs since the Unix epoch (injected in tests).
using WallClockUs = std::function<int64_t()>;
int64_t wall_clock_us();

// The process-wide store for a config: counters survive reloads while the store settings stay
// the same (memory: one per process; Redis: one per host, port, db and prefix).
Result<std::shared_ptr<quota::QuotaStore>> shared_quota_store(const QuotasConfig& q);

// ---- The admin API's view of the counters (docs/QUOTAS.md, "Admin API") ----
// `store` must be the live store: `shared_quota_store(snapshot->config.quotas)` returns the
// instance the gateway's quota policy uses, as long as a snapshot with that policy is alive
// (hold the snapshot while calling). `rule_id` is a quotas.limits[].id or quotas.budgets[].id.
// `scope` selects counters: "" all of them; "alice" those with any scope value `alice`;
// "key=alice" those whose `key` scope is `alice`; "*" the unscoped (global) counter.
// String views must outlive the call (coroutines). Errors: ApiError::not_found (404) for an
// unknown id; the store's errors (Redis down: 503 quota_store_unavailable). Counters kept in
// the fail-open local store while Redis was down are not seen.

// The current consumption of one rule, as JSON:
//   rate limit: {"id","kind":"rate_limit","scope":["key"],"window_ms","limits":{"requests",
//     "tokens"},"counters":[{"scope":{"key":"demo"},"requests":{"used","limit","remaining",
//     "resets_at"},"tokens":{...}}],"truncated"}
//   budget:     {"id","kind":"budget","scope","period":"day","mode":"block"|"soft",
//     "current_period":"2026-11-22","resets_at","limits":{"usd":"5.000000","tokens"},
//     "counters":[{"scope":{...},"period","usd":{"spent","limit","remaining"},"tokens":{...}}],
//     "truncated"}
// Rate: used = ceil((TAT - now) / increment of one unit), remaining = max(0, limit - used),
// resets_at = the TAT (RFC 3339, UTC); scopes with nothing in the window are left out. Budget:
// the current period's counters only; spent includes reservations of calls in flight; USD as
// 6-decimal strings (exact). At most `max_counters` counters ("truncated": true when more).
Task<Result<std::string>> quota_usage_json(const Config& cfg, quota::QuotaStore& store,
                                           std::string_view rule_id, int64_t now_us,
                                           std::string_view scope = {},
                                           std::size_t max_counters = 1000);

// Deletes the rule's counters (every scope and period, or only those `scope` selects); the
// next request starts from zero. Returns how many store entries were deleted (a rate limit
// with requests and tokens has two per scope). `now_us` is unused (kept for symmetry).
Task<Result<int64_t>> quota_reset(const Config& cfg, quota::QuotaStore& store,
                                  std::string_view rule_id, int64_t now_us,
                                  std::string_view scope = {});

// Errors: a webhook URL that cannot be used.
Result<std::unique_ptr<Policy>> make_quota_policy(const Config& cfg,
                                                  std::shared_ptr<quota::QuotaStore> store,
                                                  WallClockUs clock = {});

}  // namespace torii
