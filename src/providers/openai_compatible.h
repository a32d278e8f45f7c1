#pragma once
// The OpenAI-compatible provider: every vendor of providers/vendors.h. Its request path is the
// fast path: the client's JSON goes upstream with small edits (model, stream_options), unknown
// fields untouched, and the answer comes back as it was sent.
#include <memory>

#include "config/config.h"
#include "providers/provider.h"
#include "providers/vendors.h"

namespace torii {

// Builds the provider for `config` (kind must be in the vendor table). `endpoint` is where it
// lives (resolved by the caller from base_url or the vendor default).
std::unique_ptr<Provider> make_openai_compatible(const ProviderConfig& config,
                                                 const VendorSpec& vendor, Endpoint endpoint);

// Serialises `request` with "model" replaced and stream_options / max tokens mapped for
// `vendor` (exposed for tests and benchmarks). `raw_text`, when not empty, is the exact text
// `request` was parsed from (ChatCall::raw_text): the edits are then spliced into it and every
// other member is copied verbatim (core/json_splice.h), falling back to re-serialising
// `request` when the text cannot be spliced. Both ways parse to the same JSON.
std::string encode_openai_body(const boost::json::object& request, std::string_view model,
                               bool stream, const VendorSpec& vendor,
                               std::string_view raw_text = {});

// Reads usage from the trailing top-level "usage" object of an OpenAI answer without parsing
// the whole body; false when that object is not found in that place.
bool find_usage(std::string_view body, Usage& usage);

// {"model", "input": [texts], "dimensions" (when > 0)}: OpenAI's embeddings request body.
boost::json::object embeddings_body(const EmbeddingsCall& call);

// Decodes OpenAI's embeddings answer ({"data":[{"index","embedding":[...]}], "usage"}); a
// malformed one is a 502 naming `provider`.
Result<EmbeddingsResult> decode_openai_embeddings(std::string_view provider,
                                                  std::string_view body);

// Maps an OpenAI-style error answer from provider `name` to the error the client sees.
ApiError map_openai_error(std::string_view name, int status, std::string_view body,
                          std::string_view retry_after);

}  // namespace torii
