#pragma once
// The typed configuration, as loaded from YAML and validated (see docs/CONFIG.md).
// A Config is plain data; config/snapshot.h builds the live objects from it.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "server/server.h"

namespace torii {

// A secret as written in config: "${env:NAME}", "${file:/path}" or, discouraged, a literal.
// It is resolved at load; the resolved value is never logged or echoed in an error.
struct SecretRef {
  std::string reference;  // as written, safe to print (a literal prints as "<literal>")
  std::string value;      // resolved
  bool literal = false;   // written as a plain value in the file: the caller should warn
  bool empty() const { return value.empty(); }
};

struct UpstreamTimeouts {
  std::chrono::milliseconds connect{5'000};
  std::chrono::milliseconds first_byte{300'000};  // request sent -> response head
  std::chrono::milliseconds idle{120'000};        // between two reads of the body
};

// base_url value meaning "the gateway's in-process mock" (torii mock speaks every kind's format).
inline constexpr std::string_view kBuiltinMock = "builtin-mock";

struct ProviderConfig {
  std::string name;       // how models address it: "<name>/<model>"
  std::string kind;       // vendor kind: openai, mistral, groq, ..., openai-compatible, mock
  std::string base_url;   // default from the vendor table when empty
  SecretRef api_key;
  std::string ca_file;    // extra CA bundle (PEM), added to the system store
  UpstreamTimeouts timeouts;
  std::vector<std::string> models;                // listed by GET /v1/models
  std::map<std::string, std::string> headers;     // extra upstream headers
  // Kind-specific settings (each kind's adapter says which it reads; see docs/PROVIDERS.md).
  std::string api_version;  // azure: api-version; anthropic: anthropic-version
  std::string region;       // bedrock: AWS region (e.g. us-east-1)
  std::string account_id;   // cloudflare: account id
  SecretRef aws_access_key_id, aws_secret_access_key, aws_session_token;  // bedrock
  std::map<std::string, std::string> options;     // other kind-specific knobs (strings)
  int line = 0;                                   // where it was declared, for messages
};

struct RouteConfig {
  std::string name;                  // the alias clients put in "model"
  std::vector<std::string> targets;  // "<provider>/<model>", tried in order
  int line = 0;
};

struct ApiKeyConfig {
  std::string name;  // printable identity of the key holder
  SecretRef key;
  std::map<std::string, std::string> metadata;
};

struct Config {
  ServerOptions server;
  std::vector<ProviderConfig> providers;
  std::vector<RouteConfig> routes;
  std::vector<ApiKeyConfig> api_keys;
  bool demo = false;  // the embedded demo config (prints the demo key)
  std::string source = "<embedded>";
};

// Parses and validates YAML text. Errors name the file, the line and the key path, e.g.
// "torii.yaml:12: providers[1].base_url: not a URL". Secret references are resolved here.
Result<Config> parse_config(const std::string& yaml_text, const std::string& source_name);
Result<Config> load_config_file(const std::string& path);

// The embedded default used by `torii serve` without --config: a built-in mock provider and
// a demo key (TORII_DEMO_KEY, or a random one).
Config default_config();

// Resolves "${env:NAME}" / "${file:/path}" / a literal. An error names the reference only.
Result<SecretRef> resolve_secret(const std::string& reference);

}  // namespace torii
