// libFuzzer target for EventStreamDecoder: whatever the bytes and however they are split across
// two feed() calls, the decoder must not crash, must deliver the same messages as a single feed,
// and re-encoding a delivered message must decode back to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "providers/bedrock/eventstream.h"

namespace {

struct Msg {
  std::string message_type, event_type, exception_type, payload, raw_headers;
  bool operator==(const Msg&) const = default;
};

struct Run {
  std::vector<Msg> msgs;
  bool ok = true;
  bool operator==(const Run&) const = default;
};

Run decode(const std::vector<std::string_view>& pieces) {
  torii::aws::EventStreamDecoder decoder(1u << 20);
  Run run;
  for (auto piece : pieces) {
    auto r = decoder.feed(piece, [&](const torii::aws::EventMessage& m) {
      run.msgs.push_back({std::string(m.message_type), std::string(m.event_type),
                          std::string(m.exception_type), std::string(m.payload),
                          std::string(m.raw_headers)});
    });
    if (!r.ok()) {
      run.ok = false;
      break;
    }
  }
  return run;
}

[[noreturn]] void fail(const char* what, std::size_t size) {
  std::fprintf(stderr, "fuzz_eventstream: %s (input %zu bytes)\n", what, size);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Run whole = decode({in});

  std::size_t cut = size == 0 ? 0 : (static_cast<std::size_t>(data[0]) * 131 + size) % (size + 1);
  Run two = decode({in.substr(0, cut), in.substr(cut)});
  // Errors are found from the bytes alone, so a split changes nothing, failures included.
  if (!(two == whole)) fail("split changed the outcome", size);

  // Every delivered message re-encodes (headers re-walked) and decodes to itself.
  for (const auto& m : whole.msgs) {
    std::vector<torii::aws::EventHeader> headers;
    auto e = torii::aws::for_each_event_header(
        m.raw_headers, [&](const torii::aws::EventHeader& h) { headers.push_back(h); });
    if (e != torii::aws::EventStreamError::none) fail("delivered a message with bad headers", size);
    std::string again;
    bool empty_name = false;
    for (const auto& h : headers) empty_name = empty_name || h.name.empty();
    if (empty_name) continue;  // the encoder refuses empty names; the decoder tolerates them
    if (!torii::aws::append_event_frame(again, headers, m.payload)) fail("re-encode refused", size);
    Run back = decode({again});
    if (!back.ok || back.msgs.size() != 1 || !(back.msgs[0] == m)) fail("re-encode differs", size);
  }
  return 0;
}
