// ElevenLabs' audio endpoints, as the mock plays them (key in `xi-api-key`, else 401):
//   POST /v1/text-to-speech/{voice_id}[/stream]?output_format=<codec_rate[_bitrate]>
//        JSON {"text","model_id"?,"voice_settings"?}; fake audio (mock_audio) in `chunks` pieces
//   POST /v1/speech-to-text  multipart: model_id, file, language_code?; the file read back as
//        {"language_code","language_probability","text","words":[{"text","start","end",...}]}
// Errors in ElevenLabs' shape: {"detail":{"status","message"}}; a missing field is FastAPI's
// 422 {"detail":[{"type","loc","msg"}]}. Model ids are free (tests use their own), but a model
// of the other side (scribe_* for speech, eleven_* for transcription) is a 400.
#include <cstdio>

#include <boost/json.hpp>

#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;

namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  out += '"';
  return out;
}

MockAnswer detail_error(int status, std::string_view code, std::string_view message) {
  MockAnswer a;
  a.status = status;
  a.body = "{\"detail\":{\"status\":" + quoted(code) + ",\"message\":" + quoted(message) + "}}";
  return a;
}

// FastAPI's answer for a required field that is absent.
MockAnswer missing_field(std::string_view field) {
  MockAnswer a;
  a.status = 422;
  a.body = "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\"," + quoted(field) +
           "],\"msg\":\"Field required\",\"input\":null}]}";
  return a;
}

std::optional<MockAnswer> check_key(const MockRequest& req) {
  if (req.header("xi-api-key").empty())
    return detail_error(401, "invalid_api_key", "Invalid API key: send it in the xi-api-key header");
  return std::nullopt;
}

// The query parameter `key` of a target ("" when absent).
std::string_view query_param(std::string_view target, std::string_view key) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=')
      return pair.substr(key.size() + 1);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

// ElevenLabs' output formats, and the mock audio format each is played as.
struct OutputFormat {
  std::string_view name, mock, content_type;
};
constexpr OutputFormat kOutputFormats[] = {
    {"mp3_22050_32", "mp3", "audio/mpeg"},   {"mp3_44100_32", "mp3", "audio/mpeg"},
    {"mp3_44100_64", "mp3", "audio/mpeg"},   {"mp3_44100_96", "mp3", "audio/mpeg"},
    {"mp3_44100_128", "mp3", "audio/mpeg"},  {"mp3_44100_192", "mp3", "audio/mpeg"},
    {"pcm_8000", "pcm", "audio/pcm"},        {"pcm_16000", "pcm", "audio/pcm"},
    {"pcm_22050", "pcm", "audio/pcm"},       {"pcm_24000", "pcm", "audio/pcm"},
    {"pcm_44100", "pcm", "audio/pcm"},       {"pcm_48000", "pcm", "audio/pcm"},
    {"wav_8000", "wav", "audio/wav"},        {"wav_16000", "wav", "audio/wav"},
    {"wav_22050", "wav", "audio/wav"},       {"wav_24000", "wav", "audio/wav"},
    {"wav_44100", "wav", "audio/wav"},       {"wav_48000", "wav", "audio/wav"},
    {"ulaw_8000", "pcm", "audio/basic"},     {"alaw_8000", "pcm", "audio/basic"},
    {"opus_48000_32", "opus", "audio/ogg"},  {"opus_48000_64", "opus", "audio/ogg"},
    {"opus_48000_96", "opus", "audio/ogg"},  {"opus_48000_128", "opus", "audio/ogg"},
    {"opus_48000_192", "opus", "audio/ogg"},
};

// "/v1/text-to-speech/{voice}" or ".../stream": the voice id, or "" when the path is another.
std::string_view tts_voice(std::string_view path) {
  constexpr std::string_view prefix = "/v1/text-to-speech/";
  if (!path.starts_with(prefix)) return {};
  std::string_view rest = path.substr(prefix.size());
  if (rest.ends_with("/stream")) rest.remove_suffix(7);
  if (rest.empty() || rest.find('/') != std::string_view::npos) return {};
  return rest;
}

class TextToSpeech final : public MockEndpoint {
 public:
  std::string_view name() const override { return "elevenlabs-tts"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return method == "POST" && !tts_voice(path).empty();
  }
  MockAnswer error(const ApiError& e) const override {
    MockAnswer a = detail_error(e.status, e.code.empty() ? e.type : e.code, e.message);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs& knobs, MockJobs&) const override {
    if (auto denied = check_key(req)) return *denied;
    std::string_view format = query_param(req.target, "output_format");
    if (format.empty()) format = "mp3_44100_128";
    const OutputFormat* out = nullptr;
    for (const auto& f : kOutputFormats)
      if (f.name == format) out = &f;
    if (!out)
      return detail_error(400, "invalid_output_format",
                          "output_format '" + std::string(format) + "' is not supported");
    json::error_code ec;
    json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object())
      return detail_error(400, "invalid_json", "the body must be a JSON object");
    const json::object& o = doc.get_object();
    const auto* text = o.if_contains("text");
    if (!text || text->is_null()) return missing_field("text");
    if (!text->is_string() || text->get_string().empty())
      return detail_error(400, "invalid_text", "'text' must be a non-empty string");
    if (const auto* m = o.if_contains("model_id"); m && !m->is_null()) {
      if (!m->is_string() || m->get_string().starts_with("scribe_"))
        return detail_error(400, "model_not_found", "model_id is not a text-to-speech model");
    }
    if (const auto* vs = o.if_contains("voice_settings"); vs && !vs->is_null()) {
      if (!vs->is_object())
        return detail_error(400, "invalid_voice_settings", "voice_settings must be an object");
      if (const auto* s = vs->get_object().if_contains("speed")) {
        const double speed = s->is_double() ? s->get_double()
                             : s->is_int64() ? static_cast<double>(s->get_int64())
                                             : -1;
        if (speed < 0.7 || speed > 1.2)
          return detail_error(400, "invalid_voice_settings",
                              "voice_settings.speed must be between 0.7 and 1.2");
      }
    }
    const std::string_view said = text->get_string();
    const std::size_t bytes = std::min<std::size_t>(400 * said.size(), 1u << 20);
    const std::string audio = mock_audio(said, out->mock, bytes);
    MockAnswer a;
    a.content_type = std::string(out->content_type);
    a.headers.emplace_back("character-cost", std::to_string(said.size()));
    const std::size_t pieces = static_cast<std::size_t>(std::max(knobs.chunks, 1));
    const std::size_t size = (audio.size() + pieces - 1) / pieces;
    for (std::size_t at = 0; at < audio.size(); at += size)
      a.pieces.push_back(audio.substr(at, size));
    return a;
  }
};

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

class SpeechToText final : public MockEndpoint {
 public:
  std::string_view name() const override { return "elevenlabs-stt"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return method == "POST" && path == "/v1/speech-to-text";
  }
  MockAnswer error(const ApiError& e) const override {
    MockAnswer a = detail_error(e.status, e.code.empty() ? e.type : e.code, e.message);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    if (auto denied = check_key(req)) return *denied;
    auto parts = mock_multipart(req.header("content-type"), req.body);
    if (!parts) return detail_error(400, "invalid_body", parts.error().message);
    const MockPart* file = nullptr;
    std::string model, language;
    for (const auto& p : *parts) {
      if (p.name == "file") file = &p;
      else if (p.name == "model_id") model = p.data;
      else if (p.name == "language_code") language = p.data;
    }
    if (model.empty()) return missing_field("model_id");
    if (model.starts_with("eleven_"))
      return detail_error(400, "invalid_model_id", "model_id is not a speech-to-text model");
    if (!file || file->filename.empty()) return missing_field("file");
    const std::string text = mock_transcribe(file->data);
    const double seconds = mock_audio_seconds(file->data);
    // The words, spread evenly over the audio, with the spaces between them.
    std::vector<std::string_view> words;
    std::string_view rest = text;
    while (!rest.empty()) {
      const std::size_t sp = rest.find(' ');
      if (sp != 0) words.push_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
    std::string list;
    for (std::size_t i = 0; i < words.size(); ++i) {
      const std::string start = seconds_text(seconds * i / words.size());
      const std::string end = seconds_text(seconds * (i + 1) / words.size());
      if (i) {
        list += ",{\"text\":\" \",\"start\":" + start + ",\"end\":" + start +
                ",\"type\":\"spacing\",\"logprob\":0.0},";
      }
      list += "{\"text\":" + quoted(words[i]) + ",\"start\":" + start + ",\"end\":" + end +
              ",\"type\":\"word\",\"logprob\":0.0}";
    }
    return MockAnswer::json("{\"language_code\":" + quoted(language.empty() ? "en" : language) +
                            ",\"language_probability\":1.0,\"text\":" + quoted(text) +
                            ",\"words\":[" + list + "]}");
  }
};

}  // namespace

const MockEndpoint& mock_elevenlabs_tts() {
  static const TextToSpeech e;
  return e;
}
const MockEndpoint& mock_elevenlabs_stt() {
  static const SpeechToText e;
  return e;
}

}  // namespace torii
