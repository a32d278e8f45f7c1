// The memory ConfigStore: for tests and for a gateway that keeps nothing across restarts. A map
// under a mutex; the history is a vector whose index + 1 is the record's id.
#include <algorithm>
#include <map>
#include <mutex>

#include "admin/config_store.h"

namespace torii::admin {
namespace {

class MemoryConfigStore final : public ConfigStore {
 public:
  Result<StoredDoc> load(std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = docs_.find(name);
    if (it == docs_.end()) return StoredDoc{};
    return it->second;
  }

  Result<int64_t> save(std::string_view name, int64_t expected, const std::string& json) override {
    std::lock_guard lock(mu_);
    auto it = docs_.find(name);
    const int64_t current = it == docs_.end() ? 0 : it->second.version;
    if (current != expected) {
      return ApiError{409, "invalid_request_error", "version_conflict",
                      "document '" + std::string(name) + "' is at version " +
                          std::to_string(current) + ", not " + std::to_string(expected)};
    }
    if (it == docs_.end()) it = docs_.emplace(std::string(name), StoredDoc{}).first;
    it->second.version = expected + 1;
    it->second.json = json;
    return it->second.version;
  }

  Result<int64_t> append_history(const HistoryRecord& record) override {
    std::lock_guard lock(mu_);
    history_.push_back(record);
    history_.back().id = static_cast<int64_t>(history_.size());
    return history_.back().id;
  }

  Result<std::vector<HistoryRecord>> history(int64_t before_id, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<HistoryRecord> out;
    const auto size = static_cast<int64_t>(history_.size());
    // Ids are 1..size at indexes 0..size-1: the newest id below before_id is at before_id - 2.
    int64_t i = before_id <= 0 || before_id > size ? size - 1 : before_id - 2;
    for (; i >= 0 && static_cast<int>(out.size()) < limit; --i) {
      out.push_back(history_[static_cast<std::size_t>(i)]);
    }
    return out;
  }

  std::string_view kind() const override { return "memory"; }

 private:
  std::mutex mu_;
  std::map<std::string, StoredDoc, std::less<>> docs_;
  std::vector<HistoryRecord> history_;
};

}  // namespace

std::unique_ptr<ConfigStore> make_memory_config_store() {
  return std::make_unique<MemoryConfigStore>();
}

}  // namespace torii::admin
