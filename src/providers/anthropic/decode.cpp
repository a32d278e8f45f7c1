// Anthropic answers → canonical: the whole message, the SSE stream (canonical and
// passthrough), usage and errors.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "providers/anthropic.h"

namespace torii {
namespace json = boost::json;

namespace {

int64_t int_or(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  if (!v) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return -1;
}

std::string_view str_or(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  if (!v || !v->is_string()) return {};
  return {v->get_string().data(), v->get_string().size()};
}

const json::object* obj_or(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::string capped(const std::string& s) { return upstream_excerpt(s); }

std::string prefix(std::string_view provider) {
  return "provider '" + std::string(provider) + "' ";
}

// Merges the fields present in `u` into `into` (message_delta repeats or updates counts).
void merge_usage(const json::object& u, Usage& raw_input, int64_t& cache_read,
                 int64_t& cache_write, int64_t& output) {
  if (int64_t v = int_or(u, "input_tokens"); v >= 0) raw_input.prompt_tokens = v;
  if (int64_t v = int_or(u, "cache_read_input_tokens"); v >= 0) cache_read = v;
  if (int64_t v = int_or(u, "cache_creation_input_tokens"); v >= 0) cache_write = v;
  if (int64_t v = int_or(u, "output_tokens"); v >= 0) output = v;
}

Usage make_usage(int64_t input, int64_t cache_read, int64_t cache_write, int64_t output) {
  Usage u;
  if (input >= 0 || cache_read >= 0 || cache_write >= 0)
    u.prompt_tokens = std::max<int64_t>(input, 0) + std::max<int64_t>(cache_read, 0) +
                      std::max<int64_t>(cache_write, 0);
  u.cached_tokens = cache_read;
  u.cache_write_tokens = cache_write;
  u.completion_tokens = output;
  u.complete();
  return u;
}

}  // namespace

Usage parse_anthropic_usage(const json::object& u) {
  return make_usage(int_or(u, "input_tokens"), int_or(u, "cache_read_input_tokens"),
                    int_or(u, "cache_creation_input_tokens"), int_or(u, "output_tokens"));
}

FinishReason anthropic_finish_reason(std::string_view r) {
  if (r == "end_turn" || r == "stop_sequence" || r == "pause_turn") return FinishReason::stop;
  if (r == "max_tokens" || r == "model_context_window_exceeded") return FinishReason::length;
  if (r == "tool_use") return FinishReason::tool_calls;
  if (r == "refusal") return FinishReason::content_filter;
  return FinishReason::unset;
}

// --- errors ----------------------------------------------------------------------------------

static ApiError from_type(std::string_view provider, std::string_view type, int status,
                          std::string msg, std::string_view retry_after) {
  std::string p = prefix(provider);
  ApiError e;
  if (type == "overloaded_error" || status == 529) {
    e = ApiError::unavailable(p + "is overloaded: " + msg);
    e.retry_after = std::string(retry_after);
    e.retryable = true;
  } else if (type == "invalid_request_error" || status == 400 || status == 422 || status == 409) {
    e = ApiError::invalid_request(p + "rejected the request: " + msg);
  } else if (type == "not_found_error" || status == 404) {
    e = ApiError::invalid_request(p + "rejected the request: " + msg);
    e.status = 404;
    e.code = "model_not_found";
  } else if (type == "authentication_error" || type == "permission_error" || status == 401 ||
             status == 403) {
    // The gateway's key was refused: not the client's fault, and never echo the key.
    e = ApiError::bad_gateway(p + "refused the gateway's credentials" +
                                  (status ? " (HTTP " + std::to_string(status) + ")" : ""),
                              "upstream_auth");
  } else if (type == "request_too_large" || status == 413) {
    e = ApiError::too_large(p + "says the request is too large: " + msg);
  } else if (type == "rate_limit_error" || status == 429) {
    e = ApiError::rate_limited(p + "is rate limiting: " + msg, std::string(retry_after));
    e.retryable = true;
  } else if (type == "timeout_error" || status == 408 || status == 504) {
    e = ApiError::gateway_timeout(p + "timed out" +
                                  (status ? " (HTTP " + std::to_string(status) + ")" : ""));
    e.retryable = true;
  } else {
    e = ApiError::bad_gateway(p + "failed" +
                              (status ? " (HTTP " + std::to_string(status) + ")" : "") + ": " +
                              msg);
    e.retryable = status == 0 || status >= 500;
  }
  return e;
}

ApiError map_anthropic_error(std::string_view provider, int status, std::string_view body,
                             std::string_view retry_after) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  std::string type, msg;
  if (!ec && v.is_object()) {
    if (auto e = obj_or(v.get_object(), "error")) {
      type = str_or(*e, "type");
      msg = str_or(*e, "message");
    } else {
      msg = str_or(v.get_object(), "message");
    }
  }
  if (msg.empty()) msg = upstream_excerpt(body, 200);
  return from_type(provider, type, status, capped(std::move(msg)), retry_after);
}

ApiError anthropic_stream_error(std::string_view provider, const json::object& error) {
  std::string msg = capped(std::string(str_or(error, "message")));
  ApiError e = from_type(provider, str_or(error, "type"), 0, std::move(msg), {});
  if (e.status == 400 && str_or(error, "type").empty()) e = ApiError::bad_gateway(e.message);
  return e;
}

// --- whole answers ---------------------------------------------------------------------------

Result<ChatResult> decode_anthropic_message(std::string_view body, std::string_view provider) {
  auto bad = [&](std::string_view why) {
    return ApiError::bad_gateway(prefix(provider) + "returned an undecodable answer: " +
                                 std::string(why));
  };
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad("not JSON");
  const json::object& o = v.get_object();
  if (str_or(o, "type") == "error") {
    if (auto e = obj_or(o, "error")) return anthropic_stream_error(provider, *e);
    return bad("an error without details");
  }
  auto content = o.if_contains("content");
  if (!content || !content->is_array()) return bad("no content array");
  ChatResult r;
  r.id = str_or(o, "id");
  r.model = str_or(o, "model");
  for (const json::value& b : content->get_array()) {
    if (!b.is_object()) return bad("a content block is not an object");
    const json::object& blk = b.get_object();
    std::string_view type = str_or(blk, "type");
    Part p;
    if (type == "text") {
      p.text = str_or(blk, "text");
    } else if (type == "thinking") {
      p.kind = Part::Kind::thinking;
      p.text = str_or(blk, "thinking");
      p.signature = str_or(blk, "signature");
    } else if (type == "redacted_thinking") {
      p.kind = Part::Kind::redacted_thinking;
      p.data = str_or(blk, "data");
    } else if (type == "tool_use") {
      p.kind = Part::Kind::tool_call;
      p.id = str_or(blk, "id");
      p.name = str_or(blk, "name");
      auto in = blk.if_contains("input");
      p.arguments = in && in->is_object() ? json::serialize(*in) : "{}";
    } else {
      continue;  // server tool blocks and future types: no canonical counterpart
    }
    r.parts.push_back(std::move(p));
  }
  r.native_finish = str_or(o, "stop_reason");
  r.finish = anthropic_finish_reason(r.native_finish);
  r.stop_sequence = str_or(o, "stop_sequence");
  if (auto u = obj_or(o, "usage")) r.usage = parse_anthropic_usage(*u);
  return r;
}

// --- streams ---------------------------------------------------------------------------------

namespace {

// Usage accumulated over message_start and message_delta events.
struct StreamUsage {
  Usage input;  // prompt_tokens holds the raw input_tokens
  int64_t cache_read = -1, cache_write = -1, output = -1;
  void merge(const json::object& u) { merge_usage(u, input, cache_read, cache_write, output); }
  Usage get() const { return make_usage(input.prompt_tokens, cache_read, cache_write, output); }
};

class AnthropicStreamDecoder final : public SseStreamDecoder {
 public:
  AnthropicStreamDecoder(bool passthrough, std::string provider)
      : passthrough_(passthrough), provider_(std::move(provider)) {}

  Result<void> on_event(const SseEvent& ev, StreamSink& sink, Usage& usage,
                        bool& done) override {
    std::string_view name = ev.event;
    // Passthrough parses only what carries usage, an error or the end.
    if (passthrough_ && (name == "ping" || name == "content_block_start" ||
                         name == "content_block_delta" || name == "content_block_stop")) {
      sink.raw(name, ev.data, false);
      return {};
    }
    boost::system::error_code ec;
    json::value v = json::parse(ev.data, ec);
    if (ec || !v.is_object())
      return ApiError::bad_gateway(prefix(provider_) + "sent an undecodable stream event");
    const json::object& o = v.get_object();
    std::string_view type = str_or(o, "type");
    if (type.empty()) type = name;
    if (type == "error") {
      if (auto e = obj_or(o, "error")) return anthropic_stream_error(provider_, *e);
      return ApiError::bad_gateway(prefix(provider_) + "stream failed");
    }
    if (passthrough_) return passthrough(type, o, ev, sink, usage, done);
    return canonical(type, o, sink, usage, done);
  }

 private:
  Result<void> passthrough(std::string_view type, const json::object& o, const SseEvent& ev,
                           StreamSink& sink, Usage& usage, bool& done) {
    if (type == "message_start") {
      if (auto m = obj_or(o, "message"))
        if (auto u = obj_or(*m, "usage")) usage_.merge(*u), usage = usage_.get();
    } else if (type == "message_delta") {
      if (auto u = obj_or(o, "usage")) usage_.merge(*u), usage = usage_.get();
    } else if (type == "message_stop") {
      done = true;
    }
    sink.raw(ev.event.empty() ? type : std::string_view(ev.event), ev.data, false);
    return {};
  }

  Result<void> canonical(std::string_view type, const json::object& o, StreamSink& sink,
                         Usage& usage, bool& done) {
    StreamEvent e;
    if (type == "message_start") {
      const json::object* m = obj_or(o, "message");
      if (!m)
        return ApiError::bad_gateway(prefix(provider_) + "sent message_start without a message");
      if (auto u = obj_or(*m, "usage")) usage_.merge(*u), usage = usage_.get();
      e.kind = StreamEvent::Kind::start;
      e.id = str_or(*m, "id");
      e.name = str_or(*m, "model");
      sink.event(e);
    } else if (type == "content_block_start") {
      const json::object* b = obj_or(o, "content_block");
      if (!b) return ApiError::bad_gateway(prefix(provider_) + "sent a block without content");
      std::string_view bt = str_or(*b, "type");
      block_tool_ = -1;
      block_args_ = false;
      if (bt == "text") {
        if (auto t = str_or(*b, "text"); !t.empty()) emit(sink, StreamEvent::Kind::text, t);
      } else if (bt == "thinking") {
        if (auto t = str_or(*b, "thinking"); !t.empty()) emit(sink, StreamEvent::Kind::thinking, t);
        if (auto s = str_or(*b, "signature"); !s.empty())
          emit(sink, StreamEvent::Kind::thinking_signature, s);
      } else if (bt == "redacted_thinking") {
        emit(sink, StreamEvent::Kind::redacted_thinking, str_or(*b, "data"));
      } else if (bt == "tool_use") {
        block_tool_ = tools_++;
        e.kind = StreamEvent::Kind::tool_call_start;
        e.index = block_tool_;
        e.id = str_or(*b, "id");
        e.name = str_or(*b, "name");
        sink.event(e);
        // The input usually starts empty ({}) and arrives as input_json_delta.
        if (auto in = b->if_contains("input"); in && in->is_object() && !in->get_object().empty()) {
          std::string args = json::serialize(*in);
          emit(sink, StreamEvent::Kind::tool_call_args, args, block_tool_);
          block_args_ = true;
        }
      }  // other block types (server tools…) have no canonical counterpart: skipped
    } else if (type == "content_block_delta") {
      const json::object* d = obj_or(o, "delta");
      if (!d) return ApiError::bad_gateway(prefix(provider_) + "sent a delta without content");
      std::string_view dt = str_or(*d, "type");
      if (dt == "text_delta") {
        emit(sink, StreamEvent::Kind::text, str_or(*d, "text"));
      } else if (dt == "thinking_delta") {
        emit(sink, StreamEvent::Kind::thinking, str_or(*d, "thinking"));
      } else if (dt == "signature_delta") {
        emit(sink, StreamEvent::Kind::thinking_signature, str_or(*d, "signature"));
      } else if (dt == "input_json_delta" && block_tool_ >= 0) {
        std::string_view part = str_or(*d, "partial_json");
        if (!part.empty()) {
          emit(sink, StreamEvent::Kind::tool_call_args, part, block_tool_);
          block_args_ = true;
        }
      }
    } else if (type == "content_block_stop") {
      // A call without arguments: canonical arguments are "{}" (as in whole answers).
      if (block_tool_ >= 0 && !block_args_)
        emit(sink, StreamEvent::Kind::tool_call_args, "{}", block_tool_);
      block_tool_ = -1;
    } else if (type == "message_delta") {
      if (auto u = obj_or(o, "usage")) usage_.merge(*u), usage = usage_.get();
      if (auto d = obj_or(o, "delta")) {
        std::string_view reason = str_or(*d, "stop_reason");
        if (!reason.empty() && !finished_) {
          finished_ = true;
          e.kind = StreamEvent::Kind::finish;
          e.finish = anthropic_finish_reason(reason);
          e.text = reason;
          e.id = str_or(*d, "stop_sequence");
          sink.event(e);
        }
      }
    } else if (type == "message_stop") {
      done = true;
      usage = usage_.get();
      if (usage.known()) {
        e.kind = StreamEvent::Kind::usage;
        e.usage = usage;
        sink.event(e);
      }
    }
    // ping and future event types: nothing to say.
    return {};
  }

  void emit(StreamSink& sink, StreamEvent::Kind kind, std::string_view text, int index = 0) {
    if (text.empty() && kind != StreamEvent::Kind::redacted_thinking) return;
    StreamEvent e;
    e.kind = kind;
    e.text = text;
    e.index = index;
    sink.event(e);
  }

  bool passthrough_;
  std::string provider_;
  StreamUsage usage_;
  int block_tool_ = -1;  // tool ordinal of the open tool_use block, -1 when none
  bool block_args_ = false;
  int tools_ = 0;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<StreamDecoder> make_anthropic_stream_decoder(bool passthrough,
                                                             std::string provider) {
  return std::make_unique<AnthropicStreamDecoder>(passthrough, std::move(provider));
}

}  // namespace torii
