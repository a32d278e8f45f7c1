// The modality conformance suite (issue 11): ONE table of adapters, each with the list of
// modalities it serves, and ONE case per modality, run through the real gateway and
// `torii mock` (which speaks each adapter's wire) with the official `openai` SDK. A modality an
// adapter does not list must be refused with a 400 `unsupported_modality` naming the provider,
// so the table is checked both ways. The request each adapter sent is checked at the wire
// (GET /mock/last: path and auth).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { randomKey, renderConfig, startGateway, startMock, tempDir } from '../lib/harness.mjs';
import { mockLast } from '../lib/http.mjs';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64');
const MODALITIES = ['embeddings', 'image_generation', 'image_edit', 'speech', 'transcription',
  'translation', 'moderation'];

const bearer = (h, key) => h.authorization === `Bearer ${key}`;
// One row per adapter: its config, how the mock checks it was called, and what it serves.
// `paths` maps a modality to the upstream path the adapter must call (regex on the target).
const ALL_OPENAI = {
  embeddings: /^\/v1\/embeddings$/, image_generation: /^\/v1\/images\/generations$/,
  image_edit: /^\/v1\/images\/edits$/, speech: /^\/v1\/audio\/speech$/,
  transcription: /^\/v1\/audio\/transcriptions$/, translation: /^\/v1\/audio\/translations$/,
  moderation: /^\/v1\/moderations$/,
};
const pick = (...keys) => Object.fromEntries(keys.map((k) => [k, ALL_OPENAI[k]]));
const ADAPTERS = [
  { id: 'openai', kind: 'openai', base: (m) => `${m}/v1`, auth: bearer, paths: ALL_OPENAI },
  { id: 'openai-compatible', kind: 'openai-compatible', base: (m) => `${m}/v1`, auth: bearer,
    paths: ALL_OPENAI },
  { id: 'azure', kind: 'azure', base: (m) => m, fields: { api_version: '2024-10-21' },
    auth: (h, key) => h['api-key'] === key && !h.authorization,
    paths: Object.fromEntries(['embeddings', 'images/generations', 'images/edits', 'audio/speech',
      'audio/transcriptions', 'audio/translations'].map((p, i) => [
      ['embeddings', 'image_generation', 'image_edit', 'speech', 'transcription', 'translation'][i],
      new RegExp(`^/openai/deployments/mock-1/${p}\\?api-version=2024-10-21$`)])) },
  { id: 'groq', kind: 'groq', base: (m) => `${m}/v1`, auth: bearer,
    paths: pick('speech', 'transcription', 'translation') },
  // The mock answers Mistral's moderation shape for Mistral's model names.
  { id: 'mistral', kind: 'mistral', base: (m) => `${m}/v1`, auth: bearer,
    model: 'mistral-moderation-latest', paths: pick('embeddings', 'transcription', 'moderation') },
  { id: 'together', kind: 'together', base: (m) => `${m}/v1`, auth: bearer,
    paths: pick('embeddings', 'image_generation') },
  { id: 'deepseek', kind: 'deepseek', base: (m) => `${m}/v1`, auth: bearer, paths: {} },
  { id: 'gemini', kind: 'gemini', base: (m) => m,
    auth: (h, key) => h['x-goog-api-key'] === key && !h.authorization,
    paths: { embeddings: /^\/v1beta\/models\/mock-1:batchEmbedContents$/,
      image_generation: /^\/v1beta\/models\/mock-1:predict$/ } },
  // Asynchronous jobs, polled every options.poll_ms: the last upstream request is the poll
  // that found the job done.
  { id: 'leonardo', kind: 'leonardo', base: (m) => `${m}/api/rest/v1`, auth: bearer,
    extra: { options: { poll_ms: '20' } },
    paths: { image_generation: /^\/api\/rest\/v1\/generations\/job-\d+$/ } },
  // The mock checks Luma's model names.
  { id: 'luma', kind: 'luma', base: (m) => `${m}/dream-machine/v1`, auth: bearer,
    model: 'photon-1', extra: { options: { poll_ms: '20' } },
    paths: { image_generation: /^\/dream-machine\/v1\/generations\/job-\d+$/ } },
  // ElevenLabs: the OpenAI voice is the voice id; mp3 is mp3_44100_128.
  { id: 'elevenlabs', kind: 'elevenlabs', base: (m) => m,
    auth: (h, key) => h['xi-api-key'] === key && !h.authorization,
    paths: { speech: /^\/v1\/text-to-speech\/alloy\/stream\?output_format=mp3_44100_128$/,
      transcription: /^\/v1\/speech-to-text$/ } },
  // Hive's V3 API: the model is the path under the base.
  { id: 'hive', kind: 'hive', base: (m) => `${m}/api/v3`, auth: bearer,
    paths: { image_generation: /^\/api\/v3\/mock-1$/ } },
  // Native embeddings APIs. The model names pick the mock's (and the adapter's) model family.
  { id: 'cohere', kind: 'cohere', base: (m) => m, auth: bearer, model: 'embed-v4.0',
    paths: { embeddings: /^\/v2\/embed$/ } },
  // Cohere embed on Bedrock takes batches (Titan embeds one input per call).
  { id: 'bedrock', kind: 'bedrock', base: (m) => m, model: 'cohere.embed-english-v3',
    fields: { region: 'us-east-1', aws_access_key_id: '${env:PROVIDER_KEY}',
      aws_secret_access_key: '${env:PROVIDER_KEY}' },
    auth: (h, key) => new RegExp(`^AWS4-HMAC-SHA256 Credential=${key}/\\d{8}/us-east-1/` +
      'bedrock/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$')
      .test(h.authorization) && /^\d{8}T\d{6}Z$/.test(h['x-amz-date']),
    paths: { embeddings: /^\/model\/cohere\.embed-english-v3\/invoke$/ } },
  // Ollama sends a configured api_key as Bearer (for a proxy in front of it).
  { id: 'ollama', kind: 'ollama', base: (m) => m, auth: bearer, model: 'nomic-embed-text',
    paths: { embeddings: /^\/api\/embed$/ } },
];

// One case per modality: the SDK call and what its answer must hold.
const CASES = {
  embeddings: async (c, model) => {
    const r = await c.embeddings.create({ model, input: ['one text', 'another text'] });
    assert.equal(r.data.length, 2);
    assert.ok(r.data[0].embedding.length > 0);
    assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
  },
  image_generation: async (c, model) => {
    const r = await c.images.generate({ model, prompt: 'a red gate', n: 1 });
    assert.equal(r.data.length, 1);
    assert.ok(r.data[0].url || r.data[0].b64_json);
  },
  image_edit: async (c, model) => {
    const r = await c.images.edit({ model, prompt: 'add a hat',
      image: await toFile(PNG, 'cat.png', { type: 'image/png' }) });
    assert.equal(r.data.length, 1);
  },
  speech: async (c, model) => {
    const r = await c.audio.speech.create({ model, voice: 'alloy', input: 'conformance speech' });
    const audio = Buffer.from(await r.arrayBuffer());
    assert.ok(audio.includes('MOCKAUDIO:conformance speech'));
  },
  transcription: async (c, model) => {
    const file = await toFile(Buffer.from('RIFF....MOCKAUDIO:heard this\n'), 'a.wav');
    const r = await c.audio.transcriptions.create({ model, file });
    assert.equal(r.text, 'heard this');
    const srt = await c.audio.transcriptions.create({ model, response_format: 'srt',
      file: await toFile(Buffer.from('RIFF....MOCKAUDIO:heard this\n'), 'a.wav') });
    assert.match(srt, /^1\n00:00:00,000 --> .*\nheard this\n/);
  },
  translation: async (c, model) => {
    const file = await toFile(Buffer.from('RIFF....MOCKAUDIO:said this\n'), 'a.wav');
    const r = await c.audio.translations.create({ model, file });
    assert.equal(r.text, 'said this');
  },
  moderation: async (c, model) => {
    const r = await c.moderations.create({ model, input: ['calm words', 'violence here'] });
    assert.equal(r.results.length, 2);
    assert.equal(r.results[0].flagged, false);
    assert.equal(r.results[1].flagged, true);
    assert.equal(r.results[1].categories.violence, true);
  },
};

describe('modality conformance', () => {
  const dir = tempDir();
  const apiKey = randomKey('sk-conf-media');
  const providerKey = randomKey('sk-conf-provider');
  let mock;
  let gw;
  let client;
  before(async () => {
    mock = await startMock();
    const spec = {
      server: { max_body_bytes: 65536 },
      providers: ADAPTERS.map((a) => ({ name: a.id, kind: a.kind, base_url: a.base(mock.url),
        api_key_env: 'PROVIDER_KEY', fields: a.fields, models: [a.model || 'mock-1'],
        extra: a.extra })),
      apiKeys: [{ name: 'conf', env: 'API_KEY' }],
    };
    const file = path.join(dir, 'torii.yaml');
    fs.writeFileSync(file, renderConfig(spec));
    gw = await startGateway(file, { env: { API_KEY: apiKey, PROVIDER_KEY: providerKey } });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0, timeout: 15_000 });
  });
  after(async () => { await Promise.all([gw && gw.stop(), mock && mock.stop()]); });

  for (const a of ADAPTERS) {
    for (const m of MODALITIES) {
      const serves = Boolean(a.paths[m]);
      test(`${a.id}: ${m} ${serves ? 'served' : 'refused'}`, async () => {
        const run = CASES[m](client, `${a.id}/${a.model || 'mock-1'}`);
        if (!serves) {
          await assert.rejects(run, (e) => e instanceof OpenAI.BadRequestError &&
            e.code === 'unsupported_modality' && e.message.includes(`'${a.id}'`));
          return;
        }
        await run;
        const last = await mockLast(mock.url);
        assert.match(last.target, a.paths[m], 'the upstream path');
        assert.ok(a.auth(last.headers, providerKey), `the auth headers: ${JSON.stringify(last.headers)}`);
      });
    }
  }
});
