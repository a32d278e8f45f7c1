#include "providers/modality.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include <boost/json.hpp>

#include "core/base64.h"
#include "providers/provider.h"

namespace torii {

namespace json = boost::json;

std::string_view modality_name(Modality m) {
  switch (m) {
    case Modality::chat: return "chat";
    case Modality::embeddings: return "embeddings";
    case Modality::image_generation: return "image_generation";
    case Modality::image_edit: return "image_edit";
    case Modality::speech: return "speech";
    case Modality::transcription: return "transcription";
    case Modality::translation: return "translation";
    case Modality::moderation: return "moderation";
  }
  return "chat";
}

bool Capabilities::supports(Modality m) const {
  switch (m) {
    case Modality::chat: return chat;
    case Modality::embeddings: return embeddings;
    case Modality::image_generation: return image_generation;
    case Modality::image_edit: return image_edit;
    case Modality::speech: return speech;
    case Modality::transcription: return transcription;
    case Modality::translation: return translation;
    case Modality::moderation: return moderation;
  }
  return false;
}

namespace {

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_string(std::string& out, std::string_view s) {
  out += json::serialize(json::string_view(s.data(), s.size()));
}

}  // namespace

std::string openai_embeddings_json(std::span<const std::vector<float>> vectors,
                                   std::string_view model, const Usage& usage,
                                   VectorEncoding encoding) {
  std::string out = R"({"object":"list","data":[)";
  std::size_t total = 0;
  for (const auto& v : vectors) total += v.size();
  out.reserve(64 + total * (encoding == VectorEncoding::base64 ? 6 : 12) + vectors.size() * 48);
  std::string packed;
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    if (i) out += ',';
    out += R"({"object":"embedding","index":)";
    out += std::to_string(i);
    out += R"(,"embedding":)";
    const auto& v = vectors[i];
    if (encoding == VectorEncoding::base64) {
      packed.resize(v.size() * 4);
      for (std::size_t k = 0; k < v.size(); ++k) {
        uint32_t bits;
        std::memcpy(&bits, &v[k], 4);
        for (int b = 0; b < 4; ++b) packed[k * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
      }
      out += '"';
      out += base64_encode(packed);
      out += '"';
    } else {
      out += '[';
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (k) out += ',';
        append_float(out, v[k]);
      }
      out += ']';
    }
    out += '}';
  }
  out += R"(],"model":)";
  append_string(out, model);
  const int64_t prompt = std::max<int64_t>(usage.prompt_tokens, 0);
  out += R"(,"usage":{"prompt_tokens":)" + std::to_string(prompt) +
         R"(,"total_tokens":)" + std::to_string(usage.total_tokens >= 0 ? usage.total_tokens : prompt) +
         "}}";
  return out;
}

std::string openai_images_json(std::span<const GeneratedImage> images, int64_t created) {
  std::string out = R"({"created":)" + std::to_string(created) + R"(,"data":[)";
  for (std::size_t i = 0; i < images.size(); ++i) {
    const GeneratedImage& img = images[i];
    if (i) out += ',';
    if (!img.b64.empty()) {
      out += R"({"b64_json":)";
      append_string(out, img.b64);
    } else {
      out += R"({"url":)";
      append_string(out, img.url);
    }
    if (!img.revised_prompt.empty()) {
      out += R"(,"revised_prompt":)";
      append_string(out, img.revised_prompt);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

void ModerationVerdict::set(std::string_view name, double score, bool hit) {
  for (std::size_t i = 0; i < std::size(kModerationCategories); ++i) {
    if (kModerationCategories[i] != name) continue;
    scores[i] = std::max(scores[i], score);
    hits[i] = hits[i] || hit;
    return;
  }
}

std::string openai_moderation_json(std::string_view id, std::string_view model,
                                   std::span<const ModerationVerdict> results) {
  std::string out = R"({"id":)";
  append_string(out, id);
  out += R"(,"model":)";
  append_string(out, model);
  out += R"(,"results":[)";
  for (std::size_t r = 0; r < results.size(); ++r) {
    const ModerationVerdict& v = results[r];
    if (r) out += ',';
    out += v.flagged ? R"({"flagged":true,"categories":{)" : R"({"flagged":false,"categories":{)";
    for (std::size_t i = 0; i < std::size(kModerationCategories); ++i) {
      if (i) out += ',';
      append_string(out, kModerationCategories[i]);
      out += v.hits[i] ? ":true" : ":false";
    }
    out += R"(},"category_scores":{)";
    for (std::size_t i = 0; i < std::size(kModerationCategories); ++i) {
      if (i) out += ',';
      append_string(out, kModerationCategories[i]);
      out += ':';
      append_number(out, v.scores[i] < 0 ? 0.0 : v.scores[i]);
    }
    out += '}';
    if (!v.extra.empty()) {
      out += R"(,"provider_categories":{)";
      for (std::size_t i = 0; i < v.extra.size(); ++i) {
        if (i) out += ',';
        append_string(out, v.extra[i].first);
        out += ':';
        append_number(out, v.extra[i].second);
      }
      out += '}';
    }
    out += '}';
  }
  out += "]}";
  return out;
}

namespace {

// "HH:MM:SS,mmm" (SRT) or "HH:MM:SS.mmm" (WebVTT).
std::string timestamp(double seconds, char sep) {
  if (seconds < 0) seconds = 0;
  const int64_t ms = static_cast<int64_t>(std::llround(seconds * 1000));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld",
                static_cast<long long>(ms / 3600000), static_cast<long long>(ms / 60000 % 60),
                static_cast<long long>(ms / 1000 % 60), sep, static_cast<long long>(ms % 1000));
  return buf;
}

}  // namespace

void encode_transcript(const Transcript& t, std::string_view format, ModalityReply& reply) {
  const double end = t.seconds >= 0 ? t.seconds : 0;
  if (format == "text") {
    reply.body = t.text + "\n";
    reply.content_type = "text/plain; charset=utf-8";
  } else if (format == "srt") {
    reply.body = "1\n" + timestamp(0, ',') + " --> " + timestamp(end, ',') + "\n" + t.text + "\n\n";
    reply.content_type = "text/plain; charset=utf-8";
  } else if (format == "vtt") {
    reply.body = "WEBVTT\n\n" + timestamp(0, '.') + " --> " + timestamp(end, '.') + "\n" + t.text +
                 "\n\n";
    reply.content_type = "text/vtt; charset=utf-8";
  } else if (format == "verbose_json") {
    std::string out = R"({"task":"transcribe","language":)";
    append_string(out, t.language.empty() ? std::string_view("unknown") : t.language);
    out += R"(,"duration":)";
    append_number(out, end);
    out += R"(,"text":)";
    append_string(out, t.text);
    out += R"(,"segments":[{"id":0,"seek":0,"start":0,"end":)";
    append_number(out, end);
    out += R"(,"text":)";
    append_string(out, t.text);
    out += "}]}";
    reply.body = std::move(out);
    reply.content_type = "application/json";
  } else {
    std::string out = R"({"text":)";
    append_string(out, t.text);
    if (t.seconds >= 0) {
      out += R"(,"usage":{"type":"duration","seconds":)";
      out += std::to_string(static_cast<int64_t>(std::ceil(t.seconds)));
      out += '}';
    }
    out += '}';
    reply.body = std::move(out);
    reply.content_type = "application/json";
  }
  if (t.seconds >= 0) reply.usage.audio_ms = static_cast<int64_t>(std::llround(t.seconds * 1000));
}

std::string field_text(const ModalityCall& call, std::string_view name) {
  if (!call.body) return {};
  const auto* v = call.body->if_contains(name);
  if (!v || v->is_null()) return {};
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

Result<std::vector<std::string>> input_texts(const ModalityCall& call) {
  std::vector<std::string> out;
  const auto* v = call.body ? call.body->if_contains("input") : nullptr;
  auto wrong = [] {
    return ApiError::invalid_request("'input' must be a string or an array of strings", "input");
  };
  if (!v) return wrong();
  if (v->is_string()) {
    out.emplace_back(v->get_string());
    return out;
  }
  if (!v->is_array()) return wrong();
  for (const auto& x : v->get_array()) {
    if (!x.is_string()) return wrong();
    out.emplace_back(x.get_string());
  }
  return out;
}

}  // namespace torii
