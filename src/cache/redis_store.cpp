// The Redis cache store and its vector log, over the quota store's Redis client and pool
// (quota/redis_client.h, quota/redis_pool.h).
#include "cache/redis_store.h"

#include <atomic>
#include <bit>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <exception>

#include "core/log.h"
#include "quota/redis_client.h"
#include "quota/redis_pool.h"

namespace torii::cache {
namespace {

using quota::RedisConnection;
using quota::RedisPool;
using quota::RedisReply;
using quota::RedisRequest;
using std::chrono::milliseconds;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

constexpr int64_t kScanCount = 500;
// The vector reader: how long one XREAD blocks, how many entries it takes, and its backoff.
constexpr milliseconds kBlock{1000};
constexpr int64_t kReadCount = 256;
constexpr milliseconds kFirstBackoff{250}, kMaxBackoff{5000};
constexpr milliseconds kSlice{250};  // a backoff is slept in slices, so that stop() is seen

ApiError cache_unavailable(std::string message) {
  ApiError e = ApiError::unavailable("cache store unavailable: " + std::move(message));
  e.code = "cache_store_unavailable";
  return e;
}

// The client and the pool speak of the quota store (quota_store_unavailable): the same error,
// as the cache's. Their messages never hold the password.
ApiError cache_unavailable(const ApiError& client_error) {
  constexpr std::string_view kLead = "quota store unavailable: ";
  std::string_view m = client_error.message;
  if (m.starts_with(kLead)) m.remove_prefix(kLead.size());
  ApiError e = cache_unavailable(std::string(m));
  e.retry_after = client_error.retry_after;
  return e;
}

// The SCAN MATCH pattern of every key starting with `prefix`: glob characters escaped, so that
// they match themselves.
std::string glob_prefix(std::string_view prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  out += '*';
  return out;
}

// A vector as raw little-endian float32 bytes, and back (nullopt: not a whole number of finite
// floats, or none).
std::string pack_floats(const std::vector<float>& v) {
  std::string out(v.size() * 4, '\0');
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto u = std::bit_cast<uint32_t>(v[i]);
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<char>(u >> (8 * b));
  }
  return out;
}

std::optional<std::vector<float>> unpack_floats(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::vector<float> out(s.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b) u |= uint32_t{static_cast<uint8_t>(s[4 * i + b])} << (8 * b);
    out[i] = std::bit_cast<float>(u);
    if (!std::isfinite(out[i])) return std::nullopt;
  }
  return out;
}

// One stream entry's field list (name, value, ...) as a record; nullopt when a field is missing
// or malformed (another writer's entry: skipped). Unknown fields are ignored.
std::optional<VectorRecord> decode_record(const RedisReply& fields) {
  if (fields.type != RedisReply::Type::array || fields.elements.size() % 2 != 0)
    return std::nullopt;
  VectorRecord rec;
  bool expires = false, vec = false;
  for (std::size_t i = 0; i < fields.elements.size(); i += 2) {
    const RedisReply& name = fields.elements[i];
    const RedisReply& value = fields.elements[i + 1];
    if (name.type != RedisReply::Type::string || value.type != RedisReply::Type::string)
      return std::nullopt;
    const std::string& v = value.str;
    if (name.str == "partition") {
      rec.partition = v;
    } else if (name.str == "key") {
      rec.key = v;
    } else if (name.str == "prompt") {
      rec.prompt = v;
    } else if (name.str == "expires") {
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), rec.expires_ms);
      if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
      expires = true;
    } else if (name.str == "vec") {
      auto floats = unpack_floats(v);
      if (!floats) return std::nullopt;
      rec.vector = std::move(*floats);
      vec = true;
    }
  }
  if (rec.partition.empty() || rec.key.empty() || !expires || !vec) return std::nullopt;
  return rec;
}

// What the store, its log and their coroutines share.
struct Shared {
  Shared(const RedisConfig& cfg, int64_t max_entry_bytes, int64_t max_vectors)
      : entry_prefix(cfg.prefix + "cache:"),
        vectors_key(cfg.prefix + "cachevec"),
        max_entry_bytes(max_entry_bytes),
        max_vectors(max_vectors) {
    quota::RedisPoolSettings s;
    s.ep.host = cfg.host;
    s.ep.port = cfg.port;
    s.ep.db = cfg.db;
    s.ep.password = cfg.password.value;
    s.ep.connect_timeout = cfg.connect_timeout;
    s.size = cfg.pool;
    s.timeout = cfg.timeout;
    pool = RedisPool::make(std::move(s));
  }

  std::shared_ptr<RedisPool> pool;
  std::string entry_prefix;  // <prefix>cache:
  std::string vectors_key;   // <prefix>cachevec: never matched by a purge of entries
  int64_t max_entry_bytes, max_vectors;

  // One command on a pooled connection: its reply (an error reply is an error too).
  Task<Result<RedisReply>> call(const RedisRequest& req) {
    auto r = co_await pool->round_trip(req);
    if (!r) co_return cache_unavailable(r.error());
    RedisReply reply = std::move((*r)[0]);
    if (reply.is_error())
      co_return cache_unavailable("Redis at " + pool->where() + ": " + reply.str);
    co_return reply;
  }

  // An integer reply (DEL, UNLINK).
  Task<Result<int64_t>> count(const RedisRequest& req, std::string_view what) {
    auto r = co_await call(req);
    if (!r) co_return r.error();
    if (r->type != RedisReply::Type::integer)
      co_return cache_unavailable("unexpected reply to " + std::string(what));
    co_return r->integer;
  }
};

class RedisStore final : public CacheStore {
 public:
  explicit RedisStore(std::shared_ptr<Shared> s) : s_(std::move(s)) {}

  Task<Result<std::shared_ptr<const Entry>>> lookup(std::string key) override {
    RedisRequest req;
    req.begin(2).arg("GET").arg(s_->entry_prefix, key);
    auto r = co_await s_->call(req);
    if (!r) co_return r.error();
    std::shared_ptr<const Entry> out;
    if (r->type == RedisReply::Type::nil) co_return out;
    if (r->type != RedisReply::Type::string) co_return cache_unavailable("unexpected reply to GET");
    // A record this node cannot read (another version's) is a miss.
    if (auto e = decode_entry(r->str)) out = std::make_shared<const Entry>(std::move(*e));
    co_return out;
  }

  Task<Result<void>> put(std::string key, std::shared_ptr<const Entry> entry,
                         milliseconds ttl) override {
    if (!entry) co_return Result<void>{};
    if (ttl.count() <= 0) {  // (SET PX refuses it) only the key's entry goes
      RedisRequest del;
      del.begin(2).arg("DEL").arg(s_->entry_prefix, key);
      auto n = co_await s_->count(del, "DEL");
      if (!n) co_return n.error();
      co_return Result<void>{};
    }
    const std::string value = encode_entry(*entry);
    const auto size = static_cast<int64_t>(key.size() + value.size());
    if (s_->max_entry_bytes > 0 && size > s_->max_entry_bytes) co_return Result<void>{};
    RedisRequest req;
    req.begin(5).arg("SET").arg(s_->entry_prefix, key).arg(value).arg("PX").arg(
        static_cast<int64_t>(ttl.count()));
    auto r = co_await s_->call(req);
    if (!r) co_return r.error();
    co_return Result<void>{};
  }

  Task<Result<int64_t>> erase(std::string key) override {
    RedisRequest req;
    req.begin(2).arg("DEL").arg(s_->entry_prefix, key);
    co_return co_await s_->count(req, "DEL");
  }

  // SCAN MATCH, a page per round trip, then one UNLINK per page (the memory is freed off the
  // server's main thread).
  Task<Result<int64_t>> purge(std::string prefix) override {
    const std::string pattern = glob_prefix(s_->entry_prefix + prefix);
    std::string cursor = "0";
    int64_t n = 0;
    do {
      RedisRequest scan;
      scan.begin(6).arg("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(kScanCount);
      auto r = co_await s_->call(scan);
      if (!r) co_return r.error();
      if (r->type != RedisReply::Type::array || r->elements.size() != 2 ||
          r->elements[0].type != RedisReply::Type::string ||
          r->elements[1].type != RedisReply::Type::array)
        co_return cache_unavailable("unexpected reply to SCAN");
      cursor = std::move(r->elements[0].str);
      const auto& keys = r->elements[1].elements;
      if (keys.empty()) continue;
      RedisRequest unlink;
      unlink.begin(1 + keys.size()).arg("UNLINK");
      for (const auto& k : keys) unlink.arg(k.str);
      auto d = co_await s_->count(unlink, "UNLINK");
      if (!d) co_return d.error();
      n += *d;
    } while (cursor != "0");
    co_return n;
  }

  StoreStats stats() const override { return {-1, -1, 0}; }

 private:
  std::shared_ptr<Shared> s_;
};

// ---- The vector log ----------------------------------------------------------------------------

// One XREAD BLOCK on the reader's own connection: applies the records after `last` (advanced
// past every entry read, malformed ones included). False when the connection failed or Redis
// answered an error: the caller reconnects.
Task<bool> read_batch(const Shared& s, RedisConnection& conn, std::string& last,
                      const std::function<void(VectorRecord)>& apply,
                      const std::atomic<bool>& stopped, std::string& error) {
  RedisRequest req;
  req.begin(8).arg("XREAD").arg("BLOCK").arg(static_cast<int64_t>(kBlock.count()));
  req.arg("COUNT").arg(kReadCount).arg("STREAMS").arg(s.vectors_key).arg(last);
  // The block, then the usual round trip's bound, and room for a busy machine.
  const milliseconds timeout = kBlock + s.pool->settings().timeout + milliseconds(500);
  auto r = co_await conn.round_trip(req, timeout);
  if (!r) {
    error = cache_unavailable(r.error()).message;
    co_return false;
  }
  const RedisReply& reply = (*r)[0];
  if (reply.type == RedisReply::Type::nil) co_return true;  // nothing new within the block
  if (reply.is_error()) {
    error = reply.str;
    co_return false;
  }
  // [[key, [[id, [field, value, ...]], ...]]]
  if (reply.type != RedisReply::Type::array || reply.elements.size() != 1 ||
      reply.elements[0].type != RedisReply::Type::array ||
      reply.elements[0].elements.size() != 2 ||
      reply.elements[0].elements[1].type != RedisReply::Type::array) {
    error = "unexpected reply to XREAD";
    co_return false;
  }
  for (const RedisReply& item : reply.elements[0].elements[1].elements) {
    if (stopped.load(std::memory_order_relaxed)) break;
    if (item.type != RedisReply::Type::array || item.elements.size() != 2 ||
        item.elements[0].type != RedisReply::Type::string)
      continue;
    last = item.elements[0].str;
    auto rec = decode_record(item.elements[1]);
    if (!rec) continue;
    try {
      apply(std::move(*rec));
    } catch (const std::exception& e) {
      log::warn("cache: applying a shared vector failed: {}", e.what());
    }
  }
  co_return true;
}

// The reader: its own connection (a blocked XREAD would hold a pooled one), from the stream's
// start; after a failure, reconnects with a doubling backoff.
Task<void> read_log(std::shared_ptr<const Shared> s, std::shared_ptr<std::atomic<bool>> stopped,
                    std::function<void(VectorRecord)> apply) {
  net::steady_timer timer(co_await net::this_coro::executor);
  std::unique_ptr<RedisConnection> conn;
  std::string last = "0";
  milliseconds backoff = kFirstBackoff;
  bool failing = false;  // warned once per outage
  while (!stopped->load(std::memory_order_relaxed)) {
    std::string error;
    if (!conn) {
      const RedisRequest none;
      auto c = co_await RedisConnection::connect(s->pool->settings().ep, none);
      if (c)
        conn = std::move(*c);
      else
        error = cache_unavailable(c.error()).message;
    }
    if (conn) {
      const bool ok = co_await read_batch(*s, *conn, last, apply, *stopped, error);
      if (ok) {
        if (failing) log::info("cache: reading the shared vectors from Redis again");
        failing = false;
        backoff = kFirstBackoff;
        continue;
      }
      conn.reset();
    }
    if (!failing)
      log::warn("cache: reading the shared vectors failed ({}); retrying", error);
    failing = true;
    for (milliseconds left = backoff; left.count() > 0; left -= kSlice) {
      if (stopped->load(std::memory_order_relaxed)) break;
      timer.expires_after(std::min(left, kSlice));
      co_await timer.async_wait(nothrow);
    }
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

class RedisVectorLog final : public VectorLog {
 public:
  explicit RedisVectorLog(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  ~RedisVectorLog() override { stop(); }

  Task<Result<void>> publish(VectorRecord record) override {
    const std::string vec = pack_floats(record.vector);
    const std::string expires = std::to_string(record.expires_ms);
    RedisRequest req;
    const bool trim = s_->max_vectors > 0;
    req.begin(trim ? 16 : 13).arg("XADD").arg(s_->vectors_key);
    if (trim) req.arg("MAXLEN").arg("~").arg(s_->max_vectors);
    req.arg("*");
    req.arg("partition").arg(record.partition).arg("key").arg(record.key);
    req.arg("prompt").arg(record.prompt).arg("expires").arg(expires).arg("vec").arg(vec);
    auto r = co_await s_->call(req);
    if (!r) co_return r.error();
    co_return Result<void>{};
  }

  void start(net::any_io_executor ex, std::function<void(VectorRecord)> apply) override {
    if (started_.exchange(true)) return;
    net::co_spawn(ex, read_log(s_, stopped_, std::move(apply)), net::detached);
  }

  void stop() override { stopped_->store(true, std::memory_order_relaxed); }

 private:
  std::shared_ptr<Shared> s_;
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
  std::atomic<bool> started_{false};
};

}  // namespace

RedisCache make_redis_cache(const RedisConfig& cfg, int64_t max_entry_bytes,
                            int64_t max_vectors) {
  auto s = std::make_shared<Shared>(cfg, max_entry_bytes, max_vectors);
  return {std::make_shared<RedisStore>(s), std::make_shared<RedisVectorLog>(s)};
}

}  // namespace torii::cache
