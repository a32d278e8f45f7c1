// AuditLoader: `audit:` and `tracing:` (see loader_audit.h).
#include "config/loader_audit.h"

#include <boost/url/parse.hpp>
#include <re2/re2.h>

#include <set>

namespace torii::config_detail {

namespace {

// "100MB", "512KiB", "1048576": a size in bytes.
std::optional<int64_t> parse_size(const std::string& s) {
  std::size_t i = 0;
  int64_t n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (n > (int64_t{1} << 50)) return std::nullopt;
    n = n * 10 + (s[i++] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string unit = s.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.empty() || unit == "b") return n;
  if (unit == "k" || unit == "kb" || unit == "kib") return n << 10;
  if (unit == "m" || unit == "mb" || unit == "mib") return n << 20;
  if (unit == "g" || unit == "gb" || unit == "gib") return n << 30;
  return std::nullopt;
}

}  // namespace

void AuditLoader::http_url(const YAML::Node& v, const std::string& path, std::string& out) {
  auto s = nonempty(v, path);
  if (!s) return;
  auto u = boost::urls::parse_uri(*s);
  if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty()) {
    error(v, path, "must be an http:// or https:// URL");
    return;
  }
  out = *s;
}

void AuditLoader::audit(const YAML::Node& v, const std::string& path, Config& cfg) {
  AuditConfig& a = cfg.audit;
  each_key(v, path,
           {"enabled", "queue", "batch", "flush_ms", "spill_dir", "bodies", "redact",
            "access_log", "sinks"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "enabled") boolean(x, p, a.enabled);
             if (k == "queue") count(x, p, 16, 10'000'000, a.queue);
             if (k == "batch") count(x, p, 1, 100'000, a.batch);
             if (k == "flush_ms") millis(x, p, a.flush);
             if (k == "spill_dir") set_str(x, p, a.spill_dir);
             if (k == "bodies") boolean(x, p, a.bodies);
             if (k == "redact") {
               a.redact = strings(x, p);
               for (std::size_t i = 0; i < a.redact.size(); ++i) {
                 RE2 re(a.redact[i], RE2::Quiet);
                 if (!re.ok()) error(x[i], index_path(p, i), "not an RE2 pattern: " + re.error());
               }
             }
             if (k == "access_log") boolean(x, p, a.access_log);
             if (k == "sinks") {
               if (!x.IsSequence()) {
                 error(x, p, "must be a list");
                 return;
               }
               std::set<std::string> names;
               for (std::size_t i = 0; i < x.size(); ++i) {
                 AuditSinkConfig sc;
                 sink(x[i], index_path(p, i), sc);
                 if (sc.type.empty()) continue;
                 if (!names.insert(sc.name).second)
                   error(x[i], index_path(p, i),
                         "two sinks named '" + sc.name + "': give each a unique name");
                 a.sinks.push_back(std::move(sc));
               }
             }
           });
  // Sinks listed means auditing on, unless it says otherwise.
  if (!v["enabled"] && !a.sinks.empty()) a.enabled = true;
}

void AuditLoader::sink(const YAML::Node& v, const std::string& path, AuditSinkConfig& out) {
  if (!v.IsMap()) {
    error(v, path, "must be a mapping with a type");
    return;
  }
  const YAML::Node t = v["type"];
  if (!t) {
    error(v, path, "type is missing (sqlite, jsonl, webhook, redis or stdout)");
    return;
  }
  auto type = nonempty(t, key_path(path, "type"));
  if (!type) return;
  AuditSinkConfig c;
  c.type = *type;
  c.name = *type;
  if (c.type == "redis") c.timeout = std::chrono::milliseconds(1000);
  const KeyFn fn = [&](const std::string& k, const YAML::Node& x, const std::string& p) {
    if (k == "name") set_str(x, p, c.name);
    if (k == "path") set_str(x, p, c.path);
    if (k == "max_bytes") {
      auto s = nonempty(x, p);
      auto n = s ? parse_size(*s) : std::nullopt;
      if (s && (!n || *n < 1024)) error(x, p, "must be a size of at least 1024 bytes (e.g. 100MB)");
      else if (n) c.max_bytes = *n;
    }
    if (k == "max_age_s") {
      int64_t n = 0;
      count(x, p, 1, int64_t{365} * 86400, n);
      c.max_age = std::chrono::seconds(n);
    }
    if (k == "keep") count(x, p, 1, 1000, c.keep);
    if (k == "url") http_url(x, p, c.url);
    if (k == "headers") header_map(x, p, c.headers);
    if (k == "timeout_ms") millis(x, p, c.timeout);
    if (k == "redis") redis(x, p, c.redis);
    if (k == "stream") set_str(x, p, c.stream);
    if (k == "maxlen") count(x, p, 0, int64_t{1} << 40, c.maxlen);
  };
  // Each type takes its own keys (a key of another type is a mistake worth an error).
  if (c.type == "sqlite") each_key(v, path, {"type", "name", "path"}, fn);
  else if (c.type == "jsonl")
    each_key(v, path, {"type", "name", "path", "max_bytes", "max_age_s", "keep"}, fn);
  else if (c.type == "webhook")
    each_key(v, path, {"type", "name", "url", "headers", "timeout_ms"}, fn);
  else if (c.type == "redis")
    each_key(v, path, {"type", "name", "redis", "stream", "maxlen", "timeout_ms"}, fn);
  else if (c.type == "stdout") each_key(v, path, {"type", "name"}, fn);
  else {
    error(t, key_path(path, "type"),
          "unknown sink type '" + *type + "' (sqlite, jsonl, webhook, redis, stdout)");
    return;
  }
  if ((c.type == "sqlite" || c.type == "jsonl") && c.path.empty())
    error(v, path, c.type + " sink: path is missing");
  if (c.type == "webhook" && c.url.empty()) error(v, path, "webhook sink: url is missing");
  out = std::move(c);
}

void AuditLoader::tracing(const YAML::Node& v, const std::string& path, Config& cfg) {
  TracingConfig& t = cfg.tracing;
  each_key(v, path, {"otlp_endpoint", "headers", "service_name", "sample", "timeout_ms"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "otlp_endpoint") http_url(x, p, t.otlp_endpoint);
             if (k == "headers") header_map(x, p, t.headers);
             if (k == "service_name") set_str(x, p, t.service_name);
             if (k == "timeout_ms") millis(x, p, t.timeout);
             if (k == "sample") {
               double d = -1;
               try {
                 d = x.as<double>();
               } catch (const YAML::Exception&) {
               }
               if (!(d >= 0 && d <= 1)) error(x, p, "must be a number from 0 to 1");
               else t.sample = d;
             }
           });
}

}  // namespace torii::config_detail
