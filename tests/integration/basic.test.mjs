// Health, readiness, request ids, non-stream chat (direct and through an alias), models,
// keep-alive.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ms, startWorld } from '../lib/harness.mjs';
import { bearer, chat, chatBody, request } from '../lib/http.mjs';

describe('basic gateway behaviour', () => {
  let w;
  before(async () => { w = await startWorld(); });
  after(async () => { if (w) await w.stop(); });

  test('GET /health is 200 {"status":"ok"} without auth', async () => {
    const r = await request(`${w.gw.url}/health`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: 'ok' });
    assert.ok(r.headers['x-request-id'], 'x-request-id on /health');
  });

  test('GET /ready is 200 {"status":"ready"} without auth', async () => {
    const r = await request(`${w.gw.url}/ready`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: 'ready' });
  });

  test('x-request-id is echoed when the client sends one (success)', async () => {
    const id = 'req-test-echo-12345';
    const r = await chat(w.gw.url, w.apiKey, chatBody('local/mock-1'),
      { headers: { 'x-request-id': id } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-request-id'], id);
  });

  test('x-request-id is echoed when the client sends one (error)', async () => {
    const id = 'req-test-echo-error-67890';
    const r = await request(`${w.gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'x-request-id': id, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('local/mock-1')),
    });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.headers['x-request-id'], id);
  });

  test('x-request-id is generated and unique when the client sends none', async () => {
    const a = await chat(w.gw.url, w.apiKey, chatBody('local/mock-1'));
    const b = await chat(w.gw.url, w.apiKey, chatBody('local/mock-1'));
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    const ida = a.headers['x-request-id'];
    const idb = b.headers['x-request-id'];
    assert.ok(typeof ida === 'string' && ida.length >= 8, `generated id: ${ida}`);
    assert.ok(typeof idb === 'string' && idb.length >= 8, `generated id: ${idb}`);
    assert.notEqual(ida, idb);
    // and on errors too
    const e404 = await request(`${w.gw.url}/no/such/path`);
    assert.equal(e404.status, 404);
    assert.ok(e404.headers['x-request-id'], 'generated x-request-id on 404');
    const e401 = await request(`${w.gw.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody('local/mock-1'),
    });
    assert.equal(e401.status, 401);
    assert.ok(e401.headers['x-request-id'], 'generated x-request-id on 401');
    assert.notEqual(e401.headers['x-request-id'], e404.headers['x-request-id']);
  });

  function assertCompletion(r, model) {
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const c = r.json;
    assert.equal(c.object, 'chat.completion');
    assert.equal(typeof c.id, 'string');
    assert.equal(typeof c.created, 'number');
    assert.equal(c.model, model, 'the mock echoes the upstream model name');
    assert.equal(c.choices.length, 1);
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(typeof c.choices[0].message.content, 'string');
    assert.ok(c.choices[0].message.content.length > 0, 'non-empty content');
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.ok(c.usage, 'usage present');
    assert.ok(Number.isInteger(c.usage.prompt_tokens) && c.usage.prompt_tokens >= 1);
    assert.ok(Number.isInteger(c.usage.completion_tokens) && c.usage.completion_tokens >= 1);
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
  }

  test('non-stream chat through local/mock-1 returns the mock body', async () => {
    const knobs = { chunks: 3, tokens_per_chunk: 2 };
    const r = await chat(w.gw.url, w.apiKey, chatBody('local/mock-1', { mock: knobs }));
    assertCompletion(r, 'mock-1');
    // The same request straight to the mock gives the same content and usage.
    const direct = await request(`${w.mock.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody('mock-1', { mock: knobs }),
    });
    assert.equal(direct.status, 200, direct.text);
    assert.equal(r.json.choices[0].message.content, direct.json.choices[0].message.content);
    assert.deepEqual(r.json.usage, direct.json.usage);
  });

  test('non-stream chat through the route alias `fast`', async () => {
    const r = await chat(w.gw.url, w.apiKey, chatBody('fast'));
    assertCompletion(r, 'mock-1');
  });

  test('x-api-key header is accepted as well as Authorization: Bearer', async () => {
    const r = await request(`${w.gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'x-api-key': w.apiKey }, body: chatBody('local/mock-1'),
    });
    assert.equal(r.status, 200, r.text);
  });

  test('GET /v1/models lists provider models and route aliases', async () => {
    const r = await request(`${w.gw.url}/v1/models`, { headers: bearer(w.apiKey) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    const ids = r.json.data.map((m) => m.id);
    for (const id of ['local/mock-1', 'local/gpt-4o-mini', 'fast']) {
      assert.ok(ids.includes(id), `${id} in ${JSON.stringify(ids)}`);
    }
    for (const m of r.json.data) assert.equal(m.object, 'model');
  });

  test('keep-alive: two requests on one connection both succeed', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const reused = [];
    try {
      for (let i = 0; i < 2; i++) {
        const r = await new Promise((resolve, reject) => {
          const req = http.request(`${w.gw.url}/v1/chat/completions`, {
            method: 'POST', agent,
            headers: { ...bearer(w.apiKey), 'content-type': 'application/json' },
          }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { text += d; });
            res.on('end', () => resolve({ status: res.statusCode, text, headers: res.headers }));
          });
          req.on('response', () => reused.push(req.reusedSocket));
          req.setTimeout(ms(10_000), () => req.destroy(new Error('keep-alive request timed out')));
          req.on('error', reject);
          req.end(JSON.stringify(chatBody('local/mock-1')));
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(JSON.parse(r.text).object, 'chat.completion');
        assert.notEqual(String(r.headers.connection).toLowerCase(), 'close');
      }
      assert.deepEqual(reused, [false, true], 'the second request reused the first connection');
    } finally {
      agent.destroy();
    }
  });
});
