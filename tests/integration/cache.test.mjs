// The answer cache end to end (docs/CACHING.md, issue 10): the real gateway, `torii mock`, the
// official SDKs. Exact hits (whole and streamed, replayed event by event), keys that differ by
// model, route, temperature and tenant, errors never cached, client and route opt-outs, zero
// usage and cost on a hit with the saving in the audit, admin stats and purge, and the semantic
// cache over the mock's deterministic embedding: paraphrases hit, near-misses (negation,
// numbers, entities) miss, the threshold holds.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { randomKey, startMock, tempDir, waitFor, ms } from '../lib/harness.mjs';
import { chat, mockStats, request, streamChat, streamedContent } from '../lib/http.mjs';
import { startAdminGateway, api, firstLogin } from '../lib/admin.mjs';

const dir = tempDir();
const keyA = randomKey('sk-cache-a');
const keyB = randomKey('sk-cache-b');
const auditFile = path.join(dir, 'audit.jsonl');
let mock;
let ctx;
let gw;
let token;
let openai;

before(async () => {
  mock = await startMock();
  const yaml = `
server: {listen: "127.0.0.1:0", workers: 2}
providers:
  - {name: local, kind: openai-compatible, base_url: "${mock.url}/v1", models: [mock-1, mock-2, embed-1]}
  - {name: claude, kind: anthropic, base_url: "${mock.url}", api_key: "x", models: [mock-1]}
routes:
  - {name: chat, targets: [local/mock-1]}
  - {name: chat-two, targets: [local/mock-2]}
  - {name: same-model, targets: [local/mock-1]}
  - {name: claude-chat, targets: [claude/mock-1]}
  - {name: never, targets: [local/mock-1], cache: false}
  - {name: sem, targets: [local/mock-1]}
  - {name: embed, targets: [local/embed-1]}
auth:
  api_keys:
    - {name: alice, key: "\${env:CACHE_KEY_A}"}
    - {name: bob, key: "\${env:CACHE_KEY_B}"}
egress: {allow_networks: [127.0.0.0/8]}
prices:
  mock-1: {input: 0.50, output: 1.50}
  mock-2: {input: 0.50, output: 1.50}
cache:
  ttl_seconds: 300
  semantic:
    embedding_model: embed
    threshold: 0.9
audit:
  sinks: [{type: jsonl, path: "${auditFile}"}]
`;
  ctx = await startAdminGateway(dir, yaml, { store: { type: 'memory' },
    env: { CACHE_KEY_A: keyA, CACHE_KEY_B: keyB } });
  gw = ctx.gw;
  token = await firstLogin(ctx);
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: keyA, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  if (gw) await gw.stop();
  if (mock) await mock.stop();
});

let n = 0;
// A question no other test asks (each test starts from a cold key).
const fresh = (what = 'question') => `${what} number ${++n} from ${process.pid}`;
const body = (model, content, extra = {}) =>
  ({ model, temperature: 0, messages: [{ role: 'user', content }], ...extra });
const upstreamCalls = async () => (await mockStats(mock.url)).chat_requests;
const events = () => fs.readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const eventOf = (rid) => waitFor(() => {
  if (!fs.existsSync(auditFile)) return undefined;
  return events().find((e) => e.request_id === rid);
}, ms(5000), `the audit event of ${rid}`);

describe('cache: exact', () => {
  test('the same question twice: the second answer is the first, from the cache', async () => {
    const q = body('chat', fresh());
    const before = await upstreamCalls();
    const r1 = await chat(gw.url, keyA, q);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-torii-cache'], 'miss');
    assert.match(r1.headers['x-torii-cache-key'], /^[0-9a-f]{16}:[0-9a-f]{64}$/);
    assert.ok(r1.json.usage.prompt_tokens > 0);
    const r2 = await chat(gw.url, keyA, q);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-torii-cache'], 'hit');
    assert.equal(r2.headers['x-torii-cache-key'], r1.headers['x-torii-cache-key']);
    assert.match(r2.headers.age, /^\d+$/);
    assert.equal(r2.headers['x-torii-cost-usd'], '0.000000');
    assert.equal(r2.headers['x-torii-provider'], 'local');
    assert.equal(r2.json.id, r1.json.id, 'the stored answer, not a new one');
    assert.deepEqual(r2.json.choices, r1.json.choices);
    assert.equal(r2.json.usage.prompt_tokens, 0);
    assert.equal(r2.json.usage.completion_tokens, 0);
    assert.equal(r2.json.usage.total_tokens, 0);
    assert.equal(await upstreamCalls(), before + 1, 'one upstream call for two answers');

    const e1 = await eventOf(r1.headers['x-request-id']);
    const e2 = await eventOf(r2.headers['x-request-id']);
    assert.equal(e1.cache, 'miss');
    assert.ok(e1.cost_micros > 0);
    assert.equal(e2.cache, 'hit');
    assert.equal(e2.cost_micros, 0);
    assert.equal(e2.usage.prompt, 0);
    assert.equal(e2.cache_saved_micros, e1.cost_micros, 'the hit saved what the miss cost');
    assert.equal(e2.attempts.length, 0);
  });

  test('the key holds the model and the route: no answer crosses them', async () => {
    const text = fresh();
    const r1 = await chat(gw.url, keyA, body('chat', text));
    assert.equal(r1.headers['x-torii-cache'], 'miss');
    const other = await chat(gw.url, keyA, body('chat-two', text));
    assert.equal(other.headers['x-torii-cache'], 'miss', 'another model');
    assert.equal(other.json.model, 'mock-2');
    const route = await chat(gw.url, keyA, body('same-model', text));
    assert.equal(route.headers['x-torii-cache'], 'miss', 'another route, same model');
    const direct = await chat(gw.url, keyA, body('local/mock-2', text));
    assert.equal(direct.headers['x-torii-cache'], 'miss', 'provider/model addressed directly');
    assert.equal((await chat(gw.url, keyA, body('chat-two', text))).headers['x-torii-cache'], 'hit');
  });

  test('temperature: above max_temperature (or absent: 1) is not cached; 0 and 0.0 agree', async () => {
    const text = fresh();
    const before = await upstreamCalls();
    for (let i = 0; i < 2; i++) {
      const hot = await chat(gw.url, keyA, body('chat', text, { temperature: 0.7 }));
      assert.equal(hot.status, 200);
      assert.equal(hot.headers['x-torii-cache'], 'bypass');
      const none = await chat(gw.url, keyA, { model: 'chat', messages: [{ role: 'user', content: text }] });
      assert.equal(none.headers['x-torii-cache'], 'bypass');
    }
    assert.equal(await upstreamCalls(), before + 4);
    const ev = await eventOf((await chat(gw.url, keyA, body('chat', text, { temperature: 1 }))).headers['x-request-id']);
    assert.equal(ev.cache, 'bypass');
    assert.equal(ev.cache_reason, 'temperature');
    const r0 = await request(`${gw.url}/v1/chat/completions`, { method: 'POST',
      headers: { authorization: `Bearer ${keyA}`, 'content-type': 'application/json' },
      body: `{"model":"chat","temperature":0,"messages":[{"role":"user","content":${JSON.stringify(text)}}]}` });
    assert.equal(r0.headers['x-torii-cache'], 'miss');
    const r00 = await request(`${gw.url}/v1/chat/completions`, { method: 'POST',
      headers: { authorization: `Bearer ${keyA}`, 'content-type': 'application/json' },
      body: `{"messages":[{"content":${JSON.stringify(text)},"role":"user"}],"temperature":0.0,"model":"chat"}` });
    assert.equal(r00.headers['x-torii-cache'], 'hit', 'key order and 0 vs 0.0 do not matter');
    const longer = await chat(gw.url, keyA, body('chat', text, { max_tokens: 5 }));
    assert.equal(longer.headers['x-torii-cache'], 'miss', 'another parameter, another key');
  });

  test('another tenant gets no hit (scope consumer)', async () => {
    const q = body('chat', fresh());
    assert.equal((await chat(gw.url, keyA, q)).headers['x-torii-cache'], 'miss');
    assert.equal((await chat(gw.url, keyA, q)).headers['x-torii-cache'], 'hit');
    const b = await chat(gw.url, keyB, q);
    assert.equal(b.headers['x-torii-cache'], 'miss');
    assert.notEqual(b.headers['x-torii-cache-key'].slice(0, 16),
      (await chat(gw.url, keyA, q)).headers['x-torii-cache-key'].slice(0, 16));
  });

  test('errors are never cached', async () => {
    const q = body('chat', fresh(), { mock: { status: 500 } });
    const before = await upstreamCalls();
    for (let i = 0; i < 2; i++) {
      const r = await chat(gw.url, keyA, q);
      assert.equal(r.status, 502, r.text);
      assert.notEqual(r.headers['x-torii-cache'], 'hit');
    }
    assert.equal(await upstreamCalls(), before + 2, 'each error went upstream');
    const bad = body('chat', fresh(), { mock: { status: 400 } });
    for (let i = 0; i < 2; i++) assert.equal((await chat(gw.url, keyA, bad)).status, 400);
    assert.equal(await upstreamCalls(), before + 4);
  });

  test('a stream is stored and replayed as a stream, event by event (OpenAI SDK)', async () => {
    const text = fresh('stream');
    const params = { model: 'chat', temperature: 0, stream: true,
      stream_options: { include_usage: true }, messages: [{ role: 'user', content: text }] };
    const collect = async () => {
      const resp = await openai.chat.completions.create(params).withResponse();
      let content = '';
      let usage = null;
      let chunks = 0;
      for await (const c of resp.data) {
        chunks += 1;
        if (c.choices[0]?.delta?.content) content += c.choices[0].delta.content;
        if (c.usage) usage = c.usage;
      }
      return { content, usage, chunks, cache: resp.response.headers.get('x-torii-cache') };
    };
    const before = await upstreamCalls();
    const first = await collect();
    const second = await collect();
    assert.equal(first.cache, 'miss');
    assert.equal(second.cache, 'hit');
    assert.ok(first.content.length > 0);
    assert.equal(second.content, first.content);
    assert.equal(second.chunks, first.chunks);
    assert.ok(first.usage.completion_tokens > 0);
    assert.equal(second.usage.completion_tokens, 0);
    assert.equal(second.usage.prompt_tokens, 0);
    assert.equal(await upstreamCalls(), before + 1);

    // On the wire: one event per chunk, as the first time, ending with [DONE].
    const raw = await streamChat(gw.url, keyA, params);
    assert.equal(raw.headers['x-torii-cache'], 'hit');
    assert.match(raw.headers['content-type'], /text\/event-stream/);
    assert.ok(raw.done, 'ends with [DONE]');
    assert.equal(streamedContent(raw.events), first.content);
    assert.ok(raw.events.length >= 4, `${raw.events.length} events`);
    // A stream and a whole answer to one question are different entries.
    const whole = await chat(gw.url, keyA, body('chat', text, { stream_options: undefined }));
    assert.equal(whole.headers['x-torii-cache'], 'miss');
  });

  test('a stream the client dropped, or the upstream cut, is never stored', async () => {
    const dropped = body('chat', fresh('dropped'), { stream: true, mock: { chunks: 8, interval_ms: 40 } });
    const r = await streamChat(gw.url, keyA, dropped, {
      onEvent: (ev, all) => (all.length >= 2 ? 'destroy' : undefined) });
    assert.equal(r.endedBy, 'destroyed');
    await new Promise((res) => setTimeout(res, 400));  // the gateway sees the disconnect
    const again = await streamChat(gw.url, keyA, dropped);
    assert.equal(again.headers['x-torii-cache'], 'miss', 'a half-sent stream was not kept');
    assert.ok(again.done);

    const cut = body('chat', fresh('cut'), { stream: true, mock: { chunks: 8, reset_after_chunks: 3 } });
    const c1 = await streamChat(gw.url, keyA, cut);
    assert.equal(c1.status, 200);
    assert.ok(!c1.done, 'the cut stream has no [DONE]');
    const c2 = await streamChat(gw.url, keyA, cut);
    assert.notEqual(c2.headers['x-torii-cache'], 'hit', 'a cut stream was not kept');
  });

  test('Anthropic Messages: a hit in the Messages shape (Anthropic SDK)', async () => {
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: keyA, maxRetries: 0, timeout: 10_000 });
    const params = { model: 'claude-chat', max_tokens: 64, temperature: 0,
      messages: [{ role: 'user', content: fresh('anthropic') }] };
    const r1 = await anthropic.messages.create(params).withResponse();
    const r2 = await anthropic.messages.create(params).withResponse();
    assert.equal(r1.response.headers.get('x-torii-cache'), 'miss');
    assert.equal(r2.response.headers.get('x-torii-cache'), 'hit');
    assert.deepEqual(r2.data.content, r1.data.content);
    assert.ok(r1.data.usage.output_tokens > 0);
    assert.equal(r2.data.usage.output_tokens, 0);
    assert.equal(r2.data.usage.input_tokens, 0);
    // Streamed: message_start ... message_stop, replayed.
    const streamed = { ...params, messages: [{ role: 'user', content: fresh('anthropic stream') }] };
    const m1 = await anthropic.messages.stream(streamed).finalMessage();
    const m2 = await anthropic.messages.stream(streamed).finalMessage();
    assert.deepEqual(m2.content, m1.content);
    assert.equal(m2.usage.output_tokens, 0);
  });

  test('opt-outs: Cache-Control no-cache refreshes, no-store and torii.cache=false bypass, a route with cache: false', async () => {
    const q = body('chat', fresh());
    const r1 = await chat(gw.url, keyA, q);
    const before = await upstreamCalls();
    const nc = await chat(gw.url, keyA, q, { headers: { 'cache-control': 'no-cache' } });
    assert.equal(nc.headers['x-torii-cache'], 'miss');
    assert.notEqual(nc.json.id, r1.json.id, 'answered fresh');
    const again = await chat(gw.url, keyA, q);
    assert.equal(again.headers['x-torii-cache'], 'hit');
    assert.equal(again.json.id, nc.json.id, 'no-cache stored the fresh answer');
    const ns = await chat(gw.url, keyA, q, { headers: { 'Cache-Control': 'max-age=0, No-Store' } });
    assert.equal(ns.headers['x-torii-cache'], 'bypass');
    const flag = await chat(gw.url, keyA, { ...q, torii: { cache: false } });
    assert.equal(flag.status, 200, flag.text);
    assert.equal(flag.headers['x-torii-cache'], 'bypass');
    const last = await request(`${mock.url}/mock/last`);
    assert.equal(last.json.body.torii, undefined, 'the directive never reaches the provider');
    assert.equal(await upstreamCalls(), before + 3);
    const badFlag = await chat(gw.url, keyA, { ...q, torii: { cache: 'sometimes' } });
    assert.equal(badFlag.status, 400);
    assert.equal(badFlag.json.error.param, 'torii.cache');
    const never = body('never', fresh());
    await chat(gw.url, keyA, never);
    const n2 = await chat(gw.url, keyA, never);
    assert.equal(n2.headers['x-torii-cache'], undefined, 'route cache: false');
  });
});

describe('cache: admin', () => {
  test('stats, purge by key, purge by consumer', async () => {
    const s = await api(ctx.admin, token, 'GET', '/api/v1/cache');
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.enabled, true);
    assert.equal(s.json.store, 'memory');
    assert.ok(s.json.entries > 0);
    assert.ok(s.json.bytes > 0);

    const q = body('chat', fresh());
    const r1 = await chat(gw.url, keyA, q);
    const key = r1.headers['x-torii-cache-key'];
    assert.equal((await chat(gw.url, keyA, q)).headers['x-torii-cache'], 'hit');
    const bad = await api(ctx.admin, token, 'DELETE', '/api/v1/cache/entries?key=nope');
    assert.equal(bad.status, 400);
    const two = await api(ctx.admin, token, 'DELETE', `/api/v1/cache/entries?key=${key}&consumer=alice`);
    assert.equal(two.status, 400);
    const del = await api(ctx.admin, token, 'DELETE', `/api/v1/cache/entries?key=${key}`);
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.deleted, 1);
    assert.equal((await chat(gw.url, keyA, q)).headers['x-torii-cache'], 'miss');

    const qb = body('chat', fresh());
    await chat(gw.url, keyB, qb);
    assert.equal((await chat(gw.url, keyA, q)).headers['x-torii-cache'], 'hit');
    const purge = await api(ctx.admin, token, 'DELETE', '/api/v1/cache/entries?consumer=alice');
    assert.equal(purge.status, 200, purge.text);
    assert.ok(purge.json.deleted >= 1);
    assert.equal((await chat(gw.url, keyA, q)).headers['x-torii-cache'], 'miss', 'alice purged');
    assert.equal((await chat(gw.url, keyB, qb)).headers['x-torii-cache'], 'hit', 'bob kept');
    const all = await api(ctx.admin, token, 'DELETE', '/api/v1/cache/entries');
    assert.equal(all.status, 200);
    assert.equal((await chat(gw.url, keyB, qb)).headers['x-torii-cache'], 'miss', 'all purged');
  });
});

describe('cache: semantic', () => {
  const ask = (content, key = keyA) => chat(gw.url, key, body('sem', content));

  test('a paraphrase hits, with its similarity; the cached answer is served', async () => {
    const r1 = await ask('How do I reset my password?');
    assert.equal(r1.headers['x-torii-cache'], 'miss');
    const r2 = await ask('how can i reset my password');
    assert.equal(r2.headers['x-torii-cache'], 'semantic-hit', r2.text);
    const sim = Number(r2.headers['x-torii-cache-similarity']);
    assert.ok(sim >= 0.9 && sim <= 1, `similarity ${sim}`);
    assert.equal(r2.json.id, r1.json.id);
    assert.equal(r2.json.usage.total_tokens, 0);
    const ev = await eventOf(r2.headers['x-request-id']);
    assert.equal(ev.cache, 'semantic_hit');
    assert.ok(Math.abs(ev.cache_similarity - sim) < 0.001);
  });

  test('near-misses miss: negation, polarity, numbers, entities', async () => {
    // The mock's embedding is blind to what differs in each pair (docs/MOCK.md): each scores
    // above the threshold, and the audit's cache_reason shows the guard refused it.
    const pairs = [
      ['How do I enable 2FA on my account?', 'How do I disable 2FA on my account?', 'polarity'],
      ['Is this medicine safe for children?', 'Is this medicine not safe for children?', 'negation'],
      ['List the top 5 cities in France', 'List the top 10 cities in France', 'number'],
      ['What is the capital of France?', 'What is the capital of Spain?', 'entity'],
      ['Translate "good morning" into Italian', 'Translate "good night" into Italian', 'quoted'],
    ];
    for (const [a, b, why] of pairs) {
      assert.equal((await ask(a)).headers['x-torii-cache'], 'miss', a);
      const r = await ask(b);
      assert.equal(r.headers['x-torii-cache'], 'miss', `${b} must not be served ${a}'s answer`);
      const ev = await eventOf(r.headers['x-request-id']);
      assert.equal(ev.cache_reason, why, `${b}: refused by the guard for its ${why}`);
    }
    const ev = await eventOf((await ask('Is this medicine not safe for babies?')).headers['x-request-id']);
    assert.equal(ev.cache, 'miss');
  });

  test('the threshold holds, tenants and conversations stay apart', async () => {
    await ask('Which wine goes well with grilled salmon?');
    const unrelated = await ask('Which shoes go well with a grey suit?');
    assert.equal(unrelated.headers['x-torii-cache'], 'miss');
    const other = await ask('which wine goes well with grilled salmon', keyB);
    assert.equal(other.headers['x-torii-cache'], 'miss', 'another tenant');
    const convo = await chat(gw.url, keyA, { model: 'sem', temperature: 0, messages: [
      { role: 'system', content: 'You are a sommelier.' },
      { role: 'user', content: 'which wine goes well with grilled salmon' }] });
    assert.equal(convo.headers['x-torii-cache'], 'miss', 'another system prompt');
  });
});
