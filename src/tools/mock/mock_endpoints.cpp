// The mock's endpoint table and what its endpoints share: jobs, fake audio, a multipart reader.
#include <strings.h>

#include <algorithm>
#include <cstring>

#include "tools/mock/mock_endpoint.h"

namespace torii {

// Each vendor's file defines its endpoints' singletons.
const MockEndpoint& mock_openai_images();
const MockEndpoint& mock_openai_image_edits();
const MockEndpoint& mock_openai_speech();
const MockEndpoint& mock_openai_transcriptions();
const MockEndpoint& mock_gemini_predict();
const MockEndpoint& mock_gemini_embed();
const MockEndpoint& mock_leonardo();
const MockEndpoint& mock_luma();
const MockEndpoint& mock_elevenlabs_tts();
const MockEndpoint& mock_elevenlabs_stt();
const MockEndpoint& mock_hive_images();
const MockEndpoint& mock_cohere_embed();
const MockEndpoint& mock_bedrock_invoke();
const MockEndpoint& mock_ollama_embed();

const std::vector<const MockEndpoint*>& mock_endpoints() {
  static const std::vector<const MockEndpoint*> all = {
      &mock_openai_images(),
      &mock_openai_image_edits(),
      &mock_openai_speech(),
      &mock_openai_transcriptions(),
      &mock_gemini_predict(),
      &mock_gemini_embed(),
      &mock_leonardo(),
      &mock_luma(),
      &mock_elevenlabs_tts(),
      &mock_elevenlabs_stt(),
      &mock_hive_images(),
      &mock_cohere_embed(),
      &mock_bedrock_invoke(),
      &mock_ollama_embed(),
  };
  return all;
}

MockAnswer MockAnswer::openai_error(const ApiError& e) {
  MockAnswer a;
  a.status = e.status;
  a.body = to_openai_json(e);
  if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
  return a;
}

std::string MockJobs::create(std::string payload, int polls) {
  std::lock_guard lock(mutex_);
  std::string id = "job-" + std::to_string(++next_);
  jobs_[id] = Job{std::move(payload), polls};
  return id;
}

std::optional<MockJobs::Poll> MockJobs::poll(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(std::string(id));
  if (it == jobs_.end()) return std::nullopt;
  Poll p;
  if (it->second.polls_left > 0) {
    --it->second.polls_left;
    return p;
  }
  p.done = true;
  p.payload = it->second.payload;
  return p;
}

namespace {

void put_le(std::string& out, std::uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_le32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string_view mock_audio_type(std::string_view format) {
  if (format == "mp3") return "audio/mpeg";
  if (format == "wav") return "audio/wav";
  if (format == "opus") return "audio/opus";
  if (format == "aac") return "audio/aac";
  if (format == "flac") return "audio/flac";
  if (format == "pcm") return "audio/pcm";
  return {};
}

std::string mock_audio(std::string_view text, std::string_view format, std::size_t bytes) {
  std::string marker = std::string(kMockAudioMarker) + std::string(text) + "\n";
  std::string out;
  if (format == "wav") {
    const std::size_t data = std::max(bytes, marker.size());
    out += "RIFF";
    put_le(out, static_cast<std::uint32_t>(36 + data), 4);
    out += "WAVEfmt ";
    put_le(out, 16, 4);
    put_le(out, 1, 2);       // PCM
    put_le(out, 1, 2);       // mono
    put_le(out, 16000, 4);   // sample rate
    put_le(out, 32000, 4);   // byte rate
    put_le(out, 2, 2);       // block align
    put_le(out, 16, 2);      // bits per sample
    out += "data";
    put_le(out, static_cast<std::uint32_t>(data), 4);
  } else if (format == "mp3") {
    out += "ID3\x04";
    out.push_back('\0');
  } else if (format == "flac") {
    out += "fLaC";
  } else if (format == "opus") {
    out += "OggS";
  }
  out += marker;
  while (out.size() < bytes + (format == "wav" ? 44 : 0)) out.push_back('\0');
  return out;
}

std::string mock_transcribe(std::string_view file) {
  const std::size_t at = file.find(kMockAudioMarker);
  if (at != std::string_view::npos) {
    const std::size_t from = at + kMockAudioMarker.size();
    const std::size_t end = file.find('\n', from);
    return std::string(file.substr(from, end == std::string_view::npos ? file.npos : end - from));
  }
  return "[" + std::to_string(file.size()) + " bytes of audio]";
}

double mock_audio_seconds(std::string_view file) {
  double seconds = static_cast<double>(file.size()) / 16000.0;
  if (file.size() >= 44 && file.substr(0, 4) == "RIFF" && file.substr(8, 4) == "WAVE" &&
      file.substr(36, 4) == "data") {
    const std::uint32_t rate = get_le32(file, 28);
    const std::uint32_t data = get_le32(file, 40);
    if (rate > 0) seconds = static_cast<double>(data) / rate;
  }
  return std::max(seconds, 0.1);
}

Result<std::vector<MockPart>> mock_multipart(std::string_view content_type, std::string_view body) {
  auto bad = [](std::string why) {
    return ApiError::invalid_request("mock: bad multipart body: " + why);
  };
  const std::size_t b = content_type.find("boundary=");
  if (content_type.substr(0, 19) != "multipart/form-data" || b == std::string_view::npos)
    return bad("Content-Type is not multipart/form-data with a boundary");
  std::string boundary(content_type.substr(b + 9));
  if (const auto semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"') boundary = boundary.substr(1, boundary.size() - 2);
  const std::string delim = "--" + boundary;
  std::vector<MockPart> parts;
  std::size_t at = body.find(delim);
  if (at == std::string_view::npos) return bad("no boundary");
  for (;;) {
    at += delim.size();
    if (body.substr(at, 2) == "--") return parts;
    if (body.substr(at, 2) != "\r\n") return bad("no CRLF after a boundary");
    at += 2;
    const std::size_t head_end = body.find("\r\n\r\n", at);
    if (head_end == std::string_view::npos) return bad("unterminated part headers");
    MockPart part;
    std::string_view head = body.substr(at, head_end - at);
    while (!head.empty()) {
      const std::size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) return bad("bad part header");
      std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (iequal(name, "content-type")) part.content_type = std::string(value);
      if (!iequal(name, "content-disposition")) continue;
      auto param = [&](std::string_view key) -> std::string {
        const std::string k = "; " + std::string(key) + "=\"";
        const std::size_t p = value.find(k);
        if (p == std::string_view::npos) return {};
        const std::size_t from = p + k.size();
        return std::string(value.substr(from, value.find('"', from) - from));
      };
      part.name = param("name");
      part.filename = param("filename");
    }
    const std::size_t data = head_end + 4;
    const std::size_t next = body.find("\r\n" + delim, data);
    if (next == std::string_view::npos) return bad("no closing boundary");
    part.data = body.substr(data, next - data);
    if (part.name.empty()) return bad("a part has no name");
    parts.push_back(std::move(part));
    at = next + 2;
  }
}

}  // namespace torii
