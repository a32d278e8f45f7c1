#pragma once
// `torii mock`'s embeddings (POST /v1/embeddings): a deterministic test embedding, no model.
//
// mock_embedding(text, dims) is a bag of folded words hashed into `dims` buckets (FNV-1a: three
// buckets and signs per word), normalised to unit length. Words are lower-cased; punctuation
// and stopwords ("how", "do", "I", "please", "the", ...) are dropped; "$" reads "dollar"; a
// small synonym table folds the paraphrases of tests/data/cache_pairs.json onto one word
// (recover/change → reset, passcode → password, delete/remove → add, ...); plurals lose
// their "s". Equal bags give equal vectors, so the cosine of two texts is that of their bags.
//
// It is DELIBERATELY blind where real embedding models nearly are, so that near-misses score
// as high as paraphrases and the semantic cache's false-hit guard (src/cache/guard.h), not the
// embedding, must stop them:
//   - negations are dropped ("not", "never", "without", "n't" ...): "with eggs" = "without eggs";
//   - every number is one token "#" (digits, number words, ordinals; a run counts once):
//     "top 5" = "top 10" = "top five";
//   - polarity words fold onto one pole: disable → enable, decrease → increase, after →
//     before, sell → buy, "turn off" → enable, ...;
//   - names (capitalised words inside a sentence, acronyms, words mixing letters and digits)
//     and quoted text weigh 0.25 instead of 1: "GitHub" and "GitLab" barely move a vector.
// A text with no word left is hashed whole (still unit length, never a zero vector).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace torii {

// The embedding of `text` with `dims` (>= 1) components, unit length.
std::vector<float> mock_embedding(std::string_view text, int dims);

// POST /v1/embeddings: OpenAI's answer for the request `body`:
//   {"object":"list","data":[{"object":"embedding","index":i,"embedding":[...]}],"model":...,
//    "usage":{"prompt_tokens":n,"total_tokens":n}}
// "input": a non-empty string or a non-empty array (at most 2048) of non-empty strings;
// "model": a non-empty string; "dimensions": an integer in 1..4096 (default 256);
// "encoding_format": "float" (default) or "base64" (the float32s, little-endian, base64).
// prompt_tokens is about one per 4 bytes of each input (at least 1 each). Token arrays and
// every other bad body are a 400 in OpenAI's shape naming the field.
Result<std::string> mock_embeddings(std::string_view body);

}  // namespace torii
