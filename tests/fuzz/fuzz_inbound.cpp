// libFuzzer target for the inbound APIs (the client is untrusted input) and the translation of
// what they accept into every provider's format.
// Input: [codec] body… — codec % 4 picks openai_chat, anthropic_messages, openai_responses or
// openai_completions. Then: parse → to_canonical → every provider's encode_chat of the canonical
// request (translated path, streamed and not) and, for the providers that speak the codec's
// format, of the raw request (passthrough); then the codec's encode_result of a fixed answer
// and its stream encoder fed a fixed event sequence (ended cleanly, and failed).
// Checks: no crash, no exception (none is caught); client errors are 400s with a message and
// their error body is JSON; every upstream body is a JSON object; every client body is JSON and
// every stream is SSE of JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "api/inbound.h"
#include "fuzz_support.h"

namespace {

using namespace torii;
using fuzz::fail;
constexpr const char* kTarget = "fuzz_inbound";

const InboundCodec& codec(int i) {
  switch (i & 3) {
    case 0: return openai_chat_codec();
    case 1: return anthropic_messages_codec();
    case 2: return openai_responses_codec();
    default: return openai_completions_codec();
  }
}

void check_client_error(const InboundCodec& c, const ApiError& e, const char* stage) {
  if (e.status != 400) fail(kTarget, stage, "error is not a 400: " + std::to_string(e.status) +
                                                " " + e.message);
  if (e.message.empty()) fail(kTarget, stage, "error without a message");
  std::string body = c.error_body(e);
  if (!fuzz::is_json_object(body)) fail(kTarget, "error_body is not JSON", body);
}

Part part(Part::Kind kind, std::string text) {
  Part p;
  p.kind = kind;
  p.text = std::move(text);
  return p;
}

// A fixed answer using every part kind; `model` is the client's (escaping is exercised).
ChatResult fixed_result(const std::string& model) {
  ChatResult r;
  r.id = "resp_fuzz\"1";
  r.model = model;
  r.created = 1700000000;
  Part thinking = part(Part::Kind::thinking, "Let me think\n\"about\" it");
  thinking.signature = "EqQBCgIYAhIM";
  r.parts.push_back(std::move(thinking));
  Part redacted = part(Part::Kind::redacted_thinking, "");
  redacted.data = "EmwKAhgBEgy3va";
  r.parts.push_back(std::move(redacted));
  r.parts.push_back(part(Part::Kind::text, "Hello, caf\xc3\xa9 \"world\"\n\\ \x01"));
  Part call = part(Part::Kind::tool_call, "");
  call.id = "call_1";
  call.name = "get_weather";
  call.arguments = R"({"location":"Paris, FR"})";
  r.parts.push_back(std::move(call));
  r.finish = FinishReason::tool_calls;
  r.native_finish = "tool_use";
  r.usage = {120, 30, 150, 100, 10, 5};
  return r;
}

void feed_events(StreamSink& s, const std::string& model) {
  auto ev = [&](StreamEvent::Kind k, std::string_view text = {}, int index = 0) {
    StreamEvent e;
    e.kind = k;
    e.text = text;
    e.index = index;
    return e;
  };
  StreamEvent start = ev(StreamEvent::Kind::start);
  start.id = "chatcmpl-fuzz";
  start.name = model;
  s.event(start);
  s.event(ev(StreamEvent::Kind::thinking, "Let me "));
  s.event(ev(StreamEvent::Kind::thinking, "think \"hard\""));
  s.event(ev(StreamEvent::Kind::thinking_signature, "EqQBCgIYAhIM"));
  // Deltas are whole UTF-8 sequences: the decoders take them from parsed JSON strings.
  s.event(ev(StreamEvent::Kind::text, "Hello, caf\xc3\xa9"));
  s.event(ev(StreamEvent::Kind::text, " \"world\"\n"));
  StreamEvent call = ev(StreamEvent::Kind::tool_call_start, {}, 0);
  call.id = "call_1";
  call.name = "get_weather";
  s.event(call);
  s.event(ev(StreamEvent::Kind::tool_call_args, R"({"locat)", 0));
  s.event(ev(StreamEvent::Kind::tool_call_args, R"(ion":"Paris"})", 0));
  StreamEvent finish = ev(StreamEvent::Kind::finish, "tool_use");
  finish.finish = FinishReason::tool_calls;
  s.event(finish);
  StreamEvent usage = ev(StreamEvent::Kind::usage);
  usage.usage = {120, 30, 150, 100, 10, 5};
  s.event(usage);
}

void check_encode(const Provider& p, const ChatCall& call, const char* path) {
  auto r = p.encode_chat(call);
  if (!r) {
    const ApiError& e = r.error();
    if (e.status != 400 || e.message.empty())
      fail(kTarget, path, std::string(p.kind()) + ": encode_chat error is not a 400 with a "
                          "message: " + std::to_string(e.status) + " " + e.message);
    return;
  }
  if (!fuzz::is_json_object(r->body))
    fail(kTarget, path, std::string(p.kind()) + " wrote an invalid body: " + r->body);
  if (r->path.empty() || r->path[0] != '/') fail(kTarget, "bad upstream path", r->path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const InboundCodec& c = codec(data[0]);
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  boost::json::object raw;
  auto info = c.parse(body, raw);
  if (!info) {
    check_client_error(c, info.error(), "parse");
    return 0;
  }
  ChatRequest request;
  if (auto r = c.to_canonical(raw, request); !r) {
    check_client_error(c, r.error(), "to_canonical");
    return 0;
  }

  for (int i = 0; i < fuzz::kProviderCount; ++i) {
    const Provider& p = fuzz::provider(i);
    for (bool stream : {info->stream, !info->stream}) {
      std::vector<std::string> ignored;
      ChatCall call;
      call.inbound = c.format();
      call.request = &request;
      call.upstream_model = "up-model";
      call.stream = stream;
      call.ignored = &ignored;
      check_encode(p, call, "translated");
      if (p.speaks(c.format())) {
        call.request = nullptr;
        call.raw = &raw;
        check_encode(p, call, "passthrough");
      }
    }
  }

  std::string answer = c.encode_result(fixed_result(info->model));
  if (!fuzz::is_json_object(answer)) fail(kTarget, "encode_result wrote invalid JSON", answer);

  std::string bad;
  auto clean = c.stream_encoder(*info);
  feed_events(*clean, info->model);
  clean->finish();
  if (!fuzz::is_sse_of_json(clean->out, bad)) fail(kTarget, "stream encoder wrote", bad);
  auto failed = c.stream_encoder(*info);
  feed_events(*failed, info->model);
  failed->fail(ApiError::bad_gateway("upstream \"reset\"\n"));
  if (!fuzz::is_sse_of_json(failed->out, bad)) fail(kTarget, "failed stream encoder wrote", bad);
  return 0;
}
