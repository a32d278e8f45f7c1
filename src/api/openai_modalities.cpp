#include "api/openai_modalities.h"

#include <cmath>
#include <cstdlib>

#include <boost/json.hpp>

namespace torii {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxEmbeddingInputs = 2048;  // OpenAI's limit per request
constexpr std::size_t kMaxSpeechInput = 4096;      // characters, OpenAI's limit

ApiError field_error(std::string_view field, std::string_view what) {
  return ApiError::invalid_request("'" + std::string(field) + "' " + std::string(what),
                                   std::string(field));
}

// Unicode code points of UTF-8 text (continuation bytes are not counted).
int64_t code_points(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Result<std::string> model_of(const json::object& body, bool required,
                             std::string_view fallback = {}) {
  const json::value* v = body.if_contains("model");
  if (!v || v->is_null()) {
    if (!required && !fallback.empty()) return std::string(fallback);
    return field_error("model", "is required");
  }
  if (!v->is_string() || v->get_string().empty())
    return field_error("model", "must be a non-empty string");
  return std::string(v->get_string());
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed)
    if (v == a) return true;
  return false;
}

std::string list(std::initializer_list<std::string_view> allowed) {
  std::string out;
  for (auto a : allowed) out += (out.empty() ? "" : ", ") + std::string(a);
  return out;
}

// An optional string field restricted to `allowed`.
Result<void> enum_field(const json::object& body, std::string_view field,
                        std::initializer_list<std::string_view> allowed) {
  const json::value* v = body.if_contains(field);
  if (!v || v->is_null()) return {};
  if (!v->is_string() || !one_of(v->get_string(), allowed))
    return field_error(field, "must be one of: " + list(allowed));
  return {};
}

// An optional string field.
Result<void> string_field(const json::object& body, std::string_view field) {
  const json::value* v = body.if_contains(field);
  if (v && !v->is_null() && !v->is_string()) return field_error(field, "must be a string");
  return {};
}

// The number in a JSON value or a form's text; nullopt when it is neither.
std::optional<double> number_of(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  if (v.is_string()) {
    const std::string text(v.get_string());
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(d)) return std::nullopt;
    return d;
  }
  return std::nullopt;
}

// An optional number in [lo, hi] (integral when `integer`).
Result<void> number_field(const json::object& body, std::string_view field, double lo, double hi,
                          bool integer) {
  const json::value* v = body.if_contains(field);
  if (!v || v->is_null()) return {};
  const auto d = number_of(*v);
  const std::string range = std::string(integer ? "an integer" : "a number") + " from " +
                            json::serialize(json::value(lo)) + " to " +
                            json::serialize(json::value(hi));
  if (!d || *d < lo || *d > hi || (integer && std::floor(*d) != *d))
    return field_error(field, "must be " + range);
  return {};
}

Result<void> embeddings(const json::object& body) {
  const json::value* input = body.if_contains("input");
  if (!input) return field_error("input", "is required");
  const char* shape = "must be a string, an array of strings, an array of token ids or an array "
                      "of token id arrays";
  if (input->is_string()) {
    if (input->get_string().empty()) return field_error("input", "must not be empty");
  } else if (input->is_array()) {
    const json::array& a = input->get_array();
    if (a.empty()) return field_error("input", "must not be empty");
    if (a.size() > kMaxEmbeddingInputs)
      return field_error("input", "holds " + std::to_string(a.size()) + " items; at most " +
                                      std::to_string(kMaxEmbeddingInputs));
    const bool strings = a.front().is_string();
    const bool tokens = a.front().is_int64() || a.front().is_uint64();
    const bool token_lists = a.front().is_array();
    for (const auto& x : a) {
      if (strings && !(x.is_string() && !x.get_string().empty()))
        return field_error("input", "must hold non-empty strings only");
      if (tokens && !(x.is_int64() || x.is_uint64())) return field_error("input", shape);
      if (token_lists) {
        if (!x.is_array() || x.get_array().empty()) return field_error("input", shape);
        for (const auto& t : x.get_array())
          if (!t.is_int64() && !t.is_uint64()) return field_error("input", shape);
      }
      if (!strings && !tokens && !token_lists) return field_error("input", shape);
    }
  } else {
    return field_error("input", shape);
  }
  if (auto r = enum_field(body, "encoding_format", {"float", "base64"}); !r) return r;
  if (auto r = number_field(body, "dimensions", 1, 65536, true); !r) return r;
  return string_field(body, "user");
}

Result<void> image_options(const json::object& body) {
  const json::value* prompt = body.if_contains("prompt");
  if (!prompt) return field_error("prompt", "is required");
  if (!prompt->is_string() || prompt->get_string().empty())
    return field_error("prompt", "must be a non-empty string");
  if (auto r = number_field(body, "n", 1, 10, true); !r) return r;
  if (auto r = enum_field(body, "response_format", {"url", "b64_json"}); !r) return r;
  for (std::string_view f : {"size", "quality", "style", "background", "output_format", "user"})
    if (auto r = string_field(body, f); !r) return r;
  if (const json::value* size = body.if_contains("size"); size && size->is_string()) {
    const std::string_view s = size->get_string();
    const auto x = s.find('x');
    const bool dims = x != std::string_view::npos && x > 0 && x + 1 < s.size() &&
                      s.find_first_not_of("0123456789x") == std::string_view::npos;
    if (!dims && s != "auto") return field_error("size", "must be \"<width>x<height>\" or \"auto\"");
  }
  return {};
}

Result<void> speech(const json::object& body) {
  const json::value* input = body.if_contains("input");
  if (!input) return field_error("input", "is required");
  if (!input->is_string() || input->get_string().empty())
    return field_error("input", "must be a non-empty string");
  const int64_t characters = code_points(input->get_string());
  if (static_cast<std::size_t>(characters) > kMaxSpeechInput)
    return field_error("input", "holds " + std::to_string(characters) +
                                    " characters; at most " + std::to_string(kMaxSpeechInput));
  const json::value* voice = body.if_contains("voice");
  if (!voice || voice->is_null()) return field_error("voice", "is required");
  const bool voice_ok = (voice->is_string() && !voice->get_string().empty()) ||
                        (voice->is_object() && voice->get_object().contains("id"));
  if (!voice_ok) return field_error("voice", "must be a voice name or {\"id\": ...}");
  if (auto r = enum_field(body, "response_format", {"mp3", "opus", "aac", "flac", "wav", "pcm"}); !r)
    return r;
  if (auto r = enum_field(body, "stream_format", {"audio", "sse"}); !r) return r;
  if (auto r = number_field(body, "speed", 0.25, 4.0, false); !r) return r;
  return string_field(body, "instructions");
}

Result<void> moderation(const json::object& body) {
  const json::value* input = body.if_contains("input");
  if (!input) return field_error("input", "is required");
  const char* shape = "must be a string, an array of strings or an array of text / image_url "
                      "parts";
  if (input->is_string()) return {};
  if (!input->is_array() || input->get_array().empty()) return field_error("input", shape);
  for (const auto& x : input->get_array()) {
    if (x.is_string()) continue;
    if (!x.is_object()) return field_error("input", shape);
    const json::value* type = x.get_object().if_contains("type");
    if (!type || !type->is_string() || !one_of(type->get_string(), {"text", "image_url"}))
      return field_error("input", shape);
  }
  return {};
}

// A form's file part `name` (or "name[]"), required.
Result<void> need_file(const Form& form, std::string_view name) {
  for (const auto& p : form.parts)
    if ((p.name == name || p.name == std::string(name) + "[]") && !p.filename.empty()) {
      if (p.data.empty()) return field_error(name, "is an empty file");
      return {};
    }
  return field_error(name, "is required (a file part of the multipart/form-data body)");
}

}  // namespace

int64_t speech_characters(const json::object& body) {
  const json::value* input = body.if_contains("input");
  if (!input || !input->is_string()) return -1;
  return code_points(input->get_string());
}

std::optional<Modality> modality_for_path(std::string_view path) {
  if (path == "/embeddings") return Modality::embeddings;
  if (path == "/images/generations") return Modality::image_generation;
  if (path == "/images/edits") return Modality::image_edit;
  if (path == "/audio/speech") return Modality::speech;
  if (path == "/audio/transcriptions") return Modality::transcription;
  if (path == "/audio/translations") return Modality::translation;
  if (path == "/moderations") return Modality::moderation;
  return std::nullopt;
}

bool is_multipart(Modality m) {
  return m == Modality::transcription || m == Modality::translation || m == Modality::image_edit;
}

std::string_view modality_content_type(Modality m) {
  return is_multipart(m) ? "multipart/form-data" : "application/json";
}

Result<ModalityInfo> parse_modality_json(Modality m, std::string_view text, json::object& body) {
  json::error_code ec;
  json::value v = json::parse(text, ec, body.storage());
  if (ec) return ApiError::invalid_request("the body is not valid JSON: " + ec.message());
  if (!v.is_object()) return ApiError::invalid_request("the body must be a JSON object");
  body = std::move(v.get_object());
  ModalityInfo info;
  auto model = model_of(body, m != Modality::moderation, "omni-moderation-latest");
  if (!model) return model.error();
  info.model = std::move(*model);
  Result<void> checked;
  switch (m) {
    case Modality::embeddings: checked = embeddings(body); break;
    case Modality::image_generation: checked = image_options(body); break;
    case Modality::speech: checked = speech(body); break;
    case Modality::moderation: checked = moderation(body); break;
    default:
      return ApiError::invalid_request("this endpoint takes multipart/form-data, not JSON");
  }
  if (!checked) return checked.error();
  return info;
}

Result<ModalityInfo> parse_modality_form(Modality m, const Form& form, json::object& body) {
  for (const auto& p : form.parts) {
    if (!p.filename.empty()) continue;  // files stay in the form
    json::string value(p.data.data(), p.data.size(), body.storage());
    if (p.name.size() > 2 && p.name.ends_with("[]")) {
      const std::string key = p.name.substr(0, p.name.size() - 2);
      json::value& slot = body[key];
      if (!slot.is_array()) slot = json::array(body.storage());
      slot.get_array().emplace_back(std::move(value));
    } else {
      body[p.name] = std::move(value);
    }
  }
  ModalityInfo info;
  auto model = model_of(body, true);
  if (!model) return model.error();
  info.model = std::move(*model);
  if (m == Modality::image_edit) {
    if (auto r = need_file(form, "image"); !r) return r.error();
    if (auto r = image_options(body); !r) return r.error();
    return info;
  }
  if (m != Modality::transcription && m != Modality::translation)
    return ApiError::invalid_request("this endpoint takes JSON, not multipart/form-data");
  if (auto r = need_file(form, "file"); !r) return r.error();
  if (auto r = enum_field(body, "response_format", {"json", "text", "srt", "verbose_json", "vtt"});
      !r)
    return r.error();
  if (auto r = number_field(body, "temperature", 0, 1, false); !r) return r.error();
  for (std::string_view f : {"language", "prompt"})
    if (auto r = string_field(body, f); !r) return r.error();
  return info;
}

}  // namespace torii
