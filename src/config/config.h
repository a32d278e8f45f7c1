#pragma once
// The typed configuration, as loaded from YAML and validated (see docs/CONFIG.md).
// A Config is plain data; config/snapshot.h builds the live objects from it.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "server/server.h"

namespace torii {

namespace identity {
class Vault;  // identity/vault.h
}

// A secret as written in config: "${env:NAME}", "${file:/path}", "${vault:NAME/KEY}" or,
// discouraged, a literal.
// It is resolved at load; the resolved value is never logged or echoed in an error.
struct SecretRef {
  std::string reference;  // as written, safe to print (a literal prints as "<literal>")
  std::string value;      // resolved
  bool literal = false;   // written as a plain value in the file: the caller should warn
  bool empty() const { return value.empty(); }
};

struct UpstreamTimeouts {
  std::chrono::milliseconds connect{5'000};
  std::chrono::milliseconds first_byte{300'000};  // request sent -> response head
  std::chrono::milliseconds idle{120'000};        // between two reads of the body
};

// base_url value meaning "the gateway's in-process mock" (torii mock speaks every kind's format).
inline constexpr std::string_view kBuiltinMock = "builtin-mock";

// A circuit breaker per target (provider + model), shared by every worker thread. It opens on
// `consecutive_failures` failures in a row, or when at least `min_requests` calls in the last
// `window` failed at `error_rate_percent` or more; after `cooldown` it lets `half_open_probes`
// calls through, and closes when they all succeed (docs/ROUTING.md).
struct BreakerConfig {
  bool enabled = true;
  int consecutive_failures = 5;   // 0: this trigger is off
  int error_rate_percent = 50;    // 0: this trigger is off
  int min_requests = 20;          // calls in the window before the rate counts
  std::chrono::milliseconds window{10'000};
  std::chrono::milliseconds cooldown{5'000};
  int half_open_probes = 1;
};

// Optional active checks: GET {base_url}{path} every `interval`; a failure takes the provider's
// targets out of selection until a check passes again.
struct HealthCheckConfig {
  bool enabled = false;
  std::string path = "/models";
  std::chrono::milliseconds interval{10'000};
  std::chrono::milliseconds timeout{2'000};
};

struct ProviderConfig {
  std::string name;       // how models address it: "<name>/<model>"
  std::string kind;       // vendor kind: openai, mistral, groq, ..., openai-compatible, mock
  std::string base_url;   // default from the vendor table when empty
  SecretRef api_key;
  // More keys for the same account(s): requests rotate over api_key and these, and a key that
  // gets a 429 cools down alone (docs/ROUTING.md).
  std::vector<SecretRef> extra_api_keys;
  std::string ca_file;    // extra CA bundle (PEM), added to the system store
  UpstreamTimeouts timeouts;
  std::vector<std::string> models;                // listed by GET /v1/models
  std::map<std::string, std::string> headers;     // extra upstream headers
  // Kind-specific settings (each kind's adapter says which it reads; see docs/PROVIDERS.md).
  std::string api_version;  // azure: api-version; anthropic: anthropic-version
  std::string region;       // bedrock: AWS region (e.g. us-east-1)
  std::string account_id;   // cloudflare: account id
  SecretRef aws_access_key_id, aws_secret_access_key, aws_session_token;  // bedrock
  std::map<std::string, std::string> options;     // other kind-specific knobs (strings)
  BreakerConfig breaker;
  HealthCheckConfig health_check;
  // How long a key rests after a 429 that carries no Retry-After.
  std::chrono::milliseconds rate_limit_cooldown{1'000};
  int line = 0;                                   // where it was declared, for messages
};

// How a route picks among the candidates of one priority tier.
enum class Strategy { round_robin, weighted, random, least_inflight, lowest_latency, p2c };

struct RouteTargetConfig {
  std::string provider, model;
  int weight = 1;    // weighted: share of the traffic
  int priority = 0;  // tier: 0 first; a higher tier only when the lower ones are exhausted
  int line = 0;
};

struct RetryConfig {
  int attempts = 0;  // upstream calls per request, all targets together; 0: one per target
  std::chrono::milliseconds backoff{100};       // before a try of an already tried target,
  std::chrono::milliseconds max_backoff{2'000}; // doubled each time, full jitter
  std::chrono::milliseconds per_try_timeout{0}; // until the answer can start; 0: none
  std::chrono::milliseconds deadline{0};        // all tries and backoffs together; 0: none
  int budget_percent = 20;          // retries at most this share of the route's requests,
  int min_retries_per_second = 10;  // plus this many a second (over a 10 s window)
};

// Which failures of a try send the request on to the next candidate (else the failure is the
// answer). Connection failures, timeouts, 5xx and 429 by default.
struct FailoverConfig {
  bool connect = true;   // resolve, connect, TLS
  bool reset = true;     // the connection broke or the answer was cut/unreadable
  bool timeout = true;   // connect, first-byte, idle, per-try timeouts
  bool server_errors = true;  // any 5xx
  bool rate_limited = true;   // 429 (the key or target also cools down)
  std::vector<int> statuses;  // more statuses, e.g. 400, 404, 413
  std::vector<std::string> errors;  // a 4xx whose upstream error text contains one of these
};

// One condition of a content rule or an authorization rule: `subject` names what is read, `op`
// how it is compared. Values of equals/in may be globs ('*' matches any run of characters).
struct RuleCondition {
  enum class Subject {
    header, metadata, field, prompt_tokens, group, modality,  // routing and authorization
    consumer, key, claim, model, provider, param, time, weekday  // authorization only
  };
  enum class Op { equals, in, exists, above, below, between };
  Subject subject = Subject::header;
  std::string key;                  // header name, metadata key, JSON pointer, claim, param
  Op op = Op::equals;
  std::vector<std::string> values;  // equals: one; in: several
  double number = 0;                // above / below (prompt_tokens: a whole number)
  int from_minute = 0, to_minute = 0;  // time between: minutes of the UTC day, [from, to)
  bool negate = false;              // `not: true`: the condition holds when the test fails
  bool glob = false;                // some value holds a '*'
};

// Content-based routing: when every condition holds, the request goes to `route` instead.
struct RouteRuleConfig {
  std::vector<RuleCondition> when;
  std::string route;
  int line = 0;
};

// A route's use of the prompt library (docs/PROMPTS.md).
struct RoutePromptsConfig {
  bool enabled = false;               // the route has a `prompts:` key (even an empty one)
  std::string context;                // applied to every request ("" : none)
  std::vector<std::string> contexts;  // a client may pick one of these instead
  std::vector<std::string> templates; // the templates a client may use
};

struct RouteConfig {
  std::string name;   // the alias clients put in "model"
  std::string group;  // only callers in this consumer group see and use it; empty: everyone
  Strategy strategy = Strategy::round_robin;
  std::vector<RouteTargetConfig> targets;
  RetryConfig retry;
  FailoverConfig failover;
  std::vector<RouteRuleConfig> rules;  // checked in order before the targets
  RoutePromptsConfig prompts;
  bool cache = true;  // false: this route's answers are never cached (docs/CACHING.md)
  int line = 0;
};

// A consumer: an app, a user or a team. Keys and JWT subjects map to one; its metadata and
// groups are what authorization rules and group-scoped routes read (docs/SECURITY.md).
struct ConsumerConfig {
  std::string id;
  std::string kind = "app";  // app | user | team
  std::string team;          // the id of a team consumer whose metadata and groups it inherits
  std::map<std::string, std::string> metadata;
  std::vector<std::string> groups;
  int line = 0;
};

// A virtual API key. Held as a SHA-256 digest only: either given as `key_sha256` (the key
// itself never written anywhere) or resolved from `key` (a secret reference) and hashed at load.
struct ApiKeyConfig {
  std::string name;  // printable identity of the key
  SecretRef key;     // empty when given as sha256
  std::string sha256;  // hex digest (64 chars) when given so
  std::string consumer;  // the consumer it belongs to; empty: the key is its own consumer
  bool enabled = true;
  int64_t expires_at = 0;  // unix seconds; 0: never
  std::vector<std::string> groups;  // consumer groups (group-scoped routes)
  std::map<std::string, std::string> metadata;
  // Earlier values of this key still accepted until their expiry (rotation grace period).
  struct Previous {
    SecretRef key;
    std::string sha256;
    int64_t expires_at = 0;
  };
  std::vector<Previous> previous;
  int line = 0, key_line = 0;
};

// A JWT issuer whose bearer tokens are accepted (OIDC). Keys come from `jwks_url` (fetched,
// cached for `jwks_refresh`, refetched when a token names an unknown kid), `jwks_file`, or
// `hmac_secret` (HS256).
struct JwtIssuerConfig {
  std::string issuer;                  // the "iss" the tokens carry
  std::vector<std::string> audiences;  // "aud" must hold one; empty: not checked
  std::string jwks_url;
  std::string jwks_file;
  SecretRef hmac_secret;
  std::vector<std::string> algorithms{"RS256", "ES256", "EdDSA"};
  std::chrono::seconds leeway{60};
  std::chrono::seconds jwks_refresh{600};
  std::chrono::seconds jwks_min_refetch{10};  // unknown kid: at most one refetch this often
  std::string consumer_claim = "sub";  // the consumer id
  std::string groups_claim = "groups";  // a string or an array of strings; "" : none
  std::map<std::string, std::string> metadata_claims;  // metadata key -> claim name
  std::string consumer;  // when set, every token of this issuer is this configured consumer
  int line = 0;
};

// Authorization: rules evaluated for each request once its route is known. Any matching deny
// rule refuses the request (deny wins); with default deny, a request needs a matching allow rule.
struct AuthzRuleConfig {
  std::string id;
  bool deny = true;  // effect: deny | allow
  std::vector<RuleCondition> when;  // all must hold; empty: always
  int line = 0;
};

struct AuthorizationConfig {
  bool default_allow = true;
  std::vector<AuthzRuleConfig> rules;
};

// The vault that ${vault:NAME/KEY} references read (docs/SECURITY.md). One backend.
struct VaultConfig {
  std::string backend;  // "" (none) | env | file | local | hashicorp
  std::string prefix = "TORII_SECRET_";  // env: NAME/KEY -> TORII_SECRET_NAME_KEY
  std::string directory;                 // file: {directory}/NAME/KEY
  std::string path;                      // local: the encrypted store file
  SecretRef master_key;                  // local: 32 bytes, base64 or hex
  std::string address;                   // hashicorp: http(s)://host:port
  std::string mount = "secret";          // hashicorp: the KV v2 mount
  std::string namespace_;                // hashicorp: X-Vault-Namespace (Enterprise)
  SecretRef token;                       // hashicorp: X-Vault-Token
  std::string ca_file;                   // hashicorp: extra CA bundle
  std::chrono::seconds ttl{300};         // cached values are refetched after this
  int line = 0;
};

// Egress control: provider calls only go to the hosts of configured providers (and
// allow_hosts), and never to a loopback, private, link-local or metadata address unless a
// network in `allow_networks` holds it. Checked on the resolved address. The vault and JWKS
// addresses are operator infrastructure and not subject to it.
struct EgressConfig {
  std::vector<std::string> allow_hosts;     // more host names that may be called
  std::vector<std::string> allow_networks;  // CIDRs exempt from the private-address refusal
};

// ---- Quotas (docs/QUOTAS.md) ----

// What a limit or budget counts separately: one counter per distinct combination of these.
enum class QuotaScope { key, consumer, group, model, route, provider };

// Requests and/or tokens per window, checked with GCRA.
struct RateLimitConfig {
  std::string id;
  std::vector<QuotaScope> scope;      // empty: one counter for every request it applies to
  std::vector<RuleCondition> when;    // the requests it applies to (all must hold); empty: all
  int64_t requests = 0;               // per window; 0: not limited
  int64_t tokens = 0;                 // prompt + completion per window; 0: not limited
  std::chrono::milliseconds window{60'000};  // second | minute | hour | day
  int line = 0;
};

enum class BudgetPeriod { hour, day, week, month, total };

struct BudgetConfig {
  std::string id;
  std::vector<QuotaScope> scope;
  std::vector<RuleCondition> when;
  int64_t usd_micros = 0;  // money per period (micro-USD); 0: not limited
  int64_t tokens = 0;      // tokens per period; 0: not limited
  BudgetPeriod period = BudgetPeriod::month;  // renews on the UTC calendar (weeks: Monday)
  bool soft = false;       // soft: never refuses; alerts at 80% and 100%
  std::string webhook;     // soft (or block) alerts are POSTed here; "" none
  int line = 0;
};

struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  SecretRef password;      // AUTH; empty: none
  std::string prefix = "torii:";  // every key starts with it
  int pool = 2;            // connections per worker thread
  std::chrono::milliseconds timeout{50};   // per command round trip
  std::chrono::milliseconds connect_timeout{200};
};

// A price per model, in micro-USD: per 1M tokens for tokens, per unit for images and audio.
// -1: not given (cached reads then cost the input price, cache writes the input price,
// reasoning the output price).
struct PriceConfig {
  int64_t input = -1, output = -1, cached_input = -1, cache_write = -1, reasoning = -1;
  int64_t image = -1, audio_second = -1, character = -1;
};

struct QuotasConfig {
  std::string store = "memory";  // memory | redis
  RedisConfig redis;
  bool fail_open = true;         // the store is unreachable: count locally (true) or refuse (503)
  int64_t default_max_tokens = 4096;  // reservations for requests without max_tokens
  std::vector<RateLimitConfig> limits;
  std::vector<BudgetConfig> budgets;
  bool active() const { return !limits.empty() || !budgets.empty(); }
};

// One audit sink (docs/AUDIT.md). Keys not used by a type are rejected at load.
struct AuditSinkConfig {
  std::string type;  // sqlite | jsonl | webhook | redis | stdout
  std::string name;  // label in logs and metrics; default: the type (unique)
  std::string path;  // sqlite, jsonl: the file
  // jsonl: rotate when the file reaches max_bytes or is max_age old (0: never); keep `keep`
  // rotated files (file.1 newest ... file.N).
  int64_t max_bytes = 100 << 20;
  std::chrono::seconds max_age{0};
  int keep = 10;
  std::string url;  // webhook: http(s) URL; events are POSTed as a JSON array
  std::map<std::string, std::string> headers;  // webhook: extra headers (values may be secrets)
  std::chrono::milliseconds timeout{5000};  // webhook, redis: per call
  RedisConfig redis;                       // redis: the server (host, port, db, password)
  std::string stream = "torii:audit";      // redis: the stream key
  int64_t maxlen = 1000000;                // redis: XADD MAXLEN ~ (0: unbounded)
};

struct AuditConfig {
  bool enabled = false;          // events are built and sent to `sinks` (metrics need none)
  std::size_t queue = 65536;     // events waiting for the dispatcher; past it they are dropped
  std::size_t batch = 512;       // events per sink write, at most
  std::chrono::milliseconds flush{200};  // a partial batch waits at most this long
  std::string spill_dir = "data/audit/spill";  // a failing sink's events wait here
  bool bodies = false;           // record prompts and answers (after `redact`)
  std::vector<std::string> redact;  // RE2 patterns replaced by "[REDACTED]" in bodies
  bool access_log = true;        // one line per request on stderr (info level)
  std::vector<AuditSinkConfig> sinks;
};

struct TracingConfig {
  std::string otlp_endpoint;  // OTLP/HTTP JSON traces URL (.../v1/traces); empty: no export
  std::map<std::string, std::string> headers;  // values may be secrets: never logged
  std::string service_name = "torii";
  double sample = 1.0;        // fraction of new traces exported (a sampled parent is honoured)
  std::chrono::milliseconds timeout{5000};
};

// The admin API (docs/ADMIN_API.md). Read from the file only (it says where the managed config
// lives, so it cannot live there itself). Present: the admin listener runs and the config store is
// the source of truth (the file seeds an empty store).
struct AdminStoreConfig {
  std::string type = "sqlite";           // sqlite | redis | memory
  std::string path = "data/torii.db";    // sqlite
  RedisConfig redis;                     // redis
};

struct AdminConfig {
  bool enabled = false;                  // an `admin:` section is present (or the demo)
  std::string host = "127.0.0.1";
  uint16_t port = 8081;
  AdminStoreConfig store;
  std::chrono::seconds session_ttl{12 * 3600};   // a login's token lives this long
  int login_failures = 5;                        // failed logins per user or address ...
  std::chrono::seconds login_window{300};        // ... in this window, then 429
  std::string initial_user = "admin";            // created with a temporary password
  std::string swagger_ui_dir;                    // "" : node_modules/swagger-ui-dist, found
};

// One guardrail (docs/GUARDRAILS.md): a check over the request's texts (phase before) and/or
// the answer's (phase after, streams included). Kind-specific fields are validated at load;
// those of other kinds stay at their defaults.
struct GuardrailConfig {
  enum class Action : uint8_t { block, redact, mask };  // what pii / secrets / regex deny do
  enum class OnDeny : uint8_t { inherit, error, refusal };
  enum class Match : uint8_t { any, all, none };  // contains
  std::string id;
  std::string kind;  // regex | contains | pii | secrets | size | response_schema | llm_judge |
                     // moderation | webhook
  bool before = true;  // phases
  bool after = false;
  std::vector<std::string> routes;  // the routes it applies to (aliases); empty: every route
  Action action = Action::block;
  OnDeny on_deny = OnDeny::inherit;  // inherit: guardrails.on_deny
  std::string message;               // the reason a deny gives (default: the kind's own)
  // regex: a text matching any `deny` pattern is denied; with `allow`, a text must match one.
  // RE2 syntax (linear time). `action` redact/mask rewrites deny matches instead of denying.
  std::vector<std::string> allow, deny;
  // contains: words or phrases, matched case-insensitively (Unicode simple folding) unless
  // case_sensitive; any: deny if one occurs; all: deny if all occur; none: deny unless one does.
  std::vector<std::string> words;
  Match match = Match::any;
  bool case_sensitive = false;
  // pii / secrets: entity names (empty: every built-in entity of the kind), custom RE2
  // entities (pii), entropy settings (secrets' high_entropy), and re-inflation of mask
  // placeholders in the answer (pii, action mask).
  std::vector<std::string> entities;
  std::vector<std::pair<std::string, std::string>> custom;  // name, RE2 pattern
  double entropy_threshold = 4.0;
  int64_t entropy_min_length = 32;
  bool reinflate = false;
  // size: -1 = no bound. tokens are estimated (bytes / 4, rounded up).
  int64_t min_chars = -1, max_chars = -1, min_words = -1, max_words = -1;
  int64_t min_messages = -1, max_messages = -1, min_tokens = -1, max_tokens = -1;
  // response_schema (phase after): the answer must be JSON matching this JSON Schema.
  boost::json::value schema;
  // llm_judge: `model` (a route alias or provider/model of this config) answers `prompt`
  // (inline text with {{text}}, or the id of a library prompt); a score >= threshold denies.
  // moderation: `provider` (an OpenAI-compatible provider of this config) is asked its
  // /moderations; a category whose score >= its threshold (`thresholds`, "*" for the rest;
  // default: the provider's own flag) denies.
  std::string model;
  std::string prompt;
  double threshold = 0.5;
  std::string provider;
  std::map<std::string, double> thresholds;
  // webhook: POST {phase, texts, ...} to `url`; answers {"action":"allow|deny|rewrite",...}.
  std::string url;
  std::map<std::string, std::string> headers;  // values may be secret references
  int64_t timeout_ms = 2000;  // webhook, llm_judge, moderation
  bool fail_open = false;     // an unreachable or broken check allows (true) or denies (false)
  // Remote kinds, phase before: the check runs while the upstream call is made; the answer
  // waits for its verdict before any byte reaches the client (a rewrite cannot apply then).
  bool parallel = false;
  int line = 0;
};

struct GuardrailsConfig {
  GuardrailConfig::OnDeny on_deny = GuardrailConfig::OnDeny::error;  // error (400) | refusal
  std::string refusal = "I can't help with that request.";
  // Stream answers: bytes of not-yet-sent text held back, so that a match split across
  // chunks is seen whole before any of it is sent (and can still be redacted).
  int64_t stream_holdback = 128;
  std::vector<GuardrailConfig> checks;  // in order: cheap ones first is the user's choice
  bool active() const { return !checks.empty(); }
};

// ---- The answer cache (docs/CACHING.md) ----

struct SemanticCacheConfig {
  bool enabled = false;
  // The embedding model: a route alias or "<provider>/<model>" of this config, called through
  // torii's own provider layer.
  std::string embedding_model;
  int dimensions = 0;          // asked of the embedding model (0: the model's default)
  double threshold = 0.92;     // cosine similarity a hit needs, in (0, 1]
  bool guard = true;           // the false-hit guard (cache/guard.h)
  int64_t max_entries = 100000;  // vectors in the node's index
  std::chrono::milliseconds timeout{2000};  // the embedding call; past it: a plain miss
};

struct CacheConfig {
  bool enabled = false;
  std::string store = "memory";  // memory | redis
  RedisConfig redis;             // store: redis
  std::chrono::milliseconds ttl{3600 * 1000};
  int64_t max_entries = 10000;           // memory store
  int64_t max_bytes = 256ll << 20;       // memory store: bodies + keys
  int64_t max_entry_bytes = 1ll << 20;   // a bigger answer is not cached
  // A request whose temperature is above this is not cached (a sampled answer is one draw of
  // many). A request without temperature has the provider's default, counted as 1.
  double max_temperature = 0;
  std::string scope = "consumer";  // consumer | group | shared: who shares entries
  std::vector<std::string> routes;  // the routes cached; empty: every route (see RouteConfig::cache)
  SemanticCacheConfig semantic;
  // Set by the loader: a digest of the `guardrails:` and `prompts:` sections. The cache key
  // includes it, so an answer shaped by other checks or templates is never served.
  std::string answers_digest;
  bool active() const { return enabled; }
};

// ---- The prompt library (docs/PROMPTS.md) ----
// Texts may hold placeholders ({{vars.text}}, {{consumer.metadata.team}}...), parsed at snapshot
// build (prompts/template.h) and rendered per request.

enum class PromptRole : uint8_t { user, assistant, system };

struct PromptMessageConfig {
  PromptRole role = PromptRole::user;  // user | assistant
  std::string content;
};

// A template a client names in `torii.template`: rendered, it becomes the conversation's last
// message (role user), or joins the system prompt (role system).
struct PromptTemplateConfig {
  std::string id;
  PromptRole role = PromptRole::user;  // user | system
  std::string text;
  int line = 0;
};

// A context wrapped around a conversation: system text before the client's, messages before and
// after the client's.
struct PromptContextConfig {
  std::string id;
  std::string system;
  std::vector<PromptMessageConfig> pre, post;
  int line = 0;
};

struct PromptsConfig {
  std::vector<PromptTemplateConfig> templates;
  std::vector<PromptContextConfig> contexts;
};

struct Config {
  ServerOptions server;
  AdminConfig admin;
  std::vector<ProviderConfig> providers;
  std::vector<RouteConfig> routes;
  std::vector<ConsumerConfig> consumers;
  std::vector<ApiKeyConfig> api_keys;
  std::vector<JwtIssuerConfig> jwt;
  AuthorizationConfig authorization;
  VaultConfig vault;
  EgressConfig egress;
  QuotasConfig quotas;
  GuardrailsConfig guardrails;
  PromptsConfig prompts;
  CacheConfig cache;
  AuditConfig audit;
  TracingConfig tracing;
  bool metrics = true;  // GET /metrics
  // `prices:` overrides of the built-in table (config/prices.yaml), keyed "provider/model" or
  // "model" (a trailing '*' matches a prefix).
  std::map<std::string, PriceConfig> prices;
  std::shared_ptr<identity::Vault> vault_client;  // built from `vault` at load; null: none
  bool demo = false;  // the embedded demo config (prints the demo key)
  std::string source = "<embedded>";
};

// Parses and validates YAML text. Errors name the file, the line and the key path, e.g.
// "torii.yaml:12: providers[1].base_url: not a URL". Secret references are resolved here.
Result<Config> parse_config(const std::string& yaml_text, const std::string& source_name);
Result<Config> load_config_file(const std::string& path);

// The embedded default used by `torii serve` without --config: a built-in mock provider and
// a demo key (TORII_DEMO_KEY, or a random one).
Config default_config();
// The demo config's YAML without its key (`torii serve` seeds the admin store with it).
std::string_view demo_config_yaml();

// Resolves "${env:NAME}" / "${file:/path}" / "${vault:NAME/KEY}" (through `vault`; an error
// when null) / a literal. An error names the reference only.
Result<SecretRef> resolve_secret(const std::string& reference, identity::Vault* vault = nullptr);

// RFC 3339 date-time ("2027-01-01T00:00:00Z", "...T10:00:00.5+02:00") -> Unix seconds.
std::optional<int64_t> parse_rfc3339(const std::string& text);

// A secret held in a file (${file:...}, the vault's file backend): its content without the
// trailing newlines; empty or unreadable is an error naming the path.
Result<std::string> read_secret_file(const std::string& path);

}  // namespace torii
