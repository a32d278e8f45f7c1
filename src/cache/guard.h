#pragma once
// The semantic cache's guard against false hits (docs/CACHING.md). Embeddings place "enable
// 2FA" next to "disable 2FA" and "top 5 cities" next to "top 10 cities"; before a semantic
// hit is served, the new prompt and the cached one must agree on what embeddings blur. The
// rules, checked in this order (the first difference is the verdict's reason):
//   - negation: the counts of negations are equal (not, no, never, none, nobody, nothing,
//     neither, nor, without, cannot, n't and its apostrophe-less forms; "no longer" is one);
//   - polarity: words on ~30 two-pole axes (enable/disable, turn on/off, increase/decrease,
//     add/remove, allow/deny, before/after, start/stop, encrypt/decrypt, buy/sell, true/false,
//     log in/out, ...; verbs in any inflection, phrasal particles up to 4 words after their
//     verb). Each prompt names a set of poles per axis; the sets must be equal, except that
//     on an axis with a default pole (enable, more, add, allow, start, ...) naming nothing
//     reads as that pole: "set up 2FA" = "enable 2FA" ≠ "disable 2FA". On the others
//     (before/after, buy/sell, next/last, ...) naming a pole against none differs;
//   - number: equal multisets of numbers: digits ("1,000" = "1000", "2.50" = "2.5", "007" =
//     "7"; "10km" is 10), number words ("five" = "5", "two thousand five hundred" = "2500",
//     "5 million"), ordinals ("3rd" = "third"; "which one", "a second" are not numbers);
//   - entity: every name of one prompt is a word of the other, in any case (so "paris" in a
//     lower-case prompt matches "Paris"). Names: capitalised words inside a sentence, words
//     in capitals (AWS), mixing letters and digits (2FA, GPT-4, S3), camelCase (iPhone) or
//     identifiers (os.path, user_id). A capitalised word opening a sentence, not a common
//     opener ("How", "Please", "Reset") nor a verb before its object ("Move 1000 ..."), may
//     be a name: it differs only against such a word of the other prompt ("Paris hotels" /
//     "Rome hotels"). A prompt in capitals or in Title Case has no capitalised names;
//   - quoted: equal sets of quoted strings, compared exactly ("...", `...`, ```...```,
//     “...”, «...», and '...' opening at a word's start, so "don't" and "users'" are not
//     quotes). What a quote holds counts for this rule only.
// The word tables are English; other languages get the number, name and quote rules.
// Pure functions; they allocate only their working lists (~20 µs for two 200-byte prompts).
#include <string>
#include <string_view>

namespace torii::cache {

struct GuardVerdict {
  bool same = true;             // no difference found: the hit may be served
  std::string_view reason;      // "negation" | "polarity" | "number" | "entity" | "quoted"
};

GuardVerdict same_meaning(std::string_view prompt, std::string_view cached_prompt);

}  // namespace torii::cache
