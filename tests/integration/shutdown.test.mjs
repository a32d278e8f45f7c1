// Graceful shutdown: SIGTERM mid-stream lets the stream finish with [DONE], refuses new
// connections, and exits 0.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ms, sleep, startWorld, withTimeout } from '../lib/harness.mjs';
import { chatBody, contentEvents, streamChat } from '../lib/http.mjs';

function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e) => resolve(e.code || 'error'));
  });
}

describe('graceful shutdown', () => {
  let w;
  before(async () => { w = await startWorld({ server: { shutdown_grace_ms: 5000 } }); });
  after(async () => { if (w) await w.stop(); });

  test('SIGTERM mid-stream: the stream completes, new connections refused, exit 0',
    async () => {
      let signalled = false;
      let refusedDuringDrain = null;
      let checkDuringDrain = null;
      const s = await streamChat(w.gw.url, w.apiKey, chatBody('local/mock-1', {
        stream: true, mock: { chunks: 10, interval_ms: 100 },
      }), {
        timeoutMs: ms(15_000),
        onEvent: (ev, events) => {
          if (!signalled && contentEvents(events).length >= 2) {
            signalled = true;
            w.gw.kill('SIGTERM');
            // while the stream still runs (~800 ms left), a new connection is refused
            checkDuringDrain = sleep(300).then(() => tryConnect(w.gw.port))
              .then((r) => { refusedDuringDrain = r; });
          }
          return undefined;
        },
      });
      assert.ok(signalled, 'SIGTERM was sent mid-stream');
      assert.equal(s.status, 200);
      assert.equal(contentEvents(s.events).length, 10, `all chunks arrived: ${s.text}`);
      assert.ok(s.done, `the stream ended with [DONE]: ${JSON.stringify(s.text.slice(-300))}`);
      assert.ok(!s.events.some((e) => e.json && e.json.error), 'no error event');
      await checkDuringDrain;
      assert.equal(refusedDuringDrain, 'ECONNREFUSED',
        'a new connection during the drain is refused');
      const exit = await withTimeout(w.gw.exited, ms(6_000), 'gateway to exit after SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${w.gw.stderr()}`);
      assert.equal(await tryConnect(w.gw.port), 'ECONNREFUSED', 'refused after exit');
    });
});
