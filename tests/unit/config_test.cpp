// Tests for src/config: the YAML loader, its validation messages, secrets and the demo default.
#include "config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace torii {
namespace {

// A file under the test's temp dir, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content, const std::string& name = "secret") {
    path_ = ::testing::TempDir() + "torii_config_" + std::to_string(::getpid()) + "_" + name;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_, old_;
  bool had_ = false;
};

std::string error_of(const std::string& yaml) {
  auto r = parse_config(yaml, "t.yaml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
  return r.ok() ? std::string() : r.error().message;
}

constexpr const char* kFull = R"(# a full config
server:
  listen: "0.0.0.0:9090"
  workers: 3
  max_body_bytes: 2048
  max_header_bytes: 4096
  max_connections: 100
  idle_timeout_ms: 1000
  body_timeout_ms: 2000
  write_timeout_ms: 3000
  shutdown_grace_ms: 4000
providers:
  - name: local
    kind: openai-compatible
    base_url: http://127.0.0.1:9999/v1/
    api_key: ${env:TORII_TEST_LOCAL_KEY}
    headers: {X-Extra: value, X-Org: "${env:TORII_TEST_ORG}"}
    models: [mock-1, mock-2]
    timeouts: {connect_ms: 100, first_byte_ms: 200, idle_ms: 300}
  - name: oai
    kind: ollama
routes:
  - name: fast
    targets: [local/mock-1, oai/gpt-4o]
auth:
  api_keys:
    - name: team-a
      key: ${env:TORII_TEST_TEAM_KEY}
      metadata: {team: a, tier: gold}
    - name: team-b
      key: literal-key-b
)";

TEST(ConfigLoader, ParsesFullConfig) {
  ScopedEnv a("TORII_TEST_LOCAL_KEY", "sk-local-123");
  ScopedEnv b("TORII_TEST_TEAM_KEY", "sk-team-a");
  ScopedEnv c("TORII_TEST_ORG", "org-7");
  auto r = parse_config(kFull, "full.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c0 = r.value();
  EXPECT_EQ(c0.source, "full.yaml");
  EXPECT_FALSE(c0.demo);
  EXPECT_EQ(c0.server.host, "0.0.0.0");
  EXPECT_EQ(c0.server.port, 9090);
  EXPECT_EQ(c0.server.workers, 3);
  EXPECT_EQ(c0.server.max_body_bytes, 2048u);
  EXPECT_EQ(c0.server.max_header_bytes, 4096u);
  EXPECT_EQ(c0.server.max_connections, 100u);
  EXPECT_EQ(c0.server.idle_timeout.count(), 1000);
  EXPECT_EQ(c0.server.body_timeout.count(), 2000);
  EXPECT_EQ(c0.server.write_timeout.count(), 3000);
  EXPECT_EQ(c0.server.shutdown_grace.count(), 4000);

  ASSERT_EQ(c0.providers.size(), 2u);
  const ProviderConfig& p = c0.providers[0];
  EXPECT_EQ(p.name, "local");
  EXPECT_EQ(p.kind, "openai-compatible");
  EXPECT_EQ(p.base_url, "http://127.0.0.1:9999/v1");  // trailing slash dropped
  EXPECT_EQ(p.api_key.value, "sk-local-123");
  EXPECT_EQ(p.api_key.reference, "${env:TORII_TEST_LOCAL_KEY}");
  EXPECT_FALSE(p.api_key.literal);
  EXPECT_EQ(p.headers.at("X-Extra"), "value");
  EXPECT_EQ(p.headers.at("X-Org"), "org-7");
  EXPECT_EQ(p.models, (std::vector<std::string>{"mock-1", "mock-2"}));
  EXPECT_EQ(p.timeouts.connect.count(), 100);
  EXPECT_EQ(p.timeouts.first_byte.count(), 200);
  EXPECT_EQ(p.timeouts.idle.count(), 300);
  EXPECT_EQ(p.line, 13);  // the "- name: local" line
  EXPECT_EQ(c0.providers[1].kind, "ollama");
  EXPECT_TRUE(c0.providers[1].base_url.empty());  // the vendor table fills it later
  EXPECT_TRUE(c0.providers[1].api_key.empty());
  EXPECT_EQ(c0.providers[1].timeouts.connect.count(), 5000);  // default kept

  ASSERT_EQ(c0.routes.size(), 1u);
  EXPECT_EQ(c0.routes[0].name, "fast");
  ASSERT_EQ(c0.routes[0].targets.size(), 2u);
  EXPECT_EQ(c0.routes[0].targets[0].provider, "local");
  EXPECT_EQ(c0.routes[0].targets[0].model, "mock-1");
  EXPECT_EQ(c0.routes[0].targets[1].provider, "oai");
  EXPECT_EQ(c0.routes[0].targets[1].model, "gpt-4o");
  EXPECT_EQ(c0.routes[0].line, 23);

  ASSERT_EQ(c0.api_keys.size(), 2u);
  EXPECT_EQ(c0.api_keys[0].name, "team-a");
  EXPECT_EQ(c0.api_keys[0].key.value, "sk-team-a");
  EXPECT_EQ(c0.api_keys[0].metadata.at("tier"), "gold");
  EXPECT_EQ(c0.api_keys[1].key.value, "literal-key-b");
  EXPECT_TRUE(c0.api_keys[1].key.literal);
  EXPECT_EQ(c0.api_keys[1].key.reference, "<literal>");
}

TEST(ConfigLoader, DefaultsWhenSectionsAreAbsent) {
  auto r = parse_config("providers: []\n", "t.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->server.host, "127.0.0.1");
  EXPECT_EQ(r->server.port, 8080);
  EXPECT_EQ(r->server.max_body_bytes, 10u << 20);
  EXPECT_TRUE(r->routes.empty());
}

TEST(ConfigLoader, ListenAcceptsPortZeroAndIpv6) {
  auto r = parse_config("server: {listen: \"[::1]:0\"}\n", "t.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->server.host, "::1");
  EXPECT_EQ(r->server.port, 0);
}

struct BadCase {
  const char* yaml;
  const char* expected;  // a substring of the message: "file:line: path: ..."
};

class ConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrors, NamesFileLineAndPath) {
  const std::string msg = error_of(GetParam().yaml);
  EXPECT_NE(msg.find(GetParam().expected), std::string::npos)
      << "message: " << msg << "\nexpected: " << GetParam().expected;
}

INSTANTIATE_TEST_SUITE_P(
    Validation, ConfigErrors,
    ::testing::Values(
        BadCase{"server:\n  listen: 127.0.0.1:70000\n",
                "t.yaml:2: server.listen: the port must be an integer from 0 to 65535"},
        BadCase{"server:\n  listen: localhost\n", "t.yaml:2: server.listen: must be HOST:PORT"},
        BadCase{"server:\n  listen: \":80\"\n", "t.yaml:2: server.listen: the host is empty"},
        BadCase{"server:\n  listen: ::1:80\n", "t.yaml:2: server.listen: an IPv6 address"},
        BadCase{"server:\n  workers: -1\n", "t.yaml:2: server.workers: must be at least 0"},
        BadCase{"server:\n  max_body_bytes: 0\n",
                "t.yaml:2: server.max_body_bytes: must be a positive integer"},
        BadCase{"server:\n  idle_timeout_ms: 1.5\n",
                "t.yaml:2: server.idle_timeout_ms: must be an integer"},
        BadCase{"server:\n  body_timeout_ms: [1]\n",
                "t.yaml:2: server.body_timeout_ms: must be an integer"},
        BadCase{"server: 5\n", "t.yaml:1: server: must be a mapping"},
        BadCase{"providers:\n  - name: a\n    kind: nope\n",
                "t.yaml:3: providers[0].kind: unknown kind 'nope'"},
        BadCase{"providers:\n  - kind: openai\n", "t.yaml:2: providers[0].name: is required"},
        BadCase{"providers:\n  - name: a\n", "t.yaml:2: providers[0].kind: is required"},
        BadCase{"providers:\n  - name: \"\"\n    kind: openai\n",
                "t.yaml:2: providers[0].name: must not be empty"},
        BadCase{"providers:\n  - name: a/b\n    kind: openai\n",
                "t.yaml:2: providers[0].name: must not contain '/'"},
        BadCase{"providers:\n  - {name: a, kind: openai}\n  - {name: a, kind: groq}\n",
                "t.yaml:3: providers[1].name: duplicate provider name 'a' (also providers[0])"},
        BadCase{"providers:\n  - {name: a, kind: openai}\n  - name: b\n    kind: openai\n"
                "    base_url: ftp://x\n",
                "t.yaml:5: providers[1].base_url: must start with http:// or https://"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n    base_url: http://u:p@h/v1\n",
                "t.yaml:4: providers[0].base_url: must not carry credentials"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n    base_url: http://h:99999/v1\n",
                "t.yaml:4: providers[0].base_url: has an invalid port"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n    base_url: http:///v1\n",
                "t.yaml:4: providers[0].base_url: is not a valid URL with a host"},
        BadCase{"providers:\n  - name: a\n    kind: openai-compatible\n",
                "t.yaml:3: providers[0].base_url: is required for kind openai-compatible"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n",
                "t.yaml:3: providers[0].api_key: is required for kind openai"},
        BadCase{"providers:\n  - name: a\n    kind: ollama\n    region: us-east-1\n",
                "t.yaml:3: providers[0].region: is not used by kind ollama"},
        BadCase{"providers:\n  - name: a\n    kind: anthropic\n    api_key: k\n"
                "    account_id: x\n",
                "t.yaml:3: providers[0].account_id: is not used by kind anthropic"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n    timeouts: {connect_ms: 0}\n",
                "t.yaml:4: providers[0].timeouts.connect_ms: must be a positive integer"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n    models: [x, x]\n",
                "t.yaml:4: providers[0].models[1]: duplicate model 'x'"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n    headers: {\"Bad Name\": v}\n",
                "t.yaml:4: providers[0].headers.Bad Name: is not a valid HTTP header name"},
        BadCase{"providers:\n  - name: a\n    kind: openai\n    ca_file: /nonexistent/ca.pem\n",
                "t.yaml:4: providers[0].ca_file: cannot read /nonexistent/ca.pem"},
        BadCase{"providers: {a: 1}\n", "t.yaml:1: providers: must be a list"},
        BadCase{"providers:\n  - {name: a, kind: openai}\nroutes:\n  - name: a\n"
                "    targets: [a/x]\n",
                "t.yaml:4: routes[0].name: 'a' is already a provider name"},
        BadCase{"providers:\n  - {name: a, kind: openai}\nroutes:\n  - {name: r, targets: [a/x]}\n"
                "  - {name: r, targets: [a/y]}\n",
                "t.yaml:5: routes[1].name: duplicate route name 'r' (also routes[0])"},
        BadCase{"providers:\n  - {name: a, kind: openai}\nroutes:\n  - name: r\n"
                "    targets:\n      - a/x\n      - b/y\n",
                "t.yaml:7: routes[0].targets[1]: unknown provider 'b'"},
        BadCase{"providers:\n  - {name: a, kind: openai}\nroutes:\n  - name: r\n"
                "    targets: [nomodel]\n",
                "t.yaml:5: routes[0].targets[0]: must be provider/model"},
        BadCase{"routes:\n  - name: r\n", "t.yaml:2: routes[0].targets: is required"},
        BadCase{"routes:\n  - name: r\n    targets: []\n",
                "t.yaml:3: routes[0].targets: must list at least one provider/model"},
        BadCase{"auth:\n  api_keys:\n    - {name: k, key: one}\n    - {name: k, key: two}\n",
                "t.yaml:4: auth.api_keys[1].name: duplicate key name 'k' (also auth.api_keys[0])"},
        BadCase{"auth:\n  api_keys:\n    - name: k\n      key: \"\"\n",
                "t.yaml:4: auth.api_keys[0].key: must not be empty"},
        BadCase{"auth:\n  api_keys:\n    - name: k\n",
                "t.yaml:3: auth.api_keys[0]: needs exactly one of key, key_sha256"},
        BadCase{"auth:\n  api_keys:\n    - {name: k1, key: same}\n    - name: k2\n"
                "      key: same\n",
                "t.yaml:5: auth.api_keys[1].key: the same key value as auth.api_keys[0]"},
        // The same key given as a value and as its digest (upper-case hex) is still the same key.
        BadCase{"auth:\n  api_keys:\n    - {name: k1, key: tk-same-value-0123456789abcdef0123}\n"
                "    - name: k2\n      key_sha256: "
                "4C096C70250177DC6B23DA707D920518369629817705F5A9C88BE4EBBBEFD416\n",
                "t.yaml:5: auth.api_keys[1].key_sha256: the same key value as auth.api_keys[0]"},
        BadCase{"auth:\n  api_keys:\n    - name: k\n      key_sha256: abc\n",
                "t.yaml:4: auth.api_keys[0].key_sha256: must be 64 hex characters"},
        BadCase{"auth:\n  consumers:\n    - {id: c, kind: robot}\n",
                "t.yaml:3: auth.consumers[0].kind: must be app, user or team, got 'robot'"},
        BadCase{"auth:\n  consumers:\n    - {id: c}\n    - {id: c}\n",
                "t.yaml:4: auth.consumers[1].id: duplicate consumer id 'c'"},
        BadCase{"auth:\n  consumers:\n    - {id: t1, kind: team}\n    - {id: t2, kind: team, "
                "team: t1}\n    - {id: u, team: t2}\n",
                "auth.consumers[2].team: team 't2' is itself in a team (one level only)"},
        BadCase{"auth:\n  api_keys:\n    - name: k\n      key: k-value-0123\n      previous:\n"
                "        - {key: a, key_sha256: "
                "4c096c70250177dc6b23da707d920518369629817705f5a9c88be4ebbbefd416, "
                "expires_at: 2030-01-01T00:00:00Z}\n",
                "t.yaml:6: auth.api_keys[0].previous[0]: needs exactly one of key, key_sha256"},
        BadCase{"auth:\n  jwt:\n    - {issuer: i, jwks_url: \"ftp://x/jwks\"}\n",
                "t.yaml:3: auth.jwt[0].jwks_url: must be an http(s) URL"},
        BadCase{"auth:\n  jwt:\n    - {issuer: i}\n",
                "t.yaml:3: auth.jwt[0]: needs exactly one of jwks_url, jwks_file, hmac_secret"},
        BadCase{"auth:\n  jwt:\n    - {issuer: i, jwks_file: /j.json, algorithms: [RS256, HS256]}\n",
                "t.yaml:3: auth.jwt[0]: HS256 needs hmac_secret"},
        BadCase{"auth:\n  jwt:\n    - {issuer: i, jwks_file: /j.json}\n"
                "    - {issuer: i, jwks_file: /k.json}\n",
                "t.yaml:4: auth.jwt[1].issuer: duplicate issuer 'i'"},
        BadCase{"auth:\n  jwt:\n    - {issuer: i, jwks_file: /j.json, consumer: ghost}\n",
                "t.yaml:3: auth.jwt[0].consumer: no consumer 'ghost' in auth.consumers"},
        BadCase{"server:\n  listen: 1.2.3.4:80\n  listen: 1.2.3.4:81\n",
                "t.yaml:3: server.listen: duplicate key"},
        BadCase{"server: [\n", "t.yaml:"},
        BadCase{"", "t.yaml:1: the document must be a mapping"}));

TEST(ConfigLoader, RejectsUnknownKeysWithSuggestion) {
  const std::string msg =
      error_of("providers:\n  - name: a\n    kind: openai\n    base_ur: http://x\n");
  EXPECT_NE(msg.find("t.yaml:4: providers[0].base_ur: unknown key (did you mean base_url?)"),
            std::string::npos)
      << msg;
  const std::string top = error_of("servr:\n  listen: 1.2.3.4:1\n");
  EXPECT_NE(top.find("t.yaml:1: servr: unknown key (did you mean server?)"), std::string::npos)
      << top;
  const std::string far = error_of("auth:\n  totally_else: 1\n");
  EXPECT_NE(far.find("t.yaml:2: auth.totally_else: unknown key"), std::string::npos) << far;
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
}

TEST(ConfigLoader, ReportsEveryErrorAtOnce) {
  const std::string msg =
      error_of("server:\n  workers: x\n  listen: nope\nproviders:\n  - name: a\n    kind: zz\n");
  EXPECT_NE(msg.find("t.yaml:2: server.workers"), std::string::npos) << msg;
  EXPECT_NE(msg.find("t.yaml:3: server.listen"), std::string::npos) << msg;
  EXPECT_NE(msg.find("t.yaml:6: providers[0].kind"), std::string::npos) << msg;
}

TEST(ConfigLoader, LoadsFileAndNamesIt) {
  TempFile f("server:\n  listen: 127.0.0.1:0\nproviders:\n  - {name: m, kind: mock}\n", "ok.yaml");
  auto r = load_config_file(f.path());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, f.path());
  EXPECT_EQ(r->server.port, 0);

  TempFile bad("server:\n  listen: 127.0.0.1:0\n  wrokers: 2\n", "bad.yaml");
  auto e = load_config_file(bad.path());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find(bad.path() + ":3: server.wrokers: unknown key"),
            std::string::npos)
      << e.error().message;

  auto missing = load_config_file("/nonexistent/torii.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/torii.yaml: cannot read config file"),
            std::string::npos);
}

TEST(Secrets, EnvReference) {
  ScopedEnv e("TORII_TEST_SECRET", "s3cr3t-env");
  auto r = resolve_secret("${env:TORII_TEST_SECRET}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, "s3cr3t-env");
  EXPECT_EQ(r->reference, "${env:TORII_TEST_SECRET}");
  EXPECT_FALSE(r->literal);
}

TEST(Secrets, EnvUnsetOrEmptyIsAnError) {
  {
    ScopedEnv e("TORII_TEST_UNSET", nullptr);
    auto r = resolve_secret("${env:TORII_TEST_UNSET}");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "environment variable TORII_TEST_UNSET is not set");
  }
  {
    ScopedEnv e("TORII_TEST_EMPTY", "");
    auto r = resolve_secret("${env:TORII_TEST_EMPTY}");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "environment variable TORII_TEST_EMPTY is not set");
  }
  EXPECT_FALSE(resolve_secret("${env:}").ok());
  EXPECT_FALSE(resolve_secret("${env:BAD-NAME}").ok());
}

TEST(Secrets, FileReferenceTrimsTrailingNewline) {
  TempFile f("file-secret-value\n");
  auto r = resolve_secret("${file:" + f.path() + "}");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->value, "file-secret-value");
  TempFile crlf("v2\r\n", "crlf");
  EXPECT_EQ(resolve_secret("${file:" + crlf.path() + "}")->value, "v2");

  auto missing = resolve_secret("${file:/nonexistent/secret}");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot read secret file /nonexistent/secret"),
            std::string::npos);
  TempFile empty("\n", "empty");
  EXPECT_FALSE(resolve_secret("${file:" + empty.path() + "}").ok());
}

TEST(Secrets, LiteralAndMalformed) {
  auto lit = resolve_secret("sk-plain");
  ASSERT_TRUE(lit.ok());
  EXPECT_TRUE(lit->literal);
  EXPECT_EQ(lit->reference, "<literal>");
  EXPECT_EQ(lit->value, "sk-plain");
  EXPECT_FALSE(resolve_secret("${vault:x}").ok());
  EXPECT_FALSE(resolve_secret("Bearer ${env:X}").ok());
  EXPECT_FALSE(resolve_secret("").ok());
}

TEST(Secrets, FileSecretInConfig) {
  TempFile f("provider-key-from-file\n");
  auto r = parse_config(
      "providers:\n  - name: a\n    kind: openai\n    api_key: ${file:" + f.path() + "}\n",
      "t.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->providers[0].api_key.value, "provider-key-from-file");
  EXPECT_EQ(r->providers[0].api_key.reference, "${file:" + f.path() + "}");
}

TEST(Secrets, ConfigErrorNamesTheReference) {
  ScopedEnv e("TORII_TEST_MISSING", nullptr);
  const std::string msg = error_of(
      "providers:\n  - name: a\n    kind: openai\n    api_key: ${env:TORII_TEST_MISSING}\n");
  EXPECT_NE(msg.find("t.yaml:4: providers[0].api_key: environment variable TORII_TEST_MISSING "
                     "is not set"),
            std::string::npos)
      << msg;
}

// Every error path that touches a secret: the value must never be echoed.
TEST(Secrets, ValueNeverAppearsInErrors) {
  const std::string secret = "sk-SUPER-SECRET-9f8e7d";
  ScopedEnv e("TORII_TEST_LEAK", secret.c_str());
  TempFile f(secret + "\n");
  const std::string file_ref = "${file:" + f.path() + "}";
  const std::string cases[] = {
      // duplicate key values, via env, file and literal
      "auth:\n  api_keys:\n    - {name: a, key: \"${env:TORII_TEST_LEAK}\"}\n"
      "    - {name: b, key: \"" +
          file_ref + "\"}\n    - {name: c, key: " + secret + "}\n",
      // a literal where a mapping was expected
      "auth:\n  api_keys:\n    - " + secret + "\n",
      // a secret in a header value with a newline, and in a base_url
      "providers:\n  - name: a\n    kind: openai\n    headers: {X-K: \"" + secret +
          "\\n\"}\n"
          "    base_url: \"ftp://" +
          secret + "@h\"\n",
      "providers:\n  - name: a\n    kind: openai\n    base_url: \"http://u:" + secret +
          "@h/?q=1\"\n",
      // a secret in an unknown-scheme reference and around a reference
      "providers:\n  - name: a\n    kind: openai\n    api_key: \"${vault:" + secret + "}\"\n",
      "providers:\n  - name: a\n    kind: openai\n    api_key: \"" + secret + "${env:X}\"\n",
      // a literal secret followed by a syntax error
      "auth:\n  api_keys:\n    - {name: a, key: " + secret + "\n",
  };
  for (const std::string& yaml : cases) {
    const std::string msg = error_of(yaml);
    EXPECT_FALSE(msg.empty());
    EXPECT_EQ(msg.find("SUPER-SECRET"), std::string::npos) << msg;
  }
}

TEST(DefaultConfig, DemoWithMockProviderRouteAndKey) {
  ScopedEnv e("TORII_DEMO_KEY", nullptr);
  const Config c = default_config();
  EXPECT_TRUE(c.demo);
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8080);
  ASSERT_GE(c.providers.size(), 7u);
  EXPECT_EQ(c.providers[0].name, "mock");
  EXPECT_EQ(c.providers[0].kind, "mock");
  // Chat models first, then one per modality (docs/MODALITIES.md), each behind an alias.
  const auto& models = c.providers[0].models;
  ASSERT_GE(models.size(), 2u);
  EXPECT_EQ(models[0], "mock-1");
  EXPECT_EQ(models[1], "gpt-4o-mini");
  for (const char* m : {"text-embedding-3-small", "gpt-image-1", "dall-e-3", "tts-1", "whisper-1",
                        "omni-moderation-latest"}) {
    EXPECT_NE(std::find(models.begin(), models.end(), m), models.end()) << m;
    auto alias = std::find_if(c.routes.begin(), c.routes.end(),
                              [&](const RouteConfig& r) { return r.name == m; });
    ASSERT_NE(alias, c.routes.end()) << m;
    EXPECT_EQ(alias->targets.at(0).provider, "mock");
    EXPECT_EQ(alias->targets.at(0).model, m);
  }
  // The native adapters in front of the same built-in mock, to try translation offline.
  for (std::size_t i = 1; i + 1 < c.providers.size(); ++i) {
    EXPECT_EQ(c.providers[i].name, "mock-" + c.providers[i].kind);
    EXPECT_EQ(c.providers[i].base_url, kBuiltinMock);
  }
  ASSERT_GE(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].name, "demo");
  // The demo route: the mock, and a flaky one (30% failures) it fails over from.
  EXPECT_EQ(c.providers.back().name, "mock-flaky");
  EXPECT_EQ(c.providers.back().headers.at("x-mock-fail-percent"), "30");
  ASSERT_EQ(c.routes[0].targets.size(), 2u);
  EXPECT_EQ(c.routes[0].targets[0].provider, "mock");
  EXPECT_EQ(c.routes[0].targets[1].provider, "mock-flaky");
  ASSERT_EQ(c.api_keys.size(), 1u);
  EXPECT_EQ(c.api_keys[0].name, "demo");
  const std::string& key = c.api_keys[0].key.value;
  ASSERT_EQ(key.size(), 46u) << key;  // "tk-" + 43 base64url characters: 256 bits
  EXPECT_EQ(key.rfind("tk-", 0), 0u);
  EXPECT_NE(default_config().api_keys[0].key.value, key);  // random each time
  // The demonstrative rule: the demo key may not ask for more than 4096 tokens.
  ASSERT_EQ(c.authorization.rules.size(), 1u);
  EXPECT_EQ(c.authorization.rules[0].id, "demo-max-tokens");
  EXPECT_TRUE(c.authorization.rules[0].deny);
}

TEST(DefaultConfig, DemoKeyFromEnv) {
  ScopedEnv e("TORII_DEMO_KEY", "sk-my-demo");
  EXPECT_EQ(default_config().api_keys[0].key.value, "sk-my-demo");
}

}  // namespace
}  // namespace torii
