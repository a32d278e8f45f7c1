#include "policies/auth/auth_policy.h"

#include <atomic>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/log.h"
#include "identity/jwt.h"
#include "identity/keys.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"

namespace torii {

namespace {

using identity::KeyDigest;

// A consumer with its team's labels folded in (built once per snapshot).
struct Identity {
  std::string id;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> groups;
};

void add_groups(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& g : from)
    if (std::find(to.begin(), to.end(), g) == to.end()) to.push_back(g);
}

// One configured key (its current value and its earlier ones point at the same entry).
struct KeyEntry {
  std::string name;
  Identity who;
  bool enabled = true;
};

struct KeyValue {
  const KeyEntry* entry;
  int64_t expires_at;  // unix seconds; 0: never
};

// What a verified token gives a request: shared by the requests that present the same token
// while it is cached.
struct VerifiedToken {
  boost::json::object claims;
  std::string id;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> groups;
  double exp = 0;
  std::optional<double> nbf;
};

struct JwtState : PolicyState {
  std::shared_ptr<const VerifiedToken> token;
};

// Tokens already verified, by their full text: a client sends the same token for many
// requests, and an RS256/ES256/EdDSA signature check costs 20-300 us where this lookup costs a
// string hash and a compare (a SHA-256 of the token would cost ~2 us alone). exp and nbf are
// still checked on every request; the cache is emptied whenever the issuer's key set changes,
// and when it is full.
class TokenCache {
 public:
  static constexpr std::size_t kMax = 10'000;
  std::shared_ptr<const VerifiedToken> find(std::string_view token) {
    std::lock_guard lock(mu_);
    auto it = map_.find(token);
    return it == map_.end() ? nullptr : it->second;
  }
  void put(std::string_view token, std::shared_ptr<const VerifiedToken> t) {
    std::lock_guard lock(mu_);
    if (map_.size() >= kMax) map_.clear();
    map_.insert_or_assign(std::string(token), std::move(t));
  }
  void clear() {
    std::lock_guard lock(mu_);
    map_.clear();
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const VerifiedToken>, Hash, std::equal_to<>> map_;
};

// One JWT issuer: its policy and its keys (fetched from jwks_url and kept fresh, or fixed).
struct Issuer {
  const JwtIssuerConfig* config = nullptr;
  identity::JwtPolicy policy;
  const Identity* consumer = nullptr;  // config->consumer
  std::string key_name;                // "jwt:<issuer>"
  std::optional<Endpoint> jwks_endpoint;
  std::atomic<std::shared_ptr<const std::vector<identity::Jwk>>> keys;
  std::atomic<int64_t> fetched_ns{0};       // last successful fetch
  std::atomic<int64_t> last_attempt_ns{0};  // last fetch started (rate limit)
  TokenCache verified;
};

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Takes the right to fetch when the last attempt is at least `interval` old (one winner).
bool claim_fetch(Issuer& is, std::chrono::seconds interval) {
  const int64_t now = mono_ns();
  int64_t last = is.last_attempt_ns.load(std::memory_order_relaxed);
  if (last != 0 && now - last < std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count())
    return false;
  return is.last_attempt_ns.compare_exchange_strong(last, now, std::memory_order_relaxed);
}

UpstreamRequest jwks_request(const Issuer& is) {
  UpstreamRequest req;
  req.method = "GET";
  req.path = is.jwks_endpoint->base_path.empty() ? "/" : is.jwks_endpoint->base_path;
  req.header_block = "User-Agent: torii\r\nAccept: application/json\r\n";
  req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return req;
}

// Takes a fetched JWKS document in: parsed, swapped in, the verified tokens forgotten.
// Failures are logged and keep the old keys.
void accept_jwks(Issuer& is, int status, Result<std::string> body) {
  if (!body || status != 200) {
    log::warn("jwt issuer {}: JWKS fetch failed: {}", is.config->issuer,
              body ? "HTTP " + std::to_string(status) : body.error().message);
    return;
  }
  auto parsed = identity::parse_jwks(*body);
  if (!parsed) {
    log::warn("jwt issuer {}: bad JWKS: {}", is.config->issuer, parsed.error().message);
    return;
  }
  log::info("jwt issuer {}: {} key(s) loaded", is.config->issuer, parsed->size());
  is.keys.store(std::make_shared<const std::vector<identity::Jwk>>(std::move(*parsed)));
  is.verified.clear();  // a key may have been withdrawn
  is.fetched_ns.store(mono_ns(), std::memory_order_relaxed);
}

// Fetches the issuer's JWKS on the calling worker (the request waits, the thread does not).
Task<void> fetch_jwks(Issuer& is) {
  const UpstreamRequest req = jwks_request(is);  // (claim_fetch stamped last_attempt_ns)
  auto resp = co_await UpstreamClient::local().send(*is.jwks_endpoint, req);
  if (!resp) {
    accept_jwks(is, 0, resp.error());
    co_return;
  }
  (*resp)->set_deadline(req.deadline);
  const int status = (*resp)->status();
  auto body = co_await (*resp)->read_all(1024 * 1024);
  accept_jwks(is, status, std::move(body));
}

std::string claim_text(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  return {};
}

class AuthPolicy final : public Policy {
 public:
  std::string_view name() const override { return "auth"; }

  Result<void> build(const Config& cfg) {
    std::unordered_map<std::string, const ConsumerConfig*> by_id;
    for (const auto& c : cfg.consumers) by_id[c.id] = &c;
    for (const auto& c : cfg.consumers) {
      Identity who{c.id, {}, {}};
      if (!c.team.empty()) {
        if (auto t = by_id.find(c.team); t != by_id.end()) {
          who.metadata = t->second->metadata;
          add_groups(who.groups, t->second->groups);
          add_groups(who.groups, {c.team});
        }
      }
      for (const auto& [k, v] : c.metadata) who.metadata[k] = v;
      add_groups(who.groups, c.groups);
      consumers_.emplace(c.id, std::move(who));
    }
    for (const auto& k : cfg.api_keys) {
      auto entry = std::make_unique<KeyEntry>();
      entry->name = k.name;
      entry->enabled = k.enabled;
      if (auto c = consumers_.find(k.consumer); !k.consumer.empty() && c != consumers_.end())
        entry->who = c->second;
      else
        entry->who.id = k.name;
      for (const auto& [mk, mv] : k.metadata) entry->who.metadata[mk] = mv;
      add_groups(entry->who.groups, k.groups);
      auto add = [&](const SecretRef& value, const std::string& sha, int64_t expires) -> Result<void> {
        KeyDigest d{};
        if (!value.empty()) d = identity::key_digest(value.value);
        else if (!identity::from_hex(sha, d))
          return ApiError::invalid_request("auth.api_keys '" + k.name + "': bad key_sha256");
        if (!keys_.emplace(d, KeyValue{entry.get(), expires}).second)  // never print the value
          return ApiError::invalid_request("auth.api_keys '" + k.name +
                                           "': the same key value as another key");
        return {};
      };
      if (auto r = add(k.key, k.sha256, k.expires_at); !r) return r;
      for (const auto& p : k.previous) {
        // A previous value lives until its own expiry, never past the key's.
        const int64_t until = k.expires_at ? std::min(k.expires_at, p.expires_at) : p.expires_at;
        if (auto r = add(p.key, p.sha256, until); !r) return r;
      }
      entries_.push_back(std::move(entry));
    }
    for (const auto& j : cfg.jwt) {
      auto is = std::make_unique<Issuer>();
      is->config = &j;
      is->policy.issuer = j.issuer;
      is->policy.audiences = j.audiences;
      is->policy.leeway = j.leeway;
      is->policy.algorithms = j.algorithms;
      is->key_name = "jwt:" + j.issuer;
      if (!j.consumer.empty())
        if (auto c = consumers_.find(j.consumer); c != consumers_.end()) is->consumer = &c->second;
      const std::string where = "auth.jwt '" + j.issuer + "': ";
      if (!j.jwks_url.empty()) {
        UpstreamTimeouts t;
        t.connect = t.first_byte = t.idle = std::chrono::seconds(5);
        auto ep = make_endpoint(j.jwks_url, "", t);
        if (!ep) return ApiError::invalid_request(where + "jwks_url: " + ep.error().message);
        is->jwks_endpoint = std::move(*ep);
        // Fetched now, so that the first requests do not wait for it (a failure is only
        // logged: the requests fetch it again, at most once a second).
        auto got = http_fetch(*is->jwks_endpoint, jwks_request(*is), 1024 * 1024);
        if (got) accept_jwks(*is, got->status, std::move(got->body));
        else accept_jwks(*is, 0, got.error());
      } else if (!j.jwks_file.empty()) {
        std::ifstream in(j.jwks_file, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        if (!in) return ApiError::invalid_request(where + "cannot read jwks_file " + j.jwks_file);
        auto parsed = identity::parse_jwks(ss.str());
        if (!parsed) return ApiError::invalid_request(where + "jwks_file " + j.jwks_file + ": " +
                                                      parsed.error().message);
        is->keys.store(std::make_shared<const std::vector<identity::Jwk>>(std::move(*parsed)));
      } else {
        identity::Jwk k;
        k.kty = "oct";
        k.alg = "HS256";
        k.hmac_secret = j.hmac_secret.value;
        is->keys.store(std::make_shared<const std::vector<identity::Jwk>>(1, std::move(k)));
      }
      issuers_.push_back(std::move(is));
    }
    return {};
  }

  Task<Verdict> on_headers(RequestContext& ctx) override {
    std::string_view cred = presented_key(*ctx.head);
    if (cred.empty())
      co_return Verdict::reject(ApiError::authentication(
          "missing API key: send 'Authorization: Bearer <key>', 'x-api-key: <key>' or "
          "'api-key: <key>'"));
    if (!issuers_.empty() && identity::looks_like_jwt(cred)) co_return co_await on_token(ctx, cred);
    co_return check_key(ctx, cred);
  }

 private:
  Verdict check_key(RequestContext& ctx, std::string_view key) const {
    auto it = keys_.find(identity::key_digest(key));
    if (it == keys_.end()) return Verdict::reject(ApiError::authentication("invalid API key"));
    const KeyEntry& e = *it->second.entry;
    if (!e.enabled) return Verdict::reject(ApiError::authentication("API key is disabled"));
    if (it->second.expires_at != 0 && ::time(nullptr) >= it->second.expires_at)
      return Verdict::reject(ApiError::authentication("API key has expired"));
    ctx.principal.authenticated = true;
    ctx.principal.id = e.who.id;
    ctx.principal.key_name = e.name;
    ctx.principal.metadata = &e.who.metadata;
    if (!e.who.groups.empty()) ctx.principal.groups = &e.who.groups;
    return Verdict::next();
  }

  Issuer* issuer_for(std::string_view token) const {
    if (issuers_.size() == 1) return issuers_.front().get();
    const std::string iss = identity::peek_issuer(token);
    for (const auto& is : issuers_)
      if (is->config->issuer == iss) return is.get();
    return nullptr;
  }

  Task<Verdict> on_token(RequestContext& ctx, std::string_view token) {
    Issuer* is = issuer_for(token);
    if (!is) co_return Verdict::reject(token_error("the token's issuer is not trusted"));
    if (auto cached = from_cache(ctx, *is, token)) co_return std::move(*cached);
    if (is->jwks_endpoint) {
      const auto refresh = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               is->config->jwks_refresh).count();
      const bool have = is->keys.load() != nullptr;
      const bool stale = mono_ns() - is->fetched_ns.load(std::memory_order_relaxed) > refresh;
      // No keys yet (the fetch at load failed): one request a second fetches them, the others
      // get 503 jwks_unavailable meanwhile. Stale keys: one request refreshes them, the others
      // go on with the old ones.
      if ((!have && claim_fetch(*is, std::chrono::seconds(1))) ||
          (have && stale && claim_fetch(*is, is->config->jwks_min_refetch)))
        co_await fetch_jwks(*is);
    }
    Verdict v = verify(ctx, *is, token);
    if (v.kind() == Verdict::Kind::reject && v.error().code == identity::kUnknownKidCode &&
        is->jwks_endpoint && claim_fetch(*is, is->config->jwks_min_refetch)) {
      // The IdP may have rotated its keys: refetch once and try again.
      co_await fetch_jwks(*is);
      v = verify(ctx, *is, token);
    }
    if (v.kind() == Verdict::Kind::reject && v.error().code == identity::kUnknownKidCode) {
      ApiError e = v.error();
      e.code = "invalid_token";
      co_return Verdict::reject(std::move(e));
    }
    co_return v;
  }

  static ApiError token_error(std::string why) {
    ApiError e = ApiError::authentication("invalid bearer token: " + why);
    e.code = "invalid_token";
    return e;
  }

  // A token verified before: its time claims are checked again, nothing else is.
  std::optional<Verdict> from_cache(RequestContext& ctx, Issuer& is, std::string_view token) const {
    auto t = is.verified.find(token);
    if (!t) return std::nullopt;
    const auto now = static_cast<double>(::time(nullptr));
    const auto leeway = static_cast<double>(is.config->leeway.count());
    if (now >= t->exp + leeway) return Verdict::reject(token_error("expired"));
    if (t->nbf && now + leeway < *t->nbf) return Verdict::reject(token_error("not yet valid"));
    set_principal(ctx, is, std::move(t));
    return Verdict::next();
  }

  void set_principal(RequestContext& ctx, const Issuer& is,
                     std::shared_ptr<const VerifiedToken> t) const {
    auto& st = ctx.state<JwtState>();
    st.token = std::move(t);
    ctx.principal.authenticated = true;
    ctx.principal.id = st.token->id;
    ctx.principal.key_name = is.key_name;
    ctx.principal.metadata = &st.token->metadata;
    ctx.principal.groups = st.token->groups.empty() ? nullptr : &st.token->groups;
    ctx.principal.claims = &st.token->claims;
  }

  // Verifies the token, caches it and sets the principal (a plain function: the claims stay
  // off the coroutine frame).
  Verdict verify(RequestContext& ctx, Issuer& is, std::string_view token) const {
    auto keys = is.keys.load();
    if (!keys) {
      ApiError e = ApiError::unavailable("cannot verify the token: the keys of issuer '" +
                                         is.config->issuer + "' are not available yet");
      e.code = "jwks_unavailable";
      return Verdict::reject(std::move(e));
    }
    auto jwt = identity::verify_jwt(token, *keys, is.policy, ::time(nullptr));
    if (!jwt) return Verdict::reject(jwt.error());
    auto t = std::make_shared<VerifiedToken>();
    t->claims = std::move(jwt->claims);
    auto number = [](const boost::json::value* v) -> std::optional<double> {
      if (!v || !v->is_number()) return std::nullopt;
      return v->to_number<double>();
    };
    t->exp = number(t->claims.if_contains("exp")).value_or(0);  // verify_jwt required it
    t->nbf = number(t->claims.if_contains("nbf"));
    const JwtIssuerConfig& c = *is.config;
    const Identity* who = is.consumer;
    if (who) {
      t->id = who->id;
    } else {
      const auto* sub = t->claims.if_contains(c.consumer_claim);
      t->id = sub ? claim_text(*sub) : std::string();
      if (t->id.empty()) return Verdict::reject(token_error("no '" + c.consumer_claim + "' claim"));
      if (auto it = consumers_.find(t->id); it != consumers_.end()) who = &it->second;
    }
    if (who) {
      t->metadata = who->metadata;
      t->groups = who->groups;
    }
    if (!c.groups_claim.empty()) {
      if (const auto* g = t->claims.if_contains(c.groups_claim)) {
        if (g->is_string()) add_groups(t->groups, {std::string(g->get_string())});
        if (g->is_array())
          for (const auto& x : g->get_array())
            if (x.is_string()) add_groups(t->groups, {std::string(x.get_string())});
      }
    }
    for (const auto& [key, claim] : c.metadata_claims)
      if (const auto* v = t->claims.if_contains(claim)) {
        std::string text = claim_text(*v);
        if (!text.empty()) t->metadata[key] = std::move(text);
      }
    is.verified.put(token, t);
    set_principal(ctx, is, std::move(t));
    return Verdict::next();
  }

  std::unordered_map<std::string, Identity> consumers_;
  std::vector<std::unique_ptr<KeyEntry>> entries_;
  std::unordered_map<KeyDigest, KeyValue, identity::KeyDigestHash> keys_;
  std::vector<std::unique_ptr<Issuer>> issuers_;
};

}  // namespace

std::string_view presented_key(const RequestHead& head) {
  std::string_view auth = head.header("authorization");
  if (auth.size() > 7 && strncasecmp(auth.data(), "Bearer ", 7) == 0) {
    auth.remove_prefix(7);
    while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
    while (!auth.empty() && auth.back() == ' ') auth.remove_suffix(1);
    return auth;
  }
  std::string_view k = head.header("x-api-key");
  return k.empty() ? head.header("api-key") : k;
}

Result<std::unique_ptr<Policy>> make_auth_policy(const Config& cfg) {
  auto p = std::make_unique<AuthPolicy>();
  if (auto r = p->build(cfg); !r) return r.error();
  return std::unique_ptr<Policy>(std::move(p));
}

}  // namespace torii
