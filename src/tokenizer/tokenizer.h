#pragma once
// tiktoken-compatible byte-level BPE (cl100k_base, o200k_base), for prompt-token estimates in
// quotas and budgets.
//
// The text is split by the encoding's pat_str (PCRE2 with JIT, UTF + UCP; `\s` is given
// JavaScript's meaning so that the ids equal js-tiktoken's token for token; ASCII runs of the two
// known patterns are split by a hand-written equivalent, ascii_split.h, which
// TORII_TOKENIZER_PCRE_ONLY=1 turns off), each piece is looked up whole in the rank table, else
// merged pairwise by lowest rank (tiktoken's rule; a heap for pieces over 256 bytes). Special tokens
// (`<|endoftext|>` ...) are encoded as ordinary text. Invalid UTF-8 is first replaced by U+FFFD,
// one per maximal invalid subsequence, as a TextDecoder would.
//
// The tables are produced at setup time by scripts/extract_ranks.mjs from the pinned js-tiktoken
// package: <data_dir()>/<name>.tiktoken ("<base64 bytes> <rank>" lines) and <name>.json
// ({"pat_str": ..., "special_tokens": {...}}).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace torii::tokenizer {

enum class Encoding { cl100k_base, o200k_base };

// "cl100k_base" / "o200k_base".
std::string_view encoding_name(Encoding e);
// The inverse of encoding_name; nullopt for any other text.
std::optional<Encoding> parse_encoding(std::string_view name);

class Bpe {
 public:
  // Loads <file> (a .tiktoken table) and the pat_str of the .json next to it (same stem).
  // Errors (missing or malformed file, a pattern PCRE2 rejects) come back as a value.
  static Result<std::unique_ptr<Bpe>> load(Encoding e, const std::string& file);

  ~Bpe();
  Bpe(const Bpe&) = delete;
  Bpe& operator=(const Bpe&) = delete;

  // The token ids of `text`. Immutable object: safe to call from any number of threads.
  std::vector<uint32_t> encode(std::string_view text) const;
  // encode(text).size(), without building the vector (no allocation for ordinary text).
  std::size_t count(std::string_view text) const;

  Encoding encoding() const;
  // Number of ordinary (non-special) tokens in the table.
  std::size_t vocabulary_size() const;

  struct Impl;

 private:
  explicit Bpe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The process-wide table of `e`, loaded on first use from data_dir() (thread-safe, once).
// nullptr when the data is missing or unreadable (logged once per encoding).
const Bpe* get(Encoding e);

// Starts loading both encodings on a detached background thread and returns at once; once per
// process (later calls do nothing). `torii serve` calls it when a config with quotas is applied
// (their prompt estimates use the tables), so the first request does not pay for the load and
// a gateway without quotas never holds the tables. Logs one line when both are loaded.
void preload();

// $TORII_DATA_DIR if set, else the first data/tokenizer directory found in the executable's
// directory or its two parents (build/torii and build/bench/* find <repo>/data/tokenizer),
// else <exe dir>/data/tokenizer.
std::string data_dir();

// The encoding OpenAI uses for `model` ("provider/model" accepted: everything up to the last '/'
// is dropped): gpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4*, chatgpt-4o*, omni-moderation*
// -> o200k_base; gpt-4*, gpt-3.5*, text-embedding-3*, text-embedding-ada-002 -> cl100k_base;
// anything else (claude, gemini, mistral, llama, mock...) -> nullopt.
std::optional<Encoding> encoding_for_model(std::string_view model);

// Tokens of `text` for `model`: the BPE count when the model has an encoding whose data is
// loaded, else ceil(bytes / 4).
std::size_t estimate(std::string_view model, std::string_view text);

}  // namespace torii::tokenizer
