// default_config: the embedded demo used by `torii serve` without --config.
#include <cstdlib>
#include <stdexcept>

#include "config/config.h"
#include "identity/keys.h"

namespace torii {

std::string_view demo_config_yaml() {
  // Kept in step with docs/CONFIG.md "The demo config". The demo key is added by the caller.
  return R"yaml(
server:
  listen: "127.0.0.1:8080"
providers:
  # The built-in in-process mock (the gateway starts it).
  # It serves every modality too: embeddings, images, speech, transcription, moderation.
  - {name: mock, kind: mock, models: [mock-1, gpt-4o-mini, text-embedding-3-small, gpt-image-1,
     dall-e-3, tts-1, whisper-1, omni-moderation-latest]}
  # The same mock behind the native adapters, so that translation can be tried offline:
  # e.g. "mock-anthropic/mock-1" goes OpenAI -> Anthropic Messages -> mock -> back.
  - {name: mock-anthropic, kind: anthropic, base_url: builtin-mock, api_key: demo-provider-key, models: [mock-1]}
  - {name: mock-gemini, kind: gemini, base_url: builtin-mock, api_key: demo-provider-key, models: [mock-1]}
  - {name: mock-ollama, kind: ollama, base_url: builtin-mock, api_key: demo-provider-key, models: [mock-1]}
  - {name: mock-cohere, kind: cohere, base_url: builtin-mock, api_key: demo-provider-key, models: [mock-1]}
  - {name: mock-bedrock, kind: bedrock, base_url: builtin-mock, region: us-east-1,
     aws_access_key_id: AKIDDEMO, aws_secret_access_key: demo-secret, models: [mock-1]}
  # A second mock target that fails 30% of its calls (the mock's fail_percent knob, sent as a
  # header on every call): the "demo" route fails over from it, so clients still see 200s.
  - {name: mock-flaky, kind: mock, models: [mock-1], headers: {x-mock-fail-percent: "30"}}
routes:
  - {name: demo, targets: [mock/mock-1, mock-flaky/mock-1]}
  # The modalities under OpenAI's model names, so the SDKs' examples work as they are.
  - {name: text-embedding-3-small, targets: [mock/text-embedding-3-small]}
  - {name: gpt-image-1, targets: [mock/gpt-image-1]}
  - {name: dall-e-3, targets: [mock/dall-e-3]}
  - {name: tts-1, targets: [mock/tts-1]}
  - {name: whisper-1, targets: [mock/whisper-1]}
  - {name: omni-moderation-latest, targets: [mock/omni-moderation-latest]}
authorization:
  rules:   # a demonstrative rule: the demo key may not ask for more than 4096 tokens (403)
    - {id: demo-max-tokens, when: [{key: demo}, {param: max_tokens, above: 4096}]}
quotas:    # every answer shows x-ratelimit-* and x-torii-cost-usd
  limits:
    - {id: demo-rate, scope: [key], requests: 600, tokens: 200000, per: minute}
  budgets:
    - {id: demo-daily, scope: [key], usd: 5.00, period: day}
prices:
  mock-1: {input: 0.50, output: 1.50}   # made up
guardrails:  # a prompt carrying a cloud key or a provider key is denied (400 guardrail_denied);
             # email addresses and phone numbers are masked before the model sees them
             # ([EMAIL_1]) and given back in the answer
  checks:
    - {id: no-secrets, kind: secrets, phase: [before, after]}
    - {id: pii, kind: pii, action: mask, reinflate: true, entities: [email, phone]}
cache:     # the demo route's answers are kept 10 minutes: ask twice, the second answer comes
           # from the cache (x-torii-cache: hit, no tokens, no cost). The mock answers alike
           # at any temperature, so every temperature is cached here (the default: only 0).
  routes: [demo]
  max_temperature: 2
  ttl_seconds: 600
audit:     # every request, under the working directory; GET /metrics is on (the default)
  sinks:
    - {type: sqlite, path: data/audit/audit.db}
    - {type: jsonl, path: data/audit/audit.jsonl}
)yaml";
}

Config default_config() {
  auto parsed = parse_config(std::string(demo_config_yaml()), "<embedded>");
  if (!parsed) throw std::logic_error("the embedded demo config: " + parsed.error().message);
  Config cfg = std::move(*parsed);
  cfg.demo = true;
  cfg.source = "<embedded>";
  ApiKeyConfig key;
  key.name = "demo";
  const char* env = std::getenv("TORII_DEMO_KEY");
  if (env != nullptr && *env != '\0') {
    key.key.reference = "${env:TORII_DEMO_KEY}";
    key.key.value = env;
  } else {
    key.key.reference = "<random>";
    key.key.value = identity::generate_api_key();
  }
  cfg.api_keys.push_back(std::move(key));
  return cfg;
}

}  // namespace torii
