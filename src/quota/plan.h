#pragma once
// The arithmetic of quotas, pure and clock-free (every function takes `now`): calendar periods,
// GCRA increments and what the x-ratelimit-* headers say. Unit-tested with injected times.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"

namespace torii::quota {

// A budget period around `now_ms` (Unix ms, UTC): its id, part of the counter's key
// ("2026-11-22T11", "2026-11-22", "2026-W47", "2026-11", "total"), and when it ends (Unix ms;
// 0 for total).
struct Period {
  std::string id;
  int64_t end_ms = 0;
  int64_t start_ms = 0;
};
Period period_at(BudgetPeriod p, int64_t now_ms);

// GCRA: the TAT increment for `cost` units of a limit of `limit` per `window_us`, rounded up
// (so a window never admits more than `limit`).
int64_t increment_us(int64_t cost, int64_t limit, int64_t window_us);
// Units still admissible now, given a cell's TAT.
int64_t remaining(int64_t tat_us, int64_t now_us, int64_t limit, int64_t window_us);
// How long until `increment` fits, given the cell's TAT (0 when it fits now).
int64_t wait_us(int64_t tat_us, int64_t now_us, int64_t increment, int64_t window_us);

// A duration as OpenAI writes x-ratelimit-reset-*: "250ms", "12s", "6m0s", "1h2m3s".
std::string reset_text(int64_t us);

// Appends a scope value escaped for a store key ('%', ',', ':', '=' percent-encoded).
void append_escaped(std::string& out, std::string_view value);

std::string_view scope_name(QuotaScope s);

}  // namespace torii::quota
