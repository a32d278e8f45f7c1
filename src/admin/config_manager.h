#pragma once
// ConfigManager: the managed config's one writer (docs/ADMIN_API.md#live-config). Every change
// edits a copy of the current document, turns it into a Config through the loader, builds the
// live objects (which validates providers, routes, rules), saves the document in the
// ConfigStore with a compare-and-set on its version, and only then swaps the new snapshot in.
// Requests in flight keep the snapshot they started with. A failed step changes nothing.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/config_doc.h"
#include "admin/config_store.h"
#include "config/snapshot.h"

namespace torii::admin {

class ConfigManager {
 public:
  struct Hooks {
    // Completes a Config read from the document with what does not live there (the admin
    // section, command-line overrides).
    std::function<void(Config&)> complete;
    // Builds (and so validates) the live objects.
    std::function<Result<std::shared_ptr<const Snapshot>>(Config)> build;
    // Swaps them in (and reconfigures what outlives snapshots, e.g. the audit pipeline).
    std::function<void(std::shared_ptr<const Snapshot>)> commit;
  };

  ConfigManager(ConfigStore& store, Hooks hooks);

  // At startup: the stored document, or, when the store has none, `seed` (saved as version 1).
  // Returns the Config to start with (not built: the caller builds and commits the first one).
  Result<Config> start(json::object seed, const std::string& seed_source);

  // The current document and its version.
  std::pair<json::object, int64_t> current() const;

  // One change. `edit` changes a copy of the document (its error is the answer); when
  // `expected_version` >= 0 the document must be at that version (else 412). History gets
  // `entity`, `before` and `after` (redacted here). Returns the new version.
  struct Change {
    std::string actor, action, entity;
    std::function<Result<void>(json::object&)> edit;
    int64_t expected_version = -1;
    json::value before, after;  // null: none
  };
  Result<int64_t> apply(Change change);

  // Reads the store again and applies its document when its version is newer than ours (another
  // node or process changed it; SIGHUP). true when it changed something.
  Result<bool> reload();

  // Builds the current document again (its secrets are read again) and swaps it in; false
  // (logged) when it does not build.
  bool rebuild();

  Result<std::vector<HistoryRecord>> history(int64_t before_id, int limit);
  ConfigStore& store() { return store_; }

 private:
  Result<std::shared_ptr<const Snapshot>> build(const json::object& doc);

  ConfigStore& store_;
  Hooks hooks_;
  mutable std::mutex mu_;  // one change at a time; guards doc_ and version_
  json::object doc_;
  int64_t version_ = 0;
};

}  // namespace torii::admin
