#pragma once
// What `torii serve` needs to start the admin side (docs/ADMIN_API.md#running-it).
#include <memory>
#include <string>

#include "admin/config_doc.h"
#include "admin/config_store.h"

namespace torii::admin {

// The store named by `admin.store`.
Result<std::unique_ptr<ConfigStore>> open_config_store(const AdminStoreConfig& s);

// The document that seeds an empty store: the config file's, or the embedded demo's with its
// key as ${env:TORII_DEMO_KEY}.
Result<json::object> seed_document(const std::string& config_path);

// The demo key: TORII_DEMO_KEY when set; else the one kept in `key_file` (made and saved there,
// mode 0600, on the first start) when `key_file` is not empty; else a random one. It is put in
// TORII_DEMO_KEY, which the demo document refers to.
std::string ensure_demo_key(const std::string& key_file);

// The directory of npm's swagger-ui-dist: `configured` when set, else node_modules/ under the
// working directory or above the executable. "" when not found (/apis/docs then says so).
std::string find_swagger_ui(const std::string& configured);

}  // namespace torii::admin
