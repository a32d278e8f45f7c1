// Secret detectors. Every token-shaped secret is a run of >= 16 bytes of [A-Za-z0-9+/=_-], so
// a stride sweep finds those runs without looking at most bytes of prose; only the runs are
// searched for the fixed prefixes, the 40/88-char base64 keys and for high entropy. PEM private
// keys (and the GCP service-account JSON that carries one) are found by memmem.
#include <string.h>  // memmem (GNU)

#include <cmath>
#include <cstring>

#include "guardrails/char_class.h"
#include "guardrails/scanner.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace torii::guardrails::detail {

namespace {

using E = Entity;

constexpr bool is_b64(unsigned char c) { return is_alnum(c) || c == '+' || c == '/'; }
constexpr bool is_b64url(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }

struct Classes {
  bool token[256] = {};  // the run alphabet [A-Za-z0-9+/=_-]
  bool first[256] = {};  // first bytes of the fixed prefixes
  constexpr Classes() {
    for (int c = 0; c < 256; ++c) {
      auto u = static_cast<unsigned char>(c);
      token[c] = is_alnum(u) || u == '+' || u == '/' || u == '=' || u == '_' || u == '-';
    }
    for (unsigned char c : {'A', 's', 'g', 'x', 'e'}) first[c] = true;
  }
};
constexpr Classes kC;

struct Text {
  const unsigned char* p;
  std::size_t n;
  unsigned char at(std::size_t i) const { return i < n ? p[i] : 0; }
  bool starts(std::size_t i, std::string_view s) const {
    return i <= n && n - i >= s.size() && std::memcmp(p + i, s.data(), s.size()) == 0;
  }
};

void add(std::vector<Finding>& out, Entity e, std::size_t b, std::size_t end) {
  out.push_back({e, 0, static_cast<uint32_t>(b), static_cast<uint32_t>(end)});
}

constexpr uint32_t kPrefixed = bit(E::aws_access_key) | bit(E::gcp_api_key) |
                               bit(E::openai_key) | bit(E::anthropic_key) |
                               bit(E::github_token) | bit(E::slack_token) | bit(E::jwt);
constexpr uint32_t kRunBased = kPrefixed | bit(E::aws_secret_key) | bit(E::azure_key) |
                               bit(E::high_entropy);

// End of the span of bytes satisfying `ok` from i.
template <class F>
std::size_t span(const Text& t, std::size_t i, F ok) {
  while (i < t.n && ok(t.p[i])) ++i;
  return i;
}

// Case-insensitive search of a lower-case `needle` in [b, e).
bool contains_ci(const Text& t, std::size_t b, std::size_t e, std::string_view needle) {
  for (std::size_t i = b; i + needle.size() <= e; ++i) {
    std::size_t k = 0;
    while (k < needle.size() && (is_upper(t.p[i + k]) ? t.p[i + k] | 0x20 : t.p[i + k]) ==
                                    static_cast<unsigned char>(needle[k]))
      ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

struct Mix {
  int upper = 0, lower = 0, digit = 0;
};
Mix mix(const Text& t, std::size_t b, std::size_t e) {
  Mix m;
  for (std::size_t i = b; i < e; ++i) {
    m.upper += is_upper(t.p[i]);
    m.lower += is_lower(t.p[i]);
    m.digit += is_digit(t.p[i]);
  }
  return m;
}

// JWT at i ("eyJ"): three base64url parts; the header decodes to a JSON object with "alg".
std::size_t jwt(const Text& t, std::size_t i) {
  std::size_t h = span(t, i, is_b64url);
  if (h - i < 10 || h - i > 2048 || t.at(h) != '.') return 0;
  std::size_t pl = span(t, h + 1, is_b64url);
  if (pl - h - 1 < 2 || t.at(pl) != '.') return 0;
  std::size_t sg = span(t, pl + 1, is_b64url);
  if (t.at(sg) == '.' || kC.token[t.at(sg)]) return 0;
  // Decode the header (base64url, no padding).
  char json[1536];
  std::size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (std::size_t k = i; k < h; ++k) {
    unsigned char c = t.p[k];
    uint32_t v = is_upper(c) ? c - 'A' : is_lower(c) ? c - 'a' + 26 : is_digit(c) ? c - '0' + 52
               : c == '-' ? 62 : 63;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      json[n++] = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  std::string_view hdr(json, n);
  if (hdr.empty() || hdr.front() != '{' || hdr.find("\"alg\"") == std::string_view::npos) return 0;
  return sg;
}

// A fixed-prefix secret at i (a run position not preceded by an alphanumeric byte).
// Returns its end (0: none) and sets `e`.
std::size_t prefixed(const Text& t, std::size_t i, uint32_t mask, Entity& e) {
  unsigned char c = t.p[i];
  if (c == 'A') {
    if ((mask & bit(E::aws_access_key)) && (t.starts(i, "AKIA") || t.starts(i, "ASIA"))) {
      std::size_t f = span(t, i + 4, [](unsigned char x) { return is_upper(x) || is_digit(x); });
      if (f - i == 20 && !is_alnum(t.at(f))) return e = E::aws_access_key, f;
    }
    if ((mask & bit(E::gcp_api_key)) && t.starts(i, "AIza")) {
      std::size_t f = span(t, i + 4, is_b64url);
      if (f - i == 39) return e = E::gcp_api_key, f;
    }
  } else if (c == 's' && t.starts(i, "sk-")) {
    std::size_t f = span(t, i + 3, is_b64url);
    if (t.starts(i, "sk-ant-")) {
      if ((mask & bit(E::anthropic_key)) && f - i >= 7 + 32) return e = E::anthropic_key, f;
      return 0;
    }
    if ((mask & bit(E::openai_key)) && f - i >= 3 + 20) {
      Mix m = mix(t, i + 3, f);
      if (m.upper && m.lower && m.digit) return e = E::openai_key, f;
    }
  } else if (c == 'g' && (mask & bit(E::github_token))) {
    if (t.starts(i, "gh") && std::strchr("pousr", t.at(i + 2)) && t.at(i + 2) &&
        t.at(i + 3) == '_') {
      std::size_t f = span(t, i + 4, is_alnum);
      if (f - i >= 40 && f - i <= 255 && !kC.token[t.at(f)]) return e = E::github_token, f;
    } else if (t.starts(i, "github_pat_")) {
      std::size_t f = span(t, i + 11, [](unsigned char x) { return is_alnum(x) || x == '_'; });
      if (f - i >= 11 + 22) return e = E::github_token, f;
    }
  } else if (c == 'x' && (mask & bit(E::slack_token))) {
    bool xox = t.starts(i, "xox") && std::strchr("bpar", t.at(i + 3)) && t.at(i + 3) &&
               t.at(i + 4) == '-';
    if (xox || t.starts(i, "xapp-")) {
      std::size_t f = span(t, i + 5, [](unsigned char x) { return is_alnum(x) || x == '-'; });
      if (f - i >= 15 && mix(t, i + 5, f).digit) return e = E::slack_token, f;
    }
  } else if (c == 'e' && (mask & bit(E::jwt)) && t.starts(i, "eyJ")) {
    if (std::size_t f = jwt(t, i)) return e = E::jwt, f;
  }
  return 0;
}

// High entropy over [b, e): long enough, mixed like random base64 (upper, lower, >= 2 digits,
// frequent class changes, which camelCase names lack), not hex (hashes, UUIDs), and entropic.
bool high_entropy(const Text& t, std::size_t b, std::size_t e, const SecretParams& sp) {
  if (e - b < sp.entropy_min_length) return false;
  Mix m = mix(t, b, e);
  if (!m.upper || !m.lower || m.digit < 2) return false;
  bool hex = true;
  int changes = 0, prev = -1;
  for (std::size_t i = b; i < e; ++i) {
    unsigned char c = t.p[i];
    hex = hex && (is_hex(c) || c == '-');
    int cls = is_upper(c) ? 0 : is_lower(c) ? 1 : is_digit(c) ? 2 : 3;
    changes += prev >= 0 && cls != prev;
    prev = cls;
  }
  if (hex || changes * 20 < static_cast<int>(e - b - 1) * 7) return false;  // < 0.35 per byte
  return shannon_entropy({reinterpret_cast<const char*>(t.p + b), e - b}) >=
         sp.entropy_threshold;
}

// One run [s, e) of token bytes, >= the stride long. Returns where the sweep resumes.
std::size_t on_run(const Text& t, std::size_t s, std::size_t e, const SecretParams& sp,
                   std::vector<Finding>& out) {
  std::size_t resume = e;
  if (sp.mask & kPrefixed) {
    for (std::size_t i = s; i < e; ++i) {
      if (!kC.first[t.p[i]] || (i > s && is_alnum(t.p[i - 1]))) continue;
      Entity ent;
      if (std::size_t f = prefixed(t, i, sp.mask, ent)) {
        add(out, ent, i, f);
        if (f > resume) resume = f;
        i = f - 1;
      }
    }
  }
  if (sp.mask & (bit(E::aws_secret_key) | bit(E::azure_key))) {
    for (std::size_t i = s; i < e;) {
      if (!is_b64(t.p[i])) {
        ++i;
        continue;
      }
      std::size_t b = i, f = span(t, i, is_b64);
      i = f;
      if (f - b == 40 && t.at(f) != '=' && (sp.mask & bit(E::aws_secret_key))) {
        Mix m = mix(t, b, f);
        bool hex = true;
        for (std::size_t k = b; k < f; ++k) hex = hex && is_hex(t.p[k]);
        std::size_t w = b > 100 ? b - 100 : 0;
        if (m.upper && m.lower && m.digit && !hex &&
            (contains_ci(t, w, b, "aws") || contains_ci(t, w, b, "secret")))
          add(out, E::aws_secret_key, b, f);
      } else if (f - b == 86 && t.at(f) == '=' && t.at(f + 1) == '=' &&
                 !kC.token[t.at(f + 2)] && (sp.mask & bit(E::azure_key))) {
        std::size_t w = b > 200 ? b - 200 : 0;
        if ((b >= 11 && t.starts(b - 11, "AccountKey=")) || contains_ci(t, w, b, "azure"))
          add(out, E::azure_key, b, f + 2);
      }
    }
  }
  if (sp.mask & bit(E::high_entropy)) {
    // Pieces: the run split at a "key=" '=' (one followed by a token byte other than '=').
    std::size_t b = s;
    for (std::size_t i = s; i <= e; ++i) {
      bool cut = i == e || (t.p[i] == '=' && i + 1 < e && t.p[i + 1] != '=');
      if (!cut) continue;
      if (high_entropy(t, b, i, sp)) add(out, E::high_entropy, b, i);
      b = i + 1;
    }
  }
  return resume;
}

#if defined(__SSE2__)
// The token bytes of p[0..16) as a 16-bit mask (SSE2 compares; bytes >= 0x80 are negative).
inline unsigned token_mask(const unsigned char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i y = _mm_or_si128(x, _mm_set1_epi8(0x20));  // letters folded to lower case
  __m128i m = _mm_and_si128(_mm_cmpgt_epi8(y, _mm_set1_epi8('`')),
                            _mm_cmplt_epi8(y, _mm_set1_epi8('{')));
  m = _mm_or_si128(m, _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('.')),  // '/' and digits
                                    _mm_cmplt_epi8(x, _mm_set1_epi8(':'))));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('+')));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('=')));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
  return static_cast<unsigned>(_mm_movemask_epi8(m));
}
#endif

// A run [s, e) was found around `pos`: expand it, examine it; returns where to resume.
std::size_t take_run(const Text& t, std::size_t floor, std::size_t pos, const SecretParams& sp,
                     std::vector<Finding>& out) {
  std::size_t s = pos;
  while (s > floor && kC.token[t.p[s - 1]]) --s;
  std::size_t e = pos + 1;
  while (e < t.n && kC.token[t.p[e]]) ++e;
  return on_run(t, s, e, sp, out);
}

// The sweep for runs of >= L token bytes. With L = 16 (the default) and SSE2: 16-byte blocks
// classified at once, a run carried across blocks. Otherwise a stride sweep: a run of >= L
// token bytes must contain a probe; a probe on a non-token byte skips L bytes, a probe inside
// a short word skips to just past its start.
void sweep_runs(const Text& t, const SecretParams& sp, std::vector<Finding>& out) {
  const std::size_t L = sp.entropy_min_length < 16 && (sp.mask & bit(E::high_entropy))
                            ? sp.entropy_min_length
                            : 16;
#if defined(__SSE2__)
  if (L == 16) {
    std::size_t i = 0, run = 0, floor = 0;
    while (i + 16 <= t.n) {
      const unsigned m = token_mask(t.p + i);
      // Token bytes continuing the carried run (the block's low bits are its first bytes).
      // Branch-free: ~m has bit 16 set, ~(m << 16) has its low 16 bits set.
      const std::size_t ones = static_cast<std::size_t>(__builtin_ctz(~m));
      run += ones;
      if (run < 16) [[likely]] {  // carry the block's last token bytes only
        run = static_cast<std::size_t>(__builtin_clz(~(m << 16)));
        i += 16;
        continue;
      }
      // A long run reaches into this block (through byte i + ones - 1): take it whole.
      const std::size_t resume = take_run(t, floor, i + ones - 1, sp, out);
      floor = resume + 1;
      i = floor;
      run = 0;
    }
    // The tail (< 16 bytes): bytes [i - run, i) are a carried run; go on byte by byte.
    std::size_t s = i - run, e = i;
    for (;;) {
      while (e < t.n && kC.token[t.p[e]]) ++e;
      if (e - s >= 16) e = take_run(t, s, s, sp, out);
      if (e >= t.n) break;
      s = ++e;
    }
    return;
  }
#endif
  std::size_t floor = 0;  // runs start at or after this
  std::size_t pos = L - 1;
  while (pos < t.n) {
    if (!kC.token[t.p[pos]]) {
      pos += L;
      continue;
    }
    const std::size_t lowest = pos + 1 - L > floor ? pos + 1 - L : floor;
    std::size_t s = pos;
    while (s > lowest && kC.token[t.p[s - 1]]) --s;
    if (pos + 1 - s < L) {  // a short word: the next run ends L - 1 past its start at least
      pos = s + L - 1;
      continue;
    }
    while (s > floor && kC.token[t.p[s - 1]]) --s;
    std::size_t e = pos + 1;
    while (e < t.n && kC.token[t.p[e]]) ++e;
    std::size_t resume = on_run(t, s, e, sp, out);
    floor = resume + 1;
    pos = resume + L;
  }
}

// PEM private keys; a GCP service-account JSON is the "private_key" value of a document that
// says "service_account" nearby.
void sweep_pem(const Text& t, uint32_t mask, std::vector<Finding>& out) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  std::size_t i = 0;
  while (i < t.n) {
    const void* hit = memmem(t.p + i, t.n - i, kBegin.data(), kBegin.size());
    if (!hit) break;
    const std::size_t b = static_cast<std::size_t>(static_cast<const unsigned char*>(hit) - t.p);
    i = b + kBegin.size();
    // The label: up to 40 bytes of [A-Z ] holding "PRIVATE KEY", then "-----".
    std::size_t l = i;
    while (l < t.n && l - i < 40 && (is_upper(t.p[l]) || t.p[l] == ' ')) ++l;
    if (!t.starts(l, "-----") || !contains_ci(t, i, l, "private key")) continue;
    std::size_t body = l + 5;
    std::size_t end;
    const std::size_t limit = t.n - body < (1u << 20) ? t.n - body : (1u << 20);
    const void* fin = memmem(t.p + body, limit, "-----END ", 9);
    if (fin) {
      end = static_cast<std::size_t>(static_cast<const unsigned char*>(fin) - t.p) + 9;
      while (end < t.n && end - b < (1u << 20) && (is_upper(t.at(end)) || t.at(end) == ' ')) ++end;
      if (t.starts(end, "-----")) end += 5;
    } else {  // cut (a stream window, a truncated paste): the base64 body as far as it goes
      end = span(t, body, [](unsigned char c) {
        return is_b64(c) || c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\\' ||
               c == ':' || c == '-' || c == ',';
      });
    }
    if (mask & bit(E::pem_private_key)) add(out, E::pem_private_key, b, end);
    if (mask & bit(E::gcp_service_account)) {
      // `"private_key": "-----BEGIN`: the JSON string value, then its closing quote.
      std::size_t q = b;
      if (t.at(q - 1) == '"') {
        std::size_t k = q - 1;
        while (k > 0 && (t.p[k - 1] == ' ' || t.p[k - 1] == ':')) --k;
        std::size_t w0 = b > 8192 ? b - 8192 : 0, w1 = t.n - end > 8192 ? end + 8192 : t.n;
        if (k >= 13 && t.starts(k - 13, "\"private_key\"") &&
            contains_ci(t, w0, w1, "\"service_account\"")) {
          std::size_t c = end;
          while (c < t.n && c - end < 64 && !(t.p[c] == '"' && t.p[c - 1] != '\\')) ++c;
          if (c < t.n && t.p[c] == '"') add(out, E::gcp_service_account, q - 1, c + 1);
        }
      }
    }
    i = end > i ? end : i;
  }
}

}  // namespace

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0.0;
  uint32_t counts[256] = {};
  for (unsigned char c : s) ++counts[c];
  const double n = static_cast<double>(s.size());
  double h = 0.0;
  for (uint32_t c : counts) {
    if (c == 0) continue;
    double p = c / n;
    h -= p * std::log2(p);
  }
  return h;
}

void scan_secrets(std::string_view text, const SecretParams& p, std::vector<Finding>& out) {
  const Text t{reinterpret_cast<const unsigned char*>(text.data()), text.size()};
  if (p.mask & kRunBased) sweep_runs(t, p, out);
  if (p.mask & (bit(E::pem_private_key) | bit(E::gcp_service_account))) sweep_pem(t, p.mask, out);
}

}  // namespace torii::guardrails::detail
