// Every error path a client can hit: status AND OpenAI error shape. Plus failover.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ms, startWorld } from '../lib/harness.mjs';
import { assertOpenAIError, bearer, chat, chatBody, request } from '../lib/http.mjs';

describe('errors', () => {
  let w;
  before(async () => {
    w = await startWorld({
      // This suite makes `local` fail on purpose (500s, resets, timeouts): its breaker would
      // open and turn the later cases into 503s. Breakers have their own suite (routing).
      localExtra: { breaker: { enabled: false } },
      providers: (mockBase, { deadPort }) => [
        // 429s cool the key of the target that got them: a target of its own.
        { name: 'limited', base_url: mockBase, api_key_env: 'TORII_TEST_PROVIDER_KEY' },
        { name: 'dead', base_url: `http://127.0.0.1:${deadPort}/v1`,
          api_key_env: 'TORII_TEST_PROVIDER_KEY' },
        { name: 'slow', base_url: mockBase, api_key_env: 'TORII_TEST_PROVIDER_KEY',
          timeouts: { connect_ms: 1000, first_byte_ms: 300, idle_ms: 1000 } },
        { name: 'broken', base_url: mockBase, api_key_env: 'TORII_TEST_PROVIDER_KEY',
          headers: { 'x-mock-status': '500' } },
      ],
      routes: [
        { name: 'fast', targets: ['local/mock-1'] },
        { name: 'failover-dead', targets: ['dead/mock-1', 'local/mock-1'] },
        { name: 'failover-500', targets: ['broken/mock-1', 'local/mock-1'] },
      ],
    });
  });
  after(async () => { if (w) await w.stop(); });

  const post = (body, headers = {}) => request(`${w.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...bearer(w.apiKey), 'content-type': 'application/json', ...headers },
    body,
  });

  function assertNoSecrets(res) {
    assert.ok(!res.text.includes(w.providerKey), 'provider key not in the answer');
    assert.ok(!res.text.includes(w.apiKey), 'api key not in the answer');
  }

  test('malformed JSON -> 400', async () => {
    const r = await post('{"model": "local/mock-1", "messages": [');
    assertOpenAIError(r, 400, 'malformed JSON');
  });

  test('a JSON body that is not an object -> 400', async () => {
    assertOpenAIError(await post('[1,2,3]'), 400, 'array body');
  });

  test('missing model -> 400', async () => {
    const r = await post(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }));
    assertOpenAIError(r, 400, 'missing model');
  });

  test('missing messages -> 400', async () => {
    const r = await post(JSON.stringify({ model: 'local/mock-1' }));
    assertOpenAIError(r, 400, 'missing messages');
  });

  for (const [name, body] of [
    ['model: 5', { model: 5, messages: [{ role: 'user', content: 'hi' }] }],
    ['messages: "x"', { model: 'local/mock-1', messages: 'x' }],
    ['stream: "yes"', { model: 'local/mock-1', messages: [{ role: 'user', content: 'hi' }],
      stream: 'yes' }],
  ]) {
    test(`wrong type ${name} -> 400`, async () => {
      assertOpenAIError(await post(JSON.stringify(body)), 400, name);
    });
  }

  test('no key -> 401', async () => {
    const r = await request(`${w.gw.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody('local/mock-1'),
    });
    assertOpenAIError(r, 401, 'no key');
  });

  test('bad key -> 401 and the key is not echoed', async () => {
    const badKey = 'sk-definitely-wrong-key-7f3a9c1e';
    const r = await chat(w.gw.url, badKey, chatBody('local/mock-1'));
    const err = assertOpenAIError(r, 401, 'bad bearer key');
    assert.ok(!r.text.includes(badKey), `key echoed: ${r.text}`);
    assert.ok(!err.message.includes('7f3a9c1e'));
    const r2 = await request(`${w.gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'x-api-key': badKey }, body: chatBody('local/mock-1'),
    });
    assertOpenAIError(r2, 401, 'bad x-api-key');
    assert.ok(!r2.text.includes(badKey), `key echoed: ${r2.text}`);
  });

  test('GET /v1/models needs a key', async () => {
    assertOpenAIError(await request(`${w.gw.url}/v1/models`), 401, 'models without key');
  });

  test('unknown model -> 404 model_not_found', async () => {
    const r = await post(JSON.stringify(chatBody('no-such-model-or-alias')));
    const err = assertOpenAIError(r, 404, 'unknown model');
    assert.equal(err.code, 'model_not_found');
  });

  test('unknown provider prefix -> 404', async () => {
    const r = await post(JSON.stringify(chatBody('nosuchprovider/mock-1')));
    const err = assertOpenAIError(r, 404, 'unknown provider');
    assert.equal(err.code, 'model_not_found');
  });

  test('unknown path -> 404', async () => {
    const r = await request(`${w.gw.url}/v1/does-not-exist`, { headers: bearer(w.apiKey) });
    assertOpenAIError(r, 404, 'unknown path');
  });

  test('wrong method -> 405', async () => {
    const r = await request(`${w.gw.url}/v1/chat/completions`, { headers: bearer(w.apiKey) });
    assertOpenAIError(r, 405, 'GET /v1/chat/completions');
    const r2 = await request(`${w.gw.url}/health`, { method: 'POST', body: '{}' });
    assertOpenAIError(r2, 405, 'POST /health');
  });

  test('body larger than max_body_bytes -> 413 (content-length)', async () => {
    const big = chatBody('local/mock-1', { padding: 'x'.repeat(8000) });
    const r = await post(JSON.stringify(big));
    assertOpenAIError(r, 413, 'oversized body');
  });

  test('body larger than max_body_bytes -> 413 (chunked)', async () => {
    const r = await new Promise((resolve, reject) => {
      const req = http.request(`${w.gw.url}/v1/chat/completions`, {
        method: 'POST', agent: false,
        headers: { ...bearer(w.apiKey), 'content-type': 'application/json' },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
      });
      req.setTimeout(ms(10_000), () => req.destroy(new Error('chunked 413 timed out')));
      req.on('error', reject);
      // no content-length: node sends the body chunked
      req.write('{"model":"local/mock-1","messages":[{"role":"user","content":"');
      for (let i = 0; i < 4; i++) req.write('y'.repeat(2000));
      req.end('"}]}');
    });
    assertOpenAIError(r, 413, 'oversized chunked body');
  });

  test('upstream 500 -> 502', async () => {
    const r = await post(JSON.stringify(chatBody('local/mock-1', { mock: { status: 500 } })));
    assertOpenAIError(r, 502, 'mock status 500');
    assertNoSecrets(r);
  });

  test('upstream 429 with retry_after 7 -> 429 with Retry-After: 7', async () => {
    const r = await post(JSON.stringify(chatBody('limited/mock-1',
      { mock: { status: 429, retry_after: 7 } })));
    assertOpenAIError(r, 429, 'mock status 429');
    assert.equal(r.headers['retry-after'], '7');
    // The target now rests for those 7 s: the next call is answered at once, with a 429 and
    // the time left, and never reaches the provider.
    const again = await post(JSON.stringify(chatBody('limited/mock-1')));
    assertOpenAIError(again, 429, 'cooling target');
    assert.ok(Number(again.headers['retry-after']) >= 6, again.headers['retry-after']);
    assert.equal(again.headers['x-torii-attempts'], undefined, 'no upstream call');
  });

  test('upstream connection refused -> 502', async () => {
    const r = await post(JSON.stringify(chatBody('dead/mock-1')));
    assertOpenAIError(r, 502, 'dead upstream');
    assertNoSecrets(r);
  });

  test('upstream first-byte timeout -> 504', async () => {
    const t0 = Date.now();
    const r = await post(JSON.stringify(chatBody('slow/mock-1', { mock: { stall_ms: 3000 } })));
    const took = Date.now() - t0;
    assertOpenAIError(r, 504, 'stalled upstream');
    assert.ok(took < ms(2500), `504 came after ${took} ms; first_byte_ms is 300`);
  });

  test('upstream 400 -> 400 with the upstream message', async () => {
    const knobs = { mock: { status: 400 } };
    const direct = await request(`${w.mock.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody('mock-1', knobs),
    });
    assert.equal(direct.status, 400, direct.text);
    const upstreamMessage = direct.json.error.message;
    assert.ok(upstreamMessage.length > 0);
    const r = await post(JSON.stringify(chatBody('local/mock-1', knobs)));
    const err = assertOpenAIError(r, 400, 'mock status 400');
    assert.ok(err.message.includes(upstreamMessage),
      `gateway message ${JSON.stringify(err.message)} carries the upstream message ` +
      `${JSON.stringify(upstreamMessage)}`);
  });

  test('failover: dead first target, healthy second -> 200', async () => {
    const r = await post(JSON.stringify(chatBody('failover-dead')));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.model, 'mock-1');
  });

  test('failover: first target answers 500, second healthy -> 200', async () => {
    // sanity: the broken provider alone fails
    const alone = await post(JSON.stringify(chatBody('broken/mock-1')));
    assertOpenAIError(alone, 502, 'broken provider alone');
    const r = await post(JSON.stringify(chatBody('failover-500')));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
  });

  test('failover also applies to streams before the first byte', async () => {
    const r = await post(JSON.stringify(chatBody('failover-dead', { stream: true })));
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /data: \[DONE\]/);
  });

  test('the gateway still serves after all those errors', async () => {
    const r = await post(JSON.stringify(chatBody('fast')));
    assert.equal(r.status, 200, r.text);
  });
});
