// OpenAI's images and audio endpoints, as the mock plays them:
//   POST /v1/images/generations  JSON; n images (1x1 PNGs), as URLs or base64
//   POST /v1/images/edits        multipart: image file(s) + prompt; same answer
//   POST /v1/audio/speech        JSON; fake audio (mock_audio) streamed in `chunks` pieces
//   POST /v1/audio/transcriptions, /v1/audio/translations  multipart: the file read back
#include <cmath>
#include <ctime>

#include <boost/json.hpp>

#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;

namespace {

bool is_path(std::string_view path, std::string_view tail) {
  return path == tail || (path.size() == tail.size() + 3 && path.starts_with("/v1") &&
                          path.substr(3) == tail);
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  out += '"';
  return out;
}

std::atomic<std::int64_t> next_image{0};

// {"created","data":[...]} for `n` images of `prompt`.
std::string images_body(int n, bool b64, std::string_view prompt) {
  std::string out = "{\"created\":" + std::to_string(std::time(nullptr)) + ",\"data\":[";
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    if (b64) {
      out += "{\"b64_json\":\"" + std::string(kMockPngB64) + "\"";
    } else {
      out += "{\"url\":\"https://images.mock.invalid/img-" + std::to_string(++next_image) +
             ".png\"";
    }
    out += ",\"revised_prompt\":" + quoted(prompt) + "}";
  }
  out += "]}";
  return out;
}

// n and response_format, shared by generations and edits ("" when the field is absent).
Result<std::pair<int, bool>> image_options(std::string_view n_text, std::string_view format,
                                           std::string_view model) {
  int n = 1;
  if (!n_text.empty()) {
    n = 0;
    for (char c : n_text) {
      if (c < '0' || c > '9' || n > 100) return ApiError::invalid_request("'n' must be 1 to 10", "n");
      n = n * 10 + (c - '0');
    }
    if (n < 1 || n > 10) return ApiError::invalid_request("'n' must be 1 to 10", "n");
  }
  bool b64 = model.starts_with("gpt-image");  // gpt-image-1 answers base64 only
  if (format == "b64_json") b64 = true;
  else if (format == "url") b64 = false;
  else if (!format.empty())
    return ApiError::invalid_request("'response_format' must be url or b64_json",
                                     "response_format");
  return std::pair{n, b64};
}

std::string text_of(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_null()) return {};
  return json::serialize(*v);
}

class Images final : public MockEndpoint {
 public:
  std::string_view name() const override { return "openai-images"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return is_path(path, "/images/generations");
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    json::error_code ec;
    json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object())
      return MockAnswer::openai_error(ApiError::invalid_request("the body must be a JSON object"));
    const json::object& o = doc.get_object();
    const auto* prompt = o.if_contains("prompt");
    if (!prompt || !prompt->is_string() || prompt->get_string().empty())
      return MockAnswer::openai_error(ApiError::invalid_request("'prompt' is required", "prompt"));
    auto opt = image_options(text_of(o, "n"), text_of(o, "response_format"), text_of(o, "model"));
    if (!opt) return MockAnswer::openai_error(opt.error());
    return MockAnswer::json(images_body(opt->first, opt->second, prompt->get_string()));
  }
};

class ImageEdits final : public MockEndpoint {
 public:
  std::string_view name() const override { return "openai-image-edits"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return is_path(path, "/images/edits");
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    auto parts = mock_multipart(req.header("content-type"), req.body);
    if (!parts) return MockAnswer::openai_error(parts.error());
    std::string prompt, n, format, model;
    int images = 0;
    for (const auto& p : *parts) {
      if (p.name == "image" || p.name == "image[]") images += p.filename.empty() ? 0 : 1;
      else if (p.name == "prompt") prompt = p.data;
      else if (p.name == "n") n = p.data;
      else if (p.name == "response_format") format = p.data;
      else if (p.name == "model") model = p.data;
    }
    if (images == 0)
      return MockAnswer::openai_error(ApiError::invalid_request("'image' is required", "image"));
    if (prompt.empty())
      return MockAnswer::openai_error(ApiError::invalid_request("'prompt' is required", "prompt"));
    auto opt = image_options(n, format, model);
    if (!opt) return MockAnswer::openai_error(opt.error());
    return MockAnswer::json(images_body(opt->first, opt->second, prompt));
  }
};

class Speech final : public MockEndpoint {
 public:
  std::string_view name() const override { return "openai-speech"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return is_path(path, "/audio/speech");
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs& knobs, MockJobs&) const override {
    json::error_code ec;
    json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object())
      return MockAnswer::openai_error(ApiError::invalid_request("the body must be a JSON object"));
    const json::object& o = doc.get_object();
    const auto* input = o.if_contains("input");
    if (!input || !input->is_string() || input->get_string().empty())
      return MockAnswer::openai_error(ApiError::invalid_request("'input' is required", "input"));
    if (const auto* v = o.if_contains("voice"); !v || v->is_null())
      return MockAnswer::openai_error(ApiError::invalid_request("'voice' is required", "voice"));
    std::string format = text_of(o, "response_format");
    if (format.empty()) format = "mp3";
    const std::string_view type = mock_audio_type(format);
    if (type.empty())
      return MockAnswer::openai_error(ApiError::invalid_request(
          "'response_format' must be mp3, opus, aac, flac, wav or pcm", "response_format"));
    return speak(input->get_string(), format, knobs);
  }

  // The audio of `text`, in knobs.chunks pieces (at least one).
  static MockAnswer speak(std::string_view text, std::string_view format, const MockKnobs& knobs) {
    const std::size_t bytes = std::min<std::size_t>(400 * text.size(), 1u << 20);
    std::string audio = mock_audio(text, format, bytes);
    MockAnswer a;
    a.content_type = std::string(mock_audio_type(format));
    const std::size_t pieces = static_cast<std::size_t>(std::max(knobs.chunks, 1));
    const std::size_t size = (audio.size() + pieces - 1) / pieces;
    for (std::size_t at = 0; at < audio.size(); at += size)
      a.pieces.push_back(audio.substr(at, size));
    return a;
  }
};

// "HH:MM:SS,mmm" / "HH:MM:SS.mmm".
std::string clock_text(double seconds, char sep) {
  const long long ms = std::llround(seconds * 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60,
                ms / 1000 % 60, sep, ms % 1000);
  return buf;
}

class Transcriptions final : public MockEndpoint {
 public:
  std::string_view name() const override { return "openai-transcriptions"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return is_path(path, "/audio/transcriptions") || is_path(path, "/audio/translations");
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    const bool translate = req.path.ends_with("/translations");
    auto parts = mock_multipart(req.header("content-type"), req.body);
    if (!parts) return MockAnswer::openai_error(parts.error());
    const MockPart* file = nullptr;
    std::string model, format, language;
    for (const auto& p : *parts) {
      if (p.name == "file") file = &p;
      else if (p.name == "model") model = p.data;
      else if (p.name == "response_format") format = p.data;
      else if (p.name == "language") language = p.data;
    }
    if (!file || file->filename.empty())
      return MockAnswer::openai_error(ApiError::invalid_request("'file' is required", "file"));
    if (model.empty())
      return MockAnswer::openai_error(ApiError::invalid_request("'model' is required", "model"));
    return transcript(mock_transcribe(file->data), mock_audio_seconds(file->data),
                      translate ? "english" : (language.empty() ? "en" : language),
                      format.empty() ? "json" : format, translate);
  }

  static MockAnswer transcript(const std::string& text, double seconds, std::string_view language,
                               std::string_view format, bool translate) {
    MockAnswer a;
    if (format == "text") {
      a.content_type = "text/plain; charset=utf-8";
      a.body = text + "\n";
    } else if (format == "srt" || format == "vtt") {
      const char sep = format == "srt" ? ',' : '.';
      a.content_type = format == "srt" ? "text/plain; charset=utf-8" : "text/vtt; charset=utf-8";
      a.body = (format == "vtt" ? "WEBVTT\n\n" : "1\n") + clock_text(0, sep) + " --> " +
               clock_text(seconds, sep) + "\n" + text + "\n\n";
    } else if (format == "verbose_json") {
      char dur[32];
      std::snprintf(dur, sizeof dur, "%.3f", seconds);
      a.body = std::string("{\"task\":\"") + (translate ? "translate" : "transcribe") +
               "\",\"language\":" + quoted(language) + ",\"duration\":" + dur +
               ",\"text\":" + quoted(text) + ",\"segments\":[{\"id\":0,\"start\":0,\"end\":" +
               dur + ",\"text\":" + quoted(text) + "}]}";
    } else if (format == "json") {
      a.body = "{\"text\":" + quoted(text) + ",\"usage\":{\"type\":\"duration\",\"seconds\":" +
               std::to_string(static_cast<long long>(std::ceil(seconds))) + "}}";
    } else {
      return MockAnswer::openai_error(ApiError::invalid_request(
          "'response_format' must be json, text, srt, verbose_json or vtt", "response_format"));
    }
    return a;
  }
};

}  // namespace

const MockEndpoint& mock_openai_images() {
  static const Images e;
  return e;
}
const MockEndpoint& mock_openai_image_edits() {
  static const ImageEdits e;
  return e;
}
const MockEndpoint& mock_openai_speech() {
  static const Speech e;
  return e;
}
const MockEndpoint& mock_openai_transcriptions() {
  static const Transcriptions e;
  return e;
}

}  // namespace torii
