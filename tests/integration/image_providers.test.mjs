// Gemini (Imagen, batchEmbedContents), Leonardo and Luma through the gateway and the mock, past
// what the conformance table checks: the job's polls (options.poll_ms, the mock's polls knob),
// a failed job, the fields each refuses or ignores, chat refused for the image-only kinds.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { randomKey, renderConfig, startGateway, startMock, tempDir } from '../lib/harness.mjs';
import { assertOpenAIError, bearer, chat, chatBody, mockStats, request } from '../lib/http.mjs';

const apiKey = randomKey('sk-img');
const providerKey = randomKey('sk-img-provider');
let mock;
let gw;

const fast = { options: { poll_ms: '10' } };

before(async () => {
  mock = await startMock();
  const spec = {
    providers: [
      { name: 'gem', kind: 'gemini', base_url: mock.url, api_key_env: 'PROVIDER_KEY',
        models: ['imagen-4.0-generate-001', 'gemini-embedding-001'] },
      { name: 'leo', kind: 'leonardo', base_url: `${mock.url}/api/rest/v1`,
        api_key_env: 'PROVIDER_KEY', models: ['phoenix'], headers: { 'x-mock-polls': '3' },
        extra: fast },
      { name: 'leofail', kind: 'leonardo', base_url: `${mock.url}/api/rest/v1`,
        api_key_env: 'PROVIDER_KEY', models: ['phoenix'], headers: { 'x-mock-blocked': '1' },
        extra: fast },
      { name: 'lu', kind: 'luma', base_url: `${mock.url}/dream-machine/v1`,
        api_key_env: 'PROVIDER_KEY', models: ['photon-1'], extra: fast },
    ],
    apiKeys: [{ name: 'team', env: 'API_KEY' }],
  };
  const dir = tempDir();
  const file = path.join(dir, 'torii.yaml');
  fs.writeFileSync(file, renderConfig(spec));
  gw = await startGateway(file, { env: { API_KEY: apiKey, PROVIDER_KEY: providerKey } });
});
after(async () => { await Promise.all([gw && gw.stop(), mock && mock.stop()]); });

const post = (p, body) => request(`${gw.url}${p}`, { method: 'POST', body, headers: bearer(apiKey) });

test('gemini: Imagen answers base64 even when asked for URLs, and says so', async () => {
  const r = await post('/v1/images/generations', { model: 'gem/imagen-4.0-generate-001',
    prompt: 'a lighthouse', n: 2, size: '1792x1024', response_format: 'url', quality: 'hd' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.length, 2);
  assert.ok(r.json.data[0].b64_json.length > 20);
  assert.equal(r.json.data[0].url, undefined);
  const ignored = r.headers['x-torii-ignored-params'] || '';
  assert.match(ignored, /response_format/);
  assert.match(ignored, /quality/);
  const last = (await request(`${mock.url}/mock/last`)).json;
  assert.equal(last.target, '/v1beta/models/imagen-4.0-generate-001:predict');
  assert.deepEqual(last.body.parameters, { sampleCount: 2, aspectRatio: '16:9' });
  assert.equal(last.headers['x-goog-api-key'], providerKey);
});

test('gemini: more than 4 images is a 400 naming n', async () => {
  const r = await post('/v1/images/generations', { model: 'gem/imagen-4.0-generate-001',
    prompt: 'x', n: 5 });
  const e = assertOpenAIError(r, 400);
  assert.equal(e.param, 'n');
  assert.match(e.message, /'gem'/);
});

test('gemini: embeddings in base64 with the dimensions asked', async () => {
  const r = await post('/v1/embeddings', { model: 'gem/gemini-embedding-001',
    input: ['one', 'two'], dimensions: 32, encoding_format: 'base64' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.length, 2);
  assert.equal(Buffer.from(r.json.data[1].embedding, 'base64').length, 32 * 4);
  const last = (await request(`${mock.url}/mock/last`)).json;
  assert.equal(last.target, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
  assert.equal(last.body.requests[0].outputDimensionality, 32);
});

test('leonardo: the job is polled until done', async () => {
  const before = (await mockStats(mock.url)).endpoints.leonardo;
  const r = await post('/v1/images/generations', { model: 'leo/phoenix', prompt: 'a castle',
    n: 2, size: '512x512' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.length, 2);
  assert.match(r.json.data[1].url, /^https:\/\/images\.mock\.invalid\/leonardo\//);
  // The create, 3 pending polls (x-mock-polls), the complete one.
  assert.equal((await mockStats(mock.url)).endpoints.leonardo - before, 5);
});

test('leonardo: a failed job is a 502 naming the provider; b64_json is refused', async () => {
  let r = await post('/v1/images/generations', { model: 'leofail/phoenix', prompt: 'x' });
  let e = assertOpenAIError(r, 502);
  assert.match(e.message, /'leofail'/);
  r = await post('/v1/images/generations', { model: 'leo/phoenix', prompt: 'x',
    response_format: 'b64_json' });
  e = assertOpenAIError(r, 400);
  assert.equal(e.param, 'response_format');
});

test('luma: one image per generation; n > 1 is a 400 naming n', async () => {
  let r = await post('/v1/images/generations', { model: 'lu/photon-1', prompt: 'a dune',
    size: '1024x1792' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.length, 1);
  assert.match(r.json.data[0].url, /^https:\/\/images\.mock\.invalid\/luma\//);
  r = await post('/v1/images/generations', { model: 'lu/photon-1', prompt: 'x', n: 2 });
  const e = assertOpenAIError(r, 400);
  assert.equal(e.param, 'n');
  assert.match(e.message, /'lu'/);
});

test('leonardo and luma have no chat', async () => {
  for (const model of ['leo/phoenix', 'lu/photon-1']) {
    const r = await chat(gw.url, apiKey, chatBody(model));
    const e = assertOpenAIError(r, 400, model);
    assert.match(e.message, new RegExp(`'${model.split('/')[0]}'`));
  }
});
