#pragma once
// The semantic cache's guard against false hits (docs/CACHING.md). Embeddings place "enable
// 2FA" next to "disable 2FA" and "top 5 cities" next to "top 10 cities"; before a semantic
// hit is served, the new prompt and the cached one must agree on what embeddings blur:
//   - negations (not, no, never, n't, without, ...), counted;
//   - polarity words on one axis (enable/disable, increase/decrease, before/after, ...);
//   - numbers (digits and number words, normalised), as a multiset;
//   - named entities (capitalised words not opening a sentence, acronyms), as a set;
//   - quoted strings ("...", '...', `...`, “...”), exactly.
// Pure functions; no allocation beyond the feature lists.
#include <string>
#include <string_view>

namespace torii::cache {

struct GuardVerdict {
  bool same = true;             // no difference found: the hit may be served
  std::string_view reason;      // "negation" | "polarity" | "number" | "entity" | "quoted"
};

GuardVerdict same_meaning(std::string_view prompt, std::string_view cached_prompt);

}  // namespace torii::cache
