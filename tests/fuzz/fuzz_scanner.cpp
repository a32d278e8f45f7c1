// libFuzzer target for the guardrails' scanner: on any bytes, every built-in detector plus a
// custom pattern must not crash nor read out of bounds (ASan), and the findings must be sorted,
// non-overlapping, non-empty and inside the text. Scanning a copy with a prefix of junk must
// find the same findings, shifted (when the junk cannot glue to the first byte).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "guardrails/scanner.h"

namespace g = torii::guardrails;

namespace {

[[noreturn]] void fail(const char* what, std::size_t size) {
  std::fprintf(stderr, "fuzz_scanner: %s (input %zu bytes)\n", what, size);
  std::abort();
}

const g::Scanner& scanner() {
  static const std::shared_ptr<const g::Scanner> s = [] {
    g::ScannerConfig cfg;
    for (auto e : g::pii_entities()) cfg.entities.push_back(e);
    for (auto e : g::secret_entities()) cfg.entities.push_back(e);
    cfg.custom = {{"employee_id", "EMP-[0-9]{6}"}};
    auto r = g::Scanner::build(cfg);
    if (!r.ok()) fail("build failed", 0);
    return r.value();
  }();
  return *s;
}

void check(std::string_view text, const std::vector<g::Finding>& out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].begin >= out[i].end || out[i].end > text.size()) fail("finding out of bounds", text.size());
    if (i && out[i - 1].end > out[i].begin) fail("findings overlap or are unsorted", text.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // An exact-size heap copy, so that ASan sees any read past the end.
  std::vector<char> buf(data, data + size);
  std::string_view text(buf.data(), buf.size());
  std::vector<g::Finding> out;
  scanner().scan(text, out);
  check(text, out);

  // The same text after "\n\n" (a separator no detector spans) gives the same findings, shifted.
  std::string shifted = "\n\n" + std::string(text);
  std::vector<g::Finding> out2;
  scanner().scan(shifted, out2);
  check(shifted, out2);
  if (out2.size() != out.size()) fail("a leading newline changed the number of findings", size);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out2[i].entity != out[i].entity || out2[i].begin != out[i].begin + 2 ||
        out2[i].end != out[i].end + 2)
      fail("a leading newline changed a finding", size);
  }
  return 0;
}
