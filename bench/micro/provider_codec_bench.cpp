// Provider and inbound codecs, per call: what one request costs in the codecs alone, for every
// format. Inputs are the same conversation in each inbound format (fixtures.h chat_bodies), and
// answers and streams made by `torii mock`'s own format code (tools/mock) from the very request
// each provider encodes, so the bytes are those of the other side of the wire, not the adapter's.
//
//   inbound_decode/<api>/<size>          parse + to_canonical (4 KiB arena, as RequestContext)
//   encode_chat/<kind>/<size>            translated: a canonical request (from OpenAI chat; for
//                                        openai-compatible from Anthropic Messages)
//   encode_chat_passthrough/<api>/<size> the client's JSON forwarded with small edits (spliced
//                                        into the client's text: ChatCall::raw_text)
//   encode_chat_passthrough_tree/…       the same from the parsed JSON alone (re-serialised)
//   decode_chat/<kind>[_passthrough]     a typical non-streamed answer (48 words), body copied in
//   stream_event/<kind>[_passthrough]    one text-delta event fed to a stream decoder
//   stream_whole/<kind>[_passthrough]    a whole stream: start, 48 text chunks, end, one piece
//   encode_result/<api>                  the client's body for a canonical answer
//   stream_encode_event/<api>[_raw]      one text delta through the client's stream encoder
//   json_string/<writer>                 the large request's base64 image written as a JSON string
// Every benchmark also reports "allocs": heap allocations per call.
#include <benchmark/benchmark.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include "api/inbound.h"
#include "core/json_text.h"
#include "fixtures.h"
#include "providers/registry.h"
#include "tools/mock/mock_format.h"
#include "upstream/endpoint.h"

namespace torii::bench {
namespace {
namespace json = boost::json;

// Counts what a stream decoder hands over, so nothing is optimised away.
class CountingSink final : public StreamSink {
 public:
  std::size_t events = 0;
  std::size_t bytes = 0;
  void event(const StreamEvent& e) override {
    ++events;
    bytes += e.text.size();
  }
  void raw(std::string_view, std::string_view data, bool) override {
    ++events;
    bytes += data.size();
  }
};

const InboundCodec& codec_of(WireFormat f) {
  switch (f) {
    case WireFormat::anthropic_messages: return anthropic_messages_codec();
    case WireFormat::openai_responses: return openai_responses_codec();
    default: return openai_chat_codec();
  }
}

const std::string& body_of(WireFormat f, bool large) {
  const ChatBodies& b = chat_bodies(large);
  switch (f) {
    case WireFormat::anthropic_messages: return b.anthropic_messages;
    case WireFormat::openai_responses: return b.openai_responses;
    default: return b.openai_chat;
  }
}

// A request as the gateway holds it after parse (and to_canonical), built once per process.
struct ParsedRequest {
  json::object raw;
  ChatRequest canonical;
  bool ok = false;
};

const ParsedRequest& parsed(WireFormat f, bool large) {
  static std::map<std::pair<WireFormat, bool>, ParsedRequest> cache;
  auto [it, fresh] = cache.try_emplace({f, large});
  if (fresh) {
    const InboundCodec& codec = codec_of(f);
    it->second.ok = codec.parse(body_of(f, large), it->second.raw).ok() &&
                    codec.to_canonical(it->second.raw, it->second.canonical).ok();
  }
  return it->second;
}

// One provider under test, with the upstream answers the mock gives to its requests.
struct ProviderCase {
  std::string kind;
  std::string model;
  WireFormat client = WireFormat::openai_chat;  // where its translated requests come from
  std::unique_ptr<Provider> provider;
  std::string answer;        // non-streamed answer to the small request
  std::string stream_start;  // stream: what comes before the first text chunk
  std::string text_event;    // one text chunk (3 words)
  std::string stream;        // start + 48 text chunks (3 words each) + end
  std::string error;         // set when the case could not be built
};

constexpr int kStreamChunks = 48;
constexpr int kWordsPerChunk = 3;
constexpr int kAnswerWords = 48;

std::unique_ptr<Provider> make_provider(const std::string& kind, std::string& error) {
  const ProviderKind* k = find_provider_kind(kind);
  if (!k) {
    error = "no provider kind " + kind;
    return nullptr;
  }
  ProviderConfig c;
  c.name = "bench";
  c.kind = kind;
  c.base_url = std::string(k->default_base_url);
  c.api_key.value = "sk-bench-not-a-real-key";
  c.region = "us-east-1";
  c.aws_access_key_id.value = "AKIDEXAMPLE";
  c.aws_secret_access_key.value = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  auto ep = make_endpoint(c.base_url, "", {});
  if (!ep) {
    error = ep.error().message;
    return nullptr;
  }
  auto p = k->make(c, std::move(*ep));
  if (!p) {
    error = p.error().message;
    return nullptr;
  }
  return std::move(*p);
}

// Asks the mock format serving `req` for a non-streamed answer and a stream.
void build_answers(ProviderCase& pc, const UpstreamRequest& req) {
  std::string_view path = req.path;
  path = path.substr(0, path.find('?'));
  const MockFormat* mock = find_mock_format(path);
  if (!mock) {
    pc.error = "no mock format serves " + std::string(path);
    return;
  }
  Headers headers = req.headers;
  headers.emplace_back("anthropic-version", "2023-06-01");
  auto turn = mock->parse(req.path, headers, req.body);
  if (!turn) {
    pc.error = "the mock rejected the request: " + turn.error().message;
    return;
  }
  MockKnobs knobs;
  knobs.tool_call = 0;  // a typical text answer, though the request declares a tool
  knobs.chunks = kAnswerWords;
  knobs.tokens_per_chunk = 1;
  {
    const MockWords words(turn->last_user_text, knobs.total_words());
    MockScript s = make_mock_script(*turn, knobs, words);
    s.id = "mock-1";
    s.created = 1'700'000'000;
    pc.answer = mock->whole(s);
  }
  turn->stream = true;
  turn->include_usage = true;
  knobs.chunks = kStreamChunks;
  knobs.tokens_per_chunk = kWordsPerChunk;
  const MockWords words(turn->last_user_text, knobs.total_words());
  MockScript s = make_mock_script(*turn, knobs, words);
  s.id = "mock-2";
  s.created = 1'700'000'000;
  mock->stream_start(pc.stream_start, s);
  mock->stream_text(pc.text_event, s, kWordsPerChunk, kWordsPerChunk);
  pc.stream = pc.stream_start;
  for (int i = 0; i < s.chunks; ++i)
    mock->stream_text(pc.stream, s, std::int64_t{i} * kWordsPerChunk, mock_chunk_words(s, i));
  mock->stream_end(pc.stream, s);
}

const ProviderCase& provider_case(const std::string& kind) {
  static std::map<std::string, ProviderCase> cache;
  auto [it, fresh] = cache.try_emplace(kind);
  ProviderCase& pc = it->second;
  if (!fresh) return pc;
  static const std::map<std::string, std::string> models = {
      {"openai", "gpt-4o-mini"},
      {"anthropic", "claude-sonnet-4-5"},
      {"gemini", "gemini-2.0-flash"},
      {"bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"},
      {"cohere", "command-r-plus-08-2024"},
      {"ollama", "llama3.1"}};
  pc.kind = kind;
  pc.model = models.at(kind);
  pc.client = kind == "openai" ? WireFormat::anthropic_messages : WireFormat::openai_chat;
  pc.provider = make_provider(kind, pc.error);
  if (!pc.provider) return pc;
  const ParsedRequest& in = parsed(pc.client, false);
  if (!in.ok) {
    pc.error = "the request fixture does not decode";
    return pc;
  }
  std::vector<std::string> ignored;
  ChatCall call{pc.client, nullptr, &in.canonical, pc.model, false, &ignored};
  auto req = pc.provider->encode_chat(call);
  if (!req) {
    pc.error = "encode_chat: " + req.error().message;
    return pc;
  }
  build_answers(pc, *req);
  return pc;
}

bool usable(benchmark::State& state, const ProviderCase& pc) {
  if (pc.error.empty()) return true;
  state.SkipWithError(pc.error.c_str());
  return false;
}

const char* size_name(bool large) { return large ? "large" : "small"; }

// ------------------------------------------------------------------ inbound decode

void inbound_decode(benchmark::State& state, WireFormat f, bool large) {
  const InboundCodec& codec = codec_of(f);
  const std::string& body = body_of(f, large);
  bool ok = true;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    alignas(16) unsigned char arena[4096];
    json::monotonic_resource memory(arena, sizeof arena);
    json::object raw{json::storage_ptr(&memory)};
    ChatRequest request;
    ok &= codec.parse(body, raw).ok() && codec.to_canonical(raw, request).ok();
    benchmark::DoNotOptimize(request);
  }
  report_allocations(state, allocs);
  if (!ok) return state.SkipWithError("the request does not decode");
  report_per_call(state, body.size(), std::to_string(body.size()) + " B request");
}

// ------------------------------------------------------------------ provider encode

void run_encode(benchmark::State& state, const Provider& p, ChatCall call, std::string label) {
  std::vector<std::string> ignored;
  call.ignored = &ignored;
  bool ok = true;
  std::size_t out = 0;
  std::string error;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    ignored.clear();
    auto req = p.encode_chat(call);
    if (req) {
      out = req->body.size();
      benchmark::DoNotOptimize(req->body.data());
    } else if (ok) {
      ok = false;
      error = req.error().message;
    }
  }
  report_allocations(state, allocs);
  if (!ok) return state.SkipWithError(error.c_str());
  report_per_call(state, out, std::to_string(out) + " B body out" + label);
}

void encode_translated(benchmark::State& state, std::string kind, bool large) {
  const ProviderCase& pc = provider_case(kind);
  if (!usable(state, pc)) return;
  const ParsedRequest& in = parsed(pc.client, large);
  ChatCall call{pc.client, nullptr, &in.canonical, pc.model, false, nullptr};
  run_encode(state, *pc.provider, call,
             std::string(pc.client == WireFormat::openai_chat ? ", from openai_chat"
                                                              : ", from anthropic_messages") +
                 (kind == "bedrock" ? ", SigV4 signed" : ""));
}

void encode_passthrough(benchmark::State& state, std::string kind, bool large, bool splice) {
  const ProviderCase& pc = provider_case(kind);
  if (!usable(state, pc)) return;
  const WireFormat f = kind == "anthropic" ? WireFormat::anthropic_messages : WireFormat::openai_chat;
  const ParsedRequest& in = parsed(f, large);
  ChatCall call{f, &in.raw, nullptr, pc.model, false, nullptr};
  // As the gateway does: the edits spliced into the client's text; without it (tree), the
  // parsed request is serialised again (the fallback, and the path before the splice).
  if (splice) call.raw_text = body_of(f, large);
  run_encode(state, *pc.provider, call, splice ? ", passthrough" : ", passthrough, re-serialised");
}

// ------------------------------------------------------------------ provider decode

void decode_answer(benchmark::State& state, std::string kind, bool passthrough) {
  const ProviderCase& pc = provider_case(kind);
  if (!usable(state, pc)) return;
  bool ok = true;
  std::string error;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    std::string body = pc.answer;  // the gateway moves its read buffer in; a copy here
    auto r = pc.provider->decode_chat(std::move(body), passthrough);
    if (r) {
      benchmark::DoNotOptimize(r->result.usage);
    } else if (ok) {
      ok = false;
      error = r.error().message;
    }
  }
  report_allocations(state, allocs);
  if (!ok) return state.SkipWithError(error.c_str());
  report_per_call(state, pc.answer.size(),
                  std::to_string(pc.answer.size()) + " B answer (1 copy included)");
}

void stream_event(benchmark::State& state, std::string kind, bool passthrough) {
  const ProviderCase& pc = provider_case(kind);
  if (!usable(state, pc)) return;
  auto decoder = pc.provider->stream_decoder(passthrough);
  CountingSink sink;
  Usage usage;
  bool done = false;
  bool ok = decoder->feed(pc.stream_start, sink, usage, done).ok();
  const std::size_t before = sink.events;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    ok &= decoder->feed(pc.text_event, sink, usage, done).ok();
    benchmark::DoNotOptimize(sink.bytes);
  }
  report_allocations(state, allocs);
  if (!ok || done || sink.events == before)
    return state.SkipWithError("the text event did not decode into events");
  report_per_call(state, pc.text_event.size(),
                  std::to_string(pc.text_event.size()) + " B event");
}

void stream_whole(benchmark::State& state, std::string kind, bool passthrough) {
  const ProviderCase& pc = provider_case(kind);
  if (!usable(state, pc)) return;
  bool ok = true;
  std::size_t events = 0;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    auto decoder = pc.provider->stream_decoder(passthrough);
    CountingSink sink;
    Usage usage;
    bool done = false;
    ok &= decoder->feed(pc.stream, sink, usage, done).ok() && usage.known();
    events = sink.events;
    benchmark::DoNotOptimize(sink.bytes);
  }
  report_allocations(state, allocs);
  if (!ok) return state.SkipWithError("the stream did not decode (or carried no usage)");
  report_per_call(state, pc.stream.size(),
                  std::to_string(pc.stream.size()) + " B, " + std::to_string(events) +
                      " events out");
}

// ------------------------------------------------------------------ inbound encode

// A canonical answer: the OpenAI-compatible decode of the mock's answer.
const ChatResult& canonical_answer() {
  static const ChatResult result = [] {
    const ProviderCase& pc = provider_case("openai");
    if (!pc.error.empty()) return ChatResult{};
    auto r = pc.provider->decode_chat(std::string(pc.answer), false);
    return r ? r->result : ChatResult{};
  }();
  return result;
}

void encode_result(benchmark::State& state, WireFormat f) {
  const InboundCodec& codec = codec_of(f);
  const ChatResult& result = canonical_answer();
  if (result.parts.empty()) return state.SkipWithError("no canonical answer");
  std::size_t out = 0;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    std::string body = codec.encode_result(result);
    out = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  report_allocations(state, allocs);
  report_per_call(state, out, std::to_string(out) + " B body out");
}

// One text delta through the client's stream encoder (after the start event); `raw`: the
// passthrough path instead, one native event of the same API (OpenAI chunk, Anthropic delta).
void stream_encode_event(benchmark::State& state, WireFormat f, bool raw) {
  const InboundCodec& codec = codec_of(f);
  auto enc = codec.stream_encoder(InboundInfo{"gpt-4o-mini", true, true});
  StreamEvent start;
  start.kind = StreamEvent::Kind::start;
  start.id = "mock-2";
  start.name = "gpt-4o-mini";
  StreamEvent text;
  text.kind = StreamEvent::Kind::text;
  text.text = "keeps a pool ";
  std::string_view name, data;
  if (raw) {
    if (f == WireFormat::anthropic_messages) {
      name = "content_block_delta";
      data = R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
             R"("text":"keeps a pool "}})";
    } else {
      data = openai_stream().content_event;
    }
  } else {
    enc->event(start);
  }
  enc->out.clear();
  std::size_t out = 0;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    if (raw)
      enc->raw(name, data, false);
    else
      enc->event(text);
    out = enc->out.size();
    benchmark::DoNotOptimize(enc->out.data());
    enc->out.clear();
  }
  report_allocations(state, allocs);
  if (out == 0) return state.SkipWithError("the encoder wrote nothing");
  report_per_call(state, out, std::to_string(out) + " B out per event");
}

// ------------------------------------------------------------------ JSON string writing

// What re-serialising the large request's base64 image costs: boost::json::serialize (used by
// the encoders) against core/json_text's hand-written writer.
void json_string(benchmark::State& state, bool boost_serialize) {
  const std::string& image = image_base64();
  std::string out;
  const std::uint64_t allocs = allocation_count();
  for (auto _ : state) {
    out.clear();
    if (boost_serialize)
      out.append(json::serialize(json::string_view(image.data(), image.size())));
    else
      append_json_string(out, image);
    benchmark::DoNotOptimize(out.data());
  }
  report_allocations(state, allocs);
  if (out.size() != image.size() + 2) return state.SkipWithError("unexpected escaping");
  report_per_call(state, image.size(), std::to_string(image.size()) + " B base64 string");
}

// ------------------------------------------------------------------ registration

const char* api_name(WireFormat f) {
  switch (f) {
    case WireFormat::anthropic_messages: return "anthropic_messages";
    case WireFormat::openai_responses: return "openai_responses";
    default: return "openai_chat";
  }
}

// The display name of a provider kind ("openai" is the openai-compatible adapter).
std::string kind_name(const std::string& kind) {
  return kind == "openai" ? "openai-compatible" : kind;
}

void reg(const std::string& name, std::function<void(benchmark::State&)> fn) {
  benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& s) { fn(s); });
}

const bool registered = [] {
  const WireFormat apis[] = {WireFormat::openai_chat, WireFormat::anthropic_messages,
                             WireFormat::openai_responses};
  const std::string kinds[] = {"openai", "anthropic", "gemini", "bedrock", "cohere", "ollama"};
  for (bool large : {false, true})
    for (WireFormat f : apis)
      reg(std::string("inbound_decode/") + api_name(f) + "/" + size_name(large),
          [f, large](benchmark::State& s) { inbound_decode(s, f, large); });
  for (bool large : {false, true}) {
    for (const std::string& k : kinds)
      reg("encode_chat/" + kind_name(k) + "/" + size_name(large),
          [k, large](benchmark::State& s) { encode_translated(s, k, large); });
    for (const std::string k : {"openai", "anthropic"})
      for (bool splice : {true, false})
        reg(std::string(splice ? "encode_chat_passthrough/" : "encode_chat_passthrough_tree/") +
                kind_name(k) + "/" + size_name(large),
            [k, large, splice](benchmark::State& s) { encode_passthrough(s, k, large, splice); });
  }
  for (const std::string& k : kinds) {
    reg("decode_chat/" + kind_name(k), [k](benchmark::State& s) { decode_answer(s, k, false); });
    if (k == "openai" || k == "anthropic")
      reg("decode_chat/" + kind_name(k) + "_passthrough",
          [k](benchmark::State& s) { decode_answer(s, k, true); });
  }
  for (const std::string& k : kinds) {
    reg("stream_event/" + kind_name(k), [k](benchmark::State& s) { stream_event(s, k, false); });
    if (k == "openai" || k == "anthropic")
      reg("stream_event/" + kind_name(k) + "_passthrough",
          [k](benchmark::State& s) { stream_event(s, k, true); });
  }
  for (const std::string& k : kinds) {
    reg("stream_whole/" + kind_name(k), [k](benchmark::State& s) { stream_whole(s, k, false); });
    if (k == "openai" || k == "anthropic")
      reg("stream_whole/" + kind_name(k) + "_passthrough",
          [k](benchmark::State& s) { stream_whole(s, k, true); });
  }
  for (WireFormat f : apis)
    reg(std::string("encode_result/") + api_name(f),
        [f](benchmark::State& s) { encode_result(s, f); });
  for (WireFormat f : apis)
    reg(std::string("stream_encode_event/") + api_name(f),
        [f](benchmark::State& s) { stream_encode_event(s, f, false); });
  for (WireFormat f : {WireFormat::openai_chat, WireFormat::anthropic_messages})
    reg(std::string("stream_encode_event/") + api_name(f) + "_raw",
        [f](benchmark::State& s) { stream_encode_event(s, f, true); });
  reg("json_string/boost_serialize", [](benchmark::State& s) { json_string(s, true); });
  reg("json_string/append_json_string", [](benchmark::State& s) { json_string(s, false); });
  return true;
}();

}  // namespace
}  // namespace torii::bench
