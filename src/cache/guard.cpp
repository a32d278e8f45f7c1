// The false-hit guard (guard.h): both prompts are read into the same features, then compared.
// The word tables are English; text in other languages passes through (only numbers, quotes
// and entities written as acronyms or with digits are then compared).
#include "cache/guard.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace torii::cache {

namespace {

// ---- Polarity: axes with two poles ------------------------------------------------------------

enum Axis : uint8_t {
  kState, kAmount, kMembership, kPermission, kTime, kRun, kCrypt, kCode, kCompress, kLock,
  kTrade, kTruth, kSession, kTransfer, kPort, kInstall, kConnect, kSubscribe, kStay, kBooking,
  kCase, kSort, kWeight, kMoney, kSign, kOutcome, kAffirm, kRecency, kGit, kFollow, kMount,
  kAxes
};

// An axis whose positive pole is what a request naming neither pole means ("set up 2FA" is
// "enable 2FA", never "disable 2FA"). On the other axes (before/after, buy/sell, ...) naming
// a pole against naming none is a difference.
constexpr std::array<bool, kAxes> kDefaultPositive = {
    true,  true,  true,  true,  false, true,  false, false, false, false, false,
    false, true,  false, false, true,  true,  true,  false, true,  false, false,
    false, false, false, true,  true,  false, false, true,  true};

constexpr uint8_t kPos = 1, kNeg = 2;

struct PolarWord {
  std::string_view word;
  Axis axis;
  uint8_t pole;
  bool inflects;  // also matches -s, -es, -ed, -ing forms (verbs)
};

constexpr PolarWord kPolar[] = {
    {"enable", kState, kPos, true}, {"activate", kState, kPos, true},
    {"unmute", kState, kPos, true}, {"disable", kState, kNeg, true},
    {"deactivate", kState, kNeg, true}, {"mute", kState, kNeg, true},
    {"off", kState, kNeg, false},

    {"increase", kAmount, kPos, true}, {"raise", kAmount, kPos, true},
    {"more", kAmount, kPos, false}, {"most", kAmount, kPos, false},
    {"higher", kAmount, kPos, false}, {"highest", kAmount, kPos, false},
    {"above", kAmount, kPos, false}, {"max", kAmount, kPos, false},
    {"maximum", kAmount, kPos, false}, {"maximize", kAmount, kPos, true},
    {"maximise", kAmount, kPos, true}, {"bigger", kAmount, kPos, false},
    {"biggest", kAmount, kPos, false}, {"larger", kAmount, kPos, false},
    {"largest", kAmount, kPos, false}, {"greater", kAmount, kPos, false},
    {"greatest", kAmount, kPos, false}, {"boost", kAmount, kPos, true},
    {"grow", kAmount, kPos, true}, {"decrease", kAmount, kNeg, true},
    {"reduce", kAmount, kNeg, true}, {"lower", kAmount, kNeg, true},
    {"lowest", kAmount, kNeg, false}, {"less", kAmount, kNeg, false},
    {"least", kAmount, kNeg, false}, {"fewer", kAmount, kNeg, false},
    {"fewest", kAmount, kNeg, false}, {"below", kAmount, kNeg, false},
    {"min", kAmount, kNeg, false}, {"minimum", kAmount, kNeg, false},
    {"minimize", kAmount, kNeg, true}, {"minimise", kAmount, kNeg, true},
    {"smaller", kAmount, kNeg, false}, {"smallest", kAmount, kNeg, false},
    {"shrink", kAmount, kNeg, true},

    {"add", kMembership, kPos, true}, {"insert", kMembership, kPos, true},
    {"include", kMembership, kPos, true}, {"attach", kMembership, kPos, true},
    {"append", kMembership, kPos, true}, {"create", kMembership, kPos, true},
    {"remove", kMembership, kNeg, true}, {"delete", kMembership, kNeg, true},
    {"exclude", kMembership, kNeg, true}, {"detach", kMembership, kNeg, true},
    {"drop", kMembership, kNeg, true}, {"erase", kMembership, kNeg, true},
    {"unset", kMembership, kNeg, false},

    {"allow", kPermission, kPos, true}, {"permit", kPermission, kPos, true},
    {"accept", kPermission, kPos, true}, {"approve", kPermission, kPos, true},
    {"grant", kPermission, kPos, true}, {"whitelist", kPermission, kPos, true},
    {"allowlist", kPermission, kPos, true}, {"unblock", kPermission, kPos, true},
    {"deny", kPermission, kNeg, true}, {"block", kPermission, kNeg, true},
    {"reject", kPermission, kNeg, true}, {"forbid", kPermission, kNeg, true},
    {"forbidden", kPermission, kNeg, false}, {"refuse", kPermission, kNeg, true},
    {"ban", kPermission, kNeg, true}, {"decline", kPermission, kNeg, true},
    {"revoke", kPermission, kNeg, true}, {"blacklist", kPermission, kNeg, true},
    {"blocklist", kPermission, kNeg, true}, {"prevent", kPermission, kNeg, true},
    {"disallow", kPermission, kNeg, true},

    {"before", kTime, kPos, false}, {"earlier", kTime, kPos, false},
    {"prior", kTime, kPos, false}, {"after", kTime, kNeg, false},
    {"later", kTime, kNeg, false}, {"afterwards", kTime, kNeg, false},

    {"start", kRun, kPos, true}, {"begin", kRun, kPos, true}, {"began", kRun, kPos, false},
    {"open", kRun, kPos, true}, {"launch", kRun, kPos, true}, {"resume", kRun, kPos, true},
    {"boot", kRun, kPos, true}, {"startup", kRun, kPos, false}, {"stop", kRun, kNeg, true},
    {"end", kRun, kNeg, true}, {"close", kRun, kNeg, true}, {"quit", kRun, kNeg, true},
    {"exit", kRun, kNeg, true}, {"pause", kRun, kNeg, true}, {"halt", kRun, kNeg, true},
    {"terminate", kRun, kNeg, true}, {"kill", kRun, kNeg, true},
    {"finish", kRun, kNeg, true}, {"shutdown", kRun, kNeg, false},

    {"encrypt", kCrypt, kPos, true}, {"encryption", kCrypt, kPos, false},
    {"decrypt", kCrypt, kNeg, true}, {"decryption", kCrypt, kNeg, false},
    {"encode", kCode, kPos, true}, {"serialize", kCode, kPos, true},
    {"decode", kCode, kNeg, true}, {"deserialize", kCode, kNeg, true},
    {"compress", kCompress, kPos, true}, {"zip", kCompress, kPos, true},
    {"decompress", kCompress, kNeg, true}, {"unzip", kCompress, kNeg, true},
    {"lock", kLock, kPos, true}, {"unlock", kLock, kNeg, true},
    {"buy", kTrade, kPos, true}, {"purchase", kTrade, kPos, true},
    {"bought", kTrade, kPos, false}, {"sell", kTrade, kNeg, true}, {"sold", kTrade, kNeg, false},
    {"true", kTruth, kPos, false}, {"false", kTruth, kNeg, false},

    {"login", kSession, kPos, true}, {"log-in", kSession, kPos, false},
    {"logon", kSession, kPos, false}, {"signin", kSession, kPos, false},
    {"sign-in", kSession, kPos, false}, {"logout", kSession, kNeg, true},
    {"log-out", kSession, kNeg, false}, {"logoff", kSession, kNeg, false},
    {"signout", kSession, kNeg, false}, {"sign-out", kSession, kNeg, false},

    {"upload", kTransfer, kPos, true}, {"download", kTransfer, kNeg, true},
    {"import", kPort, kPos, true}, {"export", kPort, kNeg, true},
    {"install", kInstall, kPos, true}, {"installation", kInstall, kPos, false},
    {"uninstall", kInstall, kNeg, true},
    {"connect", kConnect, kPos, true}, {"disconnect", kConnect, kNeg, true},
    {"subscribe", kSubscribe, kPos, true}, {"signup", kSubscribe, kPos, false},
    {"sign-up", kSubscribe, kPos, false}, {"opt-in", kSubscribe, kPos, false},
    {"unsubscribe", kSubscribe, kNeg, true}, {"opt-out", kSubscribe, kNeg, false},
    {"checkin", kStay, kPos, false}, {"check-in", kStay, kPos, false},
    {"checkout", kStay, kNeg, false}, {"check-out", kStay, kNeg, false},
    {"book", kBooking, kPos, true}, {"reserve", kBooking, kPos, true},
    {"cancel", kBooking, kNeg, true}, {"cancellation", kBooking, kNeg, false},

    {"uppercase", kCase, kPos, false}, {"upper-case", kCase, kPos, false},
    {"capitalize", kCase, kPos, true}, {"capitalise", kCase, kPos, true},
    {"lowercase", kCase, kNeg, false}, {"lower-case", kCase, kNeg, false},
    {"ascending", kSort, kPos, false}, {"asc", kSort, kPos, false},
    {"descending", kSort, kNeg, false}, {"desc", kSort, kNeg, false},
    {"gain", kWeight, kPos, true}, {"lose", kWeight, kNeg, true}, {"loss", kWeight, kNeg, false},
    {"deposit", kMoney, kPos, true}, {"credit", kMoney, kPos, true},
    {"withdraw", kMoney, kNeg, true}, {"withdrawal", kMoney, kNeg, false},
    {"debit", kMoney, kNeg, true},
    {"positive", kSign, kPos, false}, {"negative", kSign, kNeg, false},
    {"success", kOutcome, kPos, false}, {"successful", kOutcome, kPos, false},
    {"succeed", kOutcome, kPos, true}, {"fail", kOutcome, kNeg, true},
    {"failure", kOutcome, kNeg, false},

    {"valid", kAffirm, kPos, false}, {"correct", kAffirm, kPos, false},
    {"legal", kAffirm, kPos, false}, {"available", kAffirm, kPos, false},
    {"possible", kAffirm, kPos, false}, {"safe", kAffirm, kPos, false},
    {"supported", kAffirm, kPos, false}, {"secure", kAffirm, kPos, false},
    {"invalid", kAffirm, kNeg, false}, {"incorrect", kAffirm, kNeg, false},
    {"illegal", kAffirm, kNeg, false}, {"wrong", kAffirm, kNeg, false},
    {"unavailable", kAffirm, kNeg, false}, {"impossible", kAffirm, kNeg, false},
    {"unsafe", kAffirm, kNeg, false}, {"unsupported", kAffirm, kNeg, false},
    {"insecure", kAffirm, kNeg, false}, {"unable", kAffirm, kNeg, false},

    {"next", kRecency, kPos, false}, {"upcoming", kRecency, kPos, false},
    {"tomorrow", kRecency, kPos, false}, {"future", kRecency, kPos, false},
    {"last", kRecency, kNeg, false}, {"previous", kRecency, kNeg, false},
    {"yesterday", kRecency, kNeg, false}, {"past", kRecency, kNeg, false},
    {"ago", kRecency, kNeg, false},
    {"push", kGit, kPos, true}, {"pull", kGit, kNeg, true},
    {"follow", kFollow, kPos, true}, {"unfollow", kFollow, kNeg, true},
    {"mount", kMount, kPos, true}, {"unmount", kMount, kNeg, true},
};

// Phrasal verbs: a particle with one of these verbs at most 4 words before it, in one sentence.
struct Phrasal {
  std::string_view verb, particle;
  Axis axis;
  uint8_t pole;
};

constexpr Phrasal kPhrasal[] = {
    {"turn", "on", kState, kPos},     {"switch", "on", kState, kPos},
    {"power", "on", kState, kPos},    {"turn", "off", kState, kNeg},
    {"switch", "off", kState, kNeg},  {"power", "off", kState, kNeg},
    {"turn", "up", kAmount, kPos},    {"scale", "up", kAmount, kPos},
    {"speed", "up", kAmount, kPos},   {"turn", "down", kAmount, kNeg},
    {"scale", "down", kAmount, kNeg}, {"slow", "down", kAmount, kNeg},
    {"boot", "up", kRun, kPos},       {"start", "up", kRun, kPos},
    {"power", "up", kRun, kPos},      {"shut", "down", kRun, kNeg},
    {"power", "down", kRun, kNeg},    {"log", "in", kSession, kPos},
    {"log", "into", kSession, kPos},  {"sign", "in", kSession, kPos},
    {"sign", "into", kSession, kPos}, {"log", "out", kSession, kNeg},
    {"sign", "out", kSession, kNeg},  {"sign", "up", kSubscribe, kPos},
    {"opt", "in", kSubscribe, kPos},  {"opt", "out", kSubscribe, kNeg},
    {"check", "in", kStay, kPos},     {"check", "out", kStay, kNeg},
};

// ---- Word lists ------------------------------------------------------------------------------

constexpr std::string_view kNegations[] = {
    "not",     "no",      "never",   "none",     "nobody",   "nothing",  "neither", "nor",
    "without", "cannot",  "nowhere", "noone",    "dont",     "doesnt",   "didnt",   "isnt",
    "arent",   "wasnt",   "werent",  "cant",     "couldnt",  "shouldnt", "wouldnt", "wont",
    "hasnt",   "havent",  "hadnt",   "mustnt",   "neednt",   "aint"};

// Words that often open a sentence: capitalised there, they are not taken for names.
constexpr std::string_view kCommon[] = {
    "a", "about", "actually", "add", "after", "again", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "before", "best", "book", "build", "but", "by", "calculate",
    "can", "cancel", "change", "check", "compare", "compute", "convert", "could", "create",
    "define", "delete", "describe", "did", "disable", "do", "does", "draft", "each", "edit",
    "enable", "every", "explain", "find", "fix", "for", "from", "generate", "get", "give", "go",
    "good", "great", "has", "have", "hello", "help", "here", "hey", "hi", "how", "i", "if", "in",
    "install", "is", "it", "its", "just", "let", "list", "look", "make", "many", "may", "me",
    "might", "more", "most", "much", "must", "my", "need", "new", "next", "no", "not", "now",
    "of", "ok", "okay", "on", "once", "one", "only", "or", "our", "outline", "please", "provide",
    "quick", "quickly", "read", "recommend", "remove", "rename", "reset", "return", "rewrite",
    "run", "say", "search", "send", "set", "should", "show", "so", "some", "sort", "start",
    "stop", "suggest", "summarise", "summarize", "sure", "take", "teach", "tell", "thank",
    "thanks", "that", "the", "their", "then", "there", "these", "they", "this", "those", "to",
    "translate", "try", "turn", "update", "use", "using", "very", "want", "was", "we", "well",
    "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will",
    "with", "would", "write", "yes", "you", "your"};

// Lower-case tokens that are never names, even in capitals.
constexpr std::string_view kNotEntities[] = {"i",   "i'm", "i've", "i'd", "i'll", "ok", "am",
                                             "pm",  "e.g", "i.e",  "etc", "a.m",  "p.m"};

// Unit suffixes of a number ("10km", "5pm", "4K"): the token is a number, not a name.
constexpr std::string_view kUnits[] = {
    "k",  "m",  "b",   "bn", "km",  "kg",  "g",   "mg",  "lb", "lbs", "oz",  "ml",  "l",
    "cl", "cm", "mm",  "ms", "s",   "sec", "secs", "min", "mins", "h",  "hr",  "hrs", "d",
    "x",  "gb", "mb",  "kb", "tb",  "am",  "pm",  "px",  "pt",  "em", "rem", "mph", "kph",
    "kw", "w",  "v",   "hz", "khz", "mhz", "ghz", "yr",  "yrs", "f",  "c",   "st",  "nd",
    "rd", "th", "usd", "eur"};

struct NumberWord {
  std::string_view word;
  int64_t value;
  enum Kind : uint8_t { unit, tens, hundred, scale, ordinal } kind;
};

constexpr NumberWord kNumberWords[] = {
    {"zero", 0, NumberWord::unit},         {"one", 1, NumberWord::unit},
    {"two", 2, NumberWord::unit},          {"three", 3, NumberWord::unit},
    {"four", 4, NumberWord::unit},         {"five", 5, NumberWord::unit},
    {"six", 6, NumberWord::unit},          {"seven", 7, NumberWord::unit},
    {"eight", 8, NumberWord::unit},        {"nine", 9, NumberWord::unit},
    {"ten", 10, NumberWord::unit},         {"eleven", 11, NumberWord::unit},
    {"twelve", 12, NumberWord::unit},      {"thirteen", 13, NumberWord::unit},
    {"fourteen", 14, NumberWord::unit},    {"fifteen", 15, NumberWord::unit},
    {"sixteen", 16, NumberWord::unit},     {"seventeen", 17, NumberWord::unit},
    {"eighteen", 18, NumberWord::unit},    {"nineteen", 19, NumberWord::unit},
    {"twenty", 20, NumberWord::tens},      {"thirty", 30, NumberWord::tens},
    {"forty", 40, NumberWord::tens},       {"fifty", 50, NumberWord::tens},
    {"sixty", 60, NumberWord::tens},       {"seventy", 70, NumberWord::tens},
    {"eighty", 80, NumberWord::tens},      {"ninety", 90, NumberWord::tens},
    {"hundred", 100, NumberWord::hundred}, {"dozen", 12, NumberWord::hundred},
    {"thousand", 1000, NumberWord::scale}, {"million", 1000000, NumberWord::scale},
    {"billion", 1000000000, NumberWord::scale},
    {"first", 1, NumberWord::ordinal},     {"second", 2, NumberWord::ordinal},
    {"third", 3, NumberWord::ordinal},     {"fourth", 4, NumberWord::ordinal},
    {"fifth", 5, NumberWord::ordinal},     {"sixth", 6, NumberWord::ordinal},
    {"seventh", 7, NumberWord::ordinal},   {"eighth", 8, NumberWord::ordinal},
    {"ninth", 9, NumberWord::ordinal},     {"tenth", 10, NumberWord::ordinal},
    {"eleventh", 11, NumberWord::ordinal}, {"twelfth", 12, NumberWord::ordinal},
    {"twentieth", 20, NumberWord::ordinal}};

// "one" is a pronoun after these words ("which one", "no one") and before "of"/"another".
constexpr std::string_view kOneIsPronounAfter[] = {"this", "that", "which", "the", "any", "each",
                                                   "every", "no", "some", "another", "every"};

// The lookup tables, built once.
struct Tables {
  std::unordered_map<std::string_view, const PolarWord*> polar;
  std::unordered_map<std::string_view, const NumberWord*> numbers;
  std::unordered_set<std::string_view> negations, common, not_entities, units;

  Tables() {
    for (const auto& p : kPolar) polar.emplace(p.word, &p);
    for (const auto& n : kNumberWords) numbers.emplace(n.word, &n);
    negations.insert(std::begin(kNegations), std::end(kNegations));
    common.insert(std::begin(kCommon), std::end(kCommon));
    not_entities.insert(std::begin(kNotEntities), std::end(kNotEntities));
    units.insert(std::begin(kUnits), std::end(kUnits));
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

// ---- Text scanning ---------------------------------------------------------------------------

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c + 32) : c; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// The length of the UTF-8 punctuation at `s[i]` (quotes, dashes, bullets, ellipsis, NBSP), or 0.
std::size_t unicode_punct(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  if (i + 1 < s.size() && b(i) == 0xC2 &&
      (b(i + 1) == 0xA0 || b(i + 1) == 0xAB || b(i + 1) == 0xBB))
    return 2;
  if (i + 2 < s.size() && b(i) == 0xE2 && b(i + 1) == 0x80) return 3;  // U+2000..U+203F
  return 0;
}

// A byte that belongs to a word: ASCII letters and digits, and UTF-8 outside punctuation.
bool word_byte(std::string_view s, std::size_t i) {
  const char c = s[i];
  if (is_ascii_alpha(c) || is_digit(c)) return true;
  return static_cast<unsigned char>(c) >= 0x80 && unicode_punct(s, i) == 0;
}

// Removes quoted spans from `text` into `quoted` (their inner text, exactly); the rest keeps
// a space where each span was.
std::string extract_quotes(std::string_view text, std::vector<std::string>& quoted) {
  static constexpr std::string_view kOpenDouble = "\xE2\x80\x9C", kCloseDouble = "\xE2\x80\x9D",
                                    kOpenSingle = "\xE2\x80\x98", kCloseSingle = "\xE2\x80\x99",
                                    kOpenGuil = "\xC2\xAB", kCloseGuil = "\xC2\xBB";
  std::string rest;
  rest.reserve(text.size());
  std::size_t i = 0;
  auto take = [&](std::size_t open_len, std::size_t close_at, std::size_t close_len) {
    quoted.emplace_back(text.substr(i + open_len, close_at - i - open_len));
    rest += ' ';
    i = close_at + close_len;
  };
  while (i < text.size()) {
    const std::string_view at = text.substr(i);
    std::size_t close = std::string_view::npos;
    if (at.starts_with("```")) {
      if ((close = text.find("```", i + 3)) != std::string_view::npos) {
        take(3, close, 3);
        continue;
      }
    } else if (at[0] == '"' || at[0] == '`') {
      if ((close = text.find(at[0], i + 1)) != std::string_view::npos) {
        take(1, close, 1);
        continue;
      }
    } else if (at.starts_with(kOpenDouble) || at.starts_with(kOpenGuil)) {
      const std::string_view closing = at.starts_with(kOpenDouble) ? kCloseDouble : kCloseGuil;
      const std::size_t open_len = at.starts_with(kOpenDouble) ? 3 : 2;
      if ((close = text.find(closing, i + open_len)) != std::string_view::npos) {
        take(open_len, close, closing.size());
        continue;
      }
    } else if (at[0] == '\'' || at.starts_with(kOpenSingle)) {
      // A single quote opens only at a word's start; it closes at a quote that ends a word
      // (the apostrophes of "don't" and "users'" are neither).
      const bool curly = at[0] != '\'';
      const std::size_t open_len = curly ? 3 : 1;
      const bool opens = curly || i == 0 || is_space(text[i - 1]) ||
                         std::string_view("([{").find(text[i - 1]) != std::string_view::npos;
      if (opens && i + open_len < text.size() && !is_space(text[i + open_len])) {
        for (std::size_t j = i + open_len + 1; j < text.size(); ++j) {
          const bool straight = text[j] == '\'';
          const bool curly_close = text.substr(j).starts_with(kCloseSingle);
          if (!straight && !curly_close) continue;
          const std::size_t len = straight ? 1 : 3;
          const bool after_word = !is_space(text[j - 1]);
          const bool ends = j + len >= text.size() || !word_byte(text, j + len);
          if (after_word && ends) {
            close = j;
            break;
          }
        }
        if (close != std::string_view::npos) {
          take(open_len, close, text[close] == '\'' ? 1 : 3);
          continue;
        }
      }
    }
    rest += text[i++];
  }
  return rest;
}

struct Token {
  std::string lower;  // ASCII lower-cased, curly apostrophe as '
  std::string_view raw;
  bool sentence_start = false;
};

// Splits into words. Inside a word: ' and ’ between letters, - _ . between letters or digits,
// and "," before three digits in a number ("1,000").
std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  bool sentence_start = true;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!word_byte(s, i)) {
      const char c = s[i];
      if (c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == '\n')
        sentence_start = true;
      if (const std::size_t u = unicode_punct(s, i)) {
        if (u == 3 && static_cast<unsigned char>(s[i + 2]) == 0xA6) sentence_start = true;  // …
        i += u;
      } else {
        ++i;
      }
      continue;
    }
    const std::size_t start = i;
    Token t;
    while (i < s.size()) {
      if (word_byte(s, i)) {
        t.lower += to_lower(s[i]);
        ++i;
        continue;
      }
      const char c = s[i];
      const bool prev_alnum = is_ascii_alpha(s[i - 1]) || is_digit(s[i - 1]);
      if ((c == '-' || c == '_' || c == '.' || c == '\'') && prev_alnum && i + 1 < s.size() &&
          (is_ascii_alpha(s[i + 1]) || is_digit(s[i + 1]))) {
        t.lower += c;
        ++i;
        continue;
      }
      if (c == ',' && is_digit(s[i - 1]) && i + 3 < s.size() && is_digit(s[i + 1]) &&
          is_digit(s[i + 2]) && is_digit(s[i + 3]) && (i + 4 >= s.size() || !is_digit(s[i + 4]))) {
        t.lower += c;
        ++i;
        continue;
      }
      if (s.substr(i).starts_with("\xE2\x80\x99") && is_ascii_alpha(s[i - 1]) && i + 3 < s.size() &&
          is_ascii_alpha(s[i + 3])) {
        t.lower += '\'';
        i += 3;
        continue;
      }
      break;
    }
    t.raw = s.substr(start, i - start);
    t.sentence_start = sentence_start;
    sentence_start = false;
    out.push_back(std::move(t));
  }
  return out;
}

// ---- Features --------------------------------------------------------------------------------

struct Features {
  int negations = 0;
  std::array<uint8_t, kAxes> poles{};
  std::vector<std::string> numbers;    // normalised, sorted
  std::vector<std::string> entities;   // lower case: names, acronyms, identifiers
  std::vector<std::string> maybe;      // capitalised words opening a sentence
  std::unordered_set<std::string> words;  // every word, lower case (names are matched there)
  std::vector<std::string> quoted;     // sorted, unique
};

// `w` and its de-inflected stems ("enabled" → enable, "stopping" → stop, "adds" → add).
const PolarWord* polar_word(std::string_view w) {
  const auto& t = tables().polar;
  if (auto it = t.find(w); it != t.end()) return it->second;
  auto inflected = [&](std::string_view stem) -> const PolarWord* {
    auto it = t.find(stem);
    return it != t.end() && it->second->inflects ? it->second : nullptr;
  };
  std::array<std::string, 4> stems;
  std::size_t n = 0;
  auto strip = [&](std::string_view suffix, std::string_view add) {
    if (w.size() > suffix.size() + 1 && w.ends_with(suffix))
      stems[n++] = std::string(w.substr(0, w.size() - suffix.size())) + std::string(add);
  };
  if (w.ends_with("ing")) {
    strip("ing", "");
    strip("ing", "e");
  } else if (w.ends_with("ed")) {
    strip("ed", "");
    strip("d", "");
  } else if (w.ends_with("s")) {
    strip("s", "");
    strip("es", "");
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (auto p = inflected(stems[k])) return p;
    // A doubled final consonant: "stopped", "dropping", "cancelled".
    const std::string& s = stems[k];
    if (s.size() > 2 && s.back() == s[s.size() - 2])
      if (auto p = inflected(std::string_view(s).substr(0, s.size() - 1))) return p;
  }
  return nullptr;
}

std::string_view phrasal_verb_stem(std::string_view w) {
  for (const Phrasal& p : kPhrasal) {
    if (w == p.verb) return p.verb;
    if (w.starts_with(p.verb)) {
      std::string_view rest = w.substr(p.verb.size());
      if (rest.size() > 2 && rest[0] == p.verb.back()) rest.remove_prefix(1);  // "logged"
      if (rest == "s" || rest == "es" || rest == "ed" || rest == "ing" || rest == "d")
        return p.verb;
    }
  }
  return {};
}

// A digit run "1,000.50" → "1000.5"; versions with several dots ("1.2.3") stay as written.
std::string normalise_digits(std::string_view d) {
  std::string s;
  for (char c : d)
    if (c != ',') s += c;
  if (std::count(s.begin(), s.end(), '.') > 1) return s;
  std::size_t dot = s.find('.');
  if (dot != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  std::size_t lead = 0;
  while (lead + 1 < s.size() && s[lead] == '0' && s[lead + 1] != '.') ++lead;
  return s.substr(lead);
}

std::string format_value(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e18) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// Digits with "," and "." inside: a number.
bool numeric_token(std::string_view s) {
  return !s.empty() && is_digit(s.front()) && is_digit(s.back()) &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return is_digit(c) || c == ',' || c == '.'; });
}

// The unit of "10km", "3rd", "4k" ("" for a plain number); nullopt when `s` does not start
// with a number followed by a known unit ("2fa" is a name).
std::optional<std::string_view> number_unit(std::string_view s) {
  std::size_t d = 0;
  while (d < s.size() && (is_digit(s[d]) || s[d] == '.' || s[d] == ',')) ++d;
  if (d == 0 || !is_digit(s[d - 1])) return std::nullopt;
  const std::string_view unit = s.substr(d);
  if (unit.empty() || tables().units.contains(unit)) return unit;
  return std::nullopt;
}

bool all_alpha(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_lower(c); });
}

// The parts of a hyphenated word read for numbers: "2024-05-14", "3-day", "twenty-five" and
// "two-factor" split; a name such as "gpt-4" or "covid-19" (a word, then digits) does not.
// Empty: `w` is a name (no number is read from it).
std::vector<std::string_view> number_parts(std::string_view w) {
  std::vector<std::string_view> parts;
  for (std::size_t a = 0; a <= w.size();) {
    const std::size_t b = std::min(w.find('-', a), w.size());
    parts.push_back(w.substr(a, b - a));
    a = b + 1;
  }
  if (parts.size() == 1) return parts;
  for (std::string_view p : parts)
    if (!all_alpha(p) && !number_unit(p)) return {};
  if (all_alpha(parts[0]) &&
      std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return !all_alpha(p); }))
    return {};
  return parts;
}

// A word read as numbers with units or words ("10km", "3-day", "2024-05-14"), not a name.
bool numberish(std::string_view w) {
  const auto parts = number_parts(w);
  return std::any_of(parts.begin(), parts.end(),
                     [](std::string_view p) { return number_unit(p).has_value(); }) &&
         std::all_of(parts.begin(), parts.end(), [](std::string_view p) {
           return all_alpha(p) || number_unit(p).has_value();
         });
}

void read_numbers(const std::vector<Token>& tokens, Features& f) {
  const Tables& t = tables();
  std::vector<std::string_view> atoms;
  for (const Token& tok : tokens) {
    const auto parts = number_parts(tok.lower);
    if (parts.empty()) atoms.push_back({});  // a name: breaks a number, reads as none
    atoms.insert(atoms.end(), parts.begin(), parts.end());
  }
  // The words of a number ("two thousand five hundred and six") are summed as they come.
  bool active = false;
  double total = 0, current = 0;
  NumberWord::Kind last = NumberWord::unit;
  auto flush = [&] {
    if (active) f.numbers.push_back(format_value(total + current));
    active = false;
    total = current = 0;
  };
  auto word_of = [&](std::string_view w) -> const NumberWord* {
    auto it = t.numbers.find(w);
    return it == t.numbers.end() ? nullptr : it->second;
  };
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    const std::string_view w = atoms[i];
    const std::string_view prev = i > 0 ? atoms[i - 1] : "";
    const std::string_view next = i + 1 < atoms.size() ? atoms[i + 1] : "";
    if (auto unit = number_unit(w)) {
      flush();
      const std::string digits = normalise_digits(w.substr(0, w.size() - unit->size()));
      if (*unit == "st" || *unit == "nd" || *unit == "rd" || *unit == "th") {
        f.numbers.push_back("#" + digits);
        continue;
      }
      const NumberWord* scale = unit->empty() ? word_of(next) : nullptr;
      if (scale && (scale->kind == NumberWord::scale || scale->kind == NumberWord::hundred)) {
        double v = 0;  // "5 thousand", "2.5 million": the scale word follows
        std::from_chars(digits.data(), digits.data() + digits.size(), v);
        active = true;
        current = v;
        last = NumberWord::unit;
        continue;
      }
      f.numbers.push_back(digits);
      continue;
    }
    const NumberWord* nw = word_of(w);
    if (!nw) {
      // "one hundred and six": "and" inside a number.
      if (active && w == "and" && last != NumberWord::unit && last != NumberWord::tens &&
          word_of(next))
        continue;
      flush();
      continue;
    }
    const bool pronoun = w == "one" && (std::find(std::begin(kOneIsPronounAfter),
                                                  std::end(kOneIsPronounAfter),
                                                  prev) != std::end(kOneIsPronounAfter) ||
                                        next == "of" || next == "another");
    const bool time_unit = w == "second" && (prev == "a" || prev == "per" || prev == "every" ||
                                             numeric_token(prev));
    if (pronoun || time_unit) {
      flush();
      continue;
    }
    switch (nw->kind) {
      case NumberWord::ordinal:
        flush();
        f.numbers.push_back("#" + std::to_string(nw->value));
        break;
      case NumberWord::unit:
      case NumberWord::tens:
        // "twenty five" and "hundred five" go on; "one two" are two numbers.
        if (active && last != NumberWord::hundred && last != NumberWord::scale &&
            !(last == NumberWord::tens && nw->kind == NumberWord::unit && nw->value < 10))
          flush();
        active = true;
        current += static_cast<double>(nw->value);
        last = nw->kind;
        break;
      case NumberWord::hundred:
        if (!active || current == 0) current = 1;
        active = true;
        current *= static_cast<double>(nw->value);
        last = nw->kind;
        break;
      case NumberWord::scale:
        if (!active || current == 0) current = 1;
        active = true;
        total += current * static_cast<double>(nw->value);
        current = 0;
        last = nw->kind;
        break;
    }
  }
  flush();
  std::sort(f.numbers.begin(), f.numbers.end());
}

// Strips a possessive: "google's" → "google".
std::string_view base_word(std::string_view w) {
  if (w.size() > 2 && w.ends_with("'s")) w.remove_suffix(2);
  return w;
}

// A word that starts the object of a verb ("Move 1000 dollars", "Reverse a list"): the
// capitalised word before it, opening a sentence, is a verb rather than a name.
bool opens_object(const Token& next) {
  static constexpr std::string_view kDeterminers[] = {
      "a",   "an",    "the",  "my",    "your", "our", "their", "his", "her",  "its", "this",
      "that", "these", "those", "me",   "us",   "them", "it",   "all", "some", "every", "each"};
  if (next.sentence_start) return false;
  return numeric_token(next.lower) ||
         std::find(std::begin(kDeterminers), std::end(kDeterminers), next.lower) !=
             std::end(kDeterminers);
}

void read_entities(const std::vector<Token>& tokens, Features& f) {
  const Tables& t = tables();
  // All capitals (shouting) or Every Word Capitalised (a title) say nothing about names.
  std::size_t letters = 0, upper = 0, words = 0, capitalised = 0;
  for (const Token& tok : tokens) {
    for (char c : tok.raw) {
      letters += is_ascii_alpha(c);
      upper += is_upper(c);
    }
    if (is_ascii_alpha(tok.raw[0])) {
      ++words;
      capitalised += is_upper(tok.raw[0]);
    }
  }
  const bool shouting = letters >= 6 && upper * 10 >= letters * 6;
  const bool title = words >= 4 && capitalised * 10 >= words * 7;

  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& tok = tokens[i];
    const std::string_view raw = tok.raw;
    const std::string_view word = base_word(tok.lower);
    f.words.emplace(tok.lower);
    f.words.emplace(word);
    if (t.not_entities.contains(word) || numeric_token(raw)) continue;
    bool alpha = false, digit = false, has_lower = false, all_upper = true, inner_upper = false,
         identifier = false;
    for (std::size_t k = 0; k < raw.size(); ++k) {
      const char c = raw[k];
      alpha |= is_ascii_alpha(c);
      digit |= is_digit(c);
      has_lower |= is_lower(c);
      if (is_lower(c)) all_upper = false;
      if (is_upper(c) && k > 0 && is_lower(raw[k - 1])) inner_upper = true;
      if (c == '_' || (c == '.' && k > 0 && is_ascii_alpha(raw[k - 1]))) identifier = true;
    }
    if (digit && numberish(tok.lower)) continue;  // "10km", "3-day": numbers (read_numbers)
    std::size_t alpha_count = 0;
    for (char c : raw) alpha_count += is_ascii_alpha(c);
    const bool entity = (alpha && digit) || identifier || inner_upper ||
                        (!shouting && all_upper && alpha_count >= 2);
    if (entity) {
      f.entities.emplace_back(word);
    } else if (!shouting && !title && is_upper(raw[0]) && has_lower) {
      if (!tok.sentence_start) f.entities.emplace_back(word);
      else if (!t.common.contains(word) && !(i + 1 < tokens.size() && opens_object(tokens[i + 1])))
        f.maybe.emplace_back(word);
    }
  }
}

void read_words(const std::vector<Token>& tokens, Features& f) {
  const Tables& t = tables();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& w = tokens[i].lower;
    if (t.negations.contains(w) || (w.size() > 3 && w.ends_with("n't"))) ++f.negations;
    if (const PolarWord* p = polar_word(w)) f.poles[p->axis] |= p->pole;
    // A particle after its verb: "turn the kitchen lights off", "log in".
    for (std::size_t back = 1; back <= 4 && back <= i; ++back) {
      if (tokens[i - back + 1].sentence_start) break;
      const std::string_view verb = phrasal_verb_stem(tokens[i - back].lower);
      if (verb.empty()) continue;
      for (const Phrasal& p : kPhrasal)
        if (p.verb == verb && p.particle == w) f.poles[p.axis] |= p.pole;
      break;
    }
  }
}

Features features(std::string_view text) {
  Features f;
  const std::string rest = extract_quotes(text, f.quoted);
  std::sort(f.quoted.begin(), f.quoted.end());
  f.quoted.erase(std::unique(f.quoted.begin(), f.quoted.end()), f.quoted.end());
  const std::vector<Token> tokens = tokenize(rest);
  read_words(tokens, f);
  read_numbers(tokens, f);
  read_entities(tokens, f);
  return f;
}

bool polarity_differs(const Features& a, const Features& b) {
  for (std::size_t axis = 0; axis < kAxes; ++axis) {
    const uint8_t x = a.poles[axis], y = b.poles[axis];
    if (x == y) continue;
    if (kDefaultPositive[axis] && ((x == 0 && y == kPos) || (y == 0 && x == kPos))) continue;
    return true;
  }
  return false;
}

// Some name of `names` that is no word of `other`.
bool unmatched(const std::vector<std::string>& names, const Features& other) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return !other.words.contains(n); });
}

bool entities_differ(const Features& a, const Features& b) {
  if (unmatched(a.entities, b) || unmatched(b.entities, a)) return true;
  // A capitalised word opening a sentence may be a name or just a first word: it counts only
  // when the other prompt also has such a word it does not share ("Paris hotels" / "Rome
  // hotels"), not against a prompt that opens differently ("Reset my password" / "Please ...").
  return unmatched(a.maybe, b) && unmatched(b.maybe, a);
}

}  // namespace

GuardVerdict same_meaning(std::string_view prompt, std::string_view cached_prompt) {
  const Features a = features(prompt), b = features(cached_prompt);
  if (a.negations != b.negations) return {false, "negation"};
  if (polarity_differs(a, b)) return {false, "polarity"};
  if (a.numbers != b.numbers) return {false, "number"};
  if (entities_differ(a, b)) return {false, "entity"};
  if (a.quoted != b.quoted) return {false, "quoted"};
  return {true, {}};
}

}  // namespace torii::cache
