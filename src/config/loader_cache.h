#pragma once
// The cache part of the config loader (docs/CACHING.md): `cache:` and, once every section is
// read, the checks that need the routes (the embedding model, `routes:`). Internal to
// src/config.
#include "config/loader_prompts.h"

namespace torii::config_detail {

class CacheLoader : public PromptsLoader {
 public:
  using PromptsLoader::PromptsLoader;

 protected:
  void cache(const YAML::Node& v, const std::string& path, Config& cfg);
  // After every section is read: the routes named exist, the embedding model resolves, and
  // the digest of the sections that shape answers (guardrails, prompts) is set.
  void check_cache(const YAML::Node& root, Config& cfg);

 private:
  void semantic(const YAML::Node& v, const std::string& path, SemanticCacheConfig& out);
  void fraction(const YAML::Node& v, const std::string& path, double min, double max,
                double& out);
  int cache_line_ = 0;
};

}  // namespace torii::config_detail
