#pragma once
// RequestContext: everything known about one request as it crosses the pipeline. Policies read
// it and keep their per-request state in typed slots (state<T>()), never in themselves.
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include "core/error.h"
#include "providers/provider.h"
#include "server/http.h"

namespace torii {

struct Snapshot;
struct Route;
namespace quota {
struct Price;
}

using Clock = std::chrono::steady_clock;

// Who is calling, once a policy has authenticated them.
struct Principal {
  bool authenticated = false;
  std::string id;        // the consumer: its configured id, the key's name, or a JWT subject
  std::string key_name;  // the credential used, printable: a key's name, "jwt:<issuer>"
  // Labels of the consumer and credential, owned by the snapshot (which outlives the request)
  // or, for a JWT, by the request's auth state: no copy.
  const std::map<std::string, std::string>* metadata = nullptr;
  const std::vector<std::string>* groups = nullptr;  // consumer groups
  const boost::json::object* claims = nullptr;       // a verified JWT's payload
};

// The inbound API the client spoke (its codec, for the chat-like ones, is ctx.codec).
enum class InboundApi {
  unknown,
  openai_chat,
  openai_models,
  anthropic_messages,
  anthropic_count_tokens,
  openai_responses,
  openai_completions,
  // The other modalities (ctx.modality says which): OpenAI's endpoints.
  openai_embeddings,
  openai_images,          // /v1/images/generations and /v1/images/edits
  openai_audio,           // /v1/audio/speech, /transcriptions, /translations
  openai_moderations,
};

class InboundCodec;

// One upstream try.
struct Attempt {
  std::string provider;
  std::string model;
  int status = 0;          // upstream HTTP status, 0 when none was received
  std::string error;       // short cause when it failed
  Clock::time_point started{};
  Clock::duration elapsed{};
  std::array<char, 16> span_id{};  // its trace span (hex), sent upstream in traceparent
};

// W3C trace context (docs/OBSERVABILITY.md): the client's traceparent, else a new trace.
struct TraceIds {
  std::array<char, 32> trace_id{};
  std::array<char, 16> span_id{};         // the gateway's span
  std::array<char, 16> parent_span_id{};  // the client's span
  bool has_parent = false;
  bool sampled = true;
};

struct Timings {
  Clock::time_point start{};
  Clock::time_point body_read{};
  Clock::time_point upstream_sent{};
  Clock::time_point first_byte{};  // first response byte to the client
  Clock::time_point end{};
};

// One guardrail that ran (docs/GUARDRAILS.md), for the audit event and the metrics.
struct GuardrailResult {
  std::string id;
  std::string_view phase;   // "before" | "after"
  std::string_view action;  // "allow" | "deny" | "redact"
  std::string reason;       // never the detected text
  int64_t latency_us = 0;   // summed over a stream's windows
};

// What the answer cache did (docs/CACHING.md), for the headers, the audit and the metrics.
struct CacheResult {
  std::string_view status;  // "" (no cache) | "hit" | "semantic-hit" | "miss" | "bypass"
  std::string_view reason;  // bypass: why ("no-cache", "temperature", "route", ...)
  float similarity = -1;      // semantic-hit: the cosine similarity
  int64_t saved_micros = -1;  // a hit: what the cached call cost (-1: unpriced)
  // The client's body directive "torii": {"cache": ...} (read and removed by the runner):
  // no_lookup ("no-cache": answer fresh, store it), no_store ("no-store" or false: neither).
  bool no_lookup = false, no_store = false;
};

// A policy's hold on a streamed answer's text (the guardrails): it sees the canonical events
// before the other policies' on_chunk and the encoder, and forwards them to `out`, possibly
// later, rewritten or merged. The proxy then decodes the stream into canonical events even
// when the provider speaks the client's format.
class StreamFilter {
 public:
  struct Out {
    virtual ~Out() = default;
    virtual void event(const StreamEvent& e) = 0;
  };
  virtual ~StreamFilter() = default;
  // A new upstream answer begins (failover after a broken one): forget what the last held.
  virtual void reset() = 0;
  // One upstream event. An error stops the stream (the proxy sends it: before the first byte
  // as a plain error, after as the format's error event).
  virtual std::optional<ApiError> event(const StreamEvent& e, Out& out) = 0;
  // The upstream ended cleanly: release what is held, after the checks that need the whole
  // answer (which may do I/O).
  virtual Task<std::optional<ApiError>> end(Out& out) = 0;
};

// Base for per-request policy state.
struct PolicyState {
  virtual ~PolicyState() = default;
};

struct RequestContext {
 private:
  // The decoded request lives in a per-request arena: no malloc per JSON key and value.
  alignas(16) unsigned char json_arena_[4096];
  boost::json::monotonic_resource json_memory_{json_arena_, sizeof json_arena_};

 public:
  RequestContext() = default;
  ~RequestContext() {
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) it->second->~PolicyState();
  }
  RequestContext(const RequestContext&) = delete;
  RequestContext& operator=(const RequestContext&) = delete;

  // `text` copied into the request's memory (the JSON arena): valid until the request ends,
  // freed with it, no malloc while the arena has room. For strings a policy builds per request
  // and keeps to the end (the quota's store keys).
  std::string_view keep(std::string_view text) {
    if (text.empty()) return {};
    auto* p = static_cast<char*>(json_memory_.allocate(text.size(), 1));
    std::memcpy(p, text.data(), text.size());
    return {p, text.size()};
  }

  std::string request_id;
  TraceIds trace;
  std::chrono::system_clock::time_point wall_start{};  // for the audit event and the trace
  std::string_view client_ip;  // valid for the request (the connection holds it)
  std::shared_ptr<const Snapshot> snapshot;  // the config this request runs under, to the end
  boost::asio::any_io_executor executor;     // the worker's (for work a policy detaches)
  const RequestHead* head = nullptr;
  int worker = 0;

  InboundApi api = InboundApi::unknown;
  const InboundCodec* codec = nullptr;  // the client's wire format (errors use its shape)
  boost::json::object request{boost::json::storage_ptr(&json_memory_)};  // the decoded body
  // The canonical form of `request`, built on first need (a provider that does not speak the
  // client's format, or a policy that reads messages): see canonical_request() in runner.h.
  std::unique_ptr<ChatRequest> canonical;
  std::vector<std::string> ignored;  // hints dropped in translation (x-torii-ignored-params)
  // A policy changed `request` after it was parsed (a prompt context, a guardrail's redaction):
  // passthrough then serialises `request` instead of forwarding the client's bytes. Whoever
  // edits `request` sets it and drops `canonical` (see mark_request_edited in runner.h).
  bool request_edited = false;
  Headers upstream_rate_limits;      // the answering provider's rate-limit headers, x-ratelimit-*
  // Headers policies add to the answer, success or error (the quota's x-ratelimit-*, which
  // replace a provider's of the same name). Names are string literals: a policy builds only
  // the values (the names are copied once, into the response).
  std::vector<std::pair<std::string_view, std::string>> response_headers;
  bool has_response_header(std::string_view name) const;
  std::string model;            // as the client asked
  Modality modality = Modality::chat;  // what the call makes (providers/modality.h)
  std::unique_ptr<Form> form;          // a multipart upload's parts (views into the body)
  bool stream = false;
  bool client_wants_usage = false;  // stream_options.include_usage was set by the client

  Principal principal;
  const Route* route = nullptr;
  uint64_t denied_targets = 0;    // route.targets authorization removed (bitmask)
  std::vector<Attempt> attempts;  // every upstream call, in order (x-torii-attempts)
  std::string provider;        // the one that answered
  std::string upstream_model;  // the model at that provider
  const quota::Price* price = nullptr;  // that target's price (null: unpriced)
  Usage usage;
  int64_t cost_micros = -1;  // the call's cost in micro-USD (quota/prices.h); -1: not priced

  int status = 0;                   // HTTP status sent to the client
  std::optional<ApiError> error;    // the error, if the request failed (also mid-stream)
  bool client_disconnected = false;
  bool stream_started = false;
  Timings timings;
  std::vector<GuardrailResult> guardrails;  // every guardrail that ran, in order
  StreamFilter* stream_filter = nullptr;    // set by a policy's on_request (owned by its state)
  CacheResult cache;
  // A policy that keeps a streamed answer's bytes (the cache) points this at its buffer: the
  // proxy appends each piece exactly as it is written to the client.
  std::string* stream_record = nullptr;

  // The state slot of type T (created on first use, in the request's memory: no malloc). One
  // per type per request.
  template <class T>
  T& state() {
    const int id = slot_id<T>();
    for (auto& [k, v] : slots_)
      if (k == id) return static_cast<T&>(*v);
    void* at = json_memory_.allocate(sizeof(T), alignof(T));
    T* made = new (at) T();
    slots_.emplace_back(id, made);
    return *made;
  }
  // Whether the slot of type T was created.
  template <class T>
  bool has_state() const {
    const int id = slot_id<T>();
    for (const auto& [k, v] : slots_)
      if (k == id) return true;
    return false;
  }

 private:
  static int next_slot_id();
  template <class T>
  static int slot_id() {
    static const int id = next_slot_id();
    return id;
  }
  // The states, destroyed (not freed: the arena goes with the request) by ~RequestContext.
  boost::container::small_vector<std::pair<int, PolicyState*>, 4> slots_;
};

}  // namespace torii
