// Quotas on the Redis store (docs/QUOTAS.md, issue 6), against real redis-servers this file
// starts on free ports: the 200-parallel budget run, two gateways sharing one limit, the store's
// keys and their prefix, and on_store_error (closed: a fast 503; open: local counting) when
// redis-server dies. Limits are per day so nothing renews mid-test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ms, startGateway, startMock, tempDir, waitFor } from '../lib/harness.mjs';
import { assertOpenAIError, bearer, chatBody, request } from '../lib/http.mjs';
import {
  BUDGET_SHAPE, assertBudgetRun, assertRateLimited, parallelBudgetRun, priceYaml, rateHeaders,
  startQuotaGateway, startWebhook, usdString, utcDay,
} from '../lib/quota.mjs';
import { startRedis } from '../lib/redis.mjs';

const dir = tempDir();
let mock;
let redis;      // shared by the budget run and the two-gateway test
let doomed;     // killed by the on_store_error test
const started = [];

before(async () => {
  [mock, redis, doomed] = await Promise.all([startMock(), startRedis(), startRedis()]);
});
after(async () => {
  await Promise.all(started.map((g) => g.stop()));
  await Promise.all([mock, redis, doomed].filter(Boolean).map((p) => p.stop()));
});

const storeYaml = (r, onError = 'closed') => `
quotas:
  store: redis
  redis:
    url: ${r.url}
    prefix: "torii:"
    timeout_ms: 200
    connect_timeout_ms: 200
  on_store_error: ${onError}
`;

async function gateway(name, opts) {
  const g = await startQuotaGateway({ mockUrl: mock.url, dir, name, ...opts });
  started.push(g.gw);
  return g;
}

const post = (gw, key, body) => request(`${gw.url}/v1/chat/completions`, {
  method: 'POST', headers: bearer(key), body });

describe('quotas on Redis: budget and shared limits', () => {
  test('200 parallel requests: spend ≤ budget + one reservation; the counter holds it',
    async (t) => {
      const g = await gateway('redis-budget', { keys: ['par'], yaml: `${storeYaml(redis)}
  budgets:
    - {id: ten-calls, scope: [key], usd: ${usdString(BUDGET_SHAPE.budget)}, period: day,
       mode: block}
prices:
  local/mock-1: ${priceYaml(BUDGET_SHAPE.price)}
` });
      const run = await parallelBudgetRun(g.gw.url, g.keys.par,
        BUDGET_SHAPE.body('local/mock-1', { mock: { latency_ms: 200 } }), 200);
      t.diagnostic(`redis: ${run.ok.length} passed, ${run.refused.length} refused, spent ` +
        `${usdString(run.spent)} of ${usdString(BUDGET_SHAPE.budget)}`);
      assertBudgetRun(run, 'ten-calls', 'redis');
      // Nothing in flight: the counter is exactly what was billed (micro-USD).
      const key = `torii:bg:ten-calls:usd:key=par:${utcDay()}`;
      const value = await redis.command('GET', key);
      assert.ok(value !== null, `${key} exists; keys: ${await redis.command('KEYS', '*')}`);
      assert.equal(BigInt(value), run.spent, `${key} = sum of x-torii-cost-usd`);
    });

  test('two gateways on one Redis share one limit: 5 of 10 alternating requests pass',
    async () => {
      const yaml = `${storeYaml(redis)}
  limits:
    - {id: shared-five, scope: [key], requests: 5, per: day}
`;
      const g1 = await gateway('redis-pair', { keys: ['duo'], yaml });
      const g2 = { gw: await startGateway(g1.file, { env: g1.env }) };
      started.push(g2.gw);
      const statuses = [];
      for (let i = 0; i < 10; i++) {
        const gw = i % 2 ? g2.gw : g1.gw;
        const r = await post(gw, g1.keys.duo, chatBody('local/mock-1'));
        statuses.push(r.status);
        if (r.status === 200) {
          assert.equal(rateHeaders(r, 'requests').remaining, 4 - i,
            `request ${i}: remaining counts both gateways`);
        } else {
          assertRateLimited(r, 'shared-five', [g1.keys.duo], `request ${i}`);
        }
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429, 429, 429],
        'one shared counter, not one per gateway');
      // The cell: a TAT in µs, now + 5 × (24h / 5).
      const key = 'torii:rl:shared-five:req:key=duo';
      const tat = Number(await redis.command('GET', key));
      const expected = Date.now() * 1000 + 24 * 3600 * 1e6;
      assert.ok(Math.abs(tat - expected) < 120e6,
        `${key} = ${tat} µs ≈ now + 24h (${expected})`);
    });

  test('settled in Redis before the answer: back-to-back 1200-token requests under 2000',
    async () => {
      const g = await gateway('redis-settle', { keys: ['tok'], yaml: `${storeYaml(redis)}
  limits:
    - {id: tok-2000, scope: [key], tokens: 2000, per: day}
` });
      const body = { model: 'local/mock-1', max_tokens: 1200, mock: { chunks: 20 },
        messages: [{ role: 'user', content: 'Tell me about tokens.' }] };
      for (let i = 0; i < 3; i++) {
        const r = await post(g.gw, g.keys.tok, body);
        assert.equal(r.status, 200, `request ${i}: the previous one settled first: ${r.text}`);
      }
    });

  test('a soft budget on Redis posts its 80 % and 100 % alerts once each', async () => {
    const hook = await startWebhook();
    try {
      const g = await gateway('redis-alerts', { keys: ['soft'], yaml: `${storeYaml(redis)}
  default_max_tokens: 10
  budgets:
    - {id: soft-redis, scope: [key], tokens: 100, period: day, mode: soft, webhook: "${hook.url}"}
` });
      for (let i = 0; i < 12; i++) {
        const r = await post(g.gw, g.keys.soft, { ...chatBody('local/mock-1'), max_tokens: 10,
          mock: { chunks: 10 } });
        assert.equal(r.status, 200, `soft: request ${i} passes: ${r.text}`);
      }
      await waitFor(() => hook.alerts.filter((a) => a.body.budget === 'soft-redis').length >= 2,
        ms(5000), 'the 80 % and 100 % alerts of soft-redis');
      const alerts = hook.alerts.map((a) => a.body).filter((b) => b.budget === 'soft-redis');
      assert.deepEqual(alerts.map((a) => a.threshold).sort(), [100, 80],
        `one alert per threshold: ${JSON.stringify(alerts)}`);
      for (const a of alerts) {
        assert.equal(a.scope, 'key=soft');
        assert.equal(a.limit, 100);
        assert.ok(a.spent >= a.threshold, `spent ${a.spent} ≥ ${a.threshold} % of 100`);
      }
    } finally {
      await hook.close();
    }
  });

  test('every key the gateways wrote starts with the prefix', async () => {
    const all = await redis.command('KEYS', '*');
    const prefixed = await redis.command('KEYS', 'torii:*');
    assert.ok(prefixed.length >= 2, `keys: ${all}`);
    assert.deepEqual([...all].sort(), [...prefixed].sort(), 'no key without the prefix');
    for (const k of prefixed) {
      assert.match(k, /^torii:(rl:[^:]+:(req|tok):.+|bg:[^:]+:(usd|tok):.+:.+)$/,
        `key layout: ${k}`);
    }
  });
});

describe('quotas on Redis: on_store_error', () => {
  let closed;
  let open;
  const limit = `
  limits:
    - {id: three-a-day, scope: [key], requests: 3, per: day}
`;
  before(async () => {
    [closed, open] = await Promise.all([
      gateway('redis-closed', { yaml: `${storeYaml(doomed, 'closed')}${limit}` }),
      gateway('redis-open', { yaml: `${storeYaml(doomed, 'open')}${limit}` }),
    ]);
  });

  test('with Redis up both gateways count in Redis', async () => {
    // Both gateways name their key `k` and the limit `three-a-day`: one cell in Redis.
    for (const [i, g] of [closed, open].entries()) {
      const r = await post(g.gw, g.keys.k, chatBody('local/mock-1'));
      assert.equal(r.status, 200, r.text);
      assert.equal(rateHeaders(r, 'requests').remaining, 2 - i);
    }
    const r = await post(closed.gw, closed.keys.k, chatBody('local/mock-1'));
    assert.equal(rateHeaders(r, 'requests').remaining, 0,
      'one counter for both gateways: 3 used');
    await doomed.kill();
  });

  test('closed: Redis down -> a fast 503 quota_store_unavailable', async () => {
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await post(closed.gw, closed.keys.k, chatBody('local/mock-1'));
      const elapsed = Date.now() - t0;
      const err = assertOpenAIError(r, 503, `closed #${i}`);
      assert.equal(err.code, 'quota_store_unavailable', r.text);
      assert.ok(elapsed < 1000, `closed #${i} answered in ${elapsed} ms`);
    }
  });

  test('open: Redis down -> requests pass, still limited locally', async (t) => {
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      const r = await post(open.gw, open.keys.k, chatBody('local/mock-1'));
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 1000, `open #${i} answered in ${elapsed} ms`);
      statuses.push(r.status);
      if (r.status !== 200) assertRateLimited(r, 'three-a-day', [open.keys.k], `open #${i}`);
    }
    const passed = statuses.filter((s) => s === 200).length;
    t.diagnostic(`open, Redis down: ${statuses.join(' ')}`);
    assert.equal(statuses[0], 200, `the first request passes: ${statuses}`);
    assert.ok(passed <= 3, `the local counter still limits to 3: ${statuses}`);
    assert.deepEqual(statuses, [...Array(passed).fill(200), ...Array(6 - passed).fill(429)],
      `200s then 429s: ${statuses}`);
  });
});
