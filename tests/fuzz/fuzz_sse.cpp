// libFuzzer target for SseParser: however the bytes are split across feed() calls, the events
// must be the same as when the whole input is fed at once (and nothing may crash).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "upstream/sse_parser.h"

namespace {

struct Ev {
  std::string event, data, id;
  bool operator==(const Ev&) const = default;
};

struct Run {
  std::vector<Ev> events;
  bool ok = true;
  bool operator==(const Run&) const = default;
};

// Feeds `pieces` in order to a fresh parser; empty pieces are skipped (the proxy never feeds
// one, and an empty feed between '\r' and '\n' is a known quirk, see sse_parser_test.cpp).
Run parse(const std::vector<std::string_view>& pieces, std::size_t max_event_bytes) {
  torii::SseParser parser(max_event_bytes);
  Run run;
  for (auto piece : pieces) {
    if (piece.empty()) continue;
    run.ok = parser.feed(piece, [&](torii::SseEvent& e) {
      run.events.push_back({e.event, e.data, e.id});
      return true;
    });
    if (!run.ok) break;
  }
  return run;
}

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_sse: %s (input %zu bytes)\n", what, input.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The limit is far above the input size, so it never trips and must not change the events.
  constexpr std::size_t kBig = 1u << 20;
  Run whole = parse({in}, kBig);
  if (!whole.ok) fail("a single feed failed under the size limit", in);

  // Two data-derived split points.
  std::size_t a = 0, b = 0;
  if (size > 0) {
    a = (static_cast<std::size_t>(data[0]) * 131 + size) % (size + 1);
    b = (static_cast<std::size_t>(data[size - 1]) * 257 + a) % (size + 1);
    if (b < a) std::swap(a, b);
  }
  if (parse({in.substr(0, a), in.substr(a)}, kBig) != whole) fail("two-way split differs", in);
  if (parse({in.substr(0, a), in.substr(a, b - a), in.substr(b)}, kBig) != whole)
    fail("three-way split differs", in);

  // Byte by byte (bounded so that each run stays fast).
  if (size <= 128) {
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < size; ++i) bytes.push_back(in.substr(i, 1));
    if (parse(bytes, kBig) != whole) fail("byte-by-byte feed differs", in);
  }

  // A tiny limit: may stop early, must not crash, and events seen are a prefix of the real ones.
  Run small = parse({in.substr(0, a), in.substr(a)}, 16);
  if (small.events.size() > whole.events.size()) fail("small limit produced extra events", in);
  for (std::size_t i = 0; i < small.events.size(); ++i)
    if (!(small.events[i] == whole.events[i])) fail("small limit changed an event", in);
  return 0;
}
