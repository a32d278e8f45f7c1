// Scanner: entity names, build (custom patterns), and scan (the passes, then overlap
// resolution). The detectors themselves are in scanner_pii.cpp and scanner_secrets.cpp.
#include "guardrails/scanner.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <limits>

namespace torii::guardrails {

namespace {

constexpr std::array<std::string_view, kEntityCount> kNames = {
    "email",          "phone",          "credit_card",  "iban",
    "us_ssn",         "fr_nir",         "ipv4",         "ipv6",
    "custom",         "aws_access_key", "aws_secret_key", "gcp_api_key",
    "gcp_service_account", "azure_key", "openai_key",   "anthropic_key",
    "github_token",   "slack_token",    "jwt",          "pem_private_key",
    "high_entropy"};

constexpr std::array<Entity, 8> kPii = {Entity::email,  Entity::phone,  Entity::credit_card,
                                        Entity::iban,   Entity::us_ssn, Entity::fr_nir,
                                        Entity::ipv4,   Entity::ipv6};
constexpr std::array<Entity, 12> kSecrets = {
    Entity::aws_access_key, Entity::aws_secret_key, Entity::gcp_api_key,
    Entity::gcp_service_account, Entity::azure_key, Entity::openai_key,
    Entity::anthropic_key, Entity::github_token, Entity::slack_token,
    Entity::jwt, Entity::pem_private_key, Entity::high_entropy};

constexpr uint32_t kPiiMask = [] {
  uint32_t m = 0;
  for (Entity e : kPii) m |= detail::bit(e);
  return m;
}();
constexpr uint32_t kSecretMask = [] {
  uint32_t m = 0;
  for (Entity e : kSecrets) m |= detail::bit(e);
  return m;
}();

ApiError config_error(std::string message, std::string param) {
  ApiError e;
  e.status = 400;
  e.type = "invalid_request_error";
  e.code = "invalid_guardrail";
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

// Overlap ranking: does `a` beat `b`?
bool beats(const Finding& a, const Finding& b) {
  bool sa = is_secret(a.entity), sb = is_secret(b.entity);
  if (sa != sb) return sa;
  uint32_t la = a.end - a.begin, lb = b.end - b.begin;
  if (la != lb) return la > lb;
  bool ha = a.entity == Entity::high_entropy, hb = b.entity == Entity::high_entropy;
  return hb && !ha;
}

// In place: sorted by begin, non-overlapping. Each finding is compared with the kept ones it
// overlaps (a suffix of the kept list, as they are sorted and disjoint); it replaces them only
// if it beats every one of them.
void resolve(std::vector<Finding>& v) {
  if (v.size() < 2) return;
  std::sort(v.begin(), v.end(), [](const Finding& a, const Finding& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    return a.end > b.end;
  });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const Finding c = v[i];
    std::size_t j = kept;
    bool wins = true;
    while (j > 0 && v[j - 1].end > c.begin) {
      if (!beats(c, v[j - 1])) {
        wins = false;
        break;
      }
      --j;
    }
    if (!wins) continue;
    v[j] = c;
    kept = j + 1;
  }
  v.resize(kept);
}

}  // namespace

struct Scanner::CustomSet {
  explicit CustomSet(const RE2::Options& opt) : set(opt, RE2::UNANCHORED) {}
  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> each;
};

Scanner::~Scanner() = default;

std::string_view entity_name(Entity e) {
  auto i = static_cast<std::size_t>(e);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

std::optional<Entity> parse_entity(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<Entity>(i);
  return std::nullopt;
}

bool is_secret(Entity e) { return (kSecretMask & detail::bit(e)) != 0; }
std::span<const Entity> pii_entities() { return kPii; }
std::span<const Entity> secret_entities() { return kSecrets; }

Result<std::shared_ptr<const Scanner>> Scanner::build(ScannerConfig cfg) {
  if (!(cfg.entropy_threshold > 0.0 && cfg.entropy_threshold <= 8.0))
    return config_error("entropy_threshold must be in (0, 8] bits per byte",
                        "entropy_threshold");
  if (cfg.entropy_min_length < 8 || cfg.entropy_min_length > 4096)
    return config_error("entropy_min_length must be between 8 and 4096", "entropy_min_length");
  if (cfg.custom.size() > std::numeric_limits<uint16_t>::max())
    return config_error("too many custom patterns (at most 65535)", "custom");

  std::shared_ptr<Scanner> s(new Scanner());
  for (Entity e : cfg.entities) {
    if (static_cast<std::size_t>(e) >= kEntityCount)
      return config_error("unknown entity", "entities");
    if (e != Entity::custom) s->mask_ |= detail::bit(e);
  }

  if (!cfg.custom.empty()) {
    RE2::Options opt;
    opt.set_log_errors(false);
    auto cs = std::make_unique<CustomSet>(opt);
    for (std::size_t i = 0; i < cfg.custom.size(); ++i) {
      const auto& c = cfg.custom[i];
      std::string param = "custom[" + std::to_string(i) + "].pattern";
      std::string label = c.name.empty() ? "#" + std::to_string(i) : "'" + c.name + "'";
      if (c.pattern.empty()) return config_error("custom entity " + label + ": empty pattern", param);
      auto re = std::make_unique<RE2>(c.pattern, opt);
      if (!re->ok())
        return config_error("custom entity " + label + ": not an RE2 pattern: " + re->error(),
                            param);
      std::string err;
      if (cs->set.Add(c.pattern, &err) < 0)
        return config_error("custom entity " + label + ": not an RE2 pattern: " + err, param);
      cs->each.push_back(std::move(re));
    }
    if (!cs->set.Compile())
      return config_error("custom patterns: too large to compile together (RE2 memory budget)",
                          "custom");
    s->custom_ = std::move(cs);
  }
  s->cfg_ = std::move(cfg);
  return std::shared_ptr<const Scanner>(std::move(s));
}

void Scanner::scan(std::string_view text, std::vector<Finding>& out) const {
  out.clear();
  if (text.size() > std::numeric_limits<uint32_t>::max())
    text = text.substr(0, std::numeric_limits<uint32_t>::max());
  if (mask_ & kPiiMask) detail::scan_pii(text, mask_, out);
  if (mask_ & kSecretMask)
    detail::scan_secrets(text, {mask_, cfg_.entropy_threshold, cfg_.entropy_min_length}, out);
  if (custom_ && custom_->set.Match(text, nullptr)) {
    std::vector<int> which;
    custom_->set.Match(text, &which);
    for (int idx : which) {
      const RE2& re = *custom_->each[static_cast<std::size_t>(idx)];
      re2::StringPiece rest(text.data(), text.size()), m;
      std::size_t pos = 0;
      while (pos <= text.size() &&
             re.Match(rest, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
        auto b = static_cast<std::size_t>(m.data() - text.data());
        auto e = b + m.size();
        if (e > b)
          out.push_back({Entity::custom, static_cast<uint16_t>(idx), static_cast<uint32_t>(b),
                         static_cast<uint32_t>(e)});
        pos = e > b ? e : b + 1;
      }
    }
  }
  resolve(out);
}

bool Scanner::any(std::string_view text) const {
  thread_local std::vector<Finding> scratch;
  scan(text, scratch);
  return !scratch.empty();
}

std::string_view Scanner::name_of(const Finding& f) const {
  if (f.entity == Entity::custom && f.custom_index < cfg_.custom.size())
    return cfg_.custom[f.custom_index].name;
  return entity_name(f.entity);
}

}  // namespace torii::guardrails
