#pragma once
// The table of OpenAI-compatible vendors: what differs between them is data, not code
// (base URL, auth header, chat path, parameter mapping). One row per vendor kind, as in the
// Otoroshi LLM extension. The OpenAI-compatible provider (openai_compatible.cpp) reads a row
// through the helpers below, so a new vendor is one line in vendors.cpp.
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"

namespace torii {

enum class AuthStyle {
  bearer,  // Authorization: Bearer <key>
  header,  // <auth_header>: <key> (Azure's api-key, Sarvam's api-subscription-key)
  none,    // no key is sent
};

// The modalities besides chat a vendor serves at OpenAI's paths (a bit set of these).
inline constexpr unsigned kEmbeddings = 1, kImages = 2, kImageEdits = 4, kSpeech = 8,
                          kTranscription = 16, kTranslation = 32, kModeration = 64;
inline constexpr unsigned kAllModalities = 127;

struct VendorSpec {
  std::string_view kind;
  // Empty: base_url is required.
  std::string_view default_base_url;
  AuthStyle auth = AuthStyle::bearer;
  bool key_required = true;             // a provider of this kind must have an api_key
  bool stream_usage_option = true;      // accepts stream_options.include_usage
  bool strip_stream_options = false;    // rejects stream_options altogether (usage comes anyway)
  bool max_completion_tokens_as_max_tokens = false;  // only knows max_tokens
  std::string_view auth_header = {};    // the header name for AuthStyle::header
  // The chat path, appended to the endpoint's base path. Placeholders: {model} (the upstream
  // model, URL-escaped: Azure's deployment), {api_version}, {account_id}.
  std::string_view chat_path = "/chat/completions";
  // Used instead of chat_path when the config's api_version is "v1" (Azure's v1 API, where
  // the model travels in the body).
  std::string_view chat_path_v1 = {};
  std::string_view default_api_version = {};  // when the config has no api_version
  bool account_id_required = false;           // config.account_id must be set (Cloudflare)
  // The vendor also serves OpenAI's Responses API ({base}/responses) and the legacy completions
  // API ({base}/completions): requests to those inbound APIs are then passed through natively.
  bool responses = false;
  bool completions = false;
  // The other modalities it serves (kEmbeddings...), each at OpenAI's path under the same base
  // as chat: {base}/embeddings, /images/generations, /audio/speech... (Azure: under the
  // deployment, with the api-version).
  unsigned modalities = 0;
};

// Every row.
std::span<const VendorSpec> vendor_specs();
// The row for `kind`, or nullptr when it is not an OpenAI-compatible vendor.
const VendorSpec* find_vendor(std::string_view kind);

// Checks what the row needs from a provider's config (account_id…). The error (400) names the
// provider, its kind and the config key.
Result<void> check_vendor_config(const VendorSpec& vendor, const ProviderConfig& config);

// The upstream chat path of one provider, prepared once (at provider construction).
class VendorPath {
 public:
  VendorPath() = default;
  // `base_path` is the endpoint's base path ("" or "/v1"…, never ending with '/').
  VendorPath(const VendorSpec& vendor, std::string_view base_path, const ProviderConfig& config);
  // The path for a call to `model`. Without {model} in the template it is the prepared string.
  std::string chat(std::string_view model) const;
  // True when the model is part of the path (Azure deployments).
  bool model_in_path() const { return model_in_path_; }

 private:
  std::string prefix_;  // everything before {model} (the whole path when there is none)
  std::string suffix_;  // everything after {model}
  bool model_in_path_ = false;
};

// The header line that carries the key ("Authorization: Bearer K\r\n", "api-key: K\r\n"), or ""
// for AuthStyle::none or an empty key.
std::string vendor_auth_line(const VendorSpec& vendor, std::string_view key);

}  // namespace torii
