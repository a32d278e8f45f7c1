#pragma once
// Provider kinds: what each config `kind` needs and how its provider is built. The
// OpenAI-compatible vendors come from the vendor table (vendors.h); native adapters (Anthropic,
// Gemini, Bedrock…) have one row each in registry.cpp.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"
#include "upstream/endpoint.h"

namespace torii {

struct ProviderKind {
  std::string_view kind;
  std::string_view default_base_url;  // empty: base_url is required
  bool key_required = true;           // api_key must be set
  // Builds the provider. Errors (400) name the provider and the config key at fault.
  Result<std::unique_ptr<Provider>> (*make)(const ProviderConfig& config, Endpoint endpoint) =
      nullptr;
  // The kind-specific config keys this kind reads, space-separated (api_version, region,
  // account_id, aws_*, options); the loader rejects the others for this kind.
  std::string_view keys = {};
  bool reads(std::string_view key) const;
};

// The kind-specific config keys (each read by some kinds only).
inline constexpr std::string_view kKindSpecificKeys[] = {
    "api_version", "region", "account_id", "aws_access_key_id", "aws_secret_access_key",
    "aws_session_token", "options"};

// The row for `kind`, or nullptr.
const ProviderKind* find_provider_kind(std::string_view kind);
// Every kind, for messages ("one of: …").
std::vector<std::string_view> provider_kinds();

}  // namespace torii
