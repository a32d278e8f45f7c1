// The BPE tokenizer: ids checked against js-tiktoken 1.0.21, the model table, the estimate.
// Needs the tables scripts/setup.sh extracts (data/tokenizer, or $TORII_DATA_DIR).
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "tokenizer/utf8.h"

namespace torii::tokenizer {
namespace {

const Bpe& table(Encoding e) {
  const Bpe* bpe = get(e);
  if (!bpe) {
    ADD_FAILURE() << "no tokenizer data in " << data_dir() << " (run scripts/setup.sh)";
    std::abort();
  }
  return *bpe;
}

using Ids = std::vector<uint32_t>;

struct Known {
  const char* text;
  Ids cl100k, o200k;
};

// Each expected list printed by js-tiktoken: getEncoding(e).encode(text, [], []).
const Known kKnown[] = {
    {"hello world", {15339, 1917}, {24912, 2375}},
    {"Hello, world! I'm they'll", {9906, 11, 1917, 0, 358, 2846, 814, 3358},
     {13225, 11, 2375, 0, 5477, 57956}},
    {"1234567", {4513, 10961, 22}, {7633, 19354, 22}},
    {"  \n\n\n", {80326}, {145331}},
    {"日本語のテキスト", {9080, 22656, 45918, 252, 16144, 57933, 62903, 71634},
     {9048, 40909, 3385, 16056, 18368, 38236}},
    {"👩‍👩‍👧", {9468, 239, 102, 378, 235, 9468, 239, 102, 378, 235, 9468, 239, 100},
     {28823, 102, 2524, 28823, 102, 2524, 28823, 100}},
    {"<|endoftext|>", {27, 91, 8862, 728, 428, 91, 29}, {27, 91, 419, 1440, 919, 91, 29}},
    {"مرحبا بالعالم", {10386, 11318, 30925, 22071, 5821, 28946, 32482, 24102, 32482, 10386},
     {158894, 26537, 101462, 12773}},
    // U+FEFF is whitespace in JavaScript's \s (not in PCRE2's): the pattern is given JS's set.
    {"\xef\xbb\xbfx", {3305, 87}, {5574, 87}},
    // U+0085 is not: it merges with nothing.
    {"a\xc2\x85" "b", {64, 126, 227, 65}, {64, 126, 227, 65}},
};

TEST(Tokenizer, KnownIdsMatchJsTiktoken) {
  for (const auto& k : kKnown) {
    EXPECT_EQ(table(Encoding::cl100k_base).encode(k.text), k.cl100k) << k.text;
    EXPECT_EQ(table(Encoding::o200k_base).encode(k.text), k.o200k) << k.text;
  }
}

TEST(Tokenizer, EmptyText) {
  for (auto e : {Encoding::cl100k_base, Encoding::o200k_base}) {
    EXPECT_TRUE(table(e).encode("").empty());
    EXPECT_EQ(table(e).count(""), 0u);
  }
}

TEST(Tokenizer, CountEqualsEncodeSize) {
  std::mt19937 rng(7);
  const std::string alphabet[] = {"a", "Z", " ", "\n", "'s", "9", "é", "日", "😀", "!", "\t",
                                  "\xe2\x80\x8d", "ab", "   "};
  for (int round = 0; round < 200; ++round) {
    std::string text;
    int len = static_cast<int>(rng() % 300);
    for (int i = 0; i < len; ++i) text += alphabet[rng() % std::size(alphabet)];
    for (auto e : {Encoding::cl100k_base, Encoding::o200k_base}) {
      ASSERT_EQ(table(e).count(text), table(e).encode(text).size()) << text;
    }
  }
}

// Pieces over 256 bytes merge with a heap (equality with js-tiktoken on such pieces is in
// tests/integration/tokenizer.test.mjs); here: big ones, consistent and really merged.
TEST(Tokenizer, LongPiecesMerge) {
  std::string punct;  // one piece of 300 bytes
  for (int i = 0; i < 30; ++i) punct += "!@#$%^&*()";
  struct Expect {
    Encoding e;
    std::size_t size;
    uint64_t sum;
    Ids head;
  };
  // js-tiktoken: ids.length, the sum of the ids, the first 8.
  const Expect expected[] = {
      {Encoding::cl100k_base, 210, 2897670, {0, 31, 49177, 46999, 5, 9, 368, 0}},
      {Encoding::o200k_base, 210, 6506130, {0, 31, 108156, 108254, 5, 9, 416, 0}},
  };
  for (const auto& x : expected) {
    Ids ids = table(x.e).encode(punct);
    ASSERT_EQ(ids.size(), x.size);
    EXPECT_EQ(std::accumulate(ids.begin(), ids.end(), uint64_t{0}), x.sum);
    EXPECT_EQ(Ids(ids.begin(), ids.begin() + 8), x.head);
    EXPECT_EQ(table(x.e).count(punct), x.size);
  }
  // A megabyte-long piece stays fast (n log n, not quadratic) and really merges.
  std::string letters(1 << 20, 'a');
  auto started = std::chrono::steady_clock::now();
  std::size_t n = table(Encoding::cl100k_base).count(letters);
  EXPECT_LT(n, letters.size() / 3);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
}

TEST(Tokenizer, InvalidUtf8DoesNotCrashAndIsRepaired) {
  const std::string bad[] = {"\xff", "a\xc0\x80" "b", "\xed\xa0\x80", "\xf0\x9f\x98", "x\xe2\x82",
                             std::string("nul\0byte", 8), "\xf8\x88\x80\x80\x80"};
  for (auto e : {Encoding::cl100k_base, Encoding::o200k_base}) {
    for (const auto& s : bad) {
      Ids ids = table(e).encode(s);
      EXPECT_FALSE(ids.empty());
      EXPECT_EQ(ids, table(e).encode(utf8_repair(s))) << "the repaired text tokenizes the same";
      EXPECT_EQ(ids.size(), table(e).count(s));
    }
  }
  EXPECT_EQ(utf8_repair("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(utf8_repair("\xf0\x9f\x98"), "\xef\xbf\xbd");  // one maximal subpart, one U+FFFD
  EXPECT_EQ(utf8_repair("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_TRUE(utf8_valid("plain ascii text, long enough for the 8-byte path"));
  EXPECT_FALSE(utf8_valid("plain ascii text, long enough \x80 for the 8-byte path"));
}

TEST(Tokenizer, ThreadsShareOneTable) {
  std::string text = "Concurrent encoders share the immutable table: 日本語 😀 1234.";
  Ids expected = table(Encoding::o200k_base).encode(text);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (get(Encoding::o200k_base)->encode(text) != expected) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(get(Encoding::o200k_base), get(Encoding::o200k_base));
}

// The hand-written ASCII splitter against PCRE2 alone (TORII_TOKENIZER_PCRE_ONLY), on random
// text made of the patterns' edge cases: case changes, contractions, digit runs, space and
// newline runs, punctuation with '/' and newlines, and non-ASCII letters, digits and spaces
// right next to ASCII runs (where the splitter must hand over to PCRE2).
TEST(Tokenizer, AsciiSplitterAgreesWithPcre2) {
  const std::string dir = data_dir();
  const std::vector<std::string> ascii = {
      "a", "b", "Z", "Q", "'", "'s", "'S", "'ll", "'Re", "'l", "'r", "'ve", "'d", "'M", " ",
      "  ", "\t", "\n", "\r\n", "\v", "\f", "1", "23", "4567", "!", "?!", "/", "//", ".",
      "-", "_", "\x01", "\x7f", "\x1f"};
  const std::vector<std::string> other = {
      "é", "É", "ß", "٣", "²", "日", "😀", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8",
      "\xef\xbb\xbf", "\xcc\x81", "Ǆ", "ʰ", "\xc2\x85"};
  for (auto e : {Encoding::cl100k_base, Encoding::o200k_base}) {
    std::string file = dir + "/" + std::string(encoding_name(e)) + ".tiktoken";
    auto fast = Bpe::load(e, file);
    ::setenv("TORII_TOKENIZER_PCRE_ONLY", "1", 1);
    auto slow = Bpe::load(e, file);
    ::unsetenv("TORII_TOKENIZER_PCRE_ONLY");
    ASSERT_TRUE(fast && slow);
    std::mt19937 rng(e == Encoding::cl100k_base ? 1 : 2);
    for (int round = 0; round < 20000; ++round) {
      std::string text;
      int len = 1 + static_cast<int>(rng() % 24);
      bool ascii_only = rng() % 2 == 0;
      for (int i = 0; i < len; ++i) {
        std::size_t k = rng() % (ascii.size() + (ascii_only ? 0 : other.size()));
        text += k < ascii.size() ? ascii[k] : other[k - ascii.size()];
      }
      ASSERT_EQ((*fast)->encode(text), (*slow)->encode(text)) << "text: " << text;
    }
  }
}

TEST(Tokenizer, EncodingForModel) {
  auto o200k = std::optional<Encoding>(Encoding::o200k_base);
  auto cl100k = std::optional<Encoding>(Encoding::cl100k_base);
  for (const char* m : {"gpt-4o", "gpt-4o-mini", "openai/gpt-4o-2024-08-06", "gpt-4.1-nano",
                        "gpt-4.5-preview", "gpt-5", "gpt-5-mini", "o1", "o1-mini", "o3-pro",
                        "o4-mini", "chatgpt-4o-latest", "omni-moderation-latest",
                        "azure/eu/gpt-4o", "GPT-4o", "ft:gpt-4o-mini:acme::x1", "FT:GPT-4O:acme"}) {
    EXPECT_EQ(encoding_for_model(m), o200k) << m;
  }
  for (const char* m : {"gpt-4", "gpt-4-turbo", "gpt-4-0613", "gpt-3.5-turbo", "openai/gpt-4",
                        "text-embedding-3-small", "text-embedding-ada-002"}) {
    EXPECT_EQ(encoding_for_model(m), cl100k) << m;
  }
  for (const char* m : {"claude-sonnet-4", "anthropic/claude-3-5-haiku", "gemini-2.5-pro",
                        "mistral-large", "llama-3.1-70b", "mock/mock-1", "", "gpt", "o2",
                        "text-embedding-ada-001"}) {
    EXPECT_EQ(encoding_for_model(m), std::nullopt) << m;
  }
}

TEST(Tokenizer, EstimateUsesBpeOrBytesOverFour) {
  std::string text = "Hello, world! I'm they'll";  // 25 bytes
  EXPECT_EQ(estimate("gpt-4o", text), 6u);
  EXPECT_EQ(estimate("openai/gpt-4", text), 8u);
  EXPECT_EQ(estimate("claude-sonnet-4", text), 7u);  // ceil(25 / 4)
  EXPECT_EQ(estimate("mock/mock-1", "abcd"), 1u);
  EXPECT_EQ(estimate("mock/mock-1", "abcde"), 2u);
  EXPECT_EQ(estimate("mock/mock-1", ""), 0u);
}

TEST(Tokenizer, LoadErrorsAreValues) {
  auto missing = Bpe::load(Encoding::cl100k_base, "/nonexistent/cl100k_base.tiktoken");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos);
  EXPECT_EQ(parse_encoding("p50k_base"), std::nullopt);
  EXPECT_EQ(parse_encoding(encoding_name(Encoding::o200k_base)), Encoding::o200k_base);
}

}  // namespace
}  // namespace torii::tokenizer
