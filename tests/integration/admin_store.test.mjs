// The admin config store (docs/ADMIN_API.md#live-config): the managed config survives a restart
// in SQLite (the file only seeds an empty store), and two gateways sharing one Redis see each
// other's changes through pub/sub, with shared admin accounts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMock, startTorii, tempDir, randomKey, ms, waitFor } from '../lib/harness.mjs';
import { chat, chatBody } from '../lib/http.mjs';
import { startRedis } from '../lib/redis.mjs';
import { startAdminGateway, api, login, firstLogin, NEW_PASSWORD, eventually } from '../lib/admin.mjs';

const CLIENT_KEY = randomKey('sk-store-client-key-0123456789abcdefgh');
const env = { STORE_TEST_CLIENT: CLIENT_KEY };

function yaml(mockUrl, extraRoute = '') {
  return `providers:
  - {name: up, kind: openai, base_url: "${mockUrl}/v1", api_key: "\${env:STORE_TEST_CLIENT}", models: [mock-1]}
routes:
  - {name: base, targets: [up/mock-1]}${extraRoute}
auth:
  api_keys:
    - {name: client, key: "\${env:STORE_TEST_CLIENT}"}
egress:
  allow_networks: [127.0.0.0/8]
`;
}

describe('admin store', () => {
  let mock;
  const started = [];
  before(async () => { mock = await startMock(); });
  after(async () => {
    for (const g of started) await g.stop();
    await mock?.stop();
  });

  test('SQLite: the config and the accounts survive a restart; the file seeds only once', async () => {
    const dir = tempDir();
    const a = await startAdminGateway(dir, yaml(mock.url), { env });
    started.push(a.gw);
    const token = await firstLogin(a);
    const c = await api(a.admin, token, 'POST', '/api/v1/routes', { name: 'persisted', targets: ['up/mock-1'] });
    assert.equal(c.status, 201, c.text);
    await a.gw.stop();

    // The file now has another route: the store wins, the file is not read again.
    const b = await startAdminGateway(dir,
      yaml(mock.url, '\n  - {name: from-file, targets: [up/mock-1]}'), { env });
    started.push(b.gw);
    assert.equal(b.password, null, 'no new initial password once a user exists');
    assert.match(b.gw.stderr(), /config from the sqlite store \(version 2\)/);
    assert.equal((await chat(b.gw.url, CLIENT_KEY, chatBody('persisted'))).status, 200);
    assert.equal((await chat(b.gw.url, CLIENT_KEY, chatBody('from-file'))).status, 404);
    // The session from before the restart is still valid, and so is the new password.
    assert.equal((await api(b.admin, token, 'GET', '/api/v1/routes/persisted')).status, 200);
    const l = await login(b.admin, 'admin', NEW_PASSWORD);
    assert.equal(l.must_change_password, false);
    // The history kept the seed and the change.
    const h = await api(b.admin, token, 'GET', '/api/v1/config/history');
    assert.deepEqual(h.json.data.filter((r) => r.entity !== 'users/admin').map((r) => r.action).slice(0, 2),
      ['create', 'seed']);
    await b.gw.stop();
  });

  test('the demo (make run): SQLite under ./data, the admin password once, the same demo key', async () => {
    const cwd = tempDir();
    const run = () => startTorii(['serve', '--listen', '127.0.0.1:0', '--workers', '1',
      '--admin-listen', '127.0.0.1:0'], { cwd, env: { TORII_DEMO_KEY: '' } });
    const a = await run();
    started.push(a);
    await waitFor(() => /demo key: \S+/.test(a.stdout()), ms(3000), 'the demo key line');
    const pw = /admin password: (\S+)/.exec(a.stdout());
    assert.ok(pw, a.stdout());
    const key = /demo key: (\S+)/.exec(a.stdout())[1];
    assert.ok(fs.existsSync(path.join(cwd, 'data', 'torii.db')));
    assert.equal(fs.readFileSync(path.join(cwd, 'data', 'demo-key'), 'utf8').trim(), key);
    assert.equal((fs.statSync(path.join(cwd, 'data', 'demo-key')).mode & 0o777), 0o600);
    assert.equal((await chat(a.url, key, chatBody('demo'))).status, 200);
    await a.stop();
    const b = await run();
    started.push(b);
    await waitFor(() => /demo key: \S+/.test(b.stdout()), ms(3000), 'the demo key line');
    assert.equal(/demo key: (\S+)/.exec(b.stdout())[1], key, 'the same key after a restart');
    assert.ok(!/admin password/.test(b.stdout()), 'the password is printed on the first start only');
    assert.equal((await chat(b.url, key, chatBody('demo'))).status, 200);
    await b.stop();
  });

  test('Redis: a change on one node reaches the other; accounts are shared', async () => {
    const redis = await startRedis();
    try {
      const prefix = `t${Date.now()}:`;
      const store = { type: 'redis', port: redis.port, prefix };
      const a = await startAdminGateway(tempDir(), yaml(mock.url), { env, store });
      started.push(a.gw);
      const b = await startAdminGateway(tempDir(), yaml(mock.url), { env, store });
      started.push(b.gw);
      assert.ok(a.password);
      assert.equal(b.password, null, 'the second node finds the first one\'s admin');
      const token = await firstLogin(a);
      // A's session is valid on B (the accounts live in Redis).
      assert.equal((await api(b.admin, token, 'GET', '/api/v1/routes')).status, 200);
      assert.equal((await chat(b.gw.url, CLIENT_KEY, chatBody('shared'))).status, 404);
      const c = await api(a.admin, token, 'POST', '/api/v1/routes', { name: 'shared', targets: ['up/mock-1'] });
      assert.equal(c.status, 201, c.text);
      await eventually(async () => (await chat(b.gw.url, CLIENT_KEY, chatBody('shared'))).status === 200,
        'node B serves the route made on node A', ms(3000));
      // And back: a change on B reaches A; both agree on the version.
      const d = await api(b.admin, token, 'DELETE', '/api/v1/routes/shared');
      assert.equal(d.status, 204, d.text);
      await eventually(async () => (await chat(a.gw.url, CLIENT_KEY, chatBody('shared'))).status === 404,
        'node A drops the route deleted on node B', ms(3000));
      const va = await api(a.admin, token, 'GET', '/api/v1/config');
      const vb = await api(b.admin, token, 'GET', '/api/v1/config');
      assert.equal(va.headers.etag, vb.headers.etag);
      // A write based on a stale version is refused, not lost.
      const stale = await api(a.admin, token, 'PUT', '/api/v1/config', va.json,
        { 'if-match': '"v1"' });
      assert.equal(stale.status, 412);
      await a.gw.stop();
      await b.gw.stop();
    } finally {
      await redis.stop();
    }
  });
});
