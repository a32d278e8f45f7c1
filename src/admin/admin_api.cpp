// The admin REST API: routing, authentication, the config entities (see admin_api.h).
#include "admin/admin_api.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "admin/admin_queries.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "identity/keys.h"

namespace torii::admin {

namespace {

struct Reply {
  int status = 200;
  Headers headers;
  std::string body;
};

struct Req {
  const RequestHead* head = nullptr;
  std::string method;
  std::vector<std::string> segs;            // decoded path segments
  std::map<std::string, std::string> query;  // decoded
  std::string* body = nullptr;
  std::string ip;
  Principal who;
  std::vector<std::string> params;  // the {…} parts of the matched pattern
  const Collection* collection = nullptr;  // entity routes
};

Reply json_reply(int status, const json::value& v, Headers extra = {}) {
  Reply r;
  r.status = status;
  r.headers = std::move(extra);
  r.headers.emplace_back("content-type", "application/json");
  r.body = to_text(v);  // decimals without exponents (boost::json would write 5E0)
  return r;
}

Reply error_reply(const ApiError& e) {
  Reply r;
  r.status = e.status;
  r.headers.emplace_back("content-type", "application/json");
  if (!e.retry_after.empty()) r.headers.emplace_back("retry-after", e.retry_after);
  if (e.status == 401) r.headers.emplace_back("www-authenticate", "Bearer realm=\"torii-admin\"");
  r.body = to_openai_json(e);
  return r;
}

ApiError conflict(std::string message, std::string code = "already_exists") {
  ApiError e = ApiError::invalid_request(std::move(message), "", std::move(code));
  e.status = 409;
  return e;
}

ApiError precondition_failed(std::string message) {
  ApiError e = ApiError::invalid_request(std::move(message), "", "etag_mismatch");
  e.status = 412;
  return e;
}

Result<json::value> parse_body(const Req& q) {
  if (q.body == nullptr || q.body->empty())
    return ApiError::invalid_request("a JSON body is required");
  boost::system::error_code ec;
  json::value v = json::parse(*q.body, ec);
  if (ec) return ApiError::invalid_request("the body is not valid JSON: " + ec.message());
  return v;
}

Result<json::object> parse_object(const Req& q) {
  auto v = parse_body(q);
  if (!v) return v.error();
  if (!v->is_object()) return ApiError::invalid_request("the body must be a JSON object");
  return std::move(v->get_object());
}

// RFC 7386 JSON merge patch.
void merge_patch(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object{};
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) {
      target.get_object().erase(kv.key());
    } else {
      merge_patch(target.get_object()[kv.key()], kv.value());
    }
  }
}

std::string str_field(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string rfc3339(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string_view bearer_of(const RequestHead& h) {
  std::string_view a = h.header("authorization");
  if (a.size() > 7 && (a.substr(0, 7) == "Bearer " || a.substr(0, 7) == "bearer "))
    return a.substr(7);
  return {};
}

class AdminHandler;
using Fn = Result<Reply> (AdminHandler::*)(Req&);

struct RouteDef {
  std::string method;
  std::string pattern;            // "/api/v1/providers/{id}"
  std::vector<std::string> segs;  // split pattern
  Role role = Role::viewer;       // the least role allowed
  bool open = false;              // no authentication (login, docs)
  bool while_forced = false;      // allowed while the password must be changed
  Fn fn = nullptr;
  const Collection* collection = nullptr;
};

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '/') {
      ++i;
      continue;
    }
    const auto j = p.find('/', i);
    out.emplace_back(p.substr(i, j == std::string_view::npos ? p.size() - i : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return out;
}

class AdminHandler final : public Handler {
 public:
  explicit AdminHandler(AdminDeps deps) : d_(std::move(deps)) { routes_ = make_routes(); }

  static std::vector<RouteDef> make_routes();

  Task<void> handle(Exchange& ex) override {
    Reply r;
    const RequestHead& head = ex.head();
    const bool has_body = head.method == "POST" || head.method == "PUT" || head.method == "PATCH";
    BodyError be = BodyError::none;
    if (has_body) be = co_await ex.read_body();
    if (be == BodyError::too_large) {
      r = error_reply(ApiError::too_large("the body is too large"));
    } else if (be != BodyError::none) {
      r = error_reply(ApiError::invalid_request("the body could not be read"));
    } else {
      r = serve(ex, has_body ? &ex.body() : nullptr);
    }
    r.headers.emplace_back("cache-control", "no-store");
    co_await ex.respond(r.status, std::move(r.headers), std::move(r.body));
  }

 private:
  Reply serve(Exchange& ex, std::string* body) {
    Req q;
    q.head = &ex.head();
    q.method = ex.head().method;
    q.body = body;
    q.ip = std::string(ex.peer());
    auto url = boost::urls::parse_origin_form(ex.head().target);
    if (!url) return error_reply(ApiError::invalid_request("the request target is not a valid URL"));
    for (auto s : url->segments()) q.segs.push_back(s);
    for (auto p : url->params()) q.query[p.key] = p.has_value ? p.value : "";

    const RouteDef* match = nullptr;
    bool path_known = false;
    for (const auto& rd : routes_) {
      if (rd.segs.size() != q.segs.size()) continue;
      std::vector<std::string> params;
      bool ok = true;
      for (std::size_t i = 0; i < rd.segs.size() && ok; ++i) {
        if (rd.segs[i].size() > 1 && rd.segs[i].front() == '{') {
          if (q.segs[i].empty()) ok = false;
          params.push_back(q.segs[i]);
        } else if (rd.segs[i] != q.segs[i]) {
          ok = false;
        }
      }
      if (!ok) continue;
      path_known = true;
      if (rd.method != q.method) continue;
      match = &rd;
      q.params = std::move(params);
      break;
    }
    if (match == nullptr) {
      if (path_known) {
        Reply r = error_reply([&] {
          ApiError e = ApiError::invalid_request("method " + q.method + " is not allowed here",
                                                 "", "method_not_allowed");
          e.status = 405;
          return e;
        }());
        return r;
      }
      return error_reply(ApiError::not_found("no admin endpoint " + q.method + " " +
                                             std::string(ex.head().path())));
    }
    if (!match->open) {
      auto who = d_.accounts->authenticate(bearer_of(ex.head()));
      if (!who) {
        ApiError e = who.error();
        if (e.status == 401) e.code = "invalid_token";
        return error_reply(e);
      }
      q.who = std::move(*who);
      if (q.who.must_change_password && !match->while_forced) {
        ApiError e = ApiError::permission(
            "the password of '" + q.who.user +
            "' must be changed first: POST /api/v1/auth/password {current_password, "
            "new_password}");
        e.code = "password_change_required";
        return error_reply(e);
      }
      if (q.who.role < match->role) {
        ApiError e = ApiError::permission("this needs the " + std::string(role_name(match->role)) +
                                          " role; '" + q.who.user + "' has " +
                                          std::string(role_name(q.who.role)));
        e.code = "forbidden";
        return error_reply(e);
      }
    }
    q.collection = match->collection;
    try {
      auto r = (this->*(match->fn))(q);
      if (!r) return error_reply(r.error());
      return std::move(*r);
    } catch (const std::exception& e) {
      log::error("admin: {} {}: {}", q.method, ex.head().path(), e.what());
      return error_reply(ApiError::internal("internal error"));
    }
  }

  // ---- auth ----
  Result<Reply> login(Req& q) {
    auto b = parse_object(q);
    if (!b) return b.error();
    const std::string user = str_field(*b, "username"), pw = str_field(*b, "password");
    if (user.empty() || pw.empty())
      return ApiError::invalid_request("username and password are required");
    auto r = d_.accounts->login(user, pw, q.ip);
    if (!r) return r.error();
    json::object o;
    o["token"] = r->first;
    o["user"] = r->second.user;
    o["role"] = std::string(role_name(r->second.role));
    o["must_change_password"] = r->second.must_change_password;
    o["expires_in"] = d_.config.session_ttl.count();
    return json_reply(200, o);
  }

  Result<Reply> logout(Req& q) {
    if (auto r = d_.accounts->logout(q.who); !r) return r.error();
    return Reply{204, {}, {}};
  }

  Result<Reply> me(Req& q) {
    json::object o;
    o["user"] = q.who.user;
    o["role"] = std::string(role_name(q.who.role));
    o["must_change_password"] = q.who.must_change_password;
    o["session"] = q.who.session;
    return json_reply(200, o);
  }

  Result<Reply> change_password(Req& q) {
    auto b = parse_object(q);
    if (!b) return b.error();
    const std::string cur = str_field(*b, "current_password"), next = str_field(*b, "new_password");
    if (cur.empty() || next.empty())
      return ApiError::invalid_request("current_password and new_password are required");
    if (auto r = d_.accounts->change_password(q.who, cur, next); !r) return r.error();
    record(q.who.user, "password", "users/" + q.who.user);
    return Reply{204, {}, {}};
  }

  // ---- users and tokens ----
  Result<Reply> list_users(Req&) {
    auto u = d_.accounts->list_users();
    if (!u) return u.error();
    json::object o;
    o["data"] = std::move(*u);
    return json_reply(200, o);
  }

  Result<Reply> create_user(Req& q) {
    auto b = parse_object(q);
    if (!b) return b.error();
    auto role = parse_role(str_field(*b, "role").empty() ? "viewer" : str_field(*b, "role"));
    if (!role) return ApiError::invalid_request("role: admin, editor or viewer", "role");
    auto u = d_.accounts->create_user(q.who, str_field(*b, "name"), *role, str_field(*b, "password"));
    if (!u) return u.error();
    record(q.who.user, "create", "users/" + str_field(*b, "name"), json::value(), *u);
    return json_reply(201, *u);
  }

  Result<Reply> get_user(Req& q) {
    auto u = d_.accounts->list_users();
    if (!u) return u.error();
    for (auto& x : *u)
      if (str_field(x.get_object(), "name") == q.params[0]) return json_reply(200, x);
    return ApiError::not_found("no user '" + q.params[0] + "'");
  }

  Result<Reply> update_user(Req& q) {
    auto b = parse_object(q);
    if (!b) return b.error();
    std::optional<Role> role;
    if (b->contains("role")) {
      role = parse_role(str_field(*b, "role"));
      if (!role) return ApiError::invalid_request("role: admin, editor or viewer", "role");
    }
    std::optional<std::string> pw;
    if (b->contains("password")) pw = str_field(*b, "password");
    auto u = d_.accounts->update_user(q.who, q.params[0], role, pw);
    if (!u) return u.error();
    record(q.who.user, "update", "users/" + q.params[0], json::value(), *u);
    return json_reply(200, *u);
  }

  Result<Reply> delete_user(Req& q) {
    if (auto r = d_.accounts->delete_user(q.who, q.params[0]); !r) return r.error();
    record(q.who.user, "delete", "users/" + q.params[0]);
    return Reply{204, {}, {}};
  }

  Result<Reply> list_tokens(Req& q) {
    auto t = d_.accounts->list_tokens(q.who);
    if (!t) return t.error();
    json::object o;
    o["data"] = std::move(*t);
    return json_reply(200, o);
  }

  Result<Reply> create_token(Req& q) {
    auto b = parse_object(q);
    if (!b) return b.error();
    auto role = str_field(*b, "role").empty() ? std::optional<Role>(q.who.role)
                                              : parse_role(str_field(*b, "role"));
    if (!role) return ApiError::invalid_request("role: admin, editor or viewer", "role");
    int64_t ttl = 0;
    if (const auto* t = b->if_contains("ttl_s")) {
      if (!t->is_int64() || t->get_int64() < 0)
        return ApiError::invalid_request("ttl_s: a whole number of seconds (0: no expiry)", "ttl_s");
      ttl = t->get_int64();
    }
    auto t = d_.accounts->create_token(q.who, str_field(*b, "name"), *role, std::chrono::seconds(ttl));
    if (!t) return t.error();
    json::object o = t->second;
    o["token"] = t->first;
    record(q.who.user, "create", "tokens/" + str_field(t->second, "id"), json::value(), t->second);
    return json_reply(201, o);
  }

  Result<Reply> delete_token(Req& q) {
    if (auto r = d_.accounts->delete_token(q.who, q.params[0]); !r) return r.error();
    record(q.who.user, "delete", "tokens/" + q.params[0]);
    return Reply{204, {}, {}};
  }

  // ---- the whole config ----
  Result<Reply> get_config(Req& q) {
    auto [doc, version] = d_.manager->current();
    const std::string etag = "\"v" + std::to_string(version) + "\"";
    json::value shown = redact(doc);
    const auto fmt = q.query.count("format") ? q.query["format"] : std::string("json");
    if (fmt == "yaml") {
      Reply r;
      r.headers = {{"content-type", "application/yaml"}, {"etag", etag},
                   {"x-config-version", std::to_string(version)}};
      r.body = doc_to_yaml(shown.get_object());
      return r;
    }
    if (fmt != "json") return ApiError::invalid_request("format: json or yaml", "format");
    return json_reply(200, shown, {{"etag", etag}, {"x-config-version", std::to_string(version)}});
  }

  // The body of an import: JSON, or YAML when the content type says so.
  Result<json::object> import_body(const Req& q) {
    if (q.body == nullptr || q.body->empty()) return ApiError::invalid_request("a body is required");
    const std::string_view ct = q.head->header("content-type");
    if (ct.find("yaml") != std::string_view::npos) return yaml_to_doc(*q.body, "body");
    return json_to_doc(*q.body);
  }

  Result<int64_t> if_match_version(const Req& q) {
    std::string_view m = q.head->header("if-match");
    if (m.empty()) return int64_t{-1};
    if (m.size() > 3 && m.front() == '"' && m[1] == 'v' && m.back() == '"') {
      try {
        return std::stoll(std::string(m.substr(2, m.size() - 3)));
      } catch (...) {
      }
    }
    return precondition_failed("If-Match must be the ETag of GET /api/v1/config (\"vN\")");
  }

  Result<Reply> put_config(Req& q) {
    auto doc = import_body(q);
    if (!doc) return doc.error();
    if (doc->contains("admin"))
      return ApiError::invalid_request(
          "admin: the admin section lives in the bootstrap file only, not in the managed config",
          "admin");
    auto expected = if_match_version(q);
    if (!expected) return expected.error();
    auto [cur, version] = d_.manager->current();
    json::value incoming = std::move(*doc);
    json::value old = cur;
    if (auto r = restore_secrets(incoming, &old, ""); !r) return r.error();
    ConfigManager::Change c;
    c.actor = q.who.user;
    c.action = "import";
    c.entity = "config";
    c.expected_version = *expected;
    c.before = old;
    c.after = incoming;
    c.edit = [&](json::object& d) -> Result<void> {
      d = incoming.get_object();
      return {};
    };
    auto v = d_.manager->apply(std::move(c));
    if (!v) return v.error();
    json::object o;
    o["version"] = *v;
    return json_reply(200, o, {{"etag", "\"v" + std::to_string(*v) + "\""}});
  }

  Result<Reply> validate_config(Req& q) {
    auto doc = import_body(q);
    if (!doc) return doc.error();
    doc->erase("admin");
    json::value incoming = std::move(*doc);
    auto [cur, version] = d_.manager->current();
    json::value old = cur;
    if (auto r = restore_secrets(incoming, &old, ""); !r) return r.error();
    auto c = doc_to_config(incoming.get_object());
    if (!c) return c.error();
    json::object o;
    o["valid"] = true;
    return json_reply(200, o);
  }

  Result<Reply> history(Req& q) {
    int64_t before = 0;
    int limit = 50;
    try {
      if (q.query.count("before")) before = std::stoll(q.query["before"]);
      if (q.query.count("limit")) limit = std::stoi(q.query["limit"]);
    } catch (...) {
      return ApiError::invalid_request("before and limit are integers");
    }
    if (limit < 1 || limit > 500) return ApiError::invalid_request("limit: 1 to 500", "limit");
    auto h = d_.manager->history(before, limit);
    if (!h) return h.error();
    json::array data;
    for (const auto& r : *h) {
      json::object o;
      o["id"] = r.id;
      o["ts"] = rfc3339(r.ts_ms / 1000);
      o["actor"] = r.actor;
      o["action"] = r.action;
      o["entity"] = r.entity;
      o["version"] = r.version;
      boost::system::error_code ec;
      o["before"] = r.before.empty() ? json::value() : json::parse(r.before, ec);
      o["after"] = r.after.empty() ? json::value() : json::parse(r.after, ec);
      data.push_back(std::move(o));
    }
    json::object out;
    out["next_before"] = h->size() == static_cast<std::size_t>(limit) && !h->empty()
                             ? json::value(h->back().id)
                             : json::value();
    out["data"] = std::move(data);
    return json_reply(200, out);
  }

  // ---- entities ----
  static const Collection& coll(const Req& q) { return *q.collection; }

  static std::string entity_name(const Req& q, const std::string& id) {
    return std::string(coll(q).name) + "/" + id;
  }

  Result<Reply> list_items(Req& q) {
    auto [doc, version] = d_.manager->current();
    json::array out;
    if (const json::array* items = collection_items(doc, coll(q)))
      for (const auto& x : *items) out.push_back(redact(x, coll(q).doc_path));
    json::object o;
    o["data"] = std::move(out);
    o["version"] = version;
    return json_reply(200, o, {{"x-config-version", std::to_string(version)}});
  }

  Result<Reply> get_item(Req& q) {
    auto [doc, version] = d_.manager->current();
    json::object* item = find_item(collection_items(doc, coll(q), false), coll(q), q.params[0]);
    if (item == nullptr) return not_found(q, q.params[0]);
    return json_reply(200, redact(*item, coll(q).doc_path), {{"etag", etag_of(*item)}});
  }

  static ApiError not_found(const Req& q, const std::string& id) {
    return ApiError::not_found("no " + std::string(coll(q).kind) + " '" + id + "'");
  }

  // Keys given as a value are kept as their SHA-256 only; a key made here is returned once.
  void hash_literal_key(const Req& q, json::object& item, std::string* made) {
    if (coll(q).name != "keys") return;
    json::value* k = item.if_contains("key");
    if (k != nullptr && k->is_string()) {
      const std::string_view v = k->get_string();
      if (!(v.size() > 3 && v.substr(0, 2) == "${") && v != kRedacted) {
        item["key_sha256"] = identity::to_hex(identity::key_digest(v));
        item.erase("key");
      }
    } else if (k == nullptr && !item.contains("key_sha256") && made != nullptr) {
      *made = identity::generate_api_key();
      item["key_sha256"] = identity::to_hex(identity::key_digest(*made));
    }
  }

  Result<Reply> write_item(Req& q, json::value incoming, const json::object* old,
                           const std::string& id, std::string action, std::string made_key) {
    const std::string path(coll(q).doc_path);
    json::value old_v = old != nullptr ? json::value(*old) : json::value();
    if (auto r = restore_secrets(incoming, old != nullptr ? &old_v : nullptr, path); !r)
      return r.error();
    std::string old_etag = old != nullptr ? etag_of(*old) : "";
    const Collection* c = &coll(q);
    ConfigManager::Change ch;
    ch.actor = q.who.user;
    ch.action = action;
    ch.entity = entity_name(q, id);
    ch.before = old_v;
    ch.after = incoming;
    ch.edit = [&](json::object& d) -> Result<void> {
      json::array* items = collection_items(d, *c, true);
      if (items == nullptr)
        return ApiError::invalid_request(std::string(c->doc_path) + " is not a list", "");
      json::object* cur = find_item(items, *c, id);
      if (action == "create") {
        if (cur != nullptr)
          return conflict("a " + std::string(c->kind) + " named '" + id + "' exists already");
        items->push_back(incoming);
        return {};
      }
      if (cur == nullptr) return not_found(q, id);
      if (!old_etag.empty() && etag_of(*cur) != old_etag)
        return precondition_failed("the " + std::string(c->kind) + " changed meanwhile");
      if (incoming.is_null()) {
        for (auto it = items->begin(); it != items->end(); ++it)
          if (&it->get_object() == cur) {
            items->erase(it);
            break;
          }
      } else {
        *cur = incoming.get_object();
      }
      return {};
    };
    auto v = d_.manager->apply(std::move(ch));
    if (!v) return v.error();
    if (incoming.is_null()) return Reply{204, {{"x-config-version", std::to_string(*v)}}, {}};
    json::value shown = redact(incoming, path);
    if (!made_key.empty()) shown.get_object()["key"] = made_key;  // returned once
    return json_reply(action == "create" ? 201 : 200, shown,
                      {{"etag", etag_of(incoming)}, {"x-config-version", std::to_string(*v)}});
  }

  Result<void> check_if_match(const Req& q, const json::object& cur) const {
    std::string_view m = q.head->header("if-match");
    if (m.empty() || m == "*") return {};
    if (m != etag_of(cur))
      return precondition_failed("If-Match " + std::string(m) + " is not the current ETag " +
                                 etag_of(cur) + ": read the " + std::string(coll(q).kind) +
                                 " again");
    return {};
  }

  Result<Reply> create_item(Req& q) {
    auto b = parse_object(q);
    if (!b) return b.error();
    const std::string id = str_field(*b, coll(q).id_field);
    if (id.empty())
      return ApiError::invalid_request(std::string(coll(q).id_field) + " is required (a string)",
                                       std::string(coll(q).id_field));
    std::string made;
    hash_literal_key(q, *b, &made);
    return write_item(q, json::value(std::move(*b)), nullptr, id, "create", made);
  }

  Result<Reply> replace_item(Req& q, bool patch) {
    auto [doc, version] = d_.manager->current();
    json::object* cur = find_item(collection_items(doc, coll(q), false), coll(q), q.params[0]);
    if (cur == nullptr) return not_found(q, q.params[0]);
    if (auto r = check_if_match(q, *cur); !r) return r.error();
    auto body = parse_body(q);
    if (!body) return body.error();
    json::value next;
    if (patch) {
      next = redact(*cur, coll(q).doc_path);  // placeholders: restored below
      merge_patch(next, *body);
    } else {
      next = std::move(*body);
    }
    if (!next.is_object()) return ApiError::invalid_request("the body must be a JSON object");
    json::object& o = next.get_object();
    const json::value* idv = o.if_contains(coll(q).id_field);
    if (idv == nullptr) {
      o[coll(q).id_field] = q.params[0];
    } else if (!idv->is_string() || idv->get_string() != q.params[0]) {
      return ApiError::invalid_request(std::string(coll(q).id_field) +
                                           " cannot change (create a new one and delete this)",
                                       std::string(coll(q).id_field));
    }
    hash_literal_key(q, o, nullptr);
    return write_item(q, std::move(next), cur, q.params[0], "update", "");
  }

  Result<Reply> put_item(Req& q) { return replace_item(q, false); }
  Result<Reply> patch_item(Req& q) { return replace_item(q, true); }

  Result<Reply> delete_item(Req& q) {
    auto [doc, version] = d_.manager->current();
    json::object* cur = find_item(collection_items(doc, coll(q), false), coll(q), q.params[0]);
    if (cur == nullptr) return not_found(q, q.params[0]);
    if (auto r = check_if_match(q, *cur); !r) return r.error();
    return write_item(q, json::value(), cur, q.params[0], "delete", "");
  }

  // ---- keys: rotate and revoke ----
  Result<Reply> rotate_key(Req& q) {
    q.collection = find_collection("keys");
    auto [doc, version] = d_.manager->current();
    json::object* cur = find_item(collection_items(doc, coll(q), false), coll(q), q.params[0]);
    if (cur == nullptr) return not_found(q, q.params[0]);
    if (auto r = check_if_match(q, *cur); !r) return r.error();
    int64_t grace = 3600;
    if (q.body != nullptr && !q.body->empty()) {
      auto b = parse_object(q);
      if (!b) return b.error();
      if (const auto* g = b->if_contains("grace_s")) {
        if (!g->is_int64() || g->get_int64() < 0 || g->get_int64() > 90 * 86400)
          return ApiError::invalid_request("grace_s: 0 to 7776000 seconds", "grace_s");
        grace = g->get_int64();
      }
    }
    json::object next = *cur;
    // The current value becomes a previous one, accepted until the grace period ends.
    json::object prev;
    if (const auto* h = cur->if_contains("key_sha256")) prev["key_sha256"] = *h;
    else if (const auto* k = cur->if_contains("key")) prev["key"] = *k;
    json::array previous;
    if (const auto* p = cur->if_contains("previous"); p != nullptr && p->is_array())
      previous = p->get_array();
    if (grace > 0 && !prev.empty()) {
      prev["expires_at"] = rfc3339(unix_ms() / 1000 + grace);
      previous.push_back(std::move(prev));
    }
    if (previous.empty()) next.erase("previous");
    else next["previous"] = std::move(previous);
    next.erase("key");
    const std::string made = identity::generate_api_key();
    next["key_sha256"] = identity::to_hex(identity::key_digest(made));
    return write_item(q, json::value(std::move(next)), cur, q.params[0], "rotate", made);
  }

  Result<Reply> revoke_key(Req& q) {
    q.collection = find_collection("keys");
    auto [doc, version] = d_.manager->current();
    json::object* cur = find_item(collection_items(doc, coll(q), false), coll(q), q.params[0]);
    if (cur == nullptr) return not_found(q, q.params[0]);
    if (auto r = check_if_match(q, *cur); !r) return r.error();
    json::object next = *cur;
    next["enabled"] = false;
    next.erase("previous");  // no grace for a revoked key
    return write_item(q, json::value(std::move(next)), cur, q.params[0], "revoke", "");
  }

  // ---- queries (admin_queries.cpp) ----
  Result<Reply> query(Req& q, Result<std::string> (*fn)(const QueryContext&)) {
    QueryContext c;
    c.snapshot = d_.holder->get();
    c.query = &q.query;
    c.params = &q.params;
    c.actor = q.who.user;
    auto r = fn(c);
    if (!r) return r.error();
    Reply out;
    out.headers.emplace_back("content-type", "application/json");
    out.body = std::move(*r);
    return out;
  }
  Result<Reply> audit_events(Req& q) { return query(q, &query_audit_events); }
  Result<Reply> usage(Req& q) { return query(q, &query_usage); }
  Result<Reply> provider_health(Req& q) { return query(q, &query_provider_health); }
  Result<Reply> limit_usage(Req& q) { return query(q, &query_limit_usage); }
  Result<Reply> budget_usage(Req& q) { return query(q, &query_budget_usage); }
  Result<Reply> limit_reset(Req& q) {
    auto r = query(q, &reset_limit);
    if (r) record(q.who.user, "reset", "rate-limits/" + q.params[0]);
    return r;
  }
  Result<Reply> cache_stats(Req& q) { return query(q, &query_cache); }
  Result<Reply> cache_purge(Req& q) {
    auto r = query(q, &purge_cache);
    if (r) record(q.who.user, "purge", "cache");
    return r;
  }
  Result<Reply> budget_reset(Req& q) {
    auto r = query(q, &reset_budget);
    if (r) record(q.who.user, "reset", "budgets/" + q.params[0]);
    return r;
  }

  // ---- metrics ----
  Result<Reply> metrics(Req&) {
    auto snap = d_.holder->get();
    if (!snap->config.metrics)
      return ApiError::not_found("metrics are off (metrics: false)", "unknown_url");
    Reply r;
    r.headers.emplace_back("content-type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = prometheus_text(*snap);
    return r;
  }

  // ---- docs ----
  Result<Reply> openapi(Req&) {
    Reply r;
    r.headers.emplace_back("content-type", "application/json");
    r.body = std::string(openapi_json());
    return r;
  }

  Result<Reply> docs_index(Req&) {
    Reply r;
    r.headers.emplace_back("content-type", "text/html; charset=utf-8");
    r.body =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>torii admin API</title>"
        "<link rel=\"stylesheet\" href=\"/apis/docs/swagger-ui.css\"></head><body>"
        "<div id=\"swagger-ui\"></div><script src=\"/apis/docs/swagger-ui-bundle.js\"></script>"
        "<script>window.ui = SwaggerUIBundle({url: '/apis/openapi.json', dom_id: "
        "'#swagger-ui'});</script></body></html>";
    return r;
  }

  Result<Reply> docs_file(Req& q) {
    const std::string& f = q.params[0];
    static const std::map<std::string, std::string, std::less<>> files{
        {"swagger-ui.css", "text/css"},
        {"swagger-ui-bundle.js", "application/javascript"},
        {"swagger-ui-standalone-preset.js", "application/javascript"},
        {"favicon-32x32.png", "image/png"}};
    auto it = files.find(f);
    if (it == files.end() || d_.swagger_ui_dir.empty())
      return ApiError::not_found("no such file: " + f);
    std::ifstream in(d_.swagger_ui_dir + "/" + f, std::ios::binary);
    if (!in) return ApiError::not_found("swagger-ui-dist is not installed (" + f + ")");
    std::ostringstream ss;
    ss << in.rdbuf();
    Reply r;
    r.headers.emplace_back("content-type", it->second);
    r.body = ss.str();
    return r;
  }

  void record(const std::string& actor, const std::string& action, const std::string& entity,
              json::value before = {}, json::value after = {}) {
    HistoryRecord h;
    h.ts_ms = unix_ms();
    h.actor = actor;
    h.action = action;
    h.entity = entity;
    if (!before.is_null()) h.before = json::serialize(before);
    if (!after.is_null()) h.after = json::serialize(after);
    if (auto r = d_.manager->store().append_history(h); !r)
      log::error("admin: could not record {} {}: {}", action, entity, r.error().message);
    log::info("admin: {} {} {}", actor, action, entity);
  }

  AdminDeps d_;
  std::vector<RouteDef> routes_;
};

std::vector<RouteDef> AdminHandler::make_routes() {
  std::vector<RouteDef> r;
  auto add = [&](std::string method, std::string pattern, Role role, Fn fn, bool open = false,
                 bool forced = false, const Collection* c = nullptr) {
    RouteDef d;
    d.method = std::move(method);
    d.pattern = std::move(pattern);
    d.segs = split_path(d.pattern);
    d.role = role;
    d.fn = fn;
    d.open = open;
    d.while_forced = forced;
    d.collection = c;
    r.push_back(std::move(d));
  };
  using H = AdminHandler;
  const Role V = Role::viewer, E = Role::editor, A = Role::admin;
  add("GET", "/metrics", V, &H::metrics, true);  // for scrapers; the listener is private
  add("GET", "/apis/openapi.json", V, &H::openapi, true);
  add("GET", "/apis/docs", V, &H::docs_index, true);
  add("GET", "/apis/docs/{file}", V, &H::docs_file, true);
  add("POST", "/api/v1/auth/login", V, &H::login, true);
  add("POST", "/api/v1/auth/logout", V, &H::logout, false, true);
  add("GET", "/api/v1/auth/me", V, &H::me, false, true);
  add("POST", "/api/v1/auth/password", V, &H::change_password, false, true);
  add("GET", "/api/v1/users", A, &H::list_users);
  add("POST", "/api/v1/users", A, &H::create_user);
  add("GET", "/api/v1/users/{name}", A, &H::get_user);
  add("PATCH", "/api/v1/users/{name}", A, &H::update_user);
  add("DELETE", "/api/v1/users/{name}", A, &H::delete_user);
  add("GET", "/api/v1/tokens", V, &H::list_tokens);
  add("POST", "/api/v1/tokens", V, &H::create_token);
  add("DELETE", "/api/v1/tokens/{id}", V, &H::delete_token);
  add("GET", "/api/v1/config", V, &H::get_config);
  add("PUT", "/api/v1/config", A, &H::put_config);
  add("POST", "/api/v1/config/validate", E, &H::validate_config);
  add("GET", "/api/v1/config/history", V, &H::history);
  for (const Collection& c : collections()) {
    const std::string base = "/api/v1/" + std::string(c.name);
    add("GET", base, V, &H::list_items, false, false, &c);
    add("POST", base, E, &H::create_item, false, false, &c);
    add("GET", base + "/{id}", V, &H::get_item, false, false, &c);
    add("PUT", base + "/{id}", E, &H::put_item, false, false, &c);
    add("PATCH", base + "/{id}", E, &H::patch_item, false, false, &c);
    add("DELETE", base + "/{id}", E, &H::delete_item, false, false, &c);
  }
  add("POST", "/api/v1/keys/{id}/rotate", E, &H::rotate_key);
  add("POST", "/api/v1/keys/{id}/revoke", E, &H::revoke_key);
  add("GET", "/api/v1/rate-limits/{id}/usage", V, &H::limit_usage);
  add("POST", "/api/v1/rate-limits/{id}/reset", E, &H::limit_reset);
  add("GET", "/api/v1/budgets/{id}/usage", V, &H::budget_usage);
  add("POST", "/api/v1/budgets/{id}/reset", E, &H::budget_reset);
  add("GET", "/api/v1/audit/events", V, &H::audit_events);
  add("GET", "/api/v1/usage", V, &H::usage);
  add("GET", "/api/v1/health/providers", V, &H::provider_health);
  add("GET", "/api/v1/cache", V, &H::cache_stats);
  add("DELETE", "/api/v1/cache/entries", E, &H::cache_purge);
  return r;
}

}  // namespace

std::shared_ptr<Handler> make_admin_handler(AdminDeps deps) {
  return std::make_shared<AdminHandler>(std::move(deps));
}

std::vector<std::string> admin_routes() {
  std::vector<std::string> out;
  for (const auto& r : AdminHandler::make_routes()) out.push_back(r.method + " " + r.pattern);
  return out;
}

}  // namespace torii::admin
