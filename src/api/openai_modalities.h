#pragma once
// The inbound side of the modalities besides chat (docs/MODALITIES.md): which OpenAI path
// serves which, and the checks a request passes before routing. Every request ends up as a
// JSON object in OpenAI's shape (a form's text fields become strings, repeated "name[]" fields
// arrays) plus, for uploads, the form's parts; the checks name the field at fault in `param`.
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "providers/modality.h"

namespace torii {

// The modality of an OpenAI path without its /v1 prefix ("/embeddings", "/images/edits"...),
// or nullopt for the others.
std::optional<Modality> modality_for_path(std::string_view path);

// Whether requests of `m` are multipart/form-data uploads (transcription, translation, image
// edits); the others are JSON.
bool is_multipart(Modality m);

// What routing needs from a checked request.
struct ModalityInfo {
  std::string model;
};

// speech: the input's length in Unicode code points (what speech is priced by); -1 when the
// request has no string input.
int64_t speech_characters(const boost::json::object& body);

// Parses and checks a JSON request of modality `m` into `body` (allocated from its storage).
Result<ModalityInfo> parse_modality_json(Modality m, std::string_view text,
                                         boost::json::object& body);

// Checks an upload's form and copies its text fields into `body` as strings (numbers are
// checked but stay text; "name[]" fields become arrays of strings).
Result<ModalityInfo> parse_modality_form(Modality m, const Form& form, boost::json::object& body);

// The content type `m` expects, for messages ("application/json", "multipart/form-data").
std::string_view modality_content_type(Modality m);

}  // namespace torii
