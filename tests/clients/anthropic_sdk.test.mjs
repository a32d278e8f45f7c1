// The official `@anthropic-ai/sdk` npm SDK, unchanged, against torii's /v1/messages and
// /v1/messages/count_tokens: text, streams (event order, finalMessage), a tool round trip,
// thinking, count_tokens, usage and typed errors. Every test runs twice: through an
// OpenAI-format backend (provider `local`, kind openai-compatible → `torii mock`: the request
// is translated) and through an Anthropic backend (provider `anth`, kind anthropic → `torii
// mock`: passthrough).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startWorld } from '../lib/harness.mjs';

const MOCK_THINKING = 'The mock considers the question.';
const MOCK_SIGNATURE = 'bW9jay1zaWduYXR1cmU=';
const WORDS = 12;  // the mock runs with --chunks 4 --tokens-per-chunk 3

const weatherTool = {
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input_schema: {
    type: 'object',
    properties: { location: { type: 'string', description: 'The city, e.g. Paris' } },
    required: ['location'],
  },
};

// One world per backend: a gateway whose providers `local` (openai-compatible) and `anth`
// (anthropic) both point at the same mock.
function startBackends() {
  return startWorld({
    mockArgs: ['--chunks', '4', '--tokens-per-chunk', '3', '--interval-ms', '2'],
    // mockBase ends with /v1: the Anthropic provider then posts to {mockBase}/messages.
    providers: (mockBase) => [
      { name: 'anth', kind: 'anthropic', base_url: mockBase,
        api_key_env: 'TORII_TEST_PROVIDER_KEY', models: ['mock-1'] },
    ],
    routes: [{ name: 'fast', targets: ['local/mock-1'] }, { name: 'afast', targets: ['anth/mock-1'] }],
  });
}

for (const backend of ['openai', 'anthropic']) {
  const model = backend === 'openai' ? 'local/mock-1' : 'anth/mock-1';
  const alias = backend === 'openai' ? 'fast' : 'afast';

  describe(`anthropic SDK against torii (${backend} backend)`, () => {
    let w;
    let client;
    before(async () => {
      w = await startBackends();
      client = new Anthropic({ baseURL: w.gw.url, apiKey: w.apiKey, maxRetries: 0,
        timeout: 10_000 });
    });
    after(async () => { if (w) await w.stop(); });

    const ask = (text = 'Tell the SDK test something.') => [{ role: 'user', content: text }];

    test('messages.create: a text message with usage', async () => {
      const { data: msg, response } = await client.messages
        .create({ model, max_tokens: 256, messages: ask() }).withResponse();
      assert.ok(response.headers.get('x-request-id'));
      assert.equal(msg.type, 'message');
      assert.equal(msg.role, 'assistant');
      assert.match(msg.id, /^msg_/);
      assert.equal(msg.content.length, 1, JSON.stringify(msg.content));
      assert.equal(msg.content[0].type, 'text');
      assert.equal(msg.content[0].text.trim().split(/\s+/).length, WORDS, msg.content[0].text);
      assert.equal(msg.stop_reason, 'end_turn');
      assert.equal(msg.stop_sequence, null);
      assert.ok(msg.usage.input_tokens >= 1, JSON.stringify(msg.usage));
      assert.equal(msg.usage.output_tokens, WORDS);
      assert.equal(typeof msg.usage.cache_read_input_tokens, 'number');
      assert.equal(typeof msg.usage.cache_creation_input_tokens, 'number');
    });

    test('a route alias works like provider/model', async () => {
      const msg = await client.messages.create({ model: alias, max_tokens: 64, messages: ask() });
      assert.equal(msg.content[0].type, 'text');
    });

    test('messages.stream: event order, text equal to the whole answer, final usage', async () => {
      const whole = await client.messages.create({ model, max_tokens: 256, messages: ask() });
      const stream = client.messages.stream({ model, max_tokens: 256, messages: ask() });
      const events = [];
      let text = '';
      stream.on('text', (t) => { text += t; });
      for await (const ev of stream) events.push(ev);
      const final = await stream.finalMessage();
      const types = events.map((e) => e.type);
      assert.equal(types[0], 'message_start');
      assert.equal(types[types.length - 1], 'message_stop');
      assert.equal(types[types.length - 2], 'message_delta');
      // Blocks open and close in order, with consecutive indices.
      let open = -1;
      let next = 0;
      for (const e of events) {
        if (e.type === 'content_block_start') {
          assert.equal(open, -1, 'a block starts only after the previous one stopped');
          assert.equal(e.index, next++);
          open = e.index;
        } else if (e.type === 'content_block_delta') {
          assert.equal(e.index, open);
        } else if (e.type === 'content_block_stop') {
          assert.equal(e.index, open);
          open = -1;
        }
      }
      assert.equal(open, -1);
      assert.equal(text, whole.content[0].text);
      assert.equal(final.content[0].text, whole.content[0].text);
      assert.equal(final.stop_reason, 'end_turn');
      assert.equal(final.usage.output_tokens, WORDS);
      assert.ok(final.usage.input_tokens >= 1, JSON.stringify(final.usage));
      assert.equal(final.usage.input_tokens, whole.usage.input_tokens);
    });

    test('create({stream: true}) yields the raw events', async () => {
      const stream = await client.messages.create({ model, max_tokens: 64, messages: ask(),
        stream: true });
      const types = [];
      for await (const ev of stream) types.push(ev.type);
      assert.equal(types[0], 'message_start');
      assert.ok(types.includes('content_block_delta'));
      assert.equal(types.at(-1), 'message_stop');
    });

    test('tools: tool_use, then the tool_result round trip', async () => {
      const first = await client.messages.create({ model, max_tokens: 256, tools: [weatherTool],
        messages: ask('What is the weather in Paris?') });
      assert.equal(first.stop_reason, 'tool_use');
      const use = first.content.find((b) => b.type === 'tool_use');
      assert.ok(use, JSON.stringify(first.content));
      assert.equal(use.name, 'get_weather');
      assert.ok(use.id.length > 0);
      assert.equal(typeof use.input, 'object');

      // The same call streamed: the accumulated input equals the whole one.
      const stream = client.messages.stream({ model, max_tokens: 256, tools: [weatherTool],
        messages: ask('What is the weather in Paris?') });
      const streamed = await stream.finalMessage();
      const suse = streamed.content.find((b) => b.type === 'tool_use');
      assert.ok(suse, JSON.stringify(streamed.content));
      assert.deepEqual(suse.input, use.input);
      assert.equal(streamed.stop_reason, 'tool_use');

      const second = await client.messages.create({ model, max_tokens: 256, tools: [weatherTool],
        messages: [
          ...ask('What is the weather in Paris?'),
          { role: 'assistant', content: first.content },
          { role: 'user', content: [
            { type: 'tool_result', tool_use_id: use.id, content: '15 degrees' }] },
        ] });
      assert.equal(second.stop_reason, 'end_turn');
      assert.equal(second.content.at(-1).type, 'text');
    });

    test('thinking: a thinking block with its signature comes first', async () => {
      const params = { model, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: ask() };
      const msg = await client.messages.create(params);
      const final = await client.messages.stream(params).finalMessage();
      for (const m of [msg, final]) {
        assert.equal(m.content[0].type, 'thinking', JSON.stringify(m.content));
        assert.equal(m.content[0].thinking, MOCK_THINKING);
        if (backend === 'anthropic') assert.equal(m.content[0].signature, MOCK_SIGNATURE);
        assert.equal(m.content.at(-1).type, 'text');
      }
    });

    test('count_tokens: {input_tokens}, growing with the prompt', async () => {
      const { data: small, response } = await client.messages
        .countTokens({ model, messages: ask('hi') }).withResponse();
      assert.ok(small.input_tokens >= 1, JSON.stringify(small));
      const big = await client.messages.countTokens({ model,
        system: 'You are terse.', tools: [weatherTool],
        messages: ask('word '.repeat(400)) });
      assert.ok(big.input_tokens > small.input_tokens + 400,
        `${big.input_tokens} vs ${small.input_tokens}`);
      // An Anthropic provider counts natively (the mock serves count_tokens); any other
      // provider has no count endpoint: torii estimates and says so.
      assert.equal(response.headers.get('x-torii-estimated'),
        backend === 'anthropic' ? null : 'true');
    });

    test('anthropic-beta reaches an Anthropic provider only (passthrough)', async () => {
      await client.messages.create({ model, max_tokens: 16, messages: ask() },
        { headers: { 'anthropic-beta': 'torii-test-2025-01-01' } });
      const last = await (await fetch(`${w.mock.url}/mock/last`)).json();
      assert.equal(last.headers['anthropic-beta'],
        backend === 'anthropic' ? 'torii-test-2025-01-01' : undefined);
    });

    if (backend === 'anthropic') {
      test('usage: cache reads and writes come back apart from input_tokens', async () => {
        const body = { model, max_tokens: 64, messages: ask(),
          mock: { cached_tokens: 5, cache_write_tokens: 3 } };
        const msg = await client.messages.create(body);
        assert.equal(msg.usage.cache_read_input_tokens, 5);
        assert.equal(msg.usage.cache_creation_input_tokens, 3);
        const final = await client.messages.stream(body).finalMessage();
        assert.equal(final.usage.cache_read_input_tokens, 5);
        assert.equal(final.usage.cache_creation_input_tokens, 3);
        assert.equal(final.usage.input_tokens, msg.usage.input_tokens);
      });
    }

    async function expectError(promise, Cls, status, type) {
      await assert.rejects(promise, (e) => {
        assert.ok(e instanceof Cls, `expected ${Cls.name}, got ${e && e.constructor.name}: ` +
          `${e && e.message}`);
        assert.equal(e.status, status);
        assert.equal(e.error && e.error.type, 'error', `Anthropic error body: ${JSON.stringify(e.error)}`);
        assert.equal(e.error.error.type, type);
        assert.equal(typeof e.error.error.message, 'string');
        return true;
      });
    }

    test('bad key -> AuthenticationError', async () => {
      const bad = new Anthropic({ baseURL: w.gw.url, apiKey: 'sk-wrong-key', maxRetries: 0 });
      await expectError(bad.messages.create({ model, max_tokens: 5, messages: ask() }),
        Anthropic.AuthenticationError, 401, 'authentication_error');
      await expectError(bad.messages.countTokens({ model, messages: ask() }),
        Anthropic.AuthenticationError, 401, 'authentication_error');
    });

    test('missing max_tokens -> BadRequestError', async () => {
      await expectError(client.messages.create({ model, messages: ask() }),
        Anthropic.BadRequestError, 400, 'invalid_request_error');
    });

    test('unknown model -> NotFoundError', async () => {
      await expectError(client.messages.create({ model: 'nope/none-1', max_tokens: 5,
        messages: ask() }), Anthropic.NotFoundError, 404, 'not_found_error');
      await expectError(client.messages.countTokens({ model: 'nope-model', messages: ask() }),
        Anthropic.NotFoundError, 404, 'not_found_error');
    });
  });
}
