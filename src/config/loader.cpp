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
#include "providers/registry.h"

namespace torii {
namespace {


constexpr int64_t kMaxMs = std::numeric_limits<int32_t>::max();  // ~24.8 days
constexpr std::size_t kMaxErrors = 50;

std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
std::string key_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Levenshtein distance, to suggest the key a typo meant.
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool is_token_char(char c) {  // RFC 9110 tchar
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

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
      error(root, "", "the document must be a mapping with server, providers, routes, auth");
    } else {
      each_key(root, "", {"server", "providers", "routes", "auth"},
               [&](const std::string& key, const YAML::Node& v, const std::string& path) {
                 if (key == "server") server(v, path, cfg.server);
                 if (key == "providers") providers(v, path, cfg);
                 if (key == "routes") routes(v, path, cfg);
                 if (key == "auth") auth(v, path, cfg);
               });
      check_routes(cfg);
    }
    if (!errors_.empty()) {
      std::stable_sort(errors_.begin(), errors_.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::string msg;
      for (std::size_t i = 0; i < errors_.size() && i < kMaxErrors; ++i) {
        if (i) msg += '\n';
        msg += errors_[i].second;
      }
      if (errors_.size() > kMaxErrors) {
        msg += "\n... and " + std::to_string(errors_.size() - kMaxErrors) + " more errors";
      }
      return ApiError::invalid_request(std::move(msg));
    }
    return cfg;
  }

 private:
  using KeyFn = std::function<void(const std::string&, const YAML::Node&, const std::string&)>;

  int line_of(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    return m.line >= 0 ? m.line + 1 : last_line_;
  }
  void error_at(int line, const std::string& path, const std::string& what) {
    std::string msg = source_ + ":" + std::to_string(line) + ": ";
    if (!path.empty()) msg += path + ": ";
    errors_.emplace_back(line, msg + what);
  }
  void error(const YAML::Node& at, const std::string& path, const std::string& what) {
    error_at(line_of(at), path, what);
  }

  // Walks a mapping: rejects non-maps, duplicate and unknown keys (with a suggestion), and
  // calls fn for each known key whose value is not null (null = not given).
  void each_key(const YAML::Node& map, const std::string& path,
                std::initializer_list<const char*> allowed, const KeyFn& fn) {
    if (!map.IsMap()) {
      error(map, path, "must be a mapping");
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : map) {
      last_line_ = line_of(kv.first);
      if (!kv.first.IsScalar()) {
        error(kv.first, path, "keys must be plain strings");
        continue;
      }
      const std::string key = kv.first.Scalar();
      const std::string p = key_path(path, key);
      if (!seen.insert(key).second) {
        error(kv.first, p, "duplicate key");
        continue;
      }
      bool known = false;
      std::string best;
      std::size_t best_d = 3;
      for (const char* a : allowed) {
        if (key == a) known = true;
        const std::size_t d = distance(key, a);
        if (d < best_d) best_d = d, best = a;
      }
      if (!known) {
        error(kv.first, p, "unknown key" + (best.empty() ? "" : " (did you mean " + best + "?)"));
        continue;
      }
      if (kv.second.IsNull()) continue;
      fn(key, kv.second, p);
    }
  }

  // Reports each key of `required` that is missing from `got` (the keys each_key saw).
  void require(const YAML::Node& map, const std::string& path, const std::set<std::string>& got,
               std::initializer_list<const char*> required) {
    for (const char* r : required) {
      if (!got.count(r)) error(map, key_path(path, r), "is required");
    }
  }

  std::optional<std::string> str(const YAML::Node& v, const std::string& path) {
    if (!v.IsScalar()) {
      error(v, path, "must be a string");
      return std::nullopt;
    }
    return v.Scalar();
  }

  std::optional<std::string> nonempty(const YAML::Node& v, const std::string& path) {
    auto s = str(v, path);
    if (s && s->empty()) {
      error(v, path, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<int64_t> integer(const YAML::Node& v, const std::string& path, int64_t min,
                                 int64_t max) {
    if (!v.IsScalar()) {
      error(v, path, "must be an integer");
      return std::nullopt;
    }
    const std::string& s = v.Scalar();
    int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec == std::errc::result_out_of_range) {
      error(v, path, s.empty() ? "must be an integer" : "is out of range");
      return std::nullopt;
    }
    if (ec != std::errc() || end != s.data() + s.size()) {
      error(v, path, "must be an integer, got '" + s + "'");
      return std::nullopt;
    }
    if (n < min) {
      error(v, path,
            min == 1 ? "must be a positive integer" : "must be at least " + std::to_string(min));
      return std::nullopt;
    }
    if (n > max) {
      error(v, path, "must be at most " + std::to_string(max));
      return std::nullopt;
    }
    return n;
  }

  void millis(const YAML::Node& v, const std::string& path, std::chrono::milliseconds& out) {
    if (auto n = integer(v, path, 1, kMaxMs)) out = std::chrono::milliseconds(*n);
  }

  template <class T>
  void count(const YAML::Node& v, const std::string& path, int64_t min, int64_t max, T& out) {
    if (auto n = integer(v, path, min, max)) out = static_cast<T>(*n);
  }

  // A list of non-empty strings.
  std::vector<std::string> strings(const YAML::Node& v, const std::string& path) {
    std::vector<std::string> out;
    if (!v.IsSequence()) {
      error(v, path, "must be a list");
      return out;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (auto s = nonempty(v[i], index_path(path, i))) out.push_back(*s);
    }
    return out;
  }

  std::map<std::string, std::string> string_map(const YAML::Node& v, const std::string& path) {
    std::map<std::string, std::string> out;
    if (!v.IsMap()) {
      error(v, path, "must be a mapping");
      return out;
    }
    for (const auto& kv : v) {
      if (!kv.first.IsScalar() || kv.first.Scalar().empty()) {
        error(kv.first, path, "keys must be non-empty strings");
        continue;
      }
      const std::string p = key_path(path, kv.first.Scalar());
      if (out.count(kv.first.Scalar())) {
        error(kv.first, p, "duplicate key");
        continue;
      }
      if (auto s = str(kv.second, p)) out[kv.first.Scalar()] = *s;
    }
    return out;
  }

  // Resolves a secret reference; the error carries only what resolve_secret says.
  SecretRef secret(const YAML::Node& v, const std::string& path) {
    auto s = nonempty(v, path);
    if (!s) return {};
    auto r = resolve_secret(*s);
    if (!r) {
      error(v, path, r.error().message);
      return {};
    }
    return std::move(r.value());
  }

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

  void server(const YAML::Node& v, const std::string& path, ServerOptions& out) {
    each_key(v, path,
             {"listen", "workers", "max_body_bytes", "max_header_bytes", "max_connections",
              "idle_timeout_ms", "body_timeout_ms", "write_timeout_ms", "shutdown_grace_ms"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "listen") listen(x, p, out);
               if (k == "workers") count(x, p, 0, 1024, out.workers);
               if (k == "max_body_bytes") count(x, p, 1, int64_t{1} << 40, out.max_body_bytes);
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

  void set_str(const YAML::Node& v, const std::string& path, std::string& out) {
    if (auto s = nonempty(v, path)) out = *s;
  }

  void string_map(const YAML::Node& v, const std::string& path,
                  std::map<std::string, std::string>& out) {
    if (!v.IsMap()) {
      error(v, path, "must be a mapping of strings");
      return;
    }
    for (const auto& kv : v) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const std::string p = key_path(path, name);
      if (name.empty()) {
        error(kv.first, p, "must be a non-empty string");
        continue;
      }
      if (auto value = str(kv.second, p)) out[name] = *value;
    }
  }

  void headers(const YAML::Node& v, const std::string& path, ProviderConfig& out) {
    if (!v.IsMap()) {
      error(v, path, "must be a mapping");
      return;
    }
    for (const auto& kv : v) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const std::string p = key_path(path, name);
      bool ok = !name.empty();
      for (char c : name) ok = ok && is_token_char(c);
      if (!ok) {
        error(kv.first, p, "is not a valid HTTP header name");
        continue;
      }
      if (out.headers.count(name)) {
        error(kv.first, p, "duplicate header");
        continue;
      }
      auto value = str(kv.second, p);
      if (!value) continue;
      // Values are not echoed: a header may carry a credential.
      if (value->find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
        error(kv.second, p, "the value must not contain CR, LF or NUL");
        continue;
      }
      // A value may itself be a secret reference; anything else stays as written.
      if (value->rfind("${", 0) == 0) {
        auto r = resolve_secret(*value);
        if (!r) {
          error(kv.second, p, r.error().message);
          continue;
        }
        *value = r->value;
      }
      out.headers[name] = *value;
    }
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
               if (k == "headers") headers(x, p, out);
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

  void boolean(const YAML::Node& v, const std::string& path, bool& out) {
    if (v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false")) {
      out = v.Scalar() == "true";
      return;
    }
    error(v, path, "must be true or false");
  }

  struct RouteLines {
    int name = 0;
    std::vector<int> targets;
    std::vector<int> rules;
  };

  void route_target(const YAML::Node& v, const std::string& path, RouteTargetConfig& out) {
    out.line = line_of(v);
    auto split = [&](const YAML::Node& at, const std::string& p) {
      auto s = nonempty(at, p);
      if (!s) return;
      const auto slash = s->find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == s->size()) {
        error(at, p, "must be provider/model, got '" + *s + "'");
        return;
      }
      out.provider = s->substr(0, slash);
      out.model = s->substr(slash + 1);
    };
    if (v.IsScalar()) {
      split(v, path);
      return;
    }
    std::set<std::string> got;
    each_key(v, path, {"target", "weight", "priority"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               got.insert(k);
               if (k == "target") split(x, p);
               if (k == "weight") count(x, p, 1, 1000, out.weight);
               if (k == "priority") count(x, p, 0, 100, out.priority);
             });
    if (v.IsMap()) require(v, path, got, {"target"});
  }

  void retry(const YAML::Node& v, const std::string& path, RetryConfig& out) {
    each_key(v, path,
             {"attempts", "backoff_ms", "max_backoff_ms", "per_try_timeout_ms", "deadline_ms",
              "budget_percent", "min_retries_per_second"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "attempts") count(x, p, 1, 100, out.attempts);
               if (k == "backoff_ms") count(x, p, 0, kMaxMs, out.backoff);
               if (k == "max_backoff_ms") millis(x, p, out.max_backoff);
               if (k == "per_try_timeout_ms") millis(x, p, out.per_try_timeout);
               if (k == "deadline_ms") millis(x, p, out.deadline);
               if (k == "budget_percent") count(x, p, 0, 1000, out.budget_percent);
               if (k == "min_retries_per_second") count(x, p, 0, 1'000'000, out.min_retries_per_second);
             });
  }

  void failover_on(const YAML::Node& v, const std::string& path, FailoverConfig& out) {
    if (!v.IsSequence()) {
      error(v, path, "must be a list (connect, reset, timeout, 5xx, 429 or a status)");
      return;
    }
    out = FailoverConfig{false, false, false, false, false, {}, std::move(out.errors)};
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto s = nonempty(v[i], index_path(path, i));
      if (!s) continue;
      if (*s == "connect") out.connect = true;
      else if (*s == "reset") out.reset = true;
      else if (*s == "timeout") out.timeout = true;
      else if (*s == "5xx") out.server_errors = true;
      else if (*s == "429") out.rate_limited = true;
      else {
        int status = 0;
        auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), status);
        if (ec != std::errc() || end != s->data() + s->size() || status < 400 || status > 599)
          error(v[i], index_path(path, i),
                "must be connect, reset, timeout, 5xx, 429 or an HTTP status from 400 to 599, "
                "got '" + *s + "'");
        else out.statuses.push_back(status);
      }
    }
  }

  void condition(const YAML::Node& v, const std::string& path, RuleCondition& out) {
    using S = RuleCondition::Subject;
    using O = RuleCondition::Op;
    int subjects = 0, ops = 0;
    each_key(v, path,
             {"header", "metadata", "field", "group", "prompt_tokens_above",
              "prompt_tokens_below", "equals", "in", "exists", "above", "below"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "header" || k == "metadata" || k == "field" || k == "group") {
                 ++subjects;
                 out.subject = k == "header" ? S::header : k == "metadata" ? S::metadata
                               : k == "field" ? S::field : S::group;
                 auto s = nonempty(x, p);
                 if (!s) return;
                 if (k == "field" && s->front() != '/')
                   error(x, p, "must be a JSON pointer such as /metadata/tier");
                 if (k == "group") {
                   out.op = O::equals;
                   out.values = {*s};
                   ++ops;
                 } else {
                   out.key = *s;
                 }
                 if (k == "header")
                   std::transform(out.key.begin(), out.key.end(), out.key.begin(),
                                  [](unsigned char c) { return std::tolower(c); });
               }
               if (k == "prompt_tokens_above" || k == "prompt_tokens_below") {
                 ++subjects;
                 ++ops;
                 out.subject = S::prompt_tokens;
                 out.op = k == "prompt_tokens_above" ? O::above : O::below;
                 if (auto n = integer(x, p, 0, std::numeric_limits<int64_t>::max())) out.number = *n;
               }
               if (k == "equals") {
                 ++ops;
                 out.op = O::equals;
                 if (auto s = str(x, p)) out.values = {*s};
               }
               if (k == "in") {
                 ++ops;
                 out.op = O::in;
                 out.values = strings(x, p);
                 if (x.IsSequence() && x.size() == 0) error(x, p, "must not be empty");
               }
               if (k == "exists") {
                 ++ops;
                 out.op = O::exists;
                 bool b = true;
                 boolean(x, p, b);
                 if (!b) error(x, p, "only 'exists: true' is supported");
               }
               if (k == "above" || k == "below") {
                 ++ops;
                 out.op = k == "above" ? O::above : O::below;
                 double n = 0;
                 const std::string t = x.IsScalar() ? x.Scalar() : std::string();
                 auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
                 if (t.empty() || ec != std::errc() || end != t.data() + t.size() ||
                     !std::isfinite(n))
                   error(x, p, "must be a number");
                 else
                   out.number = n;
               }
             });
    if (!v.IsMap()) return;
    if (subjects != 1)
      error(v, path, "needs exactly one of header, metadata, field, group, prompt_tokens_above, "
                     "prompt_tokens_below");
    else if (ops != 1)
      error(v, path, "needs exactly one of equals, in, exists, above, below");
  }

  void rules(const YAML::Node& v, const std::string& path, RouteConfig& r, RouteLines& lines) {
    if (!v.IsSequence()) {
      error(v, path, "must be a list");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string p = index_path(path, i);
      RouteRuleConfig rule;
      rule.line = line_of(v[i]);
      std::set<std::string> got;
      each_key(v[i], p, {"when", "route"},
               [&](const std::string& k, const YAML::Node& x, const std::string& kp) {
                 got.insert(k);
                 if (k == "route") {
                   if (auto s = nonempty(x, kp)) rule.route = *s;
                 }
                 if (k == "when") {
                   if (x.IsSequence()) {
                     if (x.size() == 0) error(x, kp, "must not be empty");
                     for (std::size_t c = 0; c < x.size(); ++c) {
                       rule.when.emplace_back();
                       condition(x[c], index_path(kp, c), rule.when.back());
                     }
                   } else {
                     rule.when.emplace_back();
                     condition(x, kp, rule.when.back());
                   }
                 }
               });
      if (v[i].IsMap()) require(v[i], p, got, {"when", "route"});
      lines.rules.push_back(rule.line);
      r.rules.push_back(std::move(rule));
    }
  }

  void routes(const YAML::Node& v, const std::string& path, Config& cfg) {
    if (!v.IsSequence()) {
      error(v, path, "must be a list");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string rp = index_path(path, i);
      RouteConfig r;
      RouteLines lines;
      std::set<std::string> got;
      each_key(v[i], rp,
               {"name", "group", "strategy", "targets", "retry", "failover_on",
                "failover_on_errors", "rules"},
               [&](const std::string& k, const YAML::Node& x, const std::string& p) {
                 got.insert(k);
                 if (k == "name") {
                   lines.name = line_of(x);
                   if (auto s = nonempty(x, p)) {
                     if (s->find_first_of(" \t\r\n") != std::string::npos) {
                       error(x, p, "must not contain spaces");
                     } else {
                       r.name = *s;
                     }
                   }
                 }
                 if (k == "group") set_str(x, p, r.group);
                 if (k == "strategy") {
                   static const std::pair<const char*, Strategy> kStrategies[] = {
                       {"round_robin", Strategy::round_robin},
                       {"weighted", Strategy::weighted},
                       {"random", Strategy::random},
                       {"least_inflight", Strategy::least_inflight},
                       {"lowest_latency", Strategy::lowest_latency},
                       {"p2c", Strategy::p2c}};
                   auto s = nonempty(x, p);
                   if (!s) return;
                   bool found = false;
                   for (const auto& [n, st] : kStrategies)
                     if (*s == n) r.strategy = st, found = true;
                   if (!found)
                     error(x, p, "unknown strategy '" + *s + "' (one of: round_robin, weighted, "
                                 "random, least_inflight, lowest_latency, p2c)");
                 }
                 if (k == "targets") {
                   if (!x.IsSequence()) {
                     error(x, p, "must be a list");
                     return;
                   }
                   if (x.size() == 0) error(x, p, "must list at least one provider/model");
                   if (x.size() > 64) error(x, p, "at most 64 targets");
                   for (std::size_t t = 0; t < x.size(); ++t) {
                     RouteTargetConfig target;
                     route_target(x[t], index_path(p, t), target);
                     lines.targets.push_back(target.line);
                     r.targets.push_back(std::move(target));
                   }
                 }
                 if (k == "retry") retry(x, p, r.retry);
                 if (k == "failover_on") failover_on(x, p, r.failover);
                 if (k == "failover_on_errors") r.failover.errors = strings(x, p);
                 if (k == "rules") rules(x, p, r, lines);
               });
      if (v[i].IsMap()) require(v[i], rp, got, {"name", "targets"});
      r.line = lines.name ? lines.name : line_of(v[i]);
      cfg.routes.push_back(std::move(r));
      route_lines_.push_back(std::move(lines));
    }
  }

  // Cross-references, once providers and routes are both known.
  void check_routes(const Config& cfg) {
    std::set<std::string> providers;
    for (const auto& p : cfg.providers) providers.insert(p.name);
    std::map<std::pair<std::string, std::string>, std::size_t> names;  // (name, group)
    std::map<std::string, bool> has_rules;  // alias -> one of its variants has rules
    for (const auto& r : cfg.routes) has_rules[r.name] = has_rules[r.name] || !r.rules.empty();
    for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
      const RouteConfig& r = cfg.routes[i];
      const std::string rp = index_path("routes", i);
      if (!r.name.empty()) {
        if (providers.count(r.name)) {
          error_at(r.line, rp + ".name", "'" + r.name + "' is already a provider name");
        }
        const auto slash = r.name.find('/');
        if (slash != std::string::npos && providers.count(r.name.substr(0, slash))) {
          error_at(r.line, rp + ".name",
                   "'" + r.name + "' would hide the provider model of the same name");
        }
        auto [it, fresh] = names.emplace(std::make_pair(r.name, r.group), i);
        if (!fresh) {
          error_at(r.line, rp + ".name",
                   "duplicate route name '" + r.name + "'" +
                       (r.group.empty() ? "" : " for group '" + r.group + "'") + " (also routes[" +
                       std::to_string(it->second) + "])");
        }
      }
      for (std::size_t t = 0; t < r.targets.size(); ++t) {
        const RouteTargetConfig& target = r.targets[t];
        if (!target.provider.empty() && !providers.count(target.provider)) {
          error_at(route_lines_[i].targets[t], index_path(rp + ".targets", t),
                   "unknown provider '" + target.provider + "'");
        }
      }
      for (std::size_t k = 0; k < r.rules.size(); ++k) {
        const std::string& to = r.rules[k].route;
        if (to.empty()) continue;
        const int line = route_lines_[i].rules[k];
        const std::string p = index_path(rp + ".rules", k) + ".route";
        auto it = has_rules.find(to);
        if (it == has_rules.end()) {
          error_at(line, p, "unknown route '" + to + "'");
        } else if (it->second) {
          error_at(line, p, "route '" + to + "' has rules of its own (rules go one level deep)");
        }
      }
    }
  }

  void auth(const YAML::Node& v, const std::string& path, Config& cfg) {
    each_key(v, path, {"api_keys"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               if (k == "api_keys") api_keys(x, p, cfg);
             });
  }

  void api_keys(const YAML::Node& v, const std::string& path, Config& cfg) {
    if (!v.IsSequence()) {
      error(v, path, "must be a list");
      return;
    }
    std::map<std::string, std::size_t> names, values;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string kp = index_path(path, i);
      ApiKeyConfig key;
      std::set<std::string> got;
      int name_line = 0, key_line = 0;
      each_key(v[i], kp, {"name", "key", "metadata", "groups"},
               [&](const std::string& k, const YAML::Node& x, const std::string& p) {
                 got.insert(k);
                 if (k == "name") {
                   name_line = line_of(x);
                   if (auto s = nonempty(x, p)) key.name = *s;
                 }
                 if (k == "key") {
                   key_line = line_of(x);
                   key.key = secret(x, p);
                 }
                 if (k == "metadata") key.metadata = string_map(x, p);
                 if (k == "groups") key.groups = strings(x, p);
               });
      if (v[i].IsMap()) require(v[i], kp, got, {"name", "key"});
      if (!key.name.empty()) {
        auto [it, fresh] = names.emplace(key.name, i);
        if (!fresh) {
          error_at(
              name_line, kp + ".name",
              "duplicate key name '" + key.name + "' (also " + index_path(path, it->second) + ")");
        }
      }
      if (!key.key.empty()) {
        auto [it, fresh] = values.emplace(key.key.value, i);
        if (!fresh) {  // never print the value itself
          error_at(key_line, kp + ".key", "the same key value as " + index_path(path, it->second));
        }
      }
      cfg.api_keys.push_back(std::move(key));
    }
  }

  std::string source_;
  std::vector<std::pair<int, std::string>> errors_;  // (line, message)
  std::vector<RouteLines> route_lines_;
  int last_line_ = 1;
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
