// Egress control: CIDR parsing, the refused ranges (with their IPv6 forms), allow_networks
// exemptions, the host allowlist, the loader's errors, build_snapshot's load-time refusal and
// the check in UpstreamClient's connect().
#include "upstream/egress.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "config/snapshot.h"
#include "upstream/http_client.h"

namespace torii {
namespace {
namespace ip = boost::asio::ip;

std::string why(const std::string& addr) {
  const char* w = refused_range(ip::make_address(addr));
  return w ? w : "allowed";
}

std::string parse_error(const std::string& text) {
  auto r = parse_network(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? std::string() : r.error().message;
}

TEST(Egress, ParsesNetworks) {
  auto n = parse_network("10.1.0.0/16");
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->v6);
  EXPECT_EQ(n->prefix, 16);
  EXPECT_EQ(n->to_string(), "10.1.0.0/16");
  EXPECT_TRUE(n->contains(ip::make_address("10.1.255.7")));
  EXPECT_FALSE(n->contains(ip::make_address("10.2.0.1")));
  EXPECT_FALSE(n->contains(ip::make_address("::ffff:10.1.0.1")));  // other family

  auto host = parse_network("192.168.1.5");  // a bare address: one host
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->prefix, 32);
  EXPECT_TRUE(host->contains(ip::make_address("192.168.1.5")));
  EXPECT_FALSE(host->contains(ip::make_address("192.168.1.6")));

  auto v6 = parse_network("fd00:1::/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->v6);
  EXPECT_TRUE(v6->contains(ip::make_address("fd00:1:ffff::1")));
  EXPECT_FALSE(v6->contains(ip::make_address("fd00:2::1")));
  EXPECT_FALSE(v6->contains(ip::make_address("10.0.0.1")));

  auto odd = parse_network("fc00::/7");  // a prefix that is not a whole byte
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->contains(ip::make_address("fdff::1")));
  EXPECT_FALSE(odd->contains(ip::make_address("fe00::1")));

  auto all = parse_network("0.0.0.0/0");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->contains(ip::make_address("255.1.2.3")));
  EXPECT_EQ(parse_network("::1/128")->prefix, 128);
  EXPECT_EQ(parse_network("::/0")->prefix, 0);
}

TEST(Egress, RejectsBadNetworks) {
  EXPECT_NE(parse_error("").find("not an IP address"), std::string::npos);
  EXPECT_NE(parse_error("nope/8").find("'nope' is not an IP address"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/33").find("0 to 32"), std::string::npos);
  EXPECT_NE(parse_error("::/129").find("0 to 128"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/").find("prefix"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/x").find("prefix"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/-1").find("prefix"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/8/8").find("prefix"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.256/8").find("not an IP address"), std::string::npos);
  EXPECT_NE(parse_error("fe80::1%eth0/64").find("zone"), std::string::npos);
  EXPECT_NE(parse_error("10.1.2.0/16").find("host bits are set (the network is 10.1.0.0/16)"),
            std::string::npos);
  EXPECT_NE(parse_error("fd00::1/64").find("fd00::/64"), std::string::npos);
}

TEST(Egress, RefusedIpv4Ranges) {
  EXPECT_EQ(why("0.0.0.0"), "unspecified");
  EXPECT_EQ(why("0.255.255.255"), "unspecified");
  EXPECT_EQ(why("127.0.0.1"), "loopback");
  EXPECT_EQ(why("127.255.255.254"), "loopback");
  EXPECT_EQ(why("10.0.0.1"), "private");
  EXPECT_EQ(why("10.255.255.255"), "private");
  EXPECT_EQ(why("172.16.0.1"), "private");
  EXPECT_EQ(why("172.31.255.255"), "private");
  EXPECT_EQ(why("192.168.0.1"), "private");
  EXPECT_EQ(why("192.168.255.255"), "private");
  EXPECT_EQ(why("169.254.169.254"), "link-local");  // cloud metadata
  EXPECT_EQ(why("169.254.0.1"), "link-local");
  EXPECT_EQ(why("100.64.0.1"), "CGNAT");
  EXPECT_EQ(why("100.127.255.255"), "CGNAT");
  EXPECT_EQ(why("224.0.0.1"), "multicast");
  EXPECT_EQ(why("239.255.255.255"), "multicast");
  EXPECT_EQ(why("240.0.0.1"), "reserved");
  EXPECT_EQ(why("255.255.255.255"), "broadcast");
  // Just outside each range.
  for (const char* a : {"1.0.0.0", "8.8.8.8", "9.255.255.255", "11.0.0.0", "126.255.255.255",
                        "128.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255",
                        "192.169.0.0", "169.253.255.255", "169.255.0.0", "100.63.255.255",
                        "100.128.0.0", "223.255.255.255"})
    EXPECT_EQ(why(a), "allowed") << a;
}

TEST(Egress, RefusedIpv6RangesAndEmbeddedIpv4) {
  EXPECT_EQ(why("::"), "unspecified");
  EXPECT_EQ(why("::1"), "loopback");
  EXPECT_EQ(why("fc00::1"), "private");
  EXPECT_EQ(why("fdff:ffff::1"), "private");
  EXPECT_EQ(why("fec0::1"), "private");  // site-local (deprecated)
  EXPECT_EQ(why("fe80::1"), "link-local");
  EXPECT_EQ(why("febf::1"), "link-local");
  EXPECT_EQ(why("ff02::1"), "multicast");
  EXPECT_EQ(why("2001:4860:4860::8888"), "allowed");
  EXPECT_EQ(why("fbff::1"), "allowed");
  EXPECT_EQ(why("::2"), "unspecified");  // IPv4-compatible 0.0.0.2
  // IPv4-mapped, IPv4-compatible and NAT64 forms answer for their IPv4 address.
  EXPECT_EQ(why("::ffff:169.254.169.254"), "link-local");
  EXPECT_EQ(why("::ffff:127.0.0.1"), "loopback");
  EXPECT_EQ(why("::ffff:10.0.0.1"), "private");
  EXPECT_EQ(why("::ffff:0.0.0.0"), "unspecified");
  EXPECT_EQ(why("::ffff:8.8.8.8"), "allowed");
  EXPECT_EQ(why("::127.0.0.1"), "loopback");
  EXPECT_EQ(why("::169.254.169.254"), "link-local");
  EXPECT_EQ(why("64:ff9b::169.254.169.254"), "link-local");
  EXPECT_EQ(why("64:ff9b::a00:1"), "private");  // 10.0.0.1
  EXPECT_EQ(why("64:ff9b::8.8.8.8"), "allowed");
  EXPECT_EQ(why("64:ff9b:1::a00:1"), "allowed");  // not the /96 well-known prefix
  // 6to4 and Teredo are deliberately not unwrapped (egress.h).
  EXPECT_EQ(why("2002:a9fe:a9fe::1"), "allowed");
}

TEST(Egress, AllowNetworksExempt) {
  EgressConfig c;
  c.allow_networks = {"127.0.0.0/8", "10.1.0.0/16", "fd00::/8"};
  auto p = EgressPolicy::make(c);
  ASSERT_TRUE(p.ok());
  auto refusal = [&](const char* a) {
    const char* w = (*p)->refusal(ip::make_address(a));
    return std::string(w ? w : "allowed");
  };
  EXPECT_EQ(refusal("127.0.0.1"), "allowed");
  EXPECT_EQ(refusal("::ffff:127.0.0.1"), "allowed");  // the same host, IPv4-mapped
  EXPECT_EQ(refusal("::1"), "loopback");              // 127/8 is not ::1
  EXPECT_EQ(refusal("10.1.2.3"), "allowed");
  EXPECT_EQ(refusal("10.2.0.1"), "private");
  EXPECT_EQ(refusal("fd12::1"), "allowed");
  EXPECT_EQ(refusal("fc00::1"), "private");
  EXPECT_EQ(refusal("169.254.169.254"), "link-local");
  EXPECT_EQ(refusal("8.8.8.8"), "allowed");  // public addresses need no allowance

  EgressPolicy none;
  EXPECT_STREQ(none.refusal(ip::make_address("127.0.0.1")), "loopback");
  EXPECT_STREQ(none.literal_refusal("169.254.169.254"), "link-local");
  EXPECT_EQ(none.literal_refusal("metadata.example"), nullptr);  // a name: checked at connect
  EXPECT_EQ(none.literal_refusal("8.8.8.8"), nullptr);

  EgressConfig bad;
  bad.allow_networks = {"10.0.0.0/99"};
  auto r = EgressPolicy::make(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("egress.allow_networks"), std::string::npos);
}

TEST(Egress, HostAllowlist) {
  EgressConfig c;
  c.allow_hosts = {"Internal-LLM.corp"};
  auto p = EgressPolicy::make(c);
  ASSERT_TRUE(p.ok());
  (*p)->allow_host("api.openai.com");
  (*p)->allow_host("API.OPENAI.COM");  // no duplicate
  EXPECT_EQ((*p)->hosts().size(), 2u);
  EXPECT_TRUE((*p)->host_allowed("internal-llm.corp"));
  EXPECT_TRUE((*p)->host_allowed("api.openai.com"));
  EXPECT_TRUE((*p)->host_allowed("Api.OpenAI.com"));
  EXPECT_FALSE((*p)->host_allowed("api.openai.com.evil.example"));
  EXPECT_FALSE((*p)->host_allowed("evil.api.openai.com"));
  EXPECT_FALSE((*p)->host_allowed("api.openai.co"));
  EXPECT_FALSE((*p)->host_allowed(""));
}

TEST(Egress, DeniedErrors) {
  ApiError e = EgressPolicy::denied("metadata.example", ip::make_address("169.254.169.254"),
                                    "link-local");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.code, "egress_denied");
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.message,
            "egress refused: upstream host metadata.example resolved to 169.254.169.254 "
            "(link-local); allow it with egress.allow_networks");
  ApiError lit = EgressPolicy::denied("10.0.0.1", ip::make_address("10.0.0.1"), "private");
  EXPECT_EQ(lit.message,
            "egress refused: upstream host 10.0.0.1 is private; allow it with "
            "egress.allow_networks");
  ApiError h = EgressPolicy::host_denied("evil.example");
  EXPECT_EQ(h.code, "egress_denied");
  EXPECT_TRUE(h.retryable);
  EXPECT_NE(h.message.find("egress.allow_hosts"), std::string::npos);
}

TEST(Egress, LoaderErrorsNameFileLineAndPath) {
  auto r = parse_config(
      "providers: []\n"
      "egress:\n"
      "  allow_networks: [10.0.0.0/8, 10.1.2.0/16, nope]\n"
      "  allow_hosts:\n"
      "    - ok.example\n"
      "    - http://x.example/\n"
      "    - host.example:8080\n",
      "t.yaml");
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("t.yaml:3: egress.allow_networks[1]: '10.1.2.0/16' is not a network (CIDR): "
                   "host bits are set (the network is 10.1.0.0/16)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("t.yaml:3: egress.allow_networks[2]: 'nope' is not a network"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("t.yaml:6: egress.allow_hosts[1]: must be a host name"), std::string::npos)
      << m;
  EXPECT_NE(m.find("t.yaml:7: egress.allow_hosts[2]"), std::string::npos) << m;
  EXPECT_EQ(m.find("allow_networks[0]"), std::string::npos) << m;

  auto good = parse_config(
      "providers: []\n"
      "egress: {allow_hosts: [a.example, \"::1\"], allow_networks: [127.0.0.0/8, \"fd00::/8\"]}\n",
      "t.yaml");
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->egress.allow_hosts, (std::vector<std::string>{"a.example", "::1"}));
  EXPECT_EQ(good->egress.allow_networks, (std::vector<std::string>{"127.0.0.0/8", "fd00::/8"}));
}

ProviderConfig provider(const std::string& name, const std::string& kind,
                        const std::string& base_url) {
  ProviderConfig p;
  p.name = name;
  p.kind = kind;
  p.base_url = base_url;
  p.models = {"m"};
  return p;
}

TEST(Egress, SnapshotRefusesLiteralAddressesAtLoad) {
  Config c;
  c.providers.push_back(provider("meta", "openai-compatible", "http://169.254.169.254/v1"));
  auto r = build_snapshot(c, "http://127.0.0.1:7777");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "provider 'meta': base_url host 169.254.169.254 is link-local; egress refuses it "
            "(allow it with egress.allow_networks)");

  Config mapped;
  mapped.providers.push_back(
      provider("m6", "openai-compatible", "http://[::ffff:127.0.0.1]:8080/v1"));
  auto r6 = build_snapshot(mapped, "http://127.0.0.1:7777");
  ASSERT_FALSE(r6.ok());
  EXPECT_NE(r6.error().message.find("is loopback"), std::string::npos) << r6.error().message;

  c.egress.allow_networks = {"169.254.0.0/16"};
  auto ok = build_snapshot(c, "http://127.0.0.1:7777");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
}

TEST(Egress, SnapshotSetsThePolicyOnProviderEndpointsButNotTheBuiltinMock) {
  Config c;
  c.providers.push_back(provider("named", "openai-compatible", "http://localhost:9/v1"));
  c.providers.push_back(provider("pub", "openai-compatible", "https://api.example.com/v1"));
  c.providers.push_back(provider("mock", "mock", ""));
  c.egress.allow_hosts = {"extra.example"};
  auto r = build_snapshot(c, "http://127.0.0.1:7777");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& s = **r;
  const Endpoint& named = s.provider_by_name.at("named")->endpoint();
  const Endpoint& pub = s.provider_by_name.at("pub")->endpoint();
  ASSERT_NE(named.egress, nullptr);
  EXPECT_EQ(named.egress, pub.egress);  // one per snapshot
  EXPECT_TRUE(named.egress->host_allowed("localhost"));
  EXPECT_TRUE(named.egress->host_allowed("api.example.com"));
  EXPECT_TRUE(named.egress->host_allowed("extra.example"));
  EXPECT_FALSE(named.egress->host_allowed("other.example"));
  EXPECT_EQ(s.provider_by_name.at("mock")->endpoint().egress, nullptr);
}

TEST(Egress, BedrockKeepsThePolicyOnTheEndpointItDerives) {
  Config c;
  ProviderConfig b = provider("bed", "bedrock", "");
  b.region = "eu-west-3";
  b.aws_access_key_id.value = "AKIDEXAMPLE";
  b.aws_secret_access_key.value = "secret";
  c.providers.push_back(b);
  auto r = build_snapshot(c, "http://127.0.0.1:7777");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Endpoint& ep = (*r)->provider_by_name.at("bed")->endpoint();
  EXPECT_EQ(ep.host, "bedrock-runtime.eu-west-3.amazonaws.com");
  ASSERT_NE(ep.egress, nullptr);
  EXPECT_TRUE(ep.egress->host_allowed(ep.host));
}

// connect(): runs one send on a fresh io_context.
Result<std::unique_ptr<UpstreamResponse>> send(const Endpoint& ep) {
  net::io_context io;
  std::optional<Result<std::unique_ptr<UpstreamResponse>>> out;
  std::unique_ptr<UpstreamClient> client = UpstreamClient::make();
  UpstreamRequest req;
  req.path = "/v1/chat/completions";
  req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  net::co_spawn(
      io,
      [&]() -> Task<void> { out.emplace(co_await client->send(ep, req)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  client.reset();
  if (!out) return ApiError::internal("no result");
  return std::move(*out);
}

// A listening socket on 127.0.0.1 that never accepts: a refused connect must leave its
// backlog empty.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0)
      throw std::runtime_error("bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
  bool connection_pending() const {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 50) > 0;
  }
};

Endpoint endpoint_to(const std::string& host, uint16_t port,
                     std::shared_ptr<const EgressPolicy> egress) {
  auto ep = make_endpoint("http://" + host + ":" + std::to_string(port) + "/v1", "", {});
  if (!ep) throw std::runtime_error(ep.error().message);
  ep->egress = std::move(egress);
  return *ep;
}

TEST(Egress, ConnectRefusesLoopbackLiteralAndResolvedNames) {
  Listener l;
  auto policy = std::make_shared<EgressPolicy>();
  policy->allow_host("127.0.0.1");
  policy->allow_host("localhost");
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto r = send(endpoint_to(host, l.port, policy));
    ASSERT_FALSE(r.ok()) << host;
    EXPECT_EQ(r.error().status, 502);
    EXPECT_EQ(r.error().code, "egress_denied") << r.error().message;
    EXPECT_TRUE(r.error().retryable);
    EXPECT_NE(r.error().message.find("loopback"), std::string::npos) << r.error().message;
    EXPECT_FALSE(l.connection_pending()) << host << ": connected although refused";
  }
  // "localhost" resolves (here) to loopback addresses only: the message names one of them.
  auto named = send(endpoint_to("localhost", l.port, policy));
  ASSERT_FALSE(named.ok());
  EXPECT_NE(named.error().message.find("upstream host localhost resolved to "), std::string::npos)
      << named.error().message;
}

TEST(Egress, ConnectRefusesHostsOutsideTheAllowlist) {
  Listener l;
  auto policy = std::make_shared<EgressPolicy>();
  policy->allow_network(*parse_network("127.0.0.0/8"));
  auto r = send(endpoint_to("127.0.0.1", l.port, policy));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "egress_denied");
  EXPECT_NE(r.error().message.find("not a configured provider host"), std::string::npos);
  EXPECT_FALSE(l.connection_pending());
}

TEST(Egress, ConnectGoesThroughWhenAllowed) {
  // The listener never answers: an allowed call connects (the backlog holds it), then times out
  // waiting for the head, which is anything but egress_denied.
  auto policy = std::make_shared<EgressPolicy>();
  policy->allow_host("127.0.0.1");
  policy->allow_network(*parse_network("127.0.0.0/8"));
  for (auto egress : {std::shared_ptr<const EgressPolicy>(policy),
                      std::shared_ptr<const EgressPolicy>()}) {  // null: no check at all
    Listener l;
    auto ep = endpoint_to("127.0.0.1", l.port, egress);
    ep.timeouts.first_byte = std::chrono::milliseconds(200);
    auto r = send(ep);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().status, 504) << r.error().message;
    EXPECT_TRUE(l.connection_pending());
  }
}

}  // namespace
}  // namespace torii
