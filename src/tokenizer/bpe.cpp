// Bpe: loading a table, splitting with PCRE2 JIT, merging by rank.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <sstream>

#include "core/base64.h"
#include "core/log.h"
#include "tokenizer/ascii_split.h"
#include "tokenizer/rank_map.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace torii::tokenizer {

namespace {

// JavaScript's \s (WhiteSpace + LineTerminator). PCRE2's UCP \s lacks U+FEFF; js-tiktoken is the
// reference the tests compare with, so the pattern is given this set explicitly.
constexpr std::string_view kJsSpace =
    "\\t\\n\\x0b\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}"
    "\\x{3000}\\x{feff}";

// pat_str with every \s / \S replaced by the explicit set (inside a class: its members).
std::string with_js_space(std::string_view pat) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < pat.size(); ++i) {
    char c = pat[i];
    if (c == '\\' && i + 1 < pat.size()) {
      char d = pat[++i];
      if (d == 's') {
        out += in_class ? std::string(kJsSpace) : "[" + std::string(kJsSpace) + "]";
      } else if (d == 'S' && !in_class) {
        out += "[^" + std::string(kJsSpace) + "]";
      } else {
        out += c;
        out += d;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' first in a class (after an optional '^') is a literal.
      if (i + 1 < pat.size() && pat[i + 1] == '^') out += pat[++i];
      if (i + 1 < pat.size() && pat[i + 1] == ']') out += pat[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = std::move(ss).str();
  return true;
}

// Per thread: PCRE2 match data, a JIT stack large enough for long whitespace runs, and the
// scratch of the heap merge. Freed when the thread ends.
struct ThreadState {
  pcre2_match_data* md = pcre2_match_data_create(8, nullptr);
  pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  std::vector<uint32_t> next, prev, tok;
  std::string fixed;  // the U+FFFD-repaired copy of an invalid UTF-8 input

  ThreadState() { pcre2_jit_stack_assign(mctx, nullptr, stack); }
  ~ThreadState() {
    pcre2_match_data_free(md);
    pcre2_match_context_free(mctx);
    pcre2_jit_stack_free(stack);
  }
};

ThreadState& thread_state() {
  thread_local ThreadState state;
  return state;
}

// Pieces longer than this merge with a heap (n log n) instead of the quadratic scan, so that a
// megabyte of punctuation cannot stall a worker.
constexpr std::size_t kLinearMax = 256;

}  // namespace

struct Bpe::Impl {
  Encoding encoding;
  RankMap ranks;
  std::array<uint32_t, 256> byte_rank{};
  pcre2_code* code = nullptr;
  bool jit = false;
  SplitKind split = SplitKind::none;  // the ASCII fast path, when pat_str is a known one

  ~Impl() { pcre2_code_free(code); }

  // Calls emit(rank) for each token of text, in order.
  template <class Emit>
  void run(std::string_view text, Emit&& emit) const;
  template <class Emit>
  void merge_small(const uint8_t* p, std::size_t n, Emit& emit) const;
  template <class Emit>
  void merge_large(const uint8_t* p, std::size_t n, Emit& emit) const;
};

template <class Emit>
void Bpe::Impl::run(std::string_view text, Emit&& emit) const {
  ThreadState& ts = thread_state();
  if (!utf8_valid(text)) {
    ts.fixed = utf8_repair(text);
    text = ts.fixed;
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const std::size_t len = text.size();
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ts.md);
  std::size_t pos = 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  while (pos < len) {
    std::size_t start = pos, end = 0;
    if (split != SplitKind::none && bytes[pos] < 0x80) end = ascii_split(split, bytes, pos, len);
    if (end) {
      // matched by hand
    } else if (int rc = jit ? pcre2_jit_match(code, subject, len, pos, 0, ts.md, ts.mctx)
                            : pcre2_match(code, subject, len, pos, PCRE2_NO_UTF_CHECK, ts.md,
                                          ts.mctx);
               rc >= 0) {
      start = ov[0];
      end = ov[1];
      if (end <= start) end = start + utf8_char_len(text, start);  // never loop on an empty match
    } else if (rc == PCRE2_ERROR_NOMATCH) {
      break;  // the rest matches no alternative: dropped, as tiktoken's find_iter does
    } else {
      // Resource limits only (the JIT stack): take one character and go on.
      static std::atomic<bool> logged{false};
      if (!logged.exchange(true)) {
        log::warn("tokenizer: PCRE2 match error {} at byte {}; splitting per character", rc, pos);
      }
      start = pos;
      end = pos + utf8_char_len(text, pos);
    }
    const uint8_t* p = bytes + start;
    std::size_t n = end - start;
    pos = end;
    if (n == 1) {
      emit(byte_rank[p[0]]);
      continue;
    }
    uint32_t whole = ranks.find(p, n);
    if (whole != RankMap::kNone) {
      emit(whole);
    } else if (n <= kLinearMax) {
      merge_small(p, n, emit);
    } else {
      merge_large(p, n, emit);
    }
  }
  if (ts.fixed.capacity() > (1u << 20)) std::string().swap(ts.fixed);  // no big buffer kept
}

// tiktoken's merge: repeatedly join the adjacent pair whose concatenation has the lowest rank
// (the leftmost on a tie) until no pair is in the table. part[i].pair is the rank of part i
// joined with part i+1; part[i].tok the rank of part i itself (every byte has one).
template <class Emit>
void Bpe::Impl::merge_small(const uint8_t* p, std::size_t n, Emit& emit) const {
  struct Part {
    uint32_t start, pair, tok;
  };
  Part parts[kLinearMax + 1];
  auto pair_rank = [&](std::size_t from, std::size_t to) { return ranks.find(p + from, to - from); };
  for (std::size_t i = 0; i < n; ++i) {
    parts[i] = {static_cast<uint32_t>(i), i + 2 <= n ? pair_rank(i, i + 2) : RankMap::kNone,
                byte_rank[p[i]]};
  }
  parts[n] = {static_cast<uint32_t>(n), RankMap::kNone, RankMap::kNone};
  std::size_t count = n + 1;  // parts, including the end sentinel
  while (count > 2) {
    uint32_t best = RankMap::kNone;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < count; ++i) {
      if (parts[i].pair < best) {
        best = parts[i].pair;
        at = i;
      }
    }
    if (best == RankMap::kNone) break;
    parts[at].tok = best;
    std::copy(parts + at + 2, parts + count, parts + at + 1);
    --count;
    parts[at].pair = at + 2 < count ? pair_rank(parts[at].start, parts[at + 2].start) : RankMap::kNone;
    if (at > 0) parts[at - 1].pair = pair_rank(parts[at - 1].start, parts[at + 1].start);
  }
  for (std::size_t i = 0; i + 1 < count; ++i) emit(parts[i].tok);
}

// The same merge with a min-heap of candidate pairs {rank, left start, end}; an entry is stale
// when its left part died or the two parts no longer end at `end`. Ties pop leftmost first, as
// the scan picks them.
template <class Emit>
void Bpe::Impl::merge_large(const uint8_t* p, std::size_t n, Emit& emit) const {
  struct Cand {
    uint32_t rank, left, end;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  ThreadState& ts = thread_state();
  auto& next = ts.next;  // start of the following part (n: none); kDead: merged away
  auto& prev = ts.prev;
  auto& tok = ts.tok;
  constexpr uint32_t kDead = UINT32_MAX;
  next.resize(n);
  prev.resize(n);
  tok.resize(n);
  std::vector<Cand> heap;
  heap.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint32_t>(i + 1);
    prev[i] = i == 0 ? kDead : static_cast<uint32_t>(i - 1);
    tok[i] = byte_rank[p[i]];
    if (i + 2 <= n) {
      uint32_t r = ranks.find(p + i, 2);
      if (r != RankMap::kNone) heap.push_back({r, static_cast<uint32_t>(i), static_cast<uint32_t>(i + 2)});
    }
  }
  std::greater<Cand> cmp;
  std::make_heap(heap.begin(), heap.end(), cmp);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), cmp);
    Cand c = heap.back();
    heap.pop_back();
    uint32_t l = c.left;
    if (next[l] == kDead || next[l] >= n || next[next[l]] != c.end) continue;
    uint32_t r = next[l];
    tok[l] = c.rank;
    next[l] = c.end;
    next[r] = kDead;
    if (c.end < n) prev[c.end] = l;
    if (prev[l] != kDead) {
      uint32_t pl = prev[l];
      uint32_t rk = ranks.find(p + pl, c.end - pl);
      if (rk != RankMap::kNone) {
        heap.push_back({rk, pl, c.end});
        std::push_heap(heap.begin(), heap.end(), cmp);
      }
    }
    if (c.end < n) {
      uint32_t e2 = next[c.end];
      uint32_t rk = ranks.find(p + l, e2 - l);
      if (rk != RankMap::kNone) {
        heap.push_back({rk, l, e2});
        std::push_heap(heap.begin(), heap.end(), cmp);
      }
    }
  }
  for (uint32_t i = 0; i < n; i = next[i]) emit(tok[i]);
  if (n > (1u << 16)) {  // a huge piece must not pin 12 bytes per byte of it in every thread
    std::vector<uint32_t>().swap(next);
    std::vector<uint32_t>().swap(prev);
    std::vector<uint32_t>().swap(tok);
  }
}

Bpe::Bpe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Bpe::~Bpe() = default;

Encoding Bpe::encoding() const { return impl_->encoding; }
std::size_t Bpe::vocabulary_size() const { return impl_->ranks.size(); }

std::vector<uint32_t> Bpe::encode(std::string_view text) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3 + 4);
  impl_->run(text, [&out](uint32_t rank) { out.push_back(rank); });
  return out;
}

std::size_t Bpe::count(std::string_view text) const {
  std::size_t n = 0;
  impl_->run(text, [&n](uint32_t) { ++n; });
  return n;
}

Result<std::unique_ptr<Bpe>> Bpe::load(Encoding e, const std::string& file) {
  auto fail = [&](const std::string& why) {
    return ApiError::internal("tokenizer " + std::string(encoding_name(e)) + ": " + why);
  };
  std::string table;
  if (!read_file(file, table)) return fail("cannot read " + file);
  std::string json_path = file;
  if (auto dot = json_path.rfind('.'); dot != std::string::npos && json_path.find('/', dot) == std::string::npos) {
    json_path.resize(dot);
  }
  json_path += ".json";
  std::string json_text;
  if (!read_file(json_path, json_text)) return fail("cannot read " + json_path);

  std::string pat;
  try {
    boost::json::value meta = boost::json::parse(json_text);
    pat = std::string(meta.at("pat_str").as_string());
  } catch (const std::exception&) {
    return fail(json_path + ": no \"pat_str\" string");
  }

  auto impl = std::make_unique<Impl>();
  impl->encoding = e;
  std::vector<std::string> tokens;
  std::string bytes;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < table.size();) {
    std::size_t eol = table.find('\n', at);
    if (eol == std::string::npos) eol = table.size();
    std::string_view line(table.data() + at, eol - at);
    at = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::size_t sp = line.find(' ');
    uint32_t rank = 0;
    bool ok = sp != std::string_view::npos && sp + 1 < line.size();
    for (std::size_t i = sp + 1; ok && i < line.size(); ++i) {
      ok = line[i] >= '0' && line[i] <= '9' && rank < 100'000'000;
      rank = rank * 10 + static_cast<uint32_t>(line[i] - '0');
    }
    if (!ok || !base64_decode(line.substr(0, sp), bytes) || bytes.empty()) {
      return fail(file + ":" + std::to_string(line_no) + ": expected \"<base64> <rank>\"");
    }
    if (rank >= tokens.size()) tokens.resize(rank + 1);
    tokens[rank] = bytes;
  }
  impl->ranks.build(tokens);
  for (int b = 0; b < 256; ++b) {
    auto c = static_cast<uint8_t>(b);
    impl->byte_rank[b] = impl->ranks.find(&c, 1);
    if (impl->byte_rank[b] == RankMap::kNone) return fail(file + ": no rank for byte " + std::to_string(b));
  }

  std::string pattern = with_js_space(pat);
  int err = 0;
  PCRE2_SIZE err_at = 0;
  impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_at, nullptr);
  if (!impl->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return fail("pat_str does not compile at " + std::to_string(err_at) + ": " +
                reinterpret_cast<const char*>(msg));
  }
  impl->jit = pcre2_jit_compile(impl->code, PCRE2_JIT_COMPLETE) == 0;
  // TORII_TOKENIZER_PCRE_ONLY=1: every piece through PCRE2 (to compare, or to rule it out).
  const char* pcre_only = std::getenv("TORII_TOKENIZER_PCRE_ONLY");
  if (!(pcre_only && *pcre_only && *pcre_only != '0')) {
    impl->split = pat == kCl100kPattern ? SplitKind::cl100k
                  : pat == kO200kPattern ? SplitKind::o200k : SplitKind::none;
  }
  if (!impl->jit) log::warn("tokenizer {}: PCRE2 JIT unavailable, matching is slower", encoding_name(e));
  return std::unique_ptr<Bpe>(new Bpe(std::move(impl)));
}

}  // namespace torii::tokenizer
