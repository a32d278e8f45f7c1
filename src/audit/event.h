#pragma once
// The audit event: one per interaction (docs/AUDIT.md has the JSON schema, version 1). Built
// from the RequestContext when the request completes (AuditPolicy::on_complete, on the worker:
// copies only), serialized to one JSON line off the request path (the audit dispatcher thread),
// then handed to every sink and to the metrics and the trace exporter.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace torii::audit {

inline constexpr int kSchemaVersion = 1;

// One upstream try.
struct AttemptRecord {
  std::string provider;
  std::string model;
  int status = 0;         // upstream HTTP status; 0 when none was received
  std::string error;      // short cause when it failed
  int64_t start_us = 0;   // from the request's start
  int64_t duration_us = 0;
  std::string span_id;    // 16 hex: the attempt's span (its traceparent upstream)
};

struct GuardrailRecord {
  std::string name;    // the guardrail's id
  std::string phase;   // "before" | "after"
  std::string action;  // "allow", "deny", "redact"
  std::string reason;  // never the detected text
  int64_t latency_us = 0;
};

struct UsageRecord {
  int64_t prompt = 0;
  int64_t completion = 0;
  int64_t cached = 0;       // prompt tokens read from the provider's cache
  int64_t cache_write = 0;  // prompt tokens written to it
  int64_t reasoning = 0;    // part of completion
  // The other modalities' units (written only when the call had them).
  int64_t images = -1, audio_ms = -1, characters = -1;
};

struct AuditEvent {
  std::string id;              // the event's own id (32 hex, unique): sinks deduplicate on it
  std::string request_id;      // x-request-id (the client's when sane: not unique)
  std::string trace_id;        // 32 hex (the client's traceparent's, else new)
  std::string span_id;         // 16 hex: the gateway's server span
  std::string parent_span_id;  // the client's span, from its traceparent ("" if none)
  bool sampled = true;         // the trace is exported (tracing.sample, the parent's flag)
  int64_t start_unix_us = 0;   // wall clock, µs since the epoch
  int64_t end_unix_us = 0;

  // Who
  std::string consumer;  // principal id ("" when unauthenticated)
  std::string key;       // the credential's name (never the key itself)
  std::string user;      // the end user the client named (OpenAI "user", metadata.user_id)
  std::vector<std::string> groups;

  // What
  std::string api;     // inbound API: openai_chat, anthropic_messages, openai_responses, ...
  std::string modality = "chat";  // chat, embeddings, image_generation, speech, ...
  std::string method;
  std::string path;    // without the query string
  std::string route;   // the route that served it ("" when none was resolved)
  std::string model;   // as the client asked
  std::string provider;        // the one that answered
  std::string upstream_model;  // the model at that provider
  bool stream = false;
  std::vector<AttemptRecord> attempts;

  // How it ended
  int status = 0;       // HTTP status sent to the client (200 for a stream that failed midway)
  std::string outcome;  // see outcome_of() in audit_policy.cpp: ok, client_error, denied, ...
  std::string error_type;
  std::string error_code;
  std::string error_message;

  UsageRecord usage;
  int64_t cost_micros = -1;  // micro-USD; -1: not priced
  std::string cache = "off"; // off | miss | hit | semantic_hit | bypass
  std::string cache_reason;       // bypass: why; miss: the guard's refusal, if one
  double cache_similarity = -1;   // semantic_hit: the cosine similarity
  int64_t cache_saved_micros = -1;  // a hit: what the cached call had cost (-1: unpriced)
  std::vector<GuardrailRecord> guardrails;

  // Timings (µs): the gateway's own share (total minus the answering upstream call), first
  // token (first response byte written; -1 if none), total.
  int64_t overhead_us = 0;
  int64_t ttft_us = -1;
  int64_t total_us = 0;

  std::string client_ip;
  std::string user_agent;

  // Off by default (audit.bodies); redacted before they get here.
  std::optional<std::string> request_body;
  std::optional<std::string> response_body;
};

// One JSON object on one line (no newline), keys in the order above.
std::string to_json(const AuditEvent& e);

}  // namespace torii::audit
