// Quotas through the official SDKs, unchanged (issue 6): a rate limit surfaces as the SDK's
// typed RateLimitError (429) with torii's message and headers; a spent budget as a
// RateLimitError too, with type insufficient_quota / budget_exceeded (the OpenAI SDK exposes
// them as err.type and err.code; Anthropic's keeps the error body); the SDKs' raw responses
// carry x-ratelimit-* and x-torii-cost-usd.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMock, tempDir } from '../lib/harness.mjs';
import { startQuotaGateway } from '../lib/quota.mjs';
import { rejectsWith } from '../lib/sdk.mjs';

const messages = [{ role: 'user', content: 'Tell the quota SDK test something.' }];

describe('quotas through the official SDKs', () => {
  let mock;
  let gw;
  let keys;

  before(async () => {
    mock = await startMock();
    ({ gw, keys } = await startQuotaGateway({
      mockUrl: mock.url,
      dir: tempDir(),
      name: 'quota-sdk',
      keys: ['rate', 'budget', 'anthropic'],
      routes: [{ name: 'fast', targets: ['local/mock-1'] }],
      yaml: `
quotas:
  limits:
    - {id: two-a-day, scope: [key], requests: 2, per: day, when: {key: [rate, anthropic]}}
  budgets:
    - {id: tiny, scope: [key], usd: 0.000500, period: day, when: {key: budget}}
prices:
  mock-1: {input: 1.00, output: 2.00}
`,
    }));
  });

  after(async () => {
    await Promise.all([gw, mock].filter(Boolean).map((p) => p.stop()));
    const log = gw ? gw.stderr() : '';
    for (const k of Object.values(keys || {})) assert.ok(!log.includes(k), 'a key is logged');
  });

  const openai = (apiKey) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0,
    timeout: 10_000 });

  test('openai: headers on success, then RateLimitError naming the limit', async () => {
    const client = openai(keys.rate);
    const { data, response } = await client.chat.completions
      .create({ model: 'fast', messages, max_tokens: 20 }).withResponse();
    assert.ok(data.choices[0].message.content.length > 0);
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.match(response.headers.get('x-torii-cost-usd'), /^0\.\d{6}$/);
    await client.chat.completions.create({ model: 'fast', messages, max_tokens: 20 });
    const err = await rejectsWith(
      client.chat.completions.create({ model: 'fast', messages, max_tokens: 20 }),
      OpenAI.RateLimitError, 429);
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.match(err.message, /two-a-day/);
    assert.ok(!err.message.includes(keys.rate));
    assert.ok(Number(err.headers.get('retry-after')) >= 1);
    assert.ok(Number(err.headers.get('retry-after-ms')) >= 1);
    assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
  });

  test('openai: a spent budget is insufficient_quota / budget_exceeded', async () => {
    const client = openai(keys.budget);
    // Each call reserves (prompt + 200) tokens at 2 USD per 1M output: ~0.0004 USD; two
    // reservations in flight would pass the 0.0005 budget, so the second waits for the first
    // to settle (it costs far less), and the budget still refuses a large max_tokens.
    await client.chat.completions.create({ model: 'fast', messages, max_tokens: 200 });
    const err = await rejectsWith(
      client.chat.completions.create({ model: 'fast', messages, max_tokens: 2000 }),
      OpenAI.RateLimitError, 429);
    assert.equal(err.type, 'insufficient_quota');
    assert.equal(err.code, 'budget_exceeded');
    assert.match(err.message, /budget 'tiny' is spent/);
  });

  test('anthropic: RateLimitError in the Messages error shape', async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: keys.anthropic, maxRetries: 0,
      timeout: 10_000 });
    const ok = await client.messages.create({ model: 'fast', max_tokens: 20, messages });
    assert.equal(ok.type, 'message');
    await client.messages.create({ model: 'fast', max_tokens: 20, messages });
    const err = await rejectsWith(client.messages.create({ model: 'fast', max_tokens: 20,
      messages }), Anthropic.RateLimitError, 429);
    assert.equal(err.error.type, 'error');
    assert.equal(err.error.error.type, 'rate_limit_error');
    assert.match(err.error.error.message, /two-a-day/);
  });
});
