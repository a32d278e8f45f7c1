#pragma once
// Egress control (docs/SECURITY.md, "Egress"): where the gateway's provider calls may go.
//
// Two checks, both in UpstreamClient's connect() (so once per new connection; pooled
// connections skip them):
//   1. the endpoint's host must be one of the configured providers' hosts or egress.allow_hosts;
//   2. every address the host resolves to (or the literal address) is checked against the
//      refused ranges below; refused addresses are dropped, and when none is left the call fails
//      with 502 `egress_denied` (retryable: a route may fail over). A network listed in
//      egress.allow_networks exempts the addresses it holds.
// This stops SSRF through config (a base_url at the cloud metadata address) and DNS rebinding
// (an allowed name that resolves to a loopback or private address).
//
// Refused ranges: loopback (127/8, ::1), unspecified (0/8, ::), private (10/8, 172.16/12,
// 192.168/16, fc00::/7, the deprecated site-local fec0::/10), link-local (169.254/16, which holds
// the cloud metadata address 169.254.169.254, and fe80::/10), CGNAT (100.64/10), multicast
// (224/4, ff00::/8), reserved and broadcast (240/4). IPv6 forms that embed an IPv4 address are
// judged by that address: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64
// (64:ff9b::/96).
//
// Not subject to egress: the vault and JWKS addresses (operator infrastructure, configured by
// the operator next to the egress section), and providers of the in-process built-in mock.
#include <array>
#include <boost/asio/ip/address.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"

namespace torii {

// An IP network (CIDR). An IPv4 network stays IPv4 (bytes[0..3]); it also holds the
// IPv4-mapped, -compatible and NAT64 IPv6 forms of its addresses (see EgressPolicy::refusal).
struct IpNetwork {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};
  int prefix = 0;  // 0..32 (v4) or 0..128 (v6)

  // True when `a` (of the same family) is in the network. Never allocates.
  bool contains(const boost::asio::ip::address& a) const;
  // "10.1.0.0/16", "fc00::/7".
  std::string to_string() const;
};

// Parses "a.b.c.d/n" or "x:y::/n"; a bare address is a single host (/32, /128). Errors (for
// the config loader): not an address, a zone id, a prefix out of range, host bits set (the
// message names the network meant, e.g. "10.1.0.0/16").
Result<IpNetwork> parse_network(std::string_view text);

// The refused range `a` is in ("loopback", "unspecified", "private", "link-local", "CGNAT",
// "multicast", "reserved", "broadcast"), or nullptr for an address that may be called. An IPv6
// form that embeds an IPv4 address answers for that IPv4 address. Never allocates.
const char* refused_range(const boost::asio::ip::address& a);

// One per config snapshot, shared by the endpoints of its providers (Endpoint::egress).
// Immutable once the snapshot is published; allow_host/allow_network are for building it.
class EgressPolicy {
 public:
  // From the `egress:` section: its allow_hosts and allow_networks (already validated by the
  // loader; a bad CIDR here is still an error).
  static Result<std::shared_ptr<EgressPolicy>> make(const EgressConfig& config);

  // Adds a host that may be called (compared case-insensitively).
  void allow_host(std::string_view host);
  void allow_network(const IpNetwork& network);

  // True when `host` (an endpoint's host: a name or a literal address) may be called.
  bool host_allowed(std::string_view host) const;

  // The refused range of `a` when no allowed network holds it (see refused_range); nullptr
  // when `a` may be called. Never allocates.
  const char* refusal(const boost::asio::ip::address& a) const;

  // For `host` given as a literal address: its refusal (nullptr when allowed or not a literal).
  // Used at load to reject a base_url such as http://169.254.169.254/.
  const char* literal_refusal(const std::string& host) const;

  // The 502 `egress_denied` errors (retryable) for connect(): `host` resolved to `a`, in the
  // refused range `why`; or `host` is not an allowed host.
  static ApiError denied(std::string_view host, const boost::asio::ip::address& a,
                         const char* why);
  static ApiError host_denied(std::string_view host);

  const std::vector<std::string>& hosts() const { return hosts_; }
  const std::vector<IpNetwork>& networks() const { return networks_; }

 private:
  std::vector<std::string> hosts_;  // lower case
  std::vector<IpNetwork> networks_;
};

}  // namespace torii
