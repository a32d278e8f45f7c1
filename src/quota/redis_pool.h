#pragma once
// Pooled connections to one Redis server, shared by the Redis stores (quota/redis_store.cpp,
// cache/redis_store.cpp).
//
// - Per io_context: each torii worker runs its own io_context on one thread; a call opens (lazily)
//   up to `size` connections on its coroutine's io_context, which close with that io_context.
//   So a call from any io_context (the admin API's own thread) works.
// - A busy pool: a call waits for a connection to come back, at most `timeout`.
// - Failures: a failed connect or round trip drops the connection, marks every connection opened
//   before as suspect (dropped when next met), and for the next second every call fails at once
//   (no connect storm, no waiting per request); then the pool tries again.
// - Errors are those of redis_client.h (ApiError 503), without the password.
// - The io_context a call runs on must be run by one thread at a time (torii's workers are): its
//   connections are not locked.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/task.h"
#include "quota/redis_client.h"

namespace torii::quota {

struct RedisPoolSettings {
  RedisEndpoint ep;
  int size = 2;                           // connections per io_context (at least 1)
  std::chrono::milliseconds timeout{50};  // per round trip; the longest wait for a busy pool
  RedisRequest init;  // sent after AUTH / SELECT on every new connection (e.g. SCRIPT LOAD)
};

class RedisPool : public std::enable_shared_from_this<RedisPool> {
 public:
  struct Worker;  // the connections of one io_context

  // A connection checked out of its io_context's pool; given back on destruction, or dropped
  // when broken (or opened before the last failure).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = default;
    ~Lease();
    RedisConnection& operator*() const { return *conn_; }
    RedisConnection* operator->() const { return conn_.get(); }

   private:
    friend class RedisPool;
    std::shared_ptr<const RedisPool> owner_;
    std::shared_ptr<Worker> worker_;
    std::unique_ptr<RedisConnection> conn_;
  };

  static std::shared_ptr<RedisPool> make(RedisPoolSettings settings);

  // A connection for the calling coroutine's io_context: an idle one (checked with a cheap
  // peek), a new one (connect + AUTH/SELECT + init), or one given back within `timeout`.
  Task<Result<Lease>> acquire();
  // Writes `req` and reads its replies on a pooled connection, within `timeout`. Error replies
  // are values; a failed round trip calls failed().
  Task<Result<std::vector<RedisReply>>> round_trip(const RedisRequest& req);

  // A connection failed: connections opened before are dropped when met, and for a second
  // every call fails at once.
  void failed();
  // The error to answer while paused after a failure; nullopt when calls may go ahead.
  std::optional<ApiError> paused() const;

  const RedisPoolSettings& settings() const { return s_; }
  std::string where() const { return s_.ep.host + ":" + std::to_string(s_.ep.port); }

 private:
  explicit RedisPool(RedisPoolSettings settings) : s_(std::move(settings)) {}
  RedisPoolSettings s_;
  std::atomic<int64_t> paused_until_ns_{0};
  std::atomic<uint64_t> generation_{0};
};

}  // namespace torii::quota
