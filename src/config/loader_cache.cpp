// CacheLoader: `cache:` (see loader_cache.h, docs/CACHING.md).
#include "config/loader_cache.h"

#include <sodium.h>

namespace torii::config_detail {

void CacheLoader::fraction(const YAML::Node& v, const std::string& path, double min, double max,
                           double& out) {
  auto d = yaml_number(v);
  if (!d || *d < min || *d > max) {
    error(v, path, "must be a number from " + std::to_string(min).substr(0, 4) + " to " +
                       std::to_string(max).substr(0, 4));
    return;
  }
  out = *d;
}

void CacheLoader::semantic(const YAML::Node& v, const std::string& path,
                           SemanticCacheConfig& out) {
  std::set<std::string> got;
  each_key(v, path,
           {"enabled", "embedding_model", "dimensions", "threshold", "guard", "max_entries",
            "timeout_ms"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             if (k == "enabled") boolean(x, p, out.enabled);
             if (k == "embedding_model") set_str(x, p, out.embedding_model);
             if (k == "dimensions") count(x, p, 1, 8192, out.dimensions);
             if (k == "threshold") fraction(x, p, 0.5, 1.0, out.threshold);
             if (k == "guard") boolean(x, p, out.guard);
             if (k == "max_entries") count(x, p, 1, 10'000'000, out.max_entries);
             if (k == "timeout_ms") millis(x, p, out.timeout);
           });
  if (v.IsMap() && !got.count("enabled")) out.enabled = true;  // a semantic: block turns it on
  if (out.enabled && out.embedding_model.empty())
    error(v, path + ".embedding_model",
          "is required: a route or '<provider>/<model>' that serves embeddings");
}

void CacheLoader::cache(const YAML::Node& v, const std::string& path, Config& cfg) {
  CacheConfig& c = cfg.cache;
  cache_line_ = line_of(v);
  std::set<std::string> got;
  each_key(v, path,
           {"enabled", "store", "redis", "ttl_seconds", "max_entries", "max_bytes",
            "max_entry_bytes", "max_temperature", "scope", "routes", "semantic"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             if (k == "enabled") boolean(x, p, c.enabled);
             if (k == "store") {
               auto s = nonempty(x, p);
               if (s && *s != "memory" && *s != "redis") error(x, p, "must be memory or redis");
               else if (s) c.store = *s;
             }
             if (k == "redis") redis(x, p, c.redis);
             if (k == "ttl_seconds") {
               std::chrono::seconds s{};
               seconds(x, p, 1, s);
               if (s.count() > 0) c.ttl = s;
             }
             if (k == "max_entries") count(x, p, 1, 100'000'000, c.max_entries);
             if (k == "max_bytes") count(x, p, 1 << 16, int64_t{1} << 40, c.max_bytes);
             if (k == "max_entry_bytes") count(x, p, 1024, int64_t{64} << 20, c.max_entry_bytes);
             if (k == "max_temperature") fraction(x, p, 0, 2, c.max_temperature);
             if (k == "scope") {
               auto s = nonempty(x, p);
               if (s && *s != "consumer" && *s != "group" && *s != "shared")
                 error(x, p, "must be consumer, group or shared");
               else if (s) c.scope = *s;
             }
             if (k == "routes") c.routes = strings(x, p);
             if (k == "semantic") semantic(x, p, c.semantic);
           });
  if (v.IsMap() && !got.count("enabled")) c.enabled = true;  // a cache: block turns it on
  if (c.max_entry_bytes > c.max_bytes)
    error(v, path + ".max_entry_bytes", "must not exceed max_bytes");
}

void CacheLoader::check_cache(const YAML::Node& root, Config& cfg) {
  CacheConfig& c = cfg.cache;
  if (!c.enabled) return;
  const YAML::Node at = root["cache"];
  auto known_route = [&](const std::string& name) {
    for (const auto& r : cfg.routes)
      if (r.name == name) return true;
    // "<provider>/<model>" addresses a provider directly.
    const auto slash = name.find('/');
    if (slash == std::string::npos) return false;
    for (const auto& p : cfg.providers)
      if (p.name == name.substr(0, slash)) return true;
    return false;
  };
  for (std::size_t i = 0; i < c.routes.size(); ++i)
    if (!known_route(c.routes[i]))
      error(at["routes"][i], index_path("cache.routes", i),
            "names no route: '" + c.routes[i] + "'");
  if (c.semantic.enabled && !c.semantic.embedding_model.empty() &&
      !known_route(c.semantic.embedding_model))
    error(at["semantic"]["embedding_model"], "cache.semantic.embedding_model",
          "names no route or provider: '" + c.semantic.embedding_model + "'");
  // What shapes an answer besides the request: the guardrails and the prompt library.
  std::string shaping;
  for (const char* section : {"guardrails", "prompts"})
    if (root[section]) shaping += std::string(section) + "\n" + YAML::Dump(root[section]) + "\n";
  unsigned char d[16];
  crypto_generichash(d, sizeof d, reinterpret_cast<const unsigned char*>(shaping.data()),
                     shaping.size(), nullptr, 0);
  static const char* hex = "0123456789abcdef";
  c.answers_digest.clear();
  for (unsigned char b : d) c.answers_digest += {hex[b >> 4], hex[b & 15]};
}

}  // namespace torii::config_detail
