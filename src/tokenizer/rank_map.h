#pragma once
// RankMap: byte string -> BPE rank, the hot lookup of the tokenizer (internal to src/tokenizer).
//
// Open addressing with linear probing over 16-byte slots {first 8 bytes, length, rank}; the
// token bytes live once in an arena indexed by rank, and only tokens longer than 8 bytes need a
// second memory access to compare their tail; two-byte strings use a direct table. (8-byte
// slots {hash tag, rank} checked against the arena measured slower: two misses per hit.)
// No allocation per lookup.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace torii::tokenizer {

class RankMap {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Builds the table; tokens[rank] holds the bytes of that rank (empty: no such rank).
  // A token listed twice keeps its highest rank (as js-tiktoken's Map does).
  void build(const std::vector<std::string>& tokens) {
    std::size_t count = 0, bytes = 0;
    for (const auto& t : tokens) {
      if (!t.empty()) ++count;
      bytes += t.size();
    }
    std::size_t cap = 16;
    while (cap < count * 2) cap <<= 1;  // load factor <= 0.5: short probe runs
    slots_.assign(cap, Slot{0, 0, 0});
    mask_ = cap - 1;
    arena_.clear();
    arena_.reserve(bytes);
    offset_.assign(tokens.size(), 0);
    for (std::size_t rank = 0; rank < tokens.size(); ++rank) {
      const std::string& t = tokens[rank];
      if (t.empty()) continue;
      offset_[rank] = static_cast<uint32_t>(arena_.size());
      arena_ += t;
      insert(reinterpret_cast<const uint8_t*>(t.data()), t.size(), static_cast<uint32_t>(rank));
    }
    size_ = count;
    // Two-byte strings (every first merge of a piece) get a direct table: 256 KB, cache-resident.
    two_.assign(65536, kNone);
    for (unsigned i = 0; i < 65536; ++i) {
      uint8_t b[2] = {static_cast<uint8_t>(i & 0xff), static_cast<uint8_t>(i >> 8)};
      two_[i] = find_slow(b, 2);
    }
  }

  // The rank of p[0..n), or kNone.
  uint32_t find(const uint8_t* p, std::size_t n) const {
    if (n == 2) return two_[p[0] | (unsigned{p[1]} << 8)];
    return find_slow(p, n);
  }

  std::size_t size() const { return size_; }

 private:
  uint32_t find_slow(const uint8_t* p, std::size_t n) const {
    uint64_t head = head_of(p, n);
    for (uint64_t i = hash(p, n, head) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.len == 0) return kNone;
      if (s.len == n && s.head == head &&
          (n <= 8 || std::memcmp(arena_.data() + offset_[s.rank] + 8, p + 8, n - 8) == 0)) {
        return s.rank;
      }
    }
  }

  struct Slot {
    uint64_t head;  // the first min(len, 8) bytes, little-endian, zero-padded
    uint32_t len;   // 0: empty slot
    uint32_t rank;
  };

  static uint64_t load8(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static uint64_t load4(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  // Overlapping loads: the bytes both loads cover are the same, so OR-ing them is exact.
  static uint64_t head_of(const uint8_t* p, std::size_t n) {
    if (n >= 8) return load8(p);
    if (n >= 4) return load4(p) | (load4(p + n - 4) << ((n - 4) * 8));
    if (n == 0) return 0;
    return uint64_t{p[0]} | (uint64_t{p[n / 2]} << (n / 2 * 8)) | (uint64_t{p[n - 1]} << ((n - 1) * 8));
  }
  static uint64_t mix(uint64_t a, uint64_t b) {
    __uint128_t r = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
  static uint64_t hash(const uint8_t* p, std::size_t n, uint64_t head) {
    uint64_t h = mix(head ^ 0xa0761d6478bd642fULL, n ^ 0xe7037ed1a0b428dbULL);
    if (n <= 8) return h;
    std::size_t i = 8;
    for (; i + 8 < n; i += 8) h = mix(h ^ load8(p + i), 0x8ebc6af09c88c6e3ULL);
    return mix(h ^ load8(p + n - 8), 0x589965cc75374cc3ULL);
  }

  void insert(const uint8_t* p, std::size_t n, uint32_t rank) {
    uint64_t head = head_of(p, n);
    for (uint64_t i = hash(p, n, head) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.len == 0 || (s.len == n && s.head == head &&
                         std::memcmp(arena_.data() + offset_[s.rank], p, n) == 0)) {
        s = Slot{head, static_cast<uint32_t>(n), rank};
        return;
      }
    }
  }

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::string arena_;              // every token's bytes, back to back
  std::vector<uint32_t> offset_;   // rank -> offset in arena_
  std::size_t size_ = 0;
  std::vector<uint32_t> two_;      // p[0] | p[1] << 8 -> rank
};

}  // namespace torii::tokenizer
