// parse_config / load_config_file: YAML -> typed, validated Config (docs/CONFIG.md).
// Every problem is reported as "FILE:LINE: key.path: what is wrong", one per line, all at once,
// so `torii check` shows everything in one run. Resolved secrets never reach a message.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "config/config.h"
#include "config/loader_cache.h"
#include "providers/registry.h"

namespace torii {
namespace {

using namespace config_detail;

class Loader final : public CacheLoader {
 public:
  using CacheLoader::CacheLoader;

  Result<Config> run(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      // yaml-cpp's messages are fixed texts ("illegal map value"), never document content.
      const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
      return ApiError::invalid_request(source_ + ":" + std::to_string(line) +
                                       ": invalid YAML: " + e.msg);
    }
    Config cfg;
    cfg.source = source_;
    if (!root.IsMap()) {
      error(root, "", "the document must be a mapping with server, providers, routes, auth, "
                      "authorization, vault, egress, quotas, prices, guardrails, prompts, cache, audit, "
                      "tracing, metrics");
    } else {
      // The vault first: the other sections' secrets may be ${vault:NAME/KEY} references.
      if (root["vault"] && !root["vault"].IsNull()) vault(root["vault"], "vault", cfg);
      each_key(root, "",
               {"server", "providers", "routes", "auth", "authorization", "vault", "egress",
                "quotas", "prices", "guardrails", "prompts", "cache", "audit", "tracing",
                "metrics", "admin"},
               [&](const std::string& key, const YAML::Node& v, const std::string& path) {
                 if (key == "server") server(v, path, cfg.server);
                 if (key == "admin") admin(v, path, cfg.admin);
                 if (key == "providers") providers(v, path, cfg);
                 if (key == "routes") routes(v, path, cfg);
                 if (key == "auth") auth(v, path, cfg);
                 if (key == "authorization") authorization(v, path, cfg);
                 if (key == "egress") egress(v, path, cfg);
                 if (key == "quotas") quotas(v, path, cfg);
                 if (key == "prices") prices(v, path, cfg);
                 if (key == "guardrails") guardrails(v, path, cfg);
                 if (key == "prompts") prompts(v, path, cfg);
                 if (key == "cache") cache(v, path, cfg);
                 if (key == "audit") audit(v, path, cfg);
                 if (key == "tracing") tracing(v, path, cfg);
                 if (key == "metrics") boolean(v, path, cfg.metrics);
               });
      check_routes(cfg);
      check_identity(cfg);
      check_guardrails(cfg);
      check_prompts(cfg);
      check_cache(root, cfg);
    }
    if (auto e = errors()) return *e;
    return cfg;
  }

 private:
  void listen(const YAML::Node& v, const std::string& path, ServerOptions& out) {
    auto s = nonempty(v, path);
    if (!s) return;
    std::string host, port;
    if ((*s)[0] == '[') {  // [IPv6]:port
      const auto close = s->find("]:");
      if (close == std::string::npos) {
        error(v, path, "must be HOST:PORT or [IPV6]:PORT, got '" + *s + "'");
        return;
      }
      host = s->substr(1, close - 1);
      port = s->substr(close + 2);
    } else {
      const auto colon = s->rfind(':');
      if (colon == std::string::npos) {
        error(v, path, "must be HOST:PORT, got '" + *s + "'");
        return;
      }
      host = s->substr(0, colon);
      port = s->substr(colon + 1);
      if (host.find(':') != std::string::npos) {
        error(v, path, "an IPv6 address must be in brackets: [::1]:8080");
        return;
      }
    }
    if (host.empty()) {
      error(v, path, "the host is empty (use 0.0.0.0 for every interface)");
      return;
    }
    int p = -1;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 0 ||
        p > 65535) {
      error(v, path, "the port must be an integer from 0 to 65535, got '" + port + "'");
      return;
    }
    out.host = host;
    out.port = static_cast<uint16_t>(p);
  }

  void admin(const YAML::Node& v, const std::string& path, AdminConfig& out) {
    out.enabled = true;
    if (v.IsNull()) return;  // `admin:` alone: every default
    each_key(v, path,
             {"listen", "store", "session_ttl_s", "login_failures", "login_window_s",
              "initial_user", "swagger_ui_dir"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "listen") {
                 ServerOptions o;
                 o.host = out.host;
                 o.port = out.port;
                 listen(x, p, o);
                 out.host = o.host;
                 out.port = o.port;
               }
               if (k == "store") admin_store(x, p, out.store);
               if (k == "session_ttl_s") seconds(x, p, 60, out.session_ttl);
               if (k == "login_failures") count(x, p, 1, 1000, out.login_failures);
               if (k == "login_window_s") seconds(x, p, 1, out.login_window);
               if (k == "initial_user") set_str(x, p, out.initial_user);
               if (k == "swagger_ui_dir") set_str(x, p, out.swagger_ui_dir);
             });
  }

  void admin_store(const YAML::Node& v, const std::string& path, AdminStoreConfig& out) {
    each_key(v, path, {"type", "path", "redis"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "type") {
                 set_str(x, p, out.type);
                 if (out.type != "sqlite" && out.type != "redis" && out.type != "memory")
                   error(x, p, "must be sqlite, redis or memory, got '" + out.type + "'");
               }
               if (k == "path") set_str(x, p, out.path);
               if (k == "redis") redis(x, p, out.redis);
             });
  }

  void server(const YAML::Node& v, const std::string& path, ServerOptions& out) {
    each_key(v, path,
             {"listen", "workers", "max_body_bytes", "max_upload_bytes", "max_header_bytes",
              "max_connections",
              "idle_timeout_ms", "body_timeout_ms", "write_timeout_ms", "shutdown_grace_ms"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "listen") listen(x, p, out);
               if (k == "workers") count(x, p, 0, 1024, out.workers);
               if (k == "max_body_bytes") count(x, p, 1, int64_t{1} << 40, out.max_body_bytes);
               if (k == "max_upload_bytes") count(x, p, 1, int64_t{1} << 40, out.max_upload_bytes);
               if (k == "max_header_bytes") count(x, p, 1, int64_t{1} << 30, out.max_header_bytes);
               if (k == "max_connections") count(x, p, 1, 10'000'000, out.max_connections);
               if (k == "idle_timeout_ms") millis(x, p, out.idle_timeout);
               if (k == "body_timeout_ms") millis(x, p, out.body_timeout);
               if (k == "write_timeout_ms") millis(x, p, out.write_timeout);
               if (k == "shutdown_grace_ms") millis(x, p, out.shutdown_grace);
             });
  }

  void base_url(const YAML::Node& v, const std::string& path, std::string& out) {
    auto s = nonempty(v, path);
    if (!s) return;
    if (*s == kBuiltinMock) {  // the in-process mock, which then speaks this kind's format
      out = *s;
      return;
    }
    // The URL is not echoed: it may carry user:password.
    if (s->rfind("http://", 0) != 0 && s->rfind("https://", 0) != 0) {
      error(v, path, "must start with http:// or https://");
      return;
    }
    auto u = boost::urls::parse_absolute_uri(*s);
    if (!u || u->encoded_host().empty()) {
      error(v, path, "is not a valid URL with a host");
      return;
    }
    if (u->has_userinfo()) {
      error(v, path, "must not carry credentials (put the key in api_key)");
      return;
    }
    int port = 0;
    const auto ps = u->port();
    if (u->has_port() &&
        (std::from_chars(ps.data(), ps.data() + ps.size(), port).ptr != ps.data() + ps.size() ||
         ps.empty() || port < 1 || port > 65535)) {
      error(v, path, "has an invalid port (1 to 65535)");
      return;
    }
    if (u->has_query() || u->has_fragment()) {
      error(v, path, "must not have a query or a fragment");
      return;
    }
    while (s->back() == '/') s->pop_back();  // "http://h/v1/" joins like "http://h/v1"
    out = *s;
  }

  void timeouts(const YAML::Node& v, const std::string& path, UpstreamTimeouts& out) {
    each_key(v, path, {"connect_ms", "first_byte_ms", "idle_ms"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "connect_ms") millis(x, p, out.connect);
               if (k == "first_byte_ms") millis(x, p, out.first_byte);
               if (k == "idle_ms") millis(x, p, out.idle);
             });
  }

  void provider(const YAML::Node& v, const std::string& path, ProviderConfig& out) {
    std::set<std::string> got;
    int kind_line = 0;
    each_key(v, path,
             {"name", "kind", "base_url", "api_key", "api_keys", "ca_file", "headers", "models",
              "timeouts", "api_version", "region", "account_id", "aws_access_key_id",
              "aws_secret_access_key", "aws_session_token", "options", "breaker",
              "health_check", "rate_limit_cooldown_ms"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               got.insert(k);
               if (k == "name") {
                 auto s = nonempty(x, p);
                 if (!s) return;
                 if (s->find_first_of("/ \t\r\n") != std::string::npos) {
                   error(x, p, "must not contain '/' or spaces");
                 } else {
                   out.name = *s;
                 }
                 out.line = line_of(x);
               }
               if (k == "kind") {
                 auto s = nonempty(x, p);
                 kind_line = line_of(x);
                 if (!s) return;
                 if (find_provider_kind(*s) == nullptr) {
                   std::string list, near;
                   for (std::string_view a : provider_kinds()) {
                     list += list.empty() ? std::string(a) : ", " + std::string(a);
                     if (near.empty() && distance(*s, std::string(a)) <= 2) near = a;
                   }
                   error(x, p,
                         "unknown kind '" + *s + "' (" +
                             (near.empty() ? "one of: " + list : "did you mean " + near + "?") +
                             ")");
                 } else {
                   out.kind = *s;
                 }
               }
               if (k == "base_url") base_url(x, p, out.base_url);
               if (k == "api_key") out.api_key = secret(x, p);
               if (k == "api_keys") {
                 if (!x.IsSequence() || x.size() == 0) {
                   error(x, p, "must be a list of at least one key");
                   return;
                 }
                 for (std::size_t i = 0; i < x.size(); ++i) {
                   SecretRef key = secret(x[i], index_path(p, i));
                   if (i == 0) out.api_key = std::move(key);
                   else out.extra_api_keys.push_back(std::move(key));
                 }
                 if (x.size() > 16) error(x, p, "at most 16 keys");
               }
               if (k == "breaker") breaker(x, p, out.breaker);
               if (k == "health_check") health_check(x, p, out.health_check);
               if (k == "rate_limit_cooldown_ms") millis(x, p, out.rate_limit_cooldown);
               if (k == "ca_file") {
                 auto s = nonempty(x, p);
                 if (!s) return;
                 std::ifstream f(*s);
                 if (!f) error(x, p, "cannot read " + *s + ": " + std::strerror(errno));
                 out.ca_file = *s;
               }
               if (k == "headers") header_map(x, p, out.headers);
               if (k == "models") {
                 out.models = strings(x, p);
                 std::set<std::string> uniq;
                 for (std::size_t i = 0; i < out.models.size(); ++i) {
                   if (!uniq.insert(out.models[i]).second) {
                     error(x, index_path(p, i), "duplicate model '" + out.models[i] + "'");
                   }
                 }
               }
               if (k == "timeouts") timeouts(x, p, out.timeouts);
               if (k == "api_version") set_str(x, p, out.api_version);
               if (k == "region") set_str(x, p, out.region);
               if (k == "account_id") set_str(x, p, out.account_id);
               if (k == "aws_access_key_id") out.aws_access_key_id = secret(x, p);
               if (k == "aws_secret_access_key") out.aws_secret_access_key = secret(x, p);
               if (k == "aws_session_token") out.aws_session_token = secret(x, p);
               if (k == "options") string_map(x, p, out.options);
             });
    if (!v.IsMap()) return;
    require(v, path, got, {"name", "kind"});
    if (got.count("api_key") && got.count("api_keys"))
      error(v, key_path(path, "api_keys"), "give api_key or api_keys, not both");
    if (got.count("api_keys")) got.insert("api_key");
    // The vendor table decides what a kind needs; checked here too so that the error has a line.
    const ProviderKind* vendor = out.kind.empty() ? nullptr : find_provider_kind(out.kind);
    const int at = kind_line ? kind_line : line_of(v);
    if (vendor && vendor->default_base_url.empty() && out.kind != "mock" &&
        !got.count("base_url")) {
      error_at(at, key_path(path, "base_url"), "is required for kind " + out.kind);
    }
    if (vendor && vendor->key_required && !got.count("api_key")) {
      error_at(at, key_path(path, "api_key"), "is required for kind " + out.kind);
    }
    if (vendor) {
      for (std::string_view k : kKindSpecificKeys)
        if (got.count(std::string(k)) && !vendor->reads(k))
          error_at(at, key_path(path, std::string(k)), "is not used by kind " + out.kind);
    }
    if (!out.line) out.line = line_of(v);
  }

  void providers(const YAML::Node& v, const std::string& path, Config& cfg) {
    if (!v.IsSequence()) {
      error(v, path, "must be a list");
      return;
    }
    std::map<std::string, std::size_t> names;
    for (std::size_t i = 0; i < v.size(); ++i) {
      ProviderConfig p;
      provider(v[i], index_path(path, i), p);
      if (!p.name.empty()) {
        auto [it, fresh] = names.emplace(p.name, i);
        if (!fresh) {
          error_at(p.line, index_path(path, i) + ".name",
                   "duplicate provider name '" + p.name + "' (also providers[" +
                       std::to_string(it->second) + "])");
        }
      }
      cfg.providers.push_back(std::move(p));
    }
  }

  void breaker(const YAML::Node& v, const std::string& path, BreakerConfig& out) {
    each_key(v, path,
             {"enabled", "consecutive_failures", "error_rate_percent", "min_requests",
              "window_ms", "cooldown_ms", "half_open_probes"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "enabled") boolean(x, p, out.enabled);
               if (k == "consecutive_failures") count(x, p, 0, 1'000'000, out.consecutive_failures);
               if (k == "error_rate_percent") count(x, p, 0, 100, out.error_rate_percent);
               if (k == "min_requests") count(x, p, 1, 1'000'000, out.min_requests);
               if (k == "window_ms") millis(x, p, out.window);
               if (k == "cooldown_ms") millis(x, p, out.cooldown);
               if (k == "half_open_probes") count(x, p, 1, 1000, out.half_open_probes);
             });
    if (v.IsMap() && out.enabled && out.consecutive_failures == 0 && out.error_rate_percent == 0)
      error(v, path, "consecutive_failures and error_rate_percent are both 0: the breaker could "
                     "never open (set enabled: false to turn it off)");
  }

  void health_check(const YAML::Node& v, const std::string& path, HealthCheckConfig& out) {
    out.enabled = true;
    each_key(v, path, {"enabled", "path", "interval_ms", "timeout_ms"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "enabled") boolean(x, p, out.enabled);
               if (k == "path") {
                 auto s = nonempty(x, p);
                 if (s && s->front() != '/') error(x, p, "must start with '/'");
                 else if (s) out.path = *s;
               }
               if (k == "interval_ms") millis(x, p, out.interval);
               if (k == "timeout_ms") millis(x, p, out.timeout);
             });
  }
};

}  // namespace

Result<Config> parse_config(const std::string& yaml_text, const std::string& source_name) {
  return Loader(source_name).run(yaml_text);
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ApiError::invalid_request(path + ": cannot read config file: " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return ApiError::invalid_request(path + ": cannot read config file");
  return parse_config(ss.str(), path);
}

}  // namespace torii
