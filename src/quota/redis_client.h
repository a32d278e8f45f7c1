#pragma once
// A minimal Redis client for the quota store: one TCP connection driven by Asio coroutines,
// commands written as RESP arrays, replies parsed by hiredis' redisReader (FACTS.md: hiredis
// 0.14.1, no TLS, RESP2). Pipelined: one write may carry several commands, whose replies are
// read in order. This header pulls in neither Beast nor hiredis.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/task.h"

namespace torii::quota {

// One decoded RESP2 reply.
struct RedisReply {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  int64_t integer = 0;               // Type::integer
  std::string str;                   // string, status, error (the server's message)
  std::vector<RedisReply> elements;  // array

  bool is_error() const { return type == Type::error; }
};

// A batch of commands, RESP-encoded as they are built: `begin(n)` then exactly n `arg()`s per
// command. Integers are sent as decimal strings (scripts read them with tonumber()).
class RedisRequest {
 public:
  RedisRequest& begin(std::size_t nargs);
  RedisRequest& arg(std::string_view a);
  RedisRequest& arg(std::string_view prefix, std::string_view a);  // prefix + a, one argument
  RedisRequest& arg(int64_t v);
  RedisRequest& append(const RedisRequest& other);  // other's commands after these
  std::size_t commands() const { return commands_; }
  const std::string& wire() const { return wire_; }
  void clear() { wire_.clear(), commands_ = 0; }

 private:
  std::string wire_;
  std::size_t commands_ = 0;
};

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // AUTH when not empty; never appears in an error message
  std::chrono::milliseconds connect_timeout{200};
};

// Errors of this layer are ApiError 503 with code `quota_store_unavailable`.
ApiError redis_unavailable(std::string message);

// One connection. Not thread-safe: one coroutine uses it at a time (the store's pool hands it
// out), on the executor it was connected on. After a failed round trip it is `broken()` and
// must be dropped: a late reply could otherwise be read as the answer to the next request.
class RedisConnection {
 public:
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Resolves, connects, then sends AUTH / SELECT (when configured) followed by `init` (may be
  // empty) in one write; connecting and that first round trip within ep.connect_timeout (name
  // resolution, for a host that is not an IP address, is not bounded). Fails on any error reply to AUTH or
  // SELECT; the replies to `init` are not checked (e.g. SCRIPT LOAD, best effort).
  static Task<Result<std::unique_ptr<RedisConnection>>> connect(const RedisEndpoint& ep,
                                                                const RedisRequest& init);

  // Writes the request and reads one reply per command, all within `timeout`. Error replies
  // (`-ERR ...`) are values, not failures; a failure means the connection is unusable.
  Task<Result<std::vector<RedisReply>>> round_trip(const RedisRequest& req,
                                                   std::chrono::milliseconds timeout);

  bool broken() const { return broken_; }
  // True when the peer has closed the idle connection (or sent something unasked): a cheap
  // non-blocking peek, done before reusing a pooled connection.
  bool stale() const;

  uint64_t generation = 0;  // the pool's bookkeeping (connections of an old generation are dropped)

 private:
  struct Impl;
  explicit RedisConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  bool broken_ = false;
};

}  // namespace torii::quota
