// The moderation guardrail: an OpenAI-compatible provider of the config is asked its
// /moderations for the texts (docs/GUARDRAILS.md, "moderation").
//
//   request:  POST <provider base_url>/moderations {"input":[texts...],"model"?}
//   answer:   {"results":[{"flagged":bool,"categories":{...},"category_scores":{...}}...]}
//
// With thresholds, a category scored at or above its threshold ("*": the categories not
// listed) denies; without, a flagged result does. The call goes to the provider's endpoint, so
// its egress rules, TLS settings and connection pool are the provider's.
#include <boost/json.hpp>

#include <cstdio>

#include "config/snapshot.h"
#include "guardrails/remote.h"

namespace torii::guardrails {

namespace {

namespace json = boost::json;

// One category that denies: its highest score over the results, and the threshold it reached
// (-1: the result was flagged, no threshold).
struct Hit {
  std::string category;
  double score = 0;
  double threshold = -1;
};

std::string two_decimals(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

class ModerationGuardrail final : public PostingGuardrail {
 public:
  using PostingGuardrail::PostingGuardrail;

  Task<void> check_async(const Subject& subject, Outcome& out) const override {
    out = Outcome{};
    if (!subject.texts) co_return;
    json::array input;
    for (const Text& t : *subject.texts)
      if (!t.value.empty()) input.emplace_back(t.value);
    if (input.empty()) co_return;
    const std::size_t inputs = input.size();
    json::object body;
    body["input"] = std::move(input);
    if (!config().model.empty()) body["model"] = config().model;
    std::string text = json::serialize(body);  // (not a temporary in co_await: GCC 12)
    RemoteAnswer answer = co_await post(std::move(text));
    if (!answer.ok) co_return unavailable(*this, answer.cause, out);
    read_answer(answer.body, inputs, out);
  }

 private:
  void read_answer(std::string_view body, std::size_t inputs, Outcome& out) const {
    json::error_code ec;
    json::value doc = json::parse(body, ec);
    const json::object* o = ec ? nullptr : doc.if_object();
    const json::value* results = o ? o->if_contains("results") : nullptr;
    if (!results || !results->is_array() || results->get_array().size() != inputs)
      return unreadable(*this, shown(),
                        ec ? "not JSON"
                           : "\"results\" must be an array of " + std::to_string(inputs), out);
    std::vector<Hit> hits;
    for (const auto& r : results->get_array()) {
      const json::object* result = r.if_object();
      const json::value* scores = result ? result->if_contains("category_scores") : nullptr;
      if (scores && !scores->is_object()) scores = nullptr;
      if (!config().thresholds.empty()) {
        if (!scores) return unreadable(*this, shown(), "a result has no category_scores", out);
        for (const auto& [name, v] : scores->get_object()) {
          if (!v.is_number()) continue;
          const double threshold = threshold_of(name);
          if (threshold >= 0 && v.to_number<double>() >= threshold)
            add(hits, name, v.to_number<double>(), threshold);
        }
        continue;
      }
      const json::value* flagged = result ? result->if_contains("flagged") : nullptr;
      if (!flagged || !flagged->is_bool())
        return unreadable(*this, shown(), "a result has no \"flagged\"", out);
      if (!flagged->get_bool()) continue;
      const json::value* categories = result->if_contains("categories");
      bool named = false;
      if (categories && categories->is_object())
        for (const auto& [name, v] : categories->get_object()) {
          if (!v.is_bool() || !v.get_bool()) continue;
          const json::value* s = scores ? scores->get_object().if_contains(name) : nullptr;
          add(hits, name, s && s->is_number() ? s->to_number<double>() : -1, -1);
          named = true;
        }
      if (!named) add(hits, "", -1, -1);
    }
    if (hits.empty()) return;
    out.action = Outcome::Action::deny;
    std::string reason = config().thresholds.empty() ? "moderation: flagged" : "moderation:";
    bool first = true;
    for (const Hit& h : hits) {
      if (h.category.empty()) continue;
      reason += first ? " " : ", ";
      first = false;
      reason += h.category;
      if (h.score >= 0) reason += " " + two_decimals(h.score);
      if (h.threshold >= 0) reason += " >= " + two_decimals(h.threshold);
    }
    out.reason = short_reason(reason);
  }

  // The threshold of a category: its own, else "*", else -1 (not judged).
  double threshold_of(std::string_view category) const {
    const auto& t = config().thresholds;
    if (auto it = t.find(std::string(category)); it != t.end()) return it->second;
    if (auto it = t.find("*"); it != t.end()) return it->second;
    return -1;
  }

  // Records a category once, keeping its highest score.
  static void add(std::vector<Hit>& hits, std::string_view category, double score,
                  double threshold) {
    for (Hit& h : hits)
      if (h.category == category) {
        h.score = std::max(h.score, score);
        return;
      }
    hits.push_back(Hit{std::string(category), score, threshold});
  }

};

bool header_safe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Result<std::unique_ptr<Guardrail>> make_moderation_guardrail(const GuardrailConfig& config,
                                                             const Snapshot& snapshot) {
  const std::string where = "guardrail '" + config.id + "': ";
  auto p = snapshot.provider_by_name.find(config.provider);
  const ProviderConfig* pc = nullptr;
  for (const auto& c : snapshot.config.providers)
    if (c.name == config.provider) pc = &c;
  if (p == snapshot.provider_by_name.end() || !pc)
    return ApiError::invalid_request(where + "names no provider '" + config.provider + "'");
  const Endpoint& ep = p->second->endpoint();
  std::string headers = "Content-Type: application/json\r\nUser-Agent: torii-guardrail\r\n";
  for (const auto& [name, value] : pc->headers) {
    if (!header_safe(name) || !header_safe(value))  // the loader refused them: defensive
      return ApiError::invalid_request(where + "a header of provider '" + pc->name +
                                       "' holds a line break");
    headers.append(name).append(": ").append(value).append("\r\n");
  }
  if (!pc->api_key.value.empty()) {
    if (!header_safe(pc->api_key.value))
      return ApiError::invalid_request(where + "the api_key of provider '" + pc->name +
                                       "' holds a line break");
    headers.append("Authorization: Bearer ").append(pc->api_key.value).append("\r\n");
  }
  std::string shown = "provider '" + pc->name + "' " + ep.base_path + "/moderations";
  return std::unique_ptr<Guardrail>(std::make_unique<ModerationGuardrail>(
      config, ep, ep.base_path + "/moderations", std::move(headers), std::move(shown)));
}

}  // namespace torii::guardrails
