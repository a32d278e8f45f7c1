#pragma once
#include <atomic>
// The upstream HTTP/1.1 client: keep-alive connections pooled per worker thread (no lock on the
// hot path), plain TCP or TLS (OpenSSL, SNI, peer verification against the system store plus
// an optional CA file), with connect, first-byte and idle timeouts.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/task.h"
#include "server/http.h"
#include "upstream/endpoint.h"

namespace torii {

// An HTTP request for the upstream, relative to an Endpoint.
struct UpstreamRequest {
  std::string method = "POST";
  std::string path;  // absolute, including the endpoint's base path
  // Header lines ("Name: value\r\n"...) prepared once by the provider, which outlives the
  // request; no per-request copies. Host and Content-Length are added by the client.
  std::string_view header_block;
  Headers headers;   // per-request extras
  std::string body;
  // No connect, write or read of this call goes past this point (the route's per-try timeout
  // and deadline); it only shortens the endpoint's own timeouts.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// A response whose head has been read. The body is read incrementally. Destroying it before
// the body is complete closes the connection, which cancels the upstream call; a completely
// read keep-alive response returns its connection to the pool.
class UpstreamResponse {
 public:
  virtual ~UpstreamResponse() = default;
  virtual int status() const = 0;
  virtual std::string_view header(std::string_view name) const = 0;
  // The next piece of the body, framing removed. An empty view means the body is complete.
  // The view is valid until the next call. Errors: 502 (reset, truncated), 504 (idle timeout).
  virtual Task<Result<std::string_view>> read_some() = 0;
  // The whole body, at most `limit` bytes (502 past it).
  virtual Task<Result<std::string>> read_all(std::size_t limit) = 0;
  // Moves the call's deadline (time_point::max(): none; the idle timeout still applies).
  virtual void set_deadline(std::chrono::steady_clock::time_point deadline) = 0;
};

class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  // The calling worker thread's client, made on first use. Never shared between threads.
  static UpstreamClient& local();
  // A client of its own, for code that runs its own io_context (http_fetch): its pooled
  // connections are bound to the executor of the coroutines that use it, so it must be destroyed
  // before that io_context and never shared across io_contexts.
  static std::unique_ptr<UpstreamClient> make();
  // Sends the request and reads the response head. A pooled connection found closed before
  // any response byte is retried once on a new connection. Errors carry retryable = true
  // (another candidate may succeed): 502 for resolve/connect/TLS/reset, 504 for timeouts.
  virtual Task<Result<std::unique_ptr<UpstreamResponse>>> send(const Endpoint& endpoint,
                                                               const UpstreamRequest& request) = 0;
  // Idle pooled connections on this thread (for tests and metrics).
  virtual std::size_t idle_connections() const = 0;
};

// Process-wide counters of the worker threads' upstream connection pools, for /metrics.
struct UpstreamPoolStats {
  std::atomic<uint64_t> opened{0};  // connections opened
  std::atomic<uint64_t> closed{0};  // connections closed
  std::atomic<uint64_t> reused{0};  // requests sent on a pooled connection
  std::atomic<int64_t> idle{0};     // connections waiting in a pool now
};
UpstreamPoolStats& upstream_pool_stats();

// The answer of a control-plane call (http_fetch): status and whole body.
struct HttpFetchResult {
  int status = 0;
  std::string body;
};

// A synchronous HTTP(S) call for control-plane work off the request path (vault reads, JWKS
// fetches): runs `request` on a private io_context with a client of its own (never the worker
// threads' pooled clients), reads the whole body (at most `limit` bytes) and returns. Any
// status is a success; errors are transport failures (502) and timeouts (504): the endpoint's
// timeouts and request.deadline apply. Blocks the calling thread: never call it on a worker.
Result<HttpFetchResult> http_fetch(const Endpoint& endpoint, UpstreamRequest request,
                                   std::size_t limit);

}  // namespace torii
