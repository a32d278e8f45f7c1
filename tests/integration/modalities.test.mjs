// The modalities besides chat through the whole pipeline (issue 11): bad uploads (malformed
// multipart, the wrong content type, an upload over server.max_upload_bytes, declared or
// chunked) and bad JSON get a clear 4xx in OpenAI's shape; a provider without the modality is
// skipped for the next target, or refused with a 400 naming it; failover on upstream errors;
// prices per image, per second of audio and per character, the quota's budget, the audit's
// modality and units, the guardrails on text inputs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { randomKey, renderConfig, startGateway, startMock, tempDir, waitFor, ms } from '../lib/harness.mjs';
import { assertOpenAIError, bearer, mockStats, request } from '../lib/http.mjs';

const dir = tempDir();
const auditFile = path.join(dir, 'audit.jsonl');
const apiKey = randomKey('sk-media');
const budgetKey = randomKey('sk-media-budget');
const providerKey = randomKey('sk-provider');
let mock;
let gw;

function form(boundary, parts) {
  const chunks = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename) head += `; filename="${p.filename}"\r\nContent-Type: ${p.type || 'application/octet-stream'}`;
    chunks.push(Buffer.from(`${head}\r\n\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function upload(pathName, body, { key = apiKey, boundary = 'tb', headers = {} } = {}) {
  return request(`${gw.url}${pathName}`, {
    method: 'POST', body,
    headers: { ...bearer(key), 'content-type': `multipart/form-data; boundary=${boundary}`, ...headers },
  });
}

function post(pathName, body, key = apiKey) {
  return request(`${gw.url}${pathName}`, { method: 'POST', body, headers: bearer(key) });
}

async function auditEvents(filter) {
  let found = [];
  await waitFor(() => {
    if (!fs.existsSync(auditFile)) return false;
    found = fs.readFileSync(auditFile, 'utf8').trim().split('\n').filter(Boolean)
      .map((l) => JSON.parse(l)).filter(filter);
    return found.length > 0;
  }, ms(5000), 'audit events');
  return found;
}

before(async () => {
  mock = await startMock();
  const base = `${mock.url}/v1`;
  const spec = {
    server: { max_body_bytes: 65536, max_upload_bytes: 100000 },
    providers: [
      { name: 'media', base_url: base, api_key_env: 'PROVIDER_KEY',
        models: ['img-1', 'tts-1', 'stt-1', 'emb-1', 'mod-1'] },
      { name: 'broken', base_url: base, api_key_env: 'PROVIDER_KEY', models: ['img-1'],
        headers: { 'x-mock-status': '500' } },
      // DeepSeek serves chat only (the vendor table): no embeddings, no images.
      { name: 'chatonly', kind: 'deepseek', base_url: base, api_key_env: 'PROVIDER_KEY',
        models: ['emb-1'] },
    ],
    routes: [
      { name: 'images', targets: ['broken/img-1', 'media/img-1'] },
      { name: 'embed-fallback', targets: ['chatonly/emb-1', 'media/emb-1'] },
      { name: 'embed-only-chat', targets: ['chatonly/emb-1'] },
    ],
    apiKeys: [{ name: 'team', env: 'API_KEY' }, { name: 'budgeted', env: 'BUDGET_KEY' }],
  };
  // The budgeted key may embed and make images, but not speak (an authorization rule on the
  // modality); its image spend has a budget of its own.
  const yaml = renderConfig(spec) + `
prices:
  img-1: {image: 0.04}
  tts-1: {character: 15.00}
  stt-1: {audio_second: 0.0001}
  emb-1: {input: 0.02}
authorization:
  rules:
    - {id: no-speech-for-budgeted, when: [{key: budgeted}, {modality: speech}]}
quotas:
  budgets:
    - {id: tight, scope: [key], usd: 0.10, period: day,
       when: [{key: budgeted}, {modality: [image_generation, image_edit]}]}
guardrails:
  checks:
    - {id: no-secrets, kind: secrets, phase: [before]}
audit:
  sinks: [{type: jsonl, path: "${auditFile}"}]
`;
  const configFile = path.join(dir, 'torii.yaml');
  fs.writeFileSync(configFile, yaml);
  gw = await startGateway(configFile, { env: { API_KEY: apiKey, BUDGET_KEY: budgetKey,
    PROVIDER_KEY: providerKey } });
});

after(async () => {
  await Promise.all([gw && gw.stop(), mock && mock.stop()]);
});

describe('uploads', () => {
  const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(40), Buffer.from('MOCKAUDIO:hi there\n')]);

  test('a well-formed upload is transcribed, priced per second, audited', async () => {
    const r = await upload('/v1/audio/transcriptions', form('tb', [
      { name: 'model', data: 'media/stt-1' },
      { name: 'file', filename: 'a.wav', type: 'audio/wav', data: wav },
    ]));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.text, 'hi there');
    // The mock reports ceil(bytes / 16000) = 1 s: $0.0001.
    assert.equal(r.headers['x-torii-cost-usd'], '0.000100');
    const [e] = await auditEvents((x) => x.request_id === r.headers['x-request-id']);
    assert.equal(e.modality, 'transcription');
    assert.equal(e.api, 'openai_audio');
    assert.equal(e.usage.audio_ms, 1000);
    assert.equal(e.cost_micros, 100);
  });

  test('malformed multipart bodies get a 400 naming what is wrong', async () => {
    const cases = [
      ['no closing boundary', Buffer.from('--tb\r\nContent-Disposition: form-data; name="model"\r\n\r\nm')],
      ['a part without a name', Buffer.from('--tb\r\nContent-Disposition: form-data\r\n\r\nx\r\n--tb--\r\n')],
      ['garbage after the boundary', Buffer.from('--tbXYZ')],
      ['the wrong boundary', form('other', [{ name: 'model', data: 'media/stt-1' }])],
    ];
    for (const [what, body] of cases) {
      const r = await upload('/v1/audio/transcriptions', body);
      const e = assertOpenAIError(r, 400, what);
      assert.equal(e.code, 'invalid_multipart', what);
    }
    const noFile = await upload('/v1/audio/transcriptions', form('tb', [{ name: 'model', data: 'media/stt-1' }]));
    assert.equal(assertOpenAIError(noFile, 400).param, 'file');
    const json = await post('/v1/audio/transcriptions', { model: 'media/stt-1' });
    assert.equal(assertOpenAIError(json, 400).code, 'invalid_content_type');
  });

  test('an upload over server.max_upload_bytes is a 413, declared or chunked', async () => {
    const big = form('tb', [{ name: 'model', data: 'media/stt-1' },
      { name: 'file', filename: 'big.wav', data: Buffer.alloc(150000, 1) }]);
    const declared = await upload('/v1/audio/transcriptions', big);
    assert.match(assertOpenAIError(declared, 413).message, /100000/);
    // Chunked: no length to check up front; refused when the limit is crossed.
    const chunked = await new Promise((resolve, reject) => {
      const req = http.request(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', headers: {
        ...bearer(apiKey), 'content-type': 'multipart/form-data; boundary=tb',
        'transfer-encoding': 'chunked' } }, (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString() }));
      });
      req.on('error', reject);
      for (let i = 0; i < 15; i++) req.write(big.subarray(i * 10000, (i + 1) * 10000));
      req.end(big.subarray(150000));
    });
    assert.equal(chunked.status, 413, chunked.text);
  });

  test('a JSON body over max_body_bytes is still refused at the smaller limit', async () => {
    const r = await post('/v1/embeddings', { model: 'media/emb-1', input: 'x'.repeat(70000) });
    assertOpenAIError(r, 413);
  });
});

describe('routing the modalities', () => {
  test('a provider without the modality is skipped; alone it is a 400 naming it', async () => {
    const ok = await post('/v1/embeddings', { model: 'embed-fallback', input: 'hello' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers['x-torii-provider'], 'media');
    const refused = await post('/v1/embeddings', { model: 'embed-only-chat', input: 'hello' });
    const e = assertOpenAIError(refused, 400);
    assert.equal(e.code, 'unsupported_modality');
    assert.match(e.message, /chatonly.*does not serve embeddings/);
  });

  test('an upstream 500 fails over to the next target', async () => {
    const r = await post('/v1/images/generations', { model: 'images', prompt: 'a gate', n: 2 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-torii-attempts'], '2');
    assert.equal(r.json.data.length, 2);
    assert.equal(r.headers['x-torii-cost-usd'], '0.080000');
    const [e] = await auditEvents((x) => x.request_id === r.headers['x-request-id']);
    assert.equal(e.modality, 'image_generation');
    assert.equal(e.usage.images, 2);
    assert.equal(e.attempts.length, 2);
  });

  test('speech is priced per character before its first byte', async () => {
    const r = await post('/v1/audio/speech', { model: 'media/tts-1', voice: 'v', input: 'héllo' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['content-type'], 'audio/mpeg');
    assert.equal(r.headers['x-torii-cost-usd'], '0.000075');  // 5 characters × $15 / 1M
    const [e] = await auditEvents((x) => x.request_id === r.headers['x-request-id']);
    assert.equal(e.usage.characters, 5);
    assert.equal(e.modality, 'speech');
  });

  test('the budget counts image prices', async () => {
    const one = await post('/v1/images/generations', { model: 'media/img-1', prompt: 'p', n: 2 }, budgetKey);
    assert.equal(one.status, 200, one.text);
    const two = await post('/v1/images/generations', { model: 'media/img-1', prompt: 'p', n: 2 }, budgetKey);
    const e = assertOpenAIError(two, 429);
    assert.match(e.message, /tight/);
  });

  test('authorization and quotas read the modality', async () => {
    const speech = await post('/v1/audio/speech', { model: 'media/tts-1', voice: 'v', input: 'hi' }, budgetKey);
    const e = assertOpenAIError(speech, 403);
    assert.match(e.message, /no-speech-for-budgeted/);
    // Embeddings are neither denied nor counted in the images' budget (spent by the test above).
    const emb = await post('/v1/embeddings', { model: 'media/emb-1', input: 'hi' }, budgetKey);
    assert.equal(emb.status, 200, emb.text);
  });

  test('guardrails check the text inputs', async () => {
    const r = await post('/v1/embeddings', { model: 'media/emb-1',
      input: ['fine', 'my key is AKIAIOSFODNN7EXAMPLE'] });
    const e = assertOpenAIError(r, 400);
    assert.equal(e.code, 'guardrail_denied');
    assert.ok(!e.message.includes('AKIAIOSFODNN7EXAMPLE'));
  });

  test('metrics count the modalities and their units', async () => {
    let text = '';
    await waitFor(async () => {
      text = (await request(`${gw.url}/metrics`)).text;
      return /torii_modality_units_total\{[^}]*unit="characters"[^}]*\} [1-9]/.test(text);
    }, ms(5000), 'the speech characters in /metrics');
    const images = text.match(/torii_modality_units_total\{modality="image_generation",model="img-1",unit="images"\} (\d+)/);
    assert.ok(images && Number(images[1]) >= 2, text.slice(0, 2000));
    assert.match(text, /torii_modality_requests_total\{modality="embeddings",outcome="ok"\} [1-9]/);
  });

  test('bad JSON, the wrong method, Azure-style paths', async () => {
    const bad = await request(`${gw.url}/v1/embeddings`, { method: 'POST', body: '{"model":',
      headers: { ...bearer(apiKey), 'content-type': 'application/json' } });
    assertOpenAIError(bad, 400);
    const get = await request(`${gw.url}/v1/images/generations`, { headers: bearer(apiKey) });
    assert.equal(assertOpenAIError(get, 405).code, 'method_not_allowed');
    const azure = await post('/openai/deployments/whatever/embeddings?api-version=2024-10-21',
      { model: 'media/emb-1', input: 'hi' });
    assert.equal(azure.status, 200, azure.text);
    assert.equal(azure.json.object, 'list');
    const stats = await mockStats(mock.url);
    assert.ok(stats.embedding_requests >= 2);
  });
});
