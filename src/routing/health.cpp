#include "routing/health.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

namespace torii::routing {

std::string_view to_string(BreakerState s) {
  switch (s) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "closed";
}

namespace {
constexpr std::memory_order relaxed = std::memory_order_relaxed;

int64_t bucket_ns(const BreakerConfig& c) {
  return std::max<int64_t>(1, std::chrono::nanoseconds(c.window).count() / TargetHealth::kBuckets);
}
}  // namespace

bool TargetHealth::may_allow(const BreakerConfig& c, int64_t now) const {
  if (check_failed->load(relaxed)) return false;
  if (!c.enabled) return true;
  switch (state_.load(std::memory_order_acquire)) {
    case BreakerState::closed: return true;
    case BreakerState::open: return now >= open_until_ns_.load(relaxed);
    case BreakerState::half_open: return probes_.load(relaxed) < c.half_open_probes;
  }
  return true;
}

int TargetHealth::free_key(int keys, unsigned start, int64_t now) const {
  keys = std::min(keys, kMaxKeys);
  for (int i = 0; i < keys; ++i) {
    int k = static_cast<int>((start + static_cast<unsigned>(i)) % static_cast<unsigned>(keys));
    if (key_cool_until_[k].load(relaxed) <= now) return k;
  }
  return -1;
}

int TargetHealth::pick_key(int keys, unsigned counter, int64_t now) const {
  keys = std::min(keys, kMaxKeys);
  std::array<int, kMaxKeys> free{};
  int n = 0;
  for (int k = 0; k < keys; ++k)
    if (key_cool_until_[k].load(relaxed) <= now) free[n++] = k;
  return n == 0 ? -1 : free[counter % static_cast<unsigned>(n)];
}

int64_t TargetHealth::available_at(const BreakerConfig& c, int keys, int64_t now) const {
  int64_t at = 0;
  const BreakerState s = state_.load(relaxed);
  if (c.enabled && s == BreakerState::open) at = open_until_ns_.load(relaxed);
  // Half-open with its probes out: a probe's answer decides; worth asking again in a second.
  if (c.enabled && s == BreakerState::half_open) at = now + 1'000'000'000;
  if (check_failed->load(relaxed)) at = std::max(at, now + 1'000'000'000);
  int64_t key_at = INT64_MAX;
  for (int k = 0; k < std::min(keys, kMaxKeys); ++k)
    key_at = std::min(key_at, key_cool_until_[k].load(relaxed));
  return std::max(at, key_at == INT64_MAX ? 0 : key_at);
}

bool TargetHealth::acquire(const BreakerConfig& c, int64_t now, bool& probe) {
  probe = false;
  last_pick_ns_.store(now, relaxed);
  if (c.enabled) {
    BreakerState s = state_.load(std::memory_order_acquire);
    if (s == BreakerState::open) {
      if (now < open_until_ns_.load(relaxed)) return false;
      // The cooldown is over: the first thread here turns the breaker half-open.
      if (state_.compare_exchange_strong(s, BreakerState::half_open)) {
        probes_.store(0, relaxed);
        probe_successes_.store(0, relaxed);
      }
      s = BreakerState::half_open;
    }
    if (s == BreakerState::half_open) {
      int taken = probes_.load(relaxed);
      do {
        if (taken >= c.half_open_probes) return false;
      } while (!probes_.compare_exchange_weak(taken, taken + 1));
      probe = true;
    }
  }
  inflight_.fetch_add(1, relaxed);
  calls_.fetch_add(1, relaxed);
  return true;
}

void TargetHealth::finish(const BreakerConfig& c, bool probe, TryResult r, int64_t latency_us,
                          int key, int64_t cool_until_ns, int64_t now) {
  inflight_.fetch_sub(1, relaxed);
  if (r == TryResult::success) {
    // EWMA with weight 1/5 for the new sample; a lost update under a race is harmless. Only
    // successes: a refused connection fails in 0.1 ms and would make a broken target look
    // fast to lowest_latency and p2c (the breaker deals with failures).
    int64_t old = ewma_us_.load(relaxed);
    ewma_us_.store(old == 0 ? std::max<int64_t>(latency_us, 1) : old + (latency_us - old) / 5,
                   relaxed);
  }
  if (r == TryResult::rate_limited && key >= 0 && key < kMaxKeys) {
    int64_t cur = key_cool_until_[key].load(relaxed);
    while (cur < cool_until_ns && !key_cool_until_[key].compare_exchange_weak(cur, cool_until_ns)) {
    }
  }
  if (r == TryResult::failure) failures_total_.fetch_add(1, relaxed);
  if (!c.enabled) return;

  if (probe) {
    if (r == TryResult::failure) {
      open(c, now);  // the probe failed: another cooldown
    } else if (r == TryResult::success) {
      if (probe_successes_.fetch_add(1, relaxed) + 1 >= c.half_open_probes) close();
    } else {
      probes_.fetch_sub(1, relaxed);  // nothing learnt (or a 429: up, but busy): give it back
    }
    return;
  }
  if (state_.load(relaxed) != BreakerState::closed) return;  // a call from before it opened
  if (r == TryResult::success) {
    if (consecutive_.load(relaxed) != 0) consecutive_.store(0, relaxed);
    if (c.error_rate_percent > 0) record_window(c, false, now);
  } else if (r == TryResult::failure) {
    int n = consecutive_.fetch_add(1, relaxed) + 1;
    if (c.error_rate_percent > 0) record_window(c, true, now);
    if ((c.consecutive_failures > 0 && n >= c.consecutive_failures) || rate_tripped(c, now))
      open(c, now);
  }
}

void TargetHealth::record_window(const BreakerConfig& c, bool failed, int64_t now) {
  const int64_t epoch = now / bucket_ns(c);
  Bucket& b = window_[static_cast<std::size_t>(epoch % kBuckets)];
  int64_t seen = b.epoch.load(relaxed);
  if (seen != epoch && b.epoch.compare_exchange_strong(seen, epoch)) {
    b.total.store(0, relaxed);
    b.failed.store(0, relaxed);
  }
  b.total.fetch_add(1, relaxed);
  if (failed) b.failed.fetch_add(1, relaxed);
}

bool TargetHealth::rate_tripped(const BreakerConfig& c, int64_t now) const {
  if (c.error_rate_percent <= 0) return false;
  const int64_t epoch = now / bucket_ns(c);
  uint64_t total = 0, failed = 0;
  for (const Bucket& b : window_) {
    int64_t e = b.epoch.load(relaxed);
    if (e > epoch - kBuckets && e <= epoch) {
      total += b.total.load(relaxed);
      failed += b.failed.load(relaxed);
    }
  }
  return total >= static_cast<uint64_t>(std::max(1, c.min_requests)) &&
         failed * 100 >= total * static_cast<uint64_t>(c.error_rate_percent);
}

void TargetHealth::open(const BreakerConfig& c, int64_t now) {
  open_until_ns_.store(now + std::chrono::nanoseconds(c.cooldown).count(), relaxed);
  BreakerState prev = state_.exchange(BreakerState::open, std::memory_order_acq_rel);
  if (prev != BreakerState::open) opened_total_.fetch_add(1, relaxed);
  consecutive_.store(0, relaxed);
}

void TargetHealth::close() {
  consecutive_.store(0, relaxed);
  for (Bucket& b : window_) b.epoch.store(-1, relaxed);  // a fresh window after recovery
  state_.store(BreakerState::closed, std::memory_order_release);
}

std::shared_ptr<TargetHealth> HealthRegistry::get(const std::string& provider,
                                                  const std::string& model) {
  std::lock_guard lock(mu_);
  auto& slot = targets_[provider + "/" + model];
  auto h = slot.lock();
  if (!h) {
    h = std::make_shared<TargetHealth>();
    h->check_failed = provider_flag_locked(provider);
    slot = h;
  }
  return h;
}

std::shared_ptr<std::atomic<bool>> HealthRegistry::provider_flag(const std::string& provider) {
  std::lock_guard lock(mu_);
  return provider_flag_locked(provider);
}

std::shared_ptr<std::atomic<bool>> HealthRegistry::provider_flag_locked(
    const std::string& provider) {
  auto& slot = providers_[provider];
  auto f = slot.lock();
  if (!f) {
    f = std::make_shared<std::atomic<bool>>(false);
    slot = f;
  }
  return f;
}

int64_t retry_after_ms(std::string_view retry_after, std::string_view retry_after_ms_header) {
  auto number = [](std::string_view s, double& out) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (s.empty()) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out) && out >= 0;
  };
  // A pause beyond a day is not a pause but a broken header: capped there.
  constexpr double kMaxMs = 86'400'000;
  double v = 0;
  if (number(retry_after_ms_header, v)) return static_cast<int64_t>(std::min(v, kMaxMs));
  if (number(retry_after, v)) return static_cast<int64_t>(std::min(v * 1000, kMaxMs));
  if (retry_after.size() >= 20) {  // an HTTP date: "Sun, 06 Nov 1994 08:49:37 GMT"
    std::tm tm{};
    std::string s(retry_after);
    if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) != nullptr) {
      std::time_t at = timegm(&tm);
      std::time_t now = std::time(nullptr);
      return at > now ? std::min<int64_t>(static_cast<int64_t>(at - now) * 1000, 86'400'000) : 0;
    }
  }
  return -1;
}

}  // namespace torii::routing
