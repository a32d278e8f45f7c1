#include "audit/event.h"

#include <cstdio>

#include "core/json_text.h"

#include <cstring>

namespace torii::audit {

namespace {

// Appends `"key":` after a comma (every key but the first of an object).
struct Writer {
  std::string& out;
  bool first = true;
  void key(std::string_view k) {
    // One append per key (keys are short literals: no escaping needed).
    char buf[40];
    std::size_t n = 0;
    if (!first) buf[n++] = ',';
    first = false;
    buf[n++] = '"';
    std::memcpy(buf + n, k.data(), k.size());
    n += k.size();
    buf[n++] = '"';
    buf[n++] = ':';
    out.append(buf, n);
  }
  void str(std::string_view k, std::string_view v) {
    key(k);
    append_json_string(out, v);
  }
  void num(std::string_view k, int64_t v) {
    key(k);
    append_json_int(out, v);
  }
  void boolean(std::string_view k, bool v) {
    key(k);
    out += v ? "true" : "false";
  }
  // A string, or null when empty.
  void opt(std::string_view k, std::string_view v) {
    key(k);
    if (v.empty()) out += "null";
    else append_json_string(out, v);
  }
};

}  // namespace

std::string to_json(const AuditEvent& e) {
  std::string out;
  out.reserve(1024 + (e.request_body ? e.request_body->size() : 0) +
              (e.response_body ? e.response_body->size() : 0));
  out += '{';
  Writer w{out};
  w.str("id", e.id);  // first: sinks read it without a parse
  w.num("version", kSchemaVersion);
  w.str("request_id", e.request_id);
  w.str("trace_id", e.trace_id);
  w.str("span_id", e.span_id);
  w.opt("parent_span_id", e.parent_span_id);
  w.num("start_unix_us", e.start_unix_us);
  w.num("end_unix_us", e.end_unix_us);
  w.opt("consumer", e.consumer);
  w.opt("key", e.key);
  w.opt("user", e.user);
  w.key("groups");
  out += '[';
  for (std::size_t i = 0; i < e.groups.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, e.groups[i]);
  }
  out += ']';
  w.str("api", e.api);
  w.str("modality", e.modality);
  w.str("method", e.method);
  w.str("path", e.path);
  w.opt("route", e.route);
  w.opt("model", e.model);
  w.opt("provider", e.provider);
  w.opt("upstream_model", e.upstream_model);
  w.boolean("stream", e.stream);
  w.key("attempts");
  out += '[';
  for (std::size_t i = 0; i < e.attempts.size(); ++i) {
    const AttemptRecord& a = e.attempts[i];
    if (i) out += ',';
    out += '{';
    Writer aw{out};
    aw.str("provider", a.provider);
    aw.str("model", a.model);
    aw.num("status", a.status);
    aw.opt("error", a.error);
    aw.num("start_us", a.start_us);
    aw.num("duration_us", a.duration_us);
    aw.str("span_id", a.span_id);
    out += '}';
  }
  out += ']';
  w.num("status", e.status);
  w.str("outcome", e.outcome);
  if (!e.error_type.empty() || !e.error_message.empty()) {
    w.key("error");
    out += '{';
    Writer ew{out};
    ew.str("type", e.error_type);
    ew.opt("code", e.error_code);
    ew.str("message", e.error_message);
    out += '}';
  } else {
    w.key("error");
    out += "null";
  }
  w.key("usage");
  out += '{';
  {
    Writer uw{out};
    uw.num("prompt", e.usage.prompt);
    uw.num("completion", e.usage.completion);
    uw.num("cached", e.usage.cached);
    uw.num("cache_write", e.usage.cache_write);
    uw.num("reasoning", e.usage.reasoning);
    if (e.usage.images >= 0) uw.num("images", e.usage.images);
    if (e.usage.audio_ms >= 0) uw.num("audio_ms", e.usage.audio_ms);
    if (e.usage.characters >= 0) uw.num("characters", e.usage.characters);
  }
  out += '}';
  w.key("cost_micros");
  if (e.cost_micros >= 0) append_json_int(out, e.cost_micros);
  else out += "null";
  w.str("cache", e.cache);
  w.opt("cache_reason", e.cache_reason);
  if (e.cache_similarity >= 0) {
    w.key("cache_similarity");
    char buf[16];
    const int n = std::snprintf(buf, sizeof buf, "%.4f", e.cache_similarity);
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (e.cache_saved_micros >= 0) w.num("cache_saved_micros", e.cache_saved_micros);
  w.key("guardrails");
  out += '[';
  for (std::size_t i = 0; i < e.guardrails.size(); ++i) {
    const GuardrailRecord& g = e.guardrails[i];
    if (i) out += ',';
    out += '{';
    Writer gw{out};
    gw.str("name", g.name);
    gw.str("phase", g.phase);
    gw.str("action", g.action);
    gw.opt("reason", g.reason);
    gw.num("latency_us", g.latency_us);
    out += '}';
  }
  out += ']';
  w.key("timings");
  out += '{';
  {
    Writer tw{out};
    tw.num("overhead_us", e.overhead_us);
    tw.key("ttft_us");
    if (e.ttft_us >= 0) append_json_int(out, e.ttft_us);
    else out += "null";
    tw.num("total_us", e.total_us);
  }
  out += '}';
  w.opt("client_ip", e.client_ip);
  w.opt("user_agent", e.user_agent);
  if (e.request_body) w.str("request_body", *e.request_body);
  if (e.response_body) w.str("response_body", *e.response_body);
  out += '}';
  return out;
}

}  // namespace torii::audit
