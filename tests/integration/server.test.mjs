// Connection-level behaviour: slow clients and idle keep-alive connections are closed after
// server.idle_timeout_ms (500 in the test config).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ms, startWorld, withTimeout } from '../lib/harness.mjs';
import { request } from '../lib/http.mjs';

/** Opens a raw TCP connection, writes `data`, and resolves when the server closes it. */
function rawConnection(port, data) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let received = '';
    let t0;
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      t0 = Date.now();
      sock.write(data);
    });
    sock.on('data', (d) => { received += d; });
    sock.on('error', () => { /* a reset is a close too */ });
    sock.on('close', () => resolve({ received, closedAfter: Date.now() - t0, sock }));
    sock.on('timeout', () => reject(new Error('no close')));
  });
}

describe('server connection limits', () => {
  let w;
  before(async () => { w = await startWorld({ server: { idle_timeout_ms: 500 } }); });
  after(async () => { if (w) await w.stop(); });

  test('half a request head then a stall: closed after idle_timeout_ms', async () => {
    const p = rawConnection(w.gw.port,
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
    const r = await withTimeout(p, ms(3_000), 'server to close a stalled half-head connection');
    assert.ok(r.closedAfter >= 400, `closed after ${r.closedAfter} ms: too early`);
    assert.ok(r.closedAfter < ms(2_500), `closed after ${r.closedAfter} ms`);
    // no successful answer to an incomplete request
    assert.ok(!/^HTTP\/1\.1 2/.test(r.received), `unexpected answer: ${r.received}`);
  });

  test('idle keep-alive connection: closed after idle_timeout_ms', async () => {
    const p = rawConnection(w.gw.port,
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    const r = await withTimeout(p, ms(3_000), 'server to close an idle keep-alive connection');
    assert.match(r.received, /^HTTP\/1\.1 200/);
    assert.ok(r.closedAfter >= 400, `closed after ${r.closedAfter} ms: too early`);
  });

  test('the server still serves after slow clients', async () => {
    const r = await request(`${w.gw.url}/health`);
    assert.equal(r.status, 200);
  });

  test('many stalled connections do not block new requests', async () => {
    const stalled = [];
    for (let i = 0; i < 20; i++) {
      stalled.push(rawConnection(w.gw.port, 'GET /health HTTP/1.1\r\n'));
    }
    const r = await request(`${w.gw.url}/health`, { timeoutMs: ms(2_000) });
    assert.equal(r.status, 200);
    await withTimeout(Promise.all(stalled), ms(3_000), 'stalled connections to be closed');
  });
});
