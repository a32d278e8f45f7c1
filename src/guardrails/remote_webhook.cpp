// The webhook guardrail: POSTs the texts to the operator's service, which allows, denies or
// rewrites them (docs/GUARDRAILS.md, "webhook").
//
//   request:  {"guardrail","phase","request_id","consumer","route","model",
//              "texts":[{"role","text"}...]}
//   answer:   {"action":"allow"} | {"action":"deny","reason":"..."}
//             | {"action":"rewrite","texts":["...", ...]}  (one string per text sent)
//
// Egress: the webhook host is not a provider. Its calls follow the snapshot's egress rules all
// the same (upstream/egress.h): its own host is allowed by name, and an address in a refused
// range (loopback, private…) is refused unless egress.allow_networks holds it, at load for a
// literal address and at connect for a name.
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "config/snapshot.h"
#include "core/log.h"
#include "guardrails/remote.h"
#include "pipeline/request_context.h"
#include "routing/route.h"
#include "upstream/egress.h"

namespace torii::guardrails {

namespace {

namespace json = boost::json;

class WebhookGuardrail final : public PostingGuardrail {
 public:
  using PostingGuardrail::PostingGuardrail;

  Task<void> check_async(const Subject& subject, Outcome& out) const override {
    out = Outcome{};
    if (!subject.texts || subject.texts->empty()) co_return;
    std::string body = request_body(subject);  // (not a temporary in co_await: GCC 12)
    RemoteAnswer answer = co_await post(std::move(body));
    if (!answer.ok) co_return unavailable(*this, answer.cause, out);
    read_answer(*subject.texts, answer.body, out);
  }

 private:
  std::string request_body(const Subject& s) const {
    json::object o;
    o["guardrail"] = id();
    o["phase"] = phase_name(s.phase);
    // From the subject, not the request: a parallel check may outlive the request.
    o["request_id"] = s.request_id;
    o["consumer"] = s.consumer;
    o["route"] = s.route;
    o["model"] = s.model;
    json::array texts;
    texts.reserve(s.texts->size());
    for (const Text& t : *s.texts)
      texts.push_back(json::object{{"role", t.role}, {"text", t.value}});
    o["texts"] = std::move(texts);
    return json::serialize(o);
  }

  void read_answer(const std::vector<Text>& texts, std::string_view body, Outcome& out) const {
    json::error_code ec;
    json::value doc = json::parse(body, ec);
    const json::object* o = ec ? nullptr : doc.if_object();
    const json::value* action = o ? o->if_contains("action") : nullptr;
    if (!action || !action->is_string())
      return unreadable(*this, shown(), ec ? "not JSON" : "no \"action\" string", out);
    const json::string& a = action->get_string();
    if (a == "allow") return;
    if (a == "deny") {
      out.action = Outcome::Action::deny;
      const json::value* reason = o->if_contains("reason");
      out.reason = reason && reason->is_string() && !reason->get_string().empty()
                       ? short_reason(reason->get_string())
                       : "denied by webhook '" + id() + "'";
      return;
    }
    if (a != "rewrite")
      return unreadable(*this, shown(), "unknown action '" + short_reason(a) + "'", out);
    const json::value* rewritten = o->if_contains("texts");
    const json::array* list = rewritten ? rewritten->if_array() : nullptr;
    if (!list || list->size() != texts.size())
      return unreadable(*this, shown(),
                        "a rewrite needs \"texts\": one string per text (" +
                            std::to_string(texts.size()) + ")",
                        out);
    for (const auto& v : *list)
      if (!v.is_string()) return unreadable(*this, shown(), "rewritten texts must be strings", out);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const json::string& now = (*list)[i].get_string();
      if (std::string_view(now) == texts[i].value) continue;
      out.edits.push_back(Edit{i, 0, texts[i].value.size(), std::string(now)});
    }
    if (out.edits.empty()) return;  // rewritten into the same texts: nothing to do
    out.action = Outcome::Action::redact;
    out.reason = "rewritten by webhook (" + std::to_string(out.edits.size()) + " of " +
                 std::to_string(texts.size()) + " texts)";
  }

};

bool header_safe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Result<std::unique_ptr<Guardrail>> make_webhook_guardrail(const GuardrailConfig& config,
                                                          const Snapshot& snapshot) {
  const std::string where = "guardrail '" + config.id + "': ";
  auto parsed = boost::urls::parse_absolute_uri(config.url);
  if (!parsed || parsed->encoded_host().empty())
    return ApiError::invalid_request(where + "url must be an http:// or https:// URL");
  if (parsed->has_userinfo())
    return ApiError::invalid_request(where + "url must not carry credentials; use headers");
  const auto& u = *parsed;
  std::string shown = std::string(u.scheme()) + "://" + std::string(u.encoded_host()) +
                      (u.has_port() ? ":" + std::string(u.port()) : "") +
                      std::string(u.encoded_path());
  const std::chrono::milliseconds timeout(config.timeout_ms);
  UpstreamTimeouts timeouts;
  timeouts.connect = timeouts.first_byte = timeouts.idle = timeout;
  auto ep = make_endpoint(config.url, "", timeouts);
  if (!ep) return ApiError::invalid_request(where + "url " + shown + " is not usable (http or "
                                            "https, a host, a port up to 65535)");
  auto egress = EgressPolicy::make(snapshot.config.egress);
  if (!egress) return egress.error();
  if (const char* why = (*egress)->literal_refusal(ep->host))
    return ApiError::invalid_request(where + "url host " + ep->host + " is " + why +
                                     "; egress refuses it (allow it with egress.allow_networks)");
  (*egress)->allow_host(ep->host);
  ep->egress = std::move(*egress);
  // As for providers: connections opened under one allowance are not reused under another.
  for (const auto& n : snapshot.config.egress.allow_networks) ep->key += "|net:" + n;

  std::string path(u.encoded_path());
  if (path.empty()) path = "/";
  if (u.has_query()) path += "?" + std::string(u.encoded_query());
  std::string headers = "Content-Type: application/json\r\nUser-Agent: torii-guardrail\r\n";
  for (const auto& [name, value] : config.headers) {
    if (!header_safe(name) || !header_safe(value))  // the loader refused them: defensive
      return ApiError::invalid_request(where + "header " + name + " holds a line break");
    headers.append(name).append(": ").append(value).append("\r\n");
  }
  return std::unique_ptr<Guardrail>(std::make_unique<WebhookGuardrail>(
      config, std::move(*ep), std::move(path), std::move(headers), std::move(shown)));
}

}  // namespace torii::guardrails
