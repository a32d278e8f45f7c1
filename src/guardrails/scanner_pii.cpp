// PII detectors: one sweep for the trigger bytes (digits, ':' and '@'), then verification
// around each trigger. A digit starts a "cluster" (digits joined by at most two of " -.()"),
// which is examined once, at each of its group starts, and then skipped as a whole.
#include <cstring>

#include "guardrails/char_class.h"
#include "guardrails/scanner.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace torii::guardrails::detail {

namespace {

using E = Entity;

// Bytes >= 0x80 are not word bytes: a number glued to a non-ASCII letter is rare, one beside
// non-ASCII punctuation (« », …, €, NBSP) is not.
constexpr bool is_word(unsigned char c) { return is_alnum(c) || c == '_'; }

// Bounds-checked reads: out of range (including i = -1 wrapped) reads as 0.
struct Text {
  const unsigned char* p;
  std::size_t n;
  unsigned char at(std::size_t i) const { return i < n ? p[i] : 0; }
};

void add(std::vector<Finding>& out, Entity e, std::size_t b, std::size_t end) {
  out.push_back({e, 0, static_cast<uint32_t>(b), static_cast<uint32_t>(end)});
}

#if defined(__SSE2__)
// The bytes of p[0..16) that are a digit, ':' or '@', as a 16-bit mask.
inline unsigned trigger_mask(const unsigned char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Signed compares: bytes >= 0x80 are negative, so never in '0'..':'.
  const __m128i m = _mm_or_si128(
      _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(':' + 1))),
      _mm_cmpeq_epi8(x, _mm_set1_epi8('@')));
  return static_cast<unsigned>(_mm_movemask_epi8(m));
}
#endif

// A number may start at g: not glued to a word, a decimal or a longer dashed number.
bool left_ok(const Text& t, std::size_t g) {
  unsigned char c = t.at(g - 1);
  if (is_word(c) || c == '.') return false;
  if ((c == '-' || c == '/' || c == ',') && is_digit(t.at(g - 2))) return false;
  return true;
}
// A number may end at e (exclusive).
bool right_ok(const Text& t, std::size_t e) {
  unsigned char c = t.at(e);
  if (is_word(c)) return false;
  if ((c == '.' || c == '-' || c == ',' || c == '/') && is_digit(t.at(e + 1))) return false;
  return true;
}

// Reads exactly k digits at i; returns their value or -1.
long digits(const Text& t, std::size_t i, int k) {
  long v = 0;
  for (int j = 0; j < k; ++j) {
    unsigned char c = t.at(i + j);
    if (!is_digit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// --- US SSN: AAA-GG-SSSS (or spaces), SSA never-issued ranges excluded.
std::size_t ssn(const Text& t, std::size_t g) {
  unsigned char s = t.at(g + 3);
  if ((s != '-' && s != ' ') || t.at(g + 6) != s) return 0;
  long a = digits(t, g, 3), gr = digits(t, g + 4, 2), se = digits(t, g + 7, 4);
  if (a < 0 || gr < 0 || se < 0) return 0;
  if (a == 0 || a == 666 || a >= 900 || gr == 0 || se == 0) return 0;
  if (!right_ok(t, g + 11)) return 0;
  return g + 11;
}

// --- Credit card: 13-19 digits, groups of 4 (or Amex 4-6-5, Diners 4-6-4), IIN + Luhn.
bool known_iin(const char* d, int n) {
  auto pre = [&](int k) { long v = 0; for (int i = 0; i < k; ++i) v = v * 10 + (d[i] - '0'); return v; };
  if (d[0] == '4') return n == 13 || n == 16 || n == 19;                      // Visa
  long p2 = pre(2), p3 = pre(3), p4 = pre(4), p6 = pre(6);
  if (p2 >= 51 && p2 <= 55) return n == 16;                                   // Mastercard
  if (p4 >= 2221 && p4 <= 2720) return n == 16;                               // Mastercard 2-series
  if (p2 == 34 || p2 == 37) return n == 15;                                   // Amex
  if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) ||
      (p6 >= 622126 && p6 <= 622925))
    return n >= 16;                                                           // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16;                               // JCB
  if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305)) return n >= 14;  // Diners
  if (p2 == 62) return n >= 16;                                               // UnionPay
  return false;
}

// All the groups, or an ungrouped first one ("4111111111111111 10.1.2.3": a card, then an IP).
std::size_t credit_card(const Text& t, std::size_t g) {
  char d[19];
  int nd = 0, groups[8], cum[8], ng = 0;
  std::size_t ends[8];
  unsigned char sep = 0;
  std::size_t j = g;
  bool longer = true;  // the digits go on past what was read
  while (ng < 8) {
    int gl = 0;
    while (j < t.n && is_digit(t.p[j]) && nd < 19) d[nd++] = static_cast<char>(t.p[j++]), ++gl;
    if (is_digit(t.at(j))) break;  // more than 19 digits: this group is no card's
    groups[ng] = gl, cum[ng] = nd, ends[ng] = j, ++ng;
    unsigned char c = t.at(j);
    if (!((c == ' ' || c == '-') && (sep == 0 || sep == c) && is_digit(t.at(j + 1)))) {
      longer = false;
      break;
    }
    sep = c;
    ++j;
  }
  for (int k = ng; k >= 1; --k) {
    // Grouped: all the groups or nothing ("4111 1111 1111 1111 1111 1" is no card).
    if (k > 1 && (k < ng || longer)) continue;
    if (cum[k - 1] < 13 || !right_ok(t, ends[k - 1])) continue;
    if (k > 1) {
      bool fours = true;
      for (int q = 0; q + 1 < k; ++q) fours = fours && groups[q] == 4;
      fours = fours && groups[k - 1] >= 1 && groups[k - 1] <= 4;
      bool amex = k == 3 && groups[0] == 4 && groups[1] == 6 && (groups[2] == 5 || groups[2] == 4);
      if (!fours && !amex) continue;
    }
    int n = cum[k - 1];
    if (known_iin(d, n) && luhn_ok({d, static_cast<std::size_t>(n)})) return ends[k - 1];
  }
  return 0;
}

// --- French NIR: S YY MM DD CCC OOO KK (spaces optional), DD may be 2A/2B (Corsica).
std::size_t fr_nir(const Text& t, std::size_t g) {
  static constexpr int kWidths[7] = {1, 2, 2, 2, 3, 3, 2};
  unsigned char s0 = t.at(g);
  if (s0 != '1' && s0 != '2') return 0;
  char num[15];
  int k = 0;
  std::size_t j = g;
  int corsica = 0;  // 'A' or 'B'
  for (int f = 0; f < 7; ++f) {
    if (f > 0 && t.at(j) == ' ') ++j;
    for (int w = 0; w < kWidths[f]; ++w, ++j) {
      unsigned char c = t.at(j);
      if (f == 3 && w == 1 && num[k - 1] == '2' && (c == 'A' || c == 'B')) {
        corsica = c;
        num[k++] = '0';  // placeholder, replaced below
        continue;
      }
      if (!is_digit(c)) return 0;
      num[k++] = static_cast<char>(c);
    }
  }
  if (!right_ok(t, j)) return 0;
  int month = (num[3] - '0') * 10 + (num[4] - '0');
  if (month == 0 || (month > 12 && month < 20)) return 0;
  if (corsica) {  // 2A -> 19, 2B -> 18 for the key
    num[5] = '1';
    num[6] = corsica == 'A' ? '9' : '8';
  }
  uint64_t n = 0;
  for (int i = 0; i < 13; ++i) n = n * 10 + static_cast<uint64_t>(num[i] - '0');
  int key = (num[13] - '0') * 10 + (num[14] - '0');
  if (key != static_cast<int>(97 - n % 97)) return 0;
  return j;
}

// --- Phones.
// International: '+', 8-15 digits joined by single ' ', '.', '-' or "(..)" groups.
std::size_t phone_intl(const Text& t, std::size_t g) {
  if (t.at(g - 1) != '+' || is_word(t.at(g - 2)) || t.at(g) == '0') return 0;
  int nd = 0;
  std::size_t j = g;
  for (;;) {
    while (j < t.n && is_digit(t.p[j])) {
      if (++nd > 15) return 0;
      ++j;
    }
    std::size_t k = j;
    while (k < t.n && k - j < 2 &&
           (t.p[k] == ' ' || t.p[k] == '.' || t.p[k] == '-' || t.p[k] == '(' || t.p[k] == ')'))
      ++k;
    if (k > j && is_digit(t.at(k))) {
      j = k;
      continue;
    }
    break;
  }
  if (nd < 8 || !right_ok(t, j)) return 0;
  return j;
}

// US: (AAA) EEE-SSSS, (AAA)EEE-SSSS, AAA-EEE-SSSS, AAA.EEE.SSSS; area code 2-9xx.
std::size_t phone_us(const Text& t, std::size_t g, std::size_t& begin) {
  unsigned char a0 = t.at(g);
  if (a0 < '2' || a0 > '9' || digits(t, g, 3) < 0) return 0;
  std::size_t j = g + 3;
  unsigned char sep;
  if (t.at(g - 1) == '(') {
    if (t.at(j) != ')') return 0;
    ++j;
    if (t.at(j) == ' ') ++j;
    sep = '-';
    begin = g - 1;
    if (!left_ok(t, g - 1)) return 0;
  } else {
    sep = t.at(j);
    if ((sep != '-' && sep != '.') || !left_ok(t, g)) return 0;
    ++j;
    begin = g;
  }
  if (digits(t, j, 3) < 0) return 0;
  j += 3;
  unsigned char s2 = t.at(j);
  if (s2 != sep && !(sep == '-' && s2 == ' ' && begin != g)) return 0;
  if (digits(t, j + 1, 4) < 0) return 0;
  j += 5;
  if (!right_ok(t, j)) return 0;
  return j;
}

// French national: 0X XX XX XX XX with one separator kind (' ', '.', '-').
std::size_t phone_fr(const Text& t, std::size_t g) {
  if (t.at(g) != '0' || !is_digit(t.at(g + 1)) || t.at(g + 1) == '0') return 0;
  unsigned char sep = t.at(g + 2);
  if (sep != ' ' && sep != '.' && sep != '-') return 0;
  std::size_t j = g + 2;
  for (int k = 0; k < 4; ++k, j += 3) {
    if (t.at(j) != sep || digits(t, j + 1, 2) < 0) return 0;
  }
  if (!right_ok(t, j)) return 0;
  return j;
}

// --- IPv4: four 0-255 octets, no leading zeros, not part of a longer dotted number.
std::size_t ipv4(const Text& t, std::size_t g) {
  std::size_t j = g;
  for (int o = 0; o < 4; ++o) {
    if (o > 0) {
      if (t.at(j) != '.') return 0;
      ++j;
    }
    int v = 0, len = 0;
    while (len < 4 && is_digit(t.at(j))) v = v * 10 + (t.p[j++] - '0'), ++len;
    if (len == 0 || len > 3 || v > 255 || (len > 1 && t.p[j - len] == '0')) return 0;
  }
  // A CIDR suffix or a range may follow ("10.0.0.0/8", "10.0.0.1-10.0.0.9").
  unsigned char c = t.at(j);
  if (is_word(c) || (c == '.' && is_digit(t.at(j + 1)))) return 0;
  return j;
}

// --- IBAN: country + 2 check digits + BBAN of the country's length; spaces every 4; mod-97.
struct IbanLengths {
  uint8_t len[26][26] = {};
  constexpr IbanLengths() {
    const char* table =
        "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29CH21CR22CY28CZ24DE22DK18DO28EE20EG29ES24"
        "FI18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IS26IT27JO30KW30KZ20LB28LI21"
        "LT20LU20LV21MC27MD24ME22MK19MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29RO24RS22SA24"
        "SE24SI19SK24SM27TN24TR26UA29VA22VG24XK20";
    for (const char* p = table; *p; p += 4)
      len[p[0] - 'A'][p[1] - 'A'] = static_cast<uint8_t>((p[2] - '0') * 10 + (p[3] - '0'));
  }
};
constexpr IbanLengths kIban;

std::size_t iban(const Text& t, std::size_t i, std::size_t& begin) {
  std::size_t s = i - 2;
  unsigned char c0 = t.at(s), c1 = t.at(s + 1);
  if (!is_upper(c0) || !is_upper(c1) || is_word(t.at(s - 1))) return 0;
  unsigned want = kIban.len[c0 - 'A'][c1 - 'A'];
  if (want == 0) return 0;
  char buf[34];
  unsigned k = 0;
  std::size_t j = s;
  while (k < want) {
    unsigned char c = t.at(j);
    if (c == ' ' && k > 0 && k % 4 == 0 && (is_upper(t.at(j + 1)) || is_digit(t.at(j + 1)))) {
      ++j;
      continue;
    }
    if (!is_upper(c) && !is_digit(c)) return 0;
    if (k >= 2 && k < 4 && !is_digit(c)) return 0;
    buf[k++] = static_cast<char>(c);
    ++j;
  }
  if (is_word(t.at(j))) return 0;
  if (!iban_mod97_ok({buf, k})) return 0;
  begin = s;
  return j;
}

// One digit cluster starting at i (the previous byte is not a digit). Returns where to resume.
std::size_t on_digits(const Text& t, std::size_t i, uint32_t mask, std::vector<Finding>& out) {
  // The cluster: digits joined by up to two of " -.()".
  std::size_t j = i;
  int nd = 0;
  bool dot = false;
  for (;;) {
    while (j < t.n && is_digit(t.p[j])) ++j, ++nd;
    std::size_t k = j;
    while (k < t.n && k - j < 2 &&
           (t.p[k] == ' ' || t.p[k] == '-' || t.p[k] == '.' || t.p[k] == '(' || t.p[k] == ')'))
      ++k;
    if (k == j || !is_digit(t.at(k))) break;
    for (std::size_t q = j; q < k; ++q) dot = dot || t.p[q] == '.';
    j = k;
  }
  const std::size_t end = j;
  std::size_t resume = end;

  if ((mask & bit(E::iban)) && is_upper(t.at(i - 1))) {
    std::size_t b = 0;
    if (std::size_t e = iban(t, i, b)) {
      add(out, E::iban, b, e);
      return e > resume ? e : resume;
    }
  }
  const bool many = nd >= 8;
  if (!many && !dot && !(mask & bit(E::fr_nir))) return resume;

  std::size_t skip = 0;  // group starts before this are inside a finding already
  for (std::size_t g = i; g < end; ++g) {
    // A group start: the cluster's first digit, or one after ' ' or '(' (never after '.' or
    // '-', which glue digits into one longer number).
    if (!is_digit(t.p[g]) || g < skip || (g > i && t.p[g - 1] != ' ' && t.p[g - 1] != '('))
      continue;
    if (!left_ok(t, g)) continue;
    Entity e = E::custom;
    std::size_t b = g, f = 0;
    if (t.at(g - 1) == '+') {  // "+CC...": a phone or nothing
      if ((mask & bit(E::phone)) && (f = phone_intl(t, g))) e = E::phone, b = g - 1;
    } else if (dot && (mask & bit(E::ipv4)) && (f = ipv4(t, g))) {
      e = E::ipv4;
    } else if (many && (mask & bit(E::us_ssn)) && (f = ssn(t, g))) {
      e = E::us_ssn;
    } else if (many && (mask & bit(E::credit_card)) && (f = credit_card(t, g))) {
      e = E::credit_card;
    } else if ((mask & bit(E::fr_nir)) && (f = fr_nir(t, g))) {
      e = E::fr_nir;
    } else if (many && (mask & bit(E::phone))) {
      if (!(f = phone_us(t, g, b))) f = phone_fr(t, g);
      if (f) e = E::phone;
    }
    if (f) {
      add(out, e, b, f);
      skip = f;
      if (f > resume) resume = f;
    }
  }
  return resume;
}

// --- Email at '@': local@domain.tld, TLD letters only, >= 2.
std::size_t email(const Text& t, std::size_t a, std::vector<Finding>& out) {
  auto local = [](unsigned char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
  };
  std::size_t s = a;
  while (s > 0 && a - s < 64 && local(t.p[s - 1])) --s;
  if (s > 0 && local(t.p[s - 1])) return a + 1;  // local part too long
  while (s < a && t.p[s] == '.') ++s;
  if (s == a || t.p[a - 1] == '.') return a + 1;
  std::size_t j = a + 1;
  while (j < t.n && j - a <= 254 && (is_alnum(t.p[j]) || t.p[j] == '-' || t.p[j] == '.')) ++j;
  while (j > a + 1 && (t.p[j - 1] == '.' || t.p[j - 1] == '-')) --j;
  // Labels: non-empty, not starting or ending with '-'; at least two; the last letters only.
  std::size_t label = a + 1, labels = 0, last = a + 1;
  for (std::size_t k = a + 1; k <= j; ++k) {
    if (k < j && t.p[k] != '.') continue;
    if (k == label || t.p[label] == '-' || t.p[k - 1] == '-') return a + 1;
    ++labels;
    last = label;
    label = k + 1;
  }
  if (labels < 2 || j - last < 2) return a + 1;
  for (std::size_t k = last; k < j; ++k)
    if (!is_alpha(t.p[k])) return a + 1;
  if (is_word(t.at(j)) || t.at(j) == '@') return a + 1;
  add(out, E::email, s, j);
  return j;
}

// --- IPv6 at ':': full 8 groups, or '::' compressed (>= 2 groups, a digit, a group of >= 3
// hex), optional dotted IPv4 tail. Rejects "std::x", times "12:30:45", MACs, "a[1::2]".
std::size_t ipv6(const Text& t, std::size_t c, std::vector<Finding>& out) {
  if (!is_hex(t.at(c - 1)) && t.at(c + 1) != ':') return c + 1;
  std::size_t s = c;
  while (s > 0 && c - s < 40 && (is_hex(t.p[s - 1]) || t.p[s - 1] == ':')) --s;
  unsigned char before = t.at(s - 1);
  if (is_word(before) || before == '.' || before == ':') return c + 1;
  std::size_t e = c;
  while (e < t.n && e - s < 46 && (is_hex(t.p[e]) || t.p[e] == ':' || t.p[e] == '.')) ++e;
  const std::size_t resume = e;
  if (is_word(t.at(e)) || t.at(e) == ':' || t.at(e) == '.') return resume;  // too long / glued
  while (e > c && t.p[e - 1] == '.') --e;
  if (t.p[e - 1] == ':' && t.at(e - 2) != ':') --e;  // "... fe80::1: next sentence"

  int groups = 0, dbl = 0, digit = 0, wide = 0;
  std::size_t k = s;
  if (t.p[k] == ':') {
    if (t.at(k + 1) != ':') return resume;
    dbl = 1;
    k += 2;
  }
  while (k < e) {
    std::size_t g = k;
    while (k < e && is_hex(t.p[k])) digit |= is_digit(t.p[k]), ++k;
    if (k < e && t.p[k] == '.') {  // dotted IPv4 tail: the last two groups
      std::size_t f = ipv4(t, g);
      if (f != e) return resume;
      groups += 2, wide = 1, digit = 1;
      k = e;
      break;
    }
    std::size_t len = k - g;
    if (len == 0 || len > 4) return resume;
    ++groups;
    wide |= len >= 3;
    if (k == e) break;
    ++k;  // ':'
    if (k < e && t.p[k] == ':') {
      if (dbl) return resume;
      dbl = 1;
      ++k;
    } else if (k == e) {
      return resume;
    }
  }
  bool ok = dbl ? (groups >= 2 && groups <= 7 && digit && wide) : groups == 8;
  if (ok) add(out, E::ipv6, s, e);
  return resume;
}

}  // namespace

bool luhn_ok(std::string_view d) {
  int sum = 0;
  bool dbl = false;
  for (std::size_t i = d.size(); i-- > 0;) {
    int v = d[i] - '0';
    if (v < 0 || v > 9) return false;
    if (dbl && (v *= 2) > 9) v -= 9;
    sum += v;
    dbl = !dbl;
  }
  return !d.empty() && sum % 10 == 0;
}

bool iban_mod97_ok(std::string_view s) {
  if (s.size() < 5) return false;
  unsigned r = 0;
  auto feed = [&](char c) {
    if (c >= '0' && c <= '9') {
      r = (r * 10 + static_cast<unsigned>(c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      r = (r * 100 + static_cast<unsigned>(c - 'A' + 10)) % 97;
    } else {
      r = 1000;  // invalid marker
    }
    return r < 97;
  };
  for (std::size_t i = 4; i < s.size(); ++i)
    if (!feed(s[i])) return false;
  for (std::size_t i = 0; i < 4; ++i)
    if (!feed(s[i])) return false;
  return r == 1;
}

void scan_pii(std::string_view text, uint32_t mask, std::vector<Finding>& out) {
  const Text t{reinterpret_cast<const unsigned char*>(text.data()), text.size()};
  const bool want_email = mask & bit(E::email);
  const bool want_v6 = mask & bit(E::ipv6);
  const uint32_t numeric = bit(E::phone) | bit(E::credit_card) | bit(E::iban) |
                           bit(E::us_ssn) | bit(E::fr_nir) | bit(E::ipv4);
  const bool want_num = mask & numeric;
  auto sep = [](unsigned char x) { return x == ' ' || x == '-' || x == '.' || x == '(' || x == ')'; };
  // One trigger at i; returns the next position to look at (> i).
  auto on_trigger = [&](std::size_t i) -> std::size_t {
    unsigned char c = t.p[i];
    if (c == '@') return want_email ? email(t, i, out) : i + 1;
    if (c == ':') {  // most colons (JSON, "std::", prose) fail this at once
      return want_v6 && (is_hex(t.at(i - 1)) || t.at(i + 1) == ':') ? ipv6(t, i, out) : i + 1;
    }
    std::size_t j = i;
    while (j < t.n && is_digit(t.p[j])) ++j;
    if (!want_num) return j;
    // Fast path: a short number that joins nothing ("8080", "x86", "3 apples") can be no
    // entity, unless letters before it may start an IBAN.
    bool joins = sep(t.at(j)) && (is_digit(t.at(j + 1)) ||
                                  (sep(t.at(j + 1)) && is_digit(t.at(j + 2))));
    if (!joins && j - i < 6 && !is_upper(t.at(i - 1))) return j;
    return on_digits(t, i, mask, out);
  };
  std::size_t i = 0, b = 0;
#if defined(__SSE2__)
  // 16-byte blocks: the trigger bits of a block are walked without reloading it.
  while (b + 16 <= t.n) {
    unsigned m = trigger_mask(t.p + b);
    if (i > b) m &= ~0u << (i - b);
    while (m) {
      i = on_trigger(b + static_cast<std::size_t>(__builtin_ctz(m)));
      if (i >= b + 16) break;
      m &= ~0u << (i - b);
    }
    b = i > b + 16 ? i : b + 16;
  }
  if (i < b) i = b;
#endif
  while (i < t.n) {
    unsigned char c = t.p[i];
    i = static_cast<unsigned>(c - '0') <= 10u || c == '@' ? on_trigger(i) : i + 1;
  }
}

}  // namespace torii::guardrails::detail
