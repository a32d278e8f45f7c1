// The local guardrail kinds (no I/O): regex, contains, pii, secrets, size, response_schema.
// See guardrail.h and docs/GUARDRAILS.md.
#include <re2/re2.h>

// valijson reports a bad schema by throwing (without this, it prints and aborts).
#define VALIJSON_USE_EXCEPTIONS 1

#include <boost/json/parse.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "guardrails/guardrail.h"
#include "guardrails/scanner.h"
#include "tokenizer/tokenizer.h"

namespace torii::guardrails {

namespace {

namespace json = boost::json;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The reason a deny gives: the configured message, else `fallback`.
std::string reason_or(const GuardrailConfig& c, std::string fallback) {
  return c.message.empty() ? std::move(fallback) : c.message;
}

// Whether the check reads `t` as the text whose content the allow list judges: the user's
// words before, the model's after (system prompts and history are not the user's to shape).
bool judged_role(const Subject& s, const Text& t) {
  return s.phase == Phase::before ? (t.role == "user" || t.role.empty())
                                  : (t.role == "assistant" || t.role.empty());
}

// ---------------------------------------------------------------------------------------- regex

class RegexGuard final : public Guardrail {
 public:
  using Guardrail::Guardrail;
  std::vector<std::unique_ptr<RE2>> allow, deny;

  bool windowed() const override { return true; }  // allow lists: the policy runs them at the end

  void check(const Subject& s, Masks& masks, Outcome& out) const override {
    const auto& texts = *s.texts;
    const auto& c = config();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::string& v = texts[i].value;
      if (!allow.empty() && !s.partial && judged_role(s, texts[i])) {
        bool ok = false;
        for (const auto& re : allow) ok = ok || RE2::PartialMatch(v, *re);
        if (!ok) {
          out.action = Outcome::Action::deny;
          out.reason = reason_or(c, "a " + std::string(texts[i].role.empty() ? "text" : texts[i].role) +
                                        " text matches no allowed pattern");
          return;
        }
      }
      for (std::size_t d = 0; d < deny.size(); ++d) {
        re2::StringPiece input(v);
        re2::StringPiece m;
        std::size_t at = 0;
        while (at <= v.size() &&
               deny[d]->Match(input, at, v.size(), RE2::UNANCHORED, &m, 1)) {
          const std::size_t b = static_cast<std::size_t>(m.data() - v.data());
          const std::size_t e = b + m.size();
          if (c.action == GuardrailConfig::Action::block) {
            out.action = Outcome::Action::deny;
            out.reason = reason_or(c, "matches deny pattern " + std::to_string(d + 1));
            out.edits.clear();
            return;
          }
          if (e > b) {
            std::string rep = c.action == GuardrailConfig::Action::mask
                                  ? masks.placeholder("MATCH", v.substr(b, e - b))
                                  : std::string("[REDACTED]");
            out.edits.push_back(Edit{i, b, e, std::move(rep)});
          }
          at = e > b ? e : e + 1;
        }
      }
    }
    finish_edits(out, "deny pattern match");
  }

  // Sorts the edits and drops overlaps (two patterns matching the same bytes).
  static void finish_edits(Outcome& out, std::string_view what) {
    if (out.edits.empty()) return;
    std::sort(out.edits.begin(), out.edits.end(), [](const Edit& a, const Edit& b) {
      return a.text != b.text ? a.text < b.text : a.begin < b.begin;
    });
    std::vector<Edit> kept;
    for (auto& e : out.edits)
      if (kept.empty() || kept.back().text != e.text || e.begin >= kept.back().end)
        kept.push_back(std::move(e));
    out.edits = std::move(kept);
    out.action = Outcome::Action::redact;
    out.reason = std::to_string(out.edits.size()) + " " + std::string(what) +
                 (out.edits.size() == 1 ? "" : "es") + " redacted";
  }
};

// ------------------------------------------------------------------------------------- contains

// Simple Unicode case folding (towlower in C.UTF-8, which glibc maps for all of Unicode) of
// UTF-8 text; invalid bytes are kept as they are.
class Folder {
 public:
  Folder() : loc_(newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0))) {}
  ~Folder() {
    if (loc_) freelocale(loc_);
  }
  std::string fold(std::string_view s) const {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
      const auto b = static_cast<unsigned char>(s[i]);
      if (b < 0x80) {
        out += static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b);
        ++i;
        continue;
      }
      const int n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
      if (n == 1 || i + n > s.size()) {
        out += static_cast<char>(b);
        ++i;
        continue;
      }
      uint32_t cp = b & (0x7F >> n);
      bool ok = true;
      for (int k = 1; k < n; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        ok = ok && (c & 0xC0) == 0x80;
        cp = (cp << 6) | (c & 0x3F);
      }
      if (!ok) {
        out += static_cast<char>(b);
        ++i;
        continue;
      }
      if (loc_) cp = static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), loc_));
      append_utf8(out, cp);
      i += n;
    }
    return out;
  }

 private:
  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  locale_t loc_;
};

const Folder& folder() {
  static const Folder f;
  return f;
}

// A byte that continues a word: ASCII letters and digits, '_', and any non-ASCII byte (letters
// of other scripts), so that "kill" is not found in "skill" nor "café" in "cafés".
bool word_byte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Whether `word` occurs in `text` with no word byte right before or after it (a word that
// begins or ends with a non-word byte, like "c++", is bounded on that side by itself).
bool has_word(std::string_view text, std::string_view word) {
  if (word.empty()) return false;
  for (std::size_t at = 0;;) {
    const void* p = ::memmem(text.data() + at, text.size() - at, word.data(), word.size());
    if (!p) return false;
    const std::size_t b = static_cast<const char*>(p) - text.data();
    const std::size_t e = b + word.size();
    const bool left = b == 0 || !word_byte(text[b - 1]) || !word_byte(word.front());
    const bool right = e == text.size() || !word_byte(text[e]) || !word_byte(word.back());
    if (left && right) return true;
    at = b + 1;
  }
}

class ContainsGuard final : public Guardrail {
 public:
  explicit ContainsGuard(const GuardrailConfig& c) : Guardrail(c) {
    for (const auto& w : c.words) words_.push_back(c.case_sensitive ? w : folder().fold(w));
  }
  // "any" can deny on a part of an answer; "all" and "none" need all of it.
  bool windowed() const override { return config().match == GuardrailConfig::Match::any; }

  void check(const Subject& s, Masks&, Outcome& out) const override {
    if (s.partial && !windowed()) return;
    std::vector<bool> seen(words_.size());
    for (const Text& t : *s.texts) {
      const std::string folded = config().case_sensitive ? std::string() : folder().fold(t.value);
      const std::string_view text = config().case_sensitive ? std::string_view(t.value) : folded;
      for (std::size_t i = 0; i < words_.size(); ++i)
        if (!seen[i] && has_word(text, words_[i])) seen[i] = true;
    }
    const auto n = std::count(seen.begin(), seen.end(), true);
    const auto& c = config();
    std::string why;
    switch (c.match) {
      case GuardrailConfig::Match::any:
        if (n > 0) why = "contains " + std::to_string(n) + " listed word(s)";
        break;
      case GuardrailConfig::Match::all:
        if (n == static_cast<long>(words_.size())) why = "contains every listed word";
        break;
      case GuardrailConfig::Match::none:
        if (n == 0) why = "contains none of the required words";
        break;
    }
    if (why.empty()) return;
    out.action = Outcome::Action::deny;
    out.reason = reason_or(c, why);
  }

 private:
  std::vector<std::string> words_;
};

// --------------------------------------------------------------------------------- pii, secrets

class ScanGuard final : public Guardrail {
 public:
  ScanGuard(const GuardrailConfig& c, std::shared_ptr<const Scanner> scanner)
      : Guardrail(c), scanner_(std::move(scanner)) {}
  bool windowed() const override { return true; }
  // PII and secrets hold no character JSON escapes ('"', '\\', controls): in an answer without
  // \u or \/ escapes they read the same in the raw body. A JSON member (an id) may look like a
  // finding: the policy then parses and checks the texts properly.
  std::optional<bool> finds_in_raw(std::string_view raw) const override {
    return scanner_->any(raw);
  }

  void check(const Subject& s, Masks& masks, Outcome& out) const override {
    thread_local std::vector<Finding> found;
    const auto& c = config();
    std::map<std::string, int> counts;  // entity -> findings (for the reason)
    for (std::size_t i = 0; i < s.texts->size(); ++i) {
      const std::string& v = (*s.texts)[i].value;
      scanner_->scan(v, found);
      for (const Finding& f : found) {
        const std::string_view name = scanner_->name_of(f);
        ++counts[std::string(name)];
        if (c.action == GuardrailConfig::Action::block) continue;
        std::string rep = c.action == GuardrailConfig::Action::mask
                              ? masks.placeholder(upper(name), std::string_view(v).substr(f.begin, f.end - f.begin))
                              : "[REDACTED_" + upper(name) + "]";
        out.edits.push_back(Edit{i, f.begin, f.end, std::move(rep)});
      }
    }
    if (counts.empty()) return;
    std::string list;
    for (const auto& [name, n] : counts)
      list += (list.empty() ? "" : ", ") + name + (n > 1 ? " x" + std::to_string(n) : "");
    if (c.action == GuardrailConfig::Action::block) {
      out.action = Outcome::Action::deny;
      out.reason = reason_or(c, (c.kind == "secrets" ? "a secret was found: " : "personal data was found: ") + list);
      return;
    }
    out.action = Outcome::Action::redact;
    out.reason = (c.action == GuardrailConfig::Action::mask ? "masked: " : "redacted: ") + list;
  }

 private:
  std::shared_ptr<const Scanner> scanner_;
};

// ----------------------------------------------------------------------------------------- size

std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::size_t word_count(std::string_view s) {
  std::size_t n = 0;
  bool in = false;
  for (unsigned char c : s) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

std::size_t token_count(std::string_view s) {
  if (const tokenizer::Bpe* bpe = tokenizer::get(tokenizer::Encoding::o200k_base))
    return bpe->count(s);
  return (s.size() + 3) / 4;  // the tables are missing: about 4 bytes per token
}

class SizeGuard final : public Guardrail {
 public:
  using Guardrail::Guardrail;
  void check(const Subject& s, Masks&, Outcome& out) const override {
    const auto& c = config();
    int64_t chars = 0, words = 0, tokens = 0;
    const bool want_tokens = c.min_tokens >= 0 || c.max_tokens >= 0;
    for (const Text& t : *s.texts) {
      chars += static_cast<int64_t>(utf8_chars(t.value));
      words += static_cast<int64_t>(word_count(t.value));
      if (want_tokens) tokens += static_cast<int64_t>(token_count(t.value));
    }
    std::string why;
    auto bound = [&](const char* what, int64_t n, int64_t min, int64_t max) {
      if (!why.empty()) return;
      if (max >= 0 && n > max)
        why = std::to_string(n) + " " + what + " > max " + std::to_string(max);
      else if (!s.partial && min >= 0 && n < min)
        why = std::to_string(n) + " " + what + " < min " + std::to_string(min);
    };
    bound("chars", chars, c.min_chars, c.max_chars);
    bound("words", words, c.min_words, c.max_words);
    if (want_tokens) bound("tokens", tokens, c.min_tokens, c.max_tokens);
    if (s.phase == Phase::before) bound("messages", s.messages, c.min_messages, c.max_messages);
    if (why.empty()) return;
    out.action = Outcome::Action::deny;
    out.reason = reason_or(c, (s.phase == Phase::before ? "request size: " : "answer size: ") + why);
  }
};

// ------------------------------------------------------------------------------ response_schema

class SchemaGuard final : public Guardrail {
 public:
  explicit SchemaGuard(const GuardrailConfig& c) : Guardrail(c) {}
  valijson::Schema schema;

  void check(const Subject& s, Masks&, Outcome& out) const override {
    if (s.partial || s.phase != Phase::after) return;
    std::string text;
    for (const Text& t : *s.texts)
      if (t.role == "assistant" || t.role.empty()) text += t.value;
    if (text.empty()) return;  // a tool call only: nothing to judge
    boost::system::error_code ec;
    json::value doc = json::parse(text, ec);
    if (ec) {
      out.action = Outcome::Action::deny;
      out.reason = reason_or(config(), "the answer is not JSON");
      return;
    }
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::BoostJsonAdapter adapter(doc);
    bool valid = false;
    try {
      valid = validator.validate(schema, adapter, &results);
    } catch (const std::exception&) {
      valid = false;  // a schema feature that cannot be evaluated: not proven valid
    }
    if (valid) return;
    std::string why = "the answer does not match the schema";
    valijson::ValidationResults::Error err;
    if (results.popError(err)) {
      std::string at;
      for (const auto& p : err.context) at += p;
      why += ": " + at + ": " + err.description;
    }
    if (why.size() > 300) why.resize(300);
    out.action = Outcome::Action::deny;
    out.reason = reason_or(config(), why);
  }
};

std::string at(const GuardrailConfig& c) { return "guardrail '" + c.id + "': "; }

}  // namespace

Result<std::unique_ptr<Guardrail>> make_local_guardrail(const GuardrailConfig& c) {
  if (c.kind == "regex") {
    auto g = std::make_unique<RegexGuard>(c);
    RE2::Options opt;
    opt.set_log_errors(false);
    auto compile = [&](const std::vector<std::string>& pats, const char* key,
                       std::vector<std::unique_ptr<RE2>>& out) -> std::optional<ApiError> {
      for (std::size_t i = 0; i < pats.size(); ++i) {
        auto re = std::make_unique<RE2>(pats[i], opt);
        if (!re->ok())
          return ApiError::invalid_request(at(c) + key + "[" + std::to_string(i) +
                                           "]: not a valid RE2 pattern: " + re->error());
        out.push_back(std::move(re));
      }
      return std::nullopt;
    };
    if (auto e = compile(c.allow, "allow", g->allow)) return *e;
    if (auto e = compile(c.deny, "deny", g->deny)) return *e;
    return std::unique_ptr<Guardrail>(std::move(g));
  }
  if (c.kind == "contains") return std::unique_ptr<Guardrail>(std::make_unique<ContainsGuard>(c));
  if (c.kind == "pii" || c.kind == "secrets") {
    ScannerConfig sc;
    const bool secrets = c.kind == "secrets";
    for (const auto& name : c.entities) {
      auto e = parse_entity(name);
      if (!e || *e == Entity::custom || is_secret(*e) != secrets)
        return ApiError::invalid_request(at(c) + "unknown " + c.kind + " entity '" + name + "'");
      sc.entities.push_back(*e);
    }
    if (c.entities.empty() && (secrets || c.custom.empty())) {
      auto all = secrets ? secret_entities() : pii_entities();
      sc.entities.assign(all.begin(), all.end());
    }
    for (const auto& [name, pattern] : c.custom) sc.custom.push_back({name, pattern});
    sc.entropy_threshold = c.entropy_threshold;
    sc.entropy_min_length = static_cast<std::size_t>(c.entropy_min_length);
    auto scanner = Scanner::build(std::move(sc));
    if (!scanner) return ApiError::invalid_request(at(c) + scanner.error().message);
    return std::unique_ptr<Guardrail>(std::make_unique<ScanGuard>(c, std::move(*scanner)));
  }
  if (c.kind == "size") {
    if (c.min_tokens >= 0 || c.max_tokens >= 0) tokenizer::preload();
    return std::unique_ptr<Guardrail>(std::make_unique<SizeGuard>(c));
  }
  if (c.kind == "response_schema") {
    auto g = std::make_unique<SchemaGuard>(c);
    try {
      valijson::SchemaParser parser;
      valijson::adapters::BoostJsonAdapter adapter(c.schema);
      parser.populateSchema(adapter, g->schema);
    } catch (const std::exception& e) {
      std::string what = e.what();
      if (what.size() > 200) what.resize(200);
      return ApiError::invalid_request(at(c) + "schema: not a usable JSON Schema: " + what);
    }
    return std::unique_ptr<Guardrail>(std::move(g));
  }
  return ApiError::invalid_request(at(c) + "unknown local kind '" + c.kind + "'");
}

}  // namespace torii::guardrails
