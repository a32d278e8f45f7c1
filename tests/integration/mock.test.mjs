// `torii mock` alone, over real sockets: the OpenAI format's paths, the script knobs (tool call,
// thinking, cache tokens, truncation, blocked) and the per-format counters of /mock/stats.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startMock } from '../lib/harness.mjs';
import { mockLast, mockStats, request, streamChat, streamedContent } from '../lib/http.mjs';

const TOOLS = [{ type: 'function', function: { name: 'get_weather', parameters: {} } }];

function post(url, body, headers = {}) {
  return request(url, { method: 'POST', body, headers });
}

// What an OpenAI client accumulates from the tool-call deltas of a stream.
function streamedToolCall(events) {
  const call = { id: '', name: '', args: '', fragments: 0 };
  for (const e of events) {
    const calls = e.json && e.json.choices[0] && e.json.choices[0].delta.tool_calls;
    if (!calls) continue;
    if (calls[0].id) call.id = calls[0].id;
    if (calls[0].function.name) call.name = calls[0].function.name;
    if (calls[0].function.arguments) {
      call.args += calls[0].function.arguments;
      call.fragments += 1;
    }
  }
  return call;
}

function finishReason(events) {
  const e = events.find((ev) => ev.json && ev.json.choices[0] && ev.json.choices[0].finish_reason);
  return e && e.json.choices[0].finish_reason;
}

describe('torii mock formats and script knobs', () => {
  let mock;
  before(async () => { mock = await startMock(); });
  after(async () => { if (mock) await mock.stop(); });

  test('Azure deployment path: the model is the deployment; counted as openai', async () => {
    await post(`${mock.url}/mock/reset`);
    const r = await post(
      `${mock.url}/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21`,
      { messages: [{ role: 'user', content: 'hello azure' }], mock: { chunks: 2 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'prod-4o');
    assert.equal(r.json.choices[0].message.content, 'hello azure ');
    const last = await mockLast(mock.url);
    assert.equal(last.target,
      '/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21');
    const stats = await mockStats(mock.url);
    assert.equal(stats.chat_requests, 1);
    assert.equal(stats.formats.openai, 1);
    await post(`${mock.url}/mock/reset`);
    assert.equal((await mockStats(mock.url)).formats.openai, 0);
  });

  test('a GET on a chat path is 405; an unknown path 404', async () => {
    const g = await request(`${mock.url}/openai/deployments/x/chat/completions`);
    assert.equal(g.status, 405, g.text);
    assert.equal(g.headers.allow, 'POST');
    const n = await post(`${mock.url}/v1/nope`, {});
    assert.equal(n.status, 404, n.text);
    assert.equal(typeof n.json.error.message, 'string');
  });

  test('tool call: streamed arguments equal the whole answer\'s', async () => {
    const body = {
      model: 'm', messages: [{ role: 'user', content: 'Lyon weather' }], tools: TOOLS };
    const whole = await post(`${mock.url}/v1/chat/completions`, body);
    assert.equal(whole.status, 200, whole.text);
    const choice = whole.json.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const call = choice.message.tool_calls[0];
    assert.deepEqual(JSON.parse(call.function.arguments), { q: 'Lyon' });

    const s = await streamChat(mock.url, 'k', { ...body, stream: true });
    assert.equal(s.status, 200);
    assert.ok(s.done, 'stream ends with [DONE]');
    const streamed = streamedToolCall(s.events);
    assert.equal(streamed.id, call.id);
    assert.equal(streamed.name, 'get_weather');
    assert.equal(streamed.args, call.function.arguments);
    assert.ok(streamed.fragments >= 2, `arguments in ${streamed.fragments} fragments`);
    assert.equal(finishReason(s.events), 'tool_calls');

    // After a tool result the mock answers in text, unless tool_call is 1.
    const followUp = { ...body, messages: [...body.messages,
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: 'sunny' }] };
    const text = await post(`${mock.url}/v1/chat/completions`, followUp);
    assert.equal(text.json.choices[0].finish_reason, 'stop');
    assert.equal(typeof text.json.choices[0].message.content, 'string');
    const forced = await post(`${mock.url}/v1/chat/completions`, followUp,
      { 'x-mock-tool-call': '1' });
    assert.equal(forced.json.choices[0].finish_reason, 'tool_calls');
  });

  test('thinking, cached tokens and usage in a stream', async () => {
    const s = await streamChat(mock.url, 'k', {
      model: 'm', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'abcd' }],
      mock: { thinking: 1, cached_tokens: 300, cache_write_tokens: 20, chunks: 3 },
    });
    assert.ok(s.done);
    const reasoning = s.events.map((e) => e.json && e.json.choices[0] &&
      e.json.choices[0].delta.reasoning_content).filter(Boolean).join('');
    assert.equal(reasoning, 'The mock considers the question.');
    assert.equal(streamedContent(s.events), 'abcd abcd abcd ');
    const usage = s.events.find((e) => e.json && e.json.usage).json.usage;
    assert.equal(usage.prompt_tokens, 1 + 300 + 20);
    assert.equal(usage.prompt_tokens_details.cached_tokens, 300);
    assert.equal(usage.completion_tokens_details.reasoning_tokens, 5);
    assert.equal(usage.completion_tokens, 3 + 5);
  });

  test('max_tokens truncates with finish length; blocked is content_filter', async () => {
    const s = await streamChat(mock.url, 'k', {
      model: 'm', stream: true, max_tokens: 3, messages: [{ role: 'user', content: 'a b' }],
      mock: { chunks: 10 },
    });
    assert.equal(streamedContent(s.events), 'a b a ');
    assert.equal(finishReason(s.events), 'length');
    const b = await post(`${mock.url}/v1/chat/completions`,
      { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-mock-blocked': '1' });
    assert.equal(b.json.choices[0].finish_reason, 'content_filter');
    assert.equal(b.json.choices[0].message.content, '');
  });

  test('a bad new knob is a 400 naming it', async () => {
    const r = await post(`${mock.url}/v1/chat/completions`,
      { model: 'm', messages: [], mock: { tool_call: 5 } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, 'mock.tool_call');
  });
});
