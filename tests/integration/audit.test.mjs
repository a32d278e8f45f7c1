// Audit, end to end (docs/AUDIT.md, issue 8): exactly one event per interaction, with the right
// fields, in the SQLite and JSONL sinks, for every outcome (answer, stream, client disconnect
// mid-stream, upstream 500, mid-stream failure, authorization denial, rate limit, bad JSON, no
// key); prompts only when asked, and redacted; the access log; a webhook sink that is down for a
// while (events spilled, then replayed: none lost, none twice); /metrics parsed by Prometheus's
// own parser; traces to an OTLP collector with the client's traceparent continued upstream; and
// no API key or provider secret in any sink or log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ms, randomKey, runTorii, sleep, startMock, tempDir, waitFor } from '../lib/harness.mjs';
import { bearer, chatBody, mockLast, request, streamChat } from '../lib/http.mjs';
import {
  jsonlEvents, metricValue, parsePrometheus, sqliteEvents, startCollector, waitForCount,
} from '../lib/audit.mjs';
import { startQuotaGateway } from '../lib/quota.mjs';

const dir = tempDir();
let mock;
let webhook;
let collector;
let main;  // {gw, keys, env}
const db = path.join(dir, 'audit.db');
const jsonl = path.join(dir, 'audit.jsonl');
const spill = path.join(dir, 'spill');
const secrets = [];  // every key and provider secret the suite used

before(async () => {
  mock = await startMock();
  [webhook, collector] = await Promise.all([startCollector(), startCollector()]);
  main = await startQuotaGateway({
    mockUrl: mock.url, dir, name: 'audit', keys: ['alice', 'limited', 'intern'],
    localExtra: { api_key: '${env:AUDIT_PROVIDER_KEY}' },
    yaml: `
authorization:
  rules:
    - {id: no-interns, when: [{key: intern}]}
quotas:
  limits:
    - {id: one-a-day, scope: [key], requests: 1, per: day, when: [{key: limited}]}
prices:
  mock-1: {input: 1.00, output: 2.00}
audit:
  flush_ms: 20
  spill_dir: ${JSON.stringify(spill)}
  sinks:
    - {type: sqlite, path: ${JSON.stringify(db)}}
    - {type: jsonl, path: ${JSON.stringify(jsonl)}}
    - {type: webhook, url: "${webhook.url}/audit", headers: {authorization: "\${env:AUDIT_HOOK_AUTH}"}}
tracing:
  otlp_endpoint: "${collector.url}/v1/traces"
  service_name: torii-test
`,
    env: { AUDIT_PROVIDER_KEY: randomKey('sk-upstream'), AUDIT_HOOK_AUTH: `Bearer ${randomKey('hook')}` },
  });
  secrets.push(...Object.values(main.keys), main.env.AUDIT_PROVIDER_KEY, main.env.AUDIT_HOOK_AUTH);
});
after(async () => {
  if (main) await main.gw.stop();
  await Promise.all([mock?.stop(), webhook?.close(), collector?.close()]);
});

let seq = 0;
const rid = (what) => `audit-${what}-${process.pid}-${++seq}`;
const post = (key, body, id, extra = {}) => request(`${main.gw.url}/v1/chat/completions`, {
  method: 'POST', headers: { ...bearer(key), 'x-request-id': id, 'user-agent': 'audit-test/1.0',
    ...(extra.headers || {}) }, body });

/** The one event of request `id`, in SQLite and in the JSONL file (the same object). */
async function eventOf(id) {
  const [ev] = await waitForCount(() => sqliteEvents(db, id), 1, `sqlite event of ${id}`);
  const lines = await waitForCount(() => jsonlEvents(jsonl).filter((e) => e.request_id === id),
    1, `jsonl event of ${id}`);
  assert.deepEqual(lines[0], ev, 'the JSONL line is the SQLite row');
  assert.equal(ev.version, 1);
  assert.match(ev.id, /^[0-9a-f]{32}$/);
  assert.match(ev.trace_id, /^[0-9a-f]{32}$/);
  assert.match(ev.span_id, /^[0-9a-f]{16}$/);
  assert.ok(ev.end_unix_us >= ev.start_unix_us);
  assert.ok(Math.abs(ev.start_unix_us / 1000 - Date.now()) < 60_000, 'start is now-ish');
  assert.equal(ev.client_ip, '127.0.0.1');
  assert.equal(ev.user_agent, 'audit-test/1.0');
  assert.equal(ev.method, 'POST');
  assert.equal(ev.path, '/v1/chat/completions');
  assert.ok(ev.timings.total_us > 0 && ev.timings.overhead_us >= 0);
  assert.ok(ev.timings.overhead_us <= ev.timings.total_us);
  assert.equal(ev.request_body, undefined, 'no prompt recorded by default');
  assert.equal(ev.response_body, undefined, 'no answer recorded by default');
  return ev;
}

describe('audit: one event per interaction, with its fields', () => {
  test('an answer: who, what, attempts, usage, cost, timings', async () => {
    const id = rid('ok');
    const r = await post(main.keys.alice, chatBody('local/mock-1', { user: 'end-user-7' }), id);
    assert.equal(r.status, 200, r.text);
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'ok');
    assert.equal(ev.status, 200);
    assert.equal(ev.consumer, 'alice');
    assert.equal(ev.key, 'alice');
    assert.equal(ev.user, 'end-user-7');
    assert.equal(ev.api, 'openai_chat');
    assert.equal(ev.model, 'local/mock-1');
    assert.equal(ev.provider, 'local');
    assert.equal(ev.upstream_model, 'mock-1');
    assert.equal(ev.stream, false);
    assert.equal(ev.attempts.length, 1);
    assert.equal(ev.attempts[0].provider, 'local');
    assert.equal(ev.attempts[0].status, 200);
    assert.match(ev.attempts[0].span_id, /^[0-9a-f]{16}$/);
    assert.equal(ev.usage.prompt, r.json.usage.prompt_tokens);
    assert.equal(ev.usage.completion, r.json.usage.completion_tokens);
    // 1 USD / 2 USD per 1M tokens, rounded up once.
    const want = Math.ceil(ev.usage.prompt * 1 + ev.usage.completion * 2);
    assert.equal(ev.cost_micros, want);
    assert.equal(r.headers['x-torii-cost-usd'], (want / 1e6).toFixed(6).replace(/\.?0+$/, ''));
    assert.ok(ev.timings.ttft_us > 0 && ev.timings.ttft_us <= ev.timings.total_us);
    assert.equal(ev.error, null);
    assert.equal(ev.cache, 'off');
    assert.deepEqual(ev.guardrails, []);
  });

  test('a stream: streamed, usage from the stream, first token time', async () => {
    const id = rid('stream');
    const r = await streamChat(main.gw.url, main.keys.alice,
      chatBody('local/mock-1', { stream: true, mock: { chunks: 5 } }), { headers: {
        'x-request-id': id, 'user-agent': 'audit-test/1.0' } });
    assert.equal(r.status, 200);
    assert.ok(r.done, 'the stream ended with [DONE]');
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'ok');
    assert.equal(ev.stream, true);
    assert.ok(ev.usage.completion > 0, 'completion tokens counted');
    assert.ok(ev.cost_micros > 0);
    assert.ok(ev.timings.ttft_us > 0);
  });

  test('a client that hangs up mid-stream: one event, client_disconnected', async () => {
    const id = rid('hangup');
    const r = await streamChat(main.gw.url, main.keys.alice,
      chatBody('local/mock-1', { stream: true, mock: { chunks: 200, interval_ms: 10 } }), {
        headers: { 'x-request-id': id, 'user-agent': 'audit-test/1.0' },
        onEvent: (ev, all) => (all.length >= 3 ? 'destroy' : undefined) });
    assert.equal(r.endedBy, 'destroyed');
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'client_disconnected');
    assert.equal(ev.stream, true);
    assert.equal(ev.status, 200, 'the head was sent');
  });

  test('an upstream 500: upstream_error, the attempt says so', async () => {
    const id = rid('up500');
    const r = await post(main.keys.alice, chatBody('local/mock-1', { mock: { status: 500 } }), id);
    assert.equal(r.status, 502, 'an upstream 500 is a bad gateway');
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'upstream_error');
    assert.equal(ev.status, 502);
    assert.equal(ev.attempts[0].status, 500);
    assert.ok(ev.attempts[0].error);
    assert.equal(ev.error.type, r.json.error.type);
    assert.equal(ev.error.message, r.json.error.message);
    assert.equal(ev.cost_micros, null, 'a failed call costs nothing');
  });

  test('a stream cut by the upstream: stream_failed, status 200', async () => {
    const id = rid('cut');
    const r = await streamChat(main.gw.url, main.keys.alice, chatBody('local/mock-1', {
      stream: true, mock: { chunks: 10, reset_after_chunks: 3 } }), {
      headers: { 'x-request-id': id, 'user-agent': 'audit-test/1.0' } });
    assert.equal(r.status, 200);
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'stream_failed');
    assert.equal(ev.status, 200);
    assert.ok(ev.error && ev.error.message, 'the failure is recorded');
  });

  test('an authorization denial: denied, 403, the rule named', async () => {
    const id = rid('denied');
    const r = await post(main.keys.intern, chatBody('local/mock-1'), id);
    assert.equal(r.status, 403);
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'denied');
    assert.equal(ev.consumer, 'intern');
    assert.deepEqual(ev.attempts, []);
    assert.match(ev.error.message, /no-interns/);
  });

  test('a rate-limited request: rate_limited, 429', async () => {
    const first = rid('rl1');
    assert.equal((await post(main.keys.limited, chatBody('local/mock-1'), first)).status, 200);
    const id = rid('rl2');
    const r = await post(main.keys.limited, chatBody('local/mock-1'), id);
    assert.equal(r.status, 429);
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'rate_limited');
    assert.equal(ev.status, 429);
    assert.deepEqual(ev.attempts, []);
    assert.equal(ev.error.code, r.json.error.code);
  });

  test('bad JSON: client_error, 400, no model', async () => {
    const id = rid('badjson');
    const r = await post(main.keys.alice, '{"model": "local/mock-1", "messages": [', id,
      { headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'client_error');
    assert.equal(ev.error.type, 'invalid_request_error');
    assert.equal(ev.model, null);
  });

  test('no API key: unauthenticated, no consumer', async () => {
    const id = rid('nokey');
    const r = await request(`${main.gw.url}/v1/chat/completions`, { method: 'POST',
      headers: { 'x-request-id': id, 'user-agent': 'audit-test/1.0' },
      body: chatBody('local/mock-1') });
    assert.equal(r.status, 401);
    const ev = await eventOf(id);
    assert.equal(ev.outcome, 'unauthenticated');
    assert.equal(ev.consumer, null);
    assert.equal(ev.key, null);
  });

  test('the access log has one line per request, without secrets', async () => {
    const id = rid('access');
    assert.equal((await post(main.keys.alice, chatBody('local/mock-1'), id)).status, 200);
    await waitFor(() => main.gw.stderr().includes(`request_id=${id}`), ms(5000), 'access line');
    const lines = main.gw.stderr().split('\n').filter((l) => l.includes(`request_id=${id}`));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /access request_id=\S+ client=127\.0\.0\.1 method=POST path=\/v1\/chat\/completions status=200 outcome=ok consumer=alice key=alice model=local\/mock-1 provider=local/);
  });
});

describe('audit: traces', () => {
  test('a client traceparent is continued: server span, client span upstream, same trace', async () => {
    const trace = 'a'.repeat(8) + '0123456789abcdef01234567';
    const parent = 'b7ad6b7169203331';
    const id = rid('trace');
    const r = await post(main.keys.alice, chatBody('local/mock-1'), id,
      { headers: { traceparent: `00-${trace}-${parent}-01` } });
    assert.equal(r.status, 200);
    const ev = await eventOf(id);
    assert.equal(ev.trace_id, trace);
    assert.equal(ev.parent_span_id, parent);
    // The upstream got the trace, with the attempt's span as its parent.
    const last = await mockLast(mock.url);
    const tp = last.headers.traceparent ?? last.headers.Traceparent;
    assert.equal(tp, `00-${trace}-${ev.attempts[0].span_id}-01`);
    // The collector gets a SERVER span and a CLIENT child span.
    let spans = [];
    await waitFor(() => {
      spans = collector.posts.flatMap((p) => p.body.resourceSpans ?? [])
        .flatMap((rs) => rs.scopeSpans).flatMap((ss) => ss.spans)
        .filter((s) => s.traceId === trace);
      return spans.length >= 2;
    }, ms(10_000), 'the two spans at the collector');
    const server = spans.find((s) => s.spanId === ev.span_id);
    const client = spans.find((s) => s.spanId === ev.attempts[0].span_id);
    assert.ok(server && client, JSON.stringify(spans));
    assert.equal(server.kind, 2);
    assert.equal(server.parentSpanId, parent);
    assert.equal(client.kind, 3);
    assert.equal(client.parentSpanId, ev.span_id);
    const attr = (s, k) => s.attributes.find((a) => a.key === k)?.value;
    assert.equal(attr(server, 'gen_ai.request.model').stringValue, 'local/mock-1');
    assert.equal(attr(server, 'gen_ai.provider.name').stringValue, 'local');
    assert.equal(Number(attr(server, 'gen_ai.usage.input_tokens').intValue), ev.usage.prompt);
  });

  test('a bad traceparent starts a new trace', async () => {
    const id = rid('badtrace');
    const r = await post(main.keys.alice, chatBody('local/mock-1'), id,
      { headers: { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' } });
    assert.equal(r.status, 200);
    const ev = await eventOf(id);
    assert.notEqual(ev.trace_id, '0'.repeat(32));
    assert.equal(ev.parent_span_id, null);
  });
});

describe('audit: the webhook sink is down for a while', () => {
  test('events spill, then replay in order: none lost, none twice', async () => {
    await waitFor(() => webhook.posts.length > 0, ms(10_000), 'the webhook got earlier events');
    webhook.down();
    const ids = [];
    for (let i = 0; i < 30; i++) {
      const id = rid('hook');
      ids.push(id);
      assert.equal((await post(main.keys.alice, chatBody('local/mock-1'), id)).status, 200);
    }
    await waitFor(() => webhook.refused() > 0, ms(10_000), 'the sink tried and failed');
    await waitFor(() => fs.existsSync(spill) && fs.readdirSync(spill).length > 0, ms(10_000),
      'a spill file');
    await sleep(300);
    webhook.up();
    const seen = () => webhook.posts.flatMap((p) => (Array.isArray(p.body) ? p.body : []));
    await waitFor(() => ids.every((id) => seen().some((e) => e.request_id === id)), ms(40_000),
      'every event replayed');
    const all = seen();
    const byId = new Map();
    for (const e of all) byId.set(e.id, (byId.get(e.id) ?? 0) + 1);
    assert.deepEqual([...byId.values()].filter((n) => n > 1), [], 'no event twice');
    // In order: the replayed ones come as they were made. That is the audit queue's order,
    // which the JSONL sink (fed live from the same queue) shows. It can differ from the
    // requests' order: an event is queued after its answer is written, and two workers race.
    const made = await waitFor(() => {
      const live = jsonlEvents(jsonl).filter((e) => ids.includes(e.request_id));
      return live.length === ids.length ? live.map((e) => e.request_id) : undefined;
    }, ms(10_000), 'the JSONL sink has the 30 events');
    assert.deepEqual([...made].sort(), [...ids].sort());
    const order = all.filter((e) => ids.includes(e.request_id)).map((e) => e.request_id);
    assert.deepEqual(order, made);
    for (const p of webhook.posts) assert.match(p.headers.authorization, /^Bearer hook/);
    // The runner counts a replayed chunk once the webhook has answered it: wait for that too.
    let m;
    await waitFor(async () => {
      m = parsePrometheus((await request(`${main.gw.url}/metrics`)).text);
      return metricValue(m, 'torii_audit_sink', { sink: 'webhook', stat: 'replayed' }) >= 30 &&
        metricValue(m, 'torii_audit_sink', { sink: 'webhook', stat: 'spill_pending' }) === 0;
    }, ms(10_000), 'the replay counted', 200);
    assert.ok(metricValue(m, 'torii_audit_sink', { sink: 'webhook', stat: 'spilled' }) >= 30);
    assert.equal(metricValue(m, 'torii_audit_sink', { sink: 'webhook', stat: 'lost' }), 0);
  });
});

describe('audit: /metrics', () => {
  test('Prometheus text that its parser reads, counting what happened', async () => {
    const before = parsePrometheus((await request(`${main.gw.url}/metrics`)).text);
    const okBefore = metricValue(before, 'torii_requests_total',
      { route: 'local/mock-1', status: '200', outcome: 'ok' }) ?? 0;
    for (let i = 0; i < 5; i++)
      assert.equal((await post(main.keys.alice, chatBody('local/mock-1'), rid('m'))).status, 200);
    await waitFor(async () => {
      const m = parsePrometheus((await request(`${main.gw.url}/metrics`)).text);
      return metricValue(m, 'torii_requests_total', { route: 'local/mock-1', status: '200',
        outcome: 'ok' }) === okBefore + 5;
    }, ms(5000), 'five more requests counted');
    const r = await request(`${main.gw.url}/metrics`);
    assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    const m = parsePrometheus(r.text);
    const names = new Set(m.map((f) => f.name));
    for (const n of ['torii_requests', 'torii_request_errors', 'torii_upstream_attempts',
      'torii_gateway_overhead_seconds', 'torii_time_to_first_token_seconds',
      'torii_request_duration_seconds', 'torii_tokens', 'torii_cost_usd',
      'torii_cache_requests', 'torii_audit_queue', 'torii_audit_sink', 'torii_trace_export',
      'torii_upstream_connections', 'torii_target_breaker_state']) {
      assert.ok(names.has(n), `family ${n} in ${[...names].join(', ')}`);
    }
    const hist = m.find((f) => f.name === 'torii_request_duration_seconds');
    assert.equal(hist.type, 'histogram');
    const count = metricValue(m, 'torii_request_duration_seconds_count', { route: 'local/mock-1' });
    const inf = metricValue(m, 'torii_request_duration_seconds_bucket',
      { route: 'local/mock-1', le: '+Inf' });
    assert.equal(count, inf, 'the +Inf bucket holds every observation');
    assert.ok(metricValue(m, 'torii_tokens_total', { consumer: 'alice', type: 'prompt' }) > 0);
    assert.ok(metricValue(m, 'torii_cost_usd_total', { consumer: 'alice' }) > 0);
    assert.ok(metricValue(m, 'torii_request_errors_total', { outcome: undefined }) >= 1);
    assert.equal(metricValue(m, 'torii_audit_queue', { stat: 'dropped' }), 0);
    assert.ok(metricValue(m, 'torii_upstream_connections', { stat: 'opened' }) >= 1);
    assert.equal(metricValue(m, 'torii_audit_sink', { sink: 'sqlite', stat: 'up' }), 1);
  });
});

describe('audit: bodies and redaction', () => {
  test('off by default; when on, prompts and answers are recorded after redaction', async () => {
    const bdb = path.join(dir, 'bodies.db');
    const g = await startQuotaGateway({ mockUrl: mock.url, dir, name: 'bodies', keys: ['bob'],
      yaml: `
audit:
  flush_ms: 20
  bodies: true
  redact: ['sk-[A-Za-z0-9_-]{8,}', '\\b\\d{4}-\\d{4}-\\d{4}-\\d{4}\\b']
  spill_dir: ${JSON.stringify(path.join(dir, 'spill-bodies'))}
  sinks: [{type: sqlite, path: ${JSON.stringify(bdb)}}]
` });
    secrets.push(...Object.values(g.keys));
    try {
      const id = rid('bodies');
      const body = { model: 'local/mock-1', messages: [{ role: 'user',
        content: 'my key is sk-abcdefghijkl123 and card 4111-1111-1111-1111, say hi' }] };
      const r = await request(`${g.gw.url}/v1/chat/completions`, { method: 'POST',
        headers: { ...bearer(g.keys.bob), 'x-request-id': id }, body });
      assert.equal(r.status, 200);
      const [ev] = await waitForCount(() => sqliteEvents(bdb, id), 1, 'the event');
      assert.ok(ev.request_body.includes('say hi'), ev.request_body);
      assert.ok(!ev.request_body.includes('sk-abcdefghijkl123'));
      assert.ok(!ev.request_body.includes('4111-1111-1111-1111'));
      assert.equal(ev.request_body.split('[REDACTED]').length - 1, 2);
      assert.ok(ev.response_body, 'the answer is recorded');
      // The mock echoes the prompt: the answer is redacted alike.
      const redacted = r.json.choices[0].message.content
        .replace(/sk-[A-Za-z0-9_-]{8,}/g, '[REDACTED]')
        .replace(/\b\d{4}-\d{4}-\d{4}-\d{4}\b/g, '[REDACTED]');
      assert.ok(redacted.includes('[REDACTED]'), 'the mock echoed a secret');
      assert.equal(JSON.parse(ev.response_body).choices[0].message.content, redacted);
    } finally {
      await g.gw.stop();
    }
  });
});

describe('audit: no secret anywhere', () => {
  test('no API key, provider key or webhook token in any sink, spill file or log', async () => {
    await sleep(300);
    const files = [db, `${db}-wal`, jsonl];
    if (fs.existsSync(spill)) for (const f of fs.readdirSync(spill)) files.push(path.join(spill, f));
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.db') || f.endsWith('.db-wal')) files.push(path.join(dir, f));
    const texts = files.filter((f) => fs.existsSync(f)).map((f) => [f, fs.readFileSync(f).toString('latin1')]);
    texts.push(['gateway stderr', main.gw.stderr()], ['gateway stdout', main.gw.stdout()]);
    texts.push(['webhook bodies', webhook.posts.map((p) => p.text).join('\n')]);
    texts.push(['collector bodies', collector.posts.map((p) => p.text).join('\n')]);
    assert.ok(texts.length >= 6);
    for (const s of secrets) {
      assert.ok(s && s.length >= 16);
      for (const [name, text] of texts) assert.ok(!text.includes(s), `a secret in ${name}`);
    }
  });
});

describe('audit: config errors', () => {
  test('torii check names the bad sink settings', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, `
providers: [{name: m, kind: mock}]
audit:
  sinks:
    - {type: kafka, brokers: x}
    - {type: sqlite}
    - {type: jsonl, path: a.jsonl, max_bytes: 12}
    - {type: webhook, url: "ftp://x"}
tracing: {otlp_endpoint: "nope", sample: 2}
`);
    const r = await runTorii(['check', '--config', file]);
    assert.equal(r.status, 1);
    for (const want of [/audit\.sinks\[0\]\.type: unknown sink type 'kafka'/,
      /audit\.sinks\[1\]: sqlite sink: path is missing/,
      /audit\.sinks\[2\]\.max_bytes: must be a size/,
      /audit\.sinks\[3\]\.url: must be an http/,
      /tracing\.otlp_endpoint: must be an http/, /tracing\.sample: must be a number from 0 to 1/]) {
      assert.match(r.stderr + r.stdout, want);
    }
  });
});

describe('audit: reload', () => {
  test('SIGHUP adds a sink live; a sink that cannot open keeps the old config', async () => {
    const rdir = path.join(dir, 'reload');
    fs.mkdirSync(rdir, { recursive: true });
    const first = path.join(rdir, 'first.jsonl');
    const second = path.join(rdir, 'second.jsonl');
    const sinks = (list) => `
audit:
  flush_ms: 20
  spill_dir: ${JSON.stringify(path.join(rdir, 'spill'))}
  sinks: [${list.join(', ')}]
`;
    const g = await startQuotaGateway({ mockUrl: mock.url, dir: rdir, name: 'reload', keys: ['r'],
      yaml: sinks([`{type: jsonl, path: ${JSON.stringify(first)}}`]) });
    secrets.push(...Object.values(g.keys));
    try {
      const send = async (id) => {
        const r = await request(`${g.gw.url}/v1/chat/completions`, { method: 'POST',
          headers: { ...bearer(g.keys.r), 'x-request-id': id }, body: chatBody('local/mock-1') });
        assert.equal(r.status, 200, r.text);
      };
      const a = rid('reload-a');
      await send(a);
      await waitForCount(() => jsonlEvents(first).filter((e) => e.request_id === a), 1, 'a in first');
      // The same file plus a second sink: the first keeps its runner, the second starts.
      const base = fs.readFileSync(g.file, 'utf8').replace(/\naudit:[\s\S]*$/, '\n');
      fs.writeFileSync(g.file, base + sinks([`{type: jsonl, path: ${JSON.stringify(first)}}`,
        `{type: jsonl, name: second, path: ${JSON.stringify(second)}}`]));
      g.gw.kill('SIGHUP');
      await waitFor(() => g.gw.stderr().includes('config reloaded'), ms(5000), 'the reload');
      const b = rid('reload-b');
      await send(b);
      await waitForCount(() => jsonlEvents(first).filter((e) => e.request_id === b), 1, 'b in first');
      await waitForCount(() => jsonlEvents(second).filter((e) => e.request_id === b), 1, 'b in second');
      // A sink whose file cannot be made: the reload fails, the running sinks stay.
      fs.writeFileSync(path.join(rdir, 'not-a-dir'), 'x');
      fs.writeFileSync(g.file, base + sinks([`{type: jsonl, path: ${JSON.stringify(first)}}`,
        `{type: sqlite, path: ${JSON.stringify(path.join(rdir, 'not-a-dir', 'x.db'))}}`]));
      g.gw.kill('SIGHUP');
      await waitFor(() => /reload failed, keeping the current config: .*audit/.test(g.gw.stderr()),
        ms(5000), 'the failed reload');
      const c = rid('reload-c');
      await send(c);
      await waitForCount(() => jsonlEvents(second).filter((e) => e.request_id === c), 1, 'c in second');
      assert.equal(jsonlEvents(first).filter((e) => e.request_id === a).length, 1, 'no repeat');
    } finally {
      await g.gw.stop();
    }
  });
});
