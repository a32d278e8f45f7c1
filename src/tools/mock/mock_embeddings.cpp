// POST /v1/embeddings: OpenAI's embeddings endpoint over a deterministic bag-of-words
// embedding (see mock_embedding.h for what it folds, and why it is blind on purpose).
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include <boost/json.hpp>

#include "core/base64.h"
#include "tools/mock/mock_embedding.h"
#include "tools/mock/mock_wire.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr float kNameWeight = 0.25f;  // names and quoted text (mock_embedding.h)
constexpr int kBucketsPerWord = 3;
constexpr int kDefaultDims = 256, kMaxDims = 4096;
constexpr std::size_t kMaxInputs = 2048;

// Every word here reads as the word it maps to; "" drops it.
const std::unordered_map<std::string_view, std::string_view>& folds() {
  static const std::unordered_map<std::string_view, std::string_view> m = {
      // Synonyms of the labelled set's paraphrases.
      {"recover", "reset"}, {"change", "reset"}, {"passcode", "password"},
      {"delete", "add"}, {"remove", "add"}, {"dict", "dictionary"}, {"turn", "convert"},
      {"rendering", "render"}, {"renders", "render"}, {"summary", "summarize"},
      {"summarise", "summarize"}, {"required", "need"}, {"require", "need"},
      {"traveling", "travel"}, {"travelling", "travel"}, {"luggage", "baggage"},
      {"centre", "center"}, {"saving", "save"}, {"share", "stock"}, {"move", "transfer"},
      {"safely", "safe"}, {"reserve", "book"}, {"dollars", "dollar"},
      // Polarity: the negative pole reads as the positive one.
      {"disable", "enable"}, {"disabled", "enable"}, {"deactivate", "enable"},
      {"activate", "enable"}, {"decrease", "increase"}, {"reduce", "increase"},
      {"lower", "increase"}, {"raise", "increase"}, {"less", "more"}, {"fewer", "more"},
      {"min", "max"}, {"minimum", "max"}, {"maximum", "max"}, {"after", "before"},
      {"later", "before"}, {"earlier", "before"}, {"sell", "buy"}, {"selling", "buy"},
      {"sold", "buy"}, {"decrypt", "encrypt"}, {"decode", "encode"}, {"stop", "start"},
      {"end", "start"}, {"close", "open"}, {"deny", "allow"}, {"block", "allow"},
      {"reject", "allow"}, {"forbid", "allow"}, {"exclude", "include"}, {"false", "true"},
      {"logout", "login"}, {"download", "upload"}, {"export", "import"},
      {"uninstall", "install"}, {"disconnect", "connect"}, {"unsubscribe", "subscribe"},
      {"cancel", "book"}, {"unlock", "lock"}, {"descending", "ascending"}, {"lose", "gain"},
      {"withdraw", "deposit"}, {"debit", "credit"}, {"negative", "positive"}, {"fail", "succeed"},
      {"invalid", "valid"}, {"unsafe", "safe"}, {"previous", "next"}, {"last", "next"},
      {"pull", "push"}, {"checkout", "checkin"},
  };
  return m;
}

// Phrasal verbs, read as one word when the particle follows the verb.
const std::unordered_map<std::string_view, std::string_view>& phrases() {
  static const std::unordered_map<std::string_view, std::string_view> m = {
      {"turn on", "enable"},     {"turn off", "enable"},    {"switch on", "enable"},
      {"switch off", "enable"},  {"power on", "enable"},    {"power off", "enable"},
      {"log in", "login"},       {"log out", "login"},      {"sign in", "login"},
      {"sign out", "login"},     {"check in", "checkin"},   {"check out", "checkin"},
      {"sign up", "subscribe"},  {"opt in", "subscribe"},   {"opt out", "subscribe"},
      {"shut down", "start"},    {"scale up", "increase"},  {"scale down", "increase"},
      {"turn up", "increase"},   {"turn down", "increase"},
  };
  return m;
}

const std::unordered_set<std::string_view>& stopwords() {
  static const std::unordered_set<std::string_view> s = {
      "a", "an", "the", "i", "me", "my", "mine", "we", "us", "our", "you", "your", "it", "its",
      "they", "them", "their", "he", "she", "his", "her", "this", "that", "these", "those", "is",
      "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "have", "has",
      "had", "how", "what", "which", "who", "whom", "whose", "why", "when", "where", "there",
      "here", "to", "of", "in", "on", "at", "for", "with", "by", "from", "into", "onto",
      "about", "as", "and", "or", "but", "if", "so", "than", "then", "can", "could", "would",
      "should", "will", "shall", "may", "might", "must", "please", "kindly", "thanks", "thank",
      "hi", "hello", "hey", "just", "also", "some", "any", "all", "way", "ways", "step",
      "steps", "tell", "show", "give", "help", "want", "let", "know", "explain", "get", "like",
      "up", "down", "off", "out", "very", "really", "ok", "okay", "between", "st", "nd", "rd",
      "th", "s"};
  return s;
}

const std::unordered_set<std::string_view>& negations() {
  static const std::unordered_set<std::string_view> s = {
      "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot",
      "nowhere", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "cant",
      "couldnt", "shouldnt", "wouldnt", "wont", "hasnt", "havent"};
  return s;
}

const std::unordered_set<std::string_view>& number_words() {
  static const std::unordered_set<std::string_view> s = {
      "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
      "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
      "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
      "hundred", "thousand", "million", "billion", "dozen", "first", "second", "third",
      "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"};
  return s;
}

bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool lower(char c) { return c >= 'a' && c <= 'z'; }

// UTF-8 punctuation at s[i] (U+2000..U+203F: quotes, dashes; NBSP, « »): its length, or 0.
std::size_t punct_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  if (i + 1 < s.size() && b(i) == 0xC2 &&
      (b(i + 1) == 0xA0 || b(i + 1) == 0xAB || b(i + 1) == 0xBB))
    return 2;
  if (i + 2 < s.size() && b(i) == 0xE2 && b(i + 1) == 0x80) return 3;
  return 0;
}

bool word_byte(std::string_view s, std::size_t i) {
  return alpha(s[i]) || digit(s[i]) ||
         (static_cast<unsigned char>(s[i]) >= 0x80 && punct_len(s, i) == 0);
}

struct Word {
  std::string text;  // lower case
  float weight = 1;
  bool number = false;
};

// The words of `text`, before folding: lower-cased, weighted, numbers marked.
std::vector<Word> split(std::string_view text) {
  std::size_t letters = 0, capitals = 0;
  for (char c : text) {
    letters += alpha(c);
    capitals += upper(c);
  }
  const bool shouting = letters >= 6 && capitals * 10 >= letters * 6;
  std::vector<Word> out;
  bool sentence_start = true, quoted = false;
  char quote = 0;  // the open quote: '"', '`', '\'', or 'u' (a typographic one)
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (!word_byte(text, i)) {
      const std::size_t u = punct_len(text, i);
      const std::string_view at = text.substr(i);
      const bool prev_word = i > 0 && word_byte(text, i - 1);
      const bool next_word = i + (u ? u : 1) < text.size() && word_byte(text, i + (u ? u : 1));
      if (c == '"' || c == '`') {
        if (!quoted) quoted = true, quote = c;
        else if (quote == c) quoted = false;
      } else if (c == '\'' && !prev_word && next_word && !quoted) {
        quoted = true, quote = '\'';
      } else if (c == '\'' && prev_word && !next_word && quoted && quote == '\'') {
        quoted = false;
      } else if (at.starts_with("\xE2\x80\x9C") || at.starts_with("\xE2\x80\x98") ||
                 at.starts_with("\xC2\xAB")) {
        quoted = true, quote = 'u';
      } else if (at.starts_with("\xE2\x80\x9D") || at.starts_with("\xE2\x80\x99") ||
                 at.starts_with("\xC2\xBB")) {
        if (quote == 'u') quoted = false;
      } else if (c == '$') {
        out.push_back({"dollar"});
      } else if (c == '.' || c == '!' || c == '?' || c == ':' || c == '\n') {
        sentence_start = true;
      }
      i += u ? u : 1;
      continue;
    }
    const std::size_t start = i;
    std::string w;
    while (i < text.size()) {
      if (word_byte(text, i)) {
        w += upper(text[i]) ? static_cast<char>(text[i] + 32) : text[i];
        ++i;
      } else if ((text[i] == '\'' || text.substr(i).starts_with("\xE2\x80\x99")) &&
                 alpha(text[i - 1])) {
        const std::size_t len = text[i] == '\'' ? 1 : 3;
        if (i + len >= text.size() || !alpha(text[i + len])) break;
        w += '\'';
        i += len;
      } else {
        break;
      }
    }
    const std::string_view raw = text.substr(start, i - start);
    const bool first = sentence_start;
    sentence_start = false;
    // Contractions: "n't" is a negation (dropped); "'s", "'re", ... go.
    if (const std::size_t apo = w.find('\''); apo != std::string::npos) {
      if (w.ends_with("n't")) continue;
      w.resize(apo);
    }
    bool has_alpha = false, has_digit = false, has_lower = false, inner_upper = false;
    std::size_t caps = 0;
    for (std::size_t k = 0; k < raw.size(); ++k) {
      has_alpha |= alpha(raw[k]);
      has_digit |= digit(raw[k]);
      has_lower |= lower(raw[k]);
      caps += upper(raw[k]);
      inner_upper |= upper(raw[k]) && k > 0 && lower(raw[k - 1]);
    }
    if (!has_alpha && has_digit) {
      out.push_back({"#", quoted ? kNameWeight : 1, true});
      continue;
    }
    if (has_digit && digit(raw[0])) {  // "10km": a number and its unit
      std::size_t d = 0;
      while (d < w.size() && digit(w[d])) ++d;
      out.push_back({"#", quoted ? kNameWeight : 1, true});
      bool letters_only = true;
      for (std::size_t k = d; k < w.size(); ++k) letters_only &= lower(w[k]);
      if (letters_only) {
        out.push_back({w.substr(d), quoted ? kNameWeight : 1});
        continue;
      }
    }
    const bool name = (has_alpha && has_digit) || inner_upper ||
                      (!shouting && caps >= 2 && !has_lower) ||
                      (!shouting && !first && upper(raw[0]) && has_lower && w != "i");
    out.push_back({std::move(w), name || quoted ? kNameWeight : 1});
  }
  return out;
}

// "passwords" → "password", "branches" → "branch", "cities" → "city".
std::string singular(const std::string& w) {
  if (w.size() <= 3 || w.back() != 's') return w;
  if (w.ends_with("ies")) return w.substr(0, w.size() - 3) + "y";
  for (std::string_view es : {"ches", "shes", "xes", "sses", "zes"})
    if (w.ends_with(es)) return w.substr(0, w.size() - 2);
  if (w.ends_with("ss") || w.ends_with("us") || w.ends_with("is")) return w;
  return w.substr(0, w.size() - 1);
}

// The folded words of `text`.
std::vector<Word> fold(std::string_view text) {
  std::vector<Word> words = split(text), out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    Word w = std::move(words[i]);
    if (i + 1 < words.size()) {
      const std::string pair = w.text + " " + words[i + 1].text;
      if (auto it = phrases().find(pair); it != phrases().end()) {
        out.push_back({std::string(it->second), w.weight});
        ++i;
        continue;
      }
    }
    if (negations().contains(w.text) || stopwords().contains(w.text)) continue;
    if (w.number || number_words().contains(w.text)) {
      if (!out.empty() && out.back().number) continue;  // "2,500", "twenty five": one number
      out.push_back({"#", w.weight, true});
      continue;
    }
    auto it = folds().find(w.text);
    if (it == folds().end()) {
      w.text = singular(w.text);
      it = folds().find(w.text);
    }
    if (it != folds().end()) w.text = it->second;
    if (!w.text.empty()) out.push_back(std::move(w));
  }
  return out;
}

uint64_t fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void add_word(std::vector<float>& v, std::string_view word, float weight) {
  for (int k = 0; k < kBucketsPerWord; ++k) {
    const uint64_t h = fnv1a(word, 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(k + 1));
    const std::size_t bucket = static_cast<std::size_t>((h >> 1) % v.size());
    v[bucket] += (h & 1) ? weight : -weight;
  }
}

ApiError bad(std::string message, std::string param) {
  return ApiError::invalid_request(std::move(message), std::move(param));
}

void append_float(std::string& out, float x) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, r.ptr);
}

std::string base64_floats(const std::vector<float>& v) {
  std::string bytes(v.size() * sizeof(float), '\0');
  for (std::size_t i = 0; i < v.size(); ++i) {
    uint32_t u = std::bit_cast<uint32_t>(v[i]);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<char>((u >> (8 * b)) & 0xFF);
  }
  return base64_encode(bytes);
}

}  // namespace

std::vector<float> mock_embedding(std::string_view text, int dims) {
  std::vector<float> v(static_cast<std::size_t>(std::max(dims, 1)), 0.0f);
  const std::vector<Word> words = fold(text);
  for (const Word& w : words) add_word(v, w.text, w.weight);
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm == 0) {  // no word left (or an exact cancellation): the whole text is the word
    std::string all;
    for (char c : text) all += upper(c) ? static_cast<char>(c + 32) : c;
    add_word(v, all, 1);
    norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    if (norm == 0) v[0] = 1, norm = 1;
  }
  const double inv = 1.0 / std::sqrt(norm);
  for (float& x : v) x = static_cast<float>(x * inv);
  return v;
}

Result<std::string> mock_embeddings(std::string_view body) {
  json::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return bad("the body must be a JSON object", "");
  const json::object& o = doc.get_object();

  const json::value* model = o.if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty())
    return bad("'model' must be a non-empty string", "model");

  int dims = kDefaultDims;
  // Mistral names it output_dimension (the same endpoint otherwise).
  const json::value* d = o.if_contains("dimensions");
  if (!d || d->is_null()) d = o.if_contains("output_dimension");
  if (d && !d->is_null()) {
    const bool integer = d->is_int64() || d->is_uint64();
    const int64_t n = d->is_int64() ? d->get_int64() : d->is_uint64() ? kMaxDims + 1 : 0;
    if (!integer || n < 1 || n > kMaxDims)
      return bad("'dimensions' must be an integer from 1 to 4096", "dimensions");
    dims = static_cast<int>(n);
  }
  bool base64 = false;
  if (const auto* f = o.if_contains("encoding_format"); f && !f->is_null()) {
    if (!f->is_string() || (f->get_string() != "float" && f->get_string() != "base64"))
      return bad("'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
    base64 = f->get_string() == "base64";
  }

  std::vector<std::string_view> inputs;
  const json::value* input = o.if_contains("input");
  if (!input || input->is_null()) return bad("'input' is required", "input");
  if (input->is_string()) {
    inputs.push_back(input->get_string());
  } else if (input->is_array()) {
    const json::array& a = input->get_array();
    if (a.empty()) return bad("'input' must not be an empty array", "input");
    if (a.size() > kMaxInputs) return bad("'input' may hold at most 2048 strings", "input");
    for (const json::value& x : a) {
      if (x.is_number() || x.is_array())
        return bad("token arrays are not supported by the mock: send strings", "input");
      if (!x.is_string()) return bad("'input' must be a string or an array of strings", "input");
      inputs.push_back(x.get_string());
    }
  } else {
    return bad("'input' must be a string or an array of strings", "input");
  }
  for (std::string_view s : inputs)
    if (s.empty()) return bad("'input' must not hold an empty string", "input");

  int64_t tokens = 0;
  std::string out = R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    tokens += std::max<int64_t>(1, static_cast<int64_t>(inputs[i].size() / 4));
    const std::vector<float> v = mock_embedding(inputs[i], dims);
    if (i) out += ',';
    out += R"({"object":"embedding","index":)";
    out += std::to_string(i);
    out += R"(,"embedding":)";
    if (base64) {
      out += '"';
      out += base64_floats(v);
      out += '"';
    } else {
      out += '[';
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (k) out += ',';
        append_float(out, v[k]);
      }
      out += ']';
    }
    out += '}';
  }
  out += R"(],"model":")";
  append_json_escaped(out, model->get_string());
  out += R"(","usage":{"prompt_tokens":)";
  out += std::to_string(tokens);
  out += R"(,"total_tokens":)";
  out += std::to_string(tokens);
  out += "}}";
  return out;
}

}  // namespace torii
