// Admin start-up helpers (see bootstrap.h).
#include "admin/bootstrap.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "identity/keys.h"

namespace torii::admin {

Result<std::unique_ptr<ConfigStore>> open_config_store(const AdminStoreConfig& s) {
  if (s.type == "memory") return make_memory_config_store();
  if (s.type == "redis") return make_redis_config_store(s.redis);
  return make_sqlite_config_store(s.path);
}

Result<json::object> seed_document(const std::string& config_path) {
  if (config_path.empty()) {
    auto doc = yaml_to_doc(std::string(demo_config_yaml()), "<embedded>");
    if (!doc) return doc;
    json::object key;
    key["name"] = "demo";
    key["key"] = "${env:TORII_DEMO_KEY}";
    json::object auth;
    auth["api_keys"] = json::array{std::move(key)};
    (*doc)["auth"] = std::move(auth);
    return doc;
  }
  std::ifstream in(config_path);
  if (!in) return ApiError::invalid_request(config_path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return yaml_to_doc(ss.str(), config_path);
}

std::string ensure_demo_key(const std::string& key_file) {
  if (const char* env = std::getenv("TORII_DEMO_KEY"); env != nullptr && *env != '\0') return env;
  std::string key;
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    std::getline(in, key);
  }
  if (key.empty()) {
    key = identity::generate_api_key();
    if (!key_file.empty()) {
      std::error_code ec;
      const auto dir = std::filesystem::path(key_file).parent_path();
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      {
        std::ofstream out(key_file, std::ios::trunc);
        out << key << "\n";
      }
      ::chmod(key_file.c_str(), 0600);
    }
  }
  ::setenv("TORII_DEMO_KEY", key.c_str(), 1);
  return key;
}

std::string find_swagger_ui(const std::string& configured) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> candidates;
  if (!configured.empty()) candidates.emplace_back(configured);
  candidates.emplace_back(fs::current_path(ec) / "node_modules/swagger-ui-dist");
  for (fs::path p = fs::read_symlink("/proc/self/exe", ec).parent_path(); !p.empty();
       p = p.parent_path()) {
    candidates.push_back(p / "node_modules/swagger-ui-dist");
    if (p == p.root_path()) break;
  }
  for (const auto& c : candidates)
    if (fs::exists(c / "swagger-ui-bundle.js", ec)) return c.string();
  return "";
}

}  // namespace torii::admin
