// ElevenLabs adapter: speech and transcription encoded to the exact upstream request, answers
// decoded into OpenAI's shapes, refusals, errors; then through the mock's ElevenLabs endpoints
// (written apart), speech -> transcription round-trips.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "core/multipart.h"
#include "providers/elevenlabs.h"
#include "providers/registry.h"
#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;
namespace {

std::unique_ptr<Provider> make(std::string base_path = "") {
  ProviderConfig c;
  c.name = "el";
  c.kind = "elevenlabs";
  c.api_key.value = "xi-secret";
  Endpoint ep;
  ep.base_path = std::move(base_path);
  auto p = make_elevenlabs(c, std::move(ep));
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

// A call of `m` on `body` (JSON text, or a form's text fields).
struct Call {
  json::object body;
  Form form;
  std::vector<std::string> ignored;
  ModalityCall call;
  Call(Modality m, std::string_view body_json, std::string_view model) {
    body = json::parse(body_json).as_object();
    call.modality = m;
    call.body = &body;
    call.upstream_model = model;
    call.ignored = &ignored;
  }
  Call(const Call&) = delete;  // `call` points into it
  // Adds the uploaded audio (transcription).
  void file(std::string_view data, std::string filename = "speech.mp3",
            std::string type = "audio/mpeg") {
    form.parts.push_back(FormPart{"file", std::move(filename), std::move(type), data});
    call.form = &form;
  }
};

Call speech(std::string_view body) {
  return Call(Modality::speech, body, "eleven_multilingual_v2");
}

Call transcription(std::string_view fields) {
  return Call(Modality::transcription, fields, "scribe_v1");
}

// The header lines of a request as Headers (the block and the per-request ones).
Headers headers_of(const UpstreamRequest& r) {
  Headers out;
  std::string_view block = r.header_block;
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    const std::size_t colon = line.find(':');
    out.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    block.remove_prefix(eol + 2);
  }
  for (const auto& h : r.headers) out.push_back(h);
  return out;
}

// The parts of a multipart request body, read with the gateway's own parser.
Form parts_of(const UpstreamRequest& r, std::string_view content_type) {
  auto boundary = multipart_boundary(content_type);
  EXPECT_TRUE(boundary.has_value()) << content_type;
  MultipartParser parser(*boundary);
  EXPECT_TRUE(parser.feed(r.body).ok());
  auto form = parser.finish(r.body);
  EXPECT_TRUE(form.ok()) << (form.ok() ? "" : form.error().message);
  return form.ok() ? std::move(*form) : Form{};
}

// --- registry --------------------------------------------------------------------------------

TEST(ElevenLabs, IsAKindWithAKeyAndNoChat) {
  const ProviderKind* k = find_provider_kind("elevenlabs");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->default_base_url, "https://api.elevenlabs.io");
  EXPECT_TRUE(k->key_required);
  auto p = make();
  const Capabilities& c = p->capabilities();
  EXPECT_TRUE(c.speech);
  EXPECT_TRUE(c.transcription);
  EXPECT_FALSE(c.translation);
  EXPECT_FALSE(c.chat);
  EXPECT_FALSE(c.image_generation);
  EXPECT_FALSE(c.supports(Modality::chat));

  ChatRequest q;
  std::vector<std::string> ignored;
  ChatCall chat;
  chat.request = &q;
  chat.ignored = &ignored;
  auto r = p->encode_chat(chat);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_NE(r.error().message.find("'el'"), std::string::npos);
  Usage usage;
  bool done = false;
  struct Sink : StreamSink {
    void event(const StreamEvent&) override {}
    void raw(std::string_view, std::string_view, bool) override {}
  } sink;
  EXPECT_FALSE(p->stream_decoder(false)->feed("data: x\n\n", sink, usage, done).ok());
}

// --- speech ----------------------------------------------------------------------------------

TEST(ElevenLabs, EncodesSpeech) {
  auto p = make("/base");
  auto c = speech(R"({"model":"el/tts","input":"Hello there","voice":"JBFqnCBsd6RMkjVDRZzb",
                      "response_format":"opus","speed":1.1})");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/base/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream?output_format=opus_48000_128");
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"text":"Hello there","model_id":"eleven_multilingual_v2",
                            "voice_settings":{"speed":1.1}})"));
  const Headers h = headers_of(*r);
  EXPECT_EQ(find_header(h, "xi-api-key"), "xi-secret");
  EXPECT_EQ(find_header(h, "content-type"), "application/json");
  EXPECT_EQ(find_header(h, "authorization"), "");
  EXPECT_TRUE(c.ignored.empty());
}

TEST(ElevenLabs, MapsEachSpeechFormat) {
  auto p = make();
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"mp3", "mp3_44100_128"}, {"opus", "opus_48000_128"}, {"pcm", "pcm_24000"},
      {"wav", "wav_24000"}};
  for (auto [format, output] : cases) {
    auto c = speech(std::string(R"({"input":"hi","voice":"v1","response_format":")") +
                    std::string(format) + "\"}");
    auto r = p->encode_modality(c.call);
    ASSERT_TRUE(r.ok()) << format;
    EXPECT_TRUE(r->path.ends_with("?output_format=" + std::string(output))) << r->path;
  }
  // No response_format: mp3. No speed: no voice_settings.
  auto c = speech(R"({"input":"hi","voice":"v1"})");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/v1/text-to-speech/v1/stream?output_format=mp3_44100_128");
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"text":"hi","model_id":"eleven_multilingual_v2"})"));
}

TEST(ElevenLabs, RefusesWhatItCannotSpeak) {
  auto p = make();
  for (std::string_view format : {"aac", "flac"}) {
    auto c = speech(std::string(R"({"input":"hi","voice":"v1","response_format":")") +
                    std::string(format) + "\"}");
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r.ok()) << format;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, "response_format");
    EXPECT_NE(r.error().message.find("'el'"), std::string::npos);
  }
  for (std::string_view speed : {"0.5", "1.5", "4"}) {
    auto c = speech(std::string(R"({"input":"hi","voice":"v1","speed":)") + std::string(speed) + "}");
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r.ok()) << speed;
    EXPECT_EQ(r.error().param, "speed");
  }
  auto sse = speech(R"({"input":"hi","voice":"v1","stream_format":"sse"})");
  auto r = p->encode_modality(sse.call);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "stream_format");
  auto novoice = speech(R"({"input":"hi"})");
  r = p->encode_modality(novoice.call);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "voice");
}

TEST(ElevenLabs, SpeechHintsWithoutCounterpartAreIgnored) {
  auto p = make();
  auto c = speech(R"({"input":"hi","voice":{"id":"voice 1/x"},"instructions":"whisper",
                      "stream_format":"audio","user":"u1"})");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/v1/text-to-speech/voice%201%2Fx/stream?output_format=mp3_44100_128");
  EXPECT_EQ(c.ignored, (std::vector<std::string>{"instructions", "user"}));
}

TEST(ElevenLabs, OutputFormatTable) {
  EXPECT_EQ(elevenlabs_output_format("mp3"), "mp3_44100_128");
  EXPECT_EQ(elevenlabs_output_format("aac"), "");
  EXPECT_EQ(elevenlabs_output_format("flac"), "");
  EXPECT_EQ(elevenlabs_output_format(""), "");
}

// --- transcription ---------------------------------------------------------------------------

TEST(ElevenLabs, EncodesTranscriptionAsMultipart) {
  auto p = make();
  auto c = transcription(R"({"model":"el/stt","language":"fr","temperature":"0.2",
                             "response_format":"srt","prompt":"names: Zoë",
                             "timestamp_granularities[]":"word"})");
  const std::string audio("ID3\x04\0MOCKAUDIO:bonjour\n\0\0", 22);
  c.file(audio, "clip.mp3", "audio/mpeg");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/v1/speech-to-text");
  const Headers h = headers_of(*r);
  EXPECT_EQ(find_header(h, "xi-api-key"), "xi-secret");
  const std::string_view type = find_header(h, "content-type");
  ASSERT_TRUE(type.starts_with("multipart/form-data; boundary=")) << type;
  Form form = parts_of(*r, type);
  ASSERT_EQ(form.parts.size(), 4u);
  EXPECT_EQ(form.parts[0].name, "model_id");
  EXPECT_EQ(form.parts[0].data, "scribe_v1");
  EXPECT_EQ(form.parts[1].name, "file");
  EXPECT_EQ(form.parts[1].filename, "clip.mp3");
  EXPECT_EQ(form.parts[1].content_type, "audio/mpeg");
  EXPECT_EQ(form.parts[1].data, audio);  // the bytes as they came, NULs included
  EXPECT_EQ(form.parts[2].name, "language_code");
  EXPECT_EQ(form.parts[2].data, "fr");
  EXPECT_EQ(form.parts[3].name, "temperature");
  EXPECT_EQ(form.parts[3].data, "0.2");
  EXPECT_EQ(c.ignored, (std::vector<std::string>{"prompt", "timestamp_granularities[]"}));
}

TEST(ElevenLabs, TranscriptionRefusals) {
  auto p = make();
  auto nofile = transcription(R"({"model":"m"})");
  auto r = p->encode_modality(nofile.call);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "file");
  auto stream = transcription(R"({"model":"m","stream":"true"})");
  stream.file("x");
  r = p->encode_modality(stream.call);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "stream");
  auto notstream = transcription(R"({"model":"m","stream":"false"})");
  notstream.file("x");
  EXPECT_TRUE(p->encode_modality(notstream.call).ok());
  auto translate = Call(Modality::translation, R"({"model":"m"})", "scribe_v1");
  translate.file("x");
  r = p->encode_modality(translate.call);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  auto images = Call(Modality::image_generation, R"({"prompt":"a cat"})", "x");
  EXPECT_FALSE(p->encode_modality(images.call).ok());
}

constexpr std::string_view kStt = R"({"language_code":"en","language_probability":0.98,
  "text":"Hello world","words":[
    {"text":"Hello","start":0.0,"end":0.52,"type":"word","logprob":-0.1},
    {"text":" ","start":0.52,"end":0.6,"type":"spacing"},
    {"text":"world","start":0.6,"end":1.25,"type":"word","logprob":-0.2}]})";

TEST(ElevenLabs, DecodesTranscriptInEachFormat) {
  auto p = make();
  auto json_call = transcription(R"({"model":"m"})");
  auto r = p->decode_modality(json_call.call, 0, "application/json", std::string(kStt));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"text":"Hello world","usage":{"type":"duration","seconds":2}})"));
  EXPECT_EQ(r->usage.audio_ms, 1250);

  auto text = transcription(R"({"model":"m","response_format":"text"})");
  r = p->decode_modality(text.call, 0, "application/json", std::string(kStt));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "Hello world\n");
  EXPECT_TRUE(r->content_type.starts_with("text/plain"));

  auto srt = transcription(R"({"model":"m","response_format":"srt"})");
  r = p->decode_modality(srt.call, 0, "application/json", std::string(kStt));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "1\n00:00:00,000 --> 00:00:01,250\nHello world\n\n");

  auto vtt = transcription(R"({"model":"m","response_format":"vtt"})");
  r = p->decode_modality(vtt.call, 0, "application/json", std::string(kStt));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello world\n\n");

  auto verbose = transcription(R"({"model":"m","response_format":"verbose_json"})");
  r = p->decode_modality(verbose.call, 0, "application/json", std::string(kStt));
  ASSERT_TRUE(r.ok());
  json::object v = json::parse(r->body).as_object();
  EXPECT_EQ(v["language"], "en");
  EXPECT_EQ(v["duration"].as_double(), 1.25);
  EXPECT_EQ(v["text"], "Hello world");
}

TEST(ElevenLabs, TranscriptWithoutWordsHasNoDuration) {
  auto p = make();
  auto c = transcription(R"({"model":"m"})");
  auto r = p->decode_modality(c.call, 0, "application/json", R"({"text":"","words":[]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"text":""})");
  EXPECT_EQ(r->usage.audio_ms, -1);
}

TEST(ElevenLabs, BadTranscriptionAnswersAre502) {
  auto p = make();
  auto c = transcription(R"({"model":"m"})");
  for (std::string_view body : {"not json", "[]", R"({"words":[]})", R"({"text":3})"}) {
    auto r = p->decode_modality(c.call, 0, "application/json", std::string(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 502);
    EXPECT_NE(r.error().message.find("'el'"), std::string::npos);
    EXPECT_EQ(r.error().message.find("xi-secret"), std::string::npos);
  }
}

TEST(ElevenLabs, MapsErrors) {
  auto p = make();
  ApiError e = p->map_error(
      422, R"({"detail":[{"type":"missing","loc":["body","text"],"msg":"Field required"}]})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("Field required"), std::string::npos);
  e = p->map_error(400, R"({"detail":{"status":"voice_not_found","message":"A voice with id x was not found."}})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("voice with id x"), std::string::npos);
  e = p->map_error(401, R"({"detail":{"status":"invalid_api_key","message":"Invalid API key"}})", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.code, "upstream_auth");
  e = p->map_error(429, R"({"detail":{"status":"too_many_concurrent_requests","message":"busy"}})", "3");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after, "3");
  EXPECT_TRUE(e.retryable);
  e = p->map_error(503, "upstream down", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_TRUE(e.retryable);
  EXPECT_NE(e.message.find("upstream down"), std::string::npos);
}

// --- through the mock ------------------------------------------------------------------------

const MockEndpoint* endpoint_for(std::string_view method, std::string_view path) {
  for (const MockEndpoint* e : mock_endpoints())
    if (e->matches(method, path)) return e;
  return nullptr;
}

// Sends `r` to the mock endpoint that serves its path.
MockAnswer send(const UpstreamRequest& r, const MockKnobs& knobs = {}) {
  static MockJobs jobs;
  const Headers headers = headers_of(r);
  const std::string_view target = r.path;
  const std::string_view path = target.substr(0, target.find('?'));
  const MockEndpoint* e = endpoint_for(r.method, path);
  EXPECT_NE(e, nullptr) << path;
  if (!e) return MockAnswer{};
  const MockRequest req{r.method, target, path, headers, r.body};
  return e->answer(req, knobs, jobs);
}

std::string joined(const MockAnswer& a) {
  if (a.pieces.empty()) return a.body;
  std::string out;
  for (const auto& p : a.pieces) out += p;
  return out;
}

TEST(ElevenLabsMock, SpeechRoundTripsThroughTranscription) {
  auto p = make();
  for (std::string_view format : {"mp3", "wav", "opus", "pcm"}) {
    auto say = speech(std::string(R"({"input":"the quick brown fox","voice":"v1","speed":0.9,
                                     "response_format":")") + std::string(format) + "\"}");
    auto r = p->encode_modality(say.call);
    ASSERT_TRUE(r.ok());
    MockKnobs knobs;
    knobs.chunks = 3;
    MockAnswer spoken = send(*r, knobs);
    ASSERT_EQ(spoken.status, 200) << spoken.body;
    EXPECT_EQ(spoken.pieces.size(), 3u);
    const std::string audio = joined(spoken);
    if (format == "wav") {
      EXPECT_TRUE(audio.starts_with("RIFF"));
    }
    if (format == "mp3") {
      EXPECT_EQ(spoken.content_type, "audio/mpeg");
    }

    auto hear = transcription(R"({"model":"m","response_format":"verbose_json","language":"en"})");
    hear.file(audio, "speech." + std::string(format), spoken.content_type);
    auto up = p->encode_modality(hear.call);
    ASSERT_TRUE(up.ok());
    MockAnswer heard = send(*up);
    ASSERT_EQ(heard.status, 200) << heard.body;
    auto out = p->decode_modality(hear.call, 0, heard.content_type, std::move(heard.body));
    ASSERT_TRUE(out.ok()) << out.error().message;
    json::object v = json::parse(out->body).as_object();
    EXPECT_EQ(v["text"], "the quick brown fox") << format;
    EXPECT_EQ(v["language"], "en");
    // The duration is the last word's end: the whole audio as the mock measures it.
    const double seconds = mock_audio_seconds(audio);
    EXPECT_NEAR(v["duration"].as_double(), seconds, 0.001);
    EXPECT_NEAR(static_cast<double>(out->usage.audio_ms), seconds * 1000, 1.0);
  }
}

TEST(ElevenLabsMock, RequiresTheKeyInItsHeader) {
  ProviderConfig c;
  c.name = "nokey";
  auto p = std::move(*make_elevenlabs(c, Endpoint{}));
  auto say = speech(R"({"input":"hi","voice":"v1"})");
  auto r = p->encode_modality(say.call);
  ASSERT_TRUE(r.ok());
  MockAnswer a = send(*r);
  EXPECT_EQ(a.status, 401);
  ApiError e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.code, "upstream_auth");

  auto hear = transcription(R"({"model":"m"})");
  hear.file("MOCKAUDIO:hi\n");
  auto up = p->encode_modality(hear.call);
  ASSERT_TRUE(up.ok());
  a = send(*up);
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(json::parse(a.body).at("detail").at("status"), "invalid_api_key");
}

TEST(ElevenLabsMock, ValidatesWhatTheApiRequires) {
  auto p = make();
  // A model that is not a speech-to-text model: the mock's 400, mapped to the client's 400.
  auto hear = Call(Modality::transcription, R"({"model":"m"})", "eleven_multilingual_v2");
  hear.file("MOCKAUDIO:hi\n");
  auto up = p->encode_modality(hear.call);
  ASSERT_TRUE(up.ok());
  MockAnswer a = send(*up);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(p->map_error(a.status, a.body, "").status, 400);

  // A body without text: FastAPI's 422, whose message reaches the client.
  UpstreamRequest raw = *p->encode_modality(speech(R"({"input":"hi","voice":"v1"})").call);
  raw.body = R"({"model_id":"eleven_multilingual_v2"})";
  a = send(raw);
  EXPECT_EQ(a.status, 422);
  ApiError e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("Field required"), std::string::npos);

  // An output format ElevenLabs does not have.
  raw.body = R"({"text":"hi"})";
  raw.path = "/v1/text-to-speech/v1/stream?output_format=aac_44100";
  a = send(raw);
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body.find("invalid_output_format"), std::string::npos);

  // An injected fault in ElevenLabs' shape.
  const MockEndpoint* tts = endpoint_for("POST", "/v1/text-to-speech/v1/stream");
  ASSERT_NE(tts, nullptr);
  MockAnswer fault = tts->error(ApiError::rate_limited("slow down", "2"));
  EXPECT_EQ(fault.status, 429);
  e = p->map_error(fault.status, fault.body, "2");
  EXPECT_EQ(e.status, 429);
  EXPECT_NE(e.message.find("slow down"), std::string::npos);
}

}  // namespace
}  // namespace torii
