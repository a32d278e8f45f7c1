// GuardrailsLoader: `guardrails:` (see loader_guardrails.h, docs/GUARDRAILS.md).
#include "config/loader_guardrails.h"

#include "guardrails/guardrail.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>

namespace torii::config_detail {

namespace json = boost::json;

json::value yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const auto& x : n) a.push_back(yaml_to_json(x));
      return a;
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) o[kv.first.Scalar()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return json::string(s);  // quoted: a string
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      int64_t i = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (!s.empty() && ec == std::errc() && end == s.data() + s.size()) return i;
      if (auto d = yaml_number(n)) return *d;
      return json::string(s);
    }
    default:
      return nullptr;
  }
}

void GuardrailsLoader::guardrails(const YAML::Node& v, const std::string& path, Config& cfg) {
  GuardrailsConfig& g = cfg.guardrails;
  each_key(v, path, {"on_deny", "refusal", "stream_holdback", "checks"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "on_deny") {
               auto s = nonempty(x, p);
               if (s && *s != "error" && *s != "refusal") error(x, p, "must be error or refusal");
               else if (s)
                 g.on_deny = *s == "error" ? GuardrailConfig::OnDeny::error
                                           : GuardrailConfig::OnDeny::refusal;
             }
             if (k == "refusal") set_str(x, p, g.refusal);
             if (k == "stream_holdback") count(x, p, 16, 65536, g.stream_holdback);
             if (k == "checks") {
               if (!x.IsSequence()) return error(x, p, "must be a list");
               std::set<std::string> ids;
               for (std::size_t i = 0; i < x.size(); ++i) {
                 const std::string ip = index_path(p, i);
                 GuardrailConfig& c = g.checks.emplace_back();
                 check(x[i], ip, c);
                 if (!c.id.empty() && !ids.insert(c.id).second)
                   error(x[i], ip + ".id", "duplicate id '" + c.id + "'");
               }
             }
           });
}

void GuardrailsLoader::check(const YAML::Node& v, const std::string& path, GuardrailConfig& c) {
  c.line = line_of(v);
  std::set<std::string> got;
  each_key(
      v, path,
      {"id", "kind", "phase", "routes", "action", "on_deny", "message", "allow", "deny", "words",
       "match", "case_sensitive", "entities", "custom", "entropy_threshold",
       "entropy_min_length", "reinflate", "min_chars", "max_chars", "min_words", "max_words",
       "min_messages", "max_messages", "min_tokens", "max_tokens", "schema", "model", "prompt",
       "threshold", "provider", "thresholds", "url", "headers", "timeout_ms", "fail_open",
       "parallel"},
      [&](const std::string& k, const YAML::Node& x, const std::string& p) {
        got.insert(k);
        if (k == "id") entity_id(x, p, c.id);  // named in errors, audit events, metrics
        if (k == "kind") {
          auto s = nonempty(x, p);
          if (s && !torii::guardrails::is_local_kind(*s) && !torii::guardrails::is_remote_kind(*s))
            error(x, p, "unknown kind '" + *s + "' (regex, contains, pii, secrets, size, "
                        "response_schema, llm_judge, moderation, webhook)");
          else if (s) c.kind = *s;
        }
        if (k == "phase") {
          std::vector<std::string> phases;
          if (x.IsScalar()) phases.push_back(x.Scalar());
          else phases = strings(x, p);
          c.before = c.after = false;
          for (const auto& ph : phases) {
            if (ph == "before") c.before = true;
            else if (ph == "after") c.after = true;
            else error(x, p, "must be before, after, or a list of them");
          }
          if (phases.empty()) error(x, p, "must name a phase (before, after)");
        }
        if (k == "routes") c.routes = strings(x, p);
        if (k == "action") {
          auto s = nonempty(x, p);
          if (s == "block") c.action = GuardrailConfig::Action::block;
          else if (s == "redact") c.action = GuardrailConfig::Action::redact;
          else if (s == "mask") c.action = GuardrailConfig::Action::mask;
          else if (s) error(x, p, "must be block, redact or mask");
        }
        if (k == "on_deny") {
          auto s = nonempty(x, p);
          if (s == "error") c.on_deny = GuardrailConfig::OnDeny::error;
          else if (s == "refusal") c.on_deny = GuardrailConfig::OnDeny::refusal;
          else if (s) error(x, p, "must be error or refusal");
        }
        if (k == "message") set_str(x, p, c.message);
        if (k == "allow") c.allow = strings(x, p);
        if (k == "deny") c.deny = strings(x, p);
        if (k == "words") c.words = strings(x, p);
        if (k == "match") {
          auto s = nonempty(x, p);
          if (s == "any") c.match = GuardrailConfig::Match::any;
          else if (s == "all") c.match = GuardrailConfig::Match::all;
          else if (s == "none") c.match = GuardrailConfig::Match::none;
          else if (s) error(x, p, "must be any, all or none");
        }
        if (k == "case_sensitive") boolean(x, p, c.case_sensitive);
        if (k == "entities") c.entities = strings(x, p);
        if (k == "custom") {
          if (!x.IsMap()) return error(x, p, "must be a mapping of entity name to RE2 pattern");
          for (const auto& kv : x) {
            const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
            const std::string kp = key_path(p, name);
            if (!valid_entity_id(name)) {
              error(kv.first, kp, "entity names are letters, digits, '.', '_' or '-'");
              continue;
            }
            if (auto pat = nonempty(kv.second, kp)) c.custom.emplace_back(name, *pat);
          }
        }
        if (k == "entropy_threshold") {
          auto d = yaml_number(x);
          if (!d || *d <= 0 || *d > 8) error(x, p, "must be a number in (0, 8] (bits per byte)");
          else c.entropy_threshold = *d;
        }
        if (k == "entropy_min_length") count(x, p, 8, 4096, c.entropy_min_length);
        if (k == "reinflate") boolean(x, p, c.reinflate);
        constexpr int64_t kBig = int64_t{1} << 40;
        if (k == "min_chars") count(x, p, 0, kBig, c.min_chars);
        if (k == "max_chars") count(x, p, 0, kBig, c.max_chars);
        if (k == "min_words") count(x, p, 0, kBig, c.min_words);
        if (k == "max_words") count(x, p, 0, kBig, c.max_words);
        if (k == "min_messages") count(x, p, 0, kBig, c.min_messages);
        if (k == "max_messages") count(x, p, 0, kBig, c.max_messages);
        if (k == "min_tokens") count(x, p, 0, kBig, c.min_tokens);
        if (k == "max_tokens") count(x, p, 0, kBig, c.max_tokens);
        if (k == "schema") {
          if (x.IsMap()) c.schema = yaml_to_json(x);
          else if (x.IsScalar() && x.Scalar() == "true") c.schema = true;
          else error(x, p, "must be a JSON Schema (a mapping)");
        }
        if (k == "model") set_str(x, p, c.model);
        if (k == "prompt") set_str(x, p, c.prompt);
        if (k == "threshold") {
          auto d = yaml_number(x);
          if (!d || *d < 0 || *d > 1) error(x, p, "must be a number in [0, 1]");
          else c.threshold = *d;
        }
        if (k == "provider") set_str(x, p, c.provider);
        if (k == "thresholds") {
          if (!x.IsMap()) return error(x, p, "must be a mapping of category to score in [0, 1]");
          for (const auto& kv : x) {
            const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
            auto d = yaml_number(kv.second);
            if (name.empty()) error(kv.first, p, "categories are non-empty strings");
            else if (!d || *d < 0 || *d > 1)
              error(kv.second, key_path(p, name), "must be a number in [0, 1]");
            else c.thresholds[name] = *d;
          }
        }
        if (k == "url") http_url(x, p, c.url);
        if (k == "headers") header_map(x, p, c.headers);
        if (k == "timeout_ms") count(x, p, 1, 600'000, c.timeout_ms);
        if (k == "fail_open") boolean(x, p, c.fail_open);
        if (k == "parallel") boolean(x, p, c.parallel);
      });
  require(v, path, got, {"id", "kind"});
  if (c.kind.empty()) return;
  // Which keys each kind reads: a key another kind reads is a mistake worth saying.
  static const std::map<std::string, std::set<std::string>> kOwn = {
      {"regex", {"allow", "deny", "action"}},
      {"contains", {"words", "match", "case_sensitive"}},
      {"pii", {"entities", "custom", "action", "reinflate"}},
      {"secrets", {"entities", "entropy_threshold", "entropy_min_length", "action"}},
      {"size",
       {"min_chars", "max_chars", "min_words", "max_words", "min_messages", "max_messages",
        "min_tokens", "max_tokens"}},
      {"response_schema", {"schema"}},
      {"llm_judge", {"model", "prompt", "threshold", "timeout_ms", "fail_open", "parallel"}},
      {"moderation", {"provider", "model", "thresholds", "timeout_ms", "fail_open", "parallel"}},
      {"webhook", {"url", "headers", "timeout_ms", "fail_open", "parallel"}},
  };
  static const std::set<std::string> kCommon = {"id", "kind", "phase", "routes", "on_deny",
                                                "message"};
  const auto& own = kOwn.at(c.kind);
  for (const auto& k : got)
    if (!kCommon.count(k) && !own.count(k))
      error(v, key_path(path, k), "is not a setting of kind " + c.kind);
  auto need = [&](bool ok, const char* key, const std::string& what) {
    if (!ok) error(v, key_path(path, key), what);
  };
  if (c.kind == "regex") need(!c.allow.empty() || !c.deny.empty(), "deny", "regex needs deny or allow patterns");
  if (c.kind == "regex" && c.action != GuardrailConfig::Action::block && c.deny.empty())
    error(v, key_path(path, "action"), "redact and mask rewrite deny matches: give deny patterns");
  if (c.kind == "contains") need(!c.words.empty(), "words", "contains needs words");
  if (c.kind == "response_schema") {
    need(!c.schema.is_null(), "schema", "response_schema needs a schema");
    if (got.count("phase") && c.before)
      error(v, key_path(path, "phase"), "response_schema checks the answer: phase must be after");
    c.before = false;  // the answer only
    c.after = true;
  }
  if (c.kind == "pii" && c.reinflate && c.action != GuardrailConfig::Action::mask)
    error(v, key_path(path, "reinflate"), "re-inflation needs action mask");
  if (c.kind == "llm_judge") {
    need(!c.model.empty(), "model", "llm_judge needs a model (a route alias or provider/model)");
    need(!c.prompt.empty(), "prompt", "llm_judge needs a prompt (text with {{text}})");
  }
  if (c.kind == "moderation") need(!c.provider.empty(), "provider", "moderation needs a provider");
  if (c.kind == "webhook") need(!c.url.empty(), "url", "webhook needs a url");
  if (c.parallel && !c.before)
    error(v, key_path(path, "parallel"), "parallel runs a phase-before check beside the upstream "
                                         "call: this check has no phase before");
}

void GuardrailsLoader::check_guardrails(Config& cfg) {
  std::set<std::string> routes;
  for (const auto& r : cfg.routes) routes.insert(r.name);
  std::set<std::string> providers;
  for (const auto& p : cfg.providers) providers.insert(p.name);
  for (std::size_t i = 0; i < cfg.guardrails.checks.size(); ++i) {
    const GuardrailConfig& c = cfg.guardrails.checks[i];
    const std::string path = index_path("guardrails.checks", i);
    for (const auto& r : c.routes)
      if (!routes.count(r))
        error_at(c.line, path + ".routes", "names no route '" + r + "'");
    if (c.kind == "moderation" && !c.provider.empty() && !providers.count(c.provider))
      error_at(c.line, path + ".provider", "names no provider '" + c.provider + "'");
    if (c.kind == "llm_judge" && !c.model.empty() && !routes.count(c.model)) {
      const auto slash = c.model.find('/');
      if (slash == std::string::npos || !providers.count(c.model.substr(0, slash)))
        error_at(c.line, path + ".model",
                 "names no route and no provider/model: '" + c.model + "'");
    }
  }
}

}  // namespace torii::config_detail
