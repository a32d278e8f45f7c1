// make_endpoint: URL parsing, default ports, base path, IPv6, TLS context, and its errors.
#include "upstream/endpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace torii {
namespace {

Endpoint ok(const std::string& url, const std::string& ca = "") {
  UpstreamTimeouts t;
  t.first_byte = std::chrono::milliseconds(1234);
  auto r = make_endpoint(url, ca, t);
  if (!r.ok()) throw std::runtime_error(url + ": " + r.error().message);
  EXPECT_EQ(r->timeouts.first_byte.count(), 1234);
  return *r;
}

std::string err(const std::string& url, const std::string& ca = "") {
  auto r = make_endpoint(url, ca, UpstreamTimeouts{});
  EXPECT_FALSE(r.ok()) << url;
  return r.ok() ? std::string() : r.error().message;
}

TEST(Endpoint, HttpDefaultPort) {
  Endpoint e = ok("http://example.com/v1");
  EXPECT_FALSE(e.tls);
  EXPECT_EQ(e.host, "example.com");
  EXPECT_EQ(e.port, 80);
  EXPECT_EQ(e.base_path, "/v1");
  EXPECT_EQ(e.host_header, "example.com");
  EXPECT_EQ(e.tls_context, nullptr);
}

TEST(Endpoint, HttpsDefaultPortHasTlsContext) {
  Endpoint e = ok("https://api.example.com/v1");
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.port, 443);
  EXPECT_EQ(e.host_header, "api.example.com");
  EXPECT_NE(e.tls_context, nullptr);
  // Endpoints without their own CA share the system-store context.
  EXPECT_EQ(ok("https://other.example.com").tls_context, e.tls_context);
}

TEST(Endpoint, ExplicitPort) {
  Endpoint e = ok("http://127.0.0.1:8080/v1");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 8080);
  EXPECT_EQ(e.host_header, "127.0.0.1:8080");
  Endpoint s = ok("https://h:8443");
  EXPECT_EQ(s.port, 8443);
  EXPECT_EQ(s.host_header, "h:8443");
  // An explicit default port is not repeated in Host.
  EXPECT_EQ(ok("http://h:80/").host_header, "h");
  // Different ports, different pool keys.
  EXPECT_NE(ok("http://h:1/").key, ok("http://h:2/").key);
  EXPECT_EQ(ok("http://h/v1").key, ok("http://h:80/v2").key);
}

TEST(Endpoint, BasePathTrailingSlashTrimmed) {
  EXPECT_EQ(ok("http://h/v1/").base_path, "/v1");
  EXPECT_EQ(ok("http://h/api/v1//").base_path, "/api/v1");
  EXPECT_EQ(ok("http://h/").base_path, "");
  EXPECT_EQ(ok("http://h").base_path, "");
}

TEST(Endpoint, Ipv6Literal) {
  Endpoint e = ok("http://[::1]:9000/v1");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 9000);
  EXPECT_EQ(e.host_header, "[::1]:9000");
  EXPECT_EQ(ok("http://[::1]/").host_header, "[::1]");
}

TEST(Endpoint, BadSchemeAndShape) {
  EXPECT_NE(err("ftp://h/v1").find("scheme"), std::string::npos);
  EXPECT_FALSE(err("not a url").empty());
  EXPECT_FALSE(err("/v1/only-a-path").empty());
  EXPECT_FALSE(err("http:///v1").empty());
  EXPECT_FALSE(err("http://h:0/v1").empty());
}

TEST(Endpoint, PortOutOfRangeRejected) {
  EXPECT_FALSE(err("http://h:65536/v1").empty());
  EXPECT_FALSE(err("http://h:70000/v1").empty());
}

TEST(Endpoint, FiveDigitPortAbove65535Rejected) {
  // Regression: Boost.URL's port_number() wraps some out-of-range ports (99999 became 34463).
  EXPECT_FALSE(err("http://h:99999/v1").empty());
}

TEST(Endpoint, CredentialsRejectedWithoutEchoingThem) {
  std::string m = err("https://user:s3cr3t-pw@api.example.com/v1");
  EXPECT_NE(m.find("credentials"), std::string::npos) << m;
  EXPECT_EQ(m.find("s3cr3t-pw"), std::string::npos) << m;
  EXPECT_FALSE(err("http://user@h/").empty());
}

TEST(Endpoint, UnreadableCaFile) {
  std::string m = err("https://h/v1", "/nonexistent/dir/ca.pem");
  EXPECT_NE(m.find("ca_file"), std::string::npos) << m;
  EXPECT_NE(m.find("/nonexistent/dir/ca.pem"), std::string::npos) << m;
  // The CA file is part of the pool key.
  EXPECT_NE(ok("http://h/", "/a.pem").key, ok("http://h/").key);
}

}  // namespace
}  // namespace torii
