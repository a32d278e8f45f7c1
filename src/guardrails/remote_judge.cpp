// The llm_judge guardrail: a model of the config (a route alias or provider/model) scores the
// texts with the operator's prompt; a score >= threshold denies (docs/GUARDRAILS.md).
//
// The call goes through the provider layer like any chat call: one canonical request (a single
// user message, max_tokens 64, temperature 0) encoded by the target's provider, sent to its
// endpoint (egress applies as for chat), its answer decoded into text. A route's targets are
// tried in priority order while time is left; breakers and health are the chat traffic's, not
// the judge's. Verdicts are cached by the SHA-256 of the rendered prompt.
#include <openssl/sha.h>

#include <deque>
#include <mutex>
#include <unordered_map>

#include <boost/json/object.hpp>

#include "config/snapshot.h"
#include "guardrails/remote.h"
#include "prompts/template.h"
#include "routing/route.h"

namespace torii::guardrails {

namespace {

// Verdicts by prompt digest, bounded: the oldest entry goes first. Shared by the workers.
class VerdictCache {
 public:
  static constexpr std::size_t kCapacity = 4096;

  std::optional<JudgeVerdict> find(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& key, const JudgeVerdict& verdict) {
    std::lock_guard lock(mu_);
    if (!map_.emplace(key, verdict).second) return;
    order_.push_back(key);
    if (order_.size() > kCapacity) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, JudgeVerdict> map_;
  std::deque<std::string> order_;  // insertion order
};

struct JudgeTarget {
  const Provider* provider = nullptr;
  std::string model;
};

std::string digest(std::string_view text) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

class JudgeGuardrail final : public Guardrail {
 public:
  JudgeGuardrail(const GuardrailConfig& config, std::vector<JudgeTarget> targets,
                 std::shared_ptr<const prompts::Library> library,
                 const prompts::LibraryTemplate* tmpl)
      : Guardrail(config), targets_(std::move(targets)), library_(std::move(library)),
        template_(tmpl) {}

  bool remote() const override { return true; }

  Task<void> check_async(const Subject& subject, Outcome& out) const override {
    out = Outcome{};
    if (!subject.texts) co_return;
    bool any = false;
    for (const Text& t : *subject.texts) any = any || !t.value.empty();
    if (!any) co_return;
    std::string prompt;
    if (template_) {
      // A template of the prompt library: the texts are its {{vars.text}}.
      boost::json::object vars;
      vars["text"] = render_judge_prompt("{{text}}", *subject.texts);
      prompts::RenderInput in;
      in.variables = &vars;
      in.consumer_id = subject.consumer;
      in.model = subject.model;
      in.route = subject.route;
      auto rendered = template_->text.render(in);
      if (!rendered) co_return unavailable(*this, "prompt template: " + rendered.error().message, out);
      prompt = std::move(*rendered);
    } else {
      prompt = render_judge_prompt(config().prompt, *subject.texts);
    }
    const std::string key = digest(prompt);
    if (auto hit = cache_.find(key)) co_return apply(*hit, out);

    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(config().timeout_ms);
    std::string cause = "no target";
    for (const JudgeTarget& target : targets_) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      auto req = encode(target, prompt);
      if (!req) {
        cause = "the model cannot take the request";
        continue;
      }
      req->deadline = deadline;
      const std::string shown = target.provider->name() + "/" + target.model;
      RemoteAnswer answer = co_await remote_call(*this, shown, target.provider->endpoint(), *req);
      if (!answer.ok) {
        cause = std::move(answer.cause);
        continue;
      }
      auto decoded = target.provider->decode_chat(std::move(answer.body), false);
      if (!decoded) co_return unreadable(*this, shown, decoded.error().message, out);
      std::string text;
      for (const Part& p : decoded->result.parts)
        if (p.kind == Part::Kind::text) text += p.text;
      auto verdict = parse_judge_verdict(text);
      if (!verdict) co_return unreadable(*this, shown, "no score in the model's answer", out);
      cache_.put(key, *verdict);
      co_return apply(*verdict, out);
    }
    unavailable(*this, cause, out);
  }

 private:
  Result<UpstreamRequest> encode(const JudgeTarget& target, const std::string& prompt) const {
    ChatRequest request;
    request.model = config().model;
    Message& m = request.messages.emplace_back();
    m.role = Role::user;
    m.parts.push_back(Part::make_text(prompt));
    request.max_tokens = 64;
    request.temperature = 0.0;
    request.stream = false;
    std::vector<std::string> ignored;
    return target.provider->encode_chat(
        ChatCall{WireFormat::openai_chat, nullptr, &request, target.model, false, &ignored,
                 nullptr});
  }

  void apply(const JudgeVerdict& v, Outcome& out) const {
    if (v.score < config().threshold) return;
    out.action = Outcome::Action::deny;
    out.reason = "judged " + number_text(v.score) + " >= " + number_text(config().threshold);
    if (!v.reason.empty()) out.reason += ": " + v.reason;
  }

  std::vector<JudgeTarget> targets_;  // in priority order
  std::shared_ptr<const prompts::Library> library_;  // keeps template_ alive
  const prompts::LibraryTemplate* template_ = nullptr;  // config.prompt named a library template
  mutable VerdictCache cache_;
};

}  // namespace

Result<std::unique_ptr<Guardrail>> make_judge_guardrail(const GuardrailConfig& config,
                                                        const Snapshot& snapshot) {
  Route scratch;
  const Route* route = snapshot.resolve(config.model, nullptr, scratch);
  if (!route || route->targets.empty())
    return ApiError::invalid_request("guardrail '" + config.id + "': model '" + config.model +
                                     "' names no route for everyone and no provider/model");
  std::vector<JudgeTarget> targets;
  for (const Target& t : route->targets) {
    if (!t.provider->capabilities().chat) continue;
    targets.push_back(JudgeTarget{t.provider, t.model});
  }
  if (targets.empty())
    return ApiError::invalid_request("guardrail '" + config.id + "': no target of '" +
                                     config.model + "' can chat");
  // A prompt that is the id of a library template uses it (prompts.templates, PROMPTS.md).
  const prompts::LibraryTemplate* tmpl =
      snapshot.prompts ? snapshot.prompts->find_template(config.prompt) : nullptr;
  return std::unique_ptr<Guardrail>(
      std::make_unique<JudgeGuardrail>(config, std::move(targets), snapshot.prompts, tmpl));
}

}  // namespace torii::guardrails
