// The provider conformance suite (TensorZero's pattern): ONE table of adapters, ONE set of
// cases, run over every adapter through the real gateway and `torii mock`, which speaks each
// adapter's wire format. The clients are the official SDKs, unchanged: `openai` on
// /v1/chat/completions for every case, `@anthropic-ai/sdk` on /v1/messages for the key ones.
// Then golden translation pairs at the wire (GET /mock/last: what the provider received).
//
// One mock and one gateway for the whole file. Mock knobs cannot travel through the gateway
// (it does not forward client headers, and only OpenAI passthrough keeps the body's "mock"
// field), so every adapter has one provider entry per knob set, the knobs in its `headers:`.
// A case a row cannot pass because of a known defect is marked { todo: 'bug: …' } in BUGS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startWorld } from '../lib/harness.mjs';

const WORDS = 12;  // the mock runs with --chunks 4 --tokens-per-chunk 3
const MOCK_THINKING = 'The mock considers the question.';
const MOCK_SIGNATURE = 'bW9jay1zaWduYXR1cmU=';
const CACHED = 40;
const CACHE_WRITE = 24;
const RETRY_AFTER = '7';
// A 1x1 PNG.
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

// Capabilities mirror each adapter's Capabilities in src/providers/* (plus what its wire
// reports: cached reads, cache writes, thinking signatures, a content filter).
const bearer = (h, key) => h.authorization === `Bearer ${key}`;
const FULL = { tools: true, stream_tools: true, images: true, json_mode: true, json_schema: true,
  thinking: true, cached: true, cache_writes: false, signature: false, content_filter: true,
  n: false };
const ADAPTERS = [
  { id: 'openai-compatible', kind: 'openai-compatible', base: (m) => `${m}/v1`,
    path: /^\/v1\/chat\/completions$/, auth: bearer, caps: { ...FULL, n: true } },
  { id: 'openai', kind: 'openai', base: (m) => `${m}/v1`,
    path: /^\/v1\/chat\/completions$/, auth: bearer, caps: { ...FULL, n: true } },
  { id: 'azure', kind: 'azure', base: (m) => m, fields: { api_version: '2024-10-21' },
    path: /^\/openai\/deployments\/mock-1\/chat\/completions\?api-version=2024-10-21$/,
    auth: (h, key) => h['api-key'] === key && !h.authorization, caps: { ...FULL, n: true } },
  { id: 'cloudflare', kind: 'cloudflare', base: (m) => `${m}/client/v4`,
    fields: { account_id: 'acc123' },
    path: /^\/client\/v4\/accounts\/acc123\/ai\/v1\/chat\/completions$/, auth: bearer,
    caps: { ...FULL, n: true } },
  // Real Mistral always ends a stream with usage (and rejects stream_options, which the adapter
  // strips): the mock does the same with its stream_usage knob.
  { id: 'mistral', kind: 'mistral', base: (m) => `${m}/v1`, headers: { 'x-mock-stream-usage': '1' },
    path: /^\/v1\/chat\/completions$/, auth: bearer, caps: { ...FULL, n: true } },
  { id: 'anthropic', kind: 'anthropic', base: (m) => m, path: /^\/v1\/messages$/,
    auth: (h, key) => h['x-api-key'] === key && /^\d{4}-\d{2}-\d{2}$/.test(h['anthropic-version']),
    caps: { ...FULL, json_mode: false, cache_writes: true, signature: true } },
  { id: 'gemini', kind: 'gemini', base: (m) => m,
    path: /^\/v1beta\/models\/mock-1:(generateContent|streamGenerateContent\?alt=sse)$/,
    auth: (h, key) => h['x-goog-api-key'] === key,
    caps: { ...FULL, signature: true } },
  { id: 'bedrock', kind: 'bedrock', base: (m) => m,
    fields: { region: 'us-east-1', aws_access_key_id: '${env:TORII_TEST_PROVIDER_KEY}',
      aws_secret_access_key: '${env:TORII_TEST_PROVIDER_KEY}' },
    path: /^\/model\/mock-1\/converse(-stream)?$/,
    // SigV4: the access key id in the credential scope, never the secret.
    auth: (h, key) => new RegExp(`^AWS4-HMAC-SHA256 Credential=${key}/\\d{8}/us-east-1/` +
      'bedrock/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$')
      .test(h.authorization) && /^\d{8}T\d{6}Z$/.test(h['x-amz-date']),
    caps: { ...FULL, json_mode: false, json_schema: false, cache_writes: true, signature: true } },
  { id: 'cohere', kind: 'cohere', base: (m) => m, path: /^\/v2\/chat$/, auth: bearer,
    caps: { ...FULL } },
  { id: 'ollama', kind: 'ollama', base: (m) => m, path: /^\/api\/chat$/, auth: bearer,
    caps: { ...FULL, stream_tools: false, cached: false, content_filter: false } },
];

// Knob sets: one provider entry per adapter and set, named `<id>` or `<id>-<set>`.
const KNOBS = {
  '': {},
  think: { 'x-mock-thinking': '1' },
  cache: { 'x-mock-cached-tokens': String(CACHED), 'x-mock-cache-write-tokens': String(CACHE_WRITE) },
  blocked: { 'x-mock-blocked': '1' },
  e429: { 'x-mock-status': '429', 'x-mock-retry-after': RETRY_AFTER },
  e500: { 'x-mock-status': '500' },
  e400: { 'x-mock-status': '400' },
};
const pname = (a, set = '') => (set ? `${a.id}-${set}` : a.id);
const modelOf = (a, set = '') => `${pname(a, set)}/mock-1`;

// Known defects: `${adapter}:${case}` -> 'bug: …' (the test runs as todo and is reported).
const BUGS = {};  // "<adapter id>:<case>" → "bug: …" while a known defect is open
const opts = (a, c) => (BUGS[`${a.id}:${c}`] ? { todo: BUGS[`${a.id}:${c}`] } : {});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather in a given location',
    parameters: { type: 'object', properties: { location: { type: 'string' } },
      required: ['location'] },
  },
};
const anthropicTool = {
  name: 'get_weather', description: 'Get the current weather in a given location',
  input_schema: weatherTool.function.parameters,
};
const ask = (text = 'Tell the conformance suite something.') => [{ role: 'user', content: text }];
const words = (s) => (s || '').trim().split(/\s+/).filter(Boolean).length;
const ID_RE = /^[A-Za-z0-9_\-.:]+$/;

let w;
let oai;
let anth;

async function mockLast() {
  const r = await fetch(`${w.mock.url}/mock/last`);
  assert.equal(r.status, 200);
  return r.json();
}

async function collect(stream) {
  const out = { text: '', reasoning: '', finish: null, usage: null, tools: new Map(), chunks: 0 };
  for await (const ch of stream) {
    out.chunks++;
    if (ch.usage) out.usage = ch.usage;
    for (const c of ch.choices || []) {
      const d = c.delta || {};
      if (typeof d.content === 'string') out.text += d.content;
      if (typeof d.reasoning_content === 'string') out.reasoning += d.reasoning_content;
      for (const t of d.tool_calls || []) {
        const cur = out.tools.get(t.index) || { id: '', name: '', args: '' };
        if (t.id) cur.id = t.id;
        if (t.function?.name) cur.name += t.function.name;
        if (t.function?.arguments) cur.args += t.function.arguments;
        out.tools.set(t.index, cur);
      }
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

// Asserts an SDK error: status, and that the message names what it should.
async function rejectsWith(promise, status, check) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected HTTP ${status}, got a success`);
  assert.equal(err.status, status, `${err.status}: ${err.message}`);
  if (check) check(err);
  return err;
}

before(async () => {
  w = await startWorld({
    mockArgs: ['--chunks', '4', '--tokens-per-chunk', '3'],
    server: { max_body_bytes: 1 << 20 },
    providers: (mockBase) => {
      const root = mockBase.replace(/\/v1$/, '');
      const out = [];
      for (const a of ADAPTERS) {
        for (const [set, knobs] of Object.entries(KNOBS)) {
          const headers = { ...(a.headers || {}), ...knobs };
          out.push({ name: pname(a, set), kind: a.kind, base_url: a.base(root),
            api_key_env: 'TORII_TEST_PROVIDER_KEY', fields: a.fields, models: ['mock-1'],
            headers: Object.keys(headers).length ? headers : undefined });
        }
      }
      return out;
    },
  });
  oai = new OpenAI({ baseURL: `${w.gw.url}/v1`, apiKey: w.apiKey, maxRetries: 0, timeout: 10_000 });
  anth = new Anthropic({ baseURL: w.gw.url, apiKey: w.apiKey, maxRetries: 0, timeout: 10_000 });
});
after(async () => { if (w) await w.stop(); });

for (const a of ADAPTERS) {
  const model = modelOf(a);
  describe(`adapter ${a.id}`, () => {
    test('text whole (openai SDK): words, finish stop, usage, native path', opts(a, 'text'),
      async () => {
        const r = await oai.chat.completions.create({ model, messages: ask() });
        const m = r.choices[0].message;
        assert.equal(m.role, 'assistant');
        assert.equal(words(m.content), WORDS, m.content);
        assert.equal(r.choices[0].finish_reason, 'stop');
        assert.ok(r.usage.prompt_tokens >= 1, JSON.stringify(r.usage));
        assert.equal(r.usage.completion_tokens, WORDS);
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
        const last = await mockLast();
        assert.match(last.target, a.path);
        assert.ok(a.auth(last.headers, w.providerKey), `provider auth: ${JSON.stringify(last.headers)}`);
        assert.ok(!JSON.stringify(last).includes(w.apiKey), 'the client key never goes upstream');
      });

    test('completion ids are unique per answer (whole and stream)', opts(a, 'ids'), async () => {
      const ids = [];
      for (let i = 0; i < 2; i++) {
        ids.push((await oai.chat.completions.create({ model, messages: ask() })).id);
        const stream = await oai.chat.completions.create({ model, messages: ask(), stream: true });
        const seen = new Set();
        for await (const ch of stream) seen.add(ch.id);
        assert.equal(seen.size, 1, `one id per stream: ${[...seen]}`);
        ids.push(...seen);
      }
      assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), String(ids));
      assert.equal(new Set(ids).size, ids.length, `ids: ${ids}`);
    });

    test(`n=2: ${a.caps.n ? 'passed through' : '400 naming n and the provider'}`, opts(a, 'n'),
      async () => {
        const req = { model, messages: ask(), n: 2 };
        if (a.caps.n) {
          await oai.chat.completions.create(req);
          assert.equal((await mockLast()).body.n, 2);
        } else {
          await rejectsWith(oai.chat.completions.create(req), 400, (e) => {
            assert.equal(e.param, 'n', e.message);
            assert.ok(e.message.includes(`'${a.id}'`), e.message);
          });
        }
      });

    test('text stream equals whole; usage with include_usage', opts(a, 'stream'), async () => {
      const whole = await oai.chat.completions.create({ model, messages: ask() });
      const s = await collect(await oai.chat.completions.create({ model, messages: ask(),
        stream: true, stream_options: { include_usage: true } }));
      assert.equal(s.text, whole.choices[0].message.content);
      assert.equal(s.finish, 'stop');
      assert.ok(s.usage, 'a usage chunk');
      assert.equal(s.usage.completion_tokens, WORDS);
      assert.equal(s.usage.prompt_tokens, whole.usage.prompt_tokens);
      assert.match((await mockLast()).target, a.path);
    });

    test('max_tokens stop: finish length (openai) / max_tokens (anthropic)', opts(a, 'length'),
      async () => {
        const r = await oai.chat.completions.create({ model, messages: ask(), max_tokens: 5 });
        assert.equal(r.choices[0].finish_reason, 'length');
        assert.equal(words(r.choices[0].message.content), 5);
        const s = await collect(await oai.chat.completions.create({ model, messages: ask(),
          max_tokens: 5, stream: true }));
        assert.equal(s.finish, 'length');
        assert.equal(words(s.text), 5);
        const msg = await anth.messages.create({ model, max_tokens: 5, messages: ask() });
        assert.equal(msg.stop_reason, 'max_tokens');
      });

    if (a.caps.tools) {
      test('tool call whole and streamed: same name, same arguments, ids well-formed',
        opts(a, 'tools'), async () => {
          const req = { model, messages: ask('Weather in Paris?'), tools: [weatherTool] };
          const r = await oai.chat.completions.create(req);
          const c = r.choices[0];
          assert.equal(c.finish_reason, 'tool_calls');
          assert.equal(c.message.tool_calls?.length, 1, JSON.stringify(c.message));
          const call = c.message.tool_calls[0];
          assert.equal(call.type, 'function');
          assert.equal(call.function.name, 'get_weather');
          assert.match(call.id, ID_RE);
          assert.deepEqual(JSON.parse(call.function.arguments), { q: 'Weather' });
          const s = await collect(await oai.chat.completions.create({ ...req, stream: true }));
          assert.equal(s.finish, 'tool_calls');
          assert.equal(s.tools.size, 1);
          const st = s.tools.get(0);
          assert.ok(st, 'the streamed call has index 0');
          assert.equal(st.name, 'get_weather');
          assert.match(st.id, ID_RE);
          assert.equal(st.args, call.function.arguments);
        });

      test('tool result round trip: the second turn answers text', opts(a, 'tool_result'),
        async () => {
          const first = await oai.chat.completions.create({ model,
            messages: ask('Weather in Paris?'), tools: [weatherTool] });
          const call = first.choices[0].message.tool_calls[0];
          const r = await oai.chat.completions.create({ model, tools: [weatherTool], messages: [
            ...ask('Weather in Paris?'),
            { role: 'assistant', content: null, tool_calls: [call] },
            { role: 'tool', tool_call_id: call.id, content: '15 degrees' },
          ] });
          assert.equal(r.choices[0].finish_reason, 'stop');
          assert.ok(words(r.choices[0].message.content) > 0);
          assert.ok(JSON.stringify((await mockLast()).body).includes('15 degrees'),
            'the tool result reached the provider');
        });

      test('anthropic SDK: tool_result round trip answers text', opts(a, 'anthropic_tool_result'),
        async () => {
          const first = await anth.messages.create({ model, max_tokens: 256,
            tools: [anthropicTool], messages: ask('Weather in Paris?') });
          const use = first.content.find((b) => b.type === 'tool_use');
          const msg = await anth.messages.create({ model, max_tokens: 256, tools: [anthropicTool],
            messages: [...ask('Weather in Paris?'), { role: 'assistant', content: first.content },
              { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id,
                content: '15 degrees' }] }] });
          assert.equal(msg.stop_reason, 'end_turn');
          assert.equal(msg.content.at(-1).type, 'text');
          const body = JSON.stringify((await mockLast()).body);
          assert.ok(body.includes('15 degrees'), body);
          assert.ok(body.includes('get_weather'), body);
        });

      test('anthropic SDK: tool_use whole and streamed', opts(a, 'anthropic_tools'), async () => {
        const req = { model, max_tokens: 256, tools: [anthropicTool],
          messages: ask('Weather in Paris?') };
        const msg = await anth.messages.create(req);
        assert.equal(msg.stop_reason, 'tool_use');
        const use = msg.content.find((b) => b.type === 'tool_use');
        assert.ok(use, JSON.stringify(msg.content));
        assert.equal(use.name, 'get_weather');
        assert.deepEqual(use.input, { q: 'Weather' });
        assert.match(use.id, ID_RE);
        const streamed = await anth.messages.stream(req).finalMessage();
        const suse = streamed.content.find((b) => b.type === 'tool_use');
        assert.ok(suse, JSON.stringify(streamed.content));
        assert.deepEqual(suse.input, use.input);
        assert.equal(suse.name, use.name);
        assert.equal(streamed.stop_reason, 'tool_use');
      });
    }

    test(`image part: ${a.caps.images ? 'accepted and forwarded' : '400 naming the field'}`,
      opts(a, 'images'), async () => {
        const messages = [{ role: 'user', content: [
          { type: 'text', text: 'What is in this image?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } },
        ] }];
        if (a.caps.images) {
          const r = await oai.chat.completions.create({ model, messages });
          assert.ok(words(r.choices[0].message.content) > 0);
          assert.ok(JSON.stringify((await mockLast()).body).includes(PNG_B64),
            'the image bytes reached the provider');
          const msg = await anth.messages.create({ model, max_tokens: 64, messages: [
            { role: 'user', content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } },
              { type: 'text', text: 'What is in this image?' }] }] });
          assert.equal(msg.content[0].type, 'text');
          assert.ok(JSON.stringify((await mockLast()).body).includes(PNG_B64));
        } else {
          await rejectsWith(oai.chat.completions.create({ model, messages }), 400, (e) => {
            assert.match(e.message, new RegExp(a.id));
          });
        }
      });

    for (const [kind, rf] of [
      ['json_mode', { type: 'json_object' }],
      ['json_schema', { type: 'json_schema', json_schema: { name: 'answer', strict: true,
        schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'],
          additionalProperties: false } } }],
    ]) {
      test(`${kind}: ${a.caps[kind] ? '200' : '400 naming response_format'}`,
        opts(a, kind), async () => {
          const req = { model, messages: ask('Answer please.'), response_format: rf };
          if (a.caps[kind]) {
            const r = await oai.chat.completions.create(req);
            assert.equal(r.choices[0].finish_reason, 'stop');
            // The request reached the provider in its own terms (mime type, format, schema).
            const body = JSON.stringify((await mockLast()).body);
            if (kind === 'json_mode') assert.match(body, /json/i, body);
            else assert.ok(body.includes('"required":["a"]'), body);
          } else {
            await rejectsWith(oai.chat.completions.create(req), 400, (e) => {
              assert.match(e.message, /response_format/);
              assert.ok(e.message.includes(`'${a.id}'`), e.message);
              assert.equal(e.param, 'response_format');
            });
          }
        });
    }

    if (a.caps.thinking) {
      test('thinking: reasoning_content (openai) / thinking block (anthropic)',
        opts(a, 'thinking'), async () => {
          const m = modelOf(a, 'think');
          const r = await oai.chat.completions.create({ model: m, messages: ask() });
          assert.equal(r.choices[0].message.reasoning_content, MOCK_THINKING);
          assert.equal(words(r.choices[0].message.content), WORDS);
          const s = await collect(await oai.chat.completions.create({ model: m, messages: ask(),
            stream: true }));
          assert.equal(s.reasoning, MOCK_THINKING);
          assert.equal(s.text, r.choices[0].message.content);
          const msg = await anth.messages.create({ model: m, max_tokens: 256, messages: ask() });
          const th = msg.content.find((b) => b.type === 'thinking');
          assert.ok(th, JSON.stringify(msg.content));
          assert.equal(th.thinking, MOCK_THINKING);
          assert.equal(typeof th.signature, 'string');
          if (a.caps.signature) assert.equal(th.signature, MOCK_SIGNATURE);
          assert.equal(msg.content.at(-1).type, 'text');
          const fin = await anth.messages.stream({ model: m, max_tokens: 256, messages: ask() })
            .finalMessage();
          const sth = fin.content.find((b) => b.type === 'thinking');
          assert.ok(sth, JSON.stringify(fin.content));
          assert.equal(sth.thinking, MOCK_THINKING);
        });

      test('anthropic SDK: a streamed thinking block has the whole one\'s signature',
        opts(a, 'thinking_stream_signature'), async () => {
          const m = modelOf(a, 'think');
          const req = { model: m, max_tokens: 256, messages: ask() };
          const whole = (await anth.messages.create(req)).content.find((b) => b.type === 'thinking');
          const fin = await anth.messages.stream(req).finalMessage();
          const sth = fin.content.find((b) => b.type === 'thinking');
          assert.equal(typeof sth?.signature, 'string', JSON.stringify(fin.content));
          assert.equal(sth.signature, whole.signature);
        });

      if (a.caps.signature) {
        test('thinking round trip: the signed block goes back to the provider',
          opts(a, 'thinking_round_trip'), async () => {
            await anth.messages.create({ model, max_tokens: 256, messages: [
              ...ask('First question.'),
              { role: 'assistant', content: [
                { type: 'thinking', thinking: 'Earlier thoughts.', signature: MOCK_SIGNATURE },
                { type: 'text', text: 'First answer.' }] },
              ...ask('Second question.'),
            ] });
            const body = JSON.stringify((await mockLast()).body);
            assert.ok(body.includes(MOCK_SIGNATURE), `signature kept: ${body}`);
            assert.ok(body.includes('Earlier thoughts.'), `thinking kept: ${body}`);
          });
      }

      test('reasoning_effort is translated: the provider is asked to think',
        opts(a, 'reasoning_effort'), async () => {
          const r = await oai.chat.completions.create({ model, messages: ask(),
            reasoning_effort: 'low', max_tokens: 4000 });
          assert.equal(r.choices[0].message.reasoning_content, MOCK_THINKING);
        });
    }

    if (a.caps.cached) {
      test('cached tokens: prompt_tokens_details.cached_tokens / cache_read_input_tokens',
        opts(a, 'cached'), async () => {
          const m = modelOf(a, 'cache');
          const writes = a.caps.cache_writes ? CACHE_WRITE : 0;
          const r = await oai.chat.completions.create({ model: m, messages: ask() });
          assert.equal(r.usage.prompt_tokens_details?.cached_tokens, CACHED,
            JSON.stringify(r.usage));
          assert.ok(r.usage.prompt_tokens >= CACHED + writes + 1, JSON.stringify(r.usage));
          const s = await collect(await oai.chat.completions.create({ model: m, messages: ask(),
            stream: true, stream_options: { include_usage: true } }));
          assert.equal(s.usage?.prompt_tokens_details?.cached_tokens, CACHED,
            JSON.stringify(s.usage));
          assert.equal(s.usage.prompt_tokens, r.usage.prompt_tokens);
          const msg = await anth.messages.create({ model: m, max_tokens: 256, messages: ask() });
          assert.equal(msg.usage.cache_read_input_tokens, CACHED, JSON.stringify(msg.usage));
          // Anthropic's input_tokens excludes cache reads and writes.
          assert.equal(msg.usage.input_tokens + msg.usage.cache_read_input_tokens +
            (msg.usage.cache_creation_input_tokens || 0), r.usage.prompt_tokens,
          JSON.stringify(msg.usage));
          const fin = await anth.messages.stream({ model: m, max_tokens: 256, messages: ask() })
            .finalMessage();
          assert.equal(fin.usage.cache_read_input_tokens, CACHED, JSON.stringify(fin.usage));
          assert.equal(fin.usage.input_tokens, msg.usage.input_tokens);
        });
    }

    if (a.caps.cache_writes) {
      test('cache writes: cache_creation_input_tokens (anthropic shape), stream too',
        opts(a, 'cache_writes'), async () => {
          const m = modelOf(a, 'cache');
          const msg = await anth.messages.create({ model: m, max_tokens: 256, messages: ask() });
          assert.equal(msg.usage.cache_creation_input_tokens, CACHE_WRITE,
            JSON.stringify(msg.usage));
          const fin = await anth.messages.stream({ model: m, max_tokens: 256, messages: ask() })
            .finalMessage();
          assert.equal(fin.usage.cache_creation_input_tokens, CACHE_WRITE,
            JSON.stringify(fin.usage));
          assert.equal(fin.usage.cache_read_input_tokens, CACHED);
        });
    }

    if (a.caps.content_filter) {
      test('blocked: finish content_filter (openai) / refusal (anthropic)', opts(a, 'blocked'),
        async () => {
          const m = modelOf(a, 'blocked');
          const r = await oai.chat.completions.create({ model: m, messages: ask() });
          assert.equal(r.choices[0].finish_reason, 'content_filter');
          const s = await collect(await oai.chat.completions.create({ model: m, messages: ask(),
            stream: true }));
          assert.equal(s.finish, 'content_filter');
          const msg = await anth.messages.create({ model: m, max_tokens: 64, messages: ask() });
          assert.equal(msg.stop_reason, 'refusal');
          const fin = await anth.messages.stream({ model: m, max_tokens: 64, messages: ask() })
            .finalMessage();
          assert.equal(fin.stop_reason, 'refusal');
        });
    }

    test('upstream 429 -> 429 with retry-after (both inbound shapes)', opts(a, 'e429'),
      async () => {
        const m = modelOf(a, 'e429');
        const e = await rejectsWith(oai.chat.completions.create({ model: m, messages: ask() }),
          429);
        assert.equal(e.headers?.get?.('retry-after') ?? e.headers?.['retry-after'], RETRY_AFTER);
        assert.ok(e.error?.message, 'an OpenAI error object');
        // A stream fails the same way: the error comes before any byte.
        const es = await rejectsWith(oai.chat.completions.create({ model: m, messages: ask(),
          stream: true }), 429);
        assert.equal(es.headers?.get?.('retry-after') ?? es.headers?.['retry-after'], RETRY_AFTER);
        const ea = await rejectsWith(anth.messages.create({ model: m, max_tokens: 16,
          messages: ask() }), 429);
        assert.equal(ea.error?.type, 'error', JSON.stringify(ea.error));
        assert.equal(ea.error?.error?.type, 'rate_limit_error', JSON.stringify(ea.error));
      });

    test('upstream 500 -> 502 (both inbound shapes)', opts(a, 'e500'), async () => {
      const m = modelOf(a, 'e500');
      const e = await rejectsWith(oai.chat.completions.create({ model: m, messages: ask() }), 502);
      assert.ok(e.error?.message, 'an OpenAI error object');
      const ea = await rejectsWith(anth.messages.create({ model: m, max_tokens: 16,
        messages: ask() }), 502);
      assert.equal(ea.error?.type, 'error', JSON.stringify(ea.error));
    });

    test('upstream 400 -> 400 naming the provider', opts(a, 'e400'), async () => {
      const m = modelOf(a, 'e400');
      const e = await rejectsWith(oai.chat.completions.create({ model: m, messages: ask() }), 400);
      assert.ok(e.message.includes(pname(a, 'e400')), e.message);
      assert.equal(e.error?.type, 'invalid_request_error', JSON.stringify(e.error));
      const ea = await rejectsWith(anth.messages.create({ model: m, max_tokens: 16,
        messages: ask() }), 400);
      assert.equal(ea.error?.error?.type, 'invalid_request_error', JSON.stringify(ea.error));
      assert.ok(ea.message.includes(pname(a, 'e400')), ea.message);
    });

    test('anthropic SDK: text whole and stream agree, usage', opts(a, 'anthropic_text'),
      async () => {
        const msg = await anth.messages.create({ model, max_tokens: 256, messages: ask() });
        assert.equal(msg.content[0].type, 'text');
        assert.equal(words(msg.content[0].text), WORDS);
        assert.equal(msg.stop_reason, 'end_turn');
        assert.equal(msg.usage.output_tokens, WORDS);
        const stream = anth.messages.stream({ model, max_tokens: 256, messages: ask() });
        let text = '';
        stream.on('text', (t) => { text += t; });
        const fin = await stream.finalMessage();
        assert.equal(text, msg.content[0].text);
        assert.equal(fin.usage.output_tokens, WORDS);
        assert.equal(fin.usage.input_tokens, msg.usage.input_tokens);
      });
  });
}

test('every mock wire format was exercised', async () => {
  const stats = await (await fetch(`${w.mock.url}/mock/stats`)).json();
  for (const f of ['openai', 'anthropic', 'gemini', 'bedrock', 'cohere', 'ollama'])
    assert.ok(stats.formats?.[f] > 0, `${f}: ${JSON.stringify(stats.formats)}`);
});

describe('golden translation pairs (what the provider received)', () => {
  const byId = (id) => ADAPTERS.find((a) => a.id === id);

  test('OpenAI -> Anthropic: system hoisted, tool_result in a user message, max_tokens, ' +
    'tool_choice mapped, seed ignored', async () => {
    const a = byId('anthropic');
    const { response } = await oai.chat.completions.create({
      model: modelOf(a), seed: 7, temperature: 0.5,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      tools: [weatherTool],
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
          function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '15 degrees' },
      ],
    }).withResponse();
    const last = await mockLast();
    const b = last.body;
    assert.equal(last.headers['anthropic-version'] !== undefined, true);
    assert.equal(typeof b.max_tokens, 'number');
    assert.ok(b.max_tokens > 0);
    const sys = typeof b.system === 'string' ? b.system : b.system.map((x) => x.text).join('');
    assert.equal(sys, 'You are terse.');
    assert.ok(b.messages.every((m) => m.role === 'user' || m.role === 'assistant'),
      JSON.stringify(b.messages));
    assert.equal(b.messages[0].role, 'user');
    const asst = b.messages[1];
    assert.equal(asst.role, 'assistant');
    const use = asst.content.find((c) => c.type === 'tool_use');
    assert.deepEqual(use, { type: 'tool_use', id: 'call_1', name: 'get_weather',
      input: { location: 'Paris' } });
    const res = b.messages[2];
    assert.equal(res.role, 'user');
    const tr = res.content.find((c) => c.type === 'tool_result');
    assert.equal(tr.tool_use_id, 'call_1');
    assert.ok(JSON.stringify(tr.content).includes('15 degrees'));
    assert.deepEqual(b.tool_choice, { type: 'tool', name: 'get_weather' });
    assert.equal(b.tools[0].name, 'get_weather');
    assert.deepEqual(b.tools[0].input_schema, weatherTool.function.parameters);
    assert.equal(b.temperature, 0.5);
    assert.equal(b.seed, undefined);
    assert.match(response.headers.get('x-torii-ignored-params') || '', /(^|,)seed(,|$)/);
  });

  test('Anthropic -> OpenAI: tool_use -> tool_calls, tool_result -> tool message, ' +
    'thinking dropped for a plain OpenAI dialect', async () => {
    const a = byId('openai-compatible');
    await anth.messages.create({
      model: modelOf(a), max_tokens: 100, system: 'You are terse.', tools: [anthropicTool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [
          { type: 'thinking', thinking: 'Let me look it up.', signature: 'c2ln' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } },
        ] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1',
          content: '15 degrees' }] },
      ],
    });
    const b = (await mockLast()).body;
    assert.equal(b.messages[0].role, 'system');
    assert.ok(JSON.stringify(b.messages[0].content).includes('You are terse.'));
    const asst = b.messages.find((m) => m.role === 'assistant');
    assert.equal(asst.tool_calls.length, 1);
    assert.equal(asst.tool_calls[0].id, 'toolu_1');
    assert.equal(asst.tool_calls[0].type, 'function');
    assert.equal(asst.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { location: 'Paris' });
    const tool = b.messages.find((m) => m.role === 'tool');
    assert.equal(tool.tool_call_id, 'toolu_1');
    assert.ok(JSON.stringify(tool.content).includes('15 degrees'));
    assert.ok(!JSON.stringify(b).includes('Let me look it up.'), 'thinking not sent as text');
    assert.equal(b.tools[0].type, 'function');
    assert.equal(b.tools[0].function.name, 'get_weather');
    assert.equal(b.max_tokens ?? b.max_completion_tokens, 100);
  });

  test('OpenAI -> Gemini: roles user/model, functionDeclarations, systemInstruction, ' +
    'generationConfig', async () => {
    const a = byId('gemini');
    await oai.chat.completions.create({
      model: modelOf(a), max_tokens: 50, temperature: 0.25, top_p: 0.5, stop: ['END'],
      tools: [weatherTool],
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call_1',
          type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '15 degrees' },
        { role: 'user', content: 'Please.' },
      ],
    });
    const last = await mockLast();
    const b = last.body;
    assert.ok(last.headers['x-goog-api-key'], 'the key in x-goog-api-key');
    assert.equal(b.contents[0].role, 'user');
    assert.equal(b.contents[1].role, 'model');
    assert.ok(b.contents.every((c) => c.role === 'user' || c.role === 'model'),
      JSON.stringify(b.contents));
    assert.equal(b.contents[1].parts[0].text, 'Let me check.');
    const fc = b.contents[1].parts.find((p) => p.functionCall);
    assert.deepEqual(fc?.functionCall, { name: 'get_weather', args: { location: 'Paris' } },
      JSON.stringify(b.contents[1]));
    const fr = b.contents.flatMap((c) => c.parts).find((p) => p.functionResponse);
    assert.equal(fr?.functionResponse?.name, 'get_weather', JSON.stringify(b.contents));
    assert.ok(JSON.stringify(fr.functionResponse.response).includes('15 degrees'));
    assert.equal(b.contents.at(-1).role, 'user');
    assert.ok(JSON.stringify(b.contents.at(-1)).includes('Please.'));
    assert.equal(b.systemInstruction.parts[0].text, 'You are terse.');
    assert.equal(b.tools[0].functionDeclarations[0].name, 'get_weather');
    assert.equal(b.generationConfig.maxOutputTokens, 50);
    assert.equal(b.generationConfig.temperature, 0.25);
    assert.equal(b.generationConfig.topP, 0.5);
    assert.deepEqual(b.generationConfig.stopSequences, ['END']);
  });

  test('Responses -> chat: input items become messages (OpenAI backend)', async () => {
    const a = byId('openai-compatible');
    const r = await oai.responses.create({
      model: modelOf(a), instructions: 'You are terse.', max_output_tokens: 64,
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Hello there.' }] },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'Tell me more.' },
      ],
    });
    assert.equal(r.object, 'response');
    assert.ok(words(r.output_text) > 0);
    const last = await mockLast();
    assert.match(last.target, /\/chat\/completions$/);
    const b = last.body;
    assert.deepEqual(b.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
    assert.ok(JSON.stringify(b.messages[0].content).includes('You are terse.'));
    assert.ok(JSON.stringify(b.messages[1].content).includes('Hello there.'));
    assert.ok(JSON.stringify(b.messages[3].content).includes('Tell me more.'));
    assert.equal(b.max_tokens ?? b.max_completion_tokens, 64);
  });

  test('mistral: stream_options is stripped upstream, the stream still answers',
    async () => {
      const a = byId('mistral');
      const s = await collect(await oai.chat.completions.create({ model: modelOf(a),
        messages: ask(), stream: true, stream_options: { include_usage: true } }));
      const b = (await mockLast()).body;
      assert.equal(b.stream, true);
      assert.equal(b.stream_options, undefined, JSON.stringify(b));
      assert.equal(words(s.text), WORDS);
    });
});
