// http_fetch: one synchronous upstream call on a private io_context (see http_client.h).
// Asio only (no Beast): the HTTP work is the upstream client's.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>

#include "upstream/http_client.h"

namespace torii {

namespace {

Task<Result<HttpFetchResult>> fetch_once(UpstreamClient& client, const Endpoint& ep,
                                         const UpstreamRequest& req, std::size_t limit) {
  auto resp = co_await client.send(ep, req);
  if (!resp) co_return resp.error();
  (*resp)->set_deadline(req.deadline);
  HttpFetchResult out;
  out.status = (*resp)->status();
  auto body = co_await (*resp)->read_all(limit);
  if (!body) co_return body.error();
  out.body = std::move(*body);
  co_return out;
}

// The outcome goes to `out`: a Result has no default value for co_spawn's handler.
Task<void> fetch(UpstreamClient& client, const Endpoint& ep, const UpstreamRequest& req,
                 std::size_t limit, std::optional<Result<HttpFetchResult>>& out) {
  out.emplace(co_await fetch_once(client, ep, req, limit));
}

}  // namespace

Result<HttpFetchResult> http_fetch(const Endpoint& endpoint, UpstreamRequest request,
                                   std::size_t limit) {
  std::optional<Result<HttpFetchResult>> result;
  std::exception_ptr failure;
  {
    net::io_context io(1);
    // Declared after the io_context: its connections close before the context goes away.
    std::unique_ptr<UpstreamClient> client = UpstreamClient::make();
    net::co_spawn(io, fetch(*client, endpoint, request, limit, result),
                  [&](std::exception_ptr e) { failure = e; });
    io.run();
  }
  if (failure || !result) {
    return ApiError::bad_gateway("request to " + endpoint.host + " failed unexpectedly");
  }
  return std::move(*result);
}

}  // namespace torii
