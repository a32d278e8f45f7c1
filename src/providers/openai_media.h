#pragma once
// The OpenAI-compatible vendors' modalities besides chat (openai_media.cpp): the request
// encoders and answer decoders OpenAiCompatible uses for each vendor that serves them.
#include <optional>
#include <string>
#include <string_view>

#include "providers/modality.h"
#include "providers/provider.h"
#include "providers/vendors.h"

namespace torii {

// The vendor table's bit of modality `m` (kEmbeddings...; 0 for chat).
unsigned modality_bit(Modality m);

// The path of modality `m`: the vendor's chat path with /chat/completions replaced by the
// modality's (/embeddings, /audio/speech...), the query kept (Azure's api-version); nullopt
// when the chat path has no /chat/completions.
std::optional<std::string> openai_modality_path(std::string chat_path, Modality m);

// Whether the vendor answers embeddings in base64 when asked (encoding_format is then passed
// through); the others get floats, which the gateway encodes as the client asked.
bool speaks_base64_embeddings(const VendorSpec& vendor);

// The upstream request: JSON with "model" replaced (`json_headers`, prebuilt), or the upload
// re-written with "model" replaced (`form_headers`: the auth lines without a Content-Type).
Result<UpstreamRequest> encode_openai_modality(const ModalityCall& call, const VendorSpec& vendor,
                                               std::string path, std::string_view json_headers,
                                               std::string_view form_headers);

// The client's answer from a 2xx answer of `provider` (see openai_media.cpp for the mapping).
Result<ModalityReply> decode_openai_modality(const ModalityCall& call, const VendorSpec& vendor,
                                             std::string_view provider,
                                             std::string_view content_type, std::string&& body);

}  // namespace torii
