// Tests for the hashicorp vault backend and http_fetch (src/identity/vault_hashicorp.cpp,
// src/upstream/http_fetch.cpp) against a tiny blocking HTTP server on 127.0.0.1:0 that answers
// canned responses in order and records each request head.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "identity/vault.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"

namespace torii::identity {
namespace {

class CannedServer {
 public:
  explicit CannedServer(std::vector<std::pair<int, std::string>> answers)
      : answers_(std::move(answers)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 8);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  void serve() {
    for (const auto& [status, body] : answers_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        heads_.push_back(head);
      }
      const std::string resp = "HTTP/1.1 " + std::to_string(status) +
                               " X\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                               body;
      (void)!::write(c, resp.data(), resp.size());
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::vector<std::pair<int, std::string>> answers_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> heads_;
};

constexpr const char* kToken = "hvs-unit-test-token-value";

VaultConfig hashicorp(const std::string& url) {
  VaultConfig c;
  c.backend = "hashicorp";
  c.address = url;
  c.namespace_ = "ns1";
  c.token.value = kToken;
  c.ttl = std::chrono::seconds(0);
  return c;
}

TEST(VaultHashicorp, ReadsKvV2AndMapsErrors) {
  CannedServer server({
      {200, R"({"data":{"data":{"api_key":"sk-kv2","org":"o"},"metadata":{"version":3}}})"},
      {403, R"({"errors":["permission denied"]})"},
      {404, R"({"errors":[]})"},
      {200, R"({"data":{"data":{"other":"x"},"metadata":{"version":1}}})"},
      {200, R"({"keys":["not kv2"]})"},
      {500, R"({"errors":["sealed"]})"},
  });
  auto v = make_vault(hashicorp(server.url()));
  ASSERT_TRUE(v.ok()) << v.error().message;
  auto ok = (*v)->get("team/openai", "api_key");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, "sk-kv2");
  auto msg = [&](const char* name) {
    auto r = (*v)->get(name, "api_key");
    EXPECT_FALSE(r.ok());
    const std::string m = r.ok() ? "" : r.error().message;
    EXPECT_EQ(m.find(kToken), std::string::npos);
    return m;
  };
  EXPECT_NE(msg("denied").find("permission denied (check the token)"), std::string::npos);
  EXPECT_NE(msg("missing").find("secret missing not found"), std::string::npos);
  EXPECT_NE(msg("nokey").find("key api_key not in secret nokey"), std::string::npos);
  EXPECT_NE(msg("kv1").find("not a KV v2 answer"), std::string::npos);
  EXPECT_NE(msg("sealed").find("HTTP 500"), std::string::npos);

  const auto heads = server.heads();
  ASSERT_EQ(heads.size(), 6u);
  EXPECT_EQ(heads[0].rfind("GET /v1/secret/data/team/openai HTTP/1.1\r\n", 0), 0u) << heads[0];
  EXPECT_NE(heads[0].find(std::string("X-Vault-Token: ") + kToken + "\r\n"), std::string::npos);
  EXPECT_NE(heads[0].find("X-Vault-Namespace: ns1\r\n"), std::string::npos);
}

TEST(VaultHashicorp, UnreachableAndBadAddress) {
  // A port nothing listens on: bound, then closed.
  std::string url;
  {
    CannedServer gone({});
    url = gone.url();
  }
  auto v = make_vault(hashicorp(url));
  ASSERT_TRUE(v.ok());
  auto r = (*v)->get("openai", "api_key");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("vault secret openai/api_key"), std::string::npos);
  EXPECT_EQ(r.error().message.find(kToken), std::string::npos);
  EXPECT_FALSE(make_vault(hashicorp("not a url")).ok());
  VaultConfig no_token = hashicorp(url);
  no_token.token.value.clear();
  EXPECT_FALSE(make_vault(no_token).ok());
}

TEST(HttpFetch, ReturnsStatusAndBody) {
  CannedServer server({{200, R"({"keys":[]})"}, {200, std::string(100, 'x')}});
  auto ep = make_endpoint(server.url() + "/base", "", UpstreamTimeouts{});
  ASSERT_TRUE(ep.ok());
  UpstreamRequest req;
  req.method = "GET";
  req.path = ep->base_path + "/jwks.json";
  auto r = http_fetch(*ep, req, 1024);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"keys":[]})");
  EXPECT_EQ(server.heads().at(0).rfind("GET /base/jwks.json HTTP/1.1\r\n", 0), 0u);
  auto big = http_fetch(*ep, req, 10);  // past the limit
  EXPECT_FALSE(big.ok());
}

}  // namespace
}  // namespace torii::identity
