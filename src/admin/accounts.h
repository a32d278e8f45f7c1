#pragma once
// Admin accounts (docs/ADMIN_API.md#authentication): users with argon2id password hashes
// (libsodium), roles, login sessions and API tokens (both held as SHA-256 digests), the forced
// password change of the initial account, and a login rate limit. Persisted as the "accounts"
// document of the ConfigStore, so that every node of a cluster shares them.
// Thread-safe; the calls block (argon2id takes ~50-100 ms by design): the admin thread only.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "admin/config_store.h"
#include "config/config.h"
#include "core/result.h"

namespace torii::admin {

enum class Role { viewer = 0, editor = 1, admin = 2 };
std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view s);

// Who is calling, once authenticated.
struct Principal {
  std::string user;
  Role role = Role::viewer;
  bool must_change_password = false;
  std::string token_id;  // the session or token used
  bool session = false;  // a login session (else an API token)
};

class Accounts {
 public:
  Accounts(ConfigStore& store, AdminConfig cfg);

  // Loads the accounts; with no user at all, creates `initial_user` (role admin) with a random
  // temporary password and returns it (to print once). "" when users exist.
  Result<std::string> bootstrap();

  // A password login: a session token (returned once) and who it is. 401 for a wrong user or
  // password (one message for both); 429 with Retry-After once `login_failures` failed in
  // `login_window` for the user, or four times as many for the client address.
  Result<std::pair<std::string, Principal>> login(std::string_view user, std::string_view password,
                                                  std::string_view client_ip);
  // From "Authorization: Bearer <token>": 401 when unknown, expired or revoked.
  Result<Principal> authenticate(std::string_view token);
  Result<void> logout(const Principal& p);
  // Checks `current`, sets `next` (at least 12 characters, not the current one) and lifts the
  // forced change.
  Result<void> change_password(const Principal& p, std::string_view current, std::string_view next);

  // Users (admin role). JSON objects without hashes.
  Result<boost::json::array> list_users();
  // Creates a user with `password` (the user must change it at first login).
  Result<boost::json::object> create_user(const Principal& by, std::string_view name, Role role,
                                          std::string_view password);
  // Changes the role and/or sets a new temporary password (forced change again).
  Result<boost::json::object> update_user(const Principal& by, std::string_view name,
                                          std::optional<Role> role,
                                          std::optional<std::string> password);
  Result<void> delete_user(const Principal& by, std::string_view name);

  // API tokens: created for the caller, with a role no higher than theirs; `ttl` 0: no expiry.
  // Returns the token (once) and its record.
  Result<std::pair<std::string, boost::json::object>> create_token(const Principal& by,
                                                                    std::string_view name, Role role,
                                                                    std::chrono::seconds ttl);
  // The caller's tokens (an admin: everyone's).
  Result<boost::json::array> list_tokens(const Principal& by);
  Result<void> delete_token(const Principal& by, std::string_view id);

  // Another node changed the accounts: reload before the next call.
  void invalidate();

 private:
  struct Doc;
  Result<void> refresh_locked(bool force);
  // Applies `change` to the latest document and saves it (retried on a version conflict).
  template <class F>
  Result<void> modify(F&& change);
  int allowance(std::string_view key) const;
  bool rate_limited(std::string_view key, int64_t now_ms, int64_t& retry_after_s);
  void record_failure(const std::string& key, int64_t now_ms);

  ConfigStore& store_;
  AdminConfig cfg_;
  std::mutex mu_;
  boost::json::object doc_;
  int64_t version_ = 0;
  int64_t loaded_ms_ = 0;
  bool stale_ = true;
  std::string dummy_hash_;  // verified against for unknown users (same time as a real check)
  std::map<std::string, std::deque<int64_t>> failures_;  // "user:x" / "ip:y" -> times (ms)
};

}  // namespace torii::admin
