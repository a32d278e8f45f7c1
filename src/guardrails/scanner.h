#pragma once
// The guardrails' built-in detection engine: PII (email, phone, credit card, IBAN, US SSN,
// French NIR, IPv4/IPv6, custom RE2 patterns) and secrets (cloud keys, LLM provider keys,
// GitHub/Slack tokens, JWTs, PEM private keys, high-entropy strings).
//
// Depends only on RE2 and the standard library (it joins the `torii_pure` fuzz library).
//
// How it is fast: no regex runs for the built-ins. Three
// cheap passes find candidates, and only candidates are verified (checksums, shapes, hints):
//   1. PII: an SSE2 sweep for the trigger bytes (digits, ':' and '@'); each digit cluster is
//      examined once, then skipped.
//   2. Secrets: a stride sweep for runs of >= 16 token bytes [A-Za-z0-9+/=_-] (a Horspool-like
//      skip: one probe every ~12 bytes of prose); only such runs are searched for the fixed
//      prefixes (AKIA, sk-, ghp_, xoxb-, eyJ...), the 40/88-char base64 keys and for entropy.
//   3. PEM: memmem for "-----BEGIN" (a GCP service-account JSON is found from its private key).
// Custom patterns: one RE2::Set pass says whether (and which) pattern matches; only then does
// each matching pattern's own RE2 run to find the offsets.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace torii::guardrails {

enum class Entity : uint8_t {
  // PII
  email, phone, credit_card, iban, us_ssn, fr_nir, ipv4, ipv6, custom,
  // secrets
  aws_access_key, aws_secret_key, gcp_api_key, gcp_service_account, azure_key,
  openai_key, anthropic_key, github_token, slack_token, jwt, pem_private_key,
  high_entropy,
};
inline constexpr std::size_t kEntityCount = static_cast<std::size_t>(Entity::high_entropy) + 1;

// "email", "credit_card", "aws_access_key" ...: the config's spelling.
std::string_view entity_name(Entity e);
// The inverse of entity_name (exact, lower case); nullopt for an unknown name.
std::optional<Entity> parse_entity(std::string_view name);
// True for the secret kinds (aws_access_key .. high_entropy).
bool is_secret(Entity e);
// Every built-in PII entity (not `custom`), and every secret entity, in enum order.
std::span<const Entity> pii_entities();
std::span<const Entity> secret_entities();

// One detection: bytes [begin, end) of the scanned text. custom_index is the index in
// ScannerConfig::custom for Entity::custom, 0 otherwise.
struct Finding {
  Entity entity;
  uint16_t custom_index;
  uint32_t begin, end;
  bool operator==(const Finding&) const = default;
};

struct ScannerConfig {
  // Which built-in entities to look for (empty: none). Entity::custom here is ignored: custom
  // patterns run whenever `custom` is non-empty.
  std::vector<Entity> entities;
  // User entities: RE2 patterns (UTF-8, unanchored), validated by Scanner::build.
  struct Custom {
    std::string name;
    std::string pattern;
  };
  std::vector<Custom> custom;
  // high_entropy: a token of [A-Za-z0-9+/=_-] (split at a "key=" '=') of at least
  // entropy_min_length bytes whose Shannon entropy is >= entropy_threshold bits per byte.
  double entropy_threshold = 4.0;
  std::size_t entropy_min_length = 32;
};

// An immutable, thread-safe detector set, built once from a validated config and shared.
class Scanner {
 public:
  // Compiles the config. Errors (400 invalid_request_error, param "custom[i].pattern") name the
  // bad custom pattern and carry RE2's message; too many custom patterns (> 65535), an empty
  // pattern, entropy_min_length < 8 or a threshold outside (0, 8] are errors too. Never throws
  // on bad patterns.
  static Result<std::shared_ptr<const Scanner>> build(ScannerConfig cfg);

  // Every finding in `text` (UTF-8, possibly invalid: never crashes, never reads past the end),
  // sorted by begin, non-overlapping. On overlap: a secret beats PII; otherwise the longer
  // wins; at equal length a specific secret beats high_entropy, then the earlier one stays.
  // `out` is cleared first and its capacity reused: no allocation when nothing is found.
  // Texts over 4 GiB are scanned up to 4 GiB (offsets are 32-bit).
  // Thread-safe (const).
  void scan(std::string_view text, std::vector<Finding>& out) const;

  // Convenience: true when scan() would find anything (same cost).
  bool any(std::string_view text) const;

  const ScannerConfig& config() const { return cfg_; }
  // The name of a finding: entity_name(), or the custom entity's configured name.
  std::string_view name_of(const Finding& f) const;

  ~Scanner();
  struct CustomSet;  // RE2::Set + one RE2 per pattern (scanner.cpp)

 private:
  Scanner() = default;
  ScannerConfig cfg_;
  uint32_t mask_ = 0;  // bit per Entity
  std::unique_ptr<const CustomSet> custom_;
};

namespace detail {

inline constexpr uint32_t bit(Entity e) { return uint32_t{1} << static_cast<unsigned>(e); }

// The passes (raw findings, appended in any order, possibly overlapping; scan() resolves).
// scanner_pii.cpp: digits, ':' and '@' triggers.
void scan_pii(std::string_view text, uint32_t mask, std::vector<Finding>& out);
// scanner_secrets.cpp: long token runs and PEM blocks.
struct SecretParams {
  uint32_t mask;
  double entropy_threshold;
  std::size_t entropy_min_length;
};
void scan_secrets(std::string_view text, const SecretParams& p, std::vector<Finding>& out);

// Checksums, exposed for the tests.
bool luhn_ok(std::string_view digits);
// `iban` without spaces: country code, check digits, BBAN.
bool iban_mod97_ok(std::string_view iban);
// Shannon entropy in bits per byte.
double shannon_entropy(std::string_view s);

}  // namespace detail

}  // namespace torii::guardrails
