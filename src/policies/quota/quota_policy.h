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
#include <cstdint>
#include <functional>
#include <memory>

#include "config/config.h"
#include "core/result.h"
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

// Errors: a webhook URL that cannot be used.
Result<std::unique_ptr<Policy>> make_quota_policy(const Config& cfg,
                                                  std::shared_ptr<quota::QuotaStore> store,
                                                  WallClockUs clock = {});

}  // namespace torii
