// The sink factory, shared helpers and the stdout sink.
#include "audit/sinks.h"

#include <cstdio>

#include <boost/json.hpp>

namespace torii::audit {

ApiError sink_error(const std::string& name, const std::string& what) {
  return ApiError::internal("audit sink " + name + ": " + what);
}

std::string event_id(std::string_view line) {
  // Fast path: to_json writes {"id":"<32 hex>",... first.
  constexpr std::string_view kPrefix = "{\"id\":\"";
  if (line.substr(0, kPrefix.size()) == kPrefix) {
    auto end = line.find('"', kPrefix.size());
    auto id = line.substr(kPrefix.size(), end - kPrefix.size());
    if (end != std::string_view::npos && id.find('\\') == std::string_view::npos) {
      return std::string(id);
    }
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return {};
  const auto* id = v.as_object().if_contains("id");
  if (!id) return {};
  if (id->is_string()) return std::string(id->as_string());
  return boost::json::serialize(*id);
}

namespace {

class StdoutSink final : public AuditSink {
 public:
  explicit StdoutSink(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }

  Result<void> write(std::span<const std::string> events) override {
    for (const auto& e : events) {
      std::fwrite(e.data(), 1, e.size(), stdout);
      std::fputc('\n', stdout);
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::clearerr(stdout);
      return sink_error(name_, "cannot write to stdout");
    }
    return {};
  }

 private:
  std::string name_;
};

}  // namespace

Result<std::unique_ptr<AuditSink>> make_stdout_sink(const AuditSinkConfig& c) {
  return std::unique_ptr<AuditSink>(std::make_unique<StdoutSink>(c.name));
}

Result<std::unique_ptr<AuditSink>> make_sink(const AuditSinkConfig& config) {
  AuditSinkConfig c = config;
  if (c.name.empty()) c.name = c.type;
  if (c.type == "jsonl") return make_jsonl_sink(c);
  if (c.type == "sqlite") return make_sqlite_sink(c);
  if (c.type == "webhook") return make_webhook_sink(c);
  if (c.type == "redis") return make_redis_sink(c);
  if (c.type == "stdout") return make_stdout_sink(c);
  return sink_error(c.name.empty() ? std::string("?") : c.name,
                    "unknown type '" + c.type + "' (jsonl, sqlite, webhook, redis, stdout)");
}

}  // namespace torii::audit
