// parse_config / load_config_file: YAML -> typed, validated Config (docs/CONFIG.md).
// Every problem is reported as "FILE:LINE: key.path: what is wrong", one per line, all at once,
// so `torii check` shows everything in one run. Resolved secrets never reach a message.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <charconv>
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
             {"name", "kind", "base_url", "api_key", "ca_file", "headers", "models", "timeouts",
              "api_version", "region", "account_id", "aws_access_key_id",
              "aws_secret_access_key", "aws_session_token", "options"},
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

  struct RouteLines {
    int name = 0;
    std::vector<int> targets;
  };

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
      each_key(v[i], rp, {"name", "targets"},
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
                 if (k == "targets") {
                   r.targets = strings(x, p);
                   if (x.IsSequence()) {
                     for (std::size_t t = 0; t < x.size(); ++t) {
                       lines.targets.push_back(line_of(x[t]));
                     }
                     if (x.size() == 0) error(x, p, "must list at least one provider/model");
                   }
                 }
               });
      if (v[i].IsMap()) require(v[i], rp, got, {"name", "targets"});
      r.line = lines.name ? lines.name : line_of(v[i]);
      // strings() drops bad entries; keep target lines aligned only when none were dropped.
      if (lines.targets.size() != r.targets.size()) lines.targets.assign(r.targets.size(), r.line);
      cfg.routes.push_back(std::move(r));
      route_lines_.push_back(std::move(lines));
    }
  }

  // Cross-references, once providers and routes are both known.
  void check_routes(const Config& cfg) {
    std::set<std::string> providers;
    for (const auto& p : cfg.providers) providers.insert(p.name);
    std::map<std::string, std::size_t> names;
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
        auto [it, fresh] = names.emplace(r.name, i);
        if (!fresh) {
          error_at(r.line, rp + ".name",
                   "duplicate route name '" + r.name + "' (also routes[" +
                       std::to_string(it->second) + "])");
        }
      }
      for (std::size_t t = 0; t < r.targets.size(); ++t) {
        const std::string& target = r.targets[t];
        const std::string tp = index_path(rp + ".targets", t);
        const int line = route_lines_[i].targets[t];
        const auto slash = target.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == target.size()) {
          error_at(line, tp, "must be provider/model, got '" + target + "'");
        } else if (!providers.count(target.substr(0, slash))) {
          error_at(line, tp, "unknown provider '" + target.substr(0, slash) + "'");
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
      each_key(v[i], kp, {"name", "key", "metadata"},
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
