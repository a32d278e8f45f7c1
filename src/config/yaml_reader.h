#pragma once
// YamlReader: the walking and error collection shared by the config loader's parts
// (loader.cpp, loader_routes.cpp). Every problem is recorded as "FILE:LINE: key.path: what is
// wrong"; the caller reports them all at once. Internal to src/config.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace torii::config_detail {

inline constexpr int64_t kMaxMs = std::numeric_limits<int32_t>::max();  // ~24.8 days

inline bool is_token_char(char c) {  // RFC 9110 tchar
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A finite number written as a YAML scalar; nullopt for anything else.
std::optional<double> yaml_number(const YAML::Node& v);

inline std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
inline std::string key_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// The ids of config entities that name store keys, metrics labels or audit records (rate
// limits, budgets, guardrails, prompt templates and contexts): 1-64 letters, digits, '.', '_'
// or '-'.
inline bool valid_entity_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

// Levenshtein distance, to suggest the key a typo meant.
std::size_t distance(const std::string& a, const std::string& b);

class YamlReader {
 public:
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  // All the errors recorded, sorted by line, at most 50 (then "... and N more errors").
  std::optional<ApiError> errors() const;

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

  // Whole seconds, at least `min`, at most a year.
  void seconds(const YAML::Node& v, const std::string& path, int64_t min,
               std::chrono::seconds& out) {
    if (auto n = integer(v, path, min, 365LL * 86400)) out = std::chrono::seconds(*n);
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
    auto r = resolve_secret(*s, vault_);
    if (!r) {
      error(v, path, r.error().message);
      return {};
    }
    return std::move(r.value());
  }

  // An entity id (valid_entity_id), or an error naming what was given.
  void entity_id(const YAML::Node& v, const std::string& path, std::string& out) {
    auto s = nonempty(v, path);
    if (s && !valid_entity_id(*s))
      error(v, path, "must be at most 64 letters, digits, '.', '_' or '-', got '" + *s + "'");
    else if (s) out = *s;
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

  void boolean(const YAML::Node& v, const std::string& path, bool& out) {
    if (v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false")) {
      out = v.Scalar() == "true";
      return;
    }
    error(v, path, "must be true or false");
  }

  // HTTP header lines (name: value) to send somewhere: names checked, values without CR/LF,
  // a value may be a secret reference (resolved; never echoed in an error).
  void header_map(const YAML::Node& v, const std::string& path,
                  std::map<std::string, std::string>& out) {
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
      if (out.count(name)) {
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
        auto r = resolve_secret(*value, vault_);
        if (!r) {
          error(kv.second, p, r.error().message);
          continue;
        }
        *value = r->value;
      }
      out[name] = *value;
    }
  }

 protected:
  std::string source_;
  std::vector<std::pair<int, std::string>> errors_;  // (line, message)
  int last_line_ = 1;
  identity::Vault* vault_ = nullptr;  // what ${vault:...} references read, once `vault:` is read
};

}  // namespace torii::config_detail
