// UpstreamClient against a scripted in-test HTTP server on 127.0.0.1:0 (plain POSIX sockets on
// a thread): framing, keep-alive pooling, stale-connection retry, resets and timeouts.
#include "upstream/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>

namespace torii {
namespace {

using namespace std::chrono_literals;

// One io_context for every test: pooled connections are bound to the context that made them,
// and UpstreamClient::local() (per thread) outlives any single test.
net::io_context& ioc() {
  static net::io_context ctx;
  return ctx;
}

// Runs `body` (a callable returning Task<void>) to completion on this thread.
template <class F>
void run(F&& body) {
  std::exception_ptr error;
  bool finished = false;
  net::co_spawn(ioc(), std::forward<F>(body), [&](std::exception_ptr e) {
    error = e;
    finished = true;
  });
  ioc().restart();
  ioc().run();
  if (error) std::rethrow_exception(error);
  ASSERT_TRUE(finished);
}

// A blocking HTTP server that runs `script(fd, index)` for each accepted connection, one
// connection at a time, on its own thread. The script owns the request/response exchange.
class ScriptServer {
 public:
  using Script = std::function<void(ScriptServer&, int fd, int index)>;

  explicit ScriptServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }

  ~ScriptServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  bool stopping() const { return stop_.load(); }

  // Reads one request (head + Content-Length body). False on EOF, error or shutdown.
  bool read_request(int fd, std::string* body = nullptr) {
    std::string buf;
    for (;;) {
      auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t len = 0;
        auto cl = buf.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) len = std::stoul(buf.substr(cl + 16));
        if (buf.size() >= end + 4 + len) {
          if (body) *body = buf.substr(end + 4, len);
          ++requests_;
          return true;
        }
      }
      if (!wait_readable(fd)) return false;
      char tmp[4096];
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }

  static void send_all(int fd, std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Closes with RST instead of FIN.
  static void reset(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }

  // Blocks until the server shuts down (for "never answers").
  void hold() {
    while (!stop_) std::this_thread::sleep_for(5ms);
  }

 private:
  bool wait_readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 20);
      if (r > 0) return true;
      if (r < 0) return false;
    }
    return false;
  }

  void loop() {
    while (!stop_) {
      if (!wait_readable(listen_fd_)) break;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      int index = connections_++;
      script_(*this, fd, index);
      ::close(fd);  // harmless EBADF when the script already reset it
    }
  }

  Script script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

Endpoint endpoint_for(uint16_t port, std::chrono::milliseconds first_byte = 5000ms) {
  UpstreamTimeouts t;
  t.connect = 2000ms;
  t.first_byte = first_byte;
  t.idle = 2000ms;
  auto ep = make_endpoint("http://127.0.0.1:" + std::to_string(port) + "/v1", "", t);
  if (!ep.ok()) throw std::runtime_error(ep.error().message);
  return *ep;
}

UpstreamRequest post(std::string body = R"({"x":1})") {
  UpstreamRequest r;
  r.path = "/v1/chat/completions";
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

// Keeps serving kHello on one connection until the client closes it.
void serve_hello_keepalive(ScriptServer& s, int fd, int) {
  while (s.read_request(fd)) ScriptServer::send_all(fd, kHello);
}

TEST(UpstreamClient, ContentLengthBody) {
  std::string seen_body;
  ScriptServer server([&](ScriptServer& s, int fd, int) {
    if (s.read_request(fd, &seen_body)) ScriptServer::send_all(fd, kHello);
  });
  Endpoint ep = endpoint_for(server.port());
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post("{\"q\":\"body\"}"));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) co_return;
    auto& resp = **r;
    EXPECT_EQ(resp.status(), 200);
    EXPECT_EQ(resp.header("content-type"), "text/plain");
    auto all = co_await resp.read_all(1 << 20);
    EXPECT_TRUE(all.ok());
    if (all.ok()) {
      EXPECT_EQ(*all, "hello");
    }
  });
  EXPECT_EQ(seen_body, "{\"q\":\"body\"}");
}

TEST(UpstreamClient, ChunkedBodyIsDecodedAndNotBuffered) {
  std::promise<void> go;
  auto go_f = go.get_future();
  ScriptServer server([&](ScriptServer& s, int fd, int) {
    if (!s.read_request(fd)) return;
    ScriptServer::send_all(fd,
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n");
    go_f.wait_for(3s);  // the rest only once the client has seen the first chunk
    ScriptServer::send_all(fd, "6;ext=1\r\n world\r\n0\r\n\r\n");
    while (s.read_request(fd)) {
    }
  });
  Endpoint ep = endpoint_for(server.port());
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_TRUE(r.ok());
    if (!r.ok()) co_return;
    auto& resp = **r;
    auto first = co_await resp.read_some();
    EXPECT_TRUE(first.ok());
    if (!first.ok()) co_return;
    EXPECT_EQ(*first, "hello");  // delivered before the server sent the rest
    go.set_value();
    std::string rest;
    for (;;) {
      auto piece = co_await resp.read_some();
      EXPECT_TRUE(piece.ok());
      if (!piece.ok() || piece->empty()) break;
      rest.append(*piece);
    }
    EXPECT_EQ(rest, " world");
  });
}

TEST(UpstreamClient, KeepAliveConnectionIsReused) {
  ScriptServer server(serve_hello_keepalive);
  Endpoint ep = endpoint_for(server.port());
  auto& client = UpstreamClient::local();
  std::size_t idle_before = client.idle_connections();
  std::size_t idle_after_first = 0;
  run([&]() -> Task<void> {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await client.send(ep, post());
      EXPECT_TRUE(r.ok());
      if (!r.ok()) co_return;
      auto all = co_await (*r)->read_all(1024);
      EXPECT_TRUE(all.ok() && *all == "hello");
      r = ApiError::internal("released");  // drop the response
      if (i == 0) idle_after_first = client.idle_connections();
    }
  });
  EXPECT_EQ(idle_after_first, idle_before + 1);
  EXPECT_EQ(client.idle_connections(), idle_before + 1);
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(server.connections(), 1);
}

TEST(UpstreamClient, ResponseDroppedMidBodyIsNotPooled) {
  ScriptServer server([](ScriptServer& s, int fd, int) {
    while (s.read_request(fd))
      ScriptServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  });
  Endpoint ep = endpoint_for(server.port());
  auto& client = UpstreamClient::local();
  std::size_t idle_before = client.idle_connections();
  run([&]() -> Task<void> {
    auto r = co_await client.send(ep, post());
    EXPECT_TRUE(r.ok());
  });
  EXPECT_EQ(client.idle_connections(), idle_before);
}

// Regression: an EOF before any response byte used to reach Beast's put_eof() and come back as
// a "complete" response with status 0. It must be a retryable 502, retried once on a new
// connection when the closed one came from the pool.

TEST(UpstreamClient, ServerClosedPooledConnectionIsRetriedOnANewOne) {
  // Connection 0 answers one request, then reads the second and closes without answering
  // (the keep-alive race); connection 1 answers normally.
  ScriptServer server([](ScriptServer& s, int fd, int index) {
    if (index == 0) {
      if (s.read_request(fd)) ScriptServer::send_all(fd, kHello);
      s.read_request(fd);
      return;  // closed by the loop
    }
    serve_hello_keepalive(s, fd, index);
  });
  Endpoint ep = endpoint_for(server.port());
  auto& client = UpstreamClient::local();
  run([&]() -> Task<void> {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await client.send(ep, post());
      EXPECT_TRUE(r.ok()) << "request " << i << ": " << (r.ok() ? "" : r.error().message);
      if (!r.ok()) co_return;
      EXPECT_EQ((*r)->status(), 200);
      auto all = co_await (*r)->read_all(1024);
      EXPECT_TRUE(all.ok() && *all == "hello")
          << (all.ok() ? "body '" + *all + "'" : all.error().message);
    }
  });
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests(), 3);
}

TEST(UpstreamClient, ServerClosedIdleConnectionIsNotUsed) {
  // Connection 0 answers "Connection: keep-alive" but closes right after; the client must
  // notice before sending (or retry) rather than fail the next request.
  ScriptServer server([](ScriptServer& s, int fd, int index) {
    if (index == 0) {
      if (s.read_request(fd)) ScriptServer::send_all(fd, kHello);
      return;
    }
    serve_hello_keepalive(s, fd, index);
  });
  Endpoint ep = endpoint_for(server.port());
  auto& client = UpstreamClient::local();
  run([&]() -> Task<void> {
    auto r = co_await client.send(ep, post());
    EXPECT_TRUE(r.ok());
    if (!r.ok()) co_return;
    (void)co_await (*r)->read_all(1024);
  });
  for (int i = 0; i < 100 && server.connections() < 1; ++i) std::this_thread::sleep_for(2ms);
  std::this_thread::sleep_for(30ms);  // let the FIN arrive
  run([&]() -> Task<void> {
    auto r = co_await client.send(ep, post());
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) co_return;
    auto all = co_await (*r)->read_all(1024);
    EXPECT_TRUE(all.ok() && *all == "hello");
  });
  EXPECT_EQ(server.connections(), 2);
}

TEST(UpstreamClient, ClosedWithoutAnswerIs502) {
  ScriptServer server([](ScriptServer& s, int fd, int) { s.read_request(fd); });
  Endpoint ep = endpoint_for(server.port());
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_FALSE(r.ok()) << "status " << (r.ok() ? (*r)->status() : 0);
    if (r.ok()) co_return;
    EXPECT_EQ(r.error().status, 502) << r.error().message;
    EXPECT_TRUE(r.error().retryable);
  });
}

TEST(UpstreamClient, ResetMidBodyIs502) {
  std::promise<void> go;
  auto go_f = go.get_future();
  ScriptServer server([&](ScriptServer& s, int fd, int) {
    if (!s.read_request(fd)) return;
    ScriptServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    go_f.wait_for(3s);
    ScriptServer::reset(fd);
  });
  Endpoint ep = endpoint_for(server.port());
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_TRUE(r.ok());
    if (!r.ok()) co_return;
    go.set_value();
    std::string got;
    std::optional<ApiError> failure;
    for (int i = 0; i < 100; ++i) {
      auto piece = co_await (*r)->read_some();
      if (!piece.ok()) {
        failure = piece.error();
        break;
      }
      if (piece->empty()) break;
      got.append(*piece);
    }
    EXPECT_TRUE(failure.has_value()) << "a truncated body must not end cleanly";
    if (failure) {
      EXPECT_EQ(failure->status, 502) << failure->message;
    }
    EXPECT_LT(got.size(), 100u);
  });
}

TEST(UpstreamClient, CloseMidBodyIs502) {
  ScriptServer server([](ScriptServer& s, int fd, int) {
    if (s.read_request(fd))
      ScriptServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
  });
  Endpoint ep = endpoint_for(server.port());
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_TRUE(r.ok());
    if (!r.ok()) co_return;
    auto all = co_await (*r)->read_all(1 << 20);
    EXPECT_FALSE(all.ok());
    if (!all.ok()) {
      EXPECT_EQ(all.error().status, 502);
    }
  });
}

TEST(UpstreamClient, NoAnswerIs504AfterFirstByteTimeout) {
  ScriptServer server([](ScriptServer& s, int fd, int) {
    s.read_request(fd);
    s.hold();
  });
  Endpoint ep = endpoint_for(server.port(), 200ms);
  auto start = std::chrono::steady_clock::now();
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_FALSE(r.ok());
    if (r.ok()) co_return;
    EXPECT_EQ(r.error().status, 504) << r.error().message;
    EXPECT_TRUE(r.error().retryable);
  });
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 3s);
}

TEST(UpstreamClient, ConnectionRefusedIs502Retryable) {
  // A port that was free a moment ago and has no listener.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin_port);
  ::close(fd);

  Endpoint ep = endpoint_for(port);
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_FALSE(r.ok());
    if (r.ok()) co_return;
    EXPECT_EQ(r.error().status, 502) << r.error().message;
    EXPECT_TRUE(r.error().retryable);
    EXPECT_EQ(r.error().code, "upstream_unreachable");
  });
}

TEST(UpstreamClient, MalformedResponseIs502) {
  ScriptServer server([](ScriptServer& s, int fd, int) {
    if (s.read_request(fd)) ScriptServer::send_all(fd, "SMTP ready\r\n\r\n");
  });
  Endpoint ep = endpoint_for(server.port());
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.error().status, 502);
    }
  });
}

TEST(UpstreamClient, ReadAllLimitIs502) {
  ScriptServer server([](ScriptServer& s, int fd, int) {
    if (s.read_request(fd)) ScriptServer::send_all(fd, kHello);
  });
  Endpoint ep = endpoint_for(server.port());
  run([&]() -> Task<void> {
    auto r = co_await UpstreamClient::local().send(ep, post());
    EXPECT_TRUE(r.ok());
    if (!r.ok()) co_return;
    auto all = co_await (*r)->read_all(3);
    EXPECT_FALSE(all.ok());
    if (!all.ok()) {
      EXPECT_EQ(all.error().status, 502);
    }
  });
}

}  // namespace
}  // namespace torii
