#include "config/snapshot.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <ctime>

#include "policies/api_key/api_key_policy.h"
#include "providers/openai_compatible.h"
#include "providers/registry.h"
#include "providers/vendors.h"

namespace torii {
namespace json = boost::json;

const Route* Snapshot::resolve(std::string_view model, Route& scratch) const {
  if (auto it = routes.find(std::string(model)); it != routes.end()) return &it->second;
  auto slash = model.find('/');
  if (slash == std::string_view::npos || slash + 1 == model.size()) return nullptr;
  auto p = provider_by_name.find(std::string(model.substr(0, slash)));
  if (p == provider_by_name.end()) return nullptr;
  scratch.name = std::string(model);
  scratch.targets.assign(1, Target{p->second, std::string(model.substr(slash + 1))});
  return &scratch;
}

static std::string models_body(const Snapshot& s) {
  json::array data;
  auto created = static_cast<int64_t>(std::time(nullptr));
  auto add = [&](const std::string& id, const std::string& owner) {
    data.push_back(json::object{{"id", id}, {"object", "model"}, {"created", created},
                                {"owned_by", owner}});
  };
  for (const auto& p : s.providers)
    for (const auto& m : p->models()) add(p->name() + "/" + m, p->name());
  for (const auto& r : s.config.routes) add(r.name, "torii");
  return json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
}

Result<std::shared_ptr<const Snapshot>> build_snapshot(Config config,
                                                       const std::string& builtin_mock_url) {
  auto s = std::make_shared<Snapshot>();
  for (const auto& pc : config.providers) {
    const ProviderKind* vendor = find_provider_kind(pc.kind);
    if (!vendor)
      return ApiError::invalid_request("provider '" + pc.name + "': unknown kind '" + pc.kind + "'");
    // The built-in mock serves OpenAI paths under /v1 and native paths from its root.
    const bool builtin = pc.kind == "mock" || pc.base_url == kBuiltinMock;
    const VendorSpec* spec = find_vendor(pc.kind);
    const bool openai_paths = spec != nullptr && spec->chat_path == "/chat/completions";
    if (builtin && builtin_mock_url.empty())
      return ApiError::invalid_request("provider '" + pc.name +
                                       "': the built-in mock is not running (it starts only "
                                       "when the config at startup uses it)");
    std::string base = builtin              ? builtin_mock_url + (openai_paths ? "/v1" : "")
                       : pc.base_url.empty() ? std::string(vendor->default_base_url)
                                             : pc.base_url;
    if (base.empty())
      return ApiError::invalid_request("provider '" + pc.name + "': base_url is required for kind '" +
                                       pc.kind + "'");
    if (vendor->key_required && pc.api_key.empty())
      return ApiError::invalid_request("provider '" + pc.name + "': api_key is required for kind '" +
                                       pc.kind + "'");
    auto ep = make_endpoint(base, pc.ca_file, pc.timeouts);
    if (!ep) return ApiError::invalid_request("provider '" + pc.name + "': " + ep.error().message);
    auto made = vendor->make(pc, std::move(*ep));
    if (!made) return made.error();
    auto p = std::move(*made);
    s->provider_by_name[pc.name] = p.get();
    s->providers.push_back(std::move(p));
  }
  for (const auto& p : s->providers)
    for (const auto& m : p->models())
      s->routes[p->name() + "/" + m] = Route{p->name() + "/" + m, {Target{p.get(), m}}};
  for (const auto& rc : config.routes) {
    Route r{rc.name, {}};
    for (const auto& t : rc.targets) {
      auto slash = t.find('/');
      auto p = slash == std::string::npos ? s->provider_by_name.end()
                                          : s->provider_by_name.find(t.substr(0, slash));
      if (p == s->provider_by_name.end())
        return ApiError::invalid_request("route '" + rc.name + "': target '" + t +
                                         "' names no provider");
      r.targets.push_back(Target{p->second, t.substr(slash + 1)});
    }
    s->routes[rc.name] = std::move(r);
  }
  if (!config.api_keys.empty()) s->policies.push_back(make_api_key_policy(config.api_keys));
  s->config = std::move(config);
  s->models_json = models_body(*s);
  return std::shared_ptr<const Snapshot>(std::move(s));
}

}  // namespace torii
