#include "upstream/egress.h"

#include <charconv>
#include <cstdint>
#include <optional>

namespace torii {
namespace ip = boost::asio::ip;

namespace {

const char* refused_v4(uint32_t x) {
  const uint32_t a = x >> 24;
  if (a == 0) return "unspecified";
  if (a == 127) return "loopback";
  if (a == 10 || (x & 0xfff00000u) == 0xac100000u || (x >> 16) == 0xc0a8u) return "private";
  if ((x >> 16) == 0xa9feu) return "link-local";
  if ((x & 0xffc00000u) == 0x64400000u) return "CGNAT";
  if ((x >> 28) == 0xeu) return "multicast";
  if (x == 0xffffffffu) return "broadcast";
  if ((x >> 28) == 0xfu) return "reserved";
  return nullptr;
}

uint32_t v4_at(const ip::address_v6::bytes_type& b, int at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

bool zeros(const ip::address_v6::bytes_type& b, int from, int to) {
  for (int i = from; i < to; ++i)
    if (b[i] != 0) return false;
  return true;
}

// The IPv4 address an IPv6 address stands for: IPv4-mapped ::ffff:0:0/96, IPv4-compatible
// ::/96 (except :: and ::1) and NAT64 64:ff9b::/96. 6to4 (2002::/16) and Teredo (2001::/32)
// also carry an IPv4 address, but a packet to them goes to a relay on the public internet, not
// to the embedded host, so they are not unwrapped.
std::optional<uint32_t> embedded_v4(const ip::address_v6& a) {
  const auto b = a.to_bytes();
  if (zeros(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return v4_at(b, 12);
  if (zeros(b, 0, 12)) {
    const uint32_t x = v4_at(b, 12);
    if (x <= 1) return std::nullopt;  // :: and ::1 are IPv6's own
    return x;
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(b, 4, 12))
    return v4_at(b, 12);
  return std::nullopt;
}

const char* refused_v6(const ip::address_v6& a) {
  if (auto v4 = embedded_v4(a)) return refused_v4(*v4);
  const auto b = a.to_bytes();
  if (zeros(b, 0, 16)) return "unspecified";
  if (zeros(b, 0, 15) && b[15] == 1) return "loopback";
  if ((b[0] & 0xfe) == 0xfc) return "private";  // unique local fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "private";  // site-local, deprecated
  if (b[0] == 0xff) return "multicast";
  return nullptr;
}

// The first `prefix` bits of a and b (n bytes each) are equal.
bool same_prefix(const unsigned char* a, const unsigned char* b, int prefix) {
  int i = 0;
  for (; prefix >= 8; prefix -= 8, ++i)
    if (a[i] != b[i]) return false;
  if (prefix == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - prefix));
  return (a[i] & mask) == (b[i] & mask);
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

bool IpNetwork::contains(const ip::address& a) const {
  if (a.is_v4() == v6) return false;
  if (!v6) {
    const auto b = a.to_v4().to_bytes();
    return same_prefix(b.data(), bytes.data(), prefix);
  }
  const auto b = a.to_v6().to_bytes();
  return same_prefix(b.data(), bytes.data(), prefix);
}

std::string IpNetwork::to_string() const {
  std::string addr;
  if (v6) {
    ip::address_v6::bytes_type b;
    std::copy(bytes.begin(), bytes.end(), b.begin());
    addr = ip::address_v6(b).to_string();
  } else {
    addr = ip::address_v4({bytes[0], bytes[1], bytes[2], bytes[3]}).to_string();
  }
  return addr + "/" + std::to_string(prefix);
}

Result<IpNetwork> parse_network(std::string_view text) {
  const std::string shown(text);
  auto bad = [&](const std::string& why) {
    return ApiError::invalid_request("'" + shown + "' is not a network (CIDR): " + why);
  };
  const auto slash = text.find('/');
  const std::string addr_text(text.substr(0, slash));
  if (addr_text.find('%') != std::string::npos) return bad("zone ids are not allowed");
  boost::system::error_code ec;
  const ip::address addr = ip::make_address(addr_text, ec);
  if (ec) return bad("'" + addr_text + "' is not an IP address");
  IpNetwork n;
  n.v6 = addr.is_v6();
  const int max = n.v6 ? 128 : 32;
  n.prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    int p = -1;
    auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() || p < 0 ||
        p > max)
      return bad("the prefix length must be 0 to " + std::to_string(max));
    n.prefix = p;
  }
  if (n.v6) {
    const auto b = addr.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), n.bytes.begin());
  } else {
    const auto b = addr.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), n.bytes.begin());
  }
  // Host bits set is most likely a typo (10.1.2.0/16 meant 10.1.0.0/16 or 10.1.2.0/24): say so.
  IpNetwork masked = n;
  for (int bit = n.prefix; bit < max; ++bit)
    masked.bytes[bit / 8] &= static_cast<unsigned char>(~(0x80 >> (bit % 8)));
  if (masked.bytes != n.bytes)
    return bad("host bits are set (the network is " + masked.to_string() + ")");
  return n;
}

const char* refused_range(const ip::address& a) {
  return a.is_v4() ? refused_v4(a.to_v4().to_uint()) : refused_v6(a.to_v6());
}

Result<std::shared_ptr<EgressPolicy>> EgressPolicy::make(const EgressConfig& config) {
  auto p = std::make_shared<EgressPolicy>();
  for (const auto& h : config.allow_hosts) p->allow_host(h);
  for (const auto& text : config.allow_networks) {
    auto n = parse_network(text);
    if (!n) return ApiError::invalid_request("egress.allow_networks: " + n.error().message);
    p->allow_network(*n);
  }
  return p;
}

void EgressPolicy::allow_host(std::string_view host) {
  if (host_allowed(host)) return;
  std::string h(host);
  for (char& c : h)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  hosts_.push_back(std::move(h));
}

void EgressPolicy::allow_network(const IpNetwork& network) { networks_.push_back(network); }

bool EgressPolicy::host_allowed(std::string_view host) const {
  // A handful of hosts: a linear scan beats hashing (which would need a lower-case copy).
  for (const auto& h : hosts_)
    if (iequal(h, host)) return true;
  return false;
}

const char* EgressPolicy::refusal(const ip::address& a) const {
  const char* why = refused_range(a);
  if (!why) return nullptr;
  for (const auto& n : networks_)
    if (n.contains(a)) return nullptr;
  if (a.is_v6()) {
    // 127.0.0.0/8 also allows ::ffff:127.0.0.1 (the same host).
    if (auto v4 = embedded_v4(a.to_v6())) {
      const ip::address as_v4{ip::address_v4(*v4)};
      for (const auto& n : networks_)
        if (n.contains(as_v4)) return nullptr;
    }
  }
  return why;
}

const char* EgressPolicy::literal_refusal(const std::string& host) const {
  boost::system::error_code ec;
  const ip::address a = ip::make_address(host, ec);
  if (ec) return nullptr;
  return refusal(a);
}

ApiError EgressPolicy::denied(std::string_view host, const ip::address& a, const char* why) {
  const std::string addr = a.to_string();
  std::string msg = "egress refused: upstream host " + std::string(host);
  msg += addr == host ? " is " : " resolved to " + addr + " (";
  msg += why;
  msg += addr == host ? "" : ")";
  msg += "; allow it with egress.allow_networks";
  ApiError e = ApiError::bad_gateway(std::move(msg), "egress_denied");
  e.retryable = true;
  return e;
}

ApiError EgressPolicy::host_denied(std::string_view host) {
  ApiError e = ApiError::bad_gateway("egress refused: upstream host " + std::string(host) +
                                         " is not a configured provider host; allow it with "
                                         "egress.allow_hosts",
                                     "egress_denied");
  e.retryable = true;
  return e;
}

}  // namespace torii
