// The Redis connection: Beast's tcp_stream for the per-operation deadline, hiredis' redisReader
// for the replies.
#include "quota/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cerrno>

namespace torii::quota {
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

ApiError redis_unavailable(std::string message) {
  ApiError e = ApiError::unavailable("quota store unavailable: " + std::move(message));
  e.code = "quota_store_unavailable";
  return e;
}

// ---- RedisRequest ----------------------------------------------------------------------------

RedisRequest& RedisRequest::begin(std::size_t nargs) {
  wire_ += '*';
  wire_ += std::to_string(nargs);
  wire_ += "\r\n";
  ++commands_;
  return *this;
}

RedisRequest& RedisRequest::arg(std::string_view a) { return arg({}, a); }

RedisRequest& RedisRequest::arg(std::string_view prefix, std::string_view a) {
  wire_ += '$';
  wire_ += std::to_string(prefix.size() + a.size());
  wire_ += "\r\n";
  wire_ += prefix;
  wire_ += a;
  wire_ += "\r\n";
  return *this;
}

RedisRequest& RedisRequest::arg(int64_t v) { return arg(std::to_string(v)); }

RedisRequest& RedisRequest::append(const RedisRequest& other) {
  wire_ += other.wire_;
  commands_ += other.commands_;
  return *this;
}

// ---- RedisConnection -------------------------------------------------------------------------

namespace {

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::nil;
  }
  return out;
}

}  // namespace

struct RedisConnection::Impl {
  explicit Impl(const net::any_io_executor& ex) : stream(ex), reader(redisReaderCreate()) {}
  beast::tcp_stream stream;
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  std::string where;  // host:port, for messages
  char buf[16384];
};

RedisConnection::RedisConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisConnection::~RedisConnection() = default;

bool RedisConnection::stale() const {
  char c;
  ssize_t n = ::recv(impl_->stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

Task<Result<std::unique_ptr<RedisConnection>>> RedisConnection::connect(
    const RedisEndpoint& ep, const RedisRequest& init) {
  auto ex = co_await net::this_coro::executor;
  auto impl = std::make_unique<Impl>(ex);
  if (!impl->reader) co_return redis_unavailable("out of memory");
  impl->where = ep.host + ":" + std::to_string(ep.port);
  const auto deadline = Clock::now() + ep.connect_timeout;

  beast::error_code ec;
  auto addr = net::ip::make_address(ep.host, ec);
  if (!ec) {
    impl->stream.expires_after(ep.connect_timeout);
    auto [cec] = co_await impl->stream.async_connect(tcp::endpoint(addr, ep.port), nothrow);
    ec = cec;
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(ep.host, std::to_string(ep.port), nothrow);
    if (rec) co_return redis_unavailable("cannot resolve Redis host " + ep.host + ": " +
                                         rec.message());
    impl->stream.expires_at(deadline);
    auto [cec, endpoint] = co_await impl->stream.async_connect(results, nothrow);
    ec = cec;
  }
  if (ec == beast::error::timeout)
    co_return redis_unavailable("connecting to Redis at " + impl->where + " timed out");
  if (ec) co_return redis_unavailable("cannot connect to Redis at " + impl->where + ": " +
                                      ec.message());
  beast::error_code ignored;
  impl->stream.socket().set_option(tcp::no_delay(true), ignored);

  std::unique_ptr<RedisConnection> conn(new RedisConnection(std::move(impl)));
  RedisRequest hello;
  if (!ep.password.empty()) hello.begin(2).arg("AUTH").arg(ep.password);
  if (ep.db != 0) hello.begin(2).arg("SELECT").arg(int64_t{ep.db});
  const std::size_t checked = hello.commands();
  hello.append(init);
  if (hello.commands() == 0) co_return conn;

  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  auto replies = co_await conn->round_trip(hello, std::max(left, std::chrono::milliseconds(1)));
  if (!replies) co_return replies.error();
  for (std::size_t i = 0; i < checked; ++i) {
    if (!(*replies)[i].is_error()) continue;
    // The server's text is not echoed: it is safe (Redis never repeats the password), but an
    // AUTH failure is better said plainly.
    std::string what = " refused SELECT " + std::to_string(ep.db);
    if (!ep.password.empty() && i == 0) what = " refused the password (AUTH)";
    co_return redis_unavailable("Redis at " + conn->impl_->where + what);
  }
  co_return conn;
}

Task<Result<std::vector<RedisReply>>> RedisConnection::round_trip(
    const RedisRequest& req, std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  if (broken_) co_return redis_unavailable("connection to " + im.where + " is closed");
  // Marked broken until the last reply is in: any early exit leaves it so.
  broken_ = true;
  auto fail = [&](const beast::error_code& ec) {
    return redis_unavailable(ec == beast::error::timeout
                                 ? "Redis at " + im.where + " did not answer within " +
                                       std::to_string(timeout.count()) + " ms"
                                 : "Redis at " + im.where + ": " + ec.message());
  };
  im.stream.expires_after(timeout);
  auto [wec, written] = co_await net::async_write(im.stream, net::buffer(req.wire()), nothrow);
  if (wec) co_return fail(wec);

  std::vector<RedisReply> out;
  out.reserve(req.commands());
  while (out.size() < req.commands()) {
    void* r = nullptr;
    if (redisReaderGetReply(im.reader.get(), &r) != REDIS_OK)
      co_return redis_unavailable("Redis at " + im.where + " sent a malformed reply");
    if (r) {
      out.push_back(convert(static_cast<const redisReply*>(r)));
      freeReplyObject(r);
      continue;
    }
    auto [ec, n] = co_await im.stream.async_read_some(net::buffer(im.buf), nothrow);
    if (ec) co_return fail(ec);
    if (redisReaderFeed(im.reader.get(), im.buf, n) != REDIS_OK)
      co_return redis_unavailable("Redis at " + im.where + " sent a malformed reply");
  }
  im.stream.expires_never();
  broken_ = false;
  co_return out;
}

}  // namespace torii::quota
