// Guardrails end to end (docs/GUARDRAILS.md, issue 7): the real gateway and `torii mock`,
// the official SDKs. A secret in a prompt is denied (OpenAI and Anthropic shapes, the key never
// echoed); an email is masked before the mock sees it and given back in the answer (whole and
// streamed); a secret in a streamed answer split across three chunks is caught before any of
// it is sent; a deny after the first byte ends the stream with an error event and no [DONE];
// redaction inside Anthropic and Responses streams; refusals; the audit event and metrics.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { randomKey, startGateway, startMock, tempDir, waitFor, ms } from '../lib/harness.mjs';
import { bearer, mockLast, mockStats, request, streamChat, streamedContent } from '../lib/http.mjs';
import { rejectsWith } from '../lib/sdk.mjs';

const AWS = 'AKIAIOSFODNN7EXAMPLE';
const dir = tempDir();
const key = randomKey('sk-torii-test');
let mock;
let gw;
let openai;
let anthropic;
const auditFile = path.join(dir, 'audit.jsonl');

before(async () => {
  mock = await startMock();
  const yaml = `
server: {listen: "127.0.0.1:0", workers: 2}
providers:
  - {name: local, kind: openai-compatible, base_url: "${mock.url}/v1", models: [mock-1]}
  - {name: claude, kind: anthropic, base_url: "${mock.url}", api_key: "x", models: [mock-1]}
routes:
  - {name: chat, targets: [local/mock-1]}
  - {name: after-only, targets: [local/mock-1]}
  - {name: refuse, targets: [local/mock-1]}
  - {name: claude-out, targets: [claude/mock-1]}
  - {name: json-only, targets: [local/mock-1]}
auth:
  api_keys: [{name: tester, key: "\${env:GUARD_KEY}"}]
egress: {allow_networks: [127.0.0.0/8]}
guardrails:
  stream_holdback: 32
  checks:
    - {id: no-secrets, kind: secrets, routes: [chat, refuse]}
    - {id: pii, kind: pii, action: mask, reinflate: true, entities: [email], routes: [chat]}
    - {id: out-secrets, kind: secrets, phase: after, routes: [after-only, claude-out]}
    - {id: out-pii, kind: pii, phase: after, action: redact, entities: [email], routes: [after-only, claude-out]}
    - {id: refuse-word, kind: contains, words: [forbidden], on_deny: refusal, routes: [refuse]}
    - {id: json, kind: response_schema, schema: {type: object}, routes: [json-only]}
audit:
  sinks: [{type: jsonl, path: "${auditFile}"}]
`;
  const file = path.join(dir, 'torii.yaml');
  fs.writeFileSync(file, yaml);
  gw = await startGateway(file, { env: { GUARD_KEY: key } });
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 10_000 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  if (gw) await gw.stop();
  if (mock) await mock.stop();
});

const user = (content) => [{ role: 'user', content }];
const events = () => fs.readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const eventOf = (rid) => waitFor(() => {
  if (!fs.existsSync(auditFile)) return undefined;
  return events().find((e) => e.request_id === rid);
}, ms(5000), `the audit event of ${rid}`);

describe('guardrails: before', () => {
  test('a prompt carrying a cloud key is denied, the key never echoed (OpenAI SDK)', async () => {
    const before = (await mockStats(mock.url)).chat_requests;
    const err = await rejectsWith(openai.chat.completions.create({
      model: 'chat', messages: user(`deploy with ${AWS} please`) }), OpenAI.BadRequestError, 400);
    assert.equal(err.code, 'guardrail_denied');
    assert.match(err.message, /guardrail 'no-secrets'.*aws_access_key/);
    assert.ok(!err.message.includes(AWS));
    const afterCount = (await mockStats(mock.url)).chat_requests;
    assert.equal(afterCount, before, 'nothing reached the provider');
  });

  test('the same through the Anthropic Messages API: its error shape', async () => {
    const res = await request(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
      body: { model: 'chat', max_tokens: 16, system: `key ${AWS}`, messages: user('hi') } });
    assert.equal(res.status, 400);
    assert.equal(res.json.type, 'error');
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.match(res.json.error.message, /no-secrets/);
    assert.ok(!res.text.includes(AWS));
  });

  test('an email is masked before the mock sees it and given back in the answer', async () => {
    const r = await openai.chat.completions.create({
      model: 'chat', messages: user('write to ann@example.com today') });
    const seen = await mockLast(mock.url);
    const sent = JSON.stringify(seen.body.messages);
    assert.ok(!sent.includes('ann@example.com'), sent);
    assert.ok(sent.includes('[EMAIL_1]'), sent);
    assert.ok(r.choices[0].message.content.includes('ann@example.com'), r.choices[0].message.content);
    assert.ok(!r.choices[0].message.content.includes('[EMAIL_1]'));
  });

  test('masked and re-inflated in a stream too, even split across chunks', async () => {
    const s = await openai.chat.completions.create({
      model: 'chat', stream: true, messages: user('mail bob@example.org and bob@example.org'),
      mock: { chunks: 12 } });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content || '';
    assert.ok(text.includes('bob@example.org'), text);
    assert.ok(!text.includes('[EMAIL_'), text);
    const seen = JSON.stringify((await mockLast(mock.url)).body.messages);
    assert.ok(seen.includes('[EMAIL_1] and [EMAIL_1]'), seen);  // one value, one placeholder
  });

  test('a refusal instead of an error when configured (whole and streamed)', async () => {
    const r = await openai.chat.completions.create({ model: 'refuse', messages: user('a forbidden topic') });
    assert.equal(r.choices[0].message.content, "I can't help with that request.");
    assert.equal(r.choices[0].finish_reason, 'content_filter');
    const s = await openai.chat.completions.create({
      model: 'refuse', stream: true, messages: user('forbidden') });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content || '';
    assert.equal(text, "I can't help with that request.");
  });
});

describe('guardrails: after', () => {
  test('a secret split across three chunks is caught before any of it is sent', async () => {
    const r = await streamChat(gw.url, key, {
      model: 'after-only', stream: true, messages: user('AKIAIOSF ODNN7EXA MPLE'),
      mock: { chunks: 3, glue: 1 } });
    // Held back until seen whole: nothing was sent, so the answer is the plain 400.
    assert.equal(r.status, 400, r.text);
    assert.ok(!r.text.includes('AKIA'), r.text);
    assert.match(r.text, /answer denied by guardrail 'out-secrets'/);
  });

  test('a deny after the first byte ends the stream with an error event, no [DONE]', async () => {
    const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const r = await streamChat(gw.url, key, {
      model: 'after-only', stream: true, messages: user(`${words} ${AWS}`), mock: { chunks: 31 } });
    assert.equal(r.status, 200);
    assert.ok(streamedContent(r.events).startsWith('word0 word1'), r.text);
    assert.ok(!r.text.includes('AKIA'), r.text);
    assert.equal(r.done, false);
    const last = r.events[r.events.length - 1];
    assert.match(last.json.error.message, /out-secrets/);
    const ev = await eventOf(r.headers['x-request-id']);
    assert.equal(ev.outcome, 'denied');
    const g = ev.guardrails.find((x) => x.name === 'out-secrets');
    assert.equal(g.action, 'deny');
    assert.equal(g.phase, 'after');
    assert.ok(Number.isInteger(g.latency_us));
  });

  test('redaction inside an Anthropic stream (SDK)', async () => {
    const stream = anthropic.messages.stream({
      model: 'claude-out', max_tokens: 64, messages: user('reach ann@example.com now'),
      mock: { chunks: 6 } });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    assert.ok(text.includes('[REDACTED_EMAIL]'), text);
    assert.ok(!text.includes('ann@example.com'), text);
    assert.equal(final.stop_reason, 'end_turn');
  });

  test('redaction inside a Responses API stream (SDK)', async () => {
    const stream = await openai.responses.create({
      model: 'after-only', stream: true, input: 'reach ann@example.com now', mock: { chunks: 6 } });
    let text = '';
    let completed = false;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = true;
    }
    assert.ok(completed);
    assert.ok(text.includes('[REDACTED_EMAIL]'), text);
    assert.ok(!text.includes('ann@example.com'), text);
  });

  test('a whole answer is redacted; a schema check denies a non-JSON answer', async () => {
    const r = await openai.chat.completions.create({
      model: 'after-only', messages: user('ann@example.com') });
    assert.ok(r.choices[0].message.content.includes('[REDACTED_EMAIL]'));
    const err = await rejectsWith(openai.chat.completions.create({
      model: 'json-only', messages: user('plain words') }), OpenAI.BadRequestError, 400);
    assert.match(err.message, /answer denied by guardrail 'json': the answer is not JSON/);
  });

  test('every check that ran is in the audit event; denials in /metrics', async () => {
    const r = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: bearer(key), body: { model: 'chat', messages: user('hello there') } });
    assert.equal(r.status, 200);
    const ev = await eventOf(r.headers['x-request-id']);
    assert.deepEqual(ev.guardrails.map((g) => [g.name, g.phase, g.action]),
      [['no-secrets', 'before', 'allow'], ['pii', 'before', 'allow']]);
    const m = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(m, /torii_guardrail_denials_total\{guardrail="no-secrets"\} [1-9]/);
  });
});
