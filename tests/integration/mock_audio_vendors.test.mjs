// `torii mock` alone, over real sockets: ElevenLabs' text-to-speech (streamed audio, its key
// header, its error shape) and speech-to-text (multipart, the audio read back), and Hive's V3
// image generation; then the elevenlabs and hive kinds through the gateway: what they refuse,
// what they ignore, and the units they report.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { randomKey, renderConfig, startGateway, startMock, tempDir } from '../lib/harness.mjs';
import { mockLast, mockStats } from '../lib/http.mjs';

// POST with raw bytes back (audio is not UTF-8).
async function post(url, body, headers = {}) {
  const hdrs = { ...headers };
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    hdrs['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method: 'POST', body, headers: hdrs,
    signal: AbortSignal.timeout(10_000) });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json;
  try { json = JSON.parse(bytes.toString('utf8')); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, bytes, json };
}

// A multipart/form-data body: text fields, then files {name, filename, type, data}.
function multipart(fields, files) {
  const boundary = 'test-boundary-7e1f';
  const chunks = [];
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"` +
      `\r\n\r\n${value}\r\n`));
  }
  for (const f of files) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"; ` +
      `filename="${f.filename}"\r\nContent-Type: ${f.type}\r\n\r\n`));
    chunks.push(f.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

describe('torii mock: ElevenLabs and Hive', () => {
  let mock;
  before(async () => { mock = await startMock(); });
  after(async () => { if (mock) await mock.stop(); });

  test('ElevenLabs speech streams audio that its transcription reads back', async () => {
    await post(`${mock.url}/mock/reset`);
    const spoken = await post(
      `${mock.url}/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream?output_format=wav_24000`,
      { text: 'hello from the mock', model_id: 'eleven_multilingual_v2',
        voice_settings: { speed: 1.1 } },
      { 'xi-api-key': 'k', 'x-mock-chunks': '4' });
    assert.equal(spoken.status, 200, spoken.bytes.toString());
    assert.equal(spoken.headers.get('content-type'), 'audio/wav');
    assert.equal(spoken.headers.get('transfer-encoding'), 'chunked');
    assert.equal(spoken.bytes.subarray(0, 4).toString(), 'RIFF');
    assert.ok(spoken.bytes.includes('MOCKAUDIO:hello from the mock\n'));

    const form = multipart({ model_id: 'scribe_v1', language_code: 'en' },
      [{ name: 'file', filename: 'a.wav', type: 'audio/wav', data: spoken.bytes }]);
    const heard = await post(`${mock.url}/v1/speech-to-text`, form.body,
      { 'xi-api-key': 'k', 'content-type': form.type });
    assert.equal(heard.status, 200, heard.bytes.toString());
    assert.equal(heard.json.text, 'hello from the mock');
    assert.equal(heard.json.language_code, 'en');
    const words = heard.json.words.filter((w) => w.type === 'word');
    assert.deepEqual(words.map((w) => w.text), ['hello', 'from', 'the', 'mock']);
    // The last word ends with the audio: its WAV header's data bytes / byte rate.
    const seconds = spoken.bytes.readUInt32LE(40) / spoken.bytes.readUInt32LE(28);
    assert.ok(Math.abs(words[3].end - seconds) < 0.001, `${words[3].end} vs ${seconds}`);

    const stats = await mockStats(mock.url);
    assert.equal(stats.endpoints['elevenlabs-tts'], 1);
    assert.equal(stats.endpoints['elevenlabs-stt'], 1);
  });

  test('ElevenLabs refuses a missing key, a missing field and an unknown format', async () => {
    const path = `${mock.url}/v1/text-to-speech/v1/stream`;
    const nokey = await post(path, { text: 'hi' });
    assert.equal(nokey.status, 401);
    assert.equal(nokey.json.detail.status, 'invalid_api_key');
    const notext = await post(path, { model_id: 'eleven_multilingual_v2' }, { 'xi-api-key': 'k' });
    assert.equal(notext.status, 422);
    assert.deepEqual(notext.json.detail[0].loc, ['body', 'text']);
    const aac = await post(`${path}?output_format=aac_44100`, { text: 'hi' }, { 'xi-api-key': 'k' });
    assert.equal(aac.status, 400);
    assert.equal(aac.json.detail.status, 'invalid_output_format');
    const fault = await post(path, { text: 'hi' }, { 'xi-api-key': 'k', 'x-mock-status': '503' });
    assert.equal(fault.status, 503);
    assert.equal(typeof fault.json.detail.message, 'string');
    const form = multipart({ language_code: 'en' },
      [{ name: 'file', filename: 'a.mp3', type: 'audio/mpeg', data: Buffer.from('x') }]);
    const nomodel = await post(`${mock.url}/v1/speech-to-text`, form.body,
      { 'xi-api-key': 'k', 'content-type': form.type });
    assert.equal(nomodel.status, 422);
    assert.deepEqual(nomodel.json.detail[0].loc, ['body', 'model_id']);
  });

  test('Hive generates image URLs synchronously', async () => {
    const url = `${mock.url}/api/v3/black-forest-labs/flux-schnell`;
    const body = { input: { prompt: 'a red fox', num_images: 2,
      image_size: { width: 512, height: 512 }, output_format: 'png' } };
    const r = await post(url, body, { authorization: 'Bearer k' });
    assert.equal(r.status, 200, r.bytes.toString());
    assert.equal(r.json.model, 'black-forest-labs/flux-schnell');
    assert.deepEqual(r.json.input, body.input);
    assert.equal(r.json.output.length, 2);
    assert.match(r.json.output[0].url, /^https:\/\/.*\.png$/);

    const nokey = await post(url, body);
    assert.equal(nokey.status, 401);
    assert.equal(typeof nokey.json.message, 'string');
    const noprompt = await post(url, { input: { num_images: 1 } }, { authorization: 'Bearer k' });
    assert.equal(noprompt.status, 400);
    assert.match(noprompt.json.message, /input\.prompt/);
    const fault = await post(url, body, { authorization: 'Bearer k', 'x-mock-status': '429',
      'x-mock-retry-after': '3' });
    assert.equal(fault.status, 429);
    assert.equal(fault.headers.get('retry-after'), '3');
    assert.equal(fault.json.status_code, 429);
  });
});

describe('elevenlabs and hive through the gateway', () => {
  const dir = tempDir();
  const apiKey = randomKey('sk-audio');
  const providerKey = randomKey('sk-audio-provider');
  let mock;
  let gw;
  const auth = () => ({ authorization: `Bearer ${apiKey}` });
  before(async () => {
    mock = await startMock();
    const spec = {
      providers: [
        { name: 'el', kind: 'elevenlabs', base_url: mock.url, api_key_env: 'PROVIDER_KEY',
          models: ['eleven_multilingual_v2', 'scribe_v1'] },
        { name: 'hv', kind: 'hive', base_url: `${mock.url}/api/v3`, api_key_env: 'PROVIDER_KEY',
          models: ['black-forest-labs/flux-schnell'] },
      ],
      apiKeys: [{ name: 'team', env: 'API_KEY' }],
    };
    const file = path.join(dir, 'torii.yaml');
    fs.writeFileSync(file, renderConfig(spec));
    gw = await startGateway(file, { env: { API_KEY: apiKey, PROVIDER_KEY: providerKey } });
  });
  after(async () => { await Promise.all([gw && gw.stop(), mock && mock.stop()]); });

  test('speech: the voice in the path, ignored hints listed, aac refused', async () => {
    const r = await post(`${gw.url}/v1/audio/speech`, { model: 'el/eleven_multilingual_v2',
      voice: 'JBFqnCBsd6RMkjVDRZzb', input: 'through the gateway', response_format: 'wav',
      speed: 1.1, instructions: 'cheerful' }, auth());
    assert.equal(r.status, 200, r.bytes.toString());
    assert.equal(r.headers.get('content-type'), 'audio/wav');
    assert.ok(r.bytes.includes('MOCKAUDIO:through the gateway\n'));
    assert.equal(r.headers.get('x-torii-ignored-params'), 'instructions');
    const last = await mockLast(mock.url);
    assert.equal(last.target, '/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream?output_format=wav_24000');
    assert.equal(last.headers['xi-api-key'], providerKey);
    assert.deepEqual(last.body, { text: 'through the gateway', model_id: 'eleven_multilingual_v2',
      voice_settings: { speed: 1.1 } });

    const aac = await post(`${gw.url}/v1/audio/speech`, { model: 'el/eleven_multilingual_v2',
      voice: 'v', input: 'x', response_format: 'aac' }, auth());
    assert.equal(aac.status, 400);
    assert.equal(aac.json.error.param, 'response_format');
    assert.match(aac.json.error.message, /'el'/);
  });

  test('transcription: verbose_json from the words, the duration reported', async () => {
    const audio = Buffer.concat([Buffer.from('ID3\x04\x00MOCKAUDIO:one two three\n'),
      Buffer.alloc(16000 - 27)]);
    const form = multipart({ model: 'el/scribe_v1', response_format: 'verbose_json',
      language: 'en', prompt: 'numbers' },
    [{ name: 'file', filename: 'n.mp3', type: 'audio/mpeg', data: audio }]);
    const r = await post(`${gw.url}/v1/audio/transcriptions`, form.body,
      { ...auth(), 'content-type': form.type });
    assert.equal(r.status, 200, r.bytes.toString());
    assert.equal(r.json.text, 'one two three');
    assert.equal(r.json.language, 'en');
    assert.ok(Math.abs(r.json.duration - audio.length / 16000) < 0.001, String(r.json.duration));
    assert.equal(r.headers.get('x-torii-ignored-params'), 'prompt');
    const translated = await post(`${gw.url}/v1/audio/translations`, form.body,
      { ...auth(), 'content-type': form.type });
    assert.equal(translated.status, 400);
  });

  test('hive: URLs for n images, base64 refused', async () => {
    const r = await post(`${gw.url}/v1/images/generations`, {
      model: 'hv/black-forest-labs/flux-schnell', prompt: 'a red gate', n: 2, size: '512x512',
      quality: 'hd' }, auth());
    assert.equal(r.status, 200, r.bytes.toString());
    assert.equal(r.json.data.length, 2);
    assert.match(r.json.data[0].url, /^https:\/\/images\.mock\.invalid\//);
    assert.equal(r.headers.get('x-torii-ignored-params'), 'quality');
    const last = await mockLast(mock.url);
    assert.equal(last.target, '/api/v3/black-forest-labs/flux-schnell');
    assert.equal(last.headers.authorization, `Bearer ${providerKey}`);
    assert.deepEqual(last.body, { input: { prompt: 'a red gate',
      image_size: { width: 512, height: 512 }, num_images: 2, output_format: 'png' } });
    const b64 = await post(`${gw.url}/v1/images/generations`, {
      model: 'hv/black-forest-labs/flux-schnell', prompt: 'x', response_format: 'b64_json' },
    auth());
    assert.equal(b64.status, 400);
    assert.equal(b64.json.error.param, 'response_format');
  });
});
