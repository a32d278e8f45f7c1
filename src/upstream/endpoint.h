#pragma once
// Where a provider lives: scheme, host, port, base path and TLS settings. Built once per
// config snapshot; the upstream pool keys its connections by Endpoint::key.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/result.h"

namespace torii {

class TlsContext;    // wraps an OpenSSL context (upstream/http_client.cpp)
class EgressPolicy;  // where calls may go (upstream/egress.h)

struct Endpoint {
  bool tls = false;
  std::string host;       // DNS name or address; also the SNI and the verified name
  uint16_t port = 0;
  std::string base_path;  // e.g. "/v1"; never ends with '/'
  std::string host_header;  // "host" or "host:port"
  std::string key;          // pool key: scheme://host:port + CA file
  UpstreamTimeouts timeouts;
  std::shared_ptr<TlsContext> tls_context;  // set when tls
  // Checked by UpstreamClient on each new connection (allowed host, resolved addresses); null:
  // no check (the built-in mock, the vault, JWKS). build_snapshot sets it on provider endpoints.
  std::shared_ptr<const EgressPolicy> egress;
};

// Parses "http(s)://host[:port][/base]" and builds the TLS context (system CA store plus
// `ca_file`). Errors name the URL and the cause.
Result<Endpoint> make_endpoint(const std::string& base_url, const std::string& ca_file,
                               const UpstreamTimeouts& timeouts);

}  // namespace torii
