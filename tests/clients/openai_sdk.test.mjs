// The official `openai` npm SDK, unchanged, against torii: chat (plain, streamed, with usage),
// models, and every error surfacing as the SDK's typed error.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startWorld } from '../lib/harness.mjs';

const messages = [{ role: 'user', content: 'Tell the SDK test something.' }];

describe('openai SDK against torii', () => {
  let w;
  let client;
  before(async () => {
    w = await startWorld({
      providers: (mockBase, { deadPort }) => [
        { name: 'dead', base_url: `http://127.0.0.1:${deadPort}/v1`,
          api_key_env: 'TORII_TEST_PROVIDER_KEY' },
        // 429s cool the key of the target that got them: a target of its own.
        { name: 'limited', base_url: mockBase, api_key_env: 'TORII_TEST_PROVIDER_KEY' },
      ],
      routes: [{ name: 'fast', targets: ['local/mock-1'] }],
    });
    client = new OpenAI({ baseURL: `${w.gw.url}/v1`, apiKey: w.apiKey, maxRetries: 0,
      timeout: 10_000 });
  });
  after(async () => { if (w) await w.stop(); });

  const knobs = { chunks: 4, tokens_per_chunk: 3, interval_ms: 5 };

  test('chat.completions.create non-stream: content and usage', async () => {
    const c = await client.chat.completions.create({ model: 'local/mock-1', messages,
      mock: knobs });
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.ok(c.choices[0].message.content.length > 0);
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.ok(c.usage.prompt_tokens >= 1);
    assert.equal(c.usage.completion_tokens, 12, '4 chunks x 3 words');
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
  });

  test('withResponse exposes x-request-id', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'fast', messages }).withResponse();
    assert.ok(response.headers.get('x-request-id'));
  });

  test('stream: concatenated chunks equal the non-stream content', async () => {
    const plain = await client.chat.completions.create({ model: 'fast', messages, mock: knobs });
    const stream = await client.chat.completions.create({ model: 'fast', messages,
      mock: knobs, stream: true });
    let content = '';
    let chunks = 0;
    let sawUsage = false;
    for await (const chunk of stream) {
      chunks++;
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) sawUsage = true;
      const delta = chunk.choices[0] && chunk.choices[0].delta;
      if (delta && delta.content) content += delta.content;
    }
    assert.ok(chunks >= 6, `role chunk + 4 content chunks + stop chunk, got ${chunks}`);
    assert.equal(sawUsage, false, 'no usage chunk when not asked for');
    assert.equal(content, plain.choices[0].message.content);
  });

  test('stream with include_usage: the last chunk has usage', async () => {
    const stream = await client.chat.completions.create({ model: 'local/mock-1', messages,
      mock: knobs, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks[chunks.length - 1];
    assert.ok(last.usage, `last chunk has usage: ${JSON.stringify(last)}`);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 12);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  });

  test('models.list contains local/mock-1 and the alias', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('local/mock-1'), JSON.stringify(ids));
    assert.ok(ids.includes('fast'), JSON.stringify(ids));
  });

  async function expectError(promise, Cls, status) {
    await assert.rejects(promise, (e) => {
      assert.ok(e instanceof Cls, `expected ${Cls.name}, got ${e && e.constructor.name}: ` +
        `${e && e.message}`);
      assert.equal(e.status, status);
      assert.equal(typeof e.message, 'string');
      assert.ok(e.error && typeof e.error.message === 'string', 'parsed OpenAI error body');
      return true;
    });
  }

  test('401 -> AuthenticationError', async () => {
    const bad = new OpenAI({ baseURL: `${w.gw.url}/v1`, apiKey: 'sk-wrong-key', maxRetries: 0 });
    await expectError(bad.chat.completions.create({ model: 'fast', messages }),
      OpenAI.AuthenticationError, 401);
  });

  test('404 -> NotFoundError with code model_not_found', async () => {
    await expectError(client.chat.completions.create({ model: 'nope-model', messages }),
      OpenAI.NotFoundError, 404);
    await assert.rejects(client.chat.completions.create({ model: 'nope-model', messages }),
      (e) => e.code === 'model_not_found');
  });

  test('400 -> BadRequestError', async () => {
    await expectError(client.chat.completions.create({ model: 'fast', messages: 'x' }),
      OpenAI.BadRequestError, 400);
  });

  test('429 -> RateLimitError', async () => {
    await expectError(client.chat.completions.create({ model: 'limited/mock-1', messages,
      mock: { status: 429, retry_after: 7 } }), OpenAI.RateLimitError, 429);
  });

  test('upstream 500 -> 502 InternalServerError', async () => {
    await expectError(client.chat.completions.create({ model: 'fast', messages,
      mock: { status: 500 } }), OpenAI.InternalServerError, 502);
  });

  test('connection refused upstream -> 502 APIError', async () => {
    await expectError(client.chat.completions.create({ model: 'dead/mock-1', messages }),
      OpenAI.APIError, 502);
  });

  test('a mid-stream failure makes the stream iteration throw', async () => {
    const stream = await client.chat.completions.create({ model: 'fast', messages,
      stream: true, mock: { chunks: 6, interval_ms: 10, reset_after_chunks: 2 } });
    let content = 0;
    await assert.rejects(async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0] && chunk.choices[0].delta && chunk.choices[0].delta.content) {
          content++;
        }
      }
    }, (e) => {
      assert.ok(e instanceof OpenAI.APIError, `APIError, got ${e && e.constructor.name}`);
      return true;
    });
    assert.equal(content, 2, 'the first chunks were delivered before the error');
  });
});
