// RoutesLoader: `routes:` from YAML (see loader_routes.h).
#include "config/loader_routes.h"

#include <cmath>

namespace torii::config_detail {

void RoutesLoader::route_target(const YAML::Node& v, const std::string& path,
                                RouteTargetConfig& out) {
  out.line = line_of(v);
  auto split = [&](const YAML::Node& at, const std::string& p) {
    auto s = nonempty(at, p);
    if (!s) return;
    const auto slash = s->find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s->size()) {
      error(at, p, "must be provider/model, got '" + *s + "'");
      return;
    }
    out.provider = s->substr(0, slash);
    out.model = s->substr(slash + 1);
  };
  if (v.IsScalar()) {
    split(v, path);
    return;
  }
  std::set<std::string> got;
  each_key(v, path, {"target", "weight", "priority"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             if (k == "target") split(x, p);
             if (k == "weight") count(x, p, 1, 1000, out.weight);
             if (k == "priority") count(x, p, 0, 100, out.priority);
           });
  if (v.IsMap()) require(v, path, got, {"target"});
}

void RoutesLoader::retry(const YAML::Node& v, const std::string& path, RetryConfig& out) {
  each_key(v, path,
           {"attempts", "backoff_ms", "max_backoff_ms", "per_try_timeout_ms", "deadline_ms",
            "budget_percent", "min_retries_per_second"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "attempts") count(x, p, 1, 100, out.attempts);
             if (k == "backoff_ms") count(x, p, 0, kMaxMs, out.backoff);
             if (k == "max_backoff_ms") millis(x, p, out.max_backoff);
             if (k == "per_try_timeout_ms") millis(x, p, out.per_try_timeout);
             if (k == "deadline_ms") millis(x, p, out.deadline);
             if (k == "budget_percent") count(x, p, 0, 1000, out.budget_percent);
             if (k == "min_retries_per_second")
               count(x, p, 0, 1'000'000, out.min_retries_per_second);
           });
}

void RoutesLoader::failover_on(const YAML::Node& v, const std::string& path, FailoverConfig& out) {
  if (!v.IsSequence()) {
    error(v, path, "must be a list (connect, reset, timeout, 5xx, 429 or a status)");
    return;
  }
  out = FailoverConfig{false, false, false, false, false, {}, std::move(out.errors)};
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto s = nonempty(v[i], index_path(path, i));
    if (!s) continue;
    if (*s == "connect") out.connect = true;
    else if (*s == "reset") out.reset = true;
    else if (*s == "timeout") out.timeout = true;
    else if (*s == "5xx") out.server_errors = true;
    else if (*s == "429") out.rate_limited = true;
    else {
      int status = 0;
      auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), status);
      if (ec != std::errc() || end != s->data() + s->size() || status < 400 || status > 599)
        error(v[i], index_path(path, i),
              "must be connect, reset, timeout, 5xx, 429 or an HTTP status from 400 to 599, "
              "got '" + *s + "'");
      else out.statuses.push_back(status);
    }
  }
}

namespace {

// "HH:MM" -> minutes of the day, or -1.
int minute_of_day(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') return -1;
  auto digit = [&](std::size_t i) { return t[i] >= '0' && t[i] <= '9' ? t[i] - '0' : -100; };
  const int h = digit(0) * 10 + digit(1), m = digit(3) * 10 + digit(4);
  if (h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

constexpr const char* kWeekdays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
// The modalities' names (providers/modality.h modality_name).
constexpr std::string_view kModalities[] = {"chat", "speech", "embeddings", "image_generation",
                                            "image_edit", "transcription", "translation",
                                            "moderation"};

}  // namespace

void RoutesLoader::condition(const YAML::Node& v, const std::string& path, RuleCondition& out,
                             bool authz) {
  using S = RuleCondition::Subject;
  using O = RuleCondition::Op;
  int subjects = 0, ops = 0;
  static const std::initializer_list<const char*> kRouting = {
      "header", "metadata", "field", "group", "modality", "prompt_tokens_above",
      "prompt_tokens_below", "equals", "in", "exists", "above", "below", "not"};
  static const std::initializer_list<const char*> kAuthz = {
      "header", "metadata", "field", "group", "modality", "prompt_tokens_above",
      "prompt_tokens_below",
      "equals", "in", "exists", "above", "below", "not", "consumer", "key", "claim", "model",
      "provider", "param", "time", "weekday"};
  each_key(v, path, authz ? kAuthz : kRouting,
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "header" || k == "metadata" || k == "field" || k == "claim" ||
                 k == "param") {
               ++subjects;
               out.subject = k == "header" ? S::header : k == "metadata" ? S::metadata
                             : k == "field" ? S::field : k == "claim" ? S::claim : S::param;
               auto s = nonempty(x, p);
               if (!s) return;
               if (k == "field" && s->front() != '/')
                 error(x, p, "must be a JSON pointer such as /metadata/tier");
               if (k == "param" && *s != "max_tokens" && *s != "stream" && *s != "temperature" &&
                   *s != "top_p" && *s != "tools" && *s != "n")
                 error(x, p, "must be one of max_tokens, stream, temperature, top_p, tools, n");
               out.key = *s;
               if (k == "header")
                 std::transform(out.key.begin(), out.key.end(), out.key.begin(),
                                [](unsigned char c) { return std::tolower(c); });
             }
             // Subjects that take their value(s) directly: a string (equals) or a list (in).
             if (k == "group" || k == "consumer" || k == "key" || k == "model" ||
                 k == "provider" || k == "weekday" || k == "modality") {
               ++subjects;
               ++ops;
               out.subject = k == "group" ? S::group : k == "consumer" ? S::consumer
                             : k == "key" ? S::key : k == "model" ? S::model
                             : k == "provider" ? S::provider : k == "modality" ? S::modality
                                                                         : S::weekday;
               if (x.IsSequence()) {
                 out.op = O::in;
                 out.values = strings(x, p);
                 if (x.size() == 0) error(x, p, "must not be empty");
               } else if (auto s = nonempty(x, p)) {
                 out.op = O::equals;
                 out.values = {*s};
               }
               if (k == "modality")
                 for (const auto& m : out.values)
                   if (std::find(std::begin(kModalities), std::end(kModalities), m) ==
                       std::end(kModalities))
                     error(x, p, "must be chat, embeddings, image_generation, image_edit, "
                                 "speech, transcription, translation or moderation, got '" +
                                     m + "'");
               if (k == "weekday")
                 for (auto& d : out.values) {
                   std::transform(d.begin(), d.end(), d.begin(),
                                  [](unsigned char c) { return std::tolower(c); });
                   if (std::find_if(std::begin(kWeekdays), std::end(kWeekdays),
                                    [&](const char* w) { return d == w; }) == std::end(kWeekdays))
                     error(x, p, "must be mon, tue, wed, thu, fri, sat or sun, got '" + d + "'");
                 }
             }
             if (k == "time") {
               ++subjects;
               ++ops;
               out.subject = S::time;
               out.op = O::between;
               auto s = nonempty(x, p);
               if (!s) return;
               const auto dash = s->find('-');
               const int from = dash == 5 ? minute_of_day(s->substr(0, 5)) : -1;
               const int to = dash == 5 ? minute_of_day(s->substr(6)) : -1;
               if (from < 0 || to < 0 || from == to)
                 error(x, p, "must be a UTC window HH:MM-HH:MM such as 09:00-18:00, got '" +
                                 *s + "'");
               out.from_minute = from;
               out.to_minute = to;
             }
             if (k == "prompt_tokens_above" || k == "prompt_tokens_below") {
               ++subjects;
               ++ops;
               out.subject = S::prompt_tokens;
               out.op = k == "prompt_tokens_above" ? O::above : O::below;
               if (auto n = integer(x, p, 0, std::numeric_limits<int64_t>::max())) out.number = *n;
             }
             if (k == "not") boolean(x, p, out.negate);
             if (k == "equals") {
               ++ops;
               out.op = O::equals;
               if (auto s = str(x, p)) out.values = {*s};
             }
             if (k == "in") {
               ++ops;
               out.op = O::in;
               out.values = strings(x, p);
               if (x.IsSequence() && x.size() == 0) error(x, p, "must not be empty");
             }
             if (k == "exists") {
               ++ops;
               out.op = O::exists;
               bool b = true;
               boolean(x, p, b);
               if (!b) error(x, p, "only 'exists: true' is supported (use not: true)");
             }
             if (k == "above" || k == "below") {
               ++ops;
               out.op = k == "above" ? O::above : O::below;
               double n = 0;
               const std::string t = x.IsScalar() ? x.Scalar() : std::string();
               auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
               if (t.empty() || ec != std::errc() || end != t.data() + t.size() ||
                   !std::isfinite(n))
                 error(x, p, "must be a number");
               else
                 out.number = n;
             }
           });
  for (const auto& val : out.values)
    if (val.find('*') != std::string::npos) out.glob = true;
  if (!v.IsMap()) return;
  if (subjects != 1)
    error(v, path, authz ? "needs exactly one of header, metadata, field, claim, param, group, "
                           "modality, consumer, key, model, provider, time, weekday, "
                           "prompt_tokens_above, prompt_tokens_below"
                         : "needs exactly one of header, metadata, field, group, modality, "
                           "prompt_tokens_above, prompt_tokens_below");
  else if (ops != 1)
    error(v, path, "needs exactly one of equals, in, exists, above, below");
}

void RoutesLoader::conditions(const YAML::Node& v, const std::string& path,
                              std::vector<RuleCondition>& out, bool authz) {
  if (v.IsSequence()) {
    if (v.size() == 0) error(v, path, "must not be empty");
    for (std::size_t c = 0; c < v.size(); ++c) {
      out.emplace_back();
      condition(v[c], index_path(path, c), out.back(), authz);
    }
  } else {
    out.emplace_back();
    condition(v, path, out.back(), authz);
  }
}

void RoutesLoader::rules(const YAML::Node& v, const std::string& path, RouteConfig& r,
                         RouteLines& lines) {
  if (!v.IsSequence()) {
    error(v, path, "must be a list");
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = index_path(path, i);
    RouteRuleConfig rule;
    rule.line = line_of(v[i]);
    std::set<std::string> got;
    each_key(v[i], p, {"when", "route"},
             [&](const std::string& k, const YAML::Node& x, const std::string& kp) {
               got.insert(k);
               if (k == "route") {
                 if (auto s = nonempty(x, kp)) rule.route = *s;
               }
               if (k == "when") conditions(x, kp, rule.when);
             });
    if (v[i].IsMap()) require(v[i], p, got, {"when", "route"});
    lines.rules.push_back(rule.line);
    r.rules.push_back(std::move(rule));
  }
}

void RoutesLoader::routes(const YAML::Node& v, const std::string& path, Config& cfg) {
  if (!v.IsSequence()) {
    error(v, path, "must be a list");
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string rp = index_path(path, i);
    RouteConfig r;
    RouteLines lines;
    std::set<std::string> got;
    each_key(v[i], rp,
             {"name", "group", "strategy", "targets", "retry", "failover_on",
              "failover_on_errors", "rules", "prompts", "cache"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               got.insert(k);
               if (k == "name") {
                 lines.name = line_of(x);
                 if (auto s = nonempty(x, p)) {
                   if (s->find_first_of(" \t\r\n") != std::string::npos) {
                     error(x, p, "must not contain spaces");
                   } else {
                     r.name = *s;
                   }
                 }
               }
               if (k == "group") set_str(x, p, r.group);
               if (k == "strategy") {
                 static const std::pair<const char*, Strategy> kStrategies[] = {
                     {"round_robin", Strategy::round_robin},
                     {"weighted", Strategy::weighted},
                     {"random", Strategy::random},
                     {"least_inflight", Strategy::least_inflight},
                     {"lowest_latency", Strategy::lowest_latency},
                     {"p2c", Strategy::p2c}};
                 auto s = nonempty(x, p);
                 if (!s) return;
                 bool found = false;
                 for (const auto& [n, st] : kStrategies)
                   if (*s == n) r.strategy = st, found = true;
                 if (!found)
                   error(x, p, "unknown strategy '" + *s + "' (one of: round_robin, weighted, "
                               "random, least_inflight, lowest_latency, p2c)");
               }
               if (k == "targets") {
                 if (!x.IsSequence()) {
                   error(x, p, "must be a list");
                   return;
                 }
                 if (x.size() == 0) error(x, p, "must list at least one provider/model");
                 if (x.size() > 64) error(x, p, "at most 64 targets");
                 for (std::size_t t = 0; t < x.size(); ++t) {
                   RouteTargetConfig target;
                   route_target(x[t], index_path(p, t), target);
                   lines.targets.push_back(target.line);
                   r.targets.push_back(std::move(target));
                 }
               }
               if (k == "retry") retry(x, p, r.retry);
               if (k == "failover_on") failover_on(x, p, r.failover);
               if (k == "failover_on_errors") r.failover.errors = strings(x, p);
               if (k == "rules") rules(x, p, r, lines);
               if (k == "prompts") route_prompts(x, p, r.prompts);
               if (k == "cache") boolean(x, p, r.cache);
             });
    if (v[i].IsMap()) require(v[i], rp, got, {"name", "targets"});
    r.line = lines.name ? lines.name : line_of(v[i]);
    cfg.routes.push_back(std::move(r));
    route_lines_.push_back(std::move(lines));
  }
}

void RoutesLoader::route_prompts(const YAML::Node& v, const std::string& path,
                                 RoutePromptsConfig& out) {
  out.enabled = true;
  each_key(v, path, {"context", "contexts", "templates"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "context") set_str(x, p, out.context);
             if (k == "contexts") out.contexts = strings(x, p);
             if (k == "templates") out.templates = strings(x, p);
           });
}

// Cross-references, once providers and routes are both known.
void RoutesLoader::check_routes(const Config& cfg) {
  std::set<std::string> providers;
  for (const auto& p : cfg.providers) providers.insert(p.name);
  std::map<std::pair<std::string, std::string>, std::size_t> names;  // (name, group)
  std::map<std::string, bool> has_rules;  // alias -> one of its variants has rules
  for (const auto& r : cfg.routes) has_rules[r.name] = has_rules[r.name] || !r.rules.empty();
  for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
    const RouteConfig& r = cfg.routes[i];
    const std::string rp = index_path("routes", i);
    if (!r.name.empty()) {
      if (providers.count(r.name)) {
        error_at(r.line, rp + ".name", "'" + r.name + "' is already a provider name");
      }
      const auto slash = r.name.find('/');
      if (slash != std::string::npos && providers.count(r.name.substr(0, slash))) {
        error_at(r.line, rp + ".name",
                 "'" + r.name + "' would hide the provider model of the same name");
      }
      auto [it, fresh] = names.emplace(std::make_pair(r.name, r.group), i);
      if (!fresh) {
        error_at(r.line, rp + ".name",
                 "duplicate route name '" + r.name + "'" +
                     (r.group.empty() ? "" : " for group '" + r.group + "'") + " (also routes[" +
                     std::to_string(it->second) + "])");
      }
    }
    for (std::size_t t = 0; t < r.targets.size(); ++t) {
      const RouteTargetConfig& target = r.targets[t];
      if (!target.provider.empty() && !providers.count(target.provider)) {
        error_at(route_lines_[i].targets[t], index_path(rp + ".targets", t),
                 "unknown provider '" + target.provider + "'");
      }
    }
    for (std::size_t k = 0; k < r.rules.size(); ++k) {
      const std::string& to = r.rules[k].route;
      if (to.empty()) continue;
      const int line = route_lines_[i].rules[k];
      const std::string p = index_path(rp + ".rules", k) + ".route";
      auto it = has_rules.find(to);
      if (it == has_rules.end()) {
        error_at(line, p, "unknown route '" + to + "'");
      } else if (it->second) {
        error_at(line, p, "route '" + to + "' has rules of its own (rules go one level deep)");
      }
    }
  }
}

}  // namespace torii::config_detail
