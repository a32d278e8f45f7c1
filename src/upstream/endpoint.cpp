#include "upstream/endpoint.h"

#include <boost/url/parse.hpp>
#include <mutex>

#include "upstream/tls_context.h"

namespace torii {

namespace {

// One context with the system CA store, shared by every endpoint without its own CA file:
// loading the store is the expensive part.
std::shared_ptr<TlsContext> system_tls_context() {
  static std::shared_ptr<TlsContext> ctx = [] {
    auto c = std::make_shared<TlsContext>();
    c->ctx.set_default_verify_paths();
    c->ctx.set_options(boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                       boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
    return c;
  }();
  return ctx;
}

}  // namespace

Result<Endpoint> make_endpoint(const std::string& base_url, const std::string& ca_file,
                               const UpstreamTimeouts& timeouts) {
  auto parsed = boost::urls::parse_absolute_uri(base_url);
  if (!parsed) return ApiError::invalid_request("'" + base_url + "' is not an absolute URL");
  const auto& u = *parsed;
  Endpoint ep;
  std::string scheme(u.scheme());
  if (scheme == "https") ep.tls = true;
  else if (scheme != "http")
    return ApiError::invalid_request("'" + base_url + "': scheme must be http or https");
  if (!u.has_authority() || u.host().empty())
    return ApiError::invalid_request("'" + base_url + "' has no host");
  if (u.has_userinfo())
    return ApiError::invalid_request("base_url must not carry credentials; use api_key");
  ep.host = u.host_type() == boost::urls::host_type::ipv6 ? std::string(u.host_ipv6_address().to_string())
                                                          : std::string(u.encoded_host());
  if (u.has_port()) {
    // port_number() wraps values past 65535, so check the digits themselves.
    std::string digits(u.port());
    unsigned long p = digits.size() <= 5 ? std::stoul("0" + digits) : 0;
    if (p == 0 || p > 65535) return ApiError::invalid_request("'" + base_url + "': bad port");
    ep.port = static_cast<uint16_t>(p);
  } else {
    ep.port = ep.tls ? 443 : 80;
  }
  ep.base_path = std::string(u.encoded_path());
  while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
  bool default_port = ep.port == (ep.tls ? 443 : 80);
  std::string host_for_header =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + ep.host + "]" : ep.host;
  ep.host_header = default_port ? host_for_header : host_for_header + ":" + std::to_string(ep.port);
  ep.key = scheme + "://" + host_for_header + ":" + std::to_string(ep.port) + "|" + ca_file;
  ep.timeouts = timeouts;
  if (ep.tls) {
    if (ca_file.empty()) {
      ep.tls_context = system_tls_context();
    } else {
      auto c = std::make_shared<TlsContext>();
      boost::system::error_code ec;
      c->ctx.set_default_verify_paths(ec);
      c->ctx.load_verify_file(ca_file, ec);
      if (ec) return ApiError::invalid_request("cannot load ca_file '" + ca_file + "': " + ec.message());
      ep.tls_context = std::move(c);
    }
  }
  return ep;
}

}  // namespace torii
