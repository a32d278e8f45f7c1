#pragma once
// The modalities besides chat (docs/MODALITIES.md): embeddings, image generation and edits,
// speech, transcription, translation and moderation. Clients speak OpenAI's endpoints for each
// (/v1/embeddings, /v1/images/generations, ...); a provider turns one call into its own
// upstream request(s) and its answer back into OpenAI's shape, with the helpers at the bottom.
// Like chat, a provider here is a pure codec: no I/O. An asynchronous provider (Leonardo,
// Luma) answers a first request with a job; its decoder then returns the next request to send
// (a poll), and the gateway sends it after `poll_after`, until the decoder returns the answer
// or the route's deadline passes.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "providers/canonical.h"
#include "upstream/http_client.h"

namespace torii {

enum class Modality : uint8_t {
  chat,
  embeddings,        // POST /v1/embeddings
  image_generation,  // POST /v1/images/generations
  image_edit,        // POST /v1/images/edits (multipart)
  speech,            // POST /v1/audio/speech (binary audio, streamed to the client)
  transcription,     // POST /v1/audio/transcriptions (multipart)
  translation,       // POST /v1/audio/translations (multipart; into English)
  moderation,        // POST /v1/moderations
};

// "chat", "embeddings", "image_generation", ... (the audit's and the metrics' label).
std::string_view modality_name(Modality m);

// One part of a multipart/form-data body (core/multipart.h fills it). `data` points into the
// request body, which outlives the call.
struct FormPart {
  std::string name;
  std::string filename;      // set for a file part ("" for a text field)
  std::string content_type;  // the part's own, "" when absent
  std::string_view data;
};

struct Form {
  std::vector<FormPart> parts;
  // The first part called `name`, or null.
  const FormPart* find(std::string_view name) const {
    for (const auto& p : parts)
      if (p.name == name) return &p;
    return nullptr;
  }
};

// One modality call for one target.
struct ModalityCall {
  Modality modality = Modality::embeddings;
  // The client's request in OpenAI's shape: the JSON body, or a form's text fields as strings
  // (numbers and booleans are validated by the gateway, but stay strings here).
  const boost::json::object* body = nullptr;
  // The uploaded parts (transcription, translation, image edits); null for JSON modalities.
  const Form* form = nullptr;
  std::string_view upstream_model;
  // The client's JSON bytes as received, empty when a policy edited the body (or multipart): a
  // passthrough splices the model into it instead of serialising `body`.
  std::string_view raw_text;
  // Hints with no counterpart at the provider (x-torii-ignored-params). Never null.
  std::vector<std::string>* ignored = nullptr;
};

// What one upstream answer of a modality call came to.
struct ModalityReply {
  // The client's answer: OpenAI's shape (or, for speech and text transcription formats, the
  // bytes with their content type).
  std::string body;
  std::string content_type = "application/json";
  // Tokens (embeddings, moderation, the token-priced audio models) and the modality's units
  // (usage.images, usage.audio_ms, usage.characters) as the provider reported them.
  Usage usage;
  // An asynchronous provider's next request (a poll): sent after `poll_after`, its 2xx answer
  // decoded with the step + 1. `body` is then ignored.
  std::optional<UpstreamRequest> next;
  std::chrono::milliseconds poll_after{0};
};

// --- OpenAI-shaped answers, for the adapters ------------------------------------------------

// The encoding the client asked for (embeddings' encoding_format): base64 packs each vector's
// float32 values, little-endian, as OpenAI does.
enum class VectorEncoding : uint8_t { floats, base64 };
// The embeddings answer: {"object":"list","data":[{"object":"embedding","index":i,
// "embedding":[...] | "<base64>"}],"model":...,"usage":{"prompt_tokens","total_tokens"}}.
std::string openai_embeddings_json(std::span<const std::vector<float>> vectors,
                                   std::string_view model, const Usage& usage,
                                   VectorEncoding encoding);

// One generated image: a URL or base64 bytes, and the prompt as the model revised it.
struct GeneratedImage {
  std::string url;
  std::string b64;
  std::string revised_prompt;
};
// {"created":<unix time>,"data":[{"url"|"b64_json", "revised_prompt"?}...]}.
std::string openai_images_json(std::span<const GeneratedImage> images, int64_t created);

// OpenAI's moderation categories (the one scheme every provider is mapped to).
inline constexpr std::string_view kModerationCategories[] = {
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual",
    "sexual/minors", "violence", "violence/graphic"};
// One input's verdict: a score per category of kModerationCategories (-1: the provider has no
// such category: reported false and 0), flagged from the provider's own decision.
struct ModerationVerdict {
  bool flagged = false;
  double scores[std::size(kModerationCategories)];
  bool hits[std::size(kModerationCategories)];
  // The provider's categories that have no counterpart, as they came ("health": 0.2, ...).
  std::vector<std::pair<std::string, double>> extra;
  ModerationVerdict() {
    for (auto& s : scores) s = -1;
    for (auto& h : hits) h = false;
  }
  // Sets category `name` (one of kModerationCategories; others are ignored) to the max of its
  // score and `score`, and its flag to `hit` when hit.
  void set(std::string_view name, double score, bool hit);
};
// {"id","model","results":[{"flagged","categories":{...},"category_scores":{...}}...]}; with
// `extra`, each result also has "provider_categories" (the provider's unmapped scores).
std::string openai_moderation_json(std::string_view id, std::string_view model,
                                   std::span<const ModerationVerdict> results);

// A transcription in the client's response_format: "json" {"text"}, "text" (plain), "srt",
// "vtt" (one cue spanning `seconds`), "verbose_json" ({"task","language","duration","text",
// "segments"}). An unknown format is the caller's to refuse (the gateway checks it first).
struct Transcript {
  std::string text;
  std::string language;  // "" when unknown
  double seconds = -1;   // the audio's duration, -1 when unknown
};
// Fills reply.body and reply.content_type.
void encode_transcript(const Transcript& t, std::string_view response_format,
                       ModalityReply& reply);

// The body field `name` of a modality call as text (a JSON string, or a number written out),
// or "" when absent.
std::string field_text(const ModalityCall& call, std::string_view name);
// The body's "input" as a list of texts (a string, or an array of strings), or an error naming
// `input`; token arrays are refused here (the callers that accept them check first).
Result<std::vector<std::string>> input_texts(const ModalityCall& call);

}  // namespace torii
