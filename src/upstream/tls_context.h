#pragma once
// The OpenSSL client context behind Endpoint::tls_context. Only .cpp files that do TLS include it.
#include <boost/asio/ssl/context.hpp>

namespace torii {
class TlsContext {
 public:
  TlsContext() : ctx(boost::asio::ssl::context::tls_client) {}
  boost::asio::ssl::context ctx;
};
}  // namespace torii
