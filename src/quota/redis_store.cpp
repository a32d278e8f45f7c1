// The Redis quota store: two Lua scripts (admit, settle) over a per-io_context connection pool
// (quota/redis_pool.h).
#include "quota/redis_store.h"

#include <openssl/evp.h>

#include <charconv>
#include <span>

#include "quota/redis_client.h"
#include "quota/redis_pool.h"

namespace torii::quota {
namespace {

// Rate ops then budget ops, checked on scratch values (a key may repeat within a batch), then
// applied all or none. Values per op as the memory store: after the op when allowed, the
// stored values when denied.
// KEYS: nr rate cells, then the budget counters.
// ARGV: now_us, nr, per rate op: increment_us, window_us; per budget op: amount, limit,
// expires_at_ms. Returns {0 allowed | 1 rate denied | 2 budget denied, denied index, values...}.
constexpr std::string_view kAdmitLua = R"lua(
local now = tonumber(ARGV[1])
local nr = tonumber(ARGV[2])
local nk = #KEYS
local cur, after = {}, {}
local kind, at = 0, -1
local function stored_tat(k)
  local t = tonumber(redis.call('GET', k) or now)
  if t < now then t = now end
  return t
end
local function stored_total(k) return tonumber(redis.call('GET', k) or 0) end
for i = 1, nr do
  local k = KEYS[i]
  local t = (cur[k] or stored_tat(k)) + tonumber(ARGV[1 + 2 * i])
  if t - now > tonumber(ARGV[2 + 2 * i]) then kind, at = 1, i - 1 break end
  cur[k], after[i] = t, t
end
if kind == 0 then
  local a = 3 + 2 * nr
  for j = nr + 1, nk do
    local k = KEYS[j]
    local limit = tonumber(ARGV[a + 1])
    local t = (cur[k] or stored_total(k)) + tonumber(ARGV[a])
    if limit >= 0 and t > limit then kind, at = 2, j - nr - 1 break end
    cur[k], after[j] = t, t
    a = a + 3
  end
end
local out = {kind, at}
if kind ~= 0 then
  for i = 1, nr do out[2 + i] = stored_tat(KEYS[i]) end
  for j = nr + 1, nk do out[2 + j] = stored_total(KEYS[j]) end
  return out
end
for i = 1, nr do
  local k = KEYS[i]
  if cur[k] then
    local t = cur[k]
    redis.call('SET', k, string.format('%d', t))
    redis.call('PEXPIREAT', k, string.format('%d', math.floor(t / 1000) + 1000))
    cur[k] = nil
  end
  out[2 + i] = after[i]
end
local a = 3 + 2 * nr
for j = nr + 1, nk do
  local k = KEYS[j]
  out[2 + j] = redis.call('INCRBY', k, ARGV[a])
  local exp = tonumber(ARGV[a + 2])
  if exp > 0 then redis.call('PEXPIREAT', k, string.format('%d', exp + 86400000)) end
  a = a + 3
end
return out
)lua";

// Never refused: TAT += delta (a cell back at or before now is deleted: the same as absent),
// total += amount. KEYS: nr rate cells, then the budget counters. ARGV: now_us, nr, per rate
// op: delta_us; per budget op: amount, expires_at_ms. Returns the totals, per budget op.
constexpr std::string_view kSettleLua = R"lua(
local now = tonumber(ARGV[1])
local nr = tonumber(ARGV[2])
for i = 1, nr do
  local k = KEYS[i]
  local t = tonumber(redis.call('GET', k) or now)
  if t < now then t = now end
  t = t + tonumber(ARGV[2 + i])
  if t <= now then
    redis.call('DEL', k)
  else
    redis.call('SET', k, string.format('%d', t))
    redis.call('PEXPIREAT', k, string.format('%d', math.floor(t / 1000) + 1000))
  end
end
local out = {}
local a = 3 + nr
for j = nr + 1, #KEYS do
  local k = KEYS[j]
  out[j - nr] = redis.call('INCRBY', k, ARGV[a])
  local exp = tonumber(ARGV[a + 1])
  if exp > 0 then redis.call('PEXPIREAT', k, string.format('%d', exp + 86400000)) end
  a = a + 2
end
return out
)lua";

std::string sha1_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += kHex[md[i] >> 4], out += kHex[md[i] & 15];
  return out;
}

// What every thread shares: settings, script digests, the connections.
struct Shared {
  explicit Shared(const RedisConfig& c) : cfg(c) {
    RedisPoolSettings s;
    s.ep.host = c.host;
    s.ep.port = c.port;
    s.ep.db = c.db;
    s.ep.password = c.password.value;
    s.ep.connect_timeout = c.connect_timeout;
    s.size = c.pool;
    s.timeout = c.timeout;
    s.init.begin(3).arg("SCRIPT").arg("LOAD").arg(kAdmitLua);
    s.init.begin(3).arg("SCRIPT").arg("LOAD").arg(kSettleLua);
    pool = RedisPool::make(std::move(s));
    admit_sha = sha1_hex(kAdmitLua);
    settle_sha = sha1_hex(kSettleLua);
  }

  RedisConfig cfg;
  std::shared_ptr<RedisPool> pool;
  std::string admit_sha, settle_sha;

  std::string where() const { return pool->where(); }

  // A script's call, to resend as EVAL (which also caches it) when the server answers NOSCRIPT.
  struct Eval {
    std::string_view text;
    std::size_t nkeys, nargs;  // nargs: the keys and arguments in `tail`
    const RedisRequest& tail;
  };

  // Sends one command (and `eval` instead on NOSCRIPT: the server lost its script cache).
  // An error reply is an error (the connection stays good); a failed round trip pauses the store.
  Task<Result<RedisReply>> call(const RedisRequest& req, const Eval* eval) {
    auto lease = co_await pool->acquire();
    if (!lease) co_return lease.error();
    RedisConnection& conn = **lease;
    auto r = co_await conn.round_trip(req, cfg.timeout);
    if (r && eval && (*r)[0].is_error() && (*r)[0].str.starts_with("NOSCRIPT")) {
      RedisRequest again;
      again.begin(3 + eval->nargs).arg("EVAL").arg(eval->text);
      again.arg(static_cast<int64_t>(eval->nkeys)).append(eval->tail);
      r = co_await conn.round_trip(again, cfg.timeout);
    }
    if (!r) {
      pool->failed();
      co_return r.error();
    }
    RedisReply reply = std::move((*r)[0]);
    if (reply.is_error()) co_return redis_unavailable("Redis at " + where() + ": " + reply.str);
    co_return reply;
  }

  // EVALSHA of one script; `tail` holds its keys then its arguments (`nargs` in all).
  Task<Result<RedisReply>> script(std::string_view sha, std::string_view text, std::size_t nkeys,
                                  std::size_t nargs, const RedisRequest& tail) {
    RedisRequest req;
    req.begin(3 + nargs).arg("EVALSHA").arg(sha).arg(static_cast<int64_t>(nkeys)).append(tail);
    const Eval eval{text, nkeys, nargs, tail};
    co_return co_await call(req, &eval);
  }
};

// The integers of an array reply, or an error when it is not one of `n` integers.
Result<Counts> integers(const RedisReply& r, std::size_t n) {
  if (r.type != RedisReply::Type::array || r.elements.size() != n)
    return redis_unavailable("unexpected reply from a quota script");
  Counts out;
  out.reserve(n);
  for (const auto& e : r.elements) {
    if (e.type != RedisReply::Type::integer)
      return redis_unavailable("unexpected reply from a quota script");
    out.push_back(e.integer);
  }
  return out;
}

// A string reply holding a decimal integer (GET, MGET of a counter or a cell).
bool parse_integer(const RedisReply& r, int64_t& v) {
  if (r.type != RedisReply::Type::string) return false;
  const std::string& s = r.str;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

// The SCAN MATCH pattern of every key starting with prefix + key_prefix: glob characters
// escaped, so that they match themselves.
std::string glob_prefix(std::string_view prefix, std::string_view key_prefix) {
  std::string out;
  for (std::string_view part : {prefix, key_prefix})
    for (char c : part) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
      out += c;
    }
  out += '*';
  return out;
}

class RedisStore final : public QuotaStore {
 public:
  explicit RedisStore(const RedisConfig& cfg) : s_(std::make_shared<Shared>(cfg)) {}

  std::string_view kind() const override { return "redis"; }

  Task<Result<RateReply>> consume(std::span<const RateOp> ops, int64_t now_us) override {
    auto a = co_await admit(ops, {}, now_us);
    if (!a) co_return a.error();
    RateReply r;
    r.allowed = a->allowed;
    r.denied = a->denied;
    r.tat_us = std::move(a->tat_us);
    co_return r;
  }

  Task<Result<BudgetReply>> reserve(std::span<const BudgetOp> ops) override {
    auto a = co_await admit({}, ops, 0);
    if (!a) co_return a.error();
    BudgetReply r;
    r.allowed = a->allowed;
    r.denied = a->denied;
    r.totals = std::move(a->totals);
    co_return r;
  }

  Task<Result<void>> adjust(std::span<const RateAdjust> ops, int64_t now_us) override {
    auto r = co_await settle(ops, {}, now_us);
    if (!r) co_return r.error();
    co_return Result<void>{};
  }

  Task<Result<Counts>> adjust(std::span<const BudgetOp> ops) override {
    co_return co_await settle({}, ops, 0);
  }

  Task<Result<int64_t>> total(std::string_view key) override {
    RedisRequest req;
    req.begin(2).arg("GET").arg(s_->cfg.prefix, key);
    auto r = co_await s_->call(req, nullptr);
    if (!r) co_return r.error();
    if (r->type == RedisReply::Type::nil) co_return int64_t{0};
    int64_t v = 0;
    const std::string& s = r->str;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r->type != RedisReply::Type::string || ec != std::errc() || end != s.data() + s.size())
      co_return redis_unavailable("the budget counter is not an integer");
    co_return v;
  }

  // SCAN MATCH over the prefixed keys, a page per round trip, then one MGET per page.
  Task<Result<std::vector<CounterState>>> scan(std::string_view key_prefix,
                                               std::size_t max) override {
    std::vector<CounterState> out;
    const std::string pattern = glob_prefix(s_->cfg.prefix, key_prefix);
    std::string cursor = "0";
    do {
      std::vector<std::string> keys;
      auto next = co_await scan_page(cursor, pattern, keys);
      if (!next) co_return next.error();
      cursor = std::move(*next);
      if (keys.empty()) continue;
      RedisRequest get;
      get.begin(1 + keys.size()).arg("MGET");
      for (const auto& k : keys) get.arg(k);
      auto r = co_await s_->call(get, nullptr);
      if (!r) co_return r.error();
      if (r->type != RedisReply::Type::array || r->elements.size() != keys.size())
        co_return redis_unavailable("unexpected reply to MGET");
      const std::size_t skip = s_->cfg.prefix.size();
      for (std::size_t i = 0; i < keys.size() && out.size() < max; ++i) {
        int64_t v = 0;
        // (nil: deleted since the SCAN; not an integer: not one of ours)
        if (!parse_integer(r->elements[i], v)) continue;
        CounterState c;
        c.key = keys[i].substr(skip);
        c.rate = c.key.starts_with("rl:");
        (c.rate ? c.tat_us : c.total) = v;
        out.push_back(std::move(c));
      }
    } while (cursor != "0" && out.size() < max);
    co_return out;
  }

  Task<Result<int64_t>> erase(std::string_view key_prefix) override {
    int64_t n = 0;
    const std::string pattern = glob_prefix(s_->cfg.prefix, key_prefix);
    std::string cursor = "0";
    do {
      std::vector<std::string> keys;
      auto next = co_await scan_page(cursor, pattern, keys);
      if (!next) co_return next.error();
      cursor = std::move(*next);
      if (keys.empty()) continue;
      auto d = co_await del(keys, {});
      if (!d) co_return d.error();
      n += *d;
    } while (cursor != "0");
    co_return n;
  }

  Task<Result<int64_t>> erase_keys(std::span<const std::string> keys) override {
    int64_t n = 0;
    constexpr std::size_t kChunk = 512;
    for (std::size_t at = 0; at < keys.size(); at += kChunk) {
      auto d = co_await del(keys.subspan(at, std::min(kChunk, keys.size() - at)),
                            s_->cfg.prefix);
      if (!d) co_return d.error();
      n += *d;
    }
    co_return n;
  }

  Task<Result<Admission>> admit(std::span<const RateOp> rate, std::span<const BudgetOp> budget,
                                int64_t now_us) override {
    Admission a;
    if (rate.empty() && budget.empty()) {
      a.allowed = true;
      co_return a;
    }
    RedisRequest tail;
    const std::string& prefix = s_->cfg.prefix;
    for (const auto& op : rate) tail.arg(prefix, op.key);
    for (const auto& op : budget) tail.arg(prefix, op.key);
    tail.arg(now_us).arg(static_cast<int64_t>(rate.size()));
    for (const auto& op : rate) tail.arg(op.increment_us).arg(op.window_us);
    for (const auto& op : budget) tail.arg(op.amount).arg(op.limit).arg(op.expires_at_ms);
    const std::size_t nkeys = rate.size() + budget.size();
    const std::size_t nargs = nkeys + 2 + 2 * rate.size() + 3 * budget.size();
    auto r = co_await s_->script(s_->admit_sha, kAdmitLua, nkeys, nargs, tail);
    if (!r) co_return r.error();
    auto v = integers(*r, 2 + nkeys);
    if (!v) co_return v.error();
    const auto& x = *v;
    a.allowed = x[0] == 0;
    a.rate_denied = x[0] == 1;
    a.denied = static_cast<int>(x[1]);
    a.tat_us.assign(x.begin() + 2, x.begin() + 2 + rate.size());
    a.totals.assign(x.begin() + 2 + rate.size(), x.end());
    co_return a;
  }

  Task<Result<Counts>> settle(std::span<const RateAdjust> rate,
                                            std::span<const BudgetOp> budget,
                                            int64_t now_us) override {
    if (rate.empty() && budget.empty()) co_return Counts{};
    RedisRequest tail;
    const std::string& prefix = s_->cfg.prefix;
    for (const auto& op : rate) tail.arg(prefix, op.key);
    for (const auto& op : budget) tail.arg(prefix, op.key);
    tail.arg(now_us).arg(static_cast<int64_t>(rate.size()));
    for (const auto& op : rate) tail.arg(op.delta_us);
    for (const auto& op : budget) tail.arg(op.amount).arg(op.expires_at_ms);
    const std::size_t nkeys = rate.size() + budget.size();
    const std::size_t nargs = nkeys + 2 + rate.size() + 2 * budget.size();
    auto r = co_await s_->script(s_->settle_sha, kSettleLua, nkeys, nargs, tail);
    if (!r) co_return r.error();
    co_return integers(*r, budget.size());
  }

 private:
  // One SCAN step: the page's keys (prefixed) into `keys`; returns the next cursor ("0": done).
  Task<Result<std::string>> scan_page(const std::string& cursor, const std::string& pattern,
                                      std::vector<std::string>& keys) {
    RedisRequest req;
    req.begin(6).arg("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(int64_t{1000});
    auto r = co_await s_->call(req, nullptr);
    if (!r) co_return r.error();
    if (r->type != RedisReply::Type::array || r->elements.size() != 2 ||
        r->elements[0].type != RedisReply::Type::string ||
        r->elements[1].type != RedisReply::Type::array)
      co_return redis_unavailable("unexpected reply to SCAN");
    for (auto& k : r->elements[1].elements)
      if (k.type == RedisReply::Type::string) keys.push_back(std::move(k.str));
    co_return std::move(r->elements[0].str);
  }

  // DEL of `keys`, each preceded by `prefix`; returns how many existed.
  Task<Result<int64_t>> del(std::span<const std::string> keys, std::string_view prefix) {
    if (keys.empty()) co_return int64_t{0};
    RedisRequest req;
    req.begin(1 + keys.size()).arg("DEL");
    for (const auto& k : keys) req.arg(prefix, k);
    auto r = co_await s_->call(req, nullptr);
    if (!r) co_return r.error();
    if (r->type != RedisReply::Type::integer)
      co_return redis_unavailable("unexpected reply to DEL");
    co_return r->integer;
  }

  std::shared_ptr<Shared> s_;
};

}  // namespace

std::shared_ptr<QuotaStore> make_redis_store(const RedisConfig& cfg) {
  return std::make_shared<RedisStore>(cfg);
}

}  // namespace torii::quota
