// The HTTP/1.1 server. The one place (with the upstream client) that instantiates Beast's
// HTTP templates; everything else sees only server/http.h.
#include "server/server.h"

#include <malloc.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <list>
#include <stdexcept>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/request_id.h"

namespace torii {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

namespace {

struct SessionEntry {
  beast::tcp_stream* stream = nullptr;
  bool idle = true;
};

}  // namespace

struct Worker {
  int index = 0;
  // Declared before ioc: destroying ioc destroys the session coroutines, which unlink
  // themselves from this list.
  std::list<SessionEntry*> sessions;  // touched on this worker's thread only
  // One thread runs it and each socket is used by that thread only, so the per-descriptor
  // locks are dropped; posting from other threads (shutdown) still goes through the locked
  // scheduler queue.
  net::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
};

struct Server::Impl {
  ServerOptions opt;
  std::shared_ptr<Handler> handler;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t port = 0;
  std::atomic<std::size_t> open{0};
  std::atomic<bool> draining{false};
  std::atomic<bool> reload_requested{false};
  std::chrono::steady_clock::time_point deadline{};

  Task<void> accept_loop(Worker& w);
  Task<void> session(Worker& w, tcp::socket socket);
  void drain(Worker& w);
};

namespace {

// The response head, formatted directly: Beast's serializer cost ~16k instructions per
// response here (callgrind), most of it in buffer-sequence iteration; this costs a few hundred.
void format_head(std::string& out, unsigned version, int status, const Headers& headers,
                 bool keep_alive, const std::size_t* content_length) {
  out.reserve(160 + headers.size() * 40);
  out.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
  out.append(std::to_string(status)).push_back(' ');
  auto reason = http::obsolete_reason(static_cast<http::status>(status));
  out.append(reason.data(), reason.size()).append("\r\nServer: torii\r\n");
  for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
  if (content_length) out.append("Content-Length: ").append(std::to_string(*content_length)).append("\r\n");
  else if (version >= 11) out.append("Transfer-Encoding: chunked\r\n");
  if (!keep_alive) out.append("Connection: close\r\n");
  else if (version < 11) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
}

// Writes a complete response; returns false when the client is gone.
Task<bool> write_response(beast::tcp_stream& stream, const ServerOptions& opt, unsigned version,
                          int status, Headers& headers, std::string body, bool keep_alive) {
  std::string head;
  std::size_t length = body.size();
  format_head(head, version, status, headers, keep_alive, &length);
  std::array<net::const_buffer, 2> buffers{net::buffer(head), net::buffer(body)};
  stream.expires_after(opt.write_timeout);
  auto [ec, n] = co_await net::async_write(stream, buffers, nothrow);
  co_return !ec;
}

Task<void> simple_error(beast::tcp_stream& stream, const ServerOptions& opt, int status,
                        std::string message) {
  ApiError e{status, "invalid_request_error", {}, std::move(message)};
  Headers h{{"content-type", "application/json"}, {"x-request-id", request_id_for({})}};
  co_await write_response(stream, opt, 11, status, h, to_openai_json(e), false);
}

// Beast's parser writing straight into the connection's RequestHead and body, whose strings
// keep their capacity from one request to the next: a keep-alive connection in steady state
// allocates nothing for the head (Beast's own fields container allocated once per field).
class RequestParser final : public http::basic_parser<true> {
 public:
  RequestParser(RequestHead& head, std::string& body) : head_(head), body_(body) {
    body_.clear();
  }
  unsigned version() const { return version_; }
  // A field of this request, also before the head is complete (e.g. after a body_limit error).
  std::string_view field(std::string_view name) const {
    for (std::size_t i = 0; i < count_ && i < head_.headers.size(); ++i)
      if (beast::iequals(head_.headers[i].first, name)) return head_.headers[i].second;
    return {};
  }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                       int version, beast::error_code&) override {
    head_.method.assign(method.data(), method.size());
    head_.target.assign(target.data(), target.size());
    version_ = static_cast<unsigned>(version);
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(http::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    if (count_ < head_.headers.size()) {
      head_.headers[count_].first.assign(name.data(), name.size());
      head_.headers[count_].second.assign(value.data(), value.size());
    } else {
      head_.headers.emplace_back(std::string(name), std::string(value));
    }
    ++count_;
  }
  void on_header_impl(beast::error_code&) override { head_.headers.resize(count_); }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    if (length) body_.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view s, beast::error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, beast::error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  RequestHead& head_;
  std::string& body_;
  std::size_t count_ = 0;
  unsigned version_ = 11;
};

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(beast::tcp_stream& stream, beast::flat_buffer& buffer, RequestParser& parser,
               const RequestHead& head, std::string& body, const ServerOptions& opt,
               const std::atomic<bool>& draining, std::string& peer)
      : stream_(stream), buffer_(buffer), parser_(parser), head_(head), body_(body), opt_(opt),
        draining_(draining), peer_(peer) {
    keep_alive_ = parser_.keep_alive();
    version_ = parser_.version();
  }

  const RequestHead& head() const override { return head_; }

  std::string_view peer() const override {
    if (peer_.empty()) {  // once per connection (a getpeername)
      boost::system::error_code ec;
      auto ep = stream_.socket().remote_endpoint(ec);
      if (!ec) peer_ = ep.address().to_string();
    }
    return peer_;
  }

  Task<BodyError> read_body() override { co_return co_await read_body(opt_.max_body_bytes, {}); }

  Task<BodyError> read_body(std::size_t limit, std::function<bool(std::string_view)> on_data) override {
    if (body_read_) co_return body_error_;
    body_read_ = true;
    limit = std::min(limit, std::max(opt_.max_body_bytes, opt_.max_upload_bytes));
    if (!parser_.is_done()) {
      // The head was read under the larger of the two limits: a declared length is checked
      // here against this request's, before a byte of the body is read.
      if (auto length = parser_.content_length(); length && *length > limit) {
        fail(BodyError::too_large);
        co_return body_error_;
      }
      parser_.body_limit(limit);
      if (beast::iequals(head_.header("expect"), "100-continue")) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(opt_.write_timeout);
        auto [wec, wn] = co_await net::async_write(stream_, net::buffer(cont), nothrow);
        if (wec) { fail(BodyError::closed); co_return body_error_; }
      }
      stream_.expires_after(opt_.body_timeout);
      while (!parser_.is_done()) {
        auto [ec, n] = on_data ? co_await http::async_read_some(stream_, buffer_, parser_, nothrow)
                               : co_await http::async_read(stream_, buffer_, parser_, nothrow);
        if (ec) {
          if (ec == http::error::body_limit) fail(BodyError::too_large);
          else if (ec == beast::error::timeout) fail(BodyError::timeout);
          else if (ec == http::error::end_of_stream || ec == net::error::eof ||
                   ec == net::error::connection_reset) fail(BodyError::closed);
          else fail(BodyError::malformed);
          break;
        }
        if (on_data && !on_data(body_)) {
          fail(BodyError::rejected);  // the rest is not read: the connection closes after
          break;
        }
      }
    } else if (on_data && !on_data(body_)) {
      fail(BodyError::rejected);
    }
    co_return body_error_;
  }

  std::string& body() override { return body_; }

  Task<bool> respond(int status, Headers headers, std::string body) override {
    started_ = true;
    bool ok = co_await write_response(stream_, opt_, version_, status, headers, std::move(body),
                                      keep_alive());
    if (!ok) broken_ = true;
    finished_ = true;
    co_return ok;
  }

  Task<bool> start_stream(int status, Headers headers) override {
    started_ = true;
    if (version_ < 11) keep_alive_ = false;  // HTTP/1.0: the body ends when the connection does
    std::string head;
    format_head(head, version_, status, headers, keep_alive(), nullptr);
    stream_.expires_after(opt_.write_timeout);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(head), nothrow);
    if (ec) broken_ = true;
    co_return !ec;
  }

  Task<bool> write(std::string_view data) override {
    if (broken_) co_return false;
    if (data.empty()) co_return true;  // an empty chunk would end the body
    stream_.expires_after(opt_.write_timeout);
    beast::error_code ec;
    if (version_ >= 11) {
      char size[20];
      int len = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      std::array<net::const_buffer, 3> chunk{net::buffer(size, static_cast<std::size_t>(len)),
                                             net::buffer(data.data(), data.size()),
                                             net::buffer("\r\n", 2)};
      std::tie(ec, std::ignore) = co_await net::async_write(stream_, chunk, nothrow);
    } else {
      std::tie(ec, std::ignore) =
          co_await net::async_write(stream_, net::buffer(data.data(), data.size()), nothrow);
    }
    if (ec) broken_ = true;
    co_return !ec;
  }

  Task<bool> finish_stream(std::string_view trailer) override {
    finished_ = true;
    if (broken_) co_return false;
    if (version_ < 11) co_return true;
    stream_.expires_after(opt_.write_timeout);
    std::array<net::const_buffer, 3> last{net::buffer("0\r\n", 3),
                                          net::buffer(trailer.data(), trailer.size()),
                                          net::buffer("\r\n", 2)};
    auto [ec, n] = co_await net::async_write(stream_, last, nothrow);
    if (ec) broken_ = true;
    co_return !ec;
  }

  void abort() override {
    broken_ = true;
    beast::error_code ec;
    stream_.socket().set_option(net::socket_base::linger(true, 0), ec);
    stream_.socket().close(ec);
  }

  bool response_started() const override { return started_; }
  bool draining() const override { return draining_.load(std::memory_order_relaxed); }

  bool finished() const { return finished_; }
  bool broken() const { return broken_; }
  bool body_read() const { return body_read_; }
  bool keep_alive() const { return keep_alive_ && !draining() && body_error_ == BodyError::none; }
  unsigned version() const { return version_; }

 private:
  void fail(BodyError e) {
    body_error_ = e;
    keep_alive_ = false;
  }

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  RequestParser& parser_;
  const ServerOptions& opt_;
  const std::atomic<bool>& draining_;
  std::string& peer_;
  const RequestHead& head_;
  std::string& body_;
  BodyError body_error_ = BodyError::none;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool body_read_ = false;
  bool started_ = false;
  bool finished_ = false;
  bool broken_ = false;
};

// Closes like nginx's lingering close: stop sending, then discard what the client still sends
// for a moment, so that a response followed by close is not destroyed by a reset.
Task<void> lingering_close(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    char scratch[4096];
    stream.expires_after(std::chrono::milliseconds(500));
    for (int i = 0; i < 64; ++i) {
      auto [rec, n] = co_await stream.async_read_some(net::buffer(scratch), nothrow);
      if (rec) break;
    }
  }
  stream.socket().close(ec);
}

}  // namespace

Task<void> Server::Impl::session(Worker& w, tcp::socket socket) {
  struct Count {
    std::atomic<std::size_t>& n;
    ~Count() { n.fetch_sub(1, std::memory_order_relaxed); }
  } count{open};
  beast::tcp_stream stream(std::move(socket));
  SessionEntry entry{&stream, true};
  w.sessions.push_front(&entry);
  auto it = w.sessions.begin();
  struct Unlink {
    std::list<SessionEntry*>& l;
    std::list<SessionEntry*>::iterator it;
    ~Unlink() { l.erase(it); }
  } unlink{w.sessions, it};

  beast::flat_buffer buffer;
  RequestHead head;  // reused by every request on this connection, capacity and all
  std::string body;
  std::string peer;  // the client's address, filled on first use
  bool linger = false;
  for (;;) {
    if (draining.load(std::memory_order_relaxed)) break;
    RequestParser parser(head, body);
    parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
    // The larger limit here (uploads); each request's own is applied when its body is read.
    parser.body_limit(std::max(opt.max_body_bytes, opt.max_upload_bytes));
    entry.idle = true;
    stream.expires_after(opt.idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, nothrow);
    entry.idle = false;
    if (ec) {
      if (ec == http::error::header_limit) {
        co_await simple_error(stream, opt, 431, "request header fields too large");
        linger = true;
      } else if (ec == http::error::body_limit) {
        // Rejected on Content-Length alone, before any byte of the body is read.
        ApiError e = ApiError::too_large(
            "request body exceeds " +
            std::to_string(std::max(opt.max_body_bytes, opt.max_upload_bytes)) + " bytes");
        Headers h{{"content-type", "application/json"},
                  {"x-request-id", request_id_for(parser.field("x-request-id"))}};
        co_await write_response(stream, opt, 11, 413, h, to_openai_json(e), false);
        linger = true;
      } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        co_await simple_error(stream, opt, 400, "malformed HTTP request: " + ec.message());
        linger = true;
      }
      break;
    }

    ExchangeImpl ex(stream, buffer, parser, head, body, opt, draining, peer);
    bool failed = false;
    try {
      co_await handler->handle(ex);
    } catch (const std::exception& e) {
      log::error("handler failed: {}", e.what());
      failed = true;
    }
    if (!ex.response_started() && ex.finished() == false) {
      Headers h{{"content-type", "application/json"},
                {"x-request-id", request_id_for(ex.head().header("x-request-id"))}};
      ApiError e = ApiError::internal(failed ? "internal error" : "no response");
      co_await write_response(stream, opt, ex.version(), 500, h, to_openai_json(e), false);
      break;
    }
    if (ex.broken() || !ex.finished()) break;
    if (!ex.keep_alive()) { linger = true; break; }
    if (!ex.body_read()) {
      if (co_await ex.read_body() != BodyError::none) break;
    }
  }
  if (linger && stream.socket().is_open()) co_await lingering_close(stream);
  beast::error_code ec;
  stream.socket().close(ec);
}

Task<void> Server::Impl::accept_loop(Worker& w) {
  for (;;) {
    auto [ec, socket] = co_await w.acceptor->async_accept(nothrow);
    if (ec) {
      if (ec == net::error::operation_aborted || !w.acceptor->is_open()) co_return;
      // EMFILE and friends: back off instead of spinning, and say so once a second at most.
      static thread_local std::chrono::steady_clock::time_point last_warning{};
      if (auto now = std::chrono::steady_clock::now(); now - last_warning > std::chrono::seconds(1)) {
        log::warn("accept failed: {}", ec.message());
        last_warning = now;
      }
      net::steady_timer t(w.ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(nothrow);
      continue;
    }
    if (open.fetch_add(1, std::memory_order_relaxed) >= opt.max_connections) {
      open.fetch_sub(1, std::memory_order_relaxed);
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(w.ioc, session(w, std::move(socket)), net::detached);
  }
}

void Server::Impl::drain(Worker& w) {
  beast::error_code ec;
  if (w.acceptor) w.acceptor->close(ec);
  for (SessionEntry* s : w.sessions)
    if (s->idle) s->stream->cancel();
}

Server::Server(ServerOptions options, std::shared_ptr<Handler> handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->handler = std::move(handler);
  int n = impl_->opt.workers > 0 ? impl_->opt.workers
                                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    impl_->workers.push_back(std::move(w));
  }
}

Server::~Server() {
  for (auto& w : impl_->workers) {
    w->guard.reset();
    w->ioc.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

void Server::bind() {
  auto& I = *impl_;
  beast::error_code ec;
  auto addr = net::ip::make_address(I.opt.host, ec);
  if (ec) throw std::runtime_error("listen address '" + I.opt.host + "' is not an IP address");
  uint16_t port = I.opt.port;
  for (auto& w : I.workers) {
    tcp::endpoint ep(addr, port);
    tcp::acceptor a(w->ioc);
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = beast::error_code(errno, boost::system::system_category());
    }
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("cannot listen on " + I.opt.host + ":" + std::to_string(port) +
                               ": " + ec.message());
    port = a.local_endpoint().port();
    w->acceptor.emplace(std::move(a));
  }
  I.port = port;
}

uint16_t Server::port() const { return impl_->port; }
int Server::workers() const { return static_cast<int>(impl_->workers.size()); }
std::size_t Server::open_connections() const { return impl_->open.load(); }

void Server::start(std::function<void(int)> on_worker_start) {
  for (auto& wp : impl_->workers) {
    Worker& w = *wp;
    w.guard.emplace(w.ioc.get_executor());
    net::co_spawn(w.ioc, impl_->accept_loop(w), net::detached);
    w.thread = std::thread([&w, on_worker_start] {
      if (on_worker_start) on_worker_start(w.index);
      w.ioc.run();
    });
  }
}

void Server::shutdown() {
  auto& I = *impl_;
  if (I.draining.exchange(true)) return;
  I.deadline = std::chrono::steady_clock::now() + I.opt.shutdown_grace;
  for (auto& w : I.workers) net::post(w->ioc, [&I, w = w.get()] { I.drain(*w); });
}

void Server::wait() {
  auto& I = *impl_;
  while (I.draining && I.open.load() > 0 && std::chrono::steady_clock::now() < I.deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (I.open.load() > 0)
    log::warn("shutdown grace expired with {} connection(s) open; cancelling", I.open.load());
  for (auto& w : I.workers) {
    w->guard.reset();
    w->ioc.stop();
  }
  for (auto& w : I.workers)
    if (w->thread.joinable()) w->thread.join();
}

void Server::request_reload() { impl_->reload_requested.store(true); }

void Server::run_until_signal(std::function<void()> on_reload, std::function<void()> on_ready) {
  net::io_context control(1);
  net::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const beast::error_code&, int)> on_signal =
      [&](const beast::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          if (on_reload) on_reload();
          signals.async_wait(on_signal);
          return;
        }
        log::info("signal {}: draining (grace {} ms)", sig, impl_->opt.shutdown_grace.count());
        shutdown();
      };
  signals.async_wait(on_signal);
  if (on_ready) on_ready();
  auto next_trim = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!impl_->draining.load()) {
    control.run_one_for(std::chrono::milliseconds(100));
    if (impl_->reload_requested.exchange(false) && on_reload && !impl_->draining.load())
      on_reload();
    // glibc keeps freed memory in its per-thread arenas after a burst (10k streams left
    // ~130 MiB resident); hand it back to the kernel every few seconds, off the hot path.
    if (std::chrono::steady_clock::now() >= next_trim) {
      ::malloc_trim(0);
      next_trim = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
  }
  wait();
}

}  // namespace torii
