// Streaming: SSE framing, usage chunk handling, what goes upstream, no buffering, mid-stream
// failure, client disconnect.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ms, startWorld, waitFor } from '../lib/harness.mjs';
import {
  chat, chatBody, contentEvents, mockLast, mockStats, streamChat, streamedContent,
} from '../lib/http.mjs';

describe('streaming', () => {
  let w;
  before(async () => { w = await startWorld(); });
  after(async () => { if (w) await w.stop(); });

  function assertWellFormedStream(s, contentChunks) {
    assert.equal(s.status, 200, s.text);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    assert.ok(s.headers['x-request-id'], 'x-request-id on a stream');
    assert.ok(s.done, `stream ends with [DONE]: ${JSON.stringify(s.text.slice(-500))}`);
    const last = s.events[s.events.length - 1];
    assert.equal(last.data, '[DONE]', 'data: [DONE] is the last event');
    assert.equal(s.tail.trim(), '', 'nothing after the last event');
    for (const ev of s.events) {
      assert.equal(ev.dataLines, 1, `one data line per event: ${ev.raw}`);
      if (ev.data !== '[DONE]') {
        assert.ok(ev.json, `event is JSON: ${ev.data}`);
        assert.equal(ev.json.object, 'chat.completion.chunk', ev.data);
      }
    }
    assert.equal(contentEvents(s.events).length, contentChunks,
      `each content chunk is its own event: ${s.text}`);
    const stop = s.events.filter((e) => e.json && e.json.choices && e.json.choices[0] &&
      e.json.choices[0].finish_reason === 'stop');
    assert.equal(stop.length, 1, 'one chunk carries finish_reason stop');
  }

  test('stream without include_usage: separate events, [DONE], no usage chunk', async () => {
    const s = await streamChat(w.gw.url, w.apiKey, chatBody('local/mock-1', {
      stream: true, mock: { chunks: 4, interval_ms: 10, tokens_per_chunk: 2 },
    }));
    assertWellFormedStream(s, 4);
    for (const ev of s.events) {
      if (!ev.json) continue;
      assert.ok(!(Array.isArray(ev.json.choices) && ev.json.choices.length === 0),
        `no usage-only chunk forwarded: ${ev.data}`);
      assert.ok(!ev.json.usage, `no usage forwarded when not asked: ${ev.data}`);
    }
    assert.ok(streamedContent(s.events).length > 0);
  });

  test('upstream request: include_usage added, model rewritten, unknown fields kept, '
    + 'provider key sent', async () => {
    const s = await streamChat(w.gw.url, w.apiKey, chatBody('fast', {
      stream: true, x_custom: { a: 1 }, temperature: 0.25, mock: { chunks: 2 },
    }));
    assert.equal(s.status, 200, s.text);
    assert.ok(s.done);
    const last = await mockLast(w.mock.url);
    assert.equal(last.method, 'POST');
    assert.match(last.target, /\/v1\/chat\/completions$/);
    assert.equal(last.body.model, 'mock-1', 'model rewritten to the provider model name');
    assert.equal(last.body.stream, true);
    assert.equal(last.body.stream_options && last.body.stream_options.include_usage, true,
      `stream_options.include_usage upstream: ${JSON.stringify(last.body)}`);
    assert.deepEqual(last.body.x_custom, { a: 1 }, 'unknown field passed through');
    assert.equal(last.body.temperature, 0.25);
    assert.deepEqual(last.body.messages, chatBody('x').messages);
    assert.equal(last.headers.authorization, `Bearer ${w.providerKey}`);
    assert.ok(!JSON.stringify(last.headers).includes(w.apiKey),
      'the client key is not forwarded upstream');
  });

  test('stream with include_usage: the usage chunk is forwarded last', async () => {
    const s = await streamChat(w.gw.url, w.apiKey, chatBody('local/mock-1', {
      stream: true, stream_options: { include_usage: true },
      mock: { chunks: 3, tokens_per_chunk: 2 },
    }));
    assertWellFormedStream(s, 3);
    const beforeDone = s.events[s.events.length - 2];
    assert.ok(beforeDone.json, beforeDone.data);
    assert.deepEqual(beforeDone.json.choices, [], 'usage chunk has choices: []');
    const u = beforeDone.json.usage;
    assert.ok(u, `usage chunk: ${beforeDone.data}`);
    assert.ok(u.prompt_tokens >= 1);
    assert.equal(u.completion_tokens, 6, '3 chunks x 2 words');
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    const last = await mockLast(w.mock.url);
    assert.equal(last.body.stream_options.include_usage, true);
  });

  test('streamed content equals the non-stream content', async () => {
    const knobs = { chunks: 5, tokens_per_chunk: 3 };
    const s = await streamChat(w.gw.url, w.apiKey,
      chatBody('local/mock-1', { stream: true, mock: knobs }));
    assert.ok(s.done);
    const r = await chat(w.gw.url, w.apiKey, chatBody('local/mock-1', { mock: knobs }));
    assert.equal(r.status, 200, r.text);
    assert.equal(streamedContent(s.events), r.json.choices[0].message.content);
  });

  test('streaming is not buffered', async () => {
    const s = await streamChat(w.gw.url, w.apiKey, chatBody('local/mock-1', {
      stream: true, mock: { chunks: 5, interval_ms: 200 },
    }));
    assertWellFormedStream(s, 5);
    const content = contentEvents(s.events);
    const first = content[0].t;
    const lastT = content[content.length - 1].t;
    assert.ok(first < s.elapsed - 500,
      `first content chunk at ${first} ms, stream took ${s.elapsed} ms`);
    // chunks are spread out, not delivered in a burst at the end
    assert.ok(lastT - first >= 600, `content chunks spread over ${lastT - first} ms`);
  });

  test('mid-stream upstream failure: first chunks, then an error event, no [DONE]',
    async () => {
      const s = await streamChat(w.gw.url, w.apiKey, chatBody('local/mock-1', {
        stream: true, mock: { chunks: 6, interval_ms: 20, reset_after_chunks: 2 },
      }));
      assert.equal(s.status, 200, s.text);
      assert.equal(s.done, false, `no [DONE] after a failure: ${s.text}`);
      assert.equal(contentEvents(s.events).length, 2, `the first 2 chunks arrive: ${s.text}`);
      const last = s.events[s.events.length - 1];
      assert.ok(last.json && last.json.error, `last event is an error event: ${last.data}`);
      assert.equal(typeof last.json.error.message, 'string');
      assert.equal(typeof last.json.error.type, 'string');
      const errors = s.events.filter((e) => e.json && e.json.error);
      assert.equal(errors.length, 1, 'exactly one error event');
    });

  test('client disconnect mid-stream cancels the upstream call', async () => {
    const pre = await mockStats(w.mock.url);
    const s = await streamChat(w.gw.url, w.apiKey, chatBody('local/mock-1', {
      stream: true, mock: { chunks: 50, interval_ms: 50 },
    }), {
      onEvent: (ev, events) => (contentEvents(events).length >= 2 ? 'destroy' : undefined),
    });
    assert.equal(s.endedBy, 'destroyed');
    assert.equal(contentEvents(s.events).length, 2);
    const stats = await waitFor(async () => {
      const st = await mockStats(w.mock.url);
      return st.streams_aborted > pre.streams_aborted ? st : null;
    }, ms(3_000), 'mock streams_aborted to increase after the client went away');
    assert.equal(stats.streams_aborted, pre.streams_aborted + 1);
    // and the gateway still serves
    const r = await chat(w.gw.url, w.apiKey, chatBody('local/mock-1'));
    assert.equal(r.status, 200, r.text);
  });
});
