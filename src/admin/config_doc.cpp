// The config document: YAML <-> JSON, secrets, ETags, collections (see config_doc.h).
#include "admin/config_doc.h"

#include <yaml-cpp/yaml.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <charconv>
#include <cstdio>
#include <functional>
#include <regex>

namespace torii::admin {

namespace {

bool is_integer_text(const std::string& s) {
  static const std::regex re("-?(0|[1-9][0-9]{0,17})");
  return std::regex_match(s, re);
}

bool is_decimal_text(const std::string& s) {
  static const std::regex re("-?(0|[1-9][0-9]{0,14})\\.[0-9]{1,12}");
  return std::regex_match(s, re);
}

json::value node_to_value(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const auto& x : n) a.push_back(node_to_value(x));
      return a;
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) o[kv.first.Scalar()] = node_to_value(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return json::string(s);  // quoted: a string whatever it reads as
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (is_integer_text(s)) return std::stoll(s);
  if (is_decimal_text(s)) return std::stod(s);
  return json::string(s);
}

void write_text(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::int64: out += std::to_string(v.get_int64()); return;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); return;
    case json::kind::double_: {
      // Shortest round-trip text in fixed notation: the loader's money parser reads decimals,
      // not exponents.
      std::array<char, 64> buf{};
      auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v.get_double(),
                             std::chars_format::fixed);
      out.append(buf.data(), r.ptr);
      return;
    }
    case json::kind::string: out += json::serialize(v.get_string()); return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_text(x, out);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string(kv.key()));
        out += ':';
        write_text(kv.value(), out);
      }
      out += '}';
      return;
    }
  }
}

bool reads_as_other_type(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return true;
  static const std::regex other("(true|false|True|False|TRUE|FALSE|yes|no|on|off|"
                                "[-+]?[0-9][0-9_.eExXoO+-]*|[-+]?\\.(inf|Inf|nan|NaN))");
  return std::regex_match(s, other);
}

void emit_yaml(YAML::Emitter& e, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: e << YAML::Null; return;
    case json::kind::bool_: e << v.get_bool(); return;
    case json::kind::int64: e << v.get_int64(); return;
    case json::kind::uint64: e << v.get_uint64(); return;
    case json::kind::double_: {
      std::string t;
      write_text(v, t);
      e << t;  // plain: reads back as the same decimal
      return;
    }
    case json::kind::string: {
      const std::string s(v.get_string());
      if (reads_as_other_type(s)) e << YAML::DoubleQuoted;
      e << s;
      return;
    }
    case json::kind::array:
      e << YAML::BeginSeq;
      for (const auto& x : v.get_array()) emit_yaml(e, x);
      e << YAML::EndSeq;
      return;
    case json::kind::object:
      e << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        e << YAML::Key << std::string(kv.key()) << YAML::Value;
        emit_yaml(e, kv.value());
      }
      e << YAML::EndMap;
      return;
  }
}

// ---- secrets ----

bool lower_contains(std::string_view s, std::string_view part) {
  std::string l(s);
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return l.find(part) != std::string::npos;
}

// A field whose value is a secret wherever it appears.
bool secret_field(std::string_view name) {
  static constexpr std::array<std::string_view, 8> names{
      "api_key", "extra_api_keys", "aws_secret_access_key", "aws_session_token", "hmac_secret",
      "master_key", "password", "token"};
  for (auto n : names)
    if (name == n) return true;
  return lower_contains(name, "secret") || lower_contains(name, "password");
}

// A header whose value is a credential.
bool secret_header(std::string_view name) {
  return lower_contains(name, "auth") || lower_contains(name, "key") ||
         lower_contains(name, "token") || lower_contains(name, "secret") ||
         lower_contains(name, "cookie");
}

bool is_reference(const json::value& v) {
  if (!v.is_string()) return false;
  std::string_view s = v.get_string();
  return s.size() > 3 && s.substr(0, 2) == "${" && s.back() == '}';
}

// What kind of place `path` is, for the rules above: "api_key item" (auth.api_keys[i] or its
// previous[j]), "headers" (a header map), or other.
enum class Place { other, key_item, headers };

void redact_in(json::value& v, Place place);

void redact_secret_value(json::value& v) {
  if (v.is_array()) {
    for (auto& x : v.get_array())
      if (!x.is_null() && !is_reference(x)) x = json::string(kRedacted);
    return;
  }
  if (!v.is_null() && !is_reference(v)) v = json::string(kRedacted);
}

void redact_in(json::value& v, Place place) {
  if (v.is_array()) {
    for (auto& x : v.get_array()) redact_in(x, place);
    return;
  }
  if (!v.is_object()) return;
  for (auto& kv : v.get_object()) {
    const std::string_view k = kv.key();
    if (place == Place::headers) {
      if (secret_header(k)) redact_secret_value(kv.value());
      continue;
    }
    if (secret_field(k) || (place == Place::key_item && k == "key")) {
      redact_secret_value(kv.value());
    } else if (k == "headers") {
      redact_in(kv.value(), Place::headers);
    } else if (k == "api_keys" && kv.value().is_array() && !kv.value().get_array().empty() &&
               kv.value().get_array()[0].is_string()) {
      redact_secret_value(kv.value());  // a provider's extra keys
    } else if (k == "api_keys" || (place == Place::key_item && k == "previous")) {
      redact_in(kv.value(), Place::key_item);
    } else {
      redact_in(kv.value(), Place::other);
    }
  }
}

Place place_of(std::string_view path) {
  if (path == "auth.api_keys") return Place::key_item;
  return Place::other;
}

// Walks `v` and `old` together; a kRedacted string takes old's value at the same place.
Result<void> restore_in(json::value& v, const json::value* old, const std::string& where) {
  if (v.is_string() && v.get_string() == kRedacted) {
    if (old == nullptr || (old->is_string() && old->get_string() == kRedacted))
      return ApiError::invalid_request(where + ": \"" + std::string(kRedacted) +
                                           "\" stands for a stored secret, and there is none "
                                           "here: give a ${vault:...}, ${env:...} or "
                                           "${file:...} reference",
                                       where);
    v = *old;
    return {};
  }
  if (v.is_object()) {
    const json::object* o = old != nullptr && old->is_object() ? &old->get_object() : nullptr;
    for (auto& kv : v.get_object()) {
      const json::value* ov = o != nullptr ? o->if_contains(kv.key()) : nullptr;
      if (auto r = restore_in(kv.value(), ov, where.empty() ? std::string(kv.key())
                                                            : where + "." + std::string(kv.key()));
          !r)
        return r;
    }
  } else if (v.is_array()) {
    const json::array* a = old != nullptr && old->is_array() ? &old->get_array() : nullptr;
    auto& arr = v.get_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const json::value* ov = a != nullptr && i < a->size() ? &(*a)[i] : nullptr;
      // Items of a named collection are matched by name, not position.
      if (a != nullptr && arr[i].is_object()) {
        for (const char* id : {"name", "id", "issuer"}) {
          const json::value* n = arr[i].get_object().if_contains(id);
          if (n == nullptr) continue;
          ov = nullptr;
          for (const auto& x : *a)
            if (x.is_object() && x.get_object().if_contains(id) &&
                *x.get_object().if_contains(id) == *n)
              ov = &x;
          break;
        }
      }
      if (auto r = restore_in(arr[i], ov, where + "[" + std::to_string(i) + "]"); !r) return r;
    }
  }
  return {};
}

}  // namespace

Result<json::object> yaml_to_doc(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
    return ApiError::invalid_request(source + ":" + std::to_string(line) +
                                     ": invalid YAML: " + e.msg);
  }
  if (root.IsNull()) return json::object{};
  if (!root.IsMap()) return ApiError::invalid_request(source + ": the document must be a mapping");
  return node_to_value(root).get_object();
}

Result<json::object> json_to_doc(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return ApiError::invalid_request("the body is not valid JSON: " + ec.message());
  if (!v.is_object()) return ApiError::invalid_request("the config must be a JSON object");
  return std::move(v.get_object());
}

std::string doc_to_text(const json::object& doc) {
  std::string out;
  write_text(doc, out);
  return out;
}

std::string to_text(const json::value& v) {
  std::string out;
  write_text(v, out);
  return out;
}

Result<Config> doc_to_config(const json::object& doc) {
  auto c = parse_config(doc_to_text(doc), "admin");
  if (c) return c;
  // The loader writes "admin:LINE: path: message"; lines of the generated text mean nothing
  // to the API's client. Several errors are joined by "; " or newlines: strip each prefix.
  static const std::regex prefix("admin:[0-9]+: ");
  ApiError e = c.error();
  e.message = std::regex_replace(e.message, prefix, "");
  e.status = 400;
  if (e.code.empty()) e.code = "invalid_config";
  return e;
}

std::string doc_to_yaml(const json::object& doc) {
  YAML::Emitter e;
  emit_yaml(e, doc);
  std::string out = e.c_str();
  out += '\n';
  return out;
}

json::value redact(const json::value& v, std::string_view path) {
  json::value copy = v;
  const Place place = place_of(path);
  if (place == Place::key_item && copy.is_object()) {
    // One api_keys item.
    json::value wrap = json::array{std::move(copy)};
    redact_in(wrap, Place::key_item);
    return std::move(wrap.get_array()[0]);
  }
  redact_in(copy, place);
  return copy;
}

Result<void> restore_secrets(json::value& v, const json::value* old, std::string_view path) {
  if (auto r = restore_in(v, old, std::string(path)); !r) return r;
  // A secret that is still not a reference is a literal: refused, unless it is the value
  // already stored at that place (a seed file may hold one; discouraged, but not ours to drop).
  const json::value shown = redact(v, path);
  std::string bad;
  std::function<void(const json::value&, const json::value&, const json::value*,
                     const std::string&)>
      walk = [&](const json::value& a, const json::value& b, const json::value* o,
                 const std::string& where) {
        if (!bad.empty()) return;
        if (a.is_string() && a.get_string() == kRedacted && !(b == a)) {
          if (o == nullptr || !(*o == b)) bad = where;
          return;
        }
        if (a.is_object() && b.is_object()) {
          const json::object* oo = o != nullptr && o->is_object() ? &o->get_object() : nullptr;
          for (const auto& kv : a.get_object())
            if (const auto* bv = b.get_object().if_contains(kv.key()))
              walk(kv.value(), *bv, oo != nullptr ? oo->if_contains(kv.key()) : nullptr,
                   where.empty() ? std::string(kv.key()) : where + "." + std::string(kv.key()));
        } else if (a.is_array() && b.is_array()) {
          const json::array* oa = o != nullptr && o->is_array() ? &o->get_array() : nullptr;
          for (std::size_t i = 0; i < a.get_array().size() && i < b.get_array().size(); ++i)
            walk(a.get_array()[i], b.get_array()[i],
                 oa != nullptr && i < oa->size() ? &(*oa)[i] : nullptr,
                 where + "[" + std::to_string(i) + "]");
        }
      };
  walk(shown, v, old, std::string(path));
  if (bad.empty()) return {};
  return ApiError::invalid_request(
      bad + ": a secret must be a reference (${vault:NAME/KEY}, ${env:NAME} or ${file:/path}); "
            "torii does not store secret values in its config",
      bad, "secret_literal");
}

std::string etag_of(const json::value& v) {
  std::string text;
  write_text(v, text);
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

const std::vector<Collection>& collections() {
  static const std::vector<Collection> c{
      {"providers", "providers", "name", "provider"},
      {"routes", "routes", "name", "route"},
      {"consumers", "auth.consumers", "id", "consumer"},
      {"keys", "auth.api_keys", "name", "key"},
      {"jwt-issuers", "auth.jwt", "issuer", "JWT issuer"},
      {"authz-rules", "authorization.rules", "id", "authorization rule"},
      {"rate-limits", "quotas.limits", "id", "rate limit"},
      {"budgets", "quotas.budgets", "id", "budget"},
      {"guardrails", "guardrails.checks", "id", "guardrail"},
      {"prompt-templates", "prompts.templates", "id", "prompt template"},
      {"prompt-contexts", "prompts.contexts", "id", "prompt context"},
  };
  return c;
}

const Collection* find_collection(std::string_view name) {
  for (const auto& c : collections())
    if (c.name == name) return &c;
  return nullptr;
}

json::array* collection_items(json::object& doc, const Collection& c, bool create) {
  json::object* at = &doc;
  std::string_view path = c.doc_path;
  for (;;) {
    const auto dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    json::value* v = at->if_contains(part);
    if (v == nullptr || v->is_null()) {
      if (!create) return nullptr;
      v = &((*at)[part] = dot == std::string_view::npos ? json::value(json::array{})
                                                         : json::value(json::object{}));
    }
    if (dot == std::string_view::npos) return v->is_array() ? &v->get_array() : nullptr;
    if (!v->is_object()) return nullptr;
    at = &v->get_object();
    path = path.substr(dot + 1);
  }
}

const json::array* collection_items(const json::object& doc, const Collection& c) {
  return collection_items(const_cast<json::object&>(doc), c, false);
}

json::object* find_item(json::array* items, const Collection& c, std::string_view id) {
  if (items == nullptr) return nullptr;
  for (auto& x : *items) {
    if (!x.is_object()) continue;
    const json::value* n = x.get_object().if_contains(c.id_field);
    if (n != nullptr && n->is_string() && n->get_string() == id) return &x.get_object();
  }
  return nullptr;
}

}  // namespace torii::admin
