#include "audit/trace_context.h"

#include <cstdint>
#include <cstring>
#include <random>

namespace torii::audit {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// -1 for anything but a lowercase hex digit (uppercase is invalid in traceparent).
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool all_lower_hex(std::string_view s) {
  for (char c : s)
    if (hex_value(c) < 0) return false;
  return true;
}

bool all_zeros(std::string_view s) {
  for (char c : s)
    if (c != '0') return false;
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256**: fast, 256-bit state, good statistical quality; not for secrets (ids only).
class Xoshiro256 {
 public:
  Xoshiro256() {
    std::random_device rd;
    uint64_t seed = (uint64_t{rd()} << 32) ^ rd();
    // Mix in the state's address: distinct per thread even if random_device were weak.
    seed ^= reinterpret_cast<uintptr_t>(this);
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

Xoshiro256& rng() {
  thread_local Xoshiro256 r;
  return r;
}

void write_hex64(uint64_t v, char* out) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view header) {
  const std::string_view s = trim_ows(header);
  // version(2) '-' trace(32) '-' parent(16) '-' flags(2)
  constexpr std::size_t kLen = 55;
  if (s.size() < kLen) return std::nullopt;
  const std::string_view version = s.substr(0, 2);
  if (!all_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" && s.size() != kLen) return std::nullopt;
  if (s.size() > kLen && s[kLen] != '-') return std::nullopt;
  if (s[2] != '-' || s[35] != '-' || s[52] != '-') return std::nullopt;
  const std::string_view trace = s.substr(3, 32);
  const std::string_view parent = s.substr(36, 16);
  const std::string_view flags = s.substr(53, 2);
  if (!all_lower_hex(trace) || !all_lower_hex(parent) || !all_lower_hex(flags))
    return std::nullopt;
  if (all_zeros(trace) || all_zeros(parent)) return std::nullopt;
  TraceContext ctx;
  std::memcpy(ctx.trace_id.data(), trace.data(), trace.size());
  std::memcpy(ctx.parent_span_id.data(), parent.data(), parent.size());
  ctx.has_parent = true;
  ctx.sampled = (hex_value(flags[1]) & 1) != 0;
  return ctx;
}

void new_trace_id(char out[32]) {
  auto& r = rng();
  uint64_t hi = 0, lo = 0;
  while ((hi | lo) == 0) {  // all zeros is invalid: draw again (probability 2^-128)
    hi = r.next();
    lo = r.next();
  }
  write_hex64(hi, out);
  write_hex64(lo, out + 16);
}

void new_span_id(char out[16]) {
  auto& r = rng();
  uint64_t v = 0;
  while (v == 0) v = r.next();
  write_hex64(v, out);
}

std::string new_trace_id() {
  std::string s(32, '0');
  new_trace_id(s.data());
  return s;
}

std::string new_span_id() {
  std::string s(16, '0');
  new_span_id(s.data());
  return s;
}

std::string format_traceparent(std::string_view trace_id, std::string_view span_id,
                               bool sampled) {
  std::string out;
  out.reserve(3 + trace_id.size() + 1 + span_id.size() + 3);
  out.append("00-").append(trace_id).append("-").append(span_id);
  out.append(sampled ? "-01" : "-00");
  return out;
}

bool should_sample(const std::optional<TraceContext>& parent, std::string_view trace_id,
                   double ratio) {
  if (parent && parent->has_parent) return parent->sampled;
  if (ratio >= 1.0) return true;
  if (!(ratio > 0.0)) return false;  // also NaN
  if (trace_id.size() < 16) return false;
  uint64_t x = 0;
  for (char c : trace_id.substr(trace_id.size() - 16)) {
    int v = hex_value(c);
    if (v < 0) return false;
    x = (x << 4) | static_cast<uint64_t>(v);
  }
  // ratio < 1 here, so the threshold fits in 64 bits.
  const auto threshold = static_cast<uint64_t>(ratio * 18446744073709551616.0);
  return x < threshold;
}

}  // namespace torii::audit
