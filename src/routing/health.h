#pragma once
// The live state of one target (a provider + a model): calls in flight, latency EWMA, the
// circuit breaker and the per-key 429 cool-downs. Shared by every worker thread and kept across
// config reloads (HealthRegistry), so it is made of atomics only: no lock is taken on the
// request path. Counts in the error-rate window are approximate under races (a bucket that
// rolls over while another thread writes it may lose a count), which a breaker tolerates.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/config.h"

namespace torii::routing {

using Clock = std::chrono::steady_clock;

// Nanoseconds on the steady clock, the unit every atomic below holds.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

enum class BreakerState : uint8_t { closed = 0, open = 1, half_open = 2 };
std::string_view to_string(BreakerState s);

// What one upstream try of a target came to, for its health.
enum class TryResult {
  success,      // the target answered (a client error such as a 400 counts: it is up)
  failure,      // connect, reset, timeout, 5xx, a broken answer: counts against the breaker
  rate_limited, // 429: the key cools down; not a breaker failure
  neutral,      // nothing learnt (the client left, a policy stopped it)
};

class TargetHealth {
 public:
  static constexpr int kMaxKeys = 16;  // keys per provider whose cool-downs are tracked
  static constexpr int kBuckets = 10;  // error-rate window resolution

  TargetHealth() = default;
  TargetHealth(const TargetHealth&) = delete;
  TargetHealth& operator=(const TargetHealth&) = delete;

  // --- selection (read-only) ---
  // Whether the breaker would let a call through now (closed; open past its cooldown; half-open
  // with a probe free). Does not take a probe: see acquire().
  bool may_allow(const BreakerConfig& c, int64_t now) const;
  // The first key of [0, keys) that is not cooling, starting the scan at `start`; -1 if all are.
  int free_key(int keys, unsigned start, int64_t now) const;
  // One of the keys of [0, keys) that are not cooling, in turn by `counter` (so that with one
  // key cooling the others still share evenly); -1 if all are cooling.
  int pick_key(int keys, unsigned counter, int64_t now) const;
  // The soonest time (ns) at which the breaker or a key becomes usable again (for Retry-After).
  int64_t available_at(const BreakerConfig& c, int keys, int64_t now) const;
  int inflight() const { return inflight_.load(std::memory_order_relaxed); }
  // Latency EWMA in microseconds, 0 before the first sample.
  int64_t ewma_us() const { return ewma_us_.load(std::memory_order_relaxed); }
  int64_t last_pick_ns() const { return last_pick_ns_.load(std::memory_order_relaxed); }
  BreakerState state() const { return state_.load(std::memory_order_relaxed); }

  // --- one try ---
  // Takes the call: counts it in flight and, when the breaker is open past its cooldown or
  // half-open, takes a probe. False when the breaker refuses (another thread took the last
  // probe). `probe` tells finish() whether this call decides the half-open state.
  bool acquire(const BreakerConfig& c, int64_t now, bool& probe);
  // Ends the call: its result, the time to the answer's head (a latency sample on success
  // only), and the key used (cooled until `cool_until_ns` on rate_limited).
  void finish(const BreakerConfig& c, bool probe, TryResult r, int64_t latency_us, int key,
              int64_t cool_until_ns, int64_t now);

  // Counters for /metrics.
  uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_total_.load(std::memory_order_relaxed); }
  uint64_t opened() const { return opened_total_.load(std::memory_order_relaxed); }

  // The provider's active health check failed (shared by its targets; written by the checker
  // thread). Set once when the target is made.
  std::shared_ptr<std::atomic<bool>> check_failed = std::make_shared<std::atomic<bool>>(false);

 private:
  void record_window(const BreakerConfig& c, bool failed, int64_t now);
  bool rate_tripped(const BreakerConfig& c, int64_t now) const;
  void open(const BreakerConfig& c, int64_t now);
  void close();

  std::atomic<int> inflight_{0};
  std::atomic<int64_t> ewma_us_{0};
  std::atomic<int64_t> last_pick_ns_{0};

  std::atomic<BreakerState> state_{BreakerState::closed};
  std::atomic<int> consecutive_{0};
  std::atomic<int64_t> open_until_ns_{0};
  std::atomic<int> probes_{0};          // half-open: probes taken
  std::atomic<int> probe_successes_{0}; // half-open: probes that succeeded

  struct Bucket {
    std::atomic<int64_t> epoch{-1};
    std::atomic<uint32_t> total{0}, failed{0};
  };
  std::array<Bucket, kBuckets> window_;

  std::array<std::atomic<int64_t>, kMaxKeys> key_cool_until_{};

  std::atomic<uint64_t> calls_{0}, failures_total_{0}, opened_total_{0};
};

// Target health kept by name across config reloads: a reload that keeps a target keeps its
// breaker, EWMA and cool-downs. Looked up only while a snapshot is built (a mutex is fine).
class HealthRegistry {
 public:
  std::shared_ptr<TargetHealth> get(const std::string& provider, const std::string& model);
  // Provider-level active check flags, shared by that provider's targets.
  std::shared_ptr<std::atomic<bool>> provider_flag(const std::string& provider);

 private:
  std::shared_ptr<std::atomic<bool>> provider_flag_locked(const std::string& provider);

  std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<TargetHealth>> targets_;
  std::unordered_map<std::string, std::weak_ptr<std::atomic<bool>>> providers_;
};

// Parses a Retry-After value (delta-seconds or an HTTP date) or OpenAI's retry-after-ms; the
// pause in milliseconds, or -1 when absent or unreadable.
int64_t retry_after_ms(std::string_view retry_after, std::string_view retry_after_ms_header);

}  // namespace torii::routing
