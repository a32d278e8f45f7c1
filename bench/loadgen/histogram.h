#pragma once
// A log-linear histogram of microsecond values for the bench load generator: exact below 128,
// then 64 sub-buckets per power of two (relative error under 1.6 %), with the exact maximum kept
// apart. Cheap to record (no allocation after construction) and mergeable across threads.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace torii::bench {

class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}

  /// Records one value (microseconds).
  void record(std::uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }

  /// Adds every value recorded in `other`.
  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }

  /// The value at quantile q (0..1): the upper edge of the bucket that holds it, capped at the
  /// maximum seen. 0 when nothing was recorded.
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper(i), max_);
    }
    return max_;
  }

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }

 private:
  static constexpr std::size_t kLinear = 128;
  static constexpr std::size_t kSub = 64;
  static constexpr std::size_t kBuckets = kLinear + 58 * kSub;

  static std::size_t index(std::uint64_t v) {
    if (v < kLinear) return static_cast<std::size_t>(v);
    const int msb = 63 - std::countl_zero(v);
    const int shift = msb - 6;  // keeps the top 7 bits: a mantissa in [64, 127]
    const auto mantissa = static_cast<std::size_t>(v >> shift);
    return kLinear + static_cast<std::size_t>(shift - 1) * kSub + (mantissa - kSub);
  }

  static std::uint64_t upper(std::size_t i) {
    if (i < kLinear) return i;
    const std::size_t shift = (i - kLinear) / kSub + 1;
    const std::uint64_t mantissa = (i - kLinear) % kSub + kSub;
    return ((mantissa + 1) << shift) - 1;
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace torii::bench
