#pragma once
// The admin REST API (docs/ADMIN_API.md): served by its own listener (a torii Server with one
// worker thread, 127.0.0.1:8081 by default), so that its slow work (argon2id, SQLite, snapshot
// builds) never runs on a gateway worker. Versioned under /api/v1; the OpenAPI descriptor at
// /apis/openapi.json and Swagger UI at /apis/docs.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admin/accounts.h"
#include "admin/config_manager.h"
#include "config/snapshot.h"
#include "server/http.h"

namespace torii::admin {

struct AdminDeps {
  ConfigManager* manager = nullptr;
  Accounts* accounts = nullptr;
  const SnapshotHolder* holder = nullptr;  // the live snapshot (health, quota state, audit path)
  AdminConfig config;
  std::string swagger_ui_dir;  // swagger-ui-dist's files; "" : /apis/docs answers 404
};

std::shared_ptr<Handler> make_admin_handler(AdminDeps deps);

// Every endpoint as "METHOD /path/{param}" (the OpenAPI contract test compares it with the
// descriptor: `torii admin-routes` prints it).
std::vector<std::string> admin_routes();

// The OpenAPI 3.1 descriptor served at /apis/openapi.json (embedded at build time).
std::string_view openapi_json();

}  // namespace torii::admin
