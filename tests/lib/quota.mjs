// Shared pieces of the quota suites (tests/integration/quotas*.test.mjs, docs/QUOTAS.md):
// configs with `quotas:` and `prices:` on top of renderConfig, exact cost arithmetic in BigInt
// micro-USD (the spec's formula), the x-ratelimit-* reset durations, the 429 checks, a webhook
// collector, the HTTP trailer reader and the 200-parallel budget run shared by memory and Redis.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomKey, renderConfig, startGateway } from './harness.mjs';
import { assertOpenAIError, request } from './http.mjs';

/** Writes renderConfig(spec) followed by raw YAML (`quotas:`, `prices:` …); returns the path. */
export function writeQuotaConfig(dir, name, spec, extraYaml) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${renderConfig(spec)}${extraYaml.replace(/^\n/, '')}`);
  return file;
}

/**
 * Starts a gateway whose provider `local` (models mock-1, gpt-4o-mini) points at the mock at
 * `mockUrl`, with `providers` (specs, or functions of the mock's /v1 base) added, one API key
 * per name in `keys` (a fresh secret each; env QK_<NAME>), `routes` (renderConfig specs), and
 * `yaml` (the `quotas:` and `prices:` sections) appended, and `env` (more variables) set.
 * Returns {gw, keys: {name: secret}, file, env} (env starts a second gateway on the same file).
 */
export async function startQuotaGateway({ mockUrl, dir, name, keys = ['k'], yaml = '',
  providers = [], routes = [], localExtra, env: extraEnv = {} } = {}) {
  const secrets = {};
  const env = { ...extraEnv };
  const envName = (k) => `QK_${k.toUpperCase().replace(/-/g, '_')}`;
  for (const k of keys) {
    secrets[k] = randomKey(`sk-q-${k}`);
    env[envName(k)] = secrets[k];
  }
  const mockBase = `${mockUrl}/v1`;
  const file = writeQuotaConfig(dir, `${name}.yaml`, {
    server: { idle_timeout_ms: 5000 },
    providers: [
      { name: 'local', base_url: mockBase, models: ['mock-1', 'gpt-4o-mini'], extra: localExtra },
      ...providers.map((p) => (typeof p === 'function' ? p(mockBase) : p)),
    ],
    routes,
    apiKeys: keys.map((k) => ({ name: k, env: envName(k) })),
  }, yaml);
  const gw = await startGateway(file, { env });
  return { gw, keys: secrets, file, env };
}

/** Exact decimal string ("1.25", "25", "0.000125") -> BigInt in millionths. */
export function micros(decimal) {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(String(decimal));
  assert.ok(m, `not a decimal with at most 6 places: ${decimal}`);
  return BigInt(m[1]) * 1_000_000n + BigInt((m[2] || '').padEnd(6, '0'));
}

/** BigInt micro-USD -> "0.000125" (what x-torii-cost-usd carries). */
export function usdString(micro) {
  const s = micro.toString().padStart(7, '0');
  return `${s.slice(0, -6)}.${s.slice(-6)}`;
}

/** Parses an x-torii-cost-usd value: decimal USD with exactly 6 decimals -> BigInt micro-USD. */
export function parseCostHeader(value, what = '') {
  assert.match(String(value), /^\d+\.\d{6}$/, `x-torii-cost-usd format (${what}): ${value}`);
  return micros(value);
}

/**
 * A price table entry in micro-USD per 1M tokens, from decimal strings in USD per 1M tokens:
 * {input, output, cached_input?, cache_write?, reasoning?}. Missing ones default as the spec
 * says (cached_input and cache_write: input; reasoning: output).
 */
export function price(p) {
  const input = micros(p.input);
  const output = micros(p.output);
  return {
    input,
    output,
    cached: p.cached_input !== undefined ? micros(p.cached_input) : input,
    cacheWrite: p.cache_write !== undefined ? micros(p.cache_write) : input,
    reasoning: p.reasoning !== undefined ? micros(p.reasoning) : output,
  };
}

/** The YAML flow mapping of a price given as decimal strings (written as they are). */
export function priceYaml(p) {
  return `{${Object.entries(p).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

/**
 * The spec's cost, BigInt micro-USD: (prompt − cached − cache_write) × input + cached ×
 * cached_input + cache_write × cache_write + (completion − reasoning) × output + reasoning ×
 * reasoning, each in micro-USD per 1M tokens, summed, then / 1e6 rounded up.
 * `u`: {prompt, cached, cacheWrite, completion, reasoning} (numbers).
 */
export function costMicros(u, pr) {
  const b = (n) => BigInt(n || 0);
  const total = (b(u.prompt) - b(u.cached) - b(u.cacheWrite)) * pr.input +
    b(u.cached) * pr.cached + b(u.cacheWrite) * pr.cacheWrite +
    (b(u.completion) - b(u.reasoning)) * pr.output + b(u.reasoning) * pr.reasoning;
  return (total + 999_999n) / 1_000_000n;
}

/** OpenAI chat usage -> the fields costMicros takes. */
export function openaiUsage(usage) {
  assert.ok(usage && typeof usage.prompt_tokens === 'number', `usage: ${JSON.stringify(usage)}`);
  const pd = usage.prompt_tokens_details || {};
  const cd = usage.completion_tokens_details || {};
  return {
    prompt: usage.prompt_tokens,
    cached: pd.cached_tokens || 0,
    // OpenAI has no field for cache writes; count one if the gateway reports it.
    cacheWrite: pd.cache_write_tokens || pd.cache_creation_tokens || 0,
    completion: usage.completion_tokens,
    reasoning: cd.reasoning_tokens || 0,
  };
}

/** Anthropic messages usage -> the fields costMicros takes (its input excludes the cache). */
export function anthropicUsage(usage) {
  assert.ok(usage && typeof usage.input_tokens === 'number', `usage: ${JSON.stringify(usage)}`);
  const cached = usage.cache_read_input_tokens || 0;
  const cacheWrite = usage.cache_creation_input_tokens || 0;
  return {
    prompt: usage.input_tokens + cached + cacheWrite,
    cached,
    cacheWrite,
    completion: usage.output_tokens,
    reasoning: 0,
  };
}

/**
 * Parses an OpenAI-style reset duration ("1s", "6m0s", "250ms", "2h24m0s", "1.5s") into ms.
 * Throws on anything else.
 */
export function parseReset(s) {
  const str = String(s);
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)(s|ms))?$/.exec(str);
  assert.ok(m && str.length > 0 && (m[1] || m[2] || m[3]), `not a reset duration: "${str}"`);
  const h = Number(m[1] || 0);
  const min = Number(m[2] || 0);
  const sec = m[3] ? Number(m[3]) * (m[4] === 'ms' ? 0.001 : 1) : 0;
  return Math.round(((h * 60 + min) * 60 + sec) * 1000);
}

/** The x-ratelimit-* headers of one kind ('requests' or 'tokens'): {limit, remaining, resetMs}. */
export function rateHeaders(res, kind) {
  const h = res.headers;
  const lim = h[`x-ratelimit-limit-${kind}`];
  const rem = h[`x-ratelimit-remaining-${kind}`];
  const reset = h[`x-ratelimit-reset-${kind}`];
  const ctx = `x-ratelimit-*-${kind} on ${res.status}: ${JSON.stringify(h)}`;
  assert.match(String(lim), /^\d+$/, `limit ${ctx}`);
  assert.match(String(rem), /^\d+$/, `remaining ${ctx}`);
  assert.ok(reset !== undefined, `reset ${ctx}`);
  return { limit: Number(lim), remaining: Number(rem), resetMs: parseReset(reset) };
}

/** Asserts Retry-After (integer seconds ≥ 1) and retry-after-ms; returns seconds. */
export function assertRetryAfter(res, what) {
  const ra = res.headers['retry-after'];
  assert.match(String(ra), /^\d+$/, `${what}: Retry-After integer seconds, got ${ra}`);
  assert.ok(Number(ra) >= 1, `${what}: Retry-After ≥ 1, got ${ra}`);
  return Number(ra);
}

/**
 * Asserts a rate-limit 429 in OpenAI shape: type rate_limit_error, code rate_limit_exceeded,
 * the message names `limitId` and holds none of `secrets`. Returns the error object.
 */
export function assertRateLimited(res, limitId, secrets = [], what = '') {
  const err = assertOpenAIError(res, 429, what);
  assert.equal(err.type, 'rate_limit_error', `${what}: ${res.text}`);
  assert.equal(err.code, 'rate_limit_exceeded', `${what}: ${res.text}`);
  assert.ok(err.message.includes(limitId), `${what}: message names '${limitId}': ${err.message}`);
  for (const s of secrets) assert.ok(!res.text.includes(s), `${what}: body holds a key`);
  return err;
}

/** Asserts a budget 429: type insufficient_quota, code budget_exceeded, names `budgetId`. */
export function assertBudgetExceeded(res, budgetId, what = '') {
  const err = assertOpenAIError(res, 429, what);
  assert.equal(err.type, 'insufficient_quota', `${what}: ${res.text}`);
  assert.equal(err.code, 'budget_exceeded', `${what}: ${res.text}`);
  assert.ok(err.message.includes(budgetId), `${what}: message names '${budgetId}': ${err.message}`);
  assert.match(err.message, /renew/i, `${what}: the message says when it renews`);
  return err;
}

/** Seconds from now to the next UTC midnight (a `period: day` budget's renewal). */
export function secondsToUtcMidnight(now = new Date()) {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return (next - now.getTime()) / 1000;
}

/** Today's `period: day` key part, "2026-11-22". */
export function utcDay(now = new Date()) {
  return now.toISOString().slice(0, 10);
}

/**
 * An HTTP server that collects JSON POSTs (budget alerts). Returns
 * {url, alerts: [{body, headers}], close()}.
 */
export async function startWebhook() {
  const alerts = [];
  const srv = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      let body;
      try { body = JSON.parse(text); } catch { body = { unparsed: text }; }
      alerts.push({ body, headers: req.headers, method: req.method });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${srv.address().port}/alerts`,
    alerts,
    close: () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(resolve); }),
  };
}

/**
 * POSTs `body` to `url` and reads the whole response, including HTTP trailers.
 * Resolves to {status, headers, trailers, text}.
 */
export function requestWithTrailers(url, headers, body, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers },
    }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, trailers: res.trailers,
          text: Buffer.concat(parts).toString('utf8') });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out: ${url}`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(JSON.stringify(body));
  });
}

/** The parsed `data:` events of an SSE text (without [DONE]). */
export function sseJson(text) {
  return text.split(/\r?\n\r?\n/).map((e) => e.split(/\r?\n/)
    .filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n'))
    .filter((d) => d && d !== '[DONE]').map((d) => JSON.parse(d));
}

/**
 * The budget run of issue 6: `n` parallel chat requests of one fixed shape with `key`.
 * Returns {ok: [res], refused: [res], other: [res], spent: BigInt (sum of x-torii-cost-usd)}.
 */
export async function parallelBudgetRun(gwUrl, key, body, n = 200) {
  const results = await Promise.all(Array.from({ length: n }, () =>
    request(`${gwUrl}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}` }, body, timeoutMs: 30_000,
    }).catch((e) => ({ status: 0, error: e, headers: {}, text: String(e) }))));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 429);
  const other = results.filter((r) => r.status !== 200 && r.status !== 429);
  let spent = 0n;
  for (const r of ok) spent += parseCostHeader(r.headers['x-torii-cost-usd'], 'parallel run');
  return { ok, refused, other, spent };
}

/**
 * The fixed shape of the budget runs: price {input: 0.01, output: 1000} per 1M tokens and
 * max_tokens 8 with 8 mock words, so the answer is exactly max_tokens long and the actual cost
 * equals the reservation: 8 × 1000 µUSD + ceil(prompt × 0.01) = 8001 µUSD for any prompt
 * estimate ≤ 100 tokens. A budget of 10 × 8001 + 500 µUSD allows exactly 10 such calls.
 */
export const BUDGET_SHAPE = {
  price: { input: '0.01', output: '1000' },
  call: 8001n,
  budget: 10n * 8001n + 500n,
  body: (model, extra = {}) => ({
    model, max_tokens: 8, messages: [{ role: 'user', content: 'Count to eight please.' }],
    mock: { chunks: 8, tokens_per_chunk: 1, ...(extra.mock || {}) },
  }),
};

/** Asserts the outcome of parallelBudgetRun against BUDGET_SHAPE and `budgetId`. */
export function assertBudgetRun(run, budgetId, what) {
  const { ok, refused, other, spent } = run;
  assert.equal(other.length, 0, `${what}: only 200 and 429, got ` +
    other.slice(0, 3).map((r) => `${r.status} ${r.text.slice(0, 300)}`).join(' | '));
  for (const r of ok) {
    assert.equal(parseCostHeader(r.headers['x-torii-cost-usd'], what), BUDGET_SHAPE.call,
      `${what}: each call costs exactly 8001 µUSD (usage ${JSON.stringify(r.json?.usage)})`);
  }
  assert.ok(spent <= BUDGET_SHAPE.budget + BUDGET_SHAPE.call,
    `${what}: spent ${usdString(spent)} > budget ${usdString(BUDGET_SHAPE.budget)} + one ` +
    `reservation (${ok.length} successes)`);
  assert.ok(ok.length >= 8, `${what}: a budget for 10 calls allowed only ${ok.length}`);
  for (const r of refused) {
    assertBudgetExceeded(r, budgetId, what);
    const ra = assertRetryAfter(r, `${what} budget refusal`);
    const left = secondsToUtcMidnight();
    assert.ok(ra <= Math.ceil(left) + 5 && ra >= Math.floor(left) - 60,
      `${what}: Retry-After ${ra} s is the time to the end of the UTC day (${left} s)`);
  }
}
