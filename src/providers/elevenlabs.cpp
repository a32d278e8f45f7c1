#include "providers/elevenlabs.h"

#include <cstdlib>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/path_segment.h"
#include "core/json_access.h"
#include "core/multipart.h"
#include "providers/no_chat.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::arr_at;
using jsonx::obj_at;
using jsonx::str_at;

constexpr std::string_view kKind = "elevenlabs";

// ElevenLabs' voice_settings.speed range.
constexpr double kMinSpeed = 0.7, kMaxSpeed = 1.2;

// A JSON number, or a number written as text (a form field); nullopt otherwise.
std::optional<double> number_of(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  if (v.is_string() && !v.get_string().empty()) {
    std::string s(v.get_string());
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return d;
  }
  return std::nullopt;
}

// The message of an ElevenLabs error body: {"detail":{"status","message"}}, FastAPI's
// {"detail":[{"msg"}...]} or {"detail":"..."}; else the body itself.
std::string error_message(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    if (const json::object* d = obj_at(o, "detail")) {
      std::string m(str_at(*d, "message"));
      if (m.empty()) m = str_at(*d, "status");
      if (!m.empty()) return upstream_excerpt(m);
    } else if (const json::array* a = arr_at(o, "detail"); a && !a->empty() &&
                                                          a->front().is_object()) {
      if (auto m = str_at(a->front().get_object(), "msg"); !m.empty()) return upstream_excerpt(m);
    } else if (auto m = str_at(o, "detail"); !m.empty()) {
      return upstream_excerpt(m);
    }
  }
  return upstream_excerpt(body);
}

class ElevenLabs final : public NoChatProvider {
 public:
  ElevenLabs(const ProviderConfig& c, Endpoint ep)
      : name_(c.name), endpoint_(std::move(ep)), models_(c.models) {
    caps_.speech = caps_.transcription = true;
    std::string block = "User-Agent: torii\r\n";
    if (!c.api_key.empty()) block += "xi-api-key: " + c.api_key.value + "\r\n";
    for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
    headers_speech_ = "Content-Type: application/json\r\n" + block + "Accept: */*\r\n";
    headers_stt_ = block + "Accept: application/json\r\n";  // Content-Type: per request
  }

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return kKind; }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality == Modality::speech) return encode_speech(call);
    if (call.modality == Modality::transcription) return encode_transcription(call);
    return ApiError::invalid_request("provider '" + name_ + "' (elevenlabs) does not serve " +
                                     std::string(modality_name(call.modality)));
  }

  Result<ModalityReply> decode_modality(const ModalityCall& call, int step,
                                        std::string_view content_type,
                                        std::string&& body) const override {
    if (call.modality != Modality::transcription || step != 0)
      return ApiError::bad_gateway("provider '" + name_ + "' has no answer to decode for " +
                                   std::string(modality_name(call.modality)));
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
    const json::value* text = o ? o->if_contains("text") : nullptr;
    if (!text || !text->is_string())
      return ApiError::bad_gateway("provider '" + name_ +
                                   "' returned a transcription that is not {\"text\":...}");
    Transcript t;
    t.text = text->get_string();
    t.language = str_at(*o, "language_code");
    if (const json::array* words = arr_at(*o, "words")) {
      for (auto it = words->rbegin(); it != words->rend(); ++it) {
        if (!it->is_object()) continue;
        const json::value* end = it->get_object().if_contains("end");
        if (auto e = end ? number_of(*end) : std::nullopt; e && *e >= 0) {
          t.seconds = *e;
          break;
        }
      }
    }
    std::string format = field_text(call, "response_format");
    if (format.empty()) format = "json";
    ModalityReply reply;
    encode_transcript(t, format, reply);
    return reply;
  }

  ApiError map_error(int status, std::string_view body, std::string_view retry_after) const override {
    return map_upstream_status(name_, status, error_message(body), retry_after);
  }

 private:
  Result<UpstreamRequest> encode_speech(const ModalityCall& call) const {
    const json::object& b = *call.body;
    std::string voice;
    if (const json::value* v = b.if_contains("voice")) {
      if (v->is_string()) voice = v->get_string();
      else if (v->is_object()) voice = str_at(v->get_object(), "id");
    }
    if (voice.empty())
      return ApiError::invalid_request("'voice' (the ElevenLabs voice id) is required", "voice");
    const json::value* input = b.if_contains("input");
    if (!input || !input->is_string())
      return ApiError::invalid_request("'input' must be a string", "input");
    std::string format = field_text(call, "response_format");
    if (format.empty()) format = "mp3";
    const std::string_view output = elevenlabs_output_format(format);
    if (output.empty())
      return no_counterpart(name_, kKind, "response_format",
                            "ElevenLabs speaks mp3, opus, wav or pcm, not " + format);

    json::object out;
    out["text"] = input->get_string();
    out["model_id"] = json::string_view(call.upstream_model.data(), call.upstream_model.size());
    for (const auto& [key, value] : b) {
      if (key == "model" || key == "input" || key == "voice" || key == "response_format") continue;
      if (value.is_null()) continue;
      if (key == "speed") {
        auto speed = number_of(value);
        if (!speed) return ApiError::invalid_request("'speed' must be a number", "speed");
        if (*speed < kMinSpeed || *speed > kMaxSpeed)
          return no_counterpart(name_, kKind, "speed",
                                "ElevenLabs' speed ranges from 0.7 to 1.2");
        out["voice_settings"] = json::object{{"speed", *speed}};
      } else if (key == "stream_format") {
        if (field_text(call, "stream_format") == "sse")
          return no_counterpart(name_, kKind, "stream_format",
                                "ElevenLabs streams raw audio, not events");
      } else {
        add_ignored(*call.ignored, key);  // instructions, and anything unknown
      }
    }
    UpstreamRequest r;
    r.path = endpoint_.base_path + "/v1/text-to-speech/";
    append_path_segment(r.path, voice);
    r.path += "/stream?output_format=";
    r.path += output;
    r.header_block = headers_speech_;
    r.body = json::serialize(out);
    return r;
  }

  Result<UpstreamRequest> encode_transcription(const ModalityCall& call) const {
    const FormPart* file = call.form ? call.form->find("file") : nullptr;
    if (!file || file->filename.empty())
      return ApiError::invalid_request("'file' (the audio to transcribe) is required", "file");
    MultipartWriter form;
    form.field("model_id", call.upstream_model);
    form.file("file", file->filename, file->content_type, file->data);
    if (call.body) {
      for (const auto& [key, value] : *call.body) {
        if (key == "model" || key == "file" || key == "response_format" || value.is_null())
          continue;
        const std::string text = field_text(call, key);
        if (key == "language") {
          if (!text.empty()) form.field("language_code", text);
        } else if (key == "temperature") {
          if (!number_of(value))
            return ApiError::invalid_request("'temperature' must be a number", "temperature");
          form.field("temperature", text);
        } else if (key == "stream") {
          if (text == "true")
            return no_counterpart(name_, kKind, "stream",
                                  "ElevenLabs answers a transcription whole");
        } else {
          add_ignored(*call.ignored, key);  // prompt, timestamp_granularities, ...
        }
      }
    }
    UpstreamRequest r;
    r.path = endpoint_.base_path + "/v1/speech-to-text";
    r.header_block = headers_stt_;
    r.headers.emplace_back("Content-Type", form.content_type());
    r.body = form.close();
    return r;
  }

  std::string name_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  std::string headers_speech_, headers_stt_;  // prebuilt header lines (they hold the key)
};

}  // namespace

std::string_view elevenlabs_output_format(std::string_view f) {
  if (f == "mp3") return "mp3_44100_128";
  if (f == "opus") return "opus_48000_128";
  if (f == "pcm") return "pcm_24000";
  if (f == "wav") return "wav_24000";
  return {};
}

Result<std::unique_ptr<Provider>> make_elevenlabs(const ProviderConfig& config, Endpoint endpoint) {
  return std::unique_ptr<Provider>(std::make_unique<ElevenLabs>(config, std::move(endpoint)));
}

}  // namespace torii
