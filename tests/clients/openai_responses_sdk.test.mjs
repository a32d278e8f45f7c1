// The official `openai` npm SDK, unchanged, against torii's Responses API (POST /v1/responses)
// and legacy completions API (POST /v1/completions). The provider `local` is the mock speaking
// OpenAI chat, so every request here is translated (Responses/completions → canonical → chat
// and back). The same checks then run against the provider `native` (kind openai, which has the
// Responses and completions APIs: the request is passed through, and the mock answers in the
// Responses format).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startWorld } from '../lib/harness.mjs';

// 4 chunks x 3 words: the mock's answer is 12 completion tokens, the same every time.
const MOCK_ARGS = ['--chunks', '4', '--tokens-per-chunk', '3', '--interval-ms', '2'];
const WORDS = 12;

async function lastUpstream(w) {
  const r = await fetch(`${w.mock.url}/mock/last`);
  assert.equal(r.status, 200);
  return r.json();
}

function upstreamMaxTokens(body) {
  return body.max_completion_tokens ?? body.max_tokens;
}

async function expectError(promise, Cls, status, param) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Cls, `expected ${Cls.name}, got ${e && e.constructor.name}: ` +
      `${e && e.message}`);
    assert.equal(e.status, status);
    assert.ok(e.error && typeof e.error.message === 'string', 'parsed OpenAI error body');
    if (param) assert.equal(e.param, param, e.message);
    return true;
  });
}

for (const native of [false, true]) describe(`openai SDK responses API against torii (${native ? 'passthrough' : 'translated'})`, () => {
  let w;
  let client;
  const model = native ? 'native/mock-1' : 'local/mock-1';
  before(async () => {
    w = await startWorld({
      mockArgs: MOCK_ARGS,
      providers: (mockBase, { deadPort }) => [
        { name: 'dead', base_url: `http://127.0.0.1:${deadPort}/v1`,
          api_key_env: 'TORII_TEST_PROVIDER_KEY' },
        { name: 'native', kind: 'openai', base_url: mockBase,
          api_key_env: 'TORII_TEST_PROVIDER_KEY' },
      ],
    });
    client = new OpenAI({ baseURL: `${w.gw.url}/v1`, apiKey: w.apiKey, maxRetries: 0,
      timeout: 10_000 });
  });
  after(async () => { if (w) await w.stop(); });

  test('responses.create: a Response with output_text and usage', async () => {
    const r = await client.responses.create({ model, input: 'Tell the SDK test something.' });
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.equal(typeof r.created_at, 'number');
    const msg = r.output.find((o) => o.type === 'message');
    assert.ok(msg, JSON.stringify(r.output));
    assert.equal(msg.role, 'assistant');
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.content[0].type, 'output_text');
    assert.equal(r.output_text, msg.content[0].text, 'the SDK helper reads our message');
    assert.equal(r.output_text.split(/\s+/).filter(Boolean).length, WORDS);
    assert.ok(r.usage.input_tokens >= 1);
    assert.equal(r.usage.output_tokens, WORDS);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    assert.equal(typeof r.usage.input_tokens_details.cached_tokens, 'number');
    const last = await lastUpstream(w);
    assert.equal(last.target, native ? '/v1/responses' : '/v1/chat/completions');
  });

  test('instructions, input items and max_output_tokens reach the provider translated',
    async () => {
      await client.responses.create({
        model: 'fast',
        instructions: 'Be brief.',
        input: [
          { role: 'developer', content: 'No emojis.' },
          { role: 'user', content: [{ type: 'input_text', text: 'What is 2+2?' }] },
          { type: 'function_call', call_id: 'call_1', name: 'calc', arguments: '{"e":"2+2"}' },
          { type: 'function_call_output', call_id: 'call_1', output: '4' },
        ],
        tools: [{ type: 'function', name: 'calc', parameters: { type: 'object' }, strict: false }],
        max_output_tokens: 50,
      });
      if (native) return;
      const { body } = await lastUpstream(w);
      assert.equal(body.model, 'mock-1');
      const roles = body.messages.map((m) => m.role);
      assert.deepEqual(roles, ['system', 'system', 'user', 'assistant', 'tool'],
        JSON.stringify(body.messages));
      assert.match(JSON.stringify(body.messages[0].content), /Be brief\./);
      assert.equal(body.messages[3].tool_calls[0].id, 'call_1');
      assert.equal(body.messages[3].tool_calls[0].function.name, 'calc');
      assert.equal(body.messages[4].tool_call_id, 'call_1');
      assert.equal(body.tools[0].function.name, 'calc');
      assert.equal(upstreamMaxTokens(body), 50);
    });

  test('responses.stream: deltas, ordered sequence numbers, final response', async () => {
    const plain = await client.responses.create({ model, input: 'Stream me.' });
    const stream = client.responses.stream({ model, input: 'Stream me.' });
    const types = [];
    const seqs = [];
    let text = '';
    stream.on('response.output_text.delta', (e) => { text += e.delta; });
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
    }
    const final = await stream.finalResponse();
    assert.equal(types[0], 'response.created');
    assert.equal(types[1], 'response.in_progress');
    assert.equal(types[types.length - 1], 'response.completed');
    for (const t of ['response.output_item.added', 'response.content_part.added',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done']) {
      assert.ok(types.includes(t), `missing ${t}: ${types.join(',')}`);
    }
    assert.ok(types.filter((t) => t === 'response.output_text.delta').length >= 4);
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'sequence numbers 0, 1, 2…');
    assert.equal(text, final.output_text);
    assert.equal(final.output_text, plain.output_text);
    assert.equal(final.status, 'completed');
    assert.equal(final.usage.output_tokens, WORDS);
  });

  test('create({stream:true}) yields raw events ending in response.completed', async () => {
    const stream = await client.responses.create({ model: 'fast', input: 'x', stream: true });
    const events = [];
    for await (const ev of stream) events.push(ev);
    assert.equal(events[0].type, 'response.created');
    const last = events[events.length - 1];
    assert.equal(last.type, 'response.completed');
    assert.ok(last.response.usage.input_tokens >= 1);
  });

  test('previous_response_id is a 400: torii stores nothing', async () => {
    if (native) return;  // passthrough: the provider decides
    await expectError(client.responses.create({ model, input: 'x',
      previous_response_id: 'resp_123' }), OpenAI.BadRequestError, 400, 'previous_response_id');
  });

  test('a built-in tool is a 400 naming it when translated', async () => {
    if (native) return;
    await assert.rejects(client.responses.create({ model, input: 'x',
      tools: [{ type: 'web_search' }] }), (e) => {
      assert.equal(e.status, 400);
      assert.match(e.message, /web_search/);
      return true;
    });
  });

  test('errors are the SDK typed errors', async () => {
    const bad = new OpenAI({ baseURL: `${w.gw.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await expectError(bad.responses.create({ model, input: 'x' }), OpenAI.AuthenticationError,
      401);
    await expectError(client.responses.create({ model: 'nope-model', input: 'x' }),
      OpenAI.NotFoundError, 404);
    await expectError(client.responses.create({ model: 'dead/mock-1', input: 'x' }),
      OpenAI.InternalServerError, 502);
    await expectError(client.responses.create({ input: 'x' }), OpenAI.BadRequestError, 400,
      'model');
  });
});

describe('openai SDK legacy completions against torii', () => {
  let w;
  let client;
  before(async () => {
    w = await startWorld({
      mockArgs: MOCK_ARGS,
      providers: (mockBase) => [{ name: 'native', kind: 'openai', base_url: mockBase,
        api_key_env: 'TORII_TEST_PROVIDER_KEY' }],
    });
    client = new OpenAI({ baseURL: `${w.gw.url}/v1`, apiKey: w.apiKey, maxRetries: 0,
      timeout: 10_000 });
  });

  test('passthrough: a provider with the completions API gets the request as sent', async () => {
    const c = await client.completions.create({ model: 'native/mock-1', prompt: 'Say this',
      max_tokens: 5, echo: false });
    assert.equal(c.object, 'text_completion');
    assert.equal(c.choices[0].finish_reason, 'length');
    assert.equal(c.usage.completion_tokens, 5);
    const last = await lastUpstream(w);
    assert.equal(last.target, '/v1/completions');
    assert.equal(last.body.prompt, 'Say this');
    assert.equal(last.body.model, 'mock-1');
    assert.equal(last.body.echo, false, 'fields pass through untouched');
    const stream = await client.completions.create({ model: 'native/mock-1', prompt: 'p',
      stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    assert.equal(text.split(/\s+/).filter(Boolean).length, WORDS, 'the whole answer, streamed');
  });
  after(async () => { if (w) await w.stop(); });

  test('completions.create: a text_completion; the prompt is one user message', async () => {
    const c = await client.completions.create({ model: 'local/mock-1',
      prompt: 'Say this is a test' });
    assert.equal(c.object, 'text_completion');
    assert.match(c.id, /^cmpl-/);
    assert.equal(c.choices.length, 1);
    assert.equal(c.choices[0].index, 0);
    assert.equal(c.choices[0].logprobs, null);
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.equal(c.choices[0].text.split(/\s+/).filter(Boolean).length, WORDS);
    assert.equal(c.usage.completion_tokens, WORDS);
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
    const { body } = await lastUpstream(w);
    assert.deepEqual(body.messages.map((m) => m.role), ['user']);
    assert.match(JSON.stringify(body.messages[0].content), /Say this is a test/);
    assert.equal(upstreamMaxTokens(body), 16, 'OpenAI default max_tokens for completions');
  });

  test('stream: chunks concatenate to the non-stream text; usage only when asked', async () => {
    const plain = await client.completions.create({ model: 'fast', prompt: 'p', max_tokens: 64 });
    const stream = await client.completions.create({ model: 'fast', prompt: 'p', max_tokens: 64,
      stream: true });
    let text = '';
    let finish = null;
    let sawUsage = false;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'text_completion');
      if (chunk.usage) sawUsage = true;
      if (chunk.choices[0]) {
        text += chunk.choices[0].text;
        finish = chunk.choices[0].finish_reason ?? finish;
      }
    }
    assert.equal(text, plain.choices[0].text);
    assert.equal(finish, 'stop');
    assert.equal(sawUsage, false);

    const withUsage = await client.completions.create({ model: 'fast', prompt: 'p',
      stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of withUsage) chunks.push(chunk);
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, WORDS);
  });

  test('what cannot be translated is a 400 naming the field', async () => {
    await expectError(client.completions.create({ model: 'fast', prompt: ['a', 'b'] }),
      OpenAI.BadRequestError, 400, 'prompt');
    await expectError(client.completions.create({ model: 'fast', prompt: 'a', n: 2 }),
      OpenAI.BadRequestError, 400, 'n');
    await expectError(client.completions.create({ model: 'fast', prompt: 'a', echo: true }),
      OpenAI.BadRequestError, 400, 'echo');
    await expectError(client.completions.create({ model: 'fast', prompt: 'a', logprobs: 2 }),
      OpenAI.BadRequestError, 400, 'logprobs');
  });
});
