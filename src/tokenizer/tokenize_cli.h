#pragma once
// `torii tokenize --encoding cl100k_base|o200k_base [--count]`: reads all of stdin, prints the
// token ids as a JSON array (or, with --count, their number) and a newline.
#include <iosfwd>
#include <string>

namespace torii::tokenizer {

// Returns the exit status: 0, or 1 (message on `err`) for an unknown encoding or missing data.
int run_tokenize_cli(const std::string& encoding, bool count, std::istream& in,
                     std::ostream& out, std::ostream& err);

}  // namespace torii::tokenizer
