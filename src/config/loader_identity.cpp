// IdentityLoader: `auth:` (consumers, API keys, JWT issuers) and `authorization:` from YAML
// (docs/SECURITY.md).
#include "config/loader_identity.h"

#include <ctime>

#include "identity/keys.h"

namespace torii::config_detail {

namespace {

// RFC 3339 date-time ("2027-01-01T00:00:00Z", "...T10:00:00.5+02:00") -> unix seconds.
std::optional<int64_t> rfc3339(const std::string& s) {
  int y, mo, d, h, mi, se, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se,
                  &consumed) != 6 ||
      consumed != 19)
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
      return std::nullopt;
    offset = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

}  // namespace

}  // namespace torii::config_detail

namespace torii {
std::optional<int64_t> parse_rfc3339(const std::string& text) {
  return config_detail::rfc3339(text);
}
}  // namespace torii

namespace torii::config_detail {

void IdentityLoader::auth(const YAML::Node& v, const std::string& path, Config& cfg) {
  each_key(v, path, {"consumers", "api_keys", "jwt"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "consumers") consumers(x, p, cfg);
             if (k == "api_keys") api_keys(x, p, cfg);
             if (k == "jwt") jwt(x, p, cfg);
           });
}

void IdentityLoader::consumers(const YAML::Node& v, const std::string& path, Config& cfg) {
  if (!v.IsSequence()) {
    error(v, path, "must be a list");
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string cp = index_path(path, i);
    ConsumerConfig c;
    c.line = line_of(v[i]);
    std::set<std::string> got;
    each_key(v[i], cp, {"id", "kind", "team", "metadata", "groups"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               got.insert(k);
               if (k == "id") set_str(x, p, c.id);
               if (k == "kind") {
                 set_str(x, p, c.kind);
                 if (c.kind != "app" && c.kind != "user" && c.kind != "team")
                   error(x, p, "must be app, user or team, got '" + c.kind + "'");
               }
               if (k == "team") set_str(x, p, c.team);
               if (k == "metadata") c.metadata = string_map(x, p);
               if (k == "groups") c.groups = strings(x, p);
             });
    if (v[i].IsMap()) require(v[i], cp, got, {"id"});
    cfg.consumers.push_back(std::move(c));
  }
}

void IdentityLoader::api_keys(const YAML::Node& v, const std::string& path, Config& cfg) {
  if (!v.IsSequence()) {
    error(v, path, "must be a list");
    return;
  }
  auto expiry = [&](const YAML::Node& x, const std::string& p, int64_t& out) {
    auto s = nonempty(x, p);
    if (!s) return;
    if (auto t = rfc3339(*s)) out = *t;
    else error(x, p, "must be an RFC 3339 date-time such as 2027-01-01T00:00:00Z");
  };
  auto sha = [&](const YAML::Node& x, const std::string& p, std::string& out) {
    auto s = nonempty(x, p);
    if (!s) return;
    identity::KeyDigest d;
    if (!identity::from_hex(*s, d)) {
      error(x, p, "must be 64 hex characters (the SHA-256 of the key; see `torii keys new`)");
      return;
    }
    out = identity::to_hex(d);  // lower case
  };
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string kp = index_path(path, i);
    ApiKeyConfig key;
    key.line = line_of(v[i]);
    std::set<std::string> got;
    each_key(v[i], kp,
             {"name", "key", "key_sha256", "consumer", "enabled", "expires_at", "metadata",
              "groups", "previous"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               got.insert(k);
               if (k == "name") set_str(x, p, key.name);
               if (k == "key" || k == "key_sha256") key.key_line = line_of(x);
               if (k == "key") key.key = secret(x, p);
               if (k == "key_sha256") sha(x, p, key.sha256);
               if (k == "consumer") set_str(x, p, key.consumer);
               if (k == "enabled") boolean(x, p, key.enabled);
               if (k == "expires_at") expiry(x, p, key.expires_at);
               if (k == "metadata") key.metadata = string_map(x, p);
               if (k == "groups") key.groups = strings(x, p);
               if (k != "previous") return;
               if (!x.IsSequence()) {
                 error(x, p, "must be a list of {key or key_sha256, expires_at}");
                 return;
               }
               for (std::size_t j = 0; j < x.size(); ++j) {
                 const std::string pp = index_path(p, j);
                 ApiKeyConfig::Previous prev;
                 std::set<std::string> pgot;
                 each_key(x[j], pp, {"key", "key_sha256", "expires_at"},
                          [&](const std::string& pk, const YAML::Node& y, const std::string& yp) {
                            pgot.insert(pk);
                            if (pk == "key") prev.key = secret(y, yp);
                            if (pk == "key_sha256") sha(y, yp, prev.sha256);
                            if (pk == "expires_at") expiry(y, yp, prev.expires_at);
                          });
                 if (!x[j].IsMap()) continue;
                 require(x[j], pp, pgot, {"expires_at"});
                 if (pgot.count("key") == pgot.count("key_sha256"))
                   error(x[j], pp, "needs exactly one of key, key_sha256");
                 key.previous.push_back(std::move(prev));
               }
             });
    if (v[i].IsMap()) {
      require(v[i], kp, got, {"name"});
      if (got.count("key") == got.count("key_sha256"))
        error(v[i], kp, "needs exactly one of key, key_sha256");
    }
    cfg.api_keys.push_back(std::move(key));
  }
}

void IdentityLoader::jwt(const YAML::Node& v, const std::string& path, Config& cfg) {
  if (!v.IsSequence()) {
    error(v, path, "must be a list of issuers");
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string ip = index_path(path, i);
    JwtIssuerConfig j;
    j.line = line_of(v[i]);
    std::set<std::string> got;
    each_key(v[i], ip,
             {"issuer", "audience", "jwks_url", "jwks_file", "hmac_secret", "algorithms",
              "leeway_s", "jwks_refresh_s", "jwks_min_refetch_s", "consumer_claim",
              "groups_claim", "metadata_claims", "consumer"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               got.insert(k);
               if (k == "issuer") set_str(x, p, j.issuer);
               if (k == "audience") {
                 if (x.IsSequence()) j.audiences = strings(x, p);
                 else if (auto s = nonempty(x, p)) j.audiences = {*s};
               }
               if (k == "jwks_url") {
                 set_str(x, p, j.jwks_url);
                 if (j.jwks_url.rfind("https://", 0) != 0 && j.jwks_url.rfind("http://", 0) != 0)
                   error(x, p, "must be an http(s) URL");
               }
               if (k == "jwks_file") set_str(x, p, j.jwks_file);
               if (k == "hmac_secret") {
                 j.hmac_secret = secret(x, p);
                 if (!j.hmac_secret.empty() && j.hmac_secret.value.size() < 32)
                   error(x, p, "an HS256 secret needs at least 32 bytes");
               }
               if (k == "algorithms") {
                 j.algorithms = strings(x, p);
                 for (const auto& a : j.algorithms)
                   if (a != "RS256" && a != "ES256" && a != "EdDSA" && a != "HS256")
                     error(x, p, "must list RS256, ES256, EdDSA or HS256, got '" + a + "'");
               }
               if (k == "leeway_s") seconds(x, p, 0, j.leeway);
               if (k == "jwks_refresh_s") seconds(x, p, 1, j.jwks_refresh);
               if (k == "jwks_min_refetch_s") seconds(x, p, 0, j.jwks_min_refetch);
               if (k == "consumer_claim") set_str(x, p, j.consumer_claim);
               if (k == "groups_claim") {
                 if (auto s = str(x, p)) j.groups_claim = *s;
               }
               if (k == "metadata_claims") j.metadata_claims = string_map(x, p);
               if (k == "consumer") set_str(x, p, j.consumer);
             });
    if (!v[i].IsMap()) continue;
    require(v[i], ip, got, {"issuer"});
    const int sources = static_cast<int>(got.count("jwks_url") + got.count("jwks_file") +
                                         got.count("hmac_secret"));
    if (sources != 1) error(v[i], ip, "needs exactly one of jwks_url, jwks_file, hmac_secret");
    const bool hs = std::find(j.algorithms.begin(), j.algorithms.end(), "HS256") != j.algorithms.end();
    if (got.count("hmac_secret") && (!hs || j.algorithms.size() != 1))
      error(v[i], ip, "hmac_secret needs algorithms: [HS256]");
    if (!got.count("hmac_secret") && hs)
      error(v[i], ip, "HS256 needs hmac_secret (a JWKS key set is for asymmetric algorithms)");
    cfg.jwt.push_back(std::move(j));
  }
}

void IdentityLoader::authorization(const YAML::Node& v, const std::string& path, Config& cfg) {
  each_key(v, path, {"default", "rules"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "default") {
               auto s = nonempty(x, p);
               if (s && *s != "allow" && *s != "deny") error(x, p, "must be allow or deny");
               else if (s) cfg.authorization.default_allow = *s == "allow";
             }
             if (k != "rules") return;
             if (!x.IsSequence()) {
               error(x, p, "must be a list");
               return;
             }
             for (std::size_t i = 0; i < x.size(); ++i) {
               const std::string rp = index_path(p, i);
               AuthzRuleConfig rule;
               rule.line = line_of(x[i]);
               std::set<std::string> got;
               each_key(x[i], rp, {"id", "effect", "when"},
                        [&](const std::string& rk, const YAML::Node& y, const std::string& yp) {
                          got.insert(rk);
                          if (rk == "id") set_str(y, yp, rule.id);
                          if (rk == "effect") {
                            auto s = nonempty(y, yp);
                            if (s && *s != "allow" && *s != "deny")
                              error(y, yp, "must be allow or deny");
                            else if (s) rule.deny = *s == "deny";
                          }
                          if (rk == "when") conditions(y, yp, rule.when, true);
                        });
               if (x[i].IsMap()) require(x[i], rp, got, {"id"});
               cfg.authorization.rules.push_back(std::move(rule));
             }
           });
}

void IdentityLoader::check_identity(const Config& cfg) {
  const std::string ap = "auth.api_keys", cp = "auth.consumers";
  std::map<std::string, const ConsumerConfig*> consumers;
  for (std::size_t i = 0; i < cfg.consumers.size(); ++i) {
    const auto& c = cfg.consumers[i];
    if (c.id.empty()) continue;
    if (!consumers.emplace(c.id, &c).second)
      error_at(c.line, index_path(cp, i) + ".id", "duplicate consumer id '" + c.id + "'");
  }
  for (std::size_t i = 0; i < cfg.consumers.size(); ++i) {
    const auto& c = cfg.consumers[i];
    if (c.team.empty()) continue;
    auto it = consumers.find(c.team);
    if (it == consumers.end())
      error_at(c.line, index_path(cp, i) + ".team", "no consumer '" + c.team + "'");
    else if (it->second->kind != "team")
      error_at(c.line, index_path(cp, i) + ".team",
               "consumer '" + c.team + "' is not of kind team");
    else if (!it->second->team.empty())
      error_at(c.line, index_path(cp, i) + ".team",
               "team '" + c.team + "' is itself in a team (one level only)");
  }
  std::map<std::string, std::size_t> names, digests;
  // Every value by its digest, whether given as a secret or as key_sha256: a key may not be
  // given twice either way.
  auto same_value = [&](const SecretRef& key, const std::string& sha, std::size_t i, int line,
                        const std::string& p) {
    if (key.empty() && sha.empty()) return;
    const std::string d = key.empty() ? sha : identity::to_hex(identity::key_digest(key.value));
    auto [it, fresh] = digests.emplace(d, i);
    if (!fresh)  // never print the value itself
      error_at(line, p, "the same key value as " + index_path(ap, it->second));
  };
  for (std::size_t i = 0; i < cfg.api_keys.size(); ++i) {
    const auto& k = cfg.api_keys[i];
    const std::string kp = index_path(ap, i);
    if (!k.name.empty()) {
      auto [it, fresh] = names.emplace(k.name, i);
      if (!fresh)
        error_at(k.line, kp + ".name",
                 "duplicate key name '" + k.name + "' (also " + index_path(ap, it->second) + ")");
    }
    if (!k.consumer.empty() && !consumers.count(k.consumer))
      error_at(k.line, kp + ".consumer", "no consumer '" + k.consumer + "' in auth.consumers");
    same_value(k.key, k.sha256, i, k.key_line, kp + (k.key.empty() ? ".key_sha256" : ".key"));
    for (const auto& prev : k.previous) same_value(prev.key, prev.sha256, i, k.line, kp + ".previous");
  }
  std::set<std::string> issuers;
  for (std::size_t i = 0; i < cfg.jwt.size(); ++i) {
    const auto& j = cfg.jwt[i];
    if (!j.issuer.empty() && !issuers.insert(j.issuer).second)
      error_at(j.line, index_path("auth.jwt", i) + ".issuer",
               "duplicate issuer '" + j.issuer + "'");
    if (!j.consumer.empty() && !consumers.count(j.consumer))
      error_at(j.line, index_path("auth.jwt", i) + ".consumer",
               "no consumer '" + j.consumer + "' in auth.consumers");
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < cfg.authorization.rules.size(); ++i) {
    const auto& r = cfg.authorization.rules[i];
    if (!r.id.empty() && !ids.insert(r.id).second)
      error_at(r.line, index_path("authorization.rules", i) + ".id",
               "duplicate rule id '" + r.id + "'");
    if (r.id == "default")
      error_at(r.line, index_path("authorization.rules", i) + ".id",
               "'default' is reserved (it names the default effect in denials)");
  }
}

}  // namespace torii::config_detail
