#include "tokenizer/tokenize_cli.h"

#include <istream>
#include <iterator>
#include <ostream>

#include "tokenizer/tokenizer.h"

namespace torii::tokenizer {

int run_tokenize_cli(const std::string& encoding, bool count, std::istream& in,
                     std::ostream& out, std::ostream& err) {
  auto e = parse_encoding(encoding);
  if (!e) {
    err << "tokenize: unknown encoding '" << encoding << "' (cl100k_base or o200k_base)\n";
    return 1;
  }
  const Bpe* bpe = get(*e);
  if (!bpe) {
    err << "tokenize: no tokenizer data for " << encoding << " in " << data_dir()
        << " (run scripts/setup.sh, or set TORII_DATA_DIR)\n";
    return 1;
  }
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (count) {
    out << bpe->count(text) << "\n";
    return 0;
  }
  std::string line = "[";
  for (uint32_t id : bpe->encode(text)) {
    if (line.size() > 1) line += ',';
    line += std::to_string(id);
  }
  line += "]\n";
  out << line;
  return out.good() ? 0 : 1;
}

}  // namespace torii::tokenizer
