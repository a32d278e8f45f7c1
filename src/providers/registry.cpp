#include "providers/registry.h"


#include "providers/anthropic.h"
#include "providers/bedrock/bedrock.h"
#include "providers/gemini.h"
#include "providers/cohere.h"
#include "providers/leonardo.h"
#include "providers/luma.h"
#include "providers/elevenlabs.h"
#include "providers/hive.h"
#include "providers/ollama.h"
#include "providers/openai_compatible.h"
#include "providers/vendors.h"

namespace torii {

namespace {

Result<std::unique_ptr<Provider>> make_vendor(const ProviderConfig& config, Endpoint endpoint) {
  const VendorSpec& vendor = *find_vendor(config.kind);
  if (auto ok = check_vendor_config(vendor, config); !ok) return ok.error();
  return make_openai_compatible(config, vendor, std::move(endpoint));
}

// Every kind: the native adapters (one row each: kind, default base URL, key required,
// factory), then the OpenAI-compatible vendors of the vendor table.
struct Kinds {
  std::vector<ProviderKind> rows = {
      {"anthropic", kAnthropicDefaultBaseUrl, true, &make_anthropic, "api_version"},
      {"bedrock", kBedrockPlaceholderBaseUrl, false, &make_bedrock,
       "region aws_access_key_id aws_secret_access_key aws_session_token"},
      {"gemini", kGeminiDefaultBaseUrl, true, &make_gemini, "api_version"},
      {"cohere", "https://api.cohere.com", true, &make_cohere},
      {"ollama", "http://127.0.0.1:11434", false, &make_ollama, "options"},
      {"leonardo", kLeonardoDefaultBaseUrl, true, &make_leonardo, "options"},
      {"luma", kLumaDefaultBaseUrl, true, &make_luma, "options"},
      {"elevenlabs", kElevenLabsDefaultBaseUrl, true, &make_elevenlabs},
      {"hive", kHiveDefaultBaseUrl, true, &make_hive},
  };
  Kinds() {
    for (const VendorSpec& v : vendor_specs())
      rows.push_back(ProviderKind{v.kind, v.default_base_url, v.key_required, &make_vendor,
                                  !v.default_api_version.empty() ? "api_version"
                                  : v.account_id_required        ? "account_id"
                                                                 : ""});
  }
};

const std::vector<ProviderKind>& kinds() {
  static const Kinds k;
  return k.rows;
}

}  // namespace

const ProviderKind* find_provider_kind(std::string_view kind) {
  for (const auto& k : kinds())
    if (k.kind == kind) return &k;
  return nullptr;
}

bool ProviderKind::reads(std::string_view key) const {
  std::string_view rest = keys;
  while (!rest.empty()) {
    std::size_t sp = rest.find(' ');
    if (rest.substr(0, sp) == key) return true;
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  return false;
}

std::vector<std::string_view> provider_kinds() {
  std::vector<std::string_view> out;
  for (const auto& k : kinds()) out.push_back(k.kind);
  return out;
}

}  // namespace torii
