#pragma once
// ConfigStore: where the managed configuration and the admin accounts persist (docs/ADMIN_API.md).
// It holds named JSON documents, each with a version that a write must name (compare-and-set),
// and an append-only history of admin actions. Three backends: memory (tests, nothing kept),
// SQLite (the embedded default, one file) and Redis (clusters: every node reads the same keys and
// a pub/sub message tells the others that a document changed).
//
// Calls are blocking and thread-safe; torii makes them from the admin listener's thread and the
// control thread, never from a gateway worker.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"

namespace torii::admin {

// The documents torii keeps.
inline constexpr std::string_view kConfigDoc = "config";     // the gateway config (JSON)
inline constexpr std::string_view kAccountsDoc = "accounts";  // admin users and tokens (JSON)

struct StoredDoc {
  int64_t version = 0;  // 0: the document does not exist yet
  std::string json;     // "" when version is 0
};

// One admin action, as recorded (secrets already redacted by the caller).
struct HistoryRecord {
  int64_t id = 0;         // assigned by the store on append (increasing); 0 before
  int64_t ts_ms = 0;      // unix milliseconds
  std::string actor;      // the admin user or token name
  std::string action;     // create | update | delete | import | rotate | revoke | reset | login ...
  std::string entity;     // e.g. "providers/openai", "config", "users/alice"
  int64_t version = 0;    // the config version it produced (0: none)
  std::string before;     // JSON ("" when none)
  std::string after;      // JSON ("" when none)
};

class ConfigStore {
 public:
  virtual ~ConfigStore() = default;

  // The document `name` (version 0 and "" when absent). An error when the store is unreachable.
  virtual Result<StoredDoc> load(std::string_view name) = 0;
  // Writes `json` as `name` when its stored version is `expected` (0: must not exist yet) and
  // returns the new version (expected + 1). When the version differs: an ApiError with status
  // 409 and code "version_conflict" (nothing written). Other failures: status 503.
  virtual Result<int64_t> save(std::string_view name, int64_t expected, const std::string& json) = 0;
  // Appends to the history; returns the record's id.
  virtual Result<int64_t> append_history(const HistoryRecord& record) = 0;
  // Newest first: the records with id < before_id (0: from the newest), at most `limit`.
  virtual Result<std::vector<HistoryRecord>> history(int64_t before_id, int limit) = 0;
  // Calls `on_change(name, version)` when ANOTHER process changed a document (Redis: pub/sub;
  // SQLite and memory: never). Called from a thread of the store's own; set once, before use.
  // Saves made through this object also announce themselves to the other nodes.
  virtual void watch(std::function<void(std::string name, int64_t version)> on_change) {
    (void)on_change;
  }
  // "memory" | "sqlite" | "redis"
  virtual std::string_view kind() const = 0;
};

std::unique_ptr<ConfigStore> make_memory_config_store();
// Creates the file (and its directory) when missing. WAL mode; safe for several processes.
Result<std::unique_ptr<ConfigStore>> make_sqlite_config_store(const std::string& path);
// Keys under redis.prefix: "<prefix>doc:<name>" (hash: version, json), "<prefix>history"
// (stream or list), pub/sub channel "<prefix>config-changed". Connects at once (an error when
// Redis is unreachable).
Result<std::unique_ptr<ConfigStore>> make_redis_config_store(const RedisConfig& redis);

}  // namespace torii::admin
