// The hashicorp vault backend: HashiCorp Vault's KV v2 engine over the upstream client
// (http_fetch). GET {address}/v1/{mount}/data/{NAME} answers
//   {"data":{"data":{"KEY":"value",...},"metadata":{...}}}
// The token travels in X-Vault-Token and never appears in a message or a log line.
#include <boost/json.hpp>

#include "identity/vault_backend.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"

namespace torii::identity {
namespace {

constexpr std::size_t kMaxSecretBytes = 1u << 20;
constexpr auto kCallTimeout = std::chrono::seconds(15);

ApiError fail(std::string message) { return ApiError::invalid_request(std::move(message)); }

}  // namespace

Result<VaultFetch> make_hashicorp_fetch(const VaultConfig& cfg) {
  if (cfg.address.empty()) return fail("the hashicorp backend needs an address");
  if (cfg.token.value.empty()) return fail("the hashicorp backend needs a token");
  UpstreamTimeouts timeouts;
  timeouts.connect = std::chrono::seconds(5);
  timeouts.first_byte = std::chrono::seconds(10);
  timeouts.idle = std::chrono::seconds(10);
  auto ep = make_endpoint(cfg.address, cfg.ca_file, timeouts);
  if (!ep) return fail("vault address: " + ep.error().message);
  auto endpoint = std::make_shared<const Endpoint>(std::move(*ep));
  std::string header_block = "X-Vault-Token: " + cfg.token.value + "\r\n";
  if (!cfg.namespace_.empty()) header_block += "X-Vault-Namespace: " + cfg.namespace_ + "\r\n";
  header_block += "Accept: application/json\r\nUser-Agent: torii-vault\r\n";
  auto headers = std::make_shared<const std::string>(std::move(header_block));
  const std::string base = endpoint->base_path + "/v1/" + cfg.mount + "/data/";

  return VaultFetch([endpoint, headers, base](const std::string& name,
                                              const std::string& key) -> Result<std::string> {
    const std::string ref = "vault secret " + name + "/" + key;
    UpstreamRequest req;
    req.method = "GET";
    req.path = base + name;  // validated: URL-safe characters only
    req.header_block = *headers;
    req.deadline = std::chrono::steady_clock::now() + kCallTimeout;
    auto r = http_fetch(*endpoint, std::move(req), kMaxSecretBytes);
    if (!r) return fail(ref + ": HashiCorp Vault at " + endpoint->host + ": " + r.error().message);
    if (r->status == 404) return fail(ref + ": secret " + name + " not found");
    if (r->status == 403 || r->status == 401) {
      return fail(ref + ": permission denied (check the token)");
    }
    if (r->status != 200) {
      return fail(ref + ": HashiCorp Vault answered HTTP " + std::to_string(r->status));
    }
    boost::system::error_code ec;
    auto doc = boost::json::parse(r->body, ec);
    const boost::json::value* data = nullptr;
    if (!ec && doc.is_object()) {
      if (const auto* outer = doc.as_object().if_contains("data"); outer && outer->is_object())
        data = outer->as_object().if_contains("data");
    }
    if (!data || !data->is_object()) {
      return fail(ref + ": not a KV v2 answer (is " + name + " under a KV version 2 mount?)");
    }
    const auto* v = data->as_object().if_contains(key);
    if (!v) return fail(ref + ": key " + key + " not in secret " + name);
    if (!v->is_string()) return fail(ref + ": key " + key + " is not a string");
    if (v->as_string().empty()) return fail(ref + ": key " + key + " is empty");
    return std::string(v->as_string());
  });
}

}  // namespace torii::identity
