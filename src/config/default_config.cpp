// default_config: the embedded demo used by `torii serve` without --config.
#include <cstdlib>

#include "config/config.h"
#include "identity/keys.h"

namespace torii {

Config default_config() {
  Config cfg;
  cfg.demo = true;
  cfg.source = "<embedded>";
  cfg.server.host = "127.0.0.1";
  cfg.server.port = 8080;

  ProviderConfig mock;
  mock.name = "mock";
  mock.kind = "mock";  // the built-in in-process mock; the gateway starts it
  mock.models = {"mock-1", "gpt-4o-mini"};
  cfg.providers.push_back(std::move(mock));

  // The same mock behind the native adapters, so that translation can be tried offline:
  // e.g. "mock-anthropic/mock-1" goes OpenAI → Anthropic Messages → mock → back.
  auto native = [&](std::string name, std::string kind) -> ProviderConfig& {
    ProviderConfig p;
    p.name = std::move(name);
    p.kind = std::move(kind);
    p.base_url = std::string(kBuiltinMock);
    p.api_key.reference = "<demo>";
    p.api_key.value = "demo-provider-key";
    p.models = {"mock-1"};
    cfg.providers.push_back(std::move(p));
    return cfg.providers.back();
  };
  native("mock-anthropic", "anthropic");
  native("mock-gemini", "gemini");
  native("mock-ollama", "ollama");
  native("mock-cohere", "cohere");
  ProviderConfig& bedrock = native("mock-bedrock", "bedrock");
  bedrock.region = "us-east-1";
  bedrock.aws_access_key_id.value = "AKIDDEMO";
  bedrock.aws_secret_access_key.value = "demo-secret";

  // A second mock target that fails 30% of its calls (the mock's fail_percent knob, sent as a
  // header on every call): the "demo" route fails over from it, so clients still see 200s.
  ProviderConfig flaky;
  flaky.name = "mock-flaky";
  flaky.kind = "mock";
  flaky.models = {"mock-1"};
  flaky.headers["x-mock-fail-percent"] = "30";
  cfg.providers.push_back(std::move(flaky));

  RouteConfig demo_route;
  demo_route.name = "demo";
  demo_route.targets = {RouteTargetConfig{"mock", "mock-1"},
                        RouteTargetConfig{"mock-flaky", "mock-1"}};
  cfg.routes.push_back(std::move(demo_route));

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

  // A demonstrative authorization rule: the demo key may not ask for more than 4096 tokens.
  AuthzRuleConfig cap;
  cap.id = "demo-max-tokens";
  RuleCondition by_key;
  by_key.subject = RuleCondition::Subject::key;
  by_key.values = {"demo"};
  RuleCondition over;
  over.subject = RuleCondition::Subject::param;
  over.key = "max_tokens";
  over.op = RuleCondition::Op::above;
  over.number = 4096;
  cap.when = {by_key, over};
  cfg.authorization.rules.push_back(std::move(cap));

  // Quotas (docs/QUOTAS.md): the demo key may send 600 requests and 200k tokens a minute and
  // spend 5 USD a day, at a made-up price for the mock model, so that every answer shows its
  // x-ratelimit-* headers and its x-torii-cost-usd.
  RateLimitConfig rate;
  rate.id = "demo-rate";
  rate.scope = {QuotaScope::key};
  rate.requests = 600;
  rate.tokens = 200'000;
  rate.window = std::chrono::minutes(1);
  cfg.quotas.limits.push_back(std::move(rate));
  BudgetConfig daily;
  daily.id = "demo-daily";
  daily.scope = {QuotaScope::key};
  daily.usd_micros = 5'000'000;
  daily.period = BudgetPeriod::day;
  cfg.quotas.budgets.push_back(std::move(daily));
  PriceConfig mock_price;
  mock_price.input = 500'000;    // 0.50 USD per 1M tokens
  mock_price.output = 1'500'000;  // 1.50 USD per 1M tokens
  cfg.prices["mock-1"] = mock_price;
  // Audit (docs/AUDIT.md): every request to SQLite and to a JSONL file under ./data/audit, the
  // access log on stderr, GET /metrics.
  cfg.audit.enabled = true;
  AuditSinkConfig sqlite;
  sqlite.type = sqlite.name = "sqlite";
  sqlite.path = "data/audit/audit.db";
  cfg.audit.sinks.push_back(std::move(sqlite));
  AuditSinkConfig jsonl;
  jsonl.type = jsonl.name = "jsonl";
  jsonl.path = "data/audit/audit.jsonl";
  cfg.audit.sinks.push_back(std::move(jsonl));
  return cfg;
}

}  // namespace torii
