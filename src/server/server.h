#pragma once
// The HTTP/1.1 server: one io_context per worker thread, each with its own SO_REUSEPORT
// acceptor, one coroutine per connection. Shares nothing between workers on the hot path.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http.h"

namespace torii {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;             // 0 picks a free port; see Server::port()
  int workers = 0;                  // 0: one per core
  std::size_t max_body_bytes = 10u << 20;
  std::size_t max_upload_bytes = 25u << 20;  // multipart uploads (audio files, images)
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_connections = 20000;  // per process; more are closed at accept
  std::chrono::milliseconds idle_timeout{60'000};   // waiting for (all of) the next request head
  std::chrono::milliseconds body_timeout{30'000};   // reading the body
  std::chrono::milliseconds write_timeout{30'000};  // one write to a client that does not read
  std::chrono::milliseconds shutdown_grace{10'000}; // drain deadline after SIGTERM
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<Handler> handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every worker's listener. Throws std::runtime_error naming the address on failure.
  void bind();
  // The bound port (after bind()).
  uint16_t port() const;
  // Starts the worker threads. `on_worker_start(i)` runs first on each worker's thread; it is
  // where per-thread state (the upstream pool) is made.
  void start(std::function<void(int)> on_worker_start = {});
  // Two-stage shutdown: stop accepting, close idle connections and let requests and streams in
  // flight finish; after shutdown_grace, cancel what is left. Safe from any thread; returns
  // at once. wait() joins.
  void shutdown();
  void wait();
  // Blocks in the calling thread handling signals: SIGTERM/SIGINT shut down gracefully and
  // return; SIGHUP calls on_reload. on_ready runs once the signal handlers are installed.
  void run_until_signal(std::function<void()> on_reload, std::function<void()> on_ready = {});
  // Asks run_until_signal's thread to call on_reload, as SIGHUP does (within ~100 ms; several
  // requests before it runs make one call). Safe from any thread.
  void request_reload();

  std::size_t open_connections() const;
  int workers() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace torii
