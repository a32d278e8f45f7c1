// Routing under injected faults (docs: the routing contract): failover over dead, slow, 5xx
// and 429 targets, mid-stream resets, breakers opening and half-opening, retry budget,
// deadlines and per-try timeouts, retries with backoff, 4xx failover, groups, content rules,
// API key rotation and the strategies' traffic shares. One gateway, several `torii mock`
// processes (one per target whose request count a test reads); faults come from the
// providers' `headers:` (x-mock-* knobs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  closedPort, ms, randomKey, renderConfig, sleep, startGateway, startMock, tempDir,
} from '../lib/harness.mjs';
import {
  assertOpenAIError, chat, chatBody, mockLast, mockStats, request, streamChat, streamedContent,
} from '../lib/http.mjs';

// A breaker that opens after 3 straight failures and stays open for the whole file.
const STICKY_BREAKER = { consecutive_failures: 3, error_rate_percent: 0, cooldown_ms: 60_000 };

describe('routing', () => {
  let gw;
  let mockA;  // healthy
  let mockB;  // healthy (API key rotation reads its /mock/last)
  let mockF;  // faulty targets (faults from provider headers); counts read per test
  let mockR;  // recovering targets (x-mock-fail-first)
  let deadPort;
  const keys = {
    plain: randomKey('sk-plain'),
    premium: randomKey('sk-premium'),
  };
  const providerKeys = ['pk-one-' + randomKey('x'), 'pk-two-' + randomKey('x')];
  let agent;

  before(async () => {
    [mockA, mockB, mockF, mockR] = await Promise.all(
      [startMock(), startMock(), startMock(), startMock()]);
    deadPort = await closedPort();
    const A = `${mockA.url}/v1`;
    const B = `${mockB.url}/v1`;
    const F = `${mockF.url}/v1`;
    const R = `${mockR.url}/v1`;
    const dead = `http://127.0.0.1:${deadPort}/v1`;
    const p = (name, base, more = {}) => ({ name, base_url: base, ...more });
    const providers = [
      p('a', A), p('b', B),
      // test 1: one faulty target of three
      p('down', dead, { extra: { breaker: STICKY_BREAKER } }),
      p('slow', F, { headers: { 'x-mock-latency-ms': '1000' },
        timeouts: { connect_ms: 1000, first_byte_ms: 150, idle_ms: 1000 },
        extra: { breaker: STICKY_BREAKER } }),
      p('e500', F, { headers: { 'x-mock-status': '500' }, extra: { breaker: STICKY_BREAKER } }),
      p('r429', F, { headers: { 'x-mock-status': '429', 'x-mock-retry-after': '1' },
        extra: { breaker: STICKY_BREAKER } }),
      // test 2: streams cut by a reset
      p('cut0', F, { headers: { 'x-mock-reset-after-chunks': '0' } }),
      p('cut3', F, { headers: { 'x-mock-reset-after-chunks': '3', 'x-mock-chunks': '8' } }),
      // test 3: all down
      ...['d1', 'd2', 'd3'].map((n) => p(n, dead, { extra: { breaker:
        { consecutive_failures: 2, error_rate_percent: 0, cooldown_ms: 3000 } } })),
      // test 4: breaker with a recovering target (the first 4 calls fail)
      p('flaky', R, { headers: { 'x-mock-fail-first': '4' }, extra: { breaker:
        { consecutive_failures: 3, error_rate_percent: 0, cooldown_ms: 500,
          half_open_probes: 1 } } }),
      // test 4: one probe at a time while half-open (the first 3 calls fail, each takes 200 ms)
      p('hop', R, { headers: { 'x-mock-fail-first': '3', 'x-mock-latency-ms': '200' },
        extra: { breaker: { consecutive_failures: 3, error_rate_percent: 0, cooldown_ms: 400,
          half_open_probes: 1 } } }),
      // test 4: the error-rate trigger alone
      p('erate', F, { headers: { 'x-mock-status': '500' }, extra: { breaker:
        { consecutive_failures: 0, error_rate_percent: 50, min_requests: 4, window_ms: 10_000,
          cooldown_ms: 60_000 } } }),
      // test 5: retry budget
      p('bbroken', F, { headers: { 'x-mock-status': '500' } }),
      // test 6: deadline and per-try timeout
      p('dslow', F, { headers: { 'x-mock-latency-ms': '2000' } }),
      p('pslow', F, { headers: { 'x-mock-latency-ms': '2000' } }),
      p('ttslow', F, { headers: { 'x-mock-ttft-ms': '2000' } }),
      p('always500', F, { headers: { 'x-mock-status': '500' }, extra: { breaker:
        { enabled: false } } }),
      // every target answers 429
      ...['q1', 'q2'].map((n) => p(n, F, { headers: { 'x-mock-status': '429',
        'x-mock-retry-after': '3' } })),
      // test 7: retries on one target (the first 2 calls fail)
      p('recover', R, { headers: { 'x-mock-fail-first': '2' } }),
      // test 9: 4xx failover
      p('bad400', F, { headers: { 'x-mock-status': '400' } }),
      // test 10: rule destinations (all healthy, told apart by x-torii-provider)
      ...['ra', 'rb', 'rc', 'rd', 're', 'ga', 'gb'].map((n) => p(n, A)),
      // test 11: two API keys; and two keys that both answer 429
      p('keyed', B, { extra: { api_keys: providerKeys } }),
      p('keyed429', F, { headers: { 'x-mock-status': '429', 'x-mock-retry-after': '2' },
        extra: { api_keys: providerKeys } }),
      // test 12: strategies
      p('wa', A), p('wb', A),
      p('lslow', A, { headers: { 'x-mock-latency-ms': '200' } }), p('lfast', A),
      p('llslow', A, { headers: { 'x-mock-latency-ms': '60' } }), p('llfast', A),
      p('pslow2', A, { headers: { 'x-mock-latency-ms': '200' } }), p('pfast', A),
    ];
    const routes = [
      { name: 'rr-down', targets: ['a/mock-1', 'b/mock-1', 'down/mock-1'] },
      { name: 'rr-slow', targets: ['a/mock-1', 'b/mock-1', 'slow/mock-1'] },
      { name: 'rr-500', targets: ['a/mock-1', 'b/mock-1', 'e500/mock-1'] },
      { name: 'rr-429', targets: ['a/mock-1', 'b/mock-1', 'r429/mock-1'] },
      { name: 'cut0-first', targets: ['cut0/mock-1', { target: 'a/mock-1', priority: 1 }] },
      { name: 'cut3-first', targets: ['cut3/mock-1', { target: 'a/mock-1', priority: 1 }] },
      { name: 'all-down', targets: ['d1/mock-1', 'd2/mock-1', 'd3/mock-1'] },
      { name: 'breaker', targets: ['flaky/mock-1'] },
      { name: 'error-rate', targets: ['erate/mock-1'] },
      { name: 'half-open', targets: ['hop/mock-1'] },
      { name: 'no-budget', targets: ['bbroken/mock-1', { target: 'a/mock-1', priority: 1 }],
        extra: { retry: { budget_percent: 0, min_retries_per_second: 0 } } },
      { name: 'deadline', targets: ['dslow/mock-1'], extra: { retry: { deadline_ms: 300 } } },
      { name: 'per-try', targets: ['pslow/mock-1', { target: 'a/mock-1', priority: 1 }],
        extra: { retry: { per_try_timeout_ms: 200 } } },
      { name: 'per-try-ttft', targets: ['ttslow/mock-1', { target: 'a/mock-1', priority: 1 }],
        extra: { retry: { per_try_timeout_ms: 200 } } },
      { name: 'deadline-backoff', targets: ['always500/mock-1'],
        extra: { retry: { attempts: 10, backoff_ms: 1000, max_backoff_ms: 4000,
          deadline_ms: 400 } } },
      { name: 'all-429', targets: ['q1/mock-1', 'q2/mock-1'] },
      { name: 'retry-one', targets: ['recover/mock-1'],
        extra: { retry: { attempts: 3, backoff_ms: 20, max_backoff_ms: 100 } } },
      { name: 'f400-none', targets: ['bad400/mock-1', { target: 'a/mock-1', priority: 1 }] },
      { name: 'f400-status', targets: ['bad400/mock-1', { target: 'a/mock-1', priority: 1 }],
        extra: { failover_on: ['connect', 'reset', 'timeout', '5xx', '429', '400'] } },
      { name: 'f400-text', targets: ['bad400/mock-1', { target: 'a/mock-1', priority: 1 }],
        extra: { failover_on_errors: ['mock_injected'] } },
      { name: 'f400-other-text', targets: ['bad400/mock-1', { target: 'a/mock-1', priority: 1 }],
        extra: { failover_on_errors: ['context_length_exceeded'] } },
      { name: 'smart', targets: ['a/mock-1'], extra: { group: 'premium' } },
      { name: 'tiered', targets: ['ga/mock-1'] },
      { name: 'tiered', targets: ['gb/mock-1'], extra: { group: 'premium' } },
      { name: 'to-rb', targets: ['rb/mock-1'] },
      { name: 'to-rc', targets: ['rc/mock-1'] },
      { name: 'to-rd', targets: ['rd/mock-1'] },
      { name: 'to-re', targets: ['re/mock-1'] },
      { name: 'ruled', targets: ['ra/mock-1'], extra: [
        'rules:',
        '  - when: {metadata: tier, equals: gold}',
        '    route: to-rb',
        '  - when: {header: x-team, in: [red, blue]}',
        '    route: to-rc',
        '  - when: {prompt_tokens_above: 200}',
        '    route: to-rd',
        '  - when: [{field: /temperature, below: 1}, {field: /user, exists: true}]',
        '    route: to-re',
      ] },
      { name: 'weighted', targets: [{ target: 'wa/mock-1', weight: 1 },
        { target: 'wb/mock-1', weight: 3 }], extra: { strategy: 'weighted' } },
      { name: 'least', targets: ['lslow/mock-1', 'lfast/mock-1'],
        extra: { strategy: 'least_inflight' } },
      { name: 'lowlat', targets: ['llslow/mock-1', 'llfast/mock-1'],
        extra: { strategy: 'lowest_latency' } },
      { name: 'p2c', targets: ['pslow2/mock-1', 'pfast/mock-1'], extra: { strategy: 'p2c' } },
    ];
    const dir = tempDir();
    const configFile = path.join(dir, 'routing.yaml');
    fs.writeFileSync(configFile, renderConfig({
      server: { idle_timeout_ms: 5000 },
      providers,
      routes,
      apiKeys: [
        { name: 'plain', env: 'RT_PLAIN_KEY' },
        { name: 'premium', env: 'RT_PREMIUM_KEY', groups: ['premium'],
          metadata: { tier: 'gold' } },
      ],
    }));
    gw = await startGateway(configFile,
      { env: { RT_PLAIN_KEY: keys.plain, RT_PREMIUM_KEY: keys.premium } });
    agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  });

  after(async () => {
    if (agent) agent.destroy();
    await Promise.all([gw, mockA, mockB, mockF, mockR].filter(Boolean).map((p) => p.stop()));
  });

  const post = (model, extra = {}, opts = {}) =>
    chat(gw.url, opts.key || keys.plain, chatBody(model, extra),
      { agent, timeoutMs: ms(10_000), ...opts });
  const stream = (model, extra = {}, opts = {}) =>
    streamChat(gw.url, opts.key || keys.plain, chatBody(model, { stream: true, ...extra }),
      { timeoutMs: ms(10_000), ...opts });
  const chats = async (mock) => (await mockStats(mock.url)).chat_requests;
  const reset = async (mock) => {
    const r = await request(`${mock.url}/mock/reset`, { method: 'POST' });
    assert.equal(r.status, 200, r.text);
  };
  const attemptsOf = (r) => Number(r.headers['x-torii-attempts']);

  /** GET /metrics; returns value(name, labels) -> number or undefined. */
  async function metrics() {
    const r = await request(`${gw.url}/metrics`);
    assert.equal(r.status, 200, r.text);
    return (name, labels) => {
      const sel = name + '{' + Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',') +
        '}';
      const line = r.text.split('\n').find((l) => l.startsWith(sel + ' '));
      return line === undefined ? undefined : Number(line.slice(sel.length + 1));
    };
  }
  const target = (provider) => ({ provider, model: 'mock-1' });

  // --- 1. one faulty target of three ---------------------------------------------------------

  for (const [route, faulty, mock] of [
    ['rr-down', 'down', null], ['rr-slow', 'slow', 'F'], ['rr-500', 'e500', 'F'],
  ]) {
    test(`1. ${route}: 30 requests over 3 targets, one faulty -> all 200; breaker stops retries`,
      async () => {
        if (mock) await reset(mockF);
        const providers = new Map();
        let retried = 0;
        for (let i = 0; i < 30; i++) {
          if (i % 3 === 2) {
            const s = await stream(route);
            assert.equal(s.status, 200, s.text);
            assert.ok(s.done, `stream ${i} ends with [DONE]: ${s.text.slice(-300)}`);
            if (attemptsOf(s) >= 2) retried++;
            providers.set(s.headers['x-torii-provider'],
              (providers.get(s.headers['x-torii-provider']) || 0) + 1);
          } else {
            const r = await post(route);
            assert.equal(r.status, 200, `request ${i}: ${r.text}`);
            assert.equal(r.json.object, 'chat.completion');
            if (attemptsOf(r) >= 2) retried++;
            providers.set(r.headers['x-torii-provider'],
              (providers.get(r.headers['x-torii-provider']) || 0) + 1);
          }
        }
        assert.ok(!providers.has(faulty), `the faulty target never answered: ${[...providers]}`);
        assert.ok(providers.get('a') > 5 && providers.get('b') > 5, `a and b share: ${[...providers]}`);
        // Each failed call costs one extra attempt; after 3 straight failures the breaker opens.
        assert.equal(retried, 3, 'requests with x-torii-attempts >= 2');
        const m = await metrics();
        assert.equal(m('torii_target_breaker_state', target(faulty)), 1, 'breaker open');
        assert.equal(m('torii_target_breaker_opened_total', target(faulty)), 1);
        assert.equal(m('torii_target_failures_total', target(faulty)), 3);
        if (mock) assert.equal(await chats(mockF), 3, 'the faulty mock saw 3 calls');
      });
  }

  test('1. rr-429: the rate-limited target is skipped while it cools, then used again',
    async () => {
      await reset(mockF);
      let first429At = 0;
      let retried = 0;
      for (let i = 0; i < 30; i++) {
        const r = i % 3 === 2 ? await stream('rr-429') : await post('rr-429');
        assert.equal(r.status, 200, `request ${i}: ${r.text}`);
        assert.notEqual(r.headers['x-torii-provider'], 'r429');
        if (attemptsOf(r) >= 2) {
          retried++;
          if (!first429At) first429At = Date.now();
        }
        const seen = await chats(mockF);
        if (first429At && Date.now() - first429At < 800) {
          assert.equal(seen, 1, `the 429 target got no call while cooling (request ${i})`);
        }
      }
      assert.ok(first429At, 'the 429 target was tried');
      assert.equal(retried, 1);
      const cooled = Date.now() - first429At;
      assert.ok(cooled < 1000, `30 requests took ${cooled} ms: too slow to check the cooling`);
      await sleep(1100 - cooled);
      for (let i = 0; i < 6 && (await chats(mockF)) < 2; i++) {
        const r = await post('rr-429');
        assert.equal(r.status, 200, r.text);
      }
      assert.equal(await chats(mockF), 2, 'after Retry-After: 1 the target is tried again');
      const m = await metrics();
      assert.equal(m('torii_target_breaker_state', target('r429')), 0, 'a 429 opens no breaker');
    });

  // --- 2. resets in a stream -----------------------------------------------------------------

  test('2. reset before any content: fails over, the client gets a whole stream', async () => {
    const s = await stream('cut0-first', { mock: { chunks: 5 } });
    assert.equal(s.status, 200, s.text);
    assert.ok(s.done, `[DONE] after failover: ${s.text.slice(-400)}`);
    assert.equal(s.headers['x-torii-provider'], 'a');
    assert.equal(attemptsOf(s), 2);
    const errors = s.events.filter((e) => e.json && e.json.error);
    assert.equal(errors.length, 0, `no error event: ${s.text}`);
    assert.equal(streamedContent(s.events).trim().split(/\s+/).length, 5, 'all 5 words');
  });

  test('2. reset after 3 chunks: 200 was sent, the stream ends with an error event', async () => {
    const s = await stream('cut3-first');
    assert.equal(s.status, 200, s.text);
    assert.equal(s.headers['x-torii-provider'], 'cut3', 'no failover once bytes were sent');
    assert.equal(s.done, false, `no [DONE]: ${s.text.slice(-400)}`);
    const last = s.events[s.events.length - 1];
    assert.ok(last && last.json && last.json.error, `last event is an error: ${s.text.slice(-400)}`);
    assert.equal(typeof last.json.error.message, 'string');
    assert.ok(streamedContent(s.events).length > 0, 'content reached the client first');
    const m = await metrics();
    assert.equal(m('torii_target_failures_total', target('cut3')), 1, 'a cut stream is a failure');
  });

  // --- 3. all targets down -------------------------------------------------------------------

  test('3. all targets down -> 502 "all 3 attempts"; then breakers open -> fast 503', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await post('all-down');
      const err = assertOpenAIError(r, 502, `all down #${i}`);
      assert.match(err.message, /all 3 attempts/);
      assert.equal(r.headers['x-torii-attempts'], '3');
    }
    const m = await metrics();
    for (const d of ['d1', 'd2', 'd3']) {
      assert.equal(m('torii_target_breaker_state', target(d)), 1, `${d} open`);
    }
    const t0 = Date.now();
    const r = await post('all-down');
    const took = Date.now() - t0;
    const err = assertOpenAIError(r, 503, 'breakers open');
    assert.equal(err.code, 'no_healthy_target');
    const ra = Number(r.headers['retry-after']);
    assert.ok(ra >= 1 && ra <= 3, `Retry-After ${r.headers['retry-after']} within the 3 s cooldown`);
    assert.equal(r.headers['x-torii-attempts'], undefined, 'no upstream call');
    assert.ok(took < ms(200), `503 took ${took} ms`);
  });

  // --- 4. breaker: open, half-open probe that fails, probe that succeeds ------------------------

  test('4. breaker opens after 3 failures, probes after cooldown, closes on recovery', async () => {
    await reset(mockR);
    const state = async () => (await metrics())('torii_target_breaker_state', target('flaky'));
    assert.equal(await state(), 0, 'closed at first');
    for (let i = 0; i < 3; i++) assertOpenAIError(await post('breaker'), 502, `failure ${i}`);
    assert.equal(await chats(mockR), 3);
    assert.equal(await state(), 1, 'open after 3 failures');
    const refused = await post('breaker');
    assert.equal(assertOpenAIError(refused, 503, 'open breaker').code, 'no_healthy_target');
    assert.equal(await chats(mockR), 3, 'no call while open');

    await sleep(600);  // cooldown 500 ms: one probe; the 4th call still fails -> open again
    assertOpenAIError(await post('breaker'), 502, 'failed probe');
    assert.equal(await chats(mockR), 4, 'the probe reached the target');
    let m = await metrics();
    assert.equal(m('torii_target_breaker_state', target('flaky')), 1, 'open again');
    assert.equal(m('torii_target_breaker_opened_total', target('flaky')), 2);
    assertOpenAIError(await post('breaker'), 503, 'open again');
    assert.equal(await chats(mockR), 4);

    await sleep(600);  // next probe: the 5th call succeeds -> closed
    const ok = await post('breaker');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(await chats(mockR), 5);
    assert.equal(await state(), 0, 'closed after a good probe');
    for (let i = 0; i < 4; i++) assert.equal((await post('breaker')).status, 200);
    assert.equal(await chats(mockR), 9, 'traffic is back');
    m = await metrics();
    assert.equal(m('torii_target_breaker_opened_total', target('flaky')), 2);
  });

  test('4. half-open lets one probe through; concurrent requests meanwhile get 503', async () => {
    await reset(mockR);
    for (let i = 0; i < 3; i++) assertOpenAIError(await post('half-open'), 502, `failure ${i}`);
    await sleep(500);
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) =>
      sleep(i === 0 ? 0 : 50).then(() => post('half-open'))));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 503, 503, 503], 'one probe, three refused');
    const refused = results.filter((x) => x.status === 503);
    for (const r of refused) {
      assert.equal(assertOpenAIError(r, 503, 'probe in flight').code, 'no_healthy_target');
      assert.equal(r.headers['x-torii-attempts'], undefined);
    }
    assert.equal(await chats(mockR), 4, 'only the probe reached the target');
    assert.equal((await metrics())('torii_target_breaker_state', target('hop')), 0);
    // The contract: a 503 no_healthy_target carries Retry-After (here: the probe's outcome is
    // not known yet, so at least 1 s).
    for (const r of refused) {
      assert.ok(Number(r.headers['retry-after']) >= 1,
        `Retry-After on a 503 while the probe is in flight: ${r.headers['retry-after']}`);
    }
  });

  test('4. error_rate_percent 50 with min_requests 4: opens at the 4th failed call', async () => {
    const state = async () => (await metrics())('torii_target_breaker_state', target('erate'));
    for (let i = 0; i < 3; i++) {
      assertOpenAIError(await post('error-rate'), 502, `call ${i}`);
      assert.equal(await state(), 0, `closed below min_requests (after ${i + 1})`);
    }
    assertOpenAIError(await post('error-rate'), 502, 'call 4');
    assert.equal(await state(), 1, 'open once 4 calls in the window all failed');
    assertOpenAIError(await post('error-rate'), 503, 'open');
  });

  // --- 5. retry budget -----------------------------------------------------------------------

  test('5. retry budget 0: the failing first target is the answer, "retry budget"', async () => {
    const r = await post('no-budget');
    const err = assertOpenAIError(r, 502, 'budget spent');
    assert.match(err.message, /retry budget/);
    assert.equal(r.headers['x-torii-attempts'], '1');
    const m = await metrics();
    assert.ok(m('torii_route_retry_budget_exhausted_total', { route: 'no-budget' }) >= 1,
      'budget exhaustion counted');
    assert.equal(m('torii_route_retries_total', { route: 'no-budget' }), 0);
  });

  // --- 6. deadline and per-try timeout --------------------------------------------------------

  test('6. deadline_ms 300 over a 2 s target -> 504 "deadline" within ~1 s', async () => {
    const t0 = Date.now();
    const r = await post('deadline');
    const took = Date.now() - t0;
    const err = assertOpenAIError(r, 504, 'deadline');
    assert.match(err.message, /deadline/);
    assert.ok(took >= 250 && took < ms(1000), `504 after ${took} ms`);
  });

  test('6. per_try_timeout_ms 200: the slow target is abandoned, healthy one answers', async () => {
    for (const streamIt of [false, true]) {
      const t0 = Date.now();
      const r = streamIt ? await stream('per-try') : await post('per-try');
      const took = Date.now() - t0;
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-torii-provider'], 'a');
      assert.equal(r.headers['x-torii-attempts'], '2');
      assert.ok(took >= 180 && took < ms(1000), `answer after ${took} ms`);
      if (streamIt) assert.ok(r.done);
    }
  });

  test('6. per-try timeout covers a stream\'s first chunk (head sent, ttft 2 s)', async () => {
    const t0 = Date.now();
    const s = await stream('per-try-ttft');
    const took = Date.now() - t0;
    assert.equal(s.status, 200, s.text);
    assert.ok(s.done, s.text.slice(-300));
    assert.equal(s.headers['x-torii-provider'], 'a');
    assert.equal(s.headers['x-torii-attempts'], '2');
    assert.ok(took < ms(1000), `answer after ${took} ms`);
  });

  test('6. the deadline also cuts backoffs: 504 "deadline" by ~400 ms (12 in parallel)',
    async () => {
      // Several at once: the end of the last backoff races the deadline in each of them. A
      // backoff that would end past the deadline ends the request at once (no try could start).
      const results = await Promise.all(Array.from({ length: 12 }, async () => {
        const t0 = Date.now();
        const r = await post('deadline-backoff');
        return { r, took: Date.now() - t0 };
      }));
      for (const { r, took } of results) {
        const err = assertOpenAIError(r, 504, `deadline during backoff (after ${took} ms, ` +
          `${r.headers['x-torii-attempts']} attempts)`);
        assert.match(err.message, /deadline/);
        assert.ok(took < ms(1000), `504 after ${took} ms`);
        assert.ok(attemptsOf(r) >= 1 && attemptsOf(r) < 10, `attempts ${attemptsOf(r)}`);
      }
    });

  test('3. every target 429 -> 429 with Retry-After; then all cooling -> 429 at once',
    async () => {
    const r = await post('all-429');
    const err = assertOpenAIError(r, 429, 'all rate limited');
    assert.match(err.message, /all 2 attempts/);
    assert.equal(r.headers['retry-after'], '3');
    // Every key cooling: the client is told to wait too (no upstream call).
    const again = await post('all-429');
    assert.equal(assertOpenAIError(again, 429, 'all cooling').code, 'rate_limit_exceeded');
    assert.equal(again.headers['x-torii-attempts'], undefined, 'no upstream call');
    const ra = Number(again.headers['retry-after']);
    assert.ok(ra >= 2 && ra <= 3, `Retry-After ${again.headers['retry-after']}`);
  });

  // --- 7. retries with backoff on one target -------------------------------------------------

  test('7. attempts 3 on one target that fails twice -> 200 after 3 calls', async () => {
    await reset(mockR);
    const r = await post('retry-one');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-torii-attempts'], '3');
    assert.equal(r.headers['x-torii-provider'], 'recover');
    assert.equal(await chats(mockR), 3);
    const m = await metrics();
    assert.equal(m('torii_route_retries_total', { route: 'retry-one' }), 2);
  });

  // --- 8. headers on success ----------------------------------------------------------------

  test('8. x-torii-provider / -model / -attempts on success, stream and not', async () => {
    const r = await post('b/mock-1');
    assert.equal(r.status, 200, r.text);
    const s = await stream('tiered');
    assert.equal(s.status, 200, s.text);
    for (const [res, provider] of [[r, 'b'], [s, 'ga']]) {
      assert.equal(res.headers['x-torii-provider'], provider);
      assert.equal(res.headers['x-torii-model'], 'mock-1');
      assert.equal(res.headers['x-torii-attempts'], '1');
    }
  });

  // --- 9. failover on a chosen 4xx --------------------------------------------------------

  test('9. a 400 is the answer by default; failover_on [400] / failover_on_errors move on',
    async () => {
      const plain = await post('f400-none');
      assertOpenAIError(plain, 400, 'default: 400 is the answer');
      assert.equal(plain.headers['x-torii-attempts'], '1');
      const other = await post('f400-other-text');
      assertOpenAIError(other, 400, 'error text not in the body');
      for (const route of ['f400-status', 'f400-text']) {
        const r = await post(route);
        assert.equal(r.status, 200, `${route}: ${r.text}`);
        assert.equal(r.headers['x-torii-provider'], 'a');
        assert.equal(r.headers['x-torii-attempts'], '2');
      }
      const m = await metrics();
      assert.equal(m('torii_target_breaker_state', target('bad400')), 0, 'a 4xx is no failure');
    });

  // --- 10. groups, /v1/models, content rules ------------------------------------------------

  test('10. a group route is visible and usable only by its group', async () => {
    const list = async (key) => {
      const r = await request(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(r.status, 200, r.text);
      return r.json.data.map((m) => m.id);
    };
    const premium = await list(keys.premium);
    const plain = await list(keys.plain);
    assert.ok(premium.includes('smart'), `premium sees smart: ${premium}`);
    assert.ok(!plain.includes('smart'), `plain does not see smart: ${plain}`);
    assert.ok(plain.includes('tiered') && plain.includes('a/mock-1'));
    const denied = await post('smart');
    assert.equal(assertOpenAIError(denied, 404, 'group route').code, 'model_not_found');
    const ok = await post('smart', {}, { key: keys.premium });
    assert.equal(ok.status, 200, ok.text);
    // Same alias, two variants: the group's for members, the open one for everyone else.
    assert.equal((await post('tiered', {}, { key: keys.premium })).headers['x-torii-provider'], 'gb');
    assert.equal((await post('tiered')).headers['x-torii-provider'], 'ga');
  });

  test('10. content rules send requests to the expected route', async () => {
    const via = async (extra, opts) => {
      const r = await post('ruled', extra, opts);
      assert.equal(r.status, 200, r.text);
      return r.headers['x-torii-provider'];
    };
    assert.equal(await via({}), 'ra', 'no rule matches');
    assert.equal(await via({}, { key: keys.premium }), 'rb', 'metadata tier gold');
    assert.equal(await via({}, { headers: { 'x-team': 'blue' } }), 'rc', 'header in');
    assert.equal(await via({}, { headers: { 'x-team': 'green' } }), 'ra', 'header not in');
    const long = { messages: [{ role: 'user', content: 'word '.repeat(400) }] };  // ~500 tokens
    assert.equal(await via(long), 'rd', 'prompt_tokens_above 200');
    assert.equal(await via({ temperature: 0.5, user: 'u1' }), 're', 'both field conditions');
    assert.equal(await via({ temperature: 0.5 }), 'ra', 'one field condition only');
    assert.equal(await via({ temperature: 1.5, user: 'u1' }), 'ra', 'temperature not below 1');
  });

  // --- 11. several API keys per provider ---------------------------------------------------

  test('11. api_keys [k1, k2]: requests rotate the upstream key', async () => {
    const seen = [];
    for (let i = 0; i < 6; i++) {
      const r = await post('keyed/mock-1');
      assert.equal(r.status, 200, r.text);
      seen.push((await mockLast(mockB.url)).headers.authorization);
    }
    const expected = providerKeys.map((k) => `Bearer ${k}`);
    for (const a of seen) assert.ok(expected.includes(a), `an upstream key is used: ${a}`);
    for (let i = 1; i < seen.length; i++) {
      assert.notEqual(seen[i], seen[i - 1], `keys alternate: ${seen.map((s) => s.slice(-6))}`);
    }
  });

  test('11. a 429 cools only the key that got it; both cooling -> 429 without a call', async () => {
    await reset(mockF);
    const first = await post('keyed429/mock-1');
    assertOpenAIError(first, 429, 'first key limited');
    const k1 = (await mockLast(mockF.url)).headers.authorization;
    const second = await post('keyed429/mock-1');
    assertOpenAIError(second, 429, 'second key limited');
    const k2 = (await mockLast(mockF.url)).headers.authorization;
    assert.notEqual(k1, k2, 'the cooling key is not used again');
    const third = await post('keyed429/mock-1');
    assert.equal(assertOpenAIError(third, 429, 'both keys cooling').code, 'rate_limit_exceeded');
    assert.ok(Number(third.headers['retry-after']) >= 1, 'Retry-After while cooling');
    assert.equal(third.headers['x-torii-attempts'], undefined, 'no upstream call');
    assert.equal(await chats(mockF), 2);
  });

  // --- 12. strategies' shares ---------------------------------------------------------------

  async function runConcurrently(n, concurrency, fn) {
    let next = 0;
    const out = [];
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }));
    return out;
  }

  test('12. weighted 1:3 over 400 requests -> 25% / 75% within 8 points', async () => {
    const providers = await runConcurrently(400, 8, async () => {
      const r = await post('weighted');
      assert.equal(r.status, 200, r.text);
      return r.headers['x-torii-provider'];
    });
    const wb = providers.filter((p) => p === 'wb').length;
    const wa = providers.filter((p) => p === 'wa').length;
    assert.equal(wa + wb, 400);
    assert.ok(Math.abs(wb / 400 - 0.75) <= 0.08, `wb got ${wb}/400, wa ${wa}/400`);
  });

  test('12. least_inflight: a 200 ms target and a fast one, 8 clients -> fast gets most',
    async () => {
      const counts = { lslow: 0, lfast: 0 };
      const until = Date.now() + 1200;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (Date.now() < until) {
          const r = await post('least');
          assert.equal(r.status, 200, r.text);
          counts[r.headers['x-torii-provider']]++;
        }
      }));
      assert.ok(counts.lslow >= 1, `the slow target still gets some: ${JSON.stringify(counts)}`);
      assert.ok(counts.lfast > 5 * counts.lslow, `fast gets most: ${JSON.stringify(counts)}`);
    });

  test('12. lowest_latency: after one call each, the 60 ms target is avoided', async () => {
    const counts = { llslow: 0, llfast: 0 };
    for (let i = 0; i < 20; i++) {
      const r = await post('lowlat');
      assert.equal(r.status, 200, r.text);
      counts[r.headers['x-torii-provider']]++;
    }
    assert.ok(counts.llslow >= 1 && counts.llslow <= 2, `slow measured once: ${JSON.stringify(counts)}`);
  });

  test('12. p2c: a 200 ms target and a fast one, 8 clients -> fast gets most', async () => {
    const counts = { pslow2: 0, pfast: 0 };
    const until = Date.now() + 1000;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (Date.now() < until) {
        const r = await post('p2c');
        assert.equal(r.status, 200, r.text);
        counts[r.headers['x-torii-provider']]++;
      }
    }));
    assert.ok(counts.pfast > 5 * counts.pslow2, `fast gets most: ${JSON.stringify(counts)}`);
  });

  test('the gateway still serves after all of this', async () => {
    const r = await post('a/mock-1');
    assert.equal(r.status, 200, r.text);
    assert.equal(gw.proc.exitCode, null);
  });
});
