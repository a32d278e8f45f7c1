#pragma once
// W3C Trace Context (level 1) helpers for the request path: parse the client's `traceparent`,
// make new trace and span ids, format the `traceparent` sent upstream, and take the sampling
// decision. Allocation-free except format_traceparent; no locks (the id generator is a
// thread_local PRNG).
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace torii::audit {

// What a valid `traceparent` carries.
struct TraceContext {
  std::array<char, 32> trace_id{};        // lowercase hex, never all zeros
  std::array<char, 16> parent_span_id{};  // lowercase hex, never all zeros (the caller's span)
  bool has_parent = false;                // true for every parsed header
  bool sampled = false;                   // trace-flags bit 0

  std::string_view trace_id_view() const { return {trace_id.data(), trace_id.size()}; }
  std::string_view parent_view() const { return {parent_span_id.data(), parent_span_id.size()}; }
};

// Parses `version-traceid-parentid-flags` (55 characters for version 00). Lowercase hex only;
// the trace id and the parent id must not be all zeros; version "ff" is invalid. Version 00
// must be exactly 55 characters. A higher version is accepted when its first four fields
// parse, and anything after them starts with '-' (the spec's forward-compatibility rule).
// Leading/trailing spaces and tabs (OWS) are ignored. Anything else: nullopt, and the gateway
// starts a new trace.
std::optional<TraceContext> parse_traceparent(std::string_view header);

// Fresh random ids, lowercase hex, never all zeros, from a thread_local fast PRNG seeded once
// per thread from std::random_device. `out` is written in full; no terminating NUL.
void new_trace_id(char out[32]);
void new_span_id(char out[16]);
std::string new_trace_id();  // convenience forms, for code that keeps ids as std::string
std::string new_span_id();

// "00-<trace_id>-<span_id>-01" (or "-00" when not sampled). The ids are taken as given.
std::string format_traceparent(std::string_view trace_id, std::string_view span_id, bool sampled);

// The sampling decision for a request, taken once when its trace id is known:
// - with a parent (a valid client traceparent), the parent's sampled flag is honoured;
// - else the trace is sampled when its id falls under `ratio` (0: never, >= 1: always),
//   deterministically from the id's last 16 hex digits (as OpenTelemetry's TraceIdRatioBased),
//   so every hop that uses the same rule agrees.
bool should_sample(const std::optional<TraceContext>& parent, std::string_view trace_id,
                   double ratio);

}  // namespace torii::audit
