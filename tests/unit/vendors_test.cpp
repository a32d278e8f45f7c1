// The vendor table: per-vendor data (Azure, Cloudflare, header auth) and the registry rows.
#include <set>

#include <gtest/gtest.h>

#include "providers/registry.h"
#include "providers/vendors.h"

namespace torii {
namespace {

ProviderConfig config(std::string kind) {
  ProviderConfig c;
  c.name = "p";
  c.kind = std::move(kind);
  return c;
}

TEST(Vendors, KindsAreUniqueAndHaveABaseUrlOrNeedOne) {
  std::set<std::string_view> seen;
  for (const VendorSpec& v : vendor_specs()) {
    EXPECT_TRUE(seen.insert(v.kind).second) << v.kind;
    if (!v.default_base_url.empty()) {
      EXPECT_TRUE(v.default_base_url.starts_with("http")) << v.kind;
      EXPECT_FALSE(v.default_base_url.ends_with("/")) << v.kind;
    }
    if (v.auth == AuthStyle::header) EXPECT_FALSE(v.auth_header.empty()) << v.kind;
  }
  for (std::string_view k : {"azure", "azure-foundry", "cloudflare", "deepinfra", "sambanova",
                             "nvidia-nim", "novita", "hyperbolic", "lmstudio", "ollama-openai"})
    EXPECT_NE(find_vendor(k), nullptr) << k;
}

TEST(Vendors, OllamaIsTheNativeAdapterAndTheCompatibleOneIsRenamed) {
  EXPECT_EQ(find_vendor("ollama"), nullptr);
  const ProviderKind* native = find_provider_kind("ollama");
  ASSERT_NE(native, nullptr);
  EXPECT_FALSE(native->key_required);
  EXPECT_EQ(native->default_base_url, "http://127.0.0.1:11434");
  const ProviderKind* compat = find_provider_kind("ollama-openai");
  ASSERT_NE(compat, nullptr);
  EXPECT_EQ(compat->default_base_url, "http://127.0.0.1:11434/v1");
  const ProviderKind* cohere = find_provider_kind("cohere");
  ASSERT_NE(cohere, nullptr);
  EXPECT_TRUE(cohere->key_required);
  EXPECT_EQ(cohere->default_base_url, "https://api.cohere.com");
}

TEST(Vendors, AzureDeploymentPathWithDefaultApiVersion) {
  const VendorSpec* v = find_vendor("azure");
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->default_base_url.empty());
  auto c = config("azure");
  VendorPath path(*v, "", c);
  EXPECT_TRUE(path.model_in_path());
  EXPECT_EQ(path.chat("gpt-4o-prod"),
            "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
  // A deployment name is one path segment: anything else is escaped.
  EXPECT_EQ(path.chat("a/b c"),
            "/openai/deployments/a%2Fb%20c/chat/completions?api-version=2024-10-21");
  c.api_version = "2025-04-01-preview";
  EXPECT_EQ(VendorPath(*v, "", c).chat("d"),
            "/openai/deployments/d/chat/completions?api-version=2025-04-01-preview");
}

TEST(Vendors, AzureV1ApiKeepsTheModelInTheBody) {
  auto c = config("azure");
  c.api_version = "v1";
  VendorPath path(*find_vendor("azure"), "", c);
  EXPECT_FALSE(path.model_in_path());
  EXPECT_EQ(path.chat("gpt-4o"), "/openai/v1/chat/completions");
}

TEST(Vendors, AzureSendsTheKeyInApiKey) {
  const VendorSpec& v = *find_vendor("azure");
  EXPECT_EQ(vendor_auth_line(v, "k1"), "api-key: k1\r\n");
  EXPECT_EQ(vendor_auth_line(*find_vendor("openai"), "k2"), "Authorization: Bearer k2\r\n");
  EXPECT_EQ(vendor_auth_line(*find_vendor("sarvam"), "k3"), "api-subscription-key: k3\r\n");
  EXPECT_EQ(vendor_auth_line(*find_vendor("openai"), ""), "");
}

TEST(Vendors, AzureNeedsABaseUrl) {
  auto c = config("azure");
  auto r = check_vendor_config(*find_vendor("azure"), c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().param, "base_url");
  c.base_url = "https://res.openai.azure.com";
  EXPECT_TRUE(check_vendor_config(*find_vendor("azure"), c).ok());
}

TEST(Vendors, CloudflarePathCarriesTheAccount) {
  const VendorSpec& v = *find_vendor("cloudflare");
  EXPECT_EQ(v.default_base_url, "https://api.cloudflare.com/client/v4");
  auto c = config("cloudflare");
  auto missing = check_vendor_config(v, c);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().param, "account_id");
  EXPECT_NE(missing.error().message.find("'p' (cloudflare)"), std::string::npos);
  c.account_id = "../evil";
  EXPECT_FALSE(check_vendor_config(v, c).ok());
  c.account_id = "0123abcd";
  EXPECT_TRUE(check_vendor_config(v, c).ok());
  // base path "/client/v4" comes from the default base URL.
  VendorPath path(v, "/client/v4", c);
  EXPECT_EQ(path.chat("@cf/meta/llama-3.1-8b-instruct"),
            "/client/v4/accounts/0123abcd/ai/v1/chat/completions");
  EXPECT_EQ(vendor_auth_line(v, "tok"), "Authorization: Bearer tok\r\n");
}

TEST(Vendors, PlainVendorsAppendChatCompletions) {
  auto c = config("deepinfra");
  const VendorSpec& v = *find_vendor("deepinfra");
  EXPECT_EQ(v.default_base_url, "https://api.deepinfra.com/v1/openai");
  EXPECT_TRUE(v.max_completion_tokens_as_max_tokens);
  EXPECT_EQ(VendorPath(v, "/v1/openai", c).chat("m"), "/v1/openai/chat/completions");
  EXPECT_FALSE(find_vendor("mistral")->stream_usage_option);
  EXPECT_TRUE(find_vendor("mistral")->strip_stream_options);
}

}  // namespace
}  // namespace torii
