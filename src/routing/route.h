#pragma once
// Routes as the request path uses them: a model alias's targets in priority tiers, how one is
// picked (the strategies of docs/ROUTING.md), the retry budget and the content rules. Built
// once per config snapshot; the mutable parts (counters, health) are atomics shared by every
// worker thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "routing/health.h"

namespace torii {

class Provider;
namespace quota {
struct Price;
}

struct Target {
  const Provider* provider = nullptr;  // the instance holding the first key
  std::string model;                   // the model name at the provider
  int weight = 1;
  int priority = 0;
  // One provider instance per API key (keys[0] == provider); requests rotate over them.
  std::vector<const Provider*> keys;
  const BreakerConfig* breaker = nullptr;  // the provider's (owned by the snapshot's config)
  std::chrono::milliseconds rate_limit_cooldown{1'000};
  std::shared_ptr<routing::TargetHealth> health;
  // Its price, looked up once per snapshot (the snapshot's PriceTable); null: unpriced.
  const quota::Price* price = nullptr;
};

namespace routing {

// Caps retries at a share of the route's requests over a sliding 10 s window, plus a floor per
// second, so that retries cannot multiply the load of an outage (Finagle's and Linkerd's
// retry budget). Lock-free; counts are approximate under races.
class RetryBudget {
 public:
  static constexpr int kBuckets = 10;  // one per second
  // Counts a request (its first try).
  void on_request(int64_t now_ns);
  // Takes a retry if the budget allows it (and counts it).
  bool try_retry(int percent, int min_per_second, int64_t now_ns);
  uint64_t exhausted() const { return exhausted_.load(std::memory_order_relaxed); }
  uint64_t retries() const { return retries_total_.load(std::memory_order_relaxed); }

 private:
  struct Bucket {
    std::atomic<int64_t> second{-1};
    std::atomic<uint32_t> requests{0}, retries{0};
  };
  Bucket& bucket(int64_t now_ns);
  std::array<Bucket, kBuckets> buckets_;
  std::atomic<uint64_t> exhausted_{0}, retries_total_{0};
};

// Per-route counters behind the strategies.
struct RouteState {
  std::vector<std::atomic<uint32_t>> next;  // per tier: round robin / weighted schedule position
  std::atomic<uint32_t> next_key{0};        // API key rotation
  RetryBudget budget;
  explicit RouteState(std::size_t tiers) : next(tiers) {}
};

// What a content rule or an authorization rule reads from a request.
struct RuleInput {
  std::function<std::string_view(std::string_view)> header;  // a request header, "" if absent
  const std::map<std::string, std::string>* metadata = nullptr;  // the caller's, may be null
  const std::vector<std::string>* groups = nullptr;              // the caller's, may be null
  const boost::json::object* body = nullptr;
  std::function<int64_t()> prompt_tokens;  // estimated, computed on demand
  std::string_view modality = "chat";      // providers/modality.h modality_name
  // Authorization only.
  std::string_view consumer, key;                  // the caller's consumer id and key name
  const boost::json::object* claims = nullptr;     // JWT claims, when a token authenticated
  std::string_view model;  // the model the client asked for (`model` conditions also test the
                           // target's model and its provider/model)
  std::string_view target_provider, target_model;  // the target being checked ("" : none)
  int64_t now = 0;                                 // unix seconds (time, weekday)
};

// Whether the condition holds (its `not` applied).
bool matches(const RuleCondition& c, const RuleInput& in);

// Glob match: '*' matches any run of characters (also none); everything else is literal.
bool glob_match(std::string_view pattern, std::string_view text);

// Prompt tokens, estimated: a token per 4 bytes of the request's text (message contents,
// system, instructions, input, prompt, tools), not counting inline files and images.
int64_t estimate_prompt_tokens(const boost::json::object& body);
// Calls fn on each piece of a request's text that estimate_prompt_tokens counts.
void for_each_prompt_text(const boost::json::object& body,
                          const std::function<void(std::string_view)>& fn);

// RFC 6901 JSON pointer ("/metadata/tier", "/messages/0/role") into a request body; nullptr
// when it does not resolve.
const boost::json::value* pointer(const boost::json::object& root, std::string_view ptr);

}  // namespace routing

struct Route {
  std::string name;
  std::string group;
  Strategy strategy = Strategy::round_robin;
  std::vector<Target> targets;  // sorted by priority (stable: declaration order within a tier)
  struct Tier {
    std::size_t begin = 0, end = 0;
    std::vector<uint8_t> schedule;  // weighted: smooth weighted round-robin order (indexes)
  };
  std::vector<Tier> tiers;
  RetryConfig retry;
  FailoverConfig failover;
  std::vector<RouteRuleConfig> rules;  // `route`: an alias (its group variant for the caller)
  routing::RouteState* state = nullptr;  // owned by the snapshot

  // Upstream calls allowed per request.
  int max_attempts() const {
    return retry.attempts > 0 ? retry.attempts : static_cast<int>(targets.size());
  }
};

namespace routing {

// Sorts targets into tiers and prepares the weighted schedules. Targets must be <= 64.
void prepare_tiers(Route& r);

// The candidate chosen for one try.
struct Pick {
  int target = -1;  // index in route.targets, -1: none
  int key = 0;      // index in target.keys
  bool probe = false;
};

// Why no candidate was found.
struct NoPick {
  bool all_tried = false;    // targets are usable, but this request tried each of them
  bool unhealthy = false;    // a target was skipped for its breaker or its health check
  bool rate_limited = false; // a target was skipped because all its keys are cooling (429)
  int64_t retry_at_ns = 0;   // when an unavailable target becomes usable again (0: unknown)
};

// Chooses the next target: the first tier with a usable target not in `tried` (a bitmask of
// route.targets indexes), then the route's strategy within it; takes the call on the chosen
// target's health (TargetHealth::acquire). With `allow_tried`, already tried targets count as
// candidates again (a retry). Targets in `exclude` are never considered (they cannot take this
// request). Returns target -1 and fills `why` when nothing is usable.
Pick select(const Route& route, uint64_t tried, bool allow_tried, int64_t now, NoPick& why,
            uint64_t exclude = 0);

// A per-thread random generator for the strategies and the backoff jitter.
std::minstd_rand& rng();

}  // namespace routing
}  // namespace torii
