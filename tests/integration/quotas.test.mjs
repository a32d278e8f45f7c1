// Quotas on the memory store, end to end (docs/QUOTAS.md, issue 6, the contract in
// briefs/quotas_spec.md): request and token rate limits (headers, GCRA reset and Retry-After,
// scopes, `when:`, the OpenAI and Anthropic 429 shapes, a request that can never fit), the
// x-torii-cost-usd header and trailer priced exactly (cached, cache-write and reasoning tokens,
// OpenAI and Anthropic upstreams), a block budget under 200 parallel requests, failed calls
// refunded, a client disconnect billed, soft-budget webhook alerts, the demo config, and
// `torii check` refusing bad quota configs. Limits are per day so nothing renews mid-test.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  ms, randomKey, runTorii, sleep, startMock, startTorii, tempDir, waitFor,
} from '../lib/harness.mjs';
import { bearer, chatBody, request, streamChat, streamedContent } from '../lib/http.mjs';
import {
  BUDGET_SHAPE, anthropicUsage, assertBudgetExceeded, assertBudgetRun, assertRateLimited,
  assertRetryAfter, costMicros, openaiUsage, parallelBudgetRun, parseCostHeader, price,
  priceYaml, rateHeaders, requestWithTrailers, sseJson, startQuotaGateway, startWebhook,
  usdString, utcDay, writeQuotaConfig,
} from '../lib/quota.mjs';

const HOUR = 3_600_000;
const dir = tempDir();
let mock;
const started = [];

before(async () => { mock = await startMock(); });
after(async () => {
  await Promise.all(started.map((g) => g.stop()));
  if (mock) await mock.stop();
});

/** quotaGateway on the shared mock; stopped in the file's after(). */
async function quotaGateway(name, opts = {}) {
  const g = await startQuotaGateway({ mockUrl: mock.url, dir, name, ...opts });
  started.push(g.gw);
  return g;
}

const post = (gw, key, body, extra = {}) => request(`${gw.url}/v1/chat/completions`, {
  method: 'POST', headers: bearer(key), body, ...extra });

describe('quotas: request rate limits', () => {
  let req;     // three-a-day, scope [key]
  let shared;  // one-pool, scope []
  before(async () => {
    [req, shared] = await Promise.all([
      quotaGateway('req', { keys: ['alpha', 'beta', 'msg'], yaml: `
quotas:
  limits:
    - id: three-a-day
      scope: [key]
      requests: 3
      per: day
` }),
      quotaGateway('shared', { keys: ['gamma', 'delta'], yaml: `
quotas:
  limits:
    - {id: one-pool, scope: [], requests: 4, per: day}
` }),
    ]);
  });

  test('3/day per key: remaining 2,1,0, GCRA reset, then a 429 naming the limit', async () => {
    const key = req.keys.alpha;
    for (let i = 1; i <= 3; i++) {
      const r = await post(req.gw, key, chatBody('local/mock-1'));
      assert.equal(r.status, 200, `request ${i}: ${r.text}`);
      const h = rateHeaders(r, 'requests');
      assert.equal(h.limit, 3, `request ${i}: limit`);
      assert.equal(h.remaining, 3 - i, `request ${i}: remaining`);
      // GCRA: each request adds 24h/3 = 8h to the cell; it is full again after i × 8h.
      assert.ok(Math.abs(h.resetMs - i * 8 * HOUR) < 60_000,
        `request ${i}: reset ${r.headers['x-ratelimit-reset-requests']} ≈ ${i * 8}h`);
    }
    const r = await post(req.gw, key, chatBody('local/mock-1'));
    assertRateLimited(r, 'three-a-day', Object.values(req.keys), '4th request');
    const ra = assertRetryAfter(r, '4th request');
    // The next request fits when the TAT (now + 24h) is one window away: in 8 h.
    assert.ok(ra >= 8 * 3600 - 60 && ra <= 8 * 3600 + 1, `Retry-After ${ra} ≈ 8 h`);
    const raMs = Number(r.headers['retry-after-ms']);
    assert.ok(Number.isInteger(raMs) && raMs > (ra - 1) * 1000 && raMs <= ra * 1000,
      `retry-after-ms ${r.headers['retry-after-ms']} matches Retry-After ${ra}`);
    const h = rateHeaders(r, 'requests');
    assert.equal(h.limit, 3);
    assert.equal(h.remaining, 0, 'remaining 0 on the refusal');
    const again = await post(req.gw, key, chatBody('local/mock-1'));
    assert.equal(again.status, 429, 'still refused');
  });

  test('scope [key]: another key has its own counter', async () => {
    const r = await post(req.gw, req.keys.beta, chatBody('local/mock-1'));
    assert.equal(r.status, 200, r.text);
    assert.equal(rateHeaders(r, 'requests').remaining, 2, 'beta starts from its own 3');
  });

  test('/v1/messages is refused in the Anthropic shape', async () => {
    const call = () => request(`${req.gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': req.keys.msg, 'anthropic-version': '2023-06-01' },
      body: { model: 'local/mock-1', max_tokens: 50,
        messages: [{ role: 'user', content: 'hello there' }] },
    });
    for (let i = 1; i <= 3; i++) {
      const r = await call();
      assert.equal(r.status, 200, `messages ${i}: ${r.text}`);
      assert.equal(rateHeaders(r, 'requests').remaining, 3 - i, `messages ${i}: remaining`);
    }
    const r = await call();
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json?.type, 'error', `Anthropic error shape: ${r.text}`);
    assert.equal(r.json.error?.type, 'rate_limit_error', r.text);
    assert.ok(String(r.json.error.message).includes('three-a-day'), r.text);
    assert.ok(!r.text.includes(req.keys.msg), 'no key in the body');
    assertRetryAfter(r, 'messages 429');
  });

  test('scope []: one counter shared by every key', async () => {
    const ks = [shared.keys.gamma, shared.keys.delta];
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const r = await post(shared.gw, ks[i % 2], chatBody('local/mock-1'));
      statuses.push(r.status);
      if (r.status === 200) {
        assert.equal(rateHeaders(r, 'requests').remaining, 3 - i, `request ${i}: remaining`);
      } else {
        assertRateLimited(r, 'one-pool', ks, `request ${i}`);
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429], 'four in all, either key');
  });
});

describe('quotas: token limits, `when:`, provider limits', () => {
  let tok;
  let when;
  let prov;
  before(async () => {
    [tok, when, prov] = await Promise.all([
      quotaGateway('tok', { yaml: `
quotas:
  limits:
    - {id: tok-2000, scope: [key], tokens: 2000, per: day}
` }),
      quotaGateway('when', { yaml: `
quotas:
  limits:
    - id: gpt-only
      scope: [key]
      requests: 1
      per: day
      when: [{model: "local/gpt-4o-mini"}]
` }),
      quotaGateway('prov', {
        providers: [(b) => ({ name: 'p1', base_url: b }), (b) => ({ name: 'p2', base_url: b })],
        routes: [{ name: 'duo', targets: ['p1/mock-1', 'p2/mock-1'] },
          { name: 'solo', targets: ['p1/mock-1'] }],
        yaml: `
quotas:
  limits:
    - {id: p1-once, scope: [provider], requests: 1, per: day, when: [{provider: p1}]}
` }),
    ]);
  });

  const body = (maxTokens, chunks = 100) => ({
    model: 'local/mock-1', max_tokens: maxTokens,
    messages: [{ role: 'user', content: 'Tell me about tokens.' }], mock: { chunks } });

  test('tokens 2000/day: headers, settle releases the reservation, refusals', async () => {
    const r1 = await post(tok.gw, tok.keys.k, body(1200));
    assert.equal(r1.status, 200, r1.text);
    const used1 = r1.json.usage.total_tokens;
    assert.equal(r1.json.usage.completion_tokens, 100, 'the mock wrote 100 words');
    const h1 = rateHeaders(r1, 'tokens');
    assert.equal(h1.limit, 2000);
    assert.ok(h1.remaining <= 2000 - used1, `remaining ${h1.remaining} ≤ 2000 - ${used1}`);
    assert.ok(h1.remaining >= 2000 - (r1.json.usage.prompt_tokens + 1200) - 100,
      `remaining ${h1.remaining} counts no more than prompt + max_tokens`);
    assert.ok(h1.resetMs > 0 && h1.resetMs <= 24 * HOUR, `reset ${h1.resetMs} ms`);

    // Reserving 1200 twice exceeds 2000: the second passes only if the first settled to ~120.
    const r2 = await post(tok.gw, tok.keys.k, body(1200));
    assert.equal(r2.status, 200, `second 1200-token request (settlement): ${r2.text}`);
    const h2 = rateHeaders(r2, 'tokens');
    assert.ok(h2.remaining < h1.remaining,
      `remaining decreases: ${h1.remaining} -> ${h2.remaining}`);
    assert.ok(h2.remaining <= 2000 - used1 - r2.json.usage.total_tokens, 'remaining after two');

    // ~240 used: 1900 more does not fit now, but fits an empty window.
    const r3 = await post(tok.gw, tok.keys.k, body(1900));
    assertRateLimited(r3, 'tok-2000', [tok.keys.k], 'prompt + 1900 over the remaining tokens');
    assertRetryAfter(r3, 'token refusal');
    assert.equal(rateHeaders(r3, 'tokens').limit, 2000, 'x-ratelimit-*-tokens on the 429');

    // Larger than the whole window: it can never fit, so no Retry-After.
    const r4 = await post(tok.gw, tok.keys.k, body(2500));
    const err = assertRateLimited(r4, 'tok-2000', [tok.keys.k], 'prompt + 2500 > window');
    assert.equal(r4.headers['retry-after'], undefined,
      'no Retry-After for a request that never fits');
    // The wording is free; it must say the request can never fit, not "try later".
    assert.match(err.message, /never|more than .*(in a|per) window|exceeds the whole window/i,
      `the message says it can never fit: ${err.message}`);

    // A small request still fits.
    const r5 = await post(tok.gw, tok.keys.k, body(50, 8));
    assert.equal(r5.status, 200, r5.text);

    // A stream settles before its end is written: a request sent the moment the client reads
    // [DONE] finds the first reservation released (~380 used, else ~1470 + 1210 > 2000).
    let next;
    const s = await streamChat(tok.gw.url, tok.keys.k, { ...body(1200), stream: true }, {
      onEvent: (ev) => { if (ev.data === '[DONE]') next = post(tok.gw, tok.keys.k, body(1200)); },
    });
    assert.equal(s.status, 200, s.text);
    assert.ok(s.done && next, 'the stream ended with [DONE]');
    const r6 = await next;
    assert.equal(r6.status, 200, `a 1200-token request sent on [DONE] (settlement): ${r6.text}`);
  });

  test('a provider-scoped limit skips its target (failover); none left: its 429', async () => {
    const k = prov.keys.k;
    const r1 = await post(prov.gw, k, chatBody('duo'));
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-torii-provider'], 'p1', 'the first target while it has room');
    const r2 = await post(prov.gw, k, chatBody('duo'));
    assert.equal(r2.status, 200, `p1 is out of requests, p2 takes it: ${r2.text}`);
    assert.equal(r2.headers['x-torii-provider'], 'p2', 'failover past the refused target');
    assertRateLimited(await post(prov.gw, k, chatBody('solo')), 'p1-once', [k],
      'the only target is refused');
    assertRateLimited(await post(prov.gw, k, chatBody('p1/mock-1')), 'p1-once', [k],
      'direct to p1');
    assert.equal((await post(prov.gw, k, chatBody('p2/mock-1'))).status, 200, 'p2 is not limited');
  });

  test('`when:` restricts a limit to one model', async () => {
    const k = when.keys.k;
    const g1 = await post(when.gw, k, chatBody('local/gpt-4o-mini'));
    assert.equal(g1.status, 200, g1.text);
    assert.equal(rateHeaders(g1, 'requests').remaining, 0);
    assertRateLimited(await post(when.gw, k, chatBody('local/gpt-4o-mini')), 'gpt-only', [k],
      'second gpt-4o-mini request');
    for (let i = 0; i < 3; i++) {
      const r = await post(when.gw, k, chatBody('local/mock-1'));
      assert.equal(r.status, 200, `mock-1 #${i}: ${r.text}`);
      assert.equal(r.headers['x-ratelimit-limit-requests'], undefined,
        'no limit applies to mock-1, so no x-ratelimit header');
    }
  });
});

describe('quotas: x-torii-cost-usd', () => {
  const P = { input: '1', output: '2', cached_input: '0.5', cache_write: '1.25', reasoning: '3' };
  const C = { input: '3', output: '15', cached_input: '0.3', cache_write: '3.75' };
  let g;
  before(async () => {
    g = await quotaGateway('cost', {
      providers: [(mockBase) => ({
        name: 'claude', kind: 'anthropic', base_url: mockBase.replace(/\/v1$/, ''),
        api_key_env: 'QK_K', headers: { 'x-mock-cached-tokens': '300',
          'x-mock-cache-write-tokens': '400', 'x-mock-chunks': '30' } })],
      yaml: `
quotas:
  limits:
    - {id: roomy, scope: [key], requests: 100000, per: day}
prices:
  local/mock-1: ${priceYaml(P)}
  claude/mock-1: ${priceYaml(C)}
` });
  });

  const messages = [{ role: 'user', content: 'Price this answer to the micro dollar, please.' }];
  const cases = [
    ['plain', {}],
    ['cached_tokens', { cached_tokens: 1000 }],
    ['thinking', { thinking: 1 }],
    ['cache_write_tokens', { cache_write_tokens: 2000 }],
    ['all together', { cached_tokens: 1000, thinking: 1, cache_write_tokens: 2000, chunks: 40 }],
  ];

  for (const [what, knobs] of cases) {
    test(`non-stream, ${what}: the header is the spec's cost of the answer's usage`, async () => {
      const r = await post(g.gw, g.keys.k, { model: 'local/mock-1', messages, mock: knobs });
      assert.equal(r.status, 200, r.text);
      const expected = costMicros(openaiUsage(r.json.usage), price(P));
      assert.equal(r.headers['x-torii-cost-usd'], usdString(expected),
        `${what}: usage ${JSON.stringify(r.json.usage)}`);
      if (knobs.thinking) {
        assert.ok(r.json.usage.completion_tokens_details.reasoning_tokens > 0, 'reasoning tokens');
      }
    });
  }

  test('stream with include_usage: the trailer prices cached + reasoning exactly', async () => {
    const r = await requestWithTrailers(`${g.gw.url}/v1/chat/completions`, bearer(g.keys.k), {
      model: 'local/mock-1', messages, stream: true, stream_options: { include_usage: true },
      mock: { cached_tokens: 1000, thinking: 1, chunks: 20 },
    });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers.trailer || ''), /x-torii-cost-usd/i,
      `the head announces the trailer: ${JSON.stringify(r.headers)}`);
    const usageChunk = sseJson(r.text).find((e) => e.usage && Array.isArray(e.choices) &&
      e.choices.length === 0);
    assert.ok(usageChunk, `a final usage chunk: ${r.text.slice(-600)}`);
    const u = openaiUsage(usageChunk.usage);
    assert.ok(u.cached === 1000 && u.reasoning > 0, JSON.stringify(usageChunk.usage));
    const expected = costMicros(u, price(P));
    assert.equal(r.trailers['x-torii-cost-usd'], usdString(expected),
      `trailers ${JSON.stringify(r.trailers)}, usage ${JSON.stringify(usageChunk.usage)}`);
  });

  test('stream without include_usage: the trailer still holds the cost', async () => {
    const body = { model: 'local/mock-1', messages, mock: { cached_tokens: 500, chunks: 12 } };
    const plain = await post(g.gw, g.keys.k, body);
    assert.equal(plain.status, 200, plain.text);
    const expected = costMicros(openaiUsage(plain.json.usage), price(P));
    const r = await requestWithTrailers(`${g.gw.url}/v1/chat/completions`, bearer(g.keys.k),
      { ...body, stream: true });
    assert.equal(r.status, 200, r.text);
    assert.ok(!sseJson(r.text).some((e) => e.usage), 'no usage chunk forwarded unasked');
    assert.equal(r.trailers['x-torii-cost-usd'], usdString(expected),
      `same usage as the non-streamed answer: ${JSON.stringify(r.trailers)}`);
  });

  test('Anthropic upstream: cache reads and cache writes priced', async () => {
    const r = await request(`${g.gw.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': g.keys.k, 'anthropic-version': '2023-06-01' },
      body: { model: 'claude/mock-1', max_tokens: 64, messages },
    });
    assert.equal(r.status, 200, r.text);
    const u = anthropicUsage(r.json.usage);
    assert.equal(u.cacheWrite, 400, `cache writes reported: ${JSON.stringify(r.json.usage)}`);
    assert.equal(u.cached, 300);
    const expected = costMicros(u, price(C));
    assert.equal(r.headers['x-torii-cost-usd'], usdString(expected),
      `usage ${JSON.stringify(r.json.usage)}`);
    // The same call through the OpenAI API: its usage cannot show cache writes, the price must.
    const o = await post(g.gw, g.keys.k, { model: 'claude/mock-1', max_tokens: 64, messages });
    assert.equal(o.status, 200, o.text);
    assert.equal(o.json.usage.prompt_tokens, u.prompt, 'same upstream usage');
    assert.equal(o.headers['x-torii-cost-usd'], usdString(expected),
      'OpenAI inbound, Anthropic upstream: cache writes at the cache_write price');
  });
});

describe('quotas: block budget', () => {
  let g;
  before(async () => {
    g = await quotaGateway('budget', {
      keys: ['par', 'ref', 'tot'],
      localExtra: { breaker: { enabled: false } },
      yaml: `
quotas:
  budgets:
    - {id: lifetime, scope: [key], tokens: 30, period: total, when: [{key: tot}]}
    - id: ten-calls
      scope: [key]
      usd: ${usdString(BUDGET_SHAPE.budget)}
      period: day
      mode: block
prices:
  local/mock-1: ${priceYaml(BUDGET_SHAPE.price)}
` });
  });

  test('200 parallel requests: spend ≤ budget + one reservation, about 10 pass', async (t) => {
    const run = await parallelBudgetRun(g.gw.url, g.keys.par,
      BUDGET_SHAPE.body('local/mock-1', { mock: { latency_ms: 200 } }), 200);
    t.diagnostic(`memory: ${run.ok.length} passed, ${run.refused.length} refused, spent ` +
      `${usdString(run.spent)} of ${usdString(BUDGET_SHAPE.budget)}`);
    assertBudgetRun(run, 'ten-calls', 'memory');
    assert.ok(run.refused.length >= 189, `${run.refused.length} refused`);
    // Nothing is left: one more is refused.
    assertBudgetExceeded(await post(g.gw, g.keys.par, BUDGET_SHAPE.body('local/mock-1')),
      'ten-calls', 'after the run');
  });

  test('failed calls are refunded: after 5 upstream 500s the budget still allows 10', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await post(g.gw, g.keys.ref,
        BUDGET_SHAPE.body('local/mock-1', { mock: { status: 500 } }));
      assert.equal(r.status, 502, `failure ${i}: ${r.text}`);
      assert.equal(r.headers['x-torii-cost-usd'], undefined, 'a failed call has no cost header');
    }
    let spent = 0n;
    for (let i = 0; i < 10; i++) {
      const r = await post(g.gw, g.keys.ref, BUDGET_SHAPE.body('local/mock-1'));
      assert.equal(r.status, 200, `success ${i + 1} of 10 after the failures: ${r.text}`);
      spent += parseCostHeader(r.headers['x-torii-cost-usd']);
    }
    assert.equal(spent, 10n * BUDGET_SHAPE.call);
    const r = await post(g.gw, g.keys.ref, BUDGET_SHAPE.body('local/mock-1'));
    const err = assertBudgetExceeded(r, 'ten-calls', '11th');
    assertRetryAfter(r, 'budget refusal');
    assert.ok(!r.text.includes(g.keys.ref), 'no key in the message');
    assert.ok(err.message.length > 'ten-calls'.length, err.message);
  });

  test('period total: refused without Retry-After; `when:` binds one key only', async () => {
    // ~14 tokens reserved and spent per call: two fit in 30 tokens, the third does not.
    const statuses = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await post(g.gw, g.keys.tot, BUDGET_SHAPE.body('local/mock-1'));
      statuses.push(last.status);
    }
    assert.equal(statuses[0], 200, `first call: ${statuses}`);
    assert.equal(statuses.at(-1), 429, `a total budget of 30 tokens runs out: ${statuses}`);
    assertBudgetExceeded(last, 'lifetime', 'total budget');
    assert.equal(last.headers['retry-after'], undefined, 'a total budget never renews');
  });
});

describe('quotas: soft budgets, webhook alerts, disconnects', () => {
  let g;
  let hook;
  before(async () => {
    hook = await startWebhook();
    g = await quotaGateway('soft', {
      keys: ['disc', 'steps'],
      yaml: `
quotas:
  default_max_tokens: 100
  budgets:
    - {id: soft-disc, scope: [key], tokens: 250, period: day, mode: soft, webhook: "${hook.url}"}
    - {id: soft-steps, scope: [key], tokens: 100, period: day, mode: soft, webhook: "${hook.url}"}
` });
  });
  after(async () => { if (hook) await hook.close(); });

  const alertsOf = (budget, scope) => hook.alerts.map((a) => a.body)
    .filter((b) => b.budget === budget && b.scope === scope);

  test('a client that disconnects mid-stream is billed for what it received', async (t) => {
    const content = 'Forty bytes of prompt text for the test.';
    assert.equal(content.length, 40);
    const res = await streamChat(g.gw.url, g.keys.disc, {
      model: 'local/mock-1', stream: true, messages: [{ role: 'user', content }],
      mock: { chunks: 200, tokens_per_chunk: 10, interval_ms: 20 },
    }, { onEvent: (ev, events) => {
      const n = events.filter((e) => e.json?.choices?.[0]?.delta?.content).length;
      return n >= 30 ? 'destroy' : undefined;
    } });
    assert.equal(res.status, 200);
    assert.equal(res.endedBy, 'destroyed');
    const words = streamedContent(res.events).trim().split(/\s+/).length;
    assert.ok(words >= 300, `received ${words} words`);
    // The reservation (10 + default_max_tokens 100) stays under 80 % of 250: the alerts can
    // only come from the settlement of the disconnected stream.
    await waitFor(() => alertsOf('soft-disc', 'key=disc').some((a) => a.threshold === 100),
      ms(5000), 'the 100 % alert of soft-disc');
    const alerts = alertsOf('soft-disc', 'key=disc');
    t.diagnostic(`received ${words} words; alerts: ${JSON.stringify(alerts)}`);
    for (const t of [80, 100]) {
      const a = alerts.filter((x) => x.threshold === t);
      assert.equal(a.length, 1, `one ${t} % alert: ${JSON.stringify(alerts)}`);
      assert.equal(a[0].unit, 'tokens');
      assert.equal(a[0].limit, 250);
      assert.ok(a[0].spent >= 10 + words,
        `spent ${a[0].spent} ≥ prompt 10 + ${words} streamed tokens`);
      assert.ok(a[0].spent <= 10 + 2000, `spent ${a[0].spent} ≤ the whole generation`);
    }
  });

  test('soft: every request passes; alerts at 80 % and 100 %, once each', async () => {
    const crossed = {};
    let total = 0;
    let after100 = 0;
    for (let i = 0; i < 30 && after100 < 3; i++) {
      const r = await post(g.gw, g.keys.steps, {
        model: 'local/mock-1', max_tokens: 20, mock: { chunks: 10 },
        messages: [{ role: 'user', content: `Step ${i} of the soft budget test.` }] });
      assert.equal(r.status, 200, `soft never refuses (#${i}): ${r.text}`);
      total += r.json.usage.total_tokens;
      for (const t of [80, 100]) if (crossed[t] === undefined && total >= t) crossed[t] = total;
      if (total >= 100) after100++;
    }
    await waitFor(() => alertsOf('soft-steps', 'key=steps').length >= 2, ms(5000),
      'two soft-steps alerts');
    await sleep(ms(500));  // an extra (duplicate) alert would arrive by now
    const alerts = alertsOf('soft-steps', 'key=steps');
    assert.equal(alerts.length, 2, `exactly two alerts: ${JSON.stringify(alerts)}`);
    for (const t of [80, 100]) {
      const a = alerts.find((x) => x.threshold === t);
      assert.ok(a, `a ${t} % alert: ${JSON.stringify(alerts)}`);
      const want = {
        type: 'budget.threshold', budget: 'soft-steps', scope: 'key=steps', period: utcDay(),
        threshold: t, unit: 'tokens', spent: crossed[t], limit: 100,
      };
      // The spec's fields, exactly (more fields are allowed); spent is the settled total at
      // the crossing.
      const got = Object.fromEntries(Object.keys(want).map((k) => [k, a[k]]));
      assert.deepEqual(got, want, `the ${t} % alert: ${JSON.stringify(a)}`);
    }
    const raw = hook.alerts.find((a) => a.body.budget === 'soft-steps');
    assert.equal(raw.method, 'POST');
    assert.match(String(raw.headers['content-type']), /application\/json/);
  });
});

describe('quotas: the demo config', () => {
  let gw;
  const demoKey = randomKey('sk-demo');
  before(async () => {
    gw = await startTorii(['serve', '--listen', '127.0.0.1:0', '--workers', '1',
      '--admin-listen', '127.0.0.1:0', '--admin-store', 'memory'],
      { env: { TORII_DEMO_KEY: demoKey } });
    started.push(gw);
  });

  test('every answer carries x-ratelimit-* and x-torii-cost-usd', async () => {
    const r1 = await post(gw, demoKey, chatBody('demo'));
    assert.equal(r1.status, 200, r1.text);
    const h1 = rateHeaders(r1, 'requests');
    parseCostHeader(r1.headers['x-torii-cost-usd'], 'demo');
    const r2 = await post(gw, demoKey, chatBody('mock/mock-1'));
    assert.equal(r2.status, 200, r2.text);
    const h2 = rateHeaders(r2, 'requests');
    assert.equal(h2.limit, h1.limit);
    assert.ok(h2.remaining < h1.remaining, `remaining ${h1.remaining} -> ${h2.remaining}`);
    assert.ok(parseCostHeader(r2.headers['x-torii-cost-usd'], 'demo') > 0n, 'a priced model');
  });
});

describe('quotas: config validation (torii check)', () => {
  const base = (yaml) => writeQuotaConfig(dir, 'check.yaml', {
    providers: [{ name: 'local', base_url: 'http://127.0.0.1:9/v1' }],
    apiKeys: [{ name: 'a', env: 'QCK' }],
  }, yaml);
  const lineOf = (text, needle, from = 0) => {
    const lines = text.split('\n');
    for (let i = from; i < lines.length; i++) if (lines[i].includes(needle)) return i + 1;
    throw new Error(`no line with ${needle}`);
  };
  const limit = (fields) => `quotas:\n  limits:\n    - id: lim\n${fields}`;
  const budget = (fields) => `quotas:\n  budgets:\n    - id: bud\n${fields}`;
  const cases = [
    ['unknown scope', limit('      scope: [key, planet]\n      requests: 1\n      per: day\n'),
      'planet', /scope/],
    ['bad limit window', limit('      requests: 1\n      per: fortnight\n'), 'fortnight', /per/],
    ['bad budget period', budget('      usd: 1\n      period: yearly\n'), 'yearly', /period/],
    ['usd with 7 decimals', budget('      usd: 1.0000001\n      period: day\n'), '1.0000001',
      /usd/],
    ['negative tokens', limit('      tokens: -5\n      per: day\n'), 'tokens: -5', /tokens/],
    ['negative budget tokens', budget('      tokens: -1\n      period: day\n'), 'tokens: -1',
      /tokens/],
    ['duplicate limit id',
      'quotas:\n  limits:\n    - {id: twice, requests: 1, per: day}\n' +
      '    - {id: twice, requests: 2, per: day}\n', 'requests: 2', /twice|duplicate/],
    ['unknown store', 'quotas:\n  store: etcd\n', 'etcd', /store/],
  ];
  test('bad quota configs: exit 1, naming the line', () => {
    for (const [what, yaml, needle, re] of cases) {
      const file = base(yaml);
      const text = runTorii(['check', '--config', file], { env: { QCK: 'x' } });
      const out = `${text.stdout}${text.stderr}`;
      assert.equal(text.status, 1, `${what}: exit 1\n${out}`);
      assert.match(out, re, `${what}: names the field\n${out}`);
      const fileLines = fs.readFileSync(file, 'utf8').split('\n');
      const bad = lineOf(fileLines.join('\n'), needle, fileLines.indexOf('quotas:'));
      // The entry's first line (its "- " item) is accepted too.
      const top = fileLines.indexOf('quotas:') + 1;
      let entry = bad;
      while (entry > top && !/^\s*- /.test(fileLines[entry - 1])) entry--;
      if (!/^\s*- /.test(fileLines[entry - 1])) entry = bad;
      const lines = [...out.matchAll(/check\.yaml:(\d+)/g)].map((m) => Number(m[1]));
      assert.ok(lines.some((l) => l >= entry && l <= bad),
        `${what}: names line ${bad} (or its entry, from ${entry}), got ${lines}\n${out}`);
    }
  });

  test('a good quota config passes', () => {
    const file = base(`quotas:
  store: memory
  on_store_error: closed
  default_max_tokens: 2048
  limits:
    - {id: per-key, scope: [key], requests: 60, tokens: 100000, per: minute}
    - {id: gpt, scope: [key, model], requests: 10, per: second, when: [{model: "gpt-4o*"}]}
    - {id: global, scope: [], requests: 1000, per: hour}
  budgets:
    - {id: team-month, scope: [consumer], usd: 25.123456, tokens: 1000000, period: month,
       mode: block}
    - {id: weekly, scope: [group, provider], usd: 3, period: week, mode: soft,
       webhook: "http://127.0.0.1:9/a"}
    - {id: forever, scope: [route], tokens: 5, period: total}
prices:
  local/mock-1: {input: 1.00, output: 2.00, cached_input: 0.50, cache_write: 1.25, reasoning: 3.00}
  "gpt-4o*": {input: 2.50, output: 10.00}
`);
    const r = runTorii(['check', '--config', file], { env: { QCK: 'x' } });
    assert.equal(r.status, 0, `a good config: ${r.stdout}${r.stderr}`);
  });
});
