// The Redis ConfigStore: for clusters, every node reads the same keys. hiredis' blocking API:
// commands go through one mutex-guarded connection (admin calls are rare and off the hot path);
// watch() runs a thread with a subscriber connection of its own.
//
// Keys (under the prefix): "doc:<name>" a hash {version, json}; "history:seq" the last history
// id; "history" a list of JSON records, newest first, trimmed to kHistoryMax. The channel
// "config-changed" carries "<name> <version> <node-id>" after each save.
//
// Each save and each history append is one Lua script: the compare-and-set, the publish, the id
// and the push happen atomically, so no two nodes can interleave them.
#include <hiredis/hiredis.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "admin/config_store.h"

namespace torii::admin {
namespace {

using std::chrono::milliseconds;

constexpr int kHistoryMax = 10000;
// The subscriber's poll: how long the destructor may wait for the watch thread.
constexpr milliseconds kPollInterval{200};
constexpr milliseconds kMaxBackoff{2000};
// RedisConfig.timeout is sized for the quota hot path (50 ms); admin calls may run Lua and can
// wait longer without harm, but a frozen server must still not hang the admin API.
constexpr milliseconds kMinCommandTimeout{1000};

// KEYS: doc, channel. ARGV: expected, json, name, node id. Returns {1, new version} or
// {0, current version} on a conflict.
constexpr std::string_view kSaveScript = R"lua(
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if v ~= tonumber(ARGV[1]) then return {0, v} end
local nv = v + 1
redis.call('HSET', KEYS[1], 'version', nv, 'json', ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[3] .. ' ' .. nv .. ' ' .. ARGV[4])
return {1, nv}
)lua";

// KEYS: seq, list. ARGV: the record as a JSON object without its id, max length. The id is
// spliced in front, so that numbers are kept as the client wrote them (cjson would round them).
constexpr std::string_view kAppendScript = R"lua(
local id = redis.call('INCR', KEYS[1])
redis.call('LPUSH', KEYS[2], '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2))
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
return id
)lua";

// KEYS: list. ARGV: before_id (0: newest), limit. Ids in the list are consecutive (each pushed
// with its INCR, atomically), so the record with id X is at index head_id - X.
constexpr std::string_view kHistoryScript = R"lua(
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then return {} end
local hid = tonumber(string.match(head, '^{"id":(%d+)'))
local before = tonumber(ARGV[1])
local start = 0
if hid and before > 0 then start = hid - before + 1 end
if start < 0 then start = 0 end
return redis.call('LRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1)
)lua";

struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

timeval to_timeval(milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string random_node_id() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (auto& c : id) c = kHex[gen() % 16];
  return id;
}

// Escapes the glob characters of a key prefix for SCAN MATCH.
std::string glob_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string reply_text(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len) : std::string();
}

// One blocking connection: connect, AUTH, SELECT. Owns the context.
class Connection {
 public:
  Connection() = default;
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const { return ctx_ != nullptr; }
  redisContext* ctx() const { return ctx_; }

  // Empty on success, else the reason (never holding the password). `on_fd` is told the
  // socket as soon as it is connected (before AUTH), and -1 just before it is closed.
  std::string open(const RedisConfig& cfg, milliseconds command_timeout,
                   std::function<void(int)> on_fd = {}) {
    close();
    on_fd_ = std::move(on_fd);
    ctx_ = redisConnectWithTimeout(cfg.host.c_str(), cfg.port, to_timeval(cfg.connect_timeout));
    if (!ctx_ || ctx_->err) return drop();
    if (on_fd_) on_fd_(ctx_->fd);
    redisSetTimeout(ctx_, to_timeval(command_timeout));
    redisEnableKeepAlive(ctx_);
    if (!cfg.password.empty()) {
      if (auto e = simple({"AUTH", cfg.password.value}, "AUTH"); !e.empty()) return e;
    }
    if (cfg.db != 0) {
      if (auto e = simple({"SELECT", std::to_string(cfg.db)}, "SELECT"); !e.empty()) return e;
    }
    return {};
  }

  // Sends one command and reads its reply; null on an I/O error (the context keeps err set).
  Reply command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  }

  // The context's error text, then the connection is closed.
  std::string drop() {
    std::string cause = ctx_ ? std::string(ctx_->errstr) : "out of memory";
    close();
    return cause;
  }

  void close() {
    if (ctx_ && on_fd_) on_fd_(-1);
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }

 private:
  std::string simple(const std::vector<std::string>& args, const char* what) {
    Reply r = command(args);
    if (!r) return drop();
    if (r->type == REDIS_REPLY_ERROR) {
      std::string text = std::string(what) + ": " + reply_text(r.get());  // WRONGPASS etc.
      close();
      return text;
    }
    return {};
  }

  redisContext* ctx_ = nullptr;
  std::function<void(int)> on_fd_;
};

class RedisConfigStore final : public ConfigStore {
 public:
  explicit RedisConfigStore(const RedisConfig& cfg)
      : cfg_(cfg),
        timeout_(std::max(cfg.timeout, kMinCommandTimeout)),
        node_id_(random_node_id()),
        channel_(cfg.prefix + "config-changed") {}

  ~RedisConfigStore() override {
    {
      std::lock_guard lock(stop_mu_);
      stop_ = true;
      // Wakes a subscriber blocked in AUTH or SUBSCRIBE on a frozen server.
      if (sub_fd_ >= 0) ::shutdown(sub_fd_, SHUT_RDWR);
    }
    stop_cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
  }

  Result<void> connect() {
    std::lock_guard lock(mu_);
    if (auto e = conn_.open(cfg_, timeout_); !e.empty()) return unavailable(e);
    return {};
  }

  Result<StoredDoc> load(std::string_view name) override {
    auto r = run({"HMGET", doc_key(name), "version", "json"});
    if (!r) return r.error();
    const redisReply* rep = r->get();
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) return bad_reply("HMGET");
    StoredDoc doc;
    if (rep->element[0]->type == REDIS_REPLY_NIL) return doc;
    auto v = reply_text(rep->element[0]);
    std::from_chars(v.data(), v.data() + v.size(), doc.version);
    doc.json = reply_text(rep->element[1]);
    return doc;
  }

  Result<int64_t> save(std::string_view name, int64_t expected, const std::string& json) override {
    auto r = run({"EVAL", std::string(kSaveScript), "2", doc_key(name), channel_,
                  std::to_string(expected), json, std::string(name), node_id_});
    if (!r) return r.error();
    const redisReply* rep = r->get();
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_INTEGER) {
      return bad_reply("EVAL save");
    }
    const int64_t version = rep->element[1]->integer;
    if (rep->element[0]->integer != 1) {
      return ApiError{409, "invalid_request_error", "version_conflict",
                      "document '" + std::string(name) + "' is at version " +
                          std::to_string(version) + ", not " + std::to_string(expected)};
    }
    return version;
  }

  Result<int64_t> append_history(const HistoryRecord& rec) override {
    boost::json::object o;
    o["ts_ms"] = rec.ts_ms;
    o["actor"] = rec.actor;
    o["action"] = rec.action;
    o["entity"] = rec.entity;
    o["version"] = rec.version;
    o["before"] = rec.before;
    o["after"] = rec.after;
    auto r = run({"EVAL", std::string(kAppendScript), "2", cfg_.prefix + "history:seq",
                  cfg_.prefix + "history", boost::json::serialize(o),
                  std::to_string(kHistoryMax)});
    if (!r) return r.error();
    if ((*r)->type != REDIS_REPLY_INTEGER) return bad_reply("EVAL append");
    return static_cast<int64_t>((*r)->integer);
  }

  Result<std::vector<HistoryRecord>> history(int64_t before_id, int limit) override {
    std::vector<HistoryRecord> out;
    if (limit <= 0) return out;
    auto r = run({"EVAL", std::string(kHistoryScript), "1", cfg_.prefix + "history",
                  std::to_string(std::max<int64_t>(before_id, 0)), std::to_string(limit)});
    if (!r) return r.error();
    const redisReply* rep = r->get();
    if (rep->type != REDIS_REPLY_ARRAY) return bad_reply("EVAL history");
    for (std::size_t i = 0; i < rep->elements && static_cast<int>(out.size()) < limit; ++i) {
      boost::system::error_code ec;
      auto v = boost::json::parse(reply_text(rep->element[i]), ec);
      if (ec || !v.is_object()) continue;  // not ours: skipped, never fatal
      const auto& o = v.as_object();
      HistoryRecord h;
      h.id = int_of(o, "id");
      if (before_id > 0 && h.id >= before_id) continue;
      h.ts_ms = int_of(o, "ts_ms");
      h.actor = str_of(o, "actor");
      h.action = str_of(o, "action");
      h.entity = str_of(o, "entity");
      h.version = int_of(o, "version");
      h.before = str_of(o, "before");
      h.after = str_of(o, "after");
      out.push_back(std::move(h));
    }
    return out;
  }

  void watch(std::function<void(std::string name, int64_t version)> on_change) override {
    if (watcher_.joinable() || !on_change) return;  // set once
    on_change_ = std::move(on_change);
    watcher_ = std::thread([this] { watch_loop(); });
  }

  std::string_view kind() const override { return "redis"; }

 private:
  static int64_t int_of(const boost::json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    if (!v) return 0;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<int64_t>(v->as_double());
    return 0;
  }
  static std::string str_of(const boost::json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  }

  std::string doc_key(std::string_view name) const { return cfg_.prefix + "doc:" + std::string(name); }
  std::string where() const { return cfg_.host + ":" + std::to_string(cfg_.port); }

  ApiError unavailable(const std::string& cause) const {
    return ApiError::unavailable("config store redis at " + where() + ": " + cause);
  }
  ApiError bad_reply(const char* what) const {
    return unavailable(std::string("unexpected reply to ") + what);
  }

  // One command on the shared connection. A connection found broken (the server restarted, a
  // reset) is reopened and the command sent once more; a timeout is not retried, since the
  // command may have run. An error reply is a 503 (the connection stays).
  Result<Reply> run(const std::vector<std::string>& args) {
    std::lock_guard lock(mu_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!conn_.connected()) {
        if (auto e = conn_.open(cfg_, timeout_); !e.empty()) return unavailable(e);
      }
      Reply r = conn_.command(args);
      if (r) {
        if (r->type == REDIS_REPLY_ERROR) return unavailable(args[0] + ": " + reply_text(r.get()));
        return r;
      }
      const int err = conn_.ctx()->err;
      const int sys = errno;
      std::string cause = conn_.drop();
      const bool broken = err == REDIS_ERR_EOF ||
                          (err == REDIS_ERR_IO && sys != EAGAIN && sys != EWOULDBLOCK);
      if (!broken || attempt == 1) return unavailable(args[0] + ": " + cause);
    }
    return unavailable("unreachable");
  }

  // Sleeps up to `d`; false when the store is being destroyed.
  bool pause(milliseconds d) {
    std::unique_lock lock(stop_mu_);
    return !stop_cv_.wait_for(lock, d, [this] { return stop_; });
  }
  // The subscriber's socket (-1: none), told by its Connection; cleared before the socket is
  // closed, so the destructor never shuts down a descriptor number reused elsewhere.
  void set_sub_fd(int fd) {
    std::lock_guard lock(stop_mu_);
    sub_fd_ = fd;
    if (stop_ && fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  bool stopping() {
    std::lock_guard lock(stop_mu_);
    return stop_;
  }

  // The subscriber: connect, SUBSCRIBE, read messages with a short poll so that the destructor
  // is heard; on any failure reconnect with a doubling backoff. Messages sent while it was away
  // are lost, so after every reconnection each document is announced (version 0: unknown).
  void watch_loop() {
    milliseconds backoff{50};
    bool had_outage = false;
    bool first = true;
    while (!stopping()) {
      Connection sub;
      std::string err = sub.open(cfg_, timeout_, [this](int fd) { set_sub_fd(fd); });
      if (err.empty()) err = subscribe(sub);
      if (!err.empty()) {
        had_outage = true;
        if (!pause(backoff)) return;
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      backoff = milliseconds{50};
      if (had_outage || !first) resync();
      first = false;
      had_outage = false;
      read_messages(sub);
      had_outage = true;
    }
  }

  std::string subscribe(Connection& sub) {
    Reply r = sub.command({"SUBSCRIBE", channel_});
    if (!r) return sub.drop();
    if (r->type != REDIS_REPLY_ARRAY) return "SUBSCRIBE: " + reply_text(r.get());
    return {};
  }

  // Returns when the connection broke or the store is being destroyed.
  void read_messages(Connection& sub) {
    redisContext* c = sub.ctx();
    while (!stopping()) {
      void* raw = nullptr;
      if (redisReaderGetReply(c->reader, &raw) != REDIS_OK) return;
      if (raw) {
        handle_message(Reply(static_cast<redisReply*>(raw)));
        continue;
      }
      pollfd p{c->fd, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(kPollInterval.count()));
      if (n < 0 && errno != EINTR) return;
      if (n > 0 && redisBufferRead(c) != REDIS_OK) return;
    }
  }

  void handle_message(Reply r) {
    // ["message", channel, "<name> <version> <node-id>"]
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
    if (reply_text(r->element[0]) != "message") return;
    const std::string payload = reply_text(r->element[2]);
    auto id_at = payload.rfind(' ');
    if (id_at == std::string::npos || id_at == 0) return;
    auto version_at = payload.rfind(' ', id_at - 1);
    if (version_at == std::string::npos) return;
    if (std::string_view(payload).substr(id_at + 1) == node_id_) return;  // our own save
    int64_t version = 0;
    std::from_chars(payload.data() + version_at + 1, payload.data() + id_at, version);
    on_change_(payload.substr(0, version_at), version);
  }

  // Announces every stored document (found by SCAN on the command connection); when that fails
  // too, the documents torii always keeps.
  void resync() {
    std::vector<std::string> names;
    const std::string key_prefix = cfg_.prefix + "doc:";
    std::string cursor = "0";
    bool ok = true;
    do {
      if (stopping()) return;
      auto r = run({"SCAN", cursor, "MATCH", glob_escape(key_prefix) + "*", "COUNT", "100"});
      if (!r || (*r)->type != REDIS_REPLY_ARRAY || (*r)->elements != 2) {
        ok = false;
        break;
      }
      cursor = reply_text((*r)->element[0]);
      const redisReply* keys = (*r)->element[1];
      for (std::size_t i = 0; i < keys->elements; ++i) {
        std::string k = reply_text(keys->element[i]);
        if (k.rfind(key_prefix, 0) == 0) names.push_back(k.substr(key_prefix.size()));
      }
    } while (cursor != "0");
    if (!ok) names = {std::string(kConfigDoc), std::string(kAccountsDoc)};
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (auto& n : names) {
      if (stopping()) return;
      on_change_(n, 0);
    }
  }

  const RedisConfig cfg_;
  const milliseconds timeout_;
  const std::string node_id_;
  const std::string channel_;

  std::mutex mu_;  // guards conn_
  Connection conn_;

  std::function<void(std::string, int64_t)> on_change_;
  std::thread watcher_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  int sub_fd_ = -1;  // the subscriber's socket while connected (guarded by stop_mu_)
};

}  // namespace

Result<std::unique_ptr<ConfigStore>> make_redis_config_store(const RedisConfig& redis) {
  if (redis.host.empty()) return ApiError::unavailable("the redis config store needs a host");
  auto store = std::make_unique<RedisConfigStore>(redis);
  if (auto r = store->connect(); !r) return r.error();
  return std::unique_ptr<ConfigStore>(std::move(store));
}

}  // namespace torii::admin
