// A bounded loopback load test of failover: 20 clients for ~5 s (streams and whole answers)
// over a route with a healthy target, a flapping one (half its calls fail) and one that is
// stopped and started again. No client may see an error; the counts are printed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  closedPort, ms, randomKey, renderConfig, sleep, startGateway, startMock, startTorii, tempDir,
} from '../lib/harness.mjs';
import { chat, chatBody, mockStats, request, streamChat } from '../lib/http.mjs';

const CLIENTS = 20;
const RUN_MS = 5000;

describe('routing under load', () => {
  let gw;
  let healthy;
  let flapping;
  let restartable;  // stopped at 1.5 s, started again on the same port at 3 s
  let restartPort;
  const key = randomKey('sk-load');
  let agent;

  before(async () => {
    [healthy, flapping] = await Promise.all([startMock(), startMock()]);
    restartPort = await closedPort();
    restartable = await startTorii(['mock', '--listen', `127.0.0.1:${restartPort}`,
      '--workers', '1']);
    const dir = tempDir();
    const configFile = path.join(dir, 'load.yaml');
    fs.writeFileSync(configFile, renderConfig({
      server: { idle_timeout_ms: 5000, max_body_bytes: 65536 },
      providers: [
        { name: 'h', base_url: `${healthy.url}/v1` },
        { name: 'f', base_url: `${flapping.url}/v1`, headers: { 'x-mock-fail-percent': '50' },
          extra: { breaker: { consecutive_failures: 5, error_rate_percent: 50, min_requests: 20,
            window_ms: 2000, cooldown_ms: 700 } } },
        { name: 'k', base_url: `http://127.0.0.1:${restartPort}/v1`,
          timeouts: { connect_ms: 500, first_byte_ms: 5000, idle_ms: 5000 },
          extra: { breaker: { consecutive_failures: 3, error_rate_percent: 0,
            cooldown_ms: 300 } } },
      ],
      routes: [{
        name: 'load', targets: ['h/mock-1', 'f/mock-1', 'k/mock-1'],
        // Enough budget for the flapping target's share; the breakers cap the rest.
        extra: { retry: { budget_percent: 100, min_retries_per_second: 100, backoff_ms: 10 } },
      }],
      apiKeys: [{ name: 'load', env: 'RT_LOAD_KEY' }],
    }));
    gw = await startGateway(configFile, { env: { RT_LOAD_KEY: key } });
    agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  });

  after(async () => {
    if (agent) agent.destroy();
    await Promise.all([gw, healthy, flapping, restartable].filter(Boolean).map((p) => p.stop()));
  });

  test(`${CLIENTS} clients for ${RUN_MS / 1000} s: no client-visible error`, async () => {
    const counts = { requests: 0, streams: 0, retried: 0, extraAttempts: 0 };
    const byProvider = {};
    const errors = [];
    const started = Date.now();
    const until = started + RUN_MS;

    const flap = (async () => {
      await sleep(1500);
      await restartable.stop();
      await sleep(1500);
      restartable = await startTorii(['mock', '--listen', `127.0.0.1:${restartPort}`,
        '--workers', '1']);
    })();

    const client = async (c) => {
      for (let i = 0; Date.now() < until; i++) {
        const streamIt = (i + c) % 2 === 0;
        const body = chatBody('load', streamIt ? { stream: true, mock: { chunks: 4 } } : {});
        try {
          const r = streamIt
            ? await streamChat(gw.url, key, body, { timeoutMs: ms(10_000) })
            : await chat(gw.url, key, body, { agent, timeoutMs: ms(10_000) });
          counts.requests++;
          if (streamIt) counts.streams++;
          const attempts = Number(r.headers['x-torii-attempts'] || 0);
          if (attempts > 1) {
            counts.retried++;
            counts.extraAttempts += attempts - 1;
          }
          const p = r.headers['x-torii-provider'];
          byProvider[p] = (byProvider[p] || 0) + 1;
          const bad = r.status !== 200 ||
            (streamIt ? !r.done || r.events.some((e) => e.json && e.json.error)
              : !(r.json && r.json.object === 'chat.completion'));
          if (bad) errors.push(`${streamIt ? 'stream' : 'whole'} ${r.status}: ${r.text.slice(-300)}`);
        } catch (e) {
          counts.requests++;
          errors.push(`client ${c}: ${e.message}`);
        }
      }
    };
    await Promise.all([flap, ...Array.from({ length: CLIENTS }, (_, c) => client(c))]);
    const elapsed = Date.now() - started;

    const m = await request(`${gw.url}/metrics`);
    assert.equal(m.status, 200);
    const metric = (sel) => {
      const line = m.text.split('\n').find((l) => l.startsWith(sel + ' '));
      return line === undefined ? undefined : Number(line.slice(sel.length + 1));
    };
    const summary = {
      elapsed_ms: elapsed,
      requests: counts.requests,
      streams: counts.streams,
      requests_per_s: Math.round(counts.requests / (elapsed / 1000)),
      client_errors: errors.length,
      requests_with_retries: counts.retried,
      extra_attempts: counts.extraAttempts,
      by_provider: byProvider,
      route_retries_total: metric('torii_route_retries_total{route="load"}'),
      budget_exhausted_total: metric('torii_route_retry_budget_exhausted_total{route="load"}'),
      breaker_opened_f: metric('torii_target_breaker_opened_total{provider="f",model="mock-1"}'),
      breaker_opened_k: metric('torii_target_breaker_opened_total{provider="k",model="mock-1"}'),
      failures_f: metric('torii_target_failures_total{provider="f",model="mock-1"}'),
      failures_k: metric('torii_target_failures_total{provider="k",model="mock-1"}'),
      k_after_restart: (await mockStats(restartable.url)).chat_requests,
    };
    console.log('routing load:', JSON.stringify(summary));

    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} client-visible errors`);
    assert.ok(counts.requests >= 200, `only ${counts.requests} requests in ${elapsed} ms`);
    assert.ok(counts.retried > 0, 'some requests needed a second target');
    assert.ok(summary.failures_f > 0, 'the flapping target failed some calls');
    assert.ok(summary.breaker_opened_k >= 1, 'the stopped target\'s breaker opened');
    assert.ok(summary.k_after_restart > 0, 'the restarted target got traffic again');
    assert.ok(byProvider.h > 0 && byProvider.f > 0, JSON.stringify(byProvider));
  });
});
