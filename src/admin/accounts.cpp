// Admin accounts (see accounts.h).
#include "admin/accounts.h"

#include <sodium.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <stdexcept>

#include "core/clock.h"
#include "core/log.h"
#include "identity/jwt.h"
#include "identity/keys.h"

namespace torii::admin {

namespace json = boost::json;

namespace {

std::string random_token(std::string_view prefix, std::size_t bytes = 32) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string out(prefix);
  out += identity::base64url_encode(raw);
  return out;
}

std::string sha256_hex(std::string_view s) {
  return identity::to_hex(identity::key_digest(s));
}

std::string hash_password(std::string_view pw) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, pw.data(), pw.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("argon2id: out of memory");
  return out;
}

bool verify_password(const std::string& hash, std::string_view pw) {
  return crypto_pwhash_str_verify(hash.c_str(), pw.data(), pw.size()) == 0;
}

json::array& arr(json::object& doc, std::string_view key) {
  json::value& v = doc[key];
  if (!v.is_array()) v = json::array{};
  return v.get_array();
}

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t num(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

json::object* find_user(json::object& doc, std::string_view name) {
  for (auto& u : arr(doc, "users"))
    if (u.is_object() && str(u.get_object(), "name") == name) return &u.get_object();
  return nullptr;
}

json::object public_user(const json::object& u) {
  json::object o;
  o["name"] = str(u, "name");
  o["role"] = str(u, "role");
  o["must_change_password"] = u.if_contains("must_change_password") != nullptr &&
                              u.at("must_change_password").is_bool() &&
                              u.at("must_change_password").get_bool();
  o["created_ms"] = num(u, "created_ms");
  return o;
}

json::object public_token(const json::object& t) {
  json::object o;
  for (const char* k : {"id", "name", "user", "role"}) o[k] = str(t, k);
  o["created_ms"] = num(t, "created_ms");
  o["expires_ms"] = num(t, "expires_ms");
  return o;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '@';
  });
}

Result<void> check_password_strength(std::string_view pw) {
  if (pw.size() < 12)
    return ApiError::invalid_request("the password must have at least 12 characters", "password",
                                     "weak_password");
  if (pw.size() > 1024)
    return ApiError::invalid_request("the password is too long (1024 at most)", "password");
  return {};
}

ApiError forbidden(std::string message, std::string code = "forbidden") {
  ApiError e = ApiError::permission(std::move(message));
  e.code = std::move(code);
  return e;
}

}  // namespace

std::string_view role_name(Role r) {
  switch (r) {
    case Role::viewer: return "viewer";
    case Role::editor: return "editor";
    case Role::admin: return "admin";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "viewer") return Role::viewer;
  if (s == "editor") return Role::editor;
  if (s == "admin") return Role::admin;
  return std::nullopt;
}

Accounts::Accounts(ConfigStore& store, AdminConfig cfg) : store_(store), cfg_(std::move(cfg)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium: initialisation failed");
  dummy_hash_ = hash_password(random_token("", 16));
}

Result<void> Accounts::refresh_locked(bool force) {
  if (!force && !stale_) return {};
  auto d = store_.load(kAccountsDoc);
  if (!d) return d.error();
  version_ = d->version;
  doc_ = json::object{};
  if (d->version > 0) {
    boost::system::error_code ec;
    json::value v = json::parse(d->json, ec);
    if (ec || !v.is_object()) return ApiError::internal("the stored accounts are not valid JSON");
    doc_ = std::move(v.get_object());
  }
  stale_ = false;
  loaded_ms_ = unix_ms();
  return {};
}

template <class F>
Result<void> Accounts::modify(F&& change) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (auto r = refresh_locked(attempt > 0 || stale_); !r) return r;
    json::object next = doc_;
    // Expired sessions and tokens go with every write.
    const int64_t now = unix_ms();
    auto& toks = arr(next, "tokens");
    toks.erase(std::remove_if(toks.begin(), toks.end(),
                              [&](const json::value& t) {
                                const int64_t exp = t.is_object() ? num(t.get_object(), "expires_ms") : 1;
                                return exp != 0 && exp < now;
                              }),
               toks.end());
    if (auto r = change(next); !r) return r;
    auto saved = store_.save(kAccountsDoc, version_, json::serialize(next));
    if (saved) {
      doc_ = std::move(next);
      version_ = *saved;
      return {};
    }
    if (saved.error().code != "version_conflict") return saved.error();
  }
  ApiError e = ApiError::unavailable("the accounts changed concurrently; try again");
  e.status = 409;
  return e;
}

Result<std::string> Accounts::bootstrap() {
  std::lock_guard lock(mu_);
  if (auto r = refresh_locked(true); !r) return r.error();
  if (!arr(doc_, "users").empty()) return std::string();
  std::string password = random_token("", 15);  // 20 characters of base64url
  auto r = modify([&](json::object& d) -> Result<void> {
    if (!arr(d, "users").empty()) return {};  // another node made one meanwhile
    json::object u;
    u["name"] = cfg_.initial_user;
    u["role"] = "admin";
    u["password"] = hash_password(password);
    u["must_change_password"] = true;
    u["created_ms"] = unix_ms();
    arr(d, "users").push_back(std::move(u));
    return {};
  });
  if (!r) return r.error();
  return password;
}

// An address may carry several users (a NAT, a bastion): it gets four times a user's allowance.
int Accounts::allowance(std::string_view key) const {
  return key.substr(0, 3) == "ip:" ? cfg_.login_failures * 4 : cfg_.login_failures;
}

bool Accounts::rate_limited(std::string_view key, int64_t now, int64_t& retry_after_s) {
  auto it = failures_.find(std::string(key));
  if (it == failures_.end()) return false;
  const int64_t window = cfg_.login_window.count() * 1000;
  auto& q = it->second;
  while (!q.empty() && q.front() <= now - window) q.pop_front();
  if (static_cast<int>(q.size()) < allowance(key)) return false;
  retry_after_s = std::max<int64_t>(1, (q.front() + window - now + 999) / 1000);
  return true;
}

void Accounts::record_failure(const std::string& key, int64_t now) {
  auto& q = failures_[key];
  q.push_back(now);
  while (static_cast<int>(q.size()) > allowance(key)) q.pop_front();
  if (failures_.size() > 100'000) failures_.clear();  // a flood of names: forget, do not grow
}

Result<std::pair<std::string, Principal>> Accounts::login(std::string_view user,
                                                          std::string_view password,
                                                          std::string_view client_ip) {
  std::lock_guard lock(mu_);
  const int64_t now = unix_ms();
  const std::string ukey = "user:" + std::string(user), ikey = "ip:" + std::string(client_ip);
  int64_t retry = 0;
  if (rate_limited(ukey, now, retry) || rate_limited(ikey, now, retry)) {
    log::warn("admin: login refused for '{}' from {}: too many failures", user, client_ip);
    return ApiError::rate_limited("too many failed logins; try again in " +
                                      std::to_string(retry) + " s",
                                  std::to_string(retry));
  }
  if (auto r = refresh_locked(true); !r) return r.error();
  json::object* u = find_user(doc_, user);
  const std::string hash = u != nullptr ? str(*u, "password") : dummy_hash_;
  const bool ok = verify_password(hash, password) && u != nullptr;
  if (!ok) {
    record_failure(ukey, now);
    record_failure(ikey, now);
    log::warn("admin: failed login for '{}' from {}", user, client_ip);
    ApiError e = ApiError::authentication("wrong user name or password");
    e.code = "invalid_credentials";
    return e;
  }
  failures_.erase(ukey);
  Principal p;
  p.user = std::string(user);
  p.role = parse_role(str(*u, "role")).value_or(Role::viewer);
  p.must_change_password = u->if_contains("must_change_password") != nullptr &&
                           u->at("must_change_password").is_bool() &&
                           u->at("must_change_password").get_bool();
  p.session = true;
  const std::string token = random_token("tks_");
  p.token_id = "s_" + sha256_hex(token).substr(0, 12);
  auto saved = modify([&](json::object& d) -> Result<void> {
    json::object t;
    t["id"] = p.token_id;
    t["name"] = "login";
    t["user"] = p.user;
    t["role"] = std::string(role_name(p.role));
    t["sha256"] = sha256_hex(token);
    t["session"] = true;
    t["created_ms"] = now;
    t["expires_ms"] = now + cfg_.session_ttl.count() * 1000;
    arr(d, "tokens").push_back(std::move(t));
    return {};
  });
  if (!saved) return saved.error();
  log::info("admin: '{}' logged in from {}", user, client_ip);
  return std::make_pair(token, p);
}

Result<Principal> Accounts::authenticate(std::string_view token) {
  if (token.empty()) return ApiError::authentication("an admin token is required (Authorization: Bearer ...)");
  const std::string digest = sha256_hex(token);
  std::lock_guard lock(mu_);
  if (auto r = refresh_locked(false); !r) return r.error();
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& t : arr(doc_, "tokens")) {
      if (!t.is_object()) continue;
      const json::object& o = t.get_object();
      if (str(o, "sha256") != digest) continue;
      const int64_t exp = num(o, "expires_ms");
      if (exp != 0 && exp < unix_ms()) return ApiError::authentication("the admin token has expired");
      json::object* u = find_user(doc_, str(o, "user"));
      if (u == nullptr) return ApiError::authentication("the admin token's user no longer exists");
      Principal p;
      p.user = str(o, "user");
      const Role user_role = parse_role(str(*u, "role")).value_or(Role::viewer);
      const Role token_role = parse_role(str(o, "role")).value_or(Role::viewer);
      p.role = std::min(user_role, token_role);
      p.must_change_password = u->if_contains("must_change_password") != nullptr &&
                               u->at("must_change_password").is_bool() &&
                               u->at("must_change_password").get_bool();
      p.token_id = str(o, "id");
      p.session = o.if_contains("session") != nullptr && o.at("session").is_bool() &&
                  o.at("session").get_bool();
      return p;
    }
    // Unknown here: another node may have made it. Reload at most once a second.
    if (pass == 0 && unix_ms() - loaded_ms_ >= 1000) {
      if (auto r = refresh_locked(true); !r) return r.error();
      continue;
    }
    break;
  }
  return ApiError::authentication("invalid admin token");
}

Result<void> Accounts::logout(const Principal& p) {
  std::lock_guard lock(mu_);
  return modify([&](json::object& d) -> Result<void> {
    auto& toks = arr(d, "tokens");
    toks.erase(std::remove_if(toks.begin(), toks.end(),
                              [&](const json::value& t) {
                                return t.is_object() && str(t.get_object(), "id") == p.token_id;
                              }),
               toks.end());
    return {};
  });
}

Result<void> Accounts::change_password(const Principal& p, std::string_view current,
                                       std::string_view next) {
  if (auto r = check_password_strength(next); !r) return r;
  if (current == next)
    return ApiError::invalid_request("the new password must differ from the current one",
                                     "new_password", "same_password");
  std::lock_guard lock(mu_);
  if (auto r = refresh_locked(true); !r) return r;
  json::object* u = find_user(doc_, p.user);
  if (u == nullptr) return ApiError::authentication("the user no longer exists");
  if (!verify_password(str(*u, "password"), current))
    return ApiError::invalid_request("the current password is wrong", "current_password",
                                     "wrong_password");
  const std::string hash = hash_password(next);
  return modify([&](json::object& d) -> Result<void> {
    json::object* x = find_user(d, p.user);
    if (x == nullptr) return ApiError::authentication("the user no longer exists");
    (*x)["password"] = hash;
    (*x)["must_change_password"] = false;
    // The user's other login sessions end (API tokens stay: they are revoked one by one).
    auto& toks = arr(d, "tokens");
    toks.erase(std::remove_if(toks.begin(), toks.end(),
                              [&](const json::value& t) {
                                if (!t.is_object()) return false;
                                const json::object& o = t.get_object();
                                return str(o, "user") == p.user && str(o, "id") != p.token_id &&
                                       o.if_contains("session") && o.at("session").is_bool() &&
                                       o.at("session").get_bool();
                              }),
               toks.end());
    return {};
  });
}

Result<json::array> Accounts::list_users() {
  std::lock_guard lock(mu_);
  if (auto r = refresh_locked(true); !r) return r.error();
  json::array out;
  for (const auto& u : arr(doc_, "users"))
    if (u.is_object()) out.push_back(public_user(u.get_object()));
  return out;
}

Result<json::object> Accounts::create_user(const Principal& by, std::string_view name, Role role,
                                           std::string_view password) {
  if (!valid_name(name))
    return ApiError::invalid_request("name: 1 to 64 letters, digits, '-', '_', '.', '@'", "name");
  if (auto r = check_password_strength(password); !r) return r.error();
  std::lock_guard lock(mu_);
  const std::string hash = hash_password(password);
  json::object made;
  auto r = modify([&](json::object& d) -> Result<void> {
    if (find_user(d, name) != nullptr) {
      ApiError e = ApiError::invalid_request("user '" + std::string(name) + "' already exists",
                                             "name", "already_exists");
      e.status = 409;
      return e;
    }
    json::object u;
    u["name"] = std::string(name);
    u["role"] = std::string(role_name(role));
    u["password"] = hash;
    u["must_change_password"] = true;
    u["created_ms"] = unix_ms();
    u["created_by"] = by.user;
    made = public_user(u);
    arr(d, "users").push_back(std::move(u));
    return {};
  });
  if (!r) return r.error();
  return made;
}

Result<json::object> Accounts::update_user(const Principal& by, std::string_view name,
                                           std::optional<Role> role,
                                           std::optional<std::string> password) {
  if (password)
    if (auto r = check_password_strength(*password); !r) return r.error();
  std::lock_guard lock(mu_);
  const std::string hash = password ? hash_password(*password) : std::string();
  json::object out;
  auto r = modify([&](json::object& d) -> Result<void> {
    json::object* u = find_user(d, name);
    if (u == nullptr) return ApiError::not_found("no user '" + std::string(name) + "'");
    if (role) {
      // The last admin cannot be demoted: nobody could manage users any more.
      if (*role != Role::admin && str(*u, "role") == "admin") {
        int admins = 0;
        for (const auto& x : arr(d, "users"))
          if (x.is_object() && str(x.get_object(), "role") == "admin") ++admins;
        if (admins <= 1)
          return ApiError::invalid_request("'" + std::string(name) + "' is the last admin",
                                           "role", "last_admin");
      }
      (*u)["role"] = std::string(role_name(*role));
    }
    if (password) {
      (*u)["password"] = hash;
      (*u)["must_change_password"] = true;
    }
    out = public_user(*u);
    return {};
  });
  (void)by;
  if (!r) return r.error();
  return out;
}

Result<void> Accounts::delete_user(const Principal& by, std::string_view name) {
  if (by.user == name)
    return ApiError::invalid_request("you cannot delete yourself", "name", "self_delete");
  std::lock_guard lock(mu_);
  return modify([&](json::object& d) -> Result<void> {
    auto& users = arr(d, "users");
    auto it = std::find_if(users.begin(), users.end(), [&](const json::value& u) {
      return u.is_object() && str(u.get_object(), "name") == name;
    });
    if (it == users.end()) return ApiError::not_found("no user '" + std::string(name) + "'");
    if (str(it->get_object(), "role") == "admin") {
      int admins = 0;
      for (const auto& x : users)
        if (x.is_object() && str(x.get_object(), "role") == "admin") ++admins;
      if (admins <= 1)
        return ApiError::invalid_request("'" + std::string(name) + "' is the last admin", "name",
                                         "last_admin");
    }
    users.erase(it);
    // Its sessions and tokens go with it.
    auto& toks = arr(d, "tokens");
    toks.erase(std::remove_if(toks.begin(), toks.end(),
                              [&](const json::value& t) {
                                return t.is_object() && str(t.get_object(), "user") == name;
                              }),
               toks.end());
    return {};
  });
}

Result<std::pair<std::string, json::object>> Accounts::create_token(const Principal& by,
                                                                     std::string_view name,
                                                                     Role role,
                                                                     std::chrono::seconds ttl) {
  if (!valid_name(name))
    return ApiError::invalid_request("name: 1 to 64 letters, digits, '-', '_', '.', '@'", "name");
  if (role > by.role)
    return forbidden("a token cannot have a higher role than its creator ('" +
                     std::string(role_name(by.role)) + "')");
  std::lock_guard lock(mu_);
  const std::string token = random_token("tka_");
  json::object rec;
  auto r = modify([&](json::object& d) -> Result<void> {
    json::object t;
    t["id"] = "t_" + sha256_hex(token).substr(0, 12);
    t["name"] = std::string(name);
    t["user"] = by.user;
    t["role"] = std::string(role_name(role));
    t["sha256"] = sha256_hex(token);
    t["session"] = false;
    t["created_ms"] = unix_ms();
    t["expires_ms"] = ttl.count() > 0 ? unix_ms() + ttl.count() * 1000 : 0;
    rec = public_token(t);
    arr(d, "tokens").push_back(std::move(t));
    return {};
  });
  if (!r) return r.error();
  return std::make_pair(token, rec);
}

Result<json::array> Accounts::list_tokens(const Principal& by) {
  std::lock_guard lock(mu_);
  if (auto r = refresh_locked(true); !r) return r.error();
  json::array out;
  for (const auto& t : arr(doc_, "tokens")) {
    if (!t.is_object()) continue;
    const json::object& o = t.get_object();
    if (o.if_contains("session") && o.at("session").is_bool() && o.at("session").get_bool())
      continue;
    if (by.role != Role::admin && str(o, "user") != by.user) continue;
    out.push_back(public_token(o));
  }
  return out;
}

Result<void> Accounts::delete_token(const Principal& by, std::string_view id) {
  std::lock_guard lock(mu_);
  return modify([&](json::object& d) -> Result<void> {
    auto& toks = arr(d, "tokens");
    auto it = std::find_if(toks.begin(), toks.end(), [&](const json::value& t) {
      return t.is_object() && str(t.get_object(), "id") == id;
    });
    if (it == toks.end() ||
        (by.role != Role::admin && str(it->get_object(), "user") != by.user))
      return ApiError::not_found("no token '" + std::string(id) + "'");
    toks.erase(it);
    return {};
  });
}

void Accounts::invalidate() {
  std::lock_guard lock(mu_);
  stale_ = true;
}

}  // namespace torii::admin
