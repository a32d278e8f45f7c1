#pragma once
// The Redis quota store (docs/QUOTAS.md): counters shared by every node of a cluster.
//
// - Connections: a RedisPool (quota/redis_pool.h): per worker io_context, up to cfg.pool of them,
//   opened lazily on the calling coroutine's executor. AUTH and SELECT on connect, and both
//   scripts loaded (SCRIPT LOAD) in the same write.
// - Atomicity: every operation is one Lua script call (EVALSHA, EVAL on NOSCRIPT); admit() and
//   settle() carry rate and budget ops together: one round trip each.
// - Keys get cfg.prefix. Rate cells hold the TAT in µs and expire at TAT + 1 s; budget counters
//   expire a day after their period's end.
// - Failures: every round trip is bounded by cfg.timeout (connecting by cfg.connect_timeout).
//   A failed or timed-out connection is dropped, and for the next second every call fails at
//   once (no connect storm, no waiting per request); then the store tries again. Errors are
//   Result errors, ApiError 503 code `quota_store_unavailable`, without the password. Nothing
//   throws, nothing blocks the thread.
// - The io_context a call runs on must be run by one thread at a time (torii's workers are):
//   its connections are not locked.
#include <memory>

#include "config/config.h"
#include "quota/store.h"

namespace torii::quota {

std::shared_ptr<QuotaStore> make_redis_store(const RedisConfig& cfg);

}  // namespace torii::quota
