// libFuzzer target for the providers' answer decoders (the upstream is untrusted input).
// Input: [kind][mode][split a][split b] body…
//  - kind % 6 picks the provider (fuzz_support.h); mode & 3: 0 decode_chat passthrough,
//    1 decode_chat translated, 2 stream passthrough, 3 stream translated (passthrough only for
//    the providers that speak a client format); (mode >> 2) & 3 picks the inbound codec whose
//    encoder receives the translated answer, as the gateway would; mode & 0x10 with Bedrock
//    streams frames the body: '\n'-separated records "<type digit><JSON payload>" become
//    event-stream messages (else the body is fed as raw bytes and rarely passes the CRCs).
//    mode & 0x20 without a stream: the body is an error answer for map_error, status from the
//    split bytes.
//  - a stream is fed once whole and once in pieces cut at positions from the split bytes; both
//    must decode to the same events, usage, end and error.
// Checks: no crash, no exception (none is caught), errors pass fuzz::check_upstream_error, and
// everything the inbound encoders write from the decoded answer is valid JSON / SSE of JSON.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/inbound.h"
#include "fuzz_support.h"
#include "providers/bedrock/eventstream.h"

namespace {

using namespace torii;
using fuzz::fail;
constexpr const char* kTarget = "fuzz_provider_decoders";

const InboundCodec& codec(int i) {
  switch (i & 3) {
    case 0: return openai_chat_codec();
    case 1: return anthropic_messages_codec();
    case 2: return openai_responses_codec();
    default: return openai_completions_codec();
  }
}

void append_field(std::string& log, std::string_view s) {
  log += std::to_string(s.size());
  log += ':';
  log += s;
}

void append_usage(std::string& log, const Usage& u) {
  for (int64_t v : {u.prompt_tokens, u.completion_tokens, u.total_tokens, u.cached_tokens,
                    u.cache_write_tokens, u.reasoning_tokens}) {
    log += std::to_string(v);
    log += ',';
  }
}

// Records what the decoder emits (until it reports the end) and forwards it to `next`.
// Consecutive text / thinking / argument deltas are merged: only their concatenation matters.
struct Recorder : StreamSink {
  StreamSink* next = nullptr;
  const bool* done = nullptr;
  std::vector<std::string> log;
  int last_kind = -1, last_index = -1;
  bool after_done = false;
  bool generated_ids = false;  // Bedrock numbers its streams ("bedrock-<n>"): not compared

  bool skip() {
    if (*done) after_done = true;
    return *done;
  }
  void event(const StreamEvent& e) override {
    if (skip()) return;
    if (e.index < 0) fail(kTarget, "negative tool call index", e.text);
    bool delta = e.kind == StreamEvent::Kind::text || e.kind == StreamEvent::Kind::thinking ||
                 e.kind == StreamEvent::Kind::tool_call_args;
    if (delta && last_kind == static_cast<int>(e.kind) && last_index == e.index) {
      log.back() += e.text;
    } else {
      std::string s = std::to_string(static_cast<int>(e.kind)) + "/" + std::to_string(e.index) +
                      "/" + std::to_string(static_cast<int>(e.finish)) + "/";
      append_field(s, generated_ids && e.kind == StreamEvent::Kind::start ? "" : e.id);
      append_field(s, e.name);
      if (e.kind == StreamEvent::Kind::usage) append_usage(s, e.usage);
      s += '|';
      s += e.text;
      log.push_back(std::move(s));
    }
    last_kind = delta ? static_cast<int>(e.kind) : -1;
    last_index = e.index;
    if (next) next->event(e);
  }
  void raw(std::string_view name, std::string_view data, bool usage_only) override {
    if (skip()) return;
    std::string s = usage_only ? "raw-usage/" : "raw/";
    append_field(s, name);
    append_field(s, data);
    log.push_back(std::move(s));
    last_kind = -1;
    if (next) next->raw(name, data, usage_only);
  }
};

struct Run {
  std::vector<std::string> log;
  Usage usage;
  bool done = false;
  bool after_done = false;
  bool failed = false;
  ApiError error;
  std::string out;  // what the inbound encoder wrote
};

// The upstream bytes of the current input (a key the upstream echoes itself is no leak).
std::string_view g_input;

void check_error(ApiError& e, std::string_view what) {
  fuzz::check_upstream_error(kTarget, e, what, g_input);
}

Run run_stream(const Provider& p, bool passthrough, const InboundCodec& c,
               const std::vector<std::string_view>& pieces) {
  Run run;
  auto decoder = p.stream_decoder(passthrough);
  if (!decoder) fail(kTarget, "no stream decoder", p.kind());
  InboundInfo info{"m-1", true, true};
  auto encoder = c.stream_encoder(info);
  Recorder rec;
  rec.next = encoder.get();
  rec.done = &run.done;
  rec.generated_ids = p.kind() == "bedrock";
  for (auto piece : pieces) {
    if (piece.empty()) continue;  // the proxy never feeds an empty piece
    auto r = decoder->feed(piece, rec, run.usage, run.done);
    if (!r) {
      run.failed = true;
      run.error = r.error();
      check_error(run.error, "stream");
      break;
    }
    if (run.done) break;  // the proxy stops feeding at the end
  }
  if (run.failed) encoder->fail(run.error);
  else if (run.done) encoder->finish();
  run.log = std::move(rec.log);
  run.after_done = rec.after_done;
  run.out = std::move(encoder->out);
  return run;
}

bool same_usage(const Usage& a, const Usage& b) {
  std::string x, y;
  append_usage(x, a);
  append_usage(y, b);
  return x == y;
}

std::string describe(const Run& r) {
  std::string s = "done=" + std::to_string(r.done) + " failed=" + std::to_string(r.failed) +
                  (r.failed ? " (" + std::to_string(r.error.status) + " " + r.error.message + ")"
                            : "") +
                  " events=" + std::to_string(r.log.size()) + "\n";
  for (const auto& l : r.log) s += "  " + l + "\n";
  return s;
}

void compare(const Run& whole, const Run& split) {
  auto differ = [&](const char* what) {
    fail(kTarget, what, "whole:\n" + describe(whole) + "split:\n" + describe(split));
  };
  if (whole.done != split.done) differ("split changed the end of stream");
  // An error stops both runs at the same event, so the logs match failures included.
  if (whole.log != split.log) differ("split changed the events");
  if (!whole.done) {
    if (whole.failed != split.failed) differ("split changed success");
    if (whole.failed && whole.error.status != split.error.status) differ("split changed the error");
    if (!whole.failed && !same_usage(whole.usage, split.usage)) differ("split changed the usage");
  } else if (!whole.after_done && !whole.failed && !split.failed &&
             !same_usage(whole.usage, split.usage)) {
    differ("split changed the usage");
  }
}

// Bedrock framing: '\n'-separated records, first byte = event type, the rest = JSON payload.
std::string frame_bedrock(std::string_view body) {
  static constexpr std::string_view kEvents[] = {"messageStart",      "contentBlockStart",
                                                 "contentBlockDelta", "contentBlockStop",
                                                 "messageStop",       "metadata"};
  static constexpr std::string_view kExceptions[] = {"throttlingException",
                                                     "validationException",
                                                     "modelStreamErrorException"};
  std::string out;
  while (!body.empty()) {
    std::size_t nl = body.find('\n');
    std::string_view rec = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    if (rec.empty()) continue;
    unsigned t = static_cast<unsigned char>(rec[0]) % 10;
    std::string_view payload = rec.substr(1);
    if (t < 6) torii::aws::append_event(out, kEvents[t], payload);
    else if (t < 9) torii::aws::append_exception(out, kExceptions[t - 6], payload);
    else torii::aws::append_event(out, "unknownEvent", payload);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const int kind = data[0] % fuzz::kProviderCount;
  const unsigned mode = data[1];
  const std::size_t sa = data[2], sb = data[3];
  std::string_view in(reinterpret_cast<const char*>(data) + 4, size - 4);
  g_input = in;
  const Provider& p = fuzz::provider(kind);
  const bool speaks_any = p.speaks(WireFormat::openai_chat) ||
                          p.speaks(WireFormat::anthropic_messages) ||
                          p.speaks(WireFormat::openai_responses) ||
                          p.speaks(WireFormat::openai_completions);
  const bool passthrough = (mode & 1) == 0 && speaks_any;
  const bool stream = (mode & 2) != 0;
  // Passthrough events are the provider's format: the matching client codec receives them.
  const InboundCodec* c = &codec(static_cast<int>(mode >> 2));
  if (passthrough) {
    for (int i = 0; i < 4; ++i)
      if (p.speaks(codec(i).format())) c = &codec(i);
  }

  if (!stream && (mode & 0x20)) {
    // An error answer: any status the upstream may send, the body as it came.
    int status = 400 + static_cast<int>((sa << 8 | sb) % 200);
    std::string retry_after = sb & 1 ? "7" : "";
    ApiError e = p.map_error(status, in, retry_after);
    check_error(e, "map_error");
    return 0;
  }
  if (!stream) {
    auto r = p.decode_chat(std::string(in), passthrough);
    if (!r) {
      check_error(r.error(), "decode_chat");
      return 0;
    }
    if (passthrough) return 0;  // the body goes back to the client as it came
    std::string body = c->encode_result(r->result);
    if (!fuzz::is_json_object(body)) fail(kTarget, "encode_result wrote invalid JSON", body);
    return 0;
  }

  std::string framed;
  if (kind == 2 && (mode & 0x10)) {
    framed = frame_bedrock(in);
    in = framed;
  }
  Run whole = run_stream(p, passthrough, *c, {in});
  if (!passthrough) {
    std::string bad;
    if (!fuzz::is_sse_of_json(whole.out, bad)) fail(kTarget, "encoder wrote a bad event", bad);
  }
  std::vector<std::string_view> pieces;
  if (sb & 0x80) {
    // Small fixed-size pieces (byte by byte and up), at most ~256 of them to stay fast.
    std::size_t step = std::max<std::size_t>((sb & 0x0f) + 1, in.size() / 256);
    for (std::size_t i = 0; i < in.size(); i += step) pieces.push_back(in.substr(i, step));
  } else {
    std::size_t a = in.empty() ? 0 : sa * in.size() / 256;
    std::size_t b = in.empty() ? 0 : a + sb * (in.size() - a) / 128;
    if (b > in.size()) b = in.size();
    pieces = {in.substr(0, a), in.substr(a, b - a), in.substr(b)};
  }
  Run split = run_stream(p, passthrough, *c, pieces);
  compare(whole, split);
  return 0;
}
