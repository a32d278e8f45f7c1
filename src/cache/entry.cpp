// The serialised cache entry (store.h: encode_entry / decode_entry). Layout, little-endian:
//   "TC1"                 magic and version
//   u8   flags            bit 0: stream; the other bits must be 0
//   i64  created_ms, cost_micros, prompt_tokens, completion_tokens
//   u32 length + bytes    provider, model, body (in that order)
// and nothing after (each field under 4 GiB: entries are far smaller). A record of another
// version has another magic: it is not decoded (a newer node's entry is a miss for an older
// one, never garbage).
#include "cache/store.h"

namespace torii::cache {
namespace {

constexpr std::string_view kMagic = "TC1";
constexpr uint8_t kStream = 1;

void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}

void put_bytes(std::string& out, std::string_view s) {
  const auto n = static_cast<uint32_t>(s.size());
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(n >> (8 * i));
  out.append(b, 4);
  out.append(s);
}

// Reads from the front of `in`; every read fails once `in` is too short.
struct Reader {
  std::string_view in;

  bool u64(uint64_t& v) {
    if (in.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
    in.remove_prefix(8);
    return true;
  }
  bool i64(int64_t& v) {
    uint64_t u;
    if (!u64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool bytes(std::string& s) {
    if (in.size() < 4) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= uint32_t{static_cast<uint8_t>(in[i])} << (8 * i);
    in.remove_prefix(4);
    if (in.size() < n) return false;
    s.assign(in.data(), n);
    in.remove_prefix(n);
    return true;
  }
};

}  // namespace

std::string encode_entry(const Entry& e) {
  std::string out;
  out.reserve(kMagic.size() + 1 + 4 * 8 + 3 * 4 + e.provider.size() + e.model.size() +
              e.body.size());
  out.append(kMagic);
  out += static_cast<char>(e.stream ? kStream : 0);
  put_u64(out, static_cast<uint64_t>(e.created_ms));
  put_u64(out, static_cast<uint64_t>(e.cost_micros));
  put_u64(out, static_cast<uint64_t>(e.prompt_tokens));
  put_u64(out, static_cast<uint64_t>(e.completion_tokens));
  put_bytes(out, e.provider);
  put_bytes(out, e.model);
  put_bytes(out, e.body);
  return out;
}

std::optional<Entry> decode_entry(std::string_view bytes) {
  if (!bytes.starts_with(kMagic) || bytes.size() < kMagic.size() + 1) return std::nullopt;
  const auto flags = static_cast<uint8_t>(bytes[kMagic.size()]);
  if (flags & ~kStream) return std::nullopt;
  Reader r{bytes.substr(kMagic.size() + 1)};
  Entry e;
  e.stream = flags & kStream;
  if (!r.i64(e.created_ms) || !r.i64(e.cost_micros) || !r.i64(e.prompt_tokens) ||
      !r.i64(e.completion_tokens) || !r.bytes(e.provider) || !r.bytes(e.model) ||
      !r.bytes(e.body) || !r.in.empty())
    return std::nullopt;
  return e;
}

}  // namespace torii::cache
