// The OpenAI-compatible vendors' other modalities (providers/modality.h): OpenAI's own paths,
// the client's request forwarded with the model replaced (JSON spliced, uploads re-written
// part by part), the answers passed through when the vendor speaks OpenAI's shape, and mapped
// where it does not (Mistral: embeddings without encoding_format, transcriptions without
// response_format, its own moderation categories).
#include "providers/openai_media.h"

#include "providers/openai_compatible.h"

#include <cmath>

#include <boost/json.hpp>

#include "core/json_splice.h"
#include "core/multipart.h"

namespace torii {

namespace json = boost::json;

namespace {

ApiError unusable(std::string_view provider, std::string_view what) {
  return ApiError::bad_gateway("provider '" + std::string(provider) + "' returned an unusable " +
                               std::string(what));
}

std::string_view modality_suffix(Modality m) {
  switch (m) {
    case Modality::embeddings: return "/embeddings";
    case Modality::image_generation: return "/images/generations";
    case Modality::image_edit: return "/images/edits";
    case Modality::speech: return "/audio/speech";
    case Modality::transcription: return "/audio/transcriptions";
    case Modality::translation: return "/audio/translations";
    case Modality::moderation: return "/moderations";
    case Modality::chat: break;
  }
  return "/chat/completions";
}

// The client's JSON with "model" set to `model` and the `drop` members left out; `add` members
// (key, JSON text) appended. Spliced into the client's text when there is one (values copied
// byte for byte), else written from the parsed body.
std::string json_body(const ModalityCall& call, std::initializer_list<std::string_view> drop,
                      const std::vector<std::pair<std::string, std::string>>& add = {}) {
  auto dropped = [&](std::string_view k) {
    if (k == "model") return true;
    for (auto d : drop)
      if (d == k) return true;
    for (const auto& [a, v] : add)
      if (a == k) return true;
    return false;
  };
  const std::string model = json::serialize(
      json::string_view(call.upstream_model.data(), call.upstream_model.size()));
  if (!call.raw_text.empty()) {
    if (auto text = JsonObjectText::scan(call.raw_text)) {
      JsonObjectWriter w(call.raw_text.size() + 64);
      w.raw("model", model);
      for (const auto& m : text->members())
        if (!dropped(m.key)) w.copy(m);
      for (const auto& [k, v] : add) w.raw(k, v);
      return w.finish();
    }
  }
  json::object o;
  o["model"] = call.upstream_model;
  for (const auto& kv : *call.body)
    if (!dropped(kv.key())) o[kv.key()] = kv.value();
  std::string out = json::serialize(o);
  if (!add.empty()) {
    out.pop_back();
    for (const auto& [k, v] : add) out += (o.empty() ? "" : ",") + json::serialize(json::string(k)) + ":" + v;
    out += '}';
  }
  return out;
}

// The upload re-written for the vendor: every part as it came, "model" replaced, the `drop`
// fields left out.
void form_body(const ModalityCall& call, std::initializer_list<std::string_view> drop,
               UpstreamRequest& r) {
  MultipartWriter w;
  w.field("model", call.upstream_model);
  for (const FormPart& p : call.form->parts) {
    bool skip = p.name == "model";
    for (auto d : drop) skip = skip || p.name == d;
    if (skip) continue;
    if (p.filename.empty()) w.field(p.name, p.data);
    else w.file(p.name, p.filename, p.content_type, p.data);
  }
  r.headers.emplace_back("Content-Type", w.content_type());
  r.body = w.close();
}

// The items of a JSON array's text (its top-level elements), without parsing them: strings are
// skipped (escapes honoured), brackets and braces nest. -1 when the text is not one array.
int64_t array_items(std::string_view a) {
  if (a.size() < 2 || a.front() != '[' || a.back() != ']') return -1;
  int64_t items = 0;
  int depth = 0;
  bool in_string = false, any = false;
  for (std::size_t i = 1; i + 1 < a.size(); ++i) {
    const char c = a[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') --depth;
    else if (c == ',' && depth == 0) ++items;
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') any = true;
    if (depth < 0) return -1;
  }
  return any ? items + 1 : 0;
}

// An OpenAI answer passed through as it came: its top-level "data" array (the items counted)
// and "usage" object (parsed alone), found by one scan of the text instead of a parse of the
// whole answer (which may hold megabytes of base64 or thousands of floats). False when the
// answer has no "data" array.
bool scan_passthrough(std::string_view body, int64_t& items, json::object& usage) {
  auto text = JsonObjectText::scan(body);
  if (!text) return false;
  const JsonMember* data = text->find("data");
  if (!data || (items = array_items(data->value)) < 0) return false;
  if (const JsonMember* u = text->find("usage")) {
    json::error_code ec;
    json::value v = json::parse(u->value, ec);
    if (!ec && v.is_object()) usage = std::move(v.get_object());
  }
  return true;
}

int64_t number(const json::value* v) {
  if (!v) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(std::llround(v->get_double()));
  return -1;
}

double seconds_of(const json::value* v) {
  if (!v) return -1;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return -1;
}

// Mistral's moderation categories and OpenAI's counterparts ("" when none).
constexpr std::pair<std::string_view, std::string_view> kMistralCategories[] = {
    {"sexual", "sexual"},
    {"hate_and_discrimination", "hate"},
    {"violence_and_threats", "violence"},
    {"dangerous_and_criminal_content", "illicit"},
    {"selfharm", "self-harm"},
    {"health", ""},
    {"financial", ""},
    {"law", ""},
    {"pii", ""},
};

Result<ModalityReply> mistral_moderation(std::string_view provider, std::string_view model,
                                         std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  const json::value* results = !ec && v.is_object() ? v.get_object().if_contains("results") : nullptr;
  if (!results || !results->is_array()) return unusable(provider, "moderation answer");
  std::vector<ModerationVerdict> out;
  for (const auto& r : results->get_array()) {
    if (!r.is_object()) return unusable(provider, "moderation answer");
    const json::object& o = r.get_object();
    const json::value* cats = o.if_contains("categories");
    const json::value* scores = o.if_contains("category_scores");
    ModerationVerdict& verdict = out.emplace_back();
    for (const auto& [theirs, ours] : kMistralCategories) {
      const json::value* hit = cats && cats->is_object() ? cats->get_object().if_contains(theirs) : nullptr;
      const json::value* score =
          scores && scores->is_object() ? scores->get_object().if_contains(theirs) : nullptr;
      const bool flagged = hit && hit->is_bool() && hit->get_bool();
      const double s = score && score->is_number() ? score->to_number<double>() : (flagged ? 1.0 : 0.0);
      verdict.flagged = verdict.flagged || flagged;
      if (ours.empty()) {
        if (hit || score) verdict.extra.emplace_back(std::string(theirs), s);
      } else {
        verdict.set(ours, s, flagged);
      }
    }
  }
  std::string id = "modr-" + std::string(provider);
  if (const auto* i = v.get_object().if_contains("id"); i && i->is_string()) id = i->get_string();
  ModalityReply reply;
  reply.body = openai_moderation_json(id, model, out);
  return reply;
}

// A transcription answer: passed through in the client's format (OpenAI's own), or, from a
// vendor that answers JSON only (Mistral), re-encoded in the client's response_format. Usage:
// the audio's seconds and the tokens when the answer says them.
Result<ModalityReply> transcription(const ModalityCall& call, std::string_view provider,
                                    bool json_only, std::string_view content_type,
                                    std::string&& body) {
  ModalityReply reply;
  std::string format = field_text(call, "response_format");
  if (format.empty()) format = "json";
  const bool is_json = content_type.find("json") != std::string_view::npos ||
                       (!body.empty() && body.front() == '{');
  if (!is_json) {
    if (json_only) return unusable(provider, "transcription (not JSON)");
    reply.body = std::move(body);
    reply.content_type = content_type.empty() ? "text/plain; charset=utf-8" : std::string(content_type);
    return reply;
  }
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return unusable(provider, "transcription");
  const json::object& o = v.get_object();
  const json::value* text = o.if_contains("text");
  if (!text || !text->is_string()) return unusable(provider, "transcription (no text)");
  double seconds = seconds_of(o.if_contains("duration"));
  if (const auto* u = o.if_contains("usage"); u && u->is_object()) {
    const json::object& uo = u->get_object();
    if (seconds < 0) seconds = seconds_of(uo.if_contains("seconds"));
    if (seconds < 0) seconds = seconds_of(uo.if_contains("prompt_audio_seconds"));  // Mistral
    reply.usage.prompt_tokens = number(uo.if_contains("input_tokens"));
    reply.usage.completion_tokens = number(uo.if_contains("output_tokens"));
    if (reply.usage.prompt_tokens < 0) reply.usage.prompt_tokens = number(uo.if_contains("prompt_tokens"));
    if (reply.usage.completion_tokens < 0)
      reply.usage.completion_tokens = number(uo.if_contains("completion_tokens"));
    reply.usage.complete();
  }
  if (json_only) {
    Transcript t;
    t.text = text->get_string();
    if (const auto* l = o.if_contains("language"); l && l->is_string()) t.language = l->get_string();
    t.seconds = seconds;
    const Usage tokens = reply.usage;
    encode_transcript(t, format, reply);
    reply.usage.prompt_tokens = tokens.prompt_tokens;
    reply.usage.completion_tokens = tokens.completion_tokens;
    reply.usage.total_tokens = tokens.total_tokens;
    return reply;
  }
  if (seconds >= 0) reply.usage.audio_ms = static_cast<int64_t>(std::llround(seconds * 1000));
  reply.body = std::move(body);
  return reply;
}

}  // namespace

unsigned modality_bit(Modality m) {
  switch (m) {
    case Modality::embeddings: return kEmbeddings;
    case Modality::image_generation: return kImages;
    case Modality::image_edit: return kImageEdits;
    case Modality::speech: return kSpeech;
    case Modality::transcription: return kTranscription;
    case Modality::translation: return kTranslation;
    case Modality::moderation: return kModeration;
    case Modality::chat: break;
  }
  return 0;
}

std::optional<std::string> openai_modality_path(std::string chat_path, Modality m) {
  const std::string_view chat = "/chat/completions";
  const std::size_t q = chat_path.find('?');
  const std::size_t at = chat_path.rfind(chat, q);
  if (at == std::string::npos) return std::nullopt;
  chat_path.replace(at, chat.size(), modality_suffix(m));
  return chat_path;
}

Result<UpstreamRequest> encode_openai_modality(const ModalityCall& call, const VendorSpec& vendor,
                                               std::string path, std::string_view json_headers,
                                               std::string_view form_headers) {
  UpstreamRequest r;
  r.path = std::move(path);
  const bool mistral = vendor.kind == "mistral";
  if (call.form) {
    r.header_block = form_headers;
    // Mistral answers JSON only: the client's format is written by the gateway.
    if (mistral) form_body(call, {"response_format"}, r);
    else form_body(call, {}, r);
    return r;
  }
  r.header_block = json_headers;
  if (call.modality == Modality::embeddings && !speaks_base64_embeddings(vendor)) {
    // Floats from the vendor; the client's encoding is the gateway's to write. Mistral names
    // the size output_dimension and refuses unknown fields.
    std::vector<std::pair<std::string, std::string>> add;
    if (mistral) {
      if (const auto* d = call.body->if_contains("dimensions")) add.emplace_back("output_dimension", json::serialize(*d));
      r.body = json_body(call, {"encoding_format", "dimensions", "user"}, add);
      if (call.body->contains("user")) add_ignored(*call.ignored, "user");
    } else {
      r.body = json_body(call, {"encoding_format"});
    }
    return r;
  }
  r.body = json_body(call, {});
  return r;
}

bool speaks_base64_embeddings(const VendorSpec& vendor) {
  return vendor.kind == "openai" || vendor.kind == "azure" || vendor.kind == "mock" ||
         vendor.kind == "openai-compatible";
}

Result<ModalityReply> decode_openai_modality(const ModalityCall& call, const VendorSpec& vendor,
                                             std::string_view provider,
                                             std::string_view content_type, std::string&& body) {
  ModalityReply reply;
  switch (call.modality) {
    case Modality::embeddings: {
      if (speaks_base64_embeddings(vendor)) {
        int64_t items = 0;
        json::object usage;
        if (!scan_passthrough(body, items, usage)) return unusable(provider, "embeddings answer");
        if (!usage.empty()) reply.usage = parse_openai_usage(usage);
        reply.body = std::move(body);
        return reply;
      }
      auto decoded = decode_openai_embeddings(provider, body);
      if (!decoded) return decoded.error();
      const std::string enc = field_text(call, "encoding_format");
      reply.usage = decoded->usage;
      reply.body = openai_embeddings_json(decoded->vectors, call.upstream_model, decoded->usage,
                                          enc == "base64" ? VectorEncoding::base64
                                                          : VectorEncoding::floats);
      return reply;
    }
    case Modality::image_generation:
    case Modality::image_edit: {
      int64_t items = 0;
      json::object usage;
      if (!scan_passthrough(body, items, usage)) return unusable(provider, "images answer");
      reply.usage.images = items;
      if (!usage.empty()) {
        // gpt-image-1 bills tokens too (input_tokens / output_tokens).
        reply.usage.prompt_tokens = number(usage.if_contains("input_tokens"));
        reply.usage.completion_tokens = number(usage.if_contains("output_tokens"));
        reply.usage.complete();
      }
      reply.body = std::move(body);
      return reply;
    }
    case Modality::transcription:
    case Modality::translation:
      return transcription(call, provider, vendor.kind == "mistral", content_type, std::move(body));
    case Modality::moderation: {
      if (vendor.kind == "mistral") return mistral_moderation(provider, call.upstream_model, body);
      json::error_code ec;
      json::value v = json::parse(body, ec);
      if (ec || !v.is_object() || !v.get_object().contains("results"))
        return unusable(provider, "moderation answer");
      reply.body = std::move(body);
      return reply;
    }
    case Modality::speech:
    case Modality::chat:
      break;
  }
  return ApiError::bad_gateway("provider '" + std::string(provider) + "': no decoder for " +
                               std::string(modality_name(call.modality)));
}

}  // namespace torii
