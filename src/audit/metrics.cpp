#include "audit/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <unordered_map>

namespace torii::audit {

namespace {

using prometheus::Counter;
using prometheus::Histogram;

// Seconds: 1 ms .. 60 s for latencies; 20 µs .. 100 ms for the gateway's own share.
const Histogram::BucketBoundaries& latency_buckets() {
  static const Histogram::BucketBoundaries b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30, 60};
  return b;
}
const Histogram::BucketBoundaries& overhead_buckets() {
  static const Histogram::BucketBoundaries b{0.00002, 0.00005, 0.0001, 0.00025, 0.0005,
                                             0.001,   0.0025,  0.005,  0.01,    0.1};
  return b;
}

std::string or_none(const std::string& s) { return s.empty() ? "none" : s; }

}  // namespace

struct RequestMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<Counter>& requests =
      prometheus::BuildCounter()
          .Name("torii_requests_total")
          .Help("Requests answered, by route, provider, model, status and outcome.")
          .Register(*registry);
  prometheus::Family<Counter>& errors =
      prometheus::BuildCounter()
          .Name("torii_request_errors_total")
          .Help("Requests that failed (any outcome but ok), by route, provider, model, status "
                "and error type.")
          .Register(*registry);
  prometheus::Family<Counter>& attempts =
      prometheus::BuildCounter()
          .Name("torii_upstream_attempts_total")
          .Help("Upstream calls, by provider, model and upstream status (0: no answer).")
          .Register(*registry);
  prometheus::Family<Histogram>& overhead =
      prometheus::BuildHistogram()
          .Name("torii_gateway_overhead_seconds")
          .Help("Time spent in the gateway itself: total minus the answering upstream call.")
          .Register(*registry);
  prometheus::Family<Histogram>& ttft =
      prometheus::BuildHistogram()
          .Name("torii_time_to_first_token_seconds")
          .Help("Request start to the first response byte written, for answered requests.")
          .Register(*registry);
  prometheus::Family<Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("torii_request_duration_seconds")
          .Help("Request start to its end (the last byte of a stream).")
          .Register(*registry);
  prometheus::Family<Counter>& tokens =
      prometheus::BuildCounter()
          .Name("torii_tokens_total")
          .Help("Tokens by consumer, model and type (prompt, completion, cached, cache_write, "
                "reasoning).")
          .Register(*registry);
  prometheus::Family<Counter>& cost =
      prometheus::BuildCounter()
          .Name("torii_cost_usd_total")
          .Help("Cost in USD of the priced requests, by consumer and model.")
          .Register(*registry);
  prometheus::Family<Counter>& cache =
      prometheus::BuildCounter()
          .Name("torii_cache_requests_total")
          .Help("Requests by cache outcome (off, miss, hit, semantic_hit, bypass).")
          .Register(*registry);
  prometheus::Family<Counter>& cache_saved =
      prometheus::BuildCounter()
          .Name("torii_cache_saved_usd_total")
          .Help("What the answers served from the cache had cost when first asked, in USD.")
          .Register(*registry);
  Counter& cache_saved_usd = cache_saved.Add({});
  prometheus::Family<Counter>& guardrail_denials =
      prometheus::BuildCounter()
          .Name("torii_guardrail_denials_total")
          .Help("Requests or answers a guardrail denied, by guardrail.")
          .Register(*registry);
  prometheus::Family<Counter>& modality_requests =
      prometheus::BuildCounter()
          .Name("torii_modality_requests_total")
          .Help("Requests by modality (chat, embeddings, image_generation, speech, ...) and "
                "outcome.")
          .Register(*registry);
  prometheus::Family<Counter>& modality_units =
      prometheus::BuildCounter()
          .Name("torii_modality_units_total")
          .Help("What the other modalities made, by modality, model and unit: images, "
                "audio_seconds, characters.")
          .Register(*registry);
  prometheus::TextSerializer serializer;

  // The series of each label set, found once: prometheus-cpp's Family::Add builds a label map
  // and locks per call, so an event looks its series up here (one string key, one hash lookup)
  // and then only increments. Dispatcher thread only.
  struct RequestSeries {
    Counter* requests = nullptr;
    Counter* errors = nullptr;  // null for ok
    Counter* cache = nullptr;
    Counter* modality = nullptr;
    Histogram* overhead = nullptr;
    Histogram* ttft = nullptr;
    Histogram* duration = nullptr;
  };
  struct ConsumerSeries {
    Counter* tokens[5] = {};  // prompt, completion, cached, cache_write, reasoning
    Counter* cost = nullptr;
  };
  std::unordered_map<std::string, RequestSeries> request_series;
  std::unordered_map<std::string, ConsumerSeries> consumer_series;
  std::unordered_map<std::string, Counter*> attempt_series;
  std::string key;  // reused
};

RequestMetrics::RequestMetrics() : impl_(std::make_unique<Impl>()) {}
RequestMetrics::~RequestMetrics() = default;

prometheus::Registry& RequestMetrics::registry() { return *impl_->registry; }

void RequestMetrics::observe(const AuditEvent& e) {
  Impl& m = *impl_;
  const std::string& model_name = e.upstream_model.empty() ? e.model : e.upstream_model;
  std::string& key = m.key;
  auto join = [&key](std::initializer_list<std::string_view> parts) {
    key.clear();
    for (std::string_view p : parts) {
      key.append(p);
      key.push_back('\0');
    }
  };
  const std::string status = std::to_string(e.status);
  const bool ok = e.outcome == "ok";
  join({e.route, e.provider, model_name, status, e.outcome, ok ? "" : e.error_type, e.cache,
        e.modality});
  auto it = m.request_series.find(key);
  if (it == m.request_series.end()) {
    const std::string route = or_none(e.route), provider = or_none(e.provider),
                      model = or_none(model_name);
    Impl::RequestSeries r;
    r.requests = &m.requests.Add({{"route", route}, {"provider", provider}, {"model", model},
                                  {"status", status}, {"outcome", e.outcome}});
    if (!ok)
      r.errors = &m.errors.Add({{"route", route}, {"provider", provider}, {"model", model},
                                {"status", status}, {"type", or_none(e.error_type)}});
    r.cache = &m.cache.Add({{"outcome", e.cache}});
    r.modality = &m.modality_requests.Add({{"modality", e.modality}, {"outcome", e.outcome}});
    r.overhead = &m.overhead.Add({{"route", route}}, overhead_buckets());
    r.ttft = &m.ttft.Add({{"route", route}, {"model", model}}, latency_buckets());
    r.duration = &m.duration.Add({{"route", route}, {"model", model}}, latency_buckets());
    it = m.request_series.emplace(key, r).first;
  }
  const Impl::RequestSeries& r = it->second;
  r.requests->Increment();
  if (r.errors) r.errors->Increment();
  r.cache->Increment();
  r.modality->Increment();
  r.overhead->Observe(e.overhead_us / 1e6);
  if (e.ttft_us >= 0) r.ttft->Observe(e.ttft_us / 1e6);
  r.duration->Observe(e.total_us / 1e6);

  for (const AttemptRecord& a : e.attempts) {
    const std::string st = std::to_string(a.status);
    join({a.provider, a.model, st});
    auto at = m.attempt_series.find(key);
    if (at == m.attempt_series.end())
      at = m.attempt_series
               .emplace(key, &m.attempts.Add({{"provider", a.provider}, {"model", a.model},
                                              {"status", st}}))
               .first;
    at->second->Increment();
  }

  const int64_t counts[5] = {e.usage.prompt, e.usage.completion, e.usage.cached,
                             e.usage.cache_write, e.usage.reasoning};
  if (counts[0] > 0 || counts[1] > 0 || e.cost_micros > 0) {
    join({e.consumer, model_name});
    auto ct = m.consumer_series.find(key);
    if (ct == m.consumer_series.end()) {
      static constexpr const char* types[5] = {"prompt", "completion", "cached", "cache_write",
                                               "reasoning"};
      const std::string consumer = or_none(e.consumer), model = or_none(model_name);
      Impl::ConsumerSeries c;
      for (int i = 0; i < 5; ++i)
        c.tokens[i] = &m.tokens.Add({{"consumer", consumer}, {"model", model}, {"type", types[i]}});
      c.cost = &m.cost.Add({{"consumer", consumer}, {"model", model}});
      ct = m.consumer_series.emplace(key, c).first;
    }
    for (int i = 0; i < 5; ++i)
      if (counts[i] > 0) ct->second.tokens[i]->Increment(static_cast<double>(counts[i]));
    if (e.cost_micros > 0) ct->second.cost->Increment(static_cast<double>(e.cost_micros) / 1e6);
  }
  if (e.cache_saved_micros > 0) m.cache_saved_usd.Increment(e.cache_saved_micros / 1e6);
  // (Family::Add finds the series: only for the calls that made something.)
  const std::pair<const char*, double> units[] = {
      {"images", static_cast<double>(e.usage.images)},
      {"audio_seconds", static_cast<double>(e.usage.audio_ms) / 1000.0},
      {"characters", static_cast<double>(e.usage.characters)}};
  for (const auto& [unit, n] : units)
    if (n > 0)
      m.modality_units.Add({{"modality", e.modality}, {"model", or_none(model_name)}, {"unit", unit}})
          .Increment(n);
  for (const GuardrailRecord& g : e.guardrails)
    if (g.action == "deny") m.guardrail_denials.Add({{"guardrail", g.name}}).Increment();
}

std::string RequestMetrics::text() const {
  return impl_->serializer.Serialize(impl_->registry->Collect());
}

}  // namespace torii::audit
