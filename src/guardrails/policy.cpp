// The guardrail policy (see policy.h): texts in and out of the client's JSON, the checks in
// order, deny and refusal answers, and the stream filter.
#include "guardrails/policy.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstring>

#include "api/inbound.h"
#include "config/snapshot.h"
#include "pipeline/runner.h"

namespace torii {

namespace {

namespace json = boost::json;
using guardrails::Edit;
using guardrails::Guardrail;
using guardrails::Masks;
using guardrails::Outcome;
using guardrails::Phase;
using guardrails::Subject;
using guardrails::Text;

Clock::time_point now() { return Clock::now(); }
int64_t micros_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(now() - t).count();
}

// ------------------------------------------------------------------------------ texts in JSON

// The texts of a client's JSON (request or answer) with where each came from, so that a
// redaction can be written back. Format-independent: it walks the members that carry text in
// any of the four inbound APIs and skips binary and structural ones.
struct TextSlots {
  std::vector<Text> texts;
  std::vector<json::string*> where;
  std::vector<bool> json_text;  // the text is JSON (tool-call arguments)
  int64_t messages = 0;

  void add(json::string& s, std::string_view role, bool is_json) {
    if (s.empty()) return;
    texts.push_back(Text{role, std::string(s)});
    where.push_back(&s);
    json_text.push_back(is_json);
  }
  // Writes the texts back where they came from; true when any changed.
  bool write_back() {
    bool changed = false;
    for (std::size_t i = 0; i < texts.size(); ++i)
      if (std::string_view(*where[i]) != texts[i].value) {
        *where[i] = texts[i].value;
        changed = true;
      }
    return changed;
  }
};

bool is_one_of(std::string_view k, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), k) != list.end();
}

// Members whose string value is text (content, a part's text, tool arguments and results).
bool text_key(std::string_view k) {
  return is_one_of(k, {"content", "text", "arguments", "output", "input", "refusal", "system",
                       "instructions", "prompt"});
}
// Members never read: binary data, ids, and what the model is told about tools and formats.
bool skipped_key(std::string_view k) {
  return is_one_of(k, {"image_url", "source", "data", "url", "file_data", "file_id", "signature",
                       "id", "tool_call_id", "tool_use_id", "call_id", "type", "role", "name",
                       "media_type", "detail", "cache_control", "logprobs", "annotations",
                       "thinking", "reasoning_content", "encrypted_content", "audio",
                       "input_audio", "image", "document"});
}

// A message's role, as a literal (texts outlive the request's JSON in a parallel check).
std::string_view role_of(const json::object& o, std::string_view inherited) {
  if (auto* r = o.if_contains("role"); r && r->is_string()) {
    std::string_view role = r->get_string();
    if (role == "developer" || role == "system") return "system";
    if (role == "user") return "user";
    if (role == "assistant") return "assistant";
    if (role == "tool") return "tool";
  }
  if (auto* t = o.if_contains("type"); t && t->is_string()) {
    std::string_view type = t->get_string();
    if (type == "function_call_output" || type == "tool_result") return "tool";
    if (type == "function_call" || type == "tool_use") return "assistant";
  }
  return inherited;
}

void walk(json::value& v, std::string_view key, std::string_view role, TextSlots& out,
          int depth) {
  if (depth > 32) return;
  if (v.is_string()) {
    if (text_key(key)) out.add(v.get_string(), role, key == "arguments");
    return;
  }
  if (v.is_array()) {
    for (auto& x : v.get_array()) walk(x, key, role, out, depth + 1);
    return;
  }
  if (!v.is_object()) return;
  json::object& o = v.get_object();
  const std::string_view r = role_of(o, role);
  for (auto& kv : o)
    if (!skipped_key(kv.key())) walk(kv.value(), kv.key(), r, out, depth + 1);
}

// The request's texts: messages (OpenAI chat, Anthropic), system, instructions and input
// (Responses), prompt (legacy completions).
void request_texts(json::object& req, TextSlots& out) {
  for (auto& kv : req) {
    const std::string_view k = kv.key();
    if (k == "system" || k == "instructions") {
      walk(kv.value(), "system", "system", out, 0);
    } else if (k == "messages" || k == "input") {
      if (kv.value().is_array()) out.messages += static_cast<int64_t>(kv.value().get_array().size());
      else if (kv.value().is_string()) out.messages += 1;
      walk(kv.value(), "content", "user", out, 0);
    } else if (k == "prompt") {
      out.messages += 1;
      walk(kv.value(), "prompt", "user", out, 0);
    }
  }
}

// The answer's texts: OpenAI choices[].message (or .text), Anthropic content[], Responses
// output[].
void answer_texts(json::object& body, TextSlots& out) {
  for (auto& kv : body) {
    const std::string_view k = kv.key();
    if (k == "choices" || k == "content" || k == "output")
      walk(kv.value(), k == "choices" ? "text" : "content", "assistant", out, 0);
  }
}

// ------------------------------------------------------------------------------- the config

struct Check {
  std::unique_ptr<Guardrail> guard;
  bool applies(const RequestContext& ctx) const {
    const std::vector<std::string>& routes = guard->config().routes;  // empty: every route
    if (routes.empty()) return true;
    if (!ctx.route) return false;
    return std::find(routes.begin(), routes.end(), ctx.route->name) != routes.end();
  }
};

// Per request.
// What a check reads, for this request.
Subject subject_of(const RequestContext& ctx, Phase phase, const std::vector<Text>& texts,
                   int64_t messages, bool partial) {
  Subject s;
  s.phase = phase;
  s.texts = &texts;
  s.messages = messages;
  s.partial = partial;
  s.request_id = ctx.request_id;
  s.consumer = ctx.principal.id;
  if (ctx.route) s.route = ctx.route->name;
  s.model = ctx.model;
  s.ctx = &ctx;
  return s;
}

// A remote check of phase before with `parallel: true`: it runs beside the upstream call, on
// copies (it may outlive the request: a failed call answers at once); the answer waits for
// its verdict before any byte reaches the client.
struct ParallelJob {
  std::shared_ptr<const Snapshot> snapshot;  // keeps the guardrail alive
  const Check* check = nullptr;
  std::vector<Text> texts;  // roles are literals (role_of)
  std::string request_id, consumer, route, model;
  int64_t messages = 0;
  Outcome outcome;
  int64_t latency_us = 0;
  bool done = false;
  bool used = false;  // its verdict was applied (and recorded)
  std::optional<net::steady_timer> waiter;  // a waiting answer, woken when done
};

Task<void> run_job(std::shared_ptr<ParallelJob> job) {
  Subject s;
  s.phase = Phase::before;
  s.texts = &job->texts;
  s.messages = job->messages;
  s.request_id = job->request_id;
  s.consumer = job->consumer;
  s.route = job->route;
  s.model = job->model;
  const auto t0 = Clock::now();
  co_await job->check->guard->check_async(s, job->outcome);
  job->latency_us = micros_since(t0);
  job->done = true;
  if (job->waiter) job->waiter->cancel();
}

struct GuardState : PolicyState {
  Masks masks;             // mask placeholders that are not given back
  Masks reinflate;         // mask placeholders the answer turns back into the values
  std::unique_ptr<StreamFilter> filter;
  std::vector<std::shared_ptr<ParallelJob>> jobs;
  bool jobs_pending() const {
    for (const auto& j : jobs)
      if (!j->used) return true;
    return false;
  }
};

bool jobs_done(const GuardState& st) {
  for (const auto& j : st.jobs)
    if (!j->done) return false;
  return true;
}

// Records the request's finished parallel checks (once each); the first deny, or null.
const ParallelJob* collect_jobs(RequestContext& ctx, GuardState& st) {
  const ParallelJob* denied = nullptr;
  for (auto& job : st.jobs) {
    if (job->used || !job->done) continue;
    job->used = true;
    GuardrailResult& r = ctx.guardrails.emplace_back();
    r.id = job->check->guard->id();
    r.phase = "before";
    r.latency_us = job->latency_us;
    r.reason = job->outcome.reason;
    if (job->outcome.action == Outcome::Action::deny) {
      if (!job->check->guard->config().message.empty())
        job->outcome.reason = job->check->guard->config().message;
      r.action = "deny";
      if (r.reason.empty()) r.reason = "denied";
      if (!denied) denied = job.get();
    } else {
      r.action = "allow";  // a parallel rewrite comes too late to apply
      if (job->outcome.action == Outcome::Action::redact) r.reason = "rewrite ignored (parallel)";
    }
  }
  return denied;
}

// Waits for the request's parallel checks, then collect_jobs.
Task<const ParallelJob*> await_jobs(RequestContext& ctx, GuardState& st) {
  for (auto& job : st.jobs) {
    if (job->used || job->done) continue;
    job->waiter.emplace(ctx.executor);
    job->waiter->expires_at(net::steady_timer::time_point::max());
    co_await job->waiter->async_wait(net::as_tuple(net::use_awaitable));
  }
  co_return collect_jobs(ctx, st);
}

ApiError deny_error(const Guardrail& g, Phase phase, const std::string& reason) {
  ApiError e = ApiError::invalid_request(
      std::string(phase == Phase::before ? "request" : "answer") + " denied by guardrail '" +
          g.id() + "': " + reason,
      {}, "guardrail_denied");
  return e;
}

// Applies the edits of `out` (sorted by text then begin) to `texts`.
void apply_outcome(std::vector<Text>& texts, const Outcome& out) {
  const Edit* e = out.edits.data();
  const Edit* end = e + out.edits.size();
  while (e != end) {
    const Edit* run = e;
    while (run != end && run->text == e->text) ++run;
    if (e->text < texts.size())
      texts[e->text].value = guardrails::apply_edits(texts[e->text].value, e, run);
    e = run;
  }
}

// Replaces the request's mask placeholders in `text` by their values (JSON-escaped when
// `escape`: the text is a tool call's arguments).
std::string reinflated(std::string_view text, const Masks& masks, bool escape = false) {
  if (masks.empty() || text.find('[') == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t open = text.find('[', at);
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find(']', open);
    if (close == std::string_view::npos) break;
    if (const std::string* v = masks.original(text.substr(open, close - open + 1))) {
      out.append(text.substr(at, open - at));
      if (escape) {
        const std::string quoted = json::serialize(json::string(*v));
        out.append(quoted, 1, quoted.size() - 2);
      } else {
        out += *v;
      }
      at = close + 1;
    } else {
      out.append(text.substr(at, open + 1 - at));
      at = open + 1;
    }
  }
  out.append(text.substr(at));
  return out;
}

class GuardrailPolicy;

// The stream filter (see policy.h and StreamFilter in request_context.h).
class GuardStream final : public StreamFilter {
 public:
  GuardStream(RequestContext& ctx, GuardState& state, std::vector<const Check*> checks,
              bool hold_all, std::size_t holdback)
      : ctx_(ctx), state_(state), checks_(std::move(checks)),
        hold_all_(hold_all), holdback_(holdback), latency_(checks_.size(), 0),
        redacted_(checks_.size(), false) {}

  std::optional<ApiError> event(const StreamEvent& e, Out& out) override {
    if (failed_) return std::nullopt;
    if (!gate_open_) {
      // Parallel checks of phase before still running: nothing goes out before their verdict.
      if (!jobs_done(state_)) {
        gated_.push_back(Held::of(e));
        return std::nullopt;
      }
      if (auto err = open_gate(collect_jobs(ctx_, state_), out)) return err;
    }
    return process(e, out);
  }

  // Text deltas and tool-call argument fragments are held back and scanned, one channel at a
  // time (the text, or one tool call's arguments): an event of another channel, or any other
  // event, first releases the current channel's held text whole.
  std::optional<ApiError> process(const StreamEvent& e, Out& out) {
    if (e.kind == StreamEvent::Kind::text || e.kind == StreamEvent::Kind::tool_call_args) {
      if (!channel_open_ || e.kind != channel_.kind || e.index != channel_.index) {
        if (auto err = release(out, true)) return err;
        channel_ = e;  // kind and index only: the views die with the event
        channel_.text = channel_.id = channel_.name = {};
        channel_open_ = true;
        tail_.clear();
      }
      pending_.append(e.text);
      return release(out, false);
    }
    // Another event: the held text before it goes first, whole.
    if (auto err = release(out, true)) return err;
    if (hold_all_) {
      held_.push_back(Held::of(e));
    } else {
      out.event(e);
    }
    return std::nullopt;
  }

  Task<std::optional<ApiError>> end(Out& out) override;

  // The parallel checks' verdict came: a deny ends the stream, else what waited goes on.
  std::optional<ApiError> open_gate(const ParallelJob* denied, Out& out) {
    gate_open_ = true;
    if (denied) {
      failed_ = true;
      recorded_ = true;  // the answer's checks did not judge anything
      return deny_error(*denied->check->guard, Phase::before,
                        denied->outcome.reason.empty() ? "denied" : denied->outcome.reason);
    }
    std::vector<Held> gated = std::move(gated_);
    gated_.clear();
    for (Held& h : gated)
      if (auto err = process(h.view(), out)) return err;
    return std::nullopt;
  }

  void reset() override {
    gated_.clear();
    pending_.clear();
    tail_.clear();
    answer_.clear();
    held_.clear();
    channel_open_ = false;
  }

 private:
  struct Held {
    StreamEvent e;
    std::string text, id, name;
    static Held of(const StreamEvent& e) {
      Held h{e, std::string(e.text), std::string(e.id), std::string(e.name)};
      return h;
    }
    const StreamEvent& view() {
      e.text = text;
      e.id = id;
      e.name = name;
      return e;
    }
  };

  // Runs the windowed checks over (tail + pending), then sends the part of `pending` that no
  // match can still reach: all of it when `final`, else all but the last holdback bytes, and
  // never the beginning of a match or of a placeholder.
  std::optional<ApiError> release(Out& out, bool final);
  bool in_text() const { return channel_.kind == StreamEvent::Kind::text; }
  void emit_text(Out& out, std::string text) {
    // What the model said (after redaction), for the whole-answer checks.
    if (in_text()) answer_ += text;
    // Tool arguments are JSON text: a value given back goes in escaped.
    if (!state_.reinflate.empty()) text = reinflated(text, state_.reinflate, !in_text());
    if (text.empty()) return;
    if (hold_all_) {
      Held h = Held::of(channel_);
      h.text = std::move(text);
      held_.push_back(std::move(h));
      return;
    }
    StreamEvent e = channel_;
    e.text = text;
    out.event(e);
  }
  std::optional<ApiError> fail(std::size_t i, const std::string& reason);
  // One audit record per check for the whole stream (`denied`'s is written by fail()).
  void record(std::size_t denied = SIZE_MAX);

  RequestContext& ctx_;
  GuardState& state_;
  std::vector<const Check*> checks_;
  bool hold_all_;
  std::size_t holdback_;
  std::vector<int64_t> latency_;
  std::vector<bool> redacted_;
  std::string pending_;  // received, not sent
  std::string tail_;     // the end of what was sent (model side), for matches that straddle
  std::string answer_;   // everything sent so far (model side)
  StreamEvent channel_;  // the kind and index of the held text: the answer's, or a tool call's
  bool channel_open_ = false;
  bool failed_ = false;
  bool recorded_ = false;
  bool gate_open_ = state_.jobs.empty();
  std::vector<Held> held_;
  std::vector<Held> gated_;  // events that came before the parallel checks' verdict
};

class GuardrailPolicy final : public Policy {
 public:
  GuardrailPolicy(const GuardrailsConfig& config, std::vector<Check> checks)
      : config_(config), checks_(std::move(checks)) {
    for (const Check& c : checks_) {
      any_before_ = any_before_ || c.guard->config().before;
      any_after_ = any_after_ || c.guard->config().after;
    }
  }

  std::string_view name() const override { return "guardrails"; }

  bool on_request_now(RequestContext& ctx, Verdict& out) override {
    // Remote checks for this request: the coroutine does the phase.
    if (any_before_ && has_remote(ctx, Phase::before)) return false;
    out = Verdict::next();
    if (any_before_) {
      TextSlots slots;
      request_texts(ctx.request, slots);
      const Subject subject = subject_of(ctx, Phase::before, slots.texts, slots.messages, false);
      for (const Check& c : checks_) {
        if (!c.guard->config().before || !c.applies(ctx)) continue;
        Outcome o;
        if (!run_local(ctx, c, subject, Phase::before, o)) {
          out = deny(ctx, *c.guard, Phase::before, o.reason);
          return true;
        }
        apply_outcome(slots.texts, o);
      }
      if (slots.write_back()) mark_request_edited(ctx);
    }
    start_stream(ctx);
    return true;
  }

  Task<Verdict> on_request(RequestContext& ctx) override {
    TextSlots slots;
    request_texts(ctx.request, slots);
    const Subject subject = subject_of(ctx, Phase::before, slots.texts, slots.messages, false);
    std::vector<const Check*> parallel;
    for (std::size_t i = 0; i < checks_.size(); ++i) {
      const Check& c = checks_[i];
      if (!c.guard->config().before || !c.applies(ctx)) continue;
      if (c.guard->remote() && c.guard->config().parallel) {
        parallel.push_back(&c);  // started below, on the final texts
        continue;
      }
      Outcome o;
      bool ok = true;
      if (c.guard->remote()) ok = co_await run_remote(ctx, c, subject, Phase::before, o);
      else ok = run_local(ctx, c, subject, Phase::before, o);
      if (!ok) co_return deny(ctx, *c.guard, Phase::before, o.reason);
      apply_outcome(slots.texts, o);
    }
    if (slots.write_back()) mark_request_edited(ctx);
    for (const Check* c : parallel) start_job(ctx, *c, slots);
    start_stream(ctx);
    co_return Verdict::next();
  }

  bool on_response_now(RequestContext& ctx, ResponseView& view, Verdict& out) override {
    // Parallel checks still to wait for, or remote after-checks: the coroutine.
    if (ctx.has_state<GuardState>() && state(ctx).jobs_pending()) return false;
    if (!any_after_ && !gives_back(ctx)) {
      out = Verdict::next();
      return true;
    }
    if (has_remote(ctx, Phase::after)) return false;
    out = check_answer_local(ctx, view);
    return true;
  }

  Task<Verdict> on_response(RequestContext& ctx, ResponseView& view) override {
    if (ctx.has_state<GuardState>() && state(ctx).jobs_pending()) {
      // The parallel checks of phase before: their verdict comes before the answer.
      const ParallelJob* denied = co_await await_jobs(ctx, state(ctx));
      if (denied) co_return deny_answer(ctx, *denied->check->guard, denied->outcome.reason, view);
    }
    if (!any_after_ && !gives_back(ctx)) co_return Verdict::next();
    json::value doc;
    TextSlots slots;
    if (!parse_answer(view, doc, slots)) co_return Verdict::next();
    const Subject subject = subject_of(ctx, Phase::after, slots.texts, 0, false);
    for (const Check& c : checks_) {
      if (!c.guard->config().after || !c.applies(ctx)) continue;
      Outcome o;
      bool ok = true;
      if (c.guard->remote()) ok = co_await run_remote(ctx, c, subject, Phase::after, o);
      else ok = run_local(ctx, c, subject, Phase::after, o);
      if (!ok) co_return deny_answer(ctx, *c.guard, o.reason, view);
      apply_outcome(slots.texts, o);
    }
    finish_answer(ctx, view, doc, slots);
    co_return Verdict::next();
  }

  // Runs a local check into `o` and records it; false on deny (o.reason says why).
  bool run_local(RequestContext& ctx, const Check& c, const Subject& subject, Phase phase,
                 Outcome& o) const {
    const auto t0 = now();
    GuardState& st = state(ctx);
    c.guard->check(subject, c.guard->config().reinflate ? st.reinflate : st.masks, o);
    return settle(ctx, c, phase, micros_since(t0), o);
  }

  // The same for a remote check (I/O, awaited on the worker).
  Task<bool> run_remote(RequestContext& ctx, const Check& c, const Subject& subject, Phase phase,
                        Outcome& o) const {
    const auto t0 = now();
    co_await c.guard->check_async(subject, o);
    co_return settle(ctx, c, phase, micros_since(t0), o);
  }

  static bool settle(RequestContext& ctx, const Check& c, Phase phase, int64_t us, Outcome& o) {
    GuardrailResult& r = ctx.guardrails.emplace_back();
    r.id = c.guard->id();
    r.phase = guardrails::phase_name(phase);
    r.latency_us = us;
    if (o.action == Outcome::Action::deny && !c.guard->config().message.empty())
      o.reason = c.guard->config().message;  // the operator's words for every deny
    switch (o.action) {
      case Outcome::Action::allow:
        r.action = "allow";
        r.reason = o.reason;  // e.g. a service that failed with fail_open
        o.edits.clear();
        return true;
      case Outcome::Action::redact:
        r.action = "redact";
        if (o.reason.empty()) o.reason = "redacted";
        r.reason = o.reason;
        return true;
      case Outcome::Action::deny:
        r.action = "deny";
        if (o.reason.empty()) o.reason = "denied";
        r.reason = o.reason;
        return false;
    }
    return true;
  }

  // The deny of phase before: the 400, or the refusal.
  Verdict deny(RequestContext& ctx, const Guardrail& g, Phase phase, const std::string& reason) const {
    // A refusal is an assistant message: the other modalities have none, so they get the 400.
    if (!refuses(g) || ctx.modality != Modality::chat)
      return Verdict::reject(deny_error(g, phase, reason));
    ChatResult r = refusal_result(ctx);
    Headers h;
    h.emplace_back("x-torii-guardrail", g.id());
    if (ctx.stream) {
      InboundInfo info{ctx.model, true, false};
      auto enc = ctx.codec->stream_encoder(info);
      StreamEvent start;
      start.kind = StreamEvent::Kind::start;
      start.id = r.id;
      start.name = r.model;
      enc->event(start);
      StreamEvent text;
      text.kind = StreamEvent::Kind::text;
      text.text = config_.refusal;
      enc->event(text);
      StreamEvent fin;
      fin.kind = StreamEvent::Kind::finish;
      fin.finish = FinishReason::content_filter;
      enc->event(fin);
      enc->finish();
      h.emplace_back("content-type", "text/event-stream");
      h.emplace_back("cache-control", "no-cache");
      return Verdict::respond(200, std::move(enc->out), std::move(h));
    }
    h.emplace_back("content-type", "application/json");
    return Verdict::respond(200, ctx.codec->encode_result(r), std::move(h));
  }

  Verdict deny_answer(RequestContext& ctx, const Guardrail& g, const std::string& reason,
                      ResponseView& view) const {
    if (!refuses(g) || ctx.modality != Modality::chat)
      return Verdict::reject(deny_error(g, Phase::after, reason));
    view.body = ctx.codec->encode_result(refusal_result(ctx));
    return Verdict::next();
  }

  bool refuses(const Guardrail& g) const {
    auto d = g.config().on_deny;
    if (d == GuardrailConfig::OnDeny::inherit) d = config_.on_deny;
    return d == GuardrailConfig::OnDeny::refusal;
  }

  ChatResult refusal_result(const RequestContext& ctx) const {
    ChatResult r;
    r.id = ctx.request_id;
    r.model = ctx.upstream_model.empty() ? ctx.model : ctx.upstream_model;
    r.created = static_cast<int64_t>(std::time(nullptr));
    r.parts.push_back(Part::make_text(config_.refusal));
    r.finish = FinishReason::content_filter;
    r.native_finish = "guardrail";
    return r;
  }

  static bool parse_answer(ResponseView& view, json::value& doc, TextSlots& slots) {
    boost::system::error_code ec;
    doc = json::parse(view.body, ec);
    if (ec || !doc.is_object()) return false;
    answer_texts(doc.get_object(), slots);
    return true;
  }

  // Writes redactions and re-inflated placeholders back into the answer's body.
  void finish_answer(RequestContext& ctx, ResponseView& view, json::value& doc,
                     TextSlots& slots) const {
    if (ctx.has_state<GuardState>()) {
      GuardState& st = ctx.state<GuardState>();
      if (!st.reinflate.empty())
        for (std::size_t i = 0; i < slots.texts.size(); ++i)
          slots.texts[i].value = reinflated(slots.texts[i].value, st.reinflate, slots.json_text[i]);
    }
    if (slots.write_back()) view.body = json::serialize(doc);
  }

  // The fast path of an answer's checks: when every check that applies can read the raw body
  // and finds nothing there (nor any placeholder to give back), the answer passes unparsed.
  bool passes_raw(RequestContext& ctx, std::string_view body) const {
    if (gives_back(ctx)) return false;
    if (body.find("\\u") != std::string_view::npos || body.find("\\/") != std::string_view::npos)
      return false;
    const auto t0 = now();
    std::size_t n = 0;
    for (const Check& c : checks_) {
      if (!c.guard->config().after || !c.applies(ctx)) continue;
      const std::optional<bool> found = c.guard->finds_in_raw(body);
      if (!found || *found) return false;
      ++n;
    }
    const int64_t us = micros_since(t0);
    for (const Check& c : checks_) {
      if (!c.guard->config().after || !c.applies(ctx)) continue;
      GuardrailResult& r = ctx.guardrails.emplace_back();
      r.id = c.guard->id();
      r.phase = "after";
      r.action = "allow";
      r.latency_us = us / static_cast<int64_t>(n);
    }
    return true;
  }

  Verdict check_answer_local(RequestContext& ctx, ResponseView& view) const {
    if (passes_raw(ctx, view.body)) return Verdict::next();
    json::value doc;
    TextSlots slots;
    if (!parse_answer(view, doc, slots)) return Verdict::next();
    const Subject subject = subject_of(ctx, Phase::after, slots.texts, 0, false);
    for (const Check& c : checks_) {
      if (!c.guard->config().after || !c.applies(ctx)) continue;
      Outcome o;
      if (!run_local(ctx, c, subject, Phase::after, o))
        return deny_answer(ctx, *c.guard, o.reason, view);
      apply_outcome(slots.texts, o);
    }
    finish_answer(ctx, view, doc, slots);
    return Verdict::next();
  }

  bool has_remote(const RequestContext& ctx, Phase phase) const {
    for (const Check& c : checks_)
      if (c.guard->remote() && c.applies(ctx) &&
          (phase == Phase::before ? c.guard->config().before : c.guard->config().after))
        return true;
    return false;
  }

  // A stream answer with after-checks gets a filter.
  void start_job(RequestContext& ctx, const Check& c, const TextSlots& slots) {
    auto job = std::make_shared<ParallelJob>();
    job->snapshot = ctx.snapshot;
    job->check = &c;
    job->texts = slots.texts;
    job->messages = slots.messages;
    job->request_id = ctx.request_id;
    job->consumer = ctx.principal.id;
    if (ctx.route) job->route = ctx.route->name;
    job->model = ctx.model;
    state(ctx).jobs.push_back(job);
    net::co_spawn(ctx.executor, run_job(std::move(job)), net::detached);
  }

  // Parallel checks whose verdict no answer waited for (the call failed first): recorded as
  // unused, never as the request's deny.
  void on_complete(RequestContext& ctx) noexcept override {
    if (!ctx.has_state<GuardState>()) return;
    for (auto& job : state(ctx).jobs) {
      if (job->used) continue;
      job->used = true;
      GuardrailResult& r = ctx.guardrails.emplace_back();
      r.id = job->check->guard->id();
      r.phase = "before";
      r.action = "allow";
      r.reason = job->done ? "verdict unused: the request ended first"
                           : "unfinished: the request ended first";
      r.latency_us = job->latency_us;
    }
  }

  void start_stream(RequestContext& ctx) {
    if (!ctx.stream || ctx.api == InboundApi::anthropic_count_tokens) return;
    const bool give_back = gives_back(ctx);
    const bool jobs = ctx.has_state<GuardState>() && !state(ctx).jobs.empty();
    if (!any_after_ && !give_back && !jobs) return;
    std::vector<const Check*> after;
    bool hold_all = false;
    for (const Check& c : checks_) {
      if (!c.guard->config().after || !c.applies(ctx)) continue;
      after.push_back(&c);
      hold_all = hold_all || c.guard->remote() || c.guard->config().kind == "response_schema";
    }
    if (after.empty() && !give_back && !jobs) return;
    GuardState& st = state(ctx);
    const std::size_t holdback =
        std::max<std::size_t>(static_cast<std::size_t>(config_.stream_holdback),
                              st.reinflate.longest() + 1);
    st.filter = std::make_unique<GuardStream>(ctx, st, std::move(after), hold_all, holdback);
    ctx.stream_filter = st.filter.get();
  }

  static GuardState& state(RequestContext& ctx) { return ctx.state<GuardState>(); }
  // Whether the answer has mask placeholders to turn back into the request's values.
  static bool gives_back(RequestContext& ctx) {
    return ctx.has_state<GuardState>() && !ctx.state<GuardState>().reinflate.empty();
  }

 private:
  const GuardrailsConfig& config_;
  std::vector<Check> checks_;
  bool any_before_ = false, any_after_ = false;
};

std::optional<ApiError> GuardStream::fail(std::size_t i, const std::string& reason) {
  failed_ = true;
  record(i);
  GuardrailResult& r = ctx_.guardrails.emplace_back();
  r.id = checks_[i]->guard->id();
  r.phase = "after";
  r.action = "deny";
  r.reason = reason;
  r.latency_us = latency_[i];
  return deny_error(*checks_[i]->guard, Phase::after, reason);
}

void GuardStream::record(std::size_t denied) {
  if (recorded_) return;
  recorded_ = true;
  for (std::size_t i = 0; i < checks_.size(); ++i) {
    if (i == denied) continue;
    GuardrailResult& r = ctx_.guardrails.emplace_back();
    r.id = checks_[i]->guard->id();
    r.phase = "after";
    r.action = redacted_[i] ? "redact" : "allow";
    if (redacted_[i]) r.reason = "redacted in the stream";
    r.latency_us = latency_[i];
  }
}

std::optional<ApiError> GuardStream::release(Out& out, bool final) {
  if (pending_.empty()) return std::nullopt;
  if (!final && pending_.size() <= holdback_) return std::nullopt;
  // The window: the end of what was sent, then what was not.
  const std::size_t offset = tail_.size();
  std::vector<Text> window{Text{"assistant", tail_ + pending_}};
  const Subject subject = subject_of(ctx_, Phase::after, window, 0, true);
  std::vector<Edit> edits;
  for (std::size_t i = 0; i < checks_.size(); ++i) {
    const Guardrail& g = *checks_[i]->guard;
    if (!g.windowed()) continue;  // size: counted on the whole answer below
    const auto t0 = now();
    Outcome o;
    g.check(subject, g.config().reinflate ? state_.reinflate : state_.masks, o);
    latency_[i] += micros_since(t0);
    if (o.action == Outcome::Action::deny) {
      // A match entirely inside what was already sent was judged then.
      return fail(i, o.reason);
    }
    for (Edit& e : o.edits) {
      if (e.end <= offset) continue;  // already sent
      redacted_[i] = true;
      e.begin = e.begin < offset ? 0 : e.begin - offset;  // clipped to the unsent part
      e.end -= offset;
      edits.push_back(std::move(e));
    }
  }
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::size_t cut = final ? pending_.size() : pending_.size() - holdback_;
  if (!final) {
    // Never inside a UTF-8 character: each delta the client gets must be valid text.
    while (cut > 0 && (static_cast<unsigned char>(pending_[cut]) & 0xC0) == 0x80) --cut;
    for (const Edit& e : edits)
      if (e.begin < cut && e.end > cut) cut = e.begin;  // never send half a match
    // Nor half a placeholder to re-inflate.
    if (!state_.reinflate.empty()) {
      const std::size_t from = cut > state_.reinflate.longest() ? cut - state_.reinflate.longest() : 0;
      const std::size_t open = pending_.rfind('[', cut == 0 ? 0 : cut - 1);
      if (open != std::string::npos && open >= from && pending_.find(']', open) >= cut) cut = open;
    }
  }
  if (cut == 0) return std::nullopt;
  std::vector<Edit> now_edits;
  for (Edit& e : edits)
    if (e.end <= cut && (now_edits.empty() || e.begin >= now_edits.back().end))
      now_edits.push_back(std::move(e));
  std::string sent = guardrails::apply_edits(std::string_view(pending_).substr(0, cut),
                                             now_edits.data(), now_edits.data() + now_edits.size());
  pending_.erase(0, cut);
  // Size: the maximums against the running total (of the answer's text).
  for (std::size_t i = 0; i < checks_.size() && in_text(); ++i) {
    const Guardrail& g = *checks_[i]->guard;
    if (g.config().kind != "size") continue;
    const auto t0 = now();
    std::vector<Text> whole{Text{"assistant", answer_ + sent}};
    const Subject s2 = subject_of(ctx_, Phase::after, whole, 0, true);
    Outcome o;
    g.check(s2, state_.masks, o);
    latency_[i] += micros_since(t0);
    if (o.action == Outcome::Action::deny) return fail(i, o.reason);
  }
  tail_ += sent;
  if (tail_.size() > holdback_) tail_.erase(0, tail_.size() - holdback_);
  emit_text(out, std::move(sent));
  return std::nullopt;
}

Task<std::optional<ApiError>> GuardStream::end(Out& out) {
  if (failed_) co_return std::nullopt;
  if (!gate_open_) {
    const ParallelJob* denied = co_await await_jobs(ctx_, state_);
    if (auto err = open_gate(denied, out)) co_return err;
  }
  if (auto err = release(out, true)) co_return err;
  // The checks that need the whole answer.
  std::vector<Text> whole{Text{"assistant", answer_}};
  const Subject subject = subject_of(ctx_, Phase::after, whole, 0, false);
  for (std::size_t i = 0; i < checks_.size(); ++i) {
    const Guardrail& g = *checks_[i]->guard;
    // (regex: its deny patterns ran on the windows, its allow patterns need the whole answer)
    if (g.windowed() && !(g.config().kind == "regex" && !g.config().allow.empty())) continue;
    const auto t0 = now();
    Outcome o;
    if (g.remote()) co_await g.check_async(subject, o);
    else g.check(subject, state_.masks, o);
    latency_[i] += micros_since(t0);
    if (o.action == Outcome::Action::deny) co_return fail(i, o.reason);
    // (A remote rewrite of a stream is not applied: the text may already be out. Held
    // streams could take it; the answer's text is one event then.)
    if (o.action == Outcome::Action::redact && hold_all_ && !o.edits.empty()) {
      const std::string rewritten =
          guardrails::apply_edits(answer_, o.edits.data(), o.edits.data() + o.edits.size());
      redacted_[i] = true;
      bool first = true;
      std::vector<Held> kept;
      for (Held& h : held_) {
        if (h.e.kind != StreamEvent::Kind::text) {
          kept.push_back(std::move(h));
        } else if (first) {
          h.text = state_.reinflate.empty() ? rewritten : reinflated(rewritten, state_.reinflate);
          kept.push_back(std::move(h));
          first = false;
        }
      }
      held_ = std::move(kept);
      answer_ = rewritten;
    }
  }
  record();
  for (Held& h : held_) out.event(h.view());
  held_.clear();
  co_return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<Policy>> make_guardrail_policy(const Snapshot& snapshot) {
  const GuardrailsConfig& cfg = snapshot.config.guardrails;
  std::vector<Check> checks;
  for (const GuardrailConfig& c : cfg.checks) {
    auto g = guardrails::make_guardrail(c, snapshot);
    if (!g) return g.error();
    checks.push_back(Check{std::move(*g)});
  }
  return std::unique_ptr<Policy>(std::make_unique<GuardrailPolicy>(cfg, std::move(checks)));
}

}  // namespace torii
