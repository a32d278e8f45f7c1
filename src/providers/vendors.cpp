#include "providers/vendors.h"

#include <array>

#include "core/path_segment.h"

namespace torii {

namespace {

// Rows with the common defaults (Bearer key, stream_options accepted, max_completion_tokens
// understood) and the ones that only know max_tokens ("mct" in the Otoroshi LLM extension's
// table of OpenAI-like providers, where most of these rows come from).
// A row that also serves the Responses and/or legacy completions APIs natively.
constexpr VendorSpec apis(VendorSpec v, bool responses, bool completions) {
  v.responses = responses;
  v.completions = completions;
  return v;
}
constexpr VendorSpec plain(std::string_view kind, std::string_view url) {
  return VendorSpec{.kind = kind, .default_base_url = url};
}
constexpr VendorSpec mct(std::string_view kind, std::string_view url) {
  return VendorSpec{.kind = kind, .default_base_url = url,
                    .max_completion_tokens_as_max_tokens = true};
}
constexpr VendorSpec serving(VendorSpec v, unsigned modalities) {
  v.modalities = modalities;
  return v;
}
constexpr VendorSpec local(std::string_view kind, std::string_view url) {
  return VendorSpec{.kind = kind, .default_base_url = url, .key_required = false};
}

// Facts per vendor (their public API references): Mistral answers 422 to stream_options
// ("extra_forbidden") and always sends usage in its last chunk; it knows only max_tokens.
// Azure OpenAI: deployment paths with ?api-version (latest GA of the data-plane inference API:
// 2024-10-21), or the v1 API (/openai/v1, model in the body) when api_version is "v1"; the key
// goes in `api-key`. Azure AI Foundry models (https://<resource>.services.ai.azure.com/models):
// /chat/completions?api-version=2024-05-01-preview, `api-key`. Cloudflare Workers AI:
// https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1, Bearer token (base_url, when
// set, replaces https://api.cloudflare.com/client/v4; the account path is always appended).
constexpr std::array kVendors = {
    serving(apis(plain("openai", "https://api.openai.com/v1"), true, true), kAllModalities),
    VendorSpec{.kind = "mistral", .default_base_url = "https://api.mistral.ai/v1",
               .stream_usage_option = false, .strip_stream_options = true,
               .max_completion_tokens_as_max_tokens = true,
               .modalities = kEmbeddings | kTranscription | kModeration},
    serving(apis(plain("groq", "https://api.groq.com/openai/v1"), true, false),
            kSpeech | kTranscription | kTranslation),
    plain("deepseek", "https://api.deepseek.com/v1"),
    serving(plain("ovh", "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1"), kEmbeddings),
    serving(plain("scaleway", "https://api.scaleway.ai/v1"), kEmbeddings),
    plain("huggingface", "https://router.huggingface.co/v1"),
    serving(apis(plain("xai", "https://api.x.ai/v1"), true, false), kImages),
    plain("cerebras", "https://api.cerebras.ai/v1"),
    serving(apis(plain("together", "https://api.together.xyz/v1"), false, true),
            kEmbeddings | kImages),
    serving(apis(plain("fireworks", "https://api.fireworks.ai/inference/v1"), false, true),
            kEmbeddings),
    apis(plain("openrouter", "https://openrouter.ai/api/v1"), true, false),
    VendorSpec{.kind = "perplexity", .default_base_url = "https://api.perplexity.ai",
               .stream_usage_option = false, .strip_stream_options = true,
               .max_completion_tokens_as_max_tokens = true},
    VendorSpec{.kind = "azure", .default_base_url = "", .auth = AuthStyle::header,
               .auth_header = "api-key",
               .chat_path = "/openai/deployments/{model}/chat/completions?api-version={api_version}",
               .chat_path_v1 = "/openai/v1/chat/completions",
               .default_api_version = "2024-10-21",
               .modalities = kEmbeddings | kImages | kImageEdits | kSpeech | kTranscription |
                             kTranslation},
    VendorSpec{.kind = "azure-foundry", .default_base_url = "", .auth = AuthStyle::header,
               .auth_header = "api-key",
               .chat_path = "/chat/completions?api-version={api_version}",
               .default_api_version = "2024-05-01-preview"},
    VendorSpec{.kind = "cloudflare", .default_base_url = "https://api.cloudflare.com/client/v4",
               .chat_path = "/accounts/{account_id}/ai/v1/chat/completions",
               .account_id_required = true, .modalities = kEmbeddings},
    plain("cloudtemple", "https://api.ai.cloud-temple.com/v1"),
    serving(plain("gemini-openai", "https://generativelanguage.googleapis.com/v1beta/openai"),
            kEmbeddings),
    plain("github-models", "https://models.github.ai/inference"),
    plain("helicone", "https://ai-gateway.helicone.ai"),
    plain("venice", "https://api.venice.ai/api/v1"),
    mct("xiaomi-mimo", "https://api.xiaomimimo.com/v1"),
    mct("synthetic", "https://api.synthetic.new/openai/v1"),
    mct("apertis", "https://api.stima.tech/v1"),
    mct("nano-gpt", "https://nano-gpt.com/api/v1"),
    mct("poe", "https://api.poe.com/v1"),
    mct("chutes", "https://llm.chutes.ai/v1"),
    plain("abliteration", "https://api.abliteration.ai/v1"),
    mct("llamagate", "https://api.llamagate.dev/v1"),
    plain("gmi", "https://api.gmi-serving.com/v1"),
    VendorSpec{.kind = "sarvam", .default_base_url = "https://api.sarvam.ai/v1",
               .auth = AuthStyle::header, .max_completion_tokens_as_max_tokens = true,
               .auth_header = "api-subscription-key"},
    plain("assemblyai", "https://llm-gateway.assemblyai.com/v1"),
    plain("minimax", "https://api.minimax.io/v1"),
    mct("morph", "https://api.morphllm.com/v1"),
    plain("aiml", "https://api.aimlapi.com/v1"),
    plain("cometapi", "https://api.cometapi.com/v1"),
    plain("compactifai", "https://api.compactif.ai/v1"),
    serving(mct("deepinfra", "https://api.deepinfra.com/v1/openai"), kEmbeddings),
    plain("empower", "https://app.empower.dev/api/v1"),
    mct("featherless", "https://api.featherless.ai/v1"),
    plain("friendli", "https://api.friendli.ai/serverless/v1"),
    plain("galadriel", "https://api.galadriel.com/v1"),
    plain("hyperbolic", "https://api.hyperbolic.xyz/v1"),
    plain("lambda", "https://api.lambda.ai/v1"),
    plain("meta-llama", "https://api.llama.com/compat/v1"),
    serving(mct("nebius", "https://api.studio.nebius.ai/v1"), kEmbeddings),
    plain("novita", "https://api.novita.ai/v3/openai"),
    plain("nscale", "https://inference.api.nscale.com/v1"),
    mct("nvidia-nim", "https://integrate.api.nvidia.com/v1"),
    mct("sambanova", "https://api.sambanova.ai/v1"),
    plain("zai", "https://api.z.ai/api/paas/v4"),
    // Local servers: no key. "ollama" is the native adapter (providers/ollama.h); its
    // OpenAI-compatible endpoint stays available as "ollama-openai".
    serving(apis(local("ollama-openai", "http://127.0.0.1:11434/v1"), false, true), kEmbeddings),
    serving(local("lmstudio", "http://127.0.0.1:1234/v1"), kEmbeddings),
    serving(apis(local("vllm", "http://127.0.0.1:8000/v1"), true, true), kEmbeddings),
    serving(apis(local("llamacpp", "http://127.0.0.1:8080/v1"), false, true), kEmbeddings),
    serving(local("openai-compatible", ""), kAllModalities),
    serving(apis(local("mock", ""), true, true), kAllModalities),
};

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

std::span<const VendorSpec> vendor_specs() { return kVendors; }

const VendorSpec* find_vendor(std::string_view kind) {
  for (const auto& v : kVendors)
    if (v.kind == kind) return &v;
  return nullptr;
}

Result<void> check_vendor_config(const VendorSpec& vendor, const ProviderConfig& config) {
  std::string who = "provider '" + config.name + "' (" + std::string(vendor.kind) + "): ";
  if (vendor.account_id_required && config.account_id.empty())
    return ApiError::invalid_request(who + "account_id is required", "account_id");
  if (vendor.account_id_required &&
      config.account_id.find_first_of("/?#% ") != std::string::npos)
    return ApiError::invalid_request(who + "account_id must not contain '/', '?', '#', '%' or spaces",
                                     "account_id");
  if (vendor.default_base_url.empty() && config.base_url.empty() && vendor.kind != "mock")
    return ApiError::invalid_request(who + "base_url is required", "base_url");
  if (vendor.auth == AuthStyle::header && vendor.auth_header.empty())
    return ApiError::internal(who + "vendor row has no auth header");
  return {};
}

VendorPath::VendorPath(const VendorSpec& vendor, std::string_view base_path,
                       const ProviderConfig& config) {
  std::string_view tmpl = vendor.chat_path;
  if (config.api_version == "v1" && !vendor.chat_path_v1.empty()) tmpl = vendor.chat_path_v1;
  std::string path(base_path);
  path.append(tmpl);
  std::string version = config.api_version.empty() ? std::string(vendor.default_api_version)
                                                   : config.api_version;
  replace_all(path, "{api_version}", path_segment(version));
  replace_all(path, "{account_id}", path_segment(config.account_id));
  std::size_t at = path.find("{model}");
  if (at == std::string::npos) {
    prefix_ = std::move(path);
    return;
  }
  model_in_path_ = true;
  prefix_ = path.substr(0, at);
  suffix_ = path.substr(at + 7);
}

std::string VendorPath::chat(std::string_view model) const {
  if (!model_in_path_) return prefix_;
  std::string out = prefix_;
  out += path_segment(model);
  out += suffix_;
  return out;
}

std::string vendor_auth_line(const VendorSpec& vendor, std::string_view key) {
  if (key.empty()) return {};
  switch (vendor.auth) {
    case AuthStyle::bearer:
      return "Authorization: Bearer " + std::string(key) + "\r\n";
    case AuthStyle::header:
      return std::string(vendor.auth_header) + ": " + std::string(key) + "\r\n";
    case AuthStyle::none:
      break;
  }
  return {};
}

}  // namespace torii
