// The official `openai` SDK, unchanged, on every modality besides chat (issue 11), through the
// real gateway in front of `torii mock`: embeddings (the SDK's default base64, decoded by the
// SDK, and floats), image generation and edits (a multipart upload), speech streamed as it
// comes, transcription and translation (multipart uploads; speech → transcription round-trips
// through the mock's fake audio), moderation; the same through a vendor that needs mapping
// (Mistral's embeddings and moderation categories); errors as the SDK's typed errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { randomKey, startTorii, startWorld, tempDir } from '../lib/harness.mjs';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64');

describe('openai SDK on the modalities', () => {
  let w;
  let client;
  before(async () => {
    w = await startWorld({
      server: { max_body_bytes: 65536 },
      providers: (mockBase) => [
        { name: 'media', base_url: mockBase, api_key_env: 'TORII_TEST_PROVIDER_KEY',
          models: ['text-embedding-3-small', 'gpt-image-1', 'dall-e-3', 'tts-1', 'whisper-1',
            'omni-moderation-latest'] },
        // Speech in 6 pieces 40 ms apart: the client must see the first before the last.
        { name: 'slowvoice', base_url: mockBase, api_key_env: 'TORII_TEST_PROVIDER_KEY',
          models: ['tts-1'], headers: { 'x-mock-chunks': '6', 'x-mock-interval-ms': '40' } },
        { name: 'mistral', kind: 'mistral', base_url: mockBase,
          api_key_env: 'TORII_TEST_PROVIDER_KEY', models: ['mistral-embed'] },
      ],
      routes: [
        { name: 'text-embedding-3-small', targets: ['media/text-embedding-3-small'] },
        { name: 'tts-1', targets: ['media/tts-1'] },
        { name: 'whisper-1', targets: ['media/whisper-1'] },
      ],
    });
    client = new OpenAI({ baseURL: `${w.gw.url}/v1`, apiKey: w.apiKey, maxRetries: 0,
      timeout: 10_000 });
  });
  after(async () => { if (w) await w.stop(); });

  test('embeddings: the SDK default (base64) decodes to the same floats as float', async () => {
    const input = ['reset my password', 'book a flight to Paris'];
    const b64 = await client.embeddings.create({ model: 'text-embedding-3-small', input });
    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input,
      encoding_format: 'float' });
    assert.equal(b64.data.length, 2);
    assert.equal(b64.data[1].index, 1);
    assert.ok(b64.data[0].embedding.length > 8);
    assert.deepEqual(b64.data.map((d) => d.embedding.map((x) => Math.fround(x))),
      floats.data.map((d) => d.embedding.map((x) => Math.fround(x))));
    assert.notDeepEqual(floats.data[0].embedding, floats.data[1].embedding);
    assert.ok(floats.usage.prompt_tokens > 0);
  });

  test('embeddings through a mapped vendor (Mistral): base64 packed by the gateway', async () => {
    const input = 'reset my password';
    const direct = await client.embeddings.create({ model: 'media/text-embedding-3-small',
      input, encoding_format: 'float', dimensions: 64 });
    const mapped = await client.embeddings.create({ model: 'mistral/mistral-embed', input,
      dimensions: 64 });
    assert.equal(mapped.data[0].embedding.length, 64);
    assert.deepEqual(mapped.data[0].embedding.map((x) => Math.fround(x)),
      direct.data[0].embedding.map((x) => Math.fround(x)));
  });

  test('images.generate: base64 and URL answers in OpenAI shape', async () => {
    const b64 = await client.images.generate({ model: 'media/gpt-image-1', prompt: 'a red torii',
      n: 2 });
    assert.equal(b64.data.length, 2);
    assert.deepEqual(Buffer.from(b64.data[0].b64_json, 'base64'), PNG);
    const url = await client.images.generate({ model: 'media/dall-e-3', prompt: 'a red torii',
      response_format: 'url' });
    assert.match(url.data[0].url, /^https:\/\//);
    assert.equal(url.data[0].revised_prompt, 'a red torii');
  });

  test('images.edit: a multipart upload of an image and a prompt', async () => {
    const r = await client.images.edit({ model: 'media/gpt-image-1', prompt: 'add a hat',
      image: await toFile(PNG, 'cat.png', { type: 'image/png' }) });
    assert.equal(r.data.length, 1);
    assert.ok(r.data[0].b64_json);
  });

  test('audio.speech: the audio streams to the client as it comes', async () => {
    const t0 = Date.now();
    const res = await client.audio.speech.create({ model: 'slowvoice/tts-1', voice: 'alloy',
      input: 'hello from the gateway', response_format: 'wav' });
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    assert.ok(res.headers.get('x-torii-cost-usd'), 'priced per character');
    const chunks = [];
    let first = 0;
    for await (const c of res.body) {
      if (!first) first = Date.now() - t0;
      chunks.push(Buffer.from(c));
    }
    const total = Date.now() - t0;
    assert.ok(total - first >= 120, `first bytes at ${first} ms, the end at ${total} ms`);
    const audio = Buffer.concat(chunks);
    assert.equal(audio.subarray(0, 4).toString(), 'RIFF');
    assert.ok(audio.includes('MOCKAUDIO:hello from the gateway\n'));
  });

  test('speech → transcription round-trips; translation too; formats', async () => {
    const speech = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy',
      input: 'the quick brown fox', response_format: 'wav' });
    const audio = Buffer.from(await speech.arrayBuffer());
    const file = await toFile(audio, 'fox.wav', { type: 'audio/wav' });
    const t = await client.audio.transcriptions.create({ model: 'whisper-1', file });
    assert.equal(t.text, 'the quick brown fox');
    const srt = await client.audio.transcriptions.create({ model: 'whisper-1',
      file: await toFile(audio, 'fox.wav'), response_format: 'srt' });
    assert.match(srt, /^1\n00:00:00,000 --> 00:00:\d\d,\d{3}\nthe quick brown fox\n/);
    const verbose = await client.audio.transcriptions.create({ model: 'whisper-1',
      file: await toFile(audio, 'fox.wav'), response_format: 'verbose_json', language: 'en' });
    assert.equal(verbose.language, 'en');
    assert.ok(verbose.duration > 0);
    const tr = await client.audio.translations.create({ model: 'whisper-1',
      file: await toFile(audio, 'fox.wav') });
    assert.equal(tr.text, 'the quick brown fox');
  });

  test('moderations.create: categories in OpenAI scheme', async () => {
    const r = await client.moderations.create({ model: 'media/omni-moderation-latest',
      input: ['I love flowers', 'a threat of violence'] });
    assert.equal(r.results.length, 2);
    assert.equal(r.results[0].flagged, false);
    assert.equal(r.results[1].flagged, true);
    assert.equal(r.results[1].categories.violence, true);
  });

  test('errors are the SDK typed errors', async () => {
    await assert.rejects(
      client.embeddings.create({ model: 'text-embedding-3-small', input: '' }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
    // The Mistral vendor serves no speech: a 400 naming the provider and the modality.
    await assert.rejects(
      client.audio.speech.create({ model: 'mistral/mistral-embed', voice: 'alloy', input: 'x' }),
      (e) => e instanceof OpenAI.BadRequestError && /does not serve speech/.test(e.message));
    await assert.rejects(
      client.images.generate({ model: 'nope/none', prompt: 'x' }),
      (e) => e instanceof OpenAI.NotFoundError);
  });
});

// `make run`'s embedded demo config: every modality offline, under OpenAI's model names.
describe('the demo config serves every modality', () => {
  let gw;
  let client;
  const demoKey = randomKey('sk-demo');
  before(async () => {
    gw = await startTorii(['serve', '--listen', '127.0.0.1:0', '--workers', '1',
      '--admin-listen', '127.0.0.1:0', '--admin-store', 'memory'],
    { env: { TORII_DEMO_KEY: demoKey }, cwd: tempDir() });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: demoKey, maxRetries: 0 });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('embeddings, images, speech, transcription, translation, moderation', async () => {
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    assert.ok(e.data[0].embedding.length > 0);
    const img = await client.images.generate({ model: 'dall-e-3', prompt: 'a torii gate' });
    assert.ok(img.data[0].url);
    const gi = await client.images.generate({ model: 'gpt-image-1', prompt: 'a torii gate' });
    assert.ok(gi.data[0].b64_json);
    const speech = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy',
      input: 'welcome to torii', response_format: 'wav' });
    const audio = Buffer.from(await speech.arrayBuffer());
    const t = await client.audio.transcriptions.create({ model: 'whisper-1',
      file: await toFile(audio, 'welcome.wav') });
    assert.equal(t.text, 'welcome to torii');
    const tr = await client.audio.translations.create({ model: 'whisper-1',
      file: await toFile(audio, 'welcome.wav') });
    assert.equal(tr.text, 'welcome to torii');
    const m = await client.moderations.create({ input: 'pure violence' });
    assert.equal(m.results[0].flagged, true);
  });
});
