// Active health checks (docs/ROUTING.md): a provider whose check fails is taken out of
// selection, so requests stop paying a failed try on it; it comes back when the check passes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  closedPort, ms, randomKey, renderConfig, startGateway, startMock, startTorii, tempDir, waitFor,
} from '../lib/harness.mjs';
import { bearer, chatBody, request } from '../lib/http.mjs';

describe('active health checks', () => {
  let good, flip, gw, apiKey, flipPort;
  before(async () => {
    good = await startMock();
    flipPort = await closedPort();  // nothing listens there yet: its checks fail
    apiKey = randomKey('sk-torii-test');
    const dir = tempDir();
    const file = path.join(dir, 'torii.yaml');
    fs.writeFileSync(file, renderConfig({
      providers: [
        { name: 'good', base_url: `${good.url}/v1` },
        { name: 'flip', base_url: `http://127.0.0.1:${flipPort}/v1`,
          extra: { health_check: { path: '/models', interval_ms: 100, timeout_ms: 500 },
            breaker: { enabled: false } } },
      ],
      routes: [{ name: 'pair', targets: ['flip/mock-1', 'good/mock-1'] }],
      apiKeys: [{ name: 'k', env: 'TORII_TEST_API_KEY' }],
    }));
    gw = await startGateway(file, { env: { TORII_TEST_API_KEY: apiKey } });
  });
  after(async () => {
    await Promise.all([gw, good, flip].filter(Boolean).map((p) => p.stop()));
  });

  const metric = async (name) => {
    const r = await request(`${gw.url}/metrics`);
    assert.equal(r.status, 200);
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.text);
    return m ? Number(m[1]) : undefined;
  };
  const ask = () => request(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { ...bearer(apiKey), 'content-type': 'application/json' },
    body: JSON.stringify(chatBody('pair')),
  });

  test('a provider whose check fails is skipped: no request pays a failed try on it', async () => {
    await waitFor(async () => (await metric(
      'torii_provider_health_check_failing\\{provider="flip"\\}')) === 1, ms(5000),
    'the check of flip to fail');
    for (let i = 0; i < 10; i++) {
      const r = await ask();
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-torii-provider'], 'good');
      assert.equal(r.headers['x-torii-attempts'], '1', 'flip was not tried');
    }
  });

  test('it comes back when its check passes again', async () => {
    flip = await startTorii(['mock', '--listen', `127.0.0.1:${flipPort}`, '--workers', '1']);
    await waitFor(async () => (await metric(
      'torii_provider_health_check_failing\\{provider="flip"\\}')) === 0, ms(5000),
    'the check of flip to pass');
    const seen = new Set();
    for (let i = 0; i < 6; i++) {
      const r = await ask();
      assert.equal(r.status, 200, r.text);
      seen.add(r.headers['x-torii-provider']);
    }
    assert.ok(seen.has('flip'), `round robin reaches flip again: ${[...seen]}`);
  });

  test('/metrics answers GET only: another method is a 405 with Allow', async () => {
    const r = await request(`${gw.url}/metrics`, { method: 'POST', body: '' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET');
  });
});
