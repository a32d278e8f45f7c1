// The admin REST API (docs/ADMIN_API.md): entity CRUD with ETags, live config with no restart
// (and under load, no failed request), keys created/rotated/revoked, secrets never shown, the
// auth rules (no token, viewer writing, forced password change, login brute force), admin
// actions in the history, import/export, quota usage and reset, and bad inputs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMock, tempDir, randomKey, ms, sleep } from '../lib/harness.mjs';
import { chat, chatBody, request } from '../lib/http.mjs';
import { startAdminGateway, api, login, firstLogin, NEW_PASSWORD, eventually } from '../lib/admin.mjs';

const CLIENT_KEY = randomKey('sk-admin-client-key-0123456789abcdef');
const PROVIDER_SECRET = randomKey('sk-upstream-provider-secret');

function baseYaml(mockUrl) {
  return `server:
  max_body_bytes: 65536
providers:
  - {name: up, kind: openai, base_url: "${mockUrl}/v1", api_key: "\${env:ADMIN_TEST_UPSTREAM}", models: [mock-1]}
routes:
  - {name: base, targets: [up/mock-1]}
auth:
  api_keys:
    - {name: client, key: "\${env:ADMIN_TEST_CLIENT}"}
quotas:
  limits:
    - {id: per-key, scope: [key], requests: 1000, per: minute}
  budgets:
    - {id: daily, scope: [key], tokens: 1000000, period: day}
egress:
  allow_networks: [127.0.0.0/8]
audit:
  enabled: true
  flush_ms: 20
  sinks: [{type: sqlite, path: AUDIT_DB}]
`;
}

const env = { ADMIN_TEST_UPSTREAM: PROVIDER_SECRET, ADMIN_TEST_CLIENT: CLIENT_KEY };

describe('admin API', () => {
  let mock; let ctx; let token; let dir;
  before(async () => {
    mock = await startMock();
    dir = tempDir();
    ctx = await startAdminGateway(dir,
      baseYaml(mock.url).replace('AUDIT_DB', JSON.stringify(path.join(dir, 'audit.db'))), { env });
    assert.ok(ctx.password, 'the first start prints the initial password');
  });
  after(async () => {
    await ctx?.gw.stop();
    await mock?.stop();
  });

  test('no token: 401; the temporary password forces a change first', async () => {
    const none = await api(ctx.admin, null, 'GET', '/api/v1/providers');
    assert.equal(none.status, 401);
    assert.equal(none.json.error.type, 'authentication_error');
    const bad = await api(ctx.admin, 'tka_not-a-token', 'GET', '/api/v1/providers');
    assert.equal(bad.status, 401);
    const l = await login(ctx.admin, 'admin', ctx.password);
    assert.equal(l.must_change_password, true);
    const blocked = await api(ctx.admin, l.token, 'GET', '/api/v1/providers');
    assert.equal(blocked.status, 403);
    assert.equal(blocked.json.error.code, 'password_change_required');
    const me = await api(ctx.admin, l.token, 'GET', '/api/v1/auth/me');
    assert.equal(me.status, 200);
    const weak = await api(ctx.admin, l.token, 'POST', '/api/v1/auth/password',
      { current_password: ctx.password, new_password: 'short' });
    assert.equal(weak.status, 400);
    assert.equal(weak.json.error.code, 'weak_password');
    const wrong = await api(ctx.admin, l.token, 'POST', '/api/v1/auth/password',
      { current_password: 'not it at all', new_password: NEW_PASSWORD });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error.code, 'wrong_password');
    const other = await login(ctx.admin, 'admin', ctx.password);  // a second session
    const ok = await api(ctx.admin, l.token, 'POST', '/api/v1/auth/password',
      { current_password: ctx.password, new_password: NEW_PASSWORD });
    assert.equal(ok.status, 204, ok.text);
    const now = await api(ctx.admin, l.token, 'GET', '/api/v1/providers');
    assert.equal(now.status, 200, now.text);
    // The password change ended the other session.
    assert.equal((await api(ctx.admin, other.token, 'GET', '/api/v1/auth/me')).status, 401);
    token = l.token;
    // The temporary password is gone.
    const old = await api(ctx.admin, null, 'POST', '/api/v1/auth/login',
      { username: 'admin', password: ctx.password });
    assert.equal(old.status, 401);
  });

  test('CRUD round trip for every entity, with ETags and If-Match', async () => {
    const cases = [
      ['providers', 'name', { name: 'up2', kind: 'openai', base_url: `${mock.url}/v1`,
        api_key: '${env:ADMIN_TEST_UPSTREAM}', models: ['mock-1'] }, { models: ['mock-1', 'mock-2'] }],
      ['routes', 'name', { name: 'r2', targets: ['up/mock-1'] }, { strategy: 'random' }],
      ['consumers', 'id', { id: 'team-a', kind: 'team', metadata: { cost_center: '42' } },
        { groups: ['beta'] }],
      ['keys', 'name', { name: 'k2', metadata: { app: 'x' } }, { enabled: false }],
      ['jwt-issuers', 'issuer', { issuer: 'https://idp.example.com/', hmac_secret: '${env:ADMIN_TEST_UPSTREAM}',
        algorithms: ['HS256'] }, { leeway_s: 5 }],
      ['authz-rules', 'id', { id: 'no-big', effect: 'deny', when: [{ param: 'max_tokens', above: 100000 }] },
        { when: [{ param: 'max_tokens', above: 50000 }] }],
      ['rate-limits', 'id', { id: 'rl2', scope: ['consumer'], requests: 50, per: 'second' },
        { requests: 60 }],
      ['budgets', 'id', { id: 'b2', scope: ['key'], usd: 3.5, period: 'month' }, { usd: 4 }],
      ['guardrails', 'id', { id: 'g2', kind: 'contains', words: ['plum'] }, { words: ['pear'] }],
    ];
    for (const [coll, idf, item, patch] of cases) {
      const id = item[idf];
      const enc = encodeURIComponent(id);
      const c = await api(ctx.admin, token, 'POST', `/api/v1/${coll}`, item);
      assert.equal(c.status, 201, `${coll} create: ${c.text}`);
      const dup = await api(ctx.admin, token, 'POST', `/api/v1/${coll}`, item);
      assert.equal(dup.status, 409, `${coll} duplicate: ${dup.text}`);
      const g = await api(ctx.admin, token, 'GET', `/api/v1/${coll}/${enc}`);
      assert.equal(g.status, 200, `${coll} get: ${g.text}`);
      assert.equal(g.json[idf], id);
      const etag = g.headers.etag;
      assert.match(etag, /^"[0-9a-f]{16}"$/);
      const list = await api(ctx.admin, token, 'GET', `/api/v1/${coll}`);
      assert.ok(list.json.data.some((x) => x[idf] === id), `${coll} list has ${id}`);
      const p = await api(ctx.admin, token, 'PATCH', `/api/v1/${coll}/${enc}`, patch,
        { 'if-match': etag });
      assert.equal(p.status, 200, `${coll} patch: ${p.text}`);
      for (const [k, v] of Object.entries(patch)) assert.deepEqual(p.json[k], v, `${coll}.${k}`);
      assert.notEqual(p.headers.etag, etag);
      const stale = await api(ctx.admin, token, 'PUT', `/api/v1/${coll}/${enc}`, g.json,
        { 'if-match': etag });
      assert.equal(stale.status, 412, `${coll} stale If-Match: ${stale.text}`);
      const put = await api(ctx.admin, token, 'PUT', `/api/v1/${coll}/${enc}`, g.json,
        { 'if-match': p.headers.etag });
      assert.equal(put.status, 200, `${coll} put: ${put.text}`);
      const d = await api(ctx.admin, token, 'DELETE', `/api/v1/${coll}/${enc}`);
      assert.equal(d.status, 204, `${coll} delete: ${d.text}`);
      const gone = await api(ctx.admin, token, 'GET', `/api/v1/${coll}/${enc}`);
      assert.equal(gone.status, 404, `${coll} after delete`);
    }
  });

  test('a change applies on the very next request, with no restart', async () => {
    const before = await chat(ctx.gw.url, CLIENT_KEY, chatBody('fresh'));
    assert.equal(before.status, 404, before.text);
    const c = await api(ctx.admin, token, 'POST', '/api/v1/routes',
      { name: 'fresh', targets: ['up/mock-1'] });
    assert.equal(c.status, 201, c.text);
    const now = await chat(ctx.gw.url, CLIENT_KEY, chatBody('fresh'));
    assert.equal(now.status, 200, now.text);
    // An authorization rule takes effect just as fast.
    const rule = await api(ctx.admin, token, 'POST', '/api/v1/authz-rules',
      { id: 'deny-fresh', effect: 'deny', when: [{ model: 'fresh' }] });
    assert.equal(rule.status, 201, rule.text);
    const denied = await chat(ctx.gw.url, CLIENT_KEY, chatBody('fresh'));
    assert.equal(denied.status, 403, denied.text);
    assert.equal((await api(ctx.admin, token, 'DELETE', '/api/v1/authz-rules/deny-fresh')).status, 204);
    assert.equal((await chat(ctx.gw.url, CLIENT_KEY, chatBody('fresh'))).status, 200);
    // And a guardrail (docs/GUARDRAILS.md).
    const banana = chatBody('fresh', { messages: [{ role: 'user', content: 'a banana split' }] });
    const g = await api(ctx.admin, token, 'POST', '/api/v1/guardrails',
      { id: 'no-banana', kind: 'contains', words: ['banana'], routes: ['fresh'] });
    assert.equal(g.status, 201, g.text);
    const guarded = await chat(ctx.gw.url, CLIENT_KEY, banana);
    assert.equal(guarded.status, 400, guarded.text);
    assert.match(guarded.json.error.message, /guardrail 'no-banana'/);
    const badGuard = await api(ctx.admin, token, 'POST', '/api/v1/guardrails',
      { id: 'bad-re', kind: 'regex', deny: ['(unclosed'] });
    assert.equal(badGuard.status, 400, badGuard.text);
    assert.match(badGuard.json.error.message, /bad-re.*RE2/);
    assert.equal((await api(ctx.admin, token, 'DELETE', '/api/v1/guardrails/no-banana')).status, 204);
    assert.equal((await chat(ctx.gw.url, CLIENT_KEY, banana)).status, 200);
  });

  test('changes under load: zero failed requests', async () => {
    let stop = false; let ok = 0; const failures = [];
    const loop = async () => {
      while (!stop) {
        const r = await chat(ctx.gw.url, CLIENT_KEY, chatBody('base'));
        if (r.status === 200) ok++; else failures.push(`${r.status} ${r.text.slice(0, 200)}`);
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    // Twenty changes while the loops run: the route the load uses is rewritten each time.
    for (let i = 0; i < 20; i++) {
      const g = await api(ctx.admin, token, 'GET', '/api/v1/routes/base');
      const strategy = i % 2 ? 'round_robin' : 'random';
      const p = await api(ctx.admin, token, 'PATCH', '/api/v1/routes/base', { strategy },
        { 'if-match': g.headers.etag });
      assert.equal(p.status, 200, p.text);
      const c = await api(ctx.admin, token, 'POST', '/api/v1/consumers', { id: `load-${i}` });
      assert.equal(c.status, 201, c.text);
    }
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `requests served during the changes: ${ok}`);
  });

  test('an invalid change is refused with the path, and changes nothing', async () => {
    const [before] = [await api(ctx.admin, token, 'GET', '/api/v1/config')];
    const bad = await api(ctx.admin, token, 'POST', '/api/v1/routes',
      { name: 'broken', targets: ['nowhere/x'] });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /routes\[\d+\]\.targets\[0\]: unknown provider 'nowhere'/);
    const unknownField = await api(ctx.admin, token, 'POST', '/api/v1/providers',
      { name: 'p3', kind: 'openai', api_key: '${env:ADMIN_TEST_UPSTREAM}', colour: 'red' });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.json.error.message, /colour/);
    const notJson = await api(ctx.admin, token, 'POST', '/api/v1/routes', '{"name": ',
      { 'content-type': 'application/json' });
    assert.equal(notJson.status, 400);
    const noId = await api(ctx.admin, token, 'POST', '/api/v1/routes', { targets: ['up/mock-1'] });
    assert.equal(noId.status, 400);
    const rename = await api(ctx.admin, token, 'PUT', '/api/v1/routes/base',
      { name: 'other', targets: ['up/mock-1'] });
    assert.equal(rename.status, 400);
    const huge = await api(ctx.admin, token, 'POST', '/api/v1/consumers',
      { id: 'big', metadata: { x: 'y'.repeat(70000) } });
    assert.equal(huge.status, 413);
    const after = await api(ctx.admin, token, 'GET', '/api/v1/config');
    assert.equal(after.headers.etag, before.headers.etag, 'the config did not change');
    const unknown = await api(ctx.admin, token, 'GET', '/api/v1/nothing');
    assert.equal(unknown.status, 404);
    const method = await api(ctx.admin, token, 'DELETE', '/api/v1/config');
    assert.equal(method.status, 405);
  });

  test('keys: created once, rotated with a grace period, revoked', async () => {
    const c = await api(ctx.admin, token, 'POST', '/api/v1/keys', { name: 'app-k' });
    assert.equal(c.status, 201, c.text);
    const k1 = c.json.key;
    assert.match(k1, /^tk-/);
    assert.match(c.json.key_sha256, /^[0-9a-f]{64}$/);
    const g = await api(ctx.admin, token, 'GET', '/api/v1/keys/app-k');
    assert.equal(g.json.key, undefined, 'the key is shown at creation only');
    assert.ok(!g.text.includes(k1));
    assert.equal((await chat(ctx.gw.url, k1, chatBody('base'))).status, 200);
    const r = await api(ctx.admin, token, 'POST', '/api/v1/keys/app-k/rotate', { grace_s: 600 });
    assert.equal(r.status, 200, r.text);
    const k2 = r.json.key;
    assert.notEqual(k2, k1);
    assert.equal((await chat(ctx.gw.url, k2, chatBody('base'))).status, 200);
    assert.equal((await chat(ctx.gw.url, k1, chatBody('base'))).status, 200, 'old key in grace');
    const noGrace = await api(ctx.admin, token, 'POST', '/api/v1/keys/app-k/rotate', { grace_s: 0 });
    const k3 = noGrace.json.key;
    assert.equal((await chat(ctx.gw.url, k3, chatBody('base'))).status, 200);
    assert.equal((await chat(ctx.gw.url, k2, chatBody('base'))).status, 401, 'no grace: refused');
    const v = await api(ctx.admin, token, 'POST', '/api/v1/keys/app-k/revoke');
    assert.equal(v.status, 200, v.text);
    assert.equal(v.json.enabled, false);
    const refused = await chat(ctx.gw.url, k3, chatBody('base'));
    assert.equal(refused.status, 401);
    assert.match(refused.json.error.message, /disabled/);
    // A key given as a value is kept as its digest only.
    const given = randomKey('sk-given-key-0123456789abcdefghijkl');
    const gk = await api(ctx.admin, token, 'POST', '/api/v1/keys', { name: 'given', key: given });
    assert.equal(gk.status, 201, gk.text);
    assert.ok(!gk.text.includes(given));
    assert.equal((await chat(ctx.gw.url, given, chatBody('base'))).status, 200);
    const exported = await api(ctx.admin, token, 'GET', '/api/v1/config');
    assert.ok(!exported.text.includes(given));
  });

  test('secrets: references shown, literals refused, placeholders keep the stored value', async () => {
    const g = await api(ctx.admin, token, 'GET', '/api/v1/providers/up');
    assert.equal(g.json.api_key, '${env:ADMIN_TEST_UPSTREAM}');
    const literal = await api(ctx.admin, token, 'POST', '/api/v1/providers',
      { name: 'lit', kind: 'openai', api_key: 'sk-a-literal-secret-value' });
    assert.equal(literal.status, 400);
    assert.equal(literal.json.error.code, 'secret_literal');
    assert.ok(!literal.text.includes('sk-a-literal-secret-value'));
    const hdr = await api(ctx.admin, token, 'PATCH', '/api/v1/providers/up',
      { headers: { authorization: 'Bearer literal-in-a-header' } });
    assert.equal(hdr.status, 400, hdr.text);
    const placeholder = await api(ctx.admin, token, 'POST', '/api/v1/providers',
      { name: 'ph', kind: 'openai', api_key: '<redacted>' });
    assert.equal(placeholder.status, 400, 'a placeholder with nothing stored');
    for (const p of ['/api/v1/config', '/api/v1/config?format=yaml', '/api/v1/providers',
      '/api/v1/config/history?limit=500']) {
      const r = await api(ctx.admin, token, 'GET', p);
      assert.equal(r.status, 200);
      for (const s of [PROVIDER_SECRET, CLIENT_KEY]) assert.ok(!r.text.includes(s), `${p} leaks`);
    }
  });

  test('roles: a viewer reads but cannot write; an editor cannot manage users', async () => {
    for (const [name, role] of [['vera', 'viewer'], ['eddie', 'editor']]) {
      const u = await api(ctx.admin, token, 'POST', '/api/v1/users',
        { name, role, password: 'temporary password 1' });
      assert.equal(u.status, 201, u.text);
    }
    const v = await login(ctx.admin, 'vera', 'temporary password 1');
    assert.equal(v.must_change_password, true);
    await api(ctx.admin, v.token, 'POST', '/api/v1/auth/password',
      { current_password: 'temporary password 1', new_password: 'vera own password' });
    assert.equal((await api(ctx.admin, v.token, 'GET', '/api/v1/routes')).status, 200);
    const w = await api(ctx.admin, v.token, 'POST', '/api/v1/routes', { name: 'x', targets: ['up/mock-1'] });
    assert.equal(w.status, 403);
    assert.equal(w.json.error.type, 'permission_error');
    assert.equal((await api(ctx.admin, v.token, 'DELETE', '/api/v1/routes/base')).status, 403);
    assert.equal((await api(ctx.admin, v.token, 'GET', '/api/v1/users')).status, 403);
    const e = await login(ctx.admin, 'eddie', 'temporary password 1');
    await api(ctx.admin, e.token, 'POST', '/api/v1/auth/password',
      { current_password: 'temporary password 1', new_password: 'eddie own password' });
    const ew = await api(ctx.admin, e.token, 'POST', '/api/v1/consumers', { id: 'by-eddie' });
    assert.equal(ew.status, 201, ew.text);
    assert.equal((await api(ctx.admin, e.token, 'POST', '/api/v1/users',
      { name: 'x', role: 'admin', password: 'temporary password 1' })).status, 403);
    assert.equal((await api(ctx.admin, e.token, 'PUT', '/api/v1/config', {})).status, 403);
    // API tokens: no higher than their creator; a viewer token cannot write.
    const up = await api(ctx.admin, e.token, 'POST', '/api/v1/tokens', { name: 'ci', role: 'admin' });
    assert.equal(up.status, 403);
    const t = await api(ctx.admin, e.token, 'POST', '/api/v1/tokens', { name: 'ci', role: 'viewer' });
    assert.equal(t.status, 201, t.text);
    assert.match(t.json.token, /^tka_/);
    assert.equal((await api(ctx.admin, t.json.token, 'GET', '/api/v1/routes')).status, 200);
    assert.equal((await api(ctx.admin, t.json.token, 'POST', '/api/v1/consumers', { id: 'tok' })).status, 403);
    assert.equal((await api(ctx.admin, e.token, 'DELETE', `/api/v1/tokens/${t.json.id}`)).status, 204);
    assert.equal((await api(ctx.admin, t.json.token, 'GET', '/api/v1/routes')).status, 401);
    // Deleting a user ends its sessions.
    assert.equal((await api(ctx.admin, token, 'DELETE', '/api/v1/users/vera')).status, 204);
    assert.equal((await api(ctx.admin, v.token, 'GET', '/api/v1/routes')).status, 401);
  });

  test('the history records who changed what, before and after, secrets redacted', async () => {
    const p = await api(ctx.admin, token, 'PATCH', '/api/v1/routes/base', { strategy: 'p2c' });
    assert.equal(p.status, 200, p.text);
    const h = await api(ctx.admin, token, 'GET', '/api/v1/config/history?limit=5');
    assert.equal(h.status, 200);
    const rec = h.json.data.find((r) => r.entity === 'routes/base');
    assert.ok(rec, JSON.stringify(h.json.data.map((r) => r.entity)));
    assert.equal(rec.actor, 'admin');
    assert.equal(rec.action, 'update');
    assert.equal(rec.after.strategy, 'p2c');
    assert.ok(rec.before.strategy !== 'p2c');
    assert.ok(rec.version > 1);
    // Paging goes back to the seed.
    let before = 0; let seen = 0; let seed = false;
    for (let i = 0; i < 100; i++) {
      const page = await api(ctx.admin, token, 'GET',
        `/api/v1/config/history?limit=10${before ? `&before=${before}` : ''}`);
      seen += page.json.data.length;
      if (page.json.data.some((r) => r.action === 'seed')) seed = true;
      if (page.json.next_before === null) break;
      before = page.json.next_before;
    }
    assert.ok(seed, `the seed is in the history (${seen} records)`);
  });

  test('export and import (YAML and JSON), with If-Match on the version', async () => {
    const y = await api(ctx.admin, token, 'GET', '/api/v1/config?format=yaml');
    assert.equal(y.status, 200);
    assert.match(y.headers['content-type'], /yaml/);
    assert.match(y.text, /providers:/);
    const version = y.headers.etag;
    const stale = await api(ctx.admin, token, 'PUT', '/api/v1/config', y.text,
      { 'content-type': 'application/yaml', 'if-match': '"v1"' });
    assert.equal(stale.status, 412, stale.text);
    const back = await api(ctx.admin, token, 'PUT', '/api/v1/config',
      y.text.replace('name: fresh', 'name: fresh-renamed'),
      { 'content-type': 'application/yaml', 'if-match': version });
    assert.equal(back.status, 200, back.text);
    assert.equal((await chat(ctx.gw.url, CLIENT_KEY, chatBody('fresh-renamed'))).status, 200);
    const j = await api(ctx.admin, token, 'GET', '/api/v1/config');
    const v = await api(ctx.admin, token, 'POST', '/api/v1/config/validate',
      { ...j.json, routes: [{ name: 'x', targets: ['ghost/m'] }] });
    assert.equal(v.status, 400);
    const withAdmin = await api(ctx.admin, token, 'PUT', '/api/v1/config', { ...j.json, admin: {} });
    assert.equal(withAdmin.status, 400);
    // The provider's secret survived the round trip as its reference.
    const p = await api(ctx.admin, token, 'GET', '/api/v1/providers/up');
    assert.equal(p.json.api_key, '${env:ADMIN_TEST_UPSTREAM}');
  });

  test('quota usage and reset', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await chat(ctx.gw.url, CLIENT_KEY, chatBody('base'))).status, 200);
    const u = await api(ctx.admin, token, 'GET', '/api/v1/rate-limits/per-key/usage');
    assert.equal(u.status, 200, u.text);
    const mine = u.json.counters.find((c) => c.scope.key === 'client');
    assert.ok(mine && mine.requests.used >= 3, u.text);
    const b = await api(ctx.admin, token, 'GET', '/api/v1/budgets/daily/usage');
    assert.equal(b.status, 200, b.text);
    const r = await api(ctx.admin, token, 'POST', '/api/v1/rate-limits/per-key/reset');
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.deleted >= 1);
    const after = await api(ctx.admin, token, 'GET', '/api/v1/rate-limits/per-key/usage');
    assert.equal(after.json.counters.find((c) => c.scope.key === 'client'), undefined, after.text);
    assert.equal((await api(ctx.admin, token, 'GET', '/api/v1/rate-limits/daily/usage')).status, 404,
      'a budget id is not a rate limit');
  });

  test('audit search, usage aggregates and provider health', async () => {
    const tag = `audit-${Date.now()}`;
    const c = await api(ctx.admin, token, 'POST', '/api/v1/routes', { name: tag, targets: ['up/mock-1'] });
    assert.equal(c.status, 201, c.text);
    for (let i = 0; i < 3; i++) assert.equal((await chat(ctx.gw.url, CLIENT_KEY, chatBody(tag))).status, 200);
    const page = await eventually(async () => {
      const r = await api(ctx.admin, token, 'GET', `/api/v1/audit/events?model=${tag}&limit=2`);
      return r.status === 200 && r.json.data.length === 2 && r.json.next_cursor ? r : null;
    }, 'the audit events');
    assert.ok(page.json.data.every((e) => e.consumer === 'client'));
    const rest = await api(ctx.admin, token, 'GET',
      `/api/v1/audit/events?model=${tag}&limit=2&cursor=${encodeURIComponent(page.json.next_cursor)}`);
    assert.equal(rest.json.data.length, 1);
    assert.equal(rest.json.next_cursor, null);
    const badCursor = await api(ctx.admin, token, 'GET', '/api/v1/audit/events?cursor=%%%');
    assert.equal(badCursor.status, 400);
    const badTime = await api(ctx.admin, token, 'GET', '/api/v1/audit/events?from=yesterday');
    assert.equal(badTime.status, 400);
    const usage = await api(ctx.admin, token, 'GET', `/api/v1/usage?group_by=consumer,model&model=${tag}`);
    assert.equal(usage.status, 200, usage.text);
    assert.equal(usage.json.data.length, 1);
    assert.equal(usage.json.data[0].requests, 3);
    assert.ok(usage.json.data[0].completion_tokens > 0);
    const h = await api(ctx.admin, token, 'GET', '/api/v1/health/providers');
    assert.equal(h.status, 200);
    const up = h.json.data.find((x) => x.provider === 'up');
    assert.equal(up.breaker, 'closed');
  });

  test('bad query strings and bodies get a 400 naming the field', async () => {
    const cases = [
      ['GET', '/api/v1/config?format=xml', undefined, 'format'],
      ['GET', '/api/v1/config/history?limit=0', undefined, 'limit'],
      ['GET', '/api/v1/audit/events?limit=5000', undefined, 'limit'],
      ['GET', '/api/v1/audit/events?status=abc', undefined, 'status'],
      ['GET', '/api/v1/audit/events?from=2026-11-22T10:00:00Z&to=2026-11-21T10:00:00Z', undefined, 'to'],
      ['GET', '/api/v1/usage?group_by=colour', undefined, 'group_by'],
      ['POST', '/api/v1/tokens', { name: 'x', role: 'root' }, 'role'],
      ['POST', '/api/v1/tokens', { name: 'x', ttl_s: -1 }, 'ttl_s'],
      ['POST', '/api/v1/tokens', { name: 'no spaces allowed' }, 'name'],
      ['POST', '/api/v1/users', { name: 'u1', role: 'viewer', password: 'short' }, 'password'],
      ['POST', '/api/v1/users', { name: 'bad/name', role: 'viewer', password: 'long enough password' }, 'name'],
      ['POST', '/api/v1/keys/client/rotate', { grace_s: -5 }, 'grace_s'],
    ];
    for (const [method, p, body, param] of cases) {
      const r = await api(ctx.admin, token, method, p, body);
      assert.equal(r.status, 400, `${method} ${p}: ${r.text}`);
      assert.equal(r.json.error.param, param, `${method} ${p}: ${r.text}`);
    }
    const notObject = await api(ctx.admin, token, 'PATCH', '/api/v1/routes/base', [1, 2]);
    assert.equal(notObject.status, 400, notObject.text);
    const missing = await api(ctx.admin, null, 'POST', '/api/v1/auth/login', { username: 'admin' });
    assert.equal(missing.status, 400, missing.text);
    const badIfMatch = await api(ctx.admin, token, 'PUT', '/api/v1/config', {}, { 'if-match': 'v3' });
    assert.equal(badIfMatch.status, 412, badIfMatch.text);
  });

  test('/metrics is served on the admin listener, not on the gateway', async () => {
    const m = await request(`${ctx.admin}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers['content-type'], /text\/plain/);
    const line = m.text.split('\n').find((l) => l.startsWith('torii_requests_total{') &&
      l.includes('route="base"') && l.includes('status="200"'));
    assert.ok(line && Number(line.split(' ').pop()) > 0, 'the base route\'s requests are counted');
    assert.ok(!m.text.includes(CLIENT_KEY));
    const g = await request(`${ctx.gw.url}/metrics`);
    assert.equal(g.status, 404);
    assert.match(g.json.error.message, /admin listener/);
  });

  test('login brute force is met by a rate limit', async () => {
    const codes = [];
    for (let i = 0; i < 7; i++) {
      const r = await api(ctx.admin, null, 'POST', '/api/v1/auth/login',
        { username: 'eddie', password: `guess-${i}` });
      codes.push(r.status);
      if (r.status === 429) assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    assert.deepEqual(codes.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.deepEqual(codes.slice(5), [429, 429]);
    // Even the right password waits out the window.
    const right = await api(ctx.admin, null, 'POST', '/api/v1/auth/login',
      { username: 'eddie', password: 'eddie own password' });
    assert.equal(right.status, 429);
    // An unknown user is refused like a wrong password (no user enumeration).
    const ghost = await api(ctx.admin, null, 'POST', '/api/v1/auth/login',
      { username: 'ghost', password: 'whatever it is' });
    assert.equal(ghost.status, 401);
    assert.equal(ghost.json.error.message, 'wrong user name or password');
    assert.equal(ghost.json.error.code, 'invalid_credentials');
    // One address trying many names: refused after four times a user's allowance (20 here).
    let refusedAt = 0;
    for (let i = 0; i < 25 && !refusedAt; i++) {
      const r = await api(ctx.admin, null, 'POST', '/api/v1/auth/login',
        { username: `spray-${i}`, password: 'password123456' });
      if (r.status === 429) refusedAt = i + 1;
      else assert.equal(r.status, 401);
    }
    assert.ok(refusedAt > 5 && refusedAt <= 20, `the address was refused at attempt ${refusedAt}`);
  });

  test('no secret in the log', async () => {
    const log = ctx.gw.stderr();
    for (const s of [PROVIDER_SECRET, CLIENT_KEY, NEW_PASSWORD, ctx.password]) {
      assert.ok(!log.includes(s), 'a secret is in the log');
    }
  });
});
