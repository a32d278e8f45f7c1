// /v1/embeddings through the gateway to the native embeddings APIs of `torii mock`: Cohere's
// /v2/embed (input_type from the client's extra field, dimensions -> output_dimension), Bedrock's
// InvokeModel (Titan: one input per call, SigV4; Cohere embed: batches), Ollama's /api/embed.
// Checks the upstream request at the wire (GET /mock/last), the OpenAI-shaped answer (floats and
// base64), the fields refused with a 400 before any upstream call, the ignored hints
// (x-torii-ignored-params) and an upstream error in the vendor's shape.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { randomKey, renderConfig, startGateway, startMock, tempDir } from '../lib/harness.mjs';
import { assertOpenAIError, bearer, mockLast, mockStats, request } from '../lib/http.mjs';

const apiKey = randomKey('sk-embed');
const providerKey = randomKey('sk-embed-provider');
let mock;
let gw;

const embed = (body) => request(`${gw.url}/v1/embeddings`, { method: 'POST', body, headers: bearer(apiKey) });

// The float32s of a base64 embedding.
function floats(b64) {
  const bytes = Buffer.from(b64, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

before(async () => {
  mock = await startMock();
  const aws = { region: 'us-east-1', aws_access_key_id: 'AKIDEMBEDTEST',
    aws_secret_access_key: '${env:PROVIDER_KEY}' };
  const spec = {
    providers: [
      { name: 'co', kind: 'cohere', base_url: mock.url, api_key_env: 'PROVIDER_KEY',
        models: ['embed-v4.0'] },
      { name: 'co-busy', kind: 'cohere', base_url: mock.url, api_key_env: 'PROVIDER_KEY',
        models: ['embed-v4.0'], headers: { 'x-mock-status': '429', 'x-mock-retry-after': '7' } },
      { name: 'aws', kind: 'bedrock', base_url: mock.url, fields: aws,
        models: ['amazon.titan-embed-text-v2:0', 'cohere.embed-v4:0', 'meta.llama3-8b-instruct-v1:0'] },
      { name: 'ol', kind: 'ollama', base_url: mock.url, models: ['nomic-embed-text'] },
    ],
    apiKeys: [{ name: 'team', env: 'API_KEY' }],
  };
  const dir = tempDir();
  const file = path.join(dir, 'torii.yaml');
  fs.writeFileSync(file, renderConfig(spec));
  gw = await startGateway(file, { env: { API_KEY: apiKey, PROVIDER_KEY: providerKey } });
});

after(async () => { await Promise.all([gw && gw.stop(), mock && mock.stop()]); });

describe('cohere /v2/embed', () => {
  test('input_type, dimensions and the ignored user hint', async () => {
    const r = await embed({ model: 'co/embed-v4.0', input: ['reset my password', 'hello'],
      dimensions: 256, input_type: 'search_query', user: 'u-1' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.data.length, 2);
    assert.equal(r.json.data[1].index, 1);
    assert.equal(r.json.data[0].embedding.length, 256);
    assert.ok(Math.abs(norm(r.json.data[0].embedding) - 1) < 1e-5);
    assert.equal(r.json.model, 'embed-v4.0');
    assert.deepEqual(r.json.usage, { prompt_tokens: 5, total_tokens: 5 });
    assert.equal(r.headers['x-torii-ignored-params'], 'user');
    const last = await mockLast(mock.url);
    assert.equal(last.target, '/v2/embed');
    assert.equal(last.headers.authorization, `Bearer ${providerKey}`);
    assert.deepEqual(last.body, { model: 'embed-v4.0', texts: ['reset my password', 'hello'],
      input_type: 'search_query', embedding_types: ['float'], output_dimension: 256 });
  });

  test('refused before any upstream call: token ids, an unknown input_type', async () => {
    const before = (await mockStats(mock.url)).endpoints['cohere-embed'];
    const tokens = assertOpenAIError(await embed({ model: 'co/embed-v4.0', input: [1, 2, 3] }), 400);
    assert.equal(tokens.param, 'input');
    assert.match(tokens.message, /'co' \(cohere\).*token ids/);
    const type = assertOpenAIError(await embed({ model: 'co/embed-v4.0', input: 'a',
      input_type: 'image' }), 400);
    assert.equal(type.param, 'input_type');
    assert.equal((await mockStats(mock.url)).endpoints['cohere-embed'], before);
  });

  test("an upstream 429 in Cohere's error shape is a 429 with Retry-After", async () => {
    const r = await embed({ model: 'co-busy/embed-v4.0', input: 'a' });
    assertOpenAIError(r, 429);
    assert.equal(r.headers['retry-after'], '7');
  });
});

describe('bedrock InvokeModel', () => {
  test('Titan v2: one input, signed, base64 answer', async () => {
    const r = await embed({ model: 'aws/amazon.titan-embed-text-v2:0', input: 'hello there',
      dimensions: 512, encoding_format: 'base64', input_type: 'search_query' });
    assert.equal(r.status, 200, r.text);
    const v = floats(r.json.data[0].embedding);
    assert.equal(v.length, 512);
    assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    assert.deepEqual(r.json.usage, { prompt_tokens: 2, total_tokens: 2 });
    assert.equal(r.headers['x-torii-ignored-params'], 'input_type');
    const last = await mockLast(mock.url);
    assert.equal(last.target, '/model/amazon.titan-embed-text-v2%3A0/invoke');
    assert.match(last.headers.authorization, new RegExp('^AWS4-HMAC-SHA256 ' +
      'Credential=AKIDEMBEDTEST/\\d{8}/us-east-1/bedrock/aws4_request, ' +
      'SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$'));
    assert.ok(!JSON.stringify(last.headers).includes(providerKey), 'the secret never goes out');
    assert.deepEqual(last.body, { inputText: 'hello there', dimensions: 512, normalize: true });
  });

  test('Titan refuses a batch; a model of no embedding family is refused', async () => {
    const batch = assertOpenAIError(await embed({ model: 'aws/amazon.titan-embed-text-v2:0',
      input: ['a', 'b'] }), 400);
    assert.equal(batch.param, 'input');
    assert.match(batch.message, /one input per call/);
    const dims = assertOpenAIError(await embed({ model: 'aws/amazon.titan-embed-text-v2:0',
      input: 'a', dimensions: 100 }), 400);
    assert.equal(dims.param, 'dimensions');
    const other = assertOpenAIError(await embed({ model: 'aws/meta.llama3-8b-instruct-v1:0',
      input: 'a' }), 400);
    assert.equal(other.param, 'model');
  });

  test('Cohere embed v4 on Bedrock: a batch with output_dimension', async () => {
    const r = await embed({ model: 'aws/cohere.embed-v4:0', input: ['a', 'b', 'c'], dimensions: 1024 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.length, 3);
    assert.equal(r.json.data[2].embedding.length, 1024);
    const last = await mockLast(mock.url);
    assert.equal(last.target, '/model/cohere.embed-v4%3A0/invoke');
    assert.deepEqual(last.body, { texts: ['a', 'b', 'c'], input_type: 'search_document',
      output_dimension: 1024 });
  });
});

describe('ollama /api/embed', () => {
  test('input, dimensions, prompt_eval_count as usage', async () => {
    const r = await embed({ model: 'ol/nomic-embed-text', input: ['a b c d e f', 'x'] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.length, 2);
    assert.equal(r.json.data[0].embedding.length, 768);
    assert.deepEqual(r.json.usage, { prompt_tokens: 3, total_tokens: 3 });
    const last = await mockLast(mock.url);
    assert.equal(last.target, '/api/embed');
    assert.deepEqual(last.body, { model: 'nomic-embed-text', input: ['a b c d e f', 'x'] });
    const small = await embed({ model: 'ol/nomic-embed-text', input: 'a', dimensions: 32 });
    assert.equal(small.status, 200, small.text);
    assert.equal(small.json.data[0].embedding.length, 32);
  });
});
