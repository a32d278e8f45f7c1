// The remote guardrail kinds' factory and what they share (remote.h).
#include "guardrails/remote.h"

#include <boost/json/parser.hpp>

#include <cctype>
#include <charconv>
#include <cmath>

#include "core/error.h"
#include "core/log.h"

namespace torii::guardrails {

namespace json = boost::json;

Result<std::unique_ptr<Guardrail>> make_remote_guardrail(const GuardrailConfig& config,
                                                         const Snapshot& snapshot) {
  if (config.kind == "webhook") return make_webhook_guardrail(config, snapshot);
  if (config.kind == "llm_judge") return make_judge_guardrail(config, snapshot);
  if (config.kind == "moderation") return make_moderation_guardrail(config, snapshot);
  return ApiError::invalid_request("guardrail '" + config.id + "': '" + config.kind +
                                   "' is not a remote kind");
}

Task<RemoteAnswer> remote_call(const Guardrail& guardrail, std::string_view shown,
                               const Endpoint& endpoint, const UpstreamRequest& request) {
  RemoteAnswer answer;
  auto sent = co_await UpstreamClient::local().send(endpoint, request);
  if (!sent) {
    const ApiError& e = sent.error();
    answer.cause = e.status == 504                ? "timeout"
                   : e.code == "egress_denied"    ? "egress refused"
                                                  : "connection failed";
    log::warn("guardrail '{}': {}: {}", guardrail.id(), shown, e.message);
    co_return answer;
  }
  UpstreamResponse& resp = **sent;
  const int status = resp.status();
  if (status < 200 || status >= 300) {
    answer.cause = "status " + std::to_string(status);
    log::warn("guardrail '{}': {} answered status {}", guardrail.id(), shown, status);
    co_return answer;  // the response goes with its connection: nothing more is read
  }
  resp.set_deadline(request.deadline);
  auto body = co_await resp.read_all(kMaxRemoteAnswer);
  if (!body) {
    answer.cause = body.error().status == 504 ? "timeout" : "unreadable answer";
    log::warn("guardrail '{}': {}: reading the answer: {}", guardrail.id(), shown,
              body.error().message);
    co_return answer;
  }
  answer.ok = true;
  answer.body = std::move(*body);
  co_return answer;
}

void unavailable(const Guardrail& guardrail, std::string_view cause, Outcome& out) {
  out.edits.clear();
  out.action = guardrail.config().fail_open ? Outcome::Action::allow : Outcome::Action::deny;
  out.reason = "guardrail service unavailable: ";
  out.reason += cause;
  if (guardrail.config().fail_open) out.reason += " (fail_open)";
}

void unreadable(const Guardrail& guardrail, std::string_view shown, std::string_view why,
                Outcome& out) {
  log::warn("guardrail '{}': {} gave an unreadable answer: {}", guardrail.id(), shown, why);
  unavailable(guardrail, "unreadable answer", out);
}

std::string short_reason(std::string_view text) { return upstream_excerpt(text, kMaxRemoteReason); }

std::string number_text(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

namespace {

// The JSON value that starts at text[0], if `text` starts with one: its length in `used`.
std::optional<json::value> json_at(std::string_view text, std::size_t& used) {
  json::parser p;
  json::error_code ec;
  used = p.write_some(text.data(), text.size(), ec);
  if (ec) return std::nullopt;  // also an incomplete text: write_some wants a whole one
  return p.release();
}

bool number_char(char c) { return (c >= '0' && c <= '9') || c == '.'; }
bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::optional<JudgeVerdict> parse_judge_verdict(std::string_view answer) {
  for (std::size_t at = answer.find('{'); at != std::string_view::npos;
       at = answer.find('{', at + 1)) {
    std::size_t used = 0;
    auto v = json_at(answer.substr(at), used);
    if (!v || !v->is_object()) continue;
    const json::object& o = v->get_object();
    const json::value* score = o.if_contains("score");
    if (!score || !score->is_number()) continue;
    JudgeVerdict verdict;
    verdict.score = score->to_number<double>();
    if (!std::isfinite(verdict.score)) continue;
    if (const json::value* r = o.if_contains("reason"); r && r->is_string())
      verdict.reason = short_reason(r->get_string());
    return verdict;
  }
  // A number alone: "0.8", "Score: 1". Not "gpt-4o", "v1.2", "-0.5", "1st" or "10".
  for (std::size_t i = 0; i < answer.size();) {
    if (!number_char(answer[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < answer.size() && number_char(answer[end])) ++end;
    std::string_view token = answer.substr(i, end - i);
    while (!token.empty() && token.back() == '.') token.remove_suffix(1);  // "0.8." ends a line
    const bool alone = (i == 0 || (!word_char(answer[i - 1]) && answer[i - 1] != '-')) &&
                       (end == answer.size() || !word_char(answer[end]));
    double d = 0;
    auto [stop, ec] = std::from_chars(token.data(), token.data() + token.size(), d);
    if (alone && !token.empty() && ec == std::errc() && stop == token.data() + token.size() &&
        d >= 0 && d <= 1) {
      JudgeVerdict verdict;
      verdict.score = d;
      return verdict;
    }
    i = end;
  }
  return std::nullopt;
}

Task<RemoteAnswer> PostingGuardrail::post(std::string body) const {
  UpstreamRequest req;
  req.path = path_;
  req.header_block = header_block_;
  req.body = std::move(body);
  req.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config().timeout_ms);
  co_return co_await remote_call(*this, shown_, endpoint_, req);
}

std::string render_judge_prompt(std::string_view prompt, const std::vector<Text>& texts) {
  std::string lines;
  for (const Text& t : texts) {
    if (t.value.empty()) continue;
    if (!lines.empty()) lines += '\n';
    if (!t.role.empty()) {
      lines += t.role;
      lines += ": ";
    }
    lines += t.value;
  }
  constexpr std::string_view kSlot = "{{text}}";
  std::string out;
  std::size_t at = 0, slot = prompt.find(kSlot);
  if (slot == std::string_view::npos) {
    out.reserve(prompt.size() + 2 + lines.size());
    out += prompt;
    out += "\n\n";
    out += lines;
    return out;
  }
  for (; slot != std::string_view::npos; slot = prompt.find(kSlot, at)) {
    out.append(prompt.substr(at, slot - at));
    out += lines;
    at = slot + kSlot.size();
  }
  out.append(prompt.substr(at));
  return out;
}

}  // namespace torii::guardrails
