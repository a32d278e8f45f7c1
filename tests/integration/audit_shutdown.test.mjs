// Audit crash-safety (docs/AUDIT.md, issue 8): SIGTERM while 32 clients keep sending requests;
// once the gateway has exited, every request it answered (the client read a status) has its
// one event in the SQLite sink. The count is reported as a test diagnostic.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ms, sleep, startMock, tempDir, withTimeout } from '../lib/harness.mjs';
import { bearer, chatBody } from '../lib/http.mjs';
import { sqliteRows } from '../lib/audit.mjs';
import { startQuotaGateway } from '../lib/quota.mjs';

const dir = tempDir();
let mock;
before(async () => { mock = await startMock(['--latency-ms', '2']); });
after(async () => { await mock?.stop(); });

/** One POST on `agent`; resolves to the response's x-request-id, or null if none came. */
function once(url, key, agent, id) {
  return new Promise((resolve) => {
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', agent,
      headers: { ...bearer(key), 'content-type': 'application/json', 'x-request-id': id } },
    (res) => {
      res.resume();
      // A status line came: the gateway took the request (the event must exist), whatever
      // happens to the rest of the body.
      const got = res.headers['x-request-id'] ?? null;
      res.on('end', () => resolve(got));
      res.on('error', () => resolve(got));
      res.on('close', () => resolve(got));
    });
    req.on('error', () => resolve(null));
    req.end(JSON.stringify(chatBody('local/mock-1')));
  });
}

test('SIGTERM under load: every answered request has its event in SQLite', async (t) => {
  const db = path.join(dir, 'audit.db');
  const { gw, keys } = await startQuotaGateway({ mockUrl: mock.url, dir, name: 'shutdown',
    keys: ['load'], yaml: `
audit:
  flush_ms: 200
  batch: 256
  spill_dir: ${JSON.stringify(path.join(dir, 'spill'))}
  access_log: false
  sinks: [{type: sqlite, path: ${JSON.stringify(db)}}]
` });
  const answered = [];
  let stop = false;
  let n = 0;
  const loops = Array.from({ length: 32 }, async (_, i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (!stop) {
      const id = `sd-${i}-${n++}`;
      const got = await once(gw.url, keys.load, agent, id);
      if (got) answered.push(got);
      else await sleep(5);  // refused: the listener is closing
    }
    agent.destroy();
  });
  await sleep(ms(1500));
  const before = answered.length;
  assert.ok(before > 50, `load was running (${before} answered before SIGTERM)`);
  gw.kill('SIGTERM');
  const exit = await withTimeout(gw.exited, ms(20_000), 'the gateway to exit');
  stop = true;
  await Promise.all(loops);
  if (exit.code !== 0) fs.writeFileSync("/tmp/shutdown-stderr.txt", gw.stderr());
  assert.equal(exit.code, 0, gw.stderr().slice(-2000));
  const rows = sqliteRows(db, 'SELECT json_extract(event, \'$.request_id\') AS id FROM audit_events');
  const have = new Map();
  for (const r of rows) have.set(r.id, (have.get(r.id) ?? 0) + 1);
  const missing = answered.filter((id) => !have.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} answered requests have no event`);
  assert.deepEqual([...have.entries()].filter(([, c]) => c > 1), [], 'no event twice');
  assert.match(gw.stderr(), /audit: \d+ events recorded, 0 dropped/);
  t.diagnostic(`${answered.length} requests answered (${answered.length - before} after ` +
    `SIGTERM was sent), ${rows.length} events in SQLite, 0 missing`);
});
