// The redis sink: XADD per event to one stream, pipelined (all commands appended, then one
// reply read per command: one round trip per batch). hiredis' blocking API on the runner's
// thread. After any error the connection is dropped and the next write reconnects.
#include <hiredis/hiredis.h>

#include <sys/time.h>

#include "audit/sinks.h"

namespace torii::audit {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

struct ReplyFree {
  void operator()(redisReply* r) const { if (r) freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

class RedisSink final : public AuditSink {
 public:
  explicit RedisSink(const AuditSinkConfig& c)
      : name_(c.name), redis_(c.redis), stream_(c.stream), maxlen_(c.maxlen),
        timeout_(c.timeout) {}
  ~RedisSink() override { disconnect(); }

  const std::string& name() const override { return name_; }

  Result<void> write(std::span<const std::string> events) override {
    if (events.empty()) return {};
    if (!ctx_) {
      if (auto r = connect(); !r) return r;
    }
    const std::string maxlen = std::to_string(maxlen_);
    for (const auto& e : events) {
      const std::string id = event_id(e);
      std::vector<const char*> argv = {"XADD", stream_.c_str()};
      std::vector<size_t> lens = {4, stream_.size()};
      if (maxlen_ > 0) {
        argv.insert(argv.end(), {"MAXLEN", "~", maxlen.c_str()});
        lens.insert(lens.end(), {6, 1, maxlen.size()});
      }
      argv.insert(argv.end(), {"*", "id", id.c_str(), "event", e.c_str()});
      lens.insert(lens.end(), {1, 2, id.size(), 5, e.size()});
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
          REDIS_OK) {
        return drop("pipeline");
      }
    }
    // Every reply is read, even after an error reply, so that the connection stays in step.
    std::string first_error;
    for (std::size_t i = 0; i < events.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK) return drop("XADD");
      Reply reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR && first_error.empty()) {
        first_error = std::string(reply->str, reply->len);
      }
    }
    if (!first_error.empty()) return sink_error(name_, "XADD " + stream_ + ": " + first_error);
    return {};
  }

 private:
  Result<void> connect() {
    const timeval tv = to_timeval(timeout_);
    ctx_ = redisConnectWithTimeout(redis_.host.c_str(), redis_.port, tv);
    if (!ctx_ || ctx_->err) return drop("connect to " + where());
    redisSetTimeout(ctx_, tv);
    if (!redis_.password.empty()) {
      const char* argv[] = {"AUTH", redis_.password.value.c_str()};
      const size_t lens[] = {4, redis_.password.value.size()};
      if (auto r = command(2, argv, lens, "AUTH"); !r) return r;
    }
    if (redis_.db != 0) {
      const std::string db = std::to_string(redis_.db);
      const char* argv[] = {"SELECT", db.c_str()};
      const size_t lens[] = {6, db.size()};
      if (auto r = command(2, argv, lens, "SELECT"); !r) return r;
    }
    return {};
  }

  // One command on a fresh connection; an error reply drops the connection.
  Result<void> command(int argc, const char** argv, const size_t* lens, const char* what) {
    Reply reply(static_cast<redisReply*>(redisCommandArgv(ctx_, argc, argv, lens)));
    if (!reply) return drop(what);
    if (reply->type == REDIS_REPLY_ERROR) {
      std::string text(reply->str, reply->len);  // e.g. WRONGPASS: never holds the password
      disconnect();
      return sink_error(name_, std::string(what) + " at " + where() + ": " + text);
    }
    return {};
  }

  ApiError drop(const std::string& what) {
    std::string cause = ctx_ ? std::string(ctx_->errstr) : "out of memory";
    disconnect();
    return sink_error(name_, what + " at " + where() + ": " + cause);
  }

  void disconnect() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }

  std::string where() const { return redis_.host + ":" + std::to_string(redis_.port); }

  std::string name_;
  RedisConfig redis_;
  std::string stream_;
  int64_t maxlen_;
  std::chrono::milliseconds timeout_;
  redisContext* ctx_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<AuditSink>> make_redis_sink(const AuditSinkConfig& c) {
  if (c.stream.empty()) return sink_error(c.name, "redis needs a stream");
  if (c.redis.host.empty()) return sink_error(c.name, "redis needs a host");
  // Connected lazily (first write): an unreachable server is a down sink, not a config error.
  return std::unique_ptr<AuditSink>(std::make_unique<RedisSink>(c));
}

}  // namespace torii::audit
