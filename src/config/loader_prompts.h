#pragma once
// The prompt library part of the config loader (docs/PROMPTS.md): `prompts:` (templates,
// contexts) and the check of the routes' `prompts:` references. Internal to src/config.
#include "config/loader_guardrails.h"

namespace torii::config_detail {

class PromptsLoader : public GuardrailsLoader {
 public:
  using GuardrailsLoader::GuardrailsLoader;

 protected:
  void prompts(const YAML::Node& v, const std::string& path, Config& cfg);
  // After every section is read: the contexts and templates routes name exist.
  void check_prompts(const Config& cfg);

 private:
  void prompt_template(const YAML::Node& v, const std::string& path, PromptTemplateConfig& out);
  void prompt_context(const YAML::Node& v, const std::string& path, PromptContextConfig& out);
  void prompt_messages(const YAML::Node& v, const std::string& path,
                       std::vector<PromptMessageConfig>& out);
  // A text with placeholders: a string that parses (prompts/template.h).
  void prompt_text(const YAML::Node& v, const std::string& path, std::string& out);
};

}  // namespace torii::config_detail
