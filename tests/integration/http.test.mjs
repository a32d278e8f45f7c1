// HTTP/1.1 at the wire: what the server does with pipelining, HTTP/1.0, Expect: 100-continue,
// an oversized head and garbage, seen through a raw TCP socket.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ms, startWorld, withTimeout } from '../lib/harness.mjs';

/**
 * Opens a raw connection, writes each piece of `writes` (a string, or a function of what was
 * received so far that returns a string or null to wait), and resolves with everything the
 * server sent once `done(received)` is true or the server closes.
 */
function exchange(port, writes, done) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let received = '';
    let closed = false;
    const pending = [...writes];
    const pump = () => {
      while (pending.length) {
        const next = typeof pending[0] === 'function' ? pending[0](received) : pending[0];
        if (next == null) return;
        pending.shift();
        sock.write(next);
      }
    };
    sock.setEncoding('utf8');
    sock.on('connect', pump);
    sock.on('data', (d) => {
      received += d;
      pump();
      if (done(received)) { sock.destroy(); resolve({ received, closed }); }
    });
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; resolve({ received, closed }); });
  });
}

// Not anchored: a pipelined answer starts right after the previous body, mid-line.
const statusLines = (text) => text.match(/HTTP\/1\.[01] \d{3}/g) || [];

function chatRequest(key, body, extraHeaders = '', version = '1.1') {
  return `POST /v1/chat/completions HTTP/${version}\r\nHost: 127.0.0.1\r\n` +
    `Authorization: Bearer ${key}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`;
}

describe('HTTP/1.1 at the wire', () => {
  let w;
  let body;
  before(async () => {
    w = await startWorld({ server: { max_header_bytes: 4096 } });
    body = JSON.stringify({ model: 'local/mock-1', messages: [{ role: 'user', content: 'hi there' }] });
  });
  after(async () => { if (w) await w.stop(); });

  test('two pipelined requests in one write get two answers, in order', async () => {
    const req = (id) => chatRequest(w.apiKey, body, `x-request-id: pipe-${id}\r\n`);
    const r = await withTimeout(
      exchange(w.gw.port, [req(1) + req(2)], (t) => (t.match(/"chat\.completion"/g) || []).length >= 2),
      ms(5_000), 'two pipelined answers');
    assert.deepEqual(statusLines(r.received), ['HTTP/1.1 200', 'HTTP/1.1 200']);
    const first = r.received.indexOf('x-request-id: pipe-1');
    const second = r.received.indexOf('x-request-id: pipe-2');
    assert.ok(first >= 0 && second > first, 'answers in request order');
  });

  test('HTTP/1.0 without keep-alive: one answer, then the server closes', async () => {
    const r = await withTimeout(
      exchange(w.gw.port, [chatRequest(w.apiKey, body, '', '1.0')], () => false),
      ms(5_000), 'HTTP/1.0 answer and close');
    assert.deepEqual(statusLines(r.received), ['HTTP/1.0 200']);
    assert.match(r.received, /"chat\.completion"/);
    assert.ok(r.closed, 'connection closed after the answer');
  });

  test('HTTP/1.0 streaming: no chunked framing, the body ends with the connection', async () => {
    const streamBody = JSON.stringify({ model: 'local/mock-1', stream: true,
      messages: [{ role: 'user', content: 'hi' }] });
    const r = await withTimeout(
      exchange(w.gw.port, [chatRequest(w.apiKey, streamBody, '', '1.0')], () => false),
      ms(5_000), 'HTTP/1.0 stream');
    assert.deepEqual(statusLines(r.received), ['HTTP/1.0 200']);
    assert.doesNotMatch(r.received, /Transfer-Encoding: chunked/i);
    assert.match(r.received, /data: \[DONE\]\n\n$/);
  });

  test('Expect: 100-continue gets 100 Continue before the body is sent, then 200', async () => {
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${w.apiKey}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`;
    // The body is written only once the interim answer has arrived.
    const r = await withTimeout(
      exchange(w.gw.port, [head, (t) => (t.includes('100 Continue') ? body : null)],
        (t) => /"chat\.completion"/.test(t)),
      ms(5_000), '100-continue exchange');
    assert.deepEqual(statusLines(r.received), ['HTTP/1.1 100', 'HTTP/1.1 200']);
  });

  test('a head larger than max_header_bytes -> 431, connection closed', async () => {
    const big = `GET /health HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(8000)}\r\n\r\n`;
    const r = await withTimeout(exchange(w.gw.port, [big], () => false), ms(5_000), '431');
    assert.deepEqual(statusLines(r.received), ['HTTP/1.1 431']);
    assert.match(r.received, /"error":\{/);
    assert.match(r.received, /x-request-id: [0-9a-f]{32}/);
    assert.ok(r.closed);
  });

  test('garbage instead of a request line -> 400, connection closed', async () => {
    const r = await withTimeout(
      exchange(w.gw.port, ['\x01\x02 not http at all\r\n\r\n'], () => false), ms(5_000), '400');
    assert.deepEqual(statusLines(r.received), ['HTTP/1.1 400']);
    assert.match(r.received, /"type":"invalid_request_error"/);
    assert.ok(r.closed);
  });

  test('the server still answers after all of the above', async () => {
    const r = await withTimeout(
      exchange(w.gw.port, [chatRequest(w.apiKey, body)], (t) => /"chat\.completion"/.test(t)),
      ms(5_000), 'a normal request');
    assert.deepEqual(statusLines(r.received), ['HTTP/1.1 200']);
  });
});
