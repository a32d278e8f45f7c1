// Upstream client: connection pool, TCP/TLS connect, request write, response parse.
#include "upstream/http_client.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "upstream/egress.h"
#include "upstream/tls_context.h"

namespace torii {
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

namespace {

constexpr std::size_t kMaxIdlePerKey = 256;

// `timeout`, shortened so as not to pass `deadline`.
Clock::duration capped(Clock::duration timeout, Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return timeout;
  return std::max(Clock::duration::zero(), std::min(timeout, deadline - Clock::now()));
}
constexpr auto kMaxIdleAge = std::chrono::seconds(50);

// A connection to an upstream, plain or TLS, behind one small interface so that the HTTP code
// above it is written (and compiled) once.
UpstreamPoolStats pool_stats;

class Conn {
 public:
  Conn() { pool_stats.opened.fetch_add(1, std::memory_order_relaxed); }
  virtual ~Conn() {
    pool_stats.closed.fetch_add(1, std::memory_order_relaxed);
    if (pooled) pool_stats.idle.fetch_sub(1, std::memory_order_relaxed);
  }
  virtual Task<std::tuple<beast::error_code, std::size_t>> read_some(net::mutable_buffer b) = 0;
  virtual Task<beast::error_code> write(std::array<net::const_buffer, 2> b) = 0;
  virtual beast::tcp_stream& tcp() = 0;

  // True when the peer has closed (or sent garbage on) an idle connection.
  bool stale() {
    char c;
    ssize_t n = ::recv(tcp().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || n > 0;
  }

  std::string key;
  Clock::time_point idle_since{};
  bool pooled = false;  // in a pool (counted in pool_stats.idle)
};

class PlainConn final : public Conn {
 public:
  explicit PlainConn(beast::tcp_stream s) : s_(std::move(s)) {}
  Task<std::tuple<beast::error_code, std::size_t>> read_some(net::mutable_buffer b) override {
    co_return co_await s_.async_read_some(b, nothrow);
  }
  Task<beast::error_code> write(std::array<net::const_buffer, 2> b) override {
    auto [ec, n] = co_await net::async_write(s_, b, nothrow);
    co_return ec;
  }
  beast::tcp_stream& tcp() override { return s_; }

 private:
  beast::tcp_stream s_;
};

class TlsConn final : public Conn {
 public:
  TlsConn(beast::tcp_stream s, ssl::context& ctx) : s_(std::move(s), ctx) {}
  Task<std::tuple<beast::error_code, std::size_t>> read_some(net::mutable_buffer b) override {
    co_return co_await s_.async_read_some(b, nothrow);
  }
  Task<beast::error_code> write(std::array<net::const_buffer, 2> b) override {
    auto [ec, n] = co_await net::async_write(s_, b, nothrow);
    co_return ec;
  }
  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(s_); }
  beast::ssl_stream<beast::tcp_stream>& stream() { return s_; }

 private:
  beast::ssl_stream<beast::tcp_stream> s_;
};

// Beast's parser with our callbacks: the head into fields, the body (chunked framing removed)
// into `out`.
class ResponseParser final : public http::basic_parser<false> {
 public:
  int status = 0;
  std::string fields;  // "name\0value\0" pairs: one buffer instead of two strings per field
  std::string out;

  std::string_view field(std::string_view name) const {
    std::string_view all = fields;
    while (!all.empty()) {
      auto n_end = all.find('\0');
      auto v_end = all.find('\0', n_end + 1);
      std::string_view n = all.substr(0, n_end), v = all.substr(n_end + 1, v_end - n_end - 1);
      if (beast::iequals(n, name)) return v;
      all.remove_prefix(v_end + 1);
    }
    return {};
  }

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                       beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
    status = code;
  }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    fields.append(name.data(), name.size()).push_back('\0');
    fields.append(value.data(), value.size()).push_back('\0');
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    out.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code&) override {
    out.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}
};

class ClientImpl;

class ResponseImpl final : public UpstreamResponse {
 public:
  ResponseImpl(ClientImpl& client, std::unique_ptr<Conn> conn, const Endpoint& ep,
               Clock::time_point deadline)
      : client_(client), conn_(std::move(conn)), timeouts_(ep.timeouts), host_(ep.host),
        deadline_(deadline) {
    parser_.eager(true);
    parser_.body_limit(boost::none);
    parser_.header_limit(64 * 1024);
  }
  ~ResponseImpl() override;

  int status() const override { return parser_.status; }
  std::string_view header(std::string_view name) const override {
    return parser_.field(name);
  }

  // Reads until the head is complete (and whatever body came with it, kept in parser_.out).
  // `any_byte` tells the caller whether the upstream answered at all (for the stale retry).
  Task<Result<void>> read_head(bool& any_byte) {
    any_byte = false;
    conn_->tcp().expires_after(capped(timeouts_.first_byte, deadline_));
    while (!parser_.is_header_done()) {
      if (auto r = co_await fill(); !r) {
        any_byte = got_bytes_;
        co_return r.error();
      }
      any_byte = true;
      if (auto r = parse(); !r) co_return r;
    }
    co_return Result<void>();
  }

  Task<Result<std::string_view>> read_some() override {
    delivered_.clear();
    for (;;) {
      if (!parser_.out.empty()) {
        delivered_.swap(parser_.out);
        parser_.out.clear();
        co_return std::string_view(delivered_);
      }
      if (parser_.is_done()) {
        finish();
        co_return std::string_view();
      }
      conn_->tcp().expires_after(capped(timeouts_.idle, deadline_));
      if (auto r = co_await fill(); !r) co_return r.error();
      if (auto r = parse(); !r) co_return r.error();
    }
  }

  Task<Result<std::string>> read_all(std::size_t limit) override {
    std::string all;
    for (;;) {
      auto r = co_await read_some();
      if (!r) co_return r.error();
      if (r->empty()) co_return all;
      if (all.size() + r->size() > limit)
        co_return ApiError::bad_gateway("upstream response exceeds " + std::to_string(limit) +
                                        " bytes");
      all.append(*r);
    }
  }

  void set_deadline(Clock::time_point deadline) override { deadline_ = deadline; }

 private:
  // Reads more bytes into buf_. EOF is handed to the parser (a body delimited by close).
  Task<Result<void>> fill() {
    if (!conn_) co_return ApiError::bad_gateway("upstream connection closed");
    auto [ec, n] = co_await conn_->read_some(buf_.prepare(4 * 1024));
    if (ec) {
      if ((ec == net::error::eof || ec == ssl::error::stream_truncated) && got_bytes_) {
        beast::error_code pec;
        parser_.put_eof(pec);
        eof_ = true;
        if (!pec && parser_.is_done()) co_return Result<void>();
        conn_.reset();
        co_return ApiError::bad_gateway("upstream " + host_ + " closed the connection early",
                                        "upstream_reset");
      }
      conn_.reset();
      if (ec == beast::error::timeout)
        co_return ApiError::gateway_timeout("upstream " + host_ + " did not answer in time");
      co_return ApiError::bad_gateway("upstream " + host_ + " connection failed: " + ec.message(),
                                      "upstream_reset");
    }
    got_bytes_ = true;
    buf_.commit(n);
    co_return Result<void>();
  }

  Result<void> parse() {
    while (buf_.size() > 0 && !parser_.is_done()) {
      beast::error_code ec;
      std::size_t used = parser_.put(buf_.data(), ec);
      buf_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) {
        conn_.reset();
        return ApiError::bad_gateway("upstream " + host_ + " sent a malformed response: " +
                                     ec.message());
      }
      if (used == 0) break;
    }
    return {};
  }

  void finish();

  ClientImpl& client_;
  std::unique_ptr<Conn> conn_;
  UpstreamTimeouts timeouts_;
  std::string host_;
  Clock::time_point deadline_;
  ResponseParser parser_;
  beast::flat_buffer buf_;
  std::string delivered_;
  bool got_bytes_ = false;
  bool eof_ = false;
};

class ClientImpl final : public UpstreamClient {
 public:
  Task<Result<std::unique_ptr<UpstreamResponse>>> send(const Endpoint& ep,
                                                       const UpstreamRequest& req) override {
    std::string head;
    head.reserve(128 + req.path.size() + req.header_block.size());
    head.append(req.method).append(" ").append(req.path).append(" HTTP/1.1\r\nHost: ");
    head.append(ep.host_header).append("\r\n");
    head.append(req.header_block);
    for (const auto& [k, v] : req.headers) head.append(k).append(": ").append(v).append("\r\n");
    head.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n\r\n");

    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = false;
      std::unique_ptr<Conn> conn = checkout(ep.key);
      if (conn) {
        reused = true;
        pool_stats.reused.fetch_add(1, std::memory_order_relaxed);
      } else {
        auto c = co_await connect(ep, req.deadline);
        if (!c) co_return c.error();
        conn = std::move(*c);
        conn->key = ep.key;
      }
      conn->tcp().expires_after(capped(ep.timeouts.first_byte, req.deadline));
      auto wec = co_await conn->write({net::buffer(head), net::buffer(req.body)});
      if (wec) {
        if (reused) continue;  // the pooled connection was dead: once more on a new one
        ApiError e = wec == beast::error::timeout
                         ? ApiError::gateway_timeout("upstream " + ep.host +
                                                     " did not accept the request in time")
                         : ApiError::bad_gateway("upstream " + ep.host + " write failed: " +
                                                     wec.message(), "upstream_reset");
        e.retryable = true;
        co_return e;
      }
      auto resp = std::make_unique<ResponseImpl>(*this, std::move(conn), ep, req.deadline);
      bool any_byte = false;
      auto r = co_await resp->read_head(any_byte);
      if (!r) {
        if (reused && !any_byte && r.error().status == 502) continue;
        ApiError e = r.error();
        e.retryable = true;
        co_return e;
      }
      co_return std::unique_ptr<UpstreamResponse>(std::move(resp));
    }
    ApiError e = ApiError::bad_gateway("upstream " + ep.host + " closed the connection",
                                       "upstream_reset");
    e.retryable = true;
    co_return e;
  }

  std::size_t idle_connections() const override {
    std::size_t n = 0;
    for (const auto& [k, v] : idle_) n += v.size();
    return n;
  }

  void release(std::unique_ptr<Conn> conn) {
    auto& list = idle_[conn->key];
    if (list.size() >= kMaxIdlePerKey) return;
    conn->idle_since = Clock::now();
    conn->pooled = true;
    pool_stats.idle.fetch_add(1, std::memory_order_relaxed);
    list.push_back(std::move(conn));
  }

 private:
  std::unique_ptr<Conn> checkout(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    auto now = Clock::now();
    while (!list.empty()) {
      std::unique_ptr<Conn> c = std::move(list.back());
      list.pop_back();
      c->pooled = false;
      pool_stats.idle.fetch_sub(1, std::memory_order_relaxed);
      if (now - c->idle_since < kMaxIdleAge && !c->stale()) return c;
    }
    return nullptr;
  }

  Task<Result<std::unique_ptr<Conn>>> connect(const Endpoint& ep, Clock::time_point deadline) {
    auto ex = co_await net::this_coro::executor;
    beast::tcp_stream stream(ex);
    stream.expires_after(capped(ep.timeouts.connect, deadline));
    beast::error_code ec;
    // Egress control (upstream/egress.h): an allowed host, then only allowed addresses.
    const EgressPolicy* egress = ep.egress.get();
    if (egress && !egress->host_allowed(ep.host))
      co_return refused(EgressPolicy::host_denied(ep.host));
    auto addr = net::ip::make_address(ep.host, ec);
    if (!ec) {
      if (const char* why = egress ? egress->refusal(addr) : nullptr)
        co_return refused(EgressPolicy::denied(ep.host, addr, why));
      auto [cec] = co_await stream.async_connect(tcp::endpoint(addr, ep.port), nothrow);
      ec = cec;
    } else {
      tcp::resolver resolver(ex);
      auto [rec, results] =
          co_await resolver.async_resolve(ep.host, std::to_string(ep.port), nothrow);
      if (rec) {
        ApiError e = ApiError::bad_gateway("cannot resolve upstream host " + ep.host + ": " +
                                           rec.message(), "upstream_unreachable");
        e.retryable = true;
        co_return e;
      }
      // Refused addresses are dropped. Common case (all allowed): connect over the results
      // as they are, no copy.
      std::vector<tcp::endpoint> allowed;
      if (egress) {
        const char* why = nullptr;
        net::ip::address first_refused;
        for (const auto& r : results) {
          const char* w = egress->refusal(r.endpoint().address());
          if (w && !why) why = w, first_refused = r.endpoint().address();
        }
        if (why) {
          for (const auto& r : results)
            if (!egress->refusal(r.endpoint().address())) allowed.push_back(r.endpoint());
          if (allowed.empty()) co_return refused(EgressPolicy::denied(ep.host, first_refused, why));
        }
      }
      if (allowed.empty()) {
        auto [cec, endpoint] = co_await stream.async_connect(results, nothrow);
        ec = cec;
      } else {
        auto [cec, endpoint] = co_await stream.async_connect(allowed, nothrow);
        ec = cec;
      }
    }
    if (ec) {
      ApiError e = ec == beast::error::timeout
                       ? ApiError::gateway_timeout("connecting to upstream " + ep.host + ":" +
                                                   std::to_string(ep.port) + " timed out")
                       : ApiError::bad_gateway("cannot connect to upstream " + ep.host + ":" +
                                                   std::to_string(ep.port) + ": " + ec.message(),
                                               "upstream_unreachable");
      e.retryable = true;
      co_return e;
    }
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    if (!ep.tls) co_return std::unique_ptr<Conn>(std::make_unique<PlainConn>(std::move(stream)));

    auto conn = std::make_unique<TlsConn>(std::move(stream), ep.tls_context->ctx);
    auto& s = conn->stream();
    beast::error_code not_ip;
    net::ip::make_address(ep.host, not_ip);
    // Name checks done by OpenSSL itself, so that a mismatch is reported as one.
    if (not_ip) {
      SSL_set_tlsext_host_name(s.native_handle(), ep.host.c_str());  // SNI for names only
      SSL_set1_host(s.native_handle(), ep.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s.native_handle()), ep.host.c_str());
    }
    s.set_verify_mode(ssl::verify_peer);
    auto [hec] = co_await s.async_handshake(ssl::stream_base::client, nothrow);
    if (hec) {
      std::string why = hec.message();
      long v = SSL_get_verify_result(s.native_handle());
      if (v != X509_V_OK) why = X509_verify_cert_error_string(v);
      ApiError e = ApiError::bad_gateway("TLS handshake with upstream " + ep.host + " failed: " + why,
                                         "upstream_tls");
      e.retryable = true;
      co_return e;
    }
    co_return std::unique_ptr<Conn>(std::move(conn));
  }

  // An egress refusal, logged (the operator's hint: a DNS answer or a base_url to look at).
  static ApiError refused(ApiError e) {
    log::warn("{}", e.message);
    return e;
  }

  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle_;
};

ResponseImpl::~ResponseImpl() {
  // A response dropped before its end leaves the connection mid-body: close it (this is what
  // cancels the upstream call when a client goes away).
  if (conn_ && parser_.is_done() && parser_.keep_alive() && !eof_) client_.release(std::move(conn_));
}

void ResponseImpl::finish() {
  if (conn_ && parser_.keep_alive() && !eof_) client_.release(std::move(conn_));
  conn_.reset();
}

}  // namespace

UpstreamPoolStats& upstream_pool_stats() { return pool_stats; }

UpstreamClient& UpstreamClient::local() {
  thread_local ClientImpl client;
  return client;
}

std::unique_ptr<UpstreamClient> UpstreamClient::make() { return std::make_unique<ClientImpl>(); }

}  // namespace torii
