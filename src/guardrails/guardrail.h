#pragma once
// Guardrail: one check over the texts of a request (phase before) or of its answer (phase
// after), built once per config snapshot from a validated GuardrailConfig and shared by every
// request and thread (const methods only). The kinds (docs/GUARDRAILS.md):
//   local (synchronous, no I/O):  regex, contains, pii, secrets, size, response_schema
//   remote (a coroutine, I/O):    webhook, llm_judge, moderation
// The guardrail policy (guardrails/policy.h) extracts the texts, runs the checks in config
// order, applies their edits and turns a deny into the client's error or a refusal.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "core/task.h"

namespace torii {
struct RequestContext;
struct Snapshot;
}  // namespace torii

namespace torii::guardrails {

enum class Phase : uint8_t { before, after };
std::string_view phase_name(Phase p);  // "before" | "after"

// One text a guardrail reads: a message's text part, a system prompt, tool-call arguments, a
// tool result, or (phase after) the answer's text or tool-call arguments.
struct Text {
  std::string_view role;  // "system" | "user" | "assistant" | "tool" | "" (unknown)
  std::string value;
};

// What one check reads.
struct Subject {
  Phase phase = Phase::before;
  const std::vector<Text>* texts = nullptr;
  // Messages in the request (size guard's messages bound; 0 in phase after).
  int64_t messages = 0;
  // True for a stream's window: texts[0] is part of an answer still coming. Only the pattern
  // kinds run on windows (windowed() below); size checks its maximums against the running
  // total; the others wait for the whole answer.
  bool partial = false;
  // Who and what (remote kinds send them): the request id, the consumer, the route alias and
  // the model asked for. Views valid for the check's duration.
  std::string_view request_id, consumer, route, model;
  // The request, while it runs; null for a check that may outlive it (a parallel check).
  const RequestContext* ctx = nullptr;
};

// A rewrite of bytes [begin, end) of texts[text].
struct Edit {
  std::size_t text = 0;
  std::size_t begin = 0, end = 0;
  std::string replacement;
};

// What one check decided.
struct Outcome {
  enum class Action : uint8_t { allow, deny, redact };
  Action action = Action::allow;
  // Why (a deny's reason, or what was redacted): entity and kind names, counts, a category,
  // never the detected text itself.
  std::string reason;
  // redact: the rewrites, sorted by (text, begin), not overlapping.
  std::vector<Edit> edits;
};

// Stable mask placeholders for one request: the same value gets the same placeholder
// ("[EMAIL_1]"), and the answer's placeholders can be turned back into the values
// (re-inflation).
class Masks {
 public:
  // The placeholder of `value` for entity label `label` (upper-cased: "EMAIL", "PHONE").
  const std::string& placeholder(std::string_view label, std::string_view value);
  // The value behind `placeholder`, or nullptr.
  const std::string* original(std::string_view placeholder) const;
  bool empty() const { return pairs_.empty(); }
  // The longest placeholder (a stream holds back at least this much).
  std::size_t longest() const { return longest_; }
  struct Pair {
    std::string placeholder, value;
  };
  const std::vector<Pair>& pairs() const { return pairs_; }

 private:
  std::vector<Pair> pairs_;
  std::vector<std::pair<std::string, int>> counters_;  // label -> last number
  std::size_t longest_ = 0;
};

class Guardrail {
 public:
  explicit Guardrail(const GuardrailConfig& config) : config_(config) {}
  virtual ~Guardrail() = default;
  const GuardrailConfig& config() const { return config_; }
  const std::string& id() const { return config_.id; }

  // True when the check does I/O: the policy then calls check_async, else check.
  virtual bool remote() const { return false; }
  // True when the check can judge a part of a streamed answer (patterns: regex, contains,
  // pii, secrets). False: it needs the whole answer (size checks maximums on the running
  // total, see Subject::partial).
  virtual bool windowed() const { return false; }

  // Whether the check would find anything in `raw`, the answer's JSON text as it came (the
  // policy's fast path: when no check finds anything there, the answer is not parsed).
  // nullopt: this kind cannot tell from the raw text (default). Only detectors whose matches
  // cannot hide behind JSON's escapes may answer (the policy also skips the fast path when the
  // body has \u or \/ escapes).
  virtual std::optional<bool> finds_in_raw(std::string_view raw) const { return std::nullopt; }

  // A local check. `masks` is the request's placeholder table (pii/secrets with action mask).
  virtual void check(const Subject& subject, Masks& masks, Outcome& out) const {}
  // A remote check. Must honour config().timeout_ms and config().fail_open (an unreachable or
  // unreadable service is a deny with a reason, or an allow when fail_open). Runs on the
  // request's worker; never blocks the thread.
  virtual Task<void> check_async(const Subject& subject, Outcome& out) const { co_return; }

 private:
  const GuardrailConfig& config_;  // owned by the snapshot's Config
};

// Builds the guardrail of `config` (already validated by the loader; errors here are the
// ones only building can find: an RE2 pattern, a JSON Schema, a judge model that resolves to
// no route of `snapshot`). `snapshot` is the one being built: its providers and routes exist.
Result<std::unique_ptr<Guardrail>> make_guardrail(const GuardrailConfig& config,
                                                  const Snapshot& snapshot);

// The kinds' factories (one file each family).
Result<std::unique_ptr<Guardrail>> make_local_guardrail(const GuardrailConfig& config);
Result<std::unique_ptr<Guardrail>> make_remote_guardrail(const GuardrailConfig& config,
                                                         const Snapshot& snapshot);
bool is_local_kind(std::string_view kind);
bool is_remote_kind(std::string_view kind);

// Edits applied to `text` (sorted, non-overlapping, all for this text).
std::string apply_edits(std::string_view text, const Edit* begin, const Edit* end);

}  // namespace torii::guardrails
