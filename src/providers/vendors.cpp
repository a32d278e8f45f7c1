#include "providers/vendors.h"

#include <array>

namespace torii {

namespace {
// Facts per vendor (their public API references): Mistral answers 422 to stream_options
// ("extra_forbidden") and always sends usage in its last chunk; it knows only max_tokens.
constexpr std::array kVendors = {
    VendorSpec{"openai", "https://api.openai.com/v1"},
    VendorSpec{"mistral", "https://api.mistral.ai/v1", AuthStyle::bearer, true, false, true, true},
    VendorSpec{"groq", "https://api.groq.com/openai/v1"},
    VendorSpec{"deepseek", "https://api.deepseek.com/v1"},
    VendorSpec{"ovh", "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1"},
    VendorSpec{"scaleway", "https://api.scaleway.ai/v1"},
    VendorSpec{"huggingface", "https://router.huggingface.co/v1"},
    VendorSpec{"xai", "https://api.x.ai/v1"},
    VendorSpec{"cerebras", "https://api.cerebras.ai/v1"},
    VendorSpec{"together", "https://api.together.xyz/v1"},
    VendorSpec{"fireworks", "https://api.fireworks.ai/inference/v1"},
    VendorSpec{"openrouter", "https://openrouter.ai/api/v1"},
    VendorSpec{"perplexity", "https://api.perplexity.ai", AuthStyle::bearer, true, false, true, true},
    VendorSpec{"ollama", "http://127.0.0.1:11434/v1", AuthStyle::bearer, false},
    VendorSpec{"vllm", "http://127.0.0.1:8000/v1", AuthStyle::bearer, false},
    VendorSpec{"llamacpp", "http://127.0.0.1:8080/v1", AuthStyle::bearer, false},
    VendorSpec{"openai-compatible", "", AuthStyle::bearer, false},
    VendorSpec{"mock", "", AuthStyle::bearer, false},
};
}  // namespace

const VendorSpec* find_vendor(std::string_view kind) {
  for (const auto& v : kVendors)
    if (v.kind == kind) return &v;
  return nullptr;
}

}  // namespace torii
