// IdentityLoader::vault: `vault:` (see loader_identity.h and docs/SECURITY.md, Vault).
#include "config/loader_identity.h"
#include "identity/vault.h"

namespace torii::config_detail {

void IdentityLoader::vault(const YAML::Node& v, const std::string& path, Config& cfg) {
  VaultConfig& out = cfg.vault;
  out.line = line_of(v);
  std::set<std::string> got;
  const std::size_t errors_before = errors_.size();
  // Which keys each backend reads; another backend's key is a mistake worth reporting.
  static const std::map<std::string, std::set<std::string>> kKeys = {
      {"env", {"prefix"}},
      {"file", {"directory"}},
      {"local", {"path", "master_key"}},
      {"hashicorp", {"address", "mount", "namespace", "token", "ca_file"}},
  };
  std::map<std::string, YAML::Node> given;
  each_key(v, path,
           {"backend", "ttl_s", "prefix", "directory", "path", "master_key", "address", "mount",
            "namespace", "token", "ca_file"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             given[k] = x;
             if (k == "backend") {
               auto s = nonempty(x, p);
               if (s && !kKeys.count(*s)) {
                 error(x, p, "must be env, file, local or hashicorp, got '" + *s + "'");
               } else if (s) {
                 out.backend = *s;
               }
             }
             if (k == "ttl_s") {
               if (auto n = integer(x, p, 0, 365 * 86400)) out.ttl = std::chrono::seconds(*n);
             }
             if (k == "prefix") {
               // An empty prefix is allowed: NAME/KEY then maps to NAME_KEY itself.
               if (auto s = str(x, p)) out.prefix = *s;
             }
             if (k == "directory") set_str(x, p, out.directory);
             if (k == "path") set_str(x, p, out.path);
             if (k == "address") {
               set_str(x, p, out.address);
               if (!out.address.empty() && out.address.rfind("http://", 0) != 0 &&
                   out.address.rfind("https://", 0) != 0) {
                 error(x, p, "must start with http:// or https://");
               }
             }
             if (k == "mount") set_str(x, p, out.mount);
             if (k == "namespace") set_str(x, p, out.namespace_);
             if (k == "ca_file") set_str(x, p, out.ca_file);
             // The vault's own credentials cannot come from the vault itself.
             if (k == "token") out.token = secret(x, p);
             if (k == "master_key") out.master_key = secret(x, p);
           });
  if (!v.IsMap()) return;
  if (!got.count("backend")) {
    error(v, key_path(path, "backend"), "is required (env, file, local or hashicorp)");
    return;
  }
  if (out.backend.empty()) return;
  const auto& mine = kKeys.at(out.backend);
  for (const auto& [k, node] : given) {
    if (k != "backend" && k != "ttl_s" && !mine.count(k))
      error(node, key_path(path, k), "is not used by the " + out.backend + " backend");
  }
  if (out.backend == "file") require(v, path, got, {"directory"});
  if (out.backend == "local") require(v, path, got, {"path", "master_key"});
  if (out.backend == "hashicorp") require(v, path, got, {"address", "token"});
  for (const char* k : {"token", "master_key"}) {
    auto it = given.find(k);
    if (it != given.end() && it->second.IsScalar() &&
        it->second.Scalar().rfind("${vault:", 0) == 0) {
      error(it->second, key_path(path, k), "cannot be a ${vault:...} reference");
    }
  }
  if (errors_.size() != errors_before) return;
  for (const auto* s : {&out.token, &out.master_key}) {
    if (s->literal) {
      error(v, path, "the vault's token and master_key must be ${env:NAME} or ${file:/path}, "
                     "not literals");
      return;
    }
  }
  auto made = identity::make_vault(out);
  if (!made) {
    error(v, path, made.error().message);
    return;
  }
  cfg.vault_client = std::move(*made);
  vault_ = cfg.vault_client.get();
}

}  // namespace torii::config_detail
