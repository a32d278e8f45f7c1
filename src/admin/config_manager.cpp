// ConfigManager (see config_manager.h).
#include "admin/config_manager.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>

#include "core/clock.h"
#include "core/log.h"

namespace torii::admin {

namespace {

Result<json::object> parse_stored(const StoredDoc& d) {
  boost::system::error_code ec;
  json::value v = json::parse(d.json, ec);
  if (ec || !v.is_object())
    return ApiError::internal("the stored config (version " + std::to_string(d.version) +
                              ") is not a JSON object");
  return std::move(v.get_object());
}

}  // namespace

ConfigManager::ConfigManager(ConfigStore& store, Hooks hooks)
    : store_(store), hooks_(std::move(hooks)) {}

Result<Config> ConfigManager::start(json::object seed, const std::string& seed_source) {
  std::lock_guard lock(mu_);
  auto stored = store_.load(kConfigDoc);
  if (!stored) return stored.error();
  json::object doc;
  if (stored->version == 0) {
    seed.erase("admin");
    auto saved = store_.save(kConfigDoc, 0, json::serialize(seed));
    if (!saved) return saved.error();
    HistoryRecord h;
    h.ts_ms = unix_ms();
    h.actor = "torii";
    h.action = "seed";
    h.entity = "config";
    h.version = *saved;
    h.after = json::serialize(redact(seed));
    (void)store_.append_history(h);
    log::info("config store ({}) was empty: seeded from {} (version {})", store_.kind(),
              seed_source, *saved);
    doc = std::move(seed);
    version_ = *saved;
  } else {
    auto parsed = parse_stored(*stored);
    if (!parsed) return parsed.error();
    doc = std::move(*parsed);
    version_ = stored->version;
    log::info("config from the {} store (version {}); {} only seeds an empty store", store_.kind(),
              version_, seed_source);
  }
  auto cfg = doc_to_config(doc);
  if (!cfg) return cfg.error();
  if (hooks_.complete) hooks_.complete(*cfg);
  doc_ = std::move(doc);
  return cfg;
}

std::pair<json::object, int64_t> ConfigManager::current() const {
  std::lock_guard lock(mu_);
  return {doc_, version_};
}

Result<std::shared_ptr<const Snapshot>> ConfigManager::build(const json::object& doc) {
  auto cfg = doc_to_config(doc);
  if (!cfg) return cfg.error();
  if (hooks_.complete) hooks_.complete(*cfg);
  auto snap = hooks_.build(std::move(*cfg));
  if (!snap) {
    ApiError e = snap.error();
    e.status = 400;
    if (e.code.empty()) e.code = "invalid_config";
    return e;
  }
  return snap;
}

Result<int64_t> ConfigManager::apply(Change change) {
  std::lock_guard lock(mu_);
  if (change.expected_version >= 0 && change.expected_version != version_) {
    ApiError e = ApiError::invalid_request(
        "the config is at version " + std::to_string(version_) + ", not " +
            std::to_string(change.expected_version) + ": read it again and retry",
        "", "version_conflict");
    e.status = 412;
    return e;
  }
  json::object next = doc_;
  if (auto r = change.edit(next); !r) return r.error();
  next.erase("admin");
  auto snap = build(next);
  if (!snap) return snap.error();
  auto saved = store_.save(kConfigDoc, version_, json::serialize(next));
  if (!saved) {
    if (saved.error().code == "version_conflict") {
      // Another node wrote first: take its version, and let the client retry on it.
      ApiError e = saved.error();
      e.status = 409;
      e.message = "the config changed on another node meanwhile; read it again and retry";
      return e;
    }
    return saved.error();
  }
  hooks_.commit(std::move(*snap));
  doc_ = std::move(next);
  version_ = *saved;
  HistoryRecord h;
  h.ts_ms = unix_ms();
  h.actor = change.actor;
  h.action = change.action;
  h.entity = change.entity;
  h.version = version_;
  if (!change.before.is_null()) h.before = json::serialize(redact(change.before));
  if (!change.after.is_null()) h.after = json::serialize(redact(change.after));
  if (auto r = store_.append_history(h); !r)
    log::error("admin: could not record the change in the history: {}", r.error().message);
  log::info("admin: {} {} {} (config version {})", change.actor, change.action, change.entity,
            version_);
  return version_;
}

Result<bool> ConfigManager::reload() {
  std::lock_guard lock(mu_);
  auto stored = store_.load(kConfigDoc);
  if (!stored) return stored.error();
  if (stored->version <= version_) return false;
  auto parsed = parse_stored(*stored);
  if (!parsed) return parsed.error();
  auto snap = build(*parsed);
  if (!snap) {
    log::error("config version {} from the store does not build, keeping version {}: {}",
               stored->version, version_, snap.error().message);
    return snap.error();
  }
  hooks_.commit(std::move(*snap));
  doc_ = std::move(*parsed);
  version_ = stored->version;
  log::info("config version {} applied from the {} store", version_, store_.kind());
  return true;
}

bool ConfigManager::rebuild() {
  std::lock_guard lock(mu_);
  auto snap = build(doc_);
  if (!snap) {
    log::error("config version {} does not build any more: {}", version_, snap.error().message);
    return false;
  }
  hooks_.commit(std::move(*snap));
  log::info("config version {} rebuilt", version_);
  return true;
}

Result<std::vector<HistoryRecord>> ConfigManager::history(int64_t before_id, int limit) {
  return store_.history(before_id, limit);
}

}  // namespace torii::admin
