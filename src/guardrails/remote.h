#pragma once
// The remote guardrail kinds (webhook, llm_judge, moderation): what their files share. Each is
// built once per snapshot by make_remote_guardrail (guardrail.h) and checks with one HTTP call
// on the request's worker (UpstreamClient::local()), bounded by the check's timeout_ms. A
// service that cannot answer (unreachable, timed out, non-2xx, an answer that does not read)
// denies with "guardrail service unavailable: <short cause>", or allows when fail_open. The
// cause is a few words (never a URL, a header value or the service's body); the detail goes to
// the log.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guardrails/guardrail.h"
#include "upstream/http_client.h"

namespace torii::guardrails {

// The largest answer a guardrail service may send.
inline constexpr std::size_t kMaxRemoteAnswer = 1 << 20;
// The longest reason a service or a judge model may give (bytes, cut on a UTF-8 boundary).
inline constexpr std::size_t kMaxRemoteReason = 200;

// What one remote call got: the body of a 2xx answer, or the short cause of its failure.
struct RemoteAnswer {
  bool ok = false;
  std::string body;   // ok: the whole body (at most kMaxRemoteAnswer)
  std::string cause;  // !ok: "timeout", "status 503", "connection failed", "egress refused"…
};

// Sends `request` (its deadline already set) to `endpoint` and reads a 2xx answer's body.
// Failures are logged as a warning naming the guardrail and `shown` (where the call went,
// without query string).
Task<RemoteAnswer> remote_call(const Guardrail& guardrail, std::string_view shown,
                               const Endpoint& endpoint, const UpstreamRequest& request);

// A remote check that POSTs JSON to one fixed endpoint (webhook, moderation): the endpoint, the
// path (with its query) and the header lines (which may hold secrets) are built once.
class PostingGuardrail : public Guardrail {
 public:
  PostingGuardrail(const GuardrailConfig& config, Endpoint endpoint, std::string path,
                   std::string header_block, std::string shown)
      : Guardrail(config),
        endpoint_(std::move(endpoint)),
        path_(std::move(path)),
        header_block_(std::move(header_block)),
        shown_(std::move(shown)) {}
  bool remote() const override { return true; }

 protected:
  // POSTs `body` within config().timeout_ms (remote_call).
  Task<RemoteAnswer> post(std::string body) const;
  // Where the calls go, safe to log.
  const std::string& shown() const { return shown_; }

 private:
  Endpoint endpoint_;
  std::string path_;
  std::string header_block_;
  std::string shown_;
};

// The outcome of a service that gave no usable answer: deny with "guardrail service
// unavailable: <cause>", or (fail_open) allow with the same reason and " (fail_open)" for the
// audit.
void unavailable(const Guardrail& guardrail, std::string_view cause, Outcome& out);
// A 2xx answer that does not read (not JSON, not the expected shape): logs `why` with `shown`
// as a warning, then unavailable(..., "unreadable answer").
void unreadable(const Guardrail& guardrail, std::string_view shown, std::string_view why,
                Outcome& out);

// `text` cut to kMaxRemoteReason bytes, fit for a message (core/error.h upstream_excerpt).
std::string short_reason(std::string_view text);

// A judge's verdict: the first JSON object in `answer` with a numeric "score" (and an optional
// string "reason"), else the first number in [0, 1] standing alone (not part of a word, a
// version or a negative number). nullopt: no verdict.
struct JudgeVerdict {
  double score = 0;
  std::string reason;
};
std::optional<JudgeVerdict> parse_judge_verdict(std::string_view answer);

// `prompt` with every "{{text}}" replaced by the texts as "role: text" lines (no "role: " when
// the role is unknown); a prompt without {{text}} gets them after a blank line.
std::string render_judge_prompt(std::string_view prompt, const std::vector<Text>& texts);

// A number as a reason shows it: the shortest form that reads back the same ("0.9", "1").
std::string number_text(double v);

// The kinds' factories (remote_webhook.cpp, remote_judge.cpp, remote_moderation.cpp).
Result<std::unique_ptr<Guardrail>> make_webhook_guardrail(const GuardrailConfig& config,
                                                          const Snapshot& snapshot);
Result<std::unique_ptr<Guardrail>> make_judge_guardrail(const GuardrailConfig& config,
                                                        const Snapshot& snapshot);
Result<std::unique_ptr<Guardrail>> make_moderation_guardrail(const GuardrailConfig& config,
                                                             const Snapshot& snapshot);

}  // namespace torii::guardrails
