#pragma once
// Policy: one per capability (auth, authz, quota, guardrails, cache, audit, ...). Modeled on
// Envoy's filters and Pingora's phases. A policy object is built once per config snapshot from
// its validated, immutable config and shared by every request and thread: it must be
// thread-safe and keep per-request state in RequestContext::state<T>().
//
// Phase order for one request (docs/LIFE_OF_A_REQUEST.md):
//   on_headers  (in chain order)  - head read, body not yet read
//   on_request  (in chain order)  - body decoded, route resolved and authorized
//   on_attempt  (in chain order)  - before each upstream call, for the target about to be tried
//   ... upstream ...
//   on_chunk    (reverse order)   - each streamed chunk, only for policies whose on_request ran
//   on_response (reverse order)   - the whole non-streamed answer, same rule
//   on_stream_end (reverse order) - a stream that ended cleanly, before its end is written
//   on_complete (reverse order)   - ALWAYS, for every policy, also on error, deny, disconnect
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/task.h"
#include "pipeline/request_context.h"

namespace torii {

struct Target;

// One streamed event as policies see it: canonical (`event`, when the provider's format is not
// the client's), or passthrough (`data`, the event in the client's own format; `name` is its
// SSE event name, empty for OpenAI).
struct StreamChunk {
  const StreamEvent* event = nullptr;
  std::string_view name, data;
  bool usage_only = false;  // OpenAI's trailing usage chunk
};

// What a hook decided. `next` (nearly every call) is one byte and a null pointer: returning
// and moving it costs nothing; an answer or an error lives behind the pointer.
class Verdict {
 public:
  enum class Kind { next, respond, reject };
  Verdict() : kind_(Kind::next) {}
  // Go on to the next policy / phase.
  static Verdict next() { return Verdict(Kind::next); }
  // Answer the client now with this response, without going upstream (e.g. a cache hit).
  static Verdict respond(int status, std::string body, Headers headers = {}) {
    Verdict v(Kind::respond);
    v.p_ = std::make_unique<Payload>();
    v.p_->status = status;
    v.p_->body = std::move(body);
    v.p_->headers = std::move(headers);
    return v;
  }
  // Answer the client now with `body`, a complete Server-Sent Events stream: it is sent as a
  // stream, one event per write (a cached streamed answer).
  static Verdict respond_stream(std::string body, Headers headers = {}) {
    Verdict v = respond(200, std::move(body), std::move(headers));
    v.p_->stream = true;
    return v;
  }
  // Stop with an error in the client's API shape.
  static Verdict reject(ApiError error) {
    Verdict v(Kind::reject);
    v.p_ = std::make_unique<Payload>();
    v.p_->error = std::move(error);
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_next() const { return kind_ == Kind::next; }
  int status() const { return p_ ? p_->status : 200; }
  bool streamed() const { return p_ && p_->stream; }
  std::string& body() { return payload().body; }
  Headers& headers() { return payload().headers; }
  const ApiError& error() const {
    static const ApiError none;
    return p_ ? p_->error : none;
  }

 private:
  struct Payload {
    int status = 200;
    bool stream = false;
    std::string body;
    Headers headers;
    ApiError error;
  };
  explicit Verdict(Kind k) : kind_(k) {}
  Payload& payload() {
    if (!p_) p_ = std::make_unique<Payload>();
    return *p_;
  }
  Kind kind_;
  std::unique_ptr<Payload> p_;
};

// The non-streamed answer on its way to the client; on_response may edit it.
struct ResponseView {
  int status = 200;
  std::string& body;
};

class Policy {
 public:
  virtual ~Policy() = default;
  // A short stable name ("api_key", "rate_limit"), used in logs and metrics.
  virtual std::string_view name() const = 0;

  // After the request head is read, before the body. For checks that need no body
  // (authentication). Default: next.
  virtual Task<Verdict> on_headers(RequestContext& ctx) { co_return Verdict::next(); }

  // After the body is decoded and the route resolved (ctx.request, ctx.model, ctx.route are
  // set; authorization passed). Default: next.
  virtual Task<Verdict> on_request(RequestContext& ctx) { co_return Verdict::next(); }

  // The synchronous forms of on_request and on_response, tried first: a policy that can decide
  // without waiting (no I/O: a memory store, a cache in memory) decides here and returns true
  // with `out` set, which spares the coroutine; false has the coroutine hook called, which
  // then does the work (it may take over what this one prepared). Default: false.
  virtual bool on_request_now(RequestContext& ctx, Verdict& out) { return false; }
  virtual bool on_response_now(RequestContext& ctx, ResponseView& response, Verdict& out) {
    return false;
  }

  // Whether on_attempt has work to do (the proxy skips the call otherwise).
  virtual bool wants_attempts() const { return false; }
  // Before each upstream call, for `target` (only policies whose on_request ran). A reject
  // skips this target: failover goes on to the next one, and the last reject is the answer when
  // none is left. Default: next.
  virtual Task<Verdict> on_attempt(RequestContext& ctx, const Target& target) {
    co_return Verdict::next();
  }

  // For each streamed event before it is encoded for the client. A reject ends the stream with
  // an error event (or, before the first byte, is the answer). Synchronous: it runs per event.
  // Default: next.
  virtual Verdict on_chunk(RequestContext& ctx, const StreamChunk& chunk) { return Verdict::next(); }

  // On the whole non-streamed answer before it is written. May edit it. Default: next.
  virtual Task<Verdict> on_response(RequestContext& ctx, ResponseView& response) {
    co_return Verdict::next();
  }

  // A 2xx stream ended cleanly (the upstream's last event came; ctx.usage is set when the
  // provider reported it), before its end is written to the client: what must be done before
  // the client can see the answer is complete (settle a quota, store a cache entry). Only for
  // policies whose on_request ran. Must not block. Default: nothing.
  virtual void on_stream_end(RequestContext& ctx) noexcept {}

  // When the request is over, whatever happened: success, error, deny, client disconnect.
  // Must not block (enqueue, never wait). Default: nothing.
  virtual void on_complete(RequestContext& ctx) noexcept {}
};

}  // namespace torii
