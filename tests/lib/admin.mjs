// Helpers for the admin API's tests: a gateway with its admin listener, logins, calls.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTorii, waitFor, ms } from './harness.mjs';
import { request } from './http.mjs';

const ADMIN_RE = /admin API listening on http:\/\/([^\s:]+):(\d+)/;
const PASSWORD_RE = /admin password: (\S+)/;

export const NEW_PASSWORD = 'a sturdy test passphrase';

/**
 * A gateway whose config file has an `admin:` section (admin listener on port 0, the store
 * given in `store`: {type, path} or {type: 'redis', redis: {host, port}}). `yaml`: the rest of
 * the config. Returns {gw, admin (URL), password (null when the store had a user already)}.
 */
export async function startAdminGateway(dir, yaml, { store, env = {}, name = 'torii.yaml',
  extraArgs = [] } = {}) {
  const storeYaml = store?.type === 'redis'
    ? `{type: redis, redis: {host: 127.0.0.1, port: ${store.port}, prefix: "${store.prefix || 'torii:'}"}}`
    : store?.type === 'memory' ? '{type: memory}'
      : `{type: sqlite, path: ${JSON.stringify(store?.path || path.join(dir, 'torii.db'))}}`;
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${yaml}\nadmin:\n  listen: 127.0.0.1:0\n  store: ${storeYaml}\n` +
    '  login_failures: 5\n  login_window_s: 60\n');
  const gw = await startTorii(['serve', '--config', file, '--listen', '127.0.0.1:0',
    '--workers', '2', ...extraArgs], { env });
  const m = ADMIN_RE.exec(gw.stdout());
  assert.ok(m, `no admin listener line in:\n${gw.stdout()}`);
  const pw = PASSWORD_RE.exec(gw.stdout());
  return { gw, admin: `http://${m[1]}:${m[2]}`, password: pw ? pw[1] : null, file };
}

/** One admin call: {status, headers, text, json}. */
export function api(admin, token, method, p, body, headers = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return request(`${admin}${p}`, { method, headers: h, body });
}

/** Logs in (and changes the temporary password when `password` is the first one). */
export async function login(admin, user, password) {
  const r = await api(admin, null, 'POST', '/api/v1/auth/login', { username: user, password });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** The first login of the initial admin: logs in, changes the password, returns a token. */
export async function firstLogin(ctx, user = 'admin') {
  const l = await login(ctx.admin, user, ctx.password);
  assert.equal(l.must_change_password, true);
  const c = await api(ctx.admin, l.token, 'POST', '/api/v1/auth/password',
    { current_password: ctx.password, new_password: NEW_PASSWORD });
  assert.equal(c.status, 204, c.text);
  return l.token;
}

/** Waits until `fn` (async, returns a truthy value) holds. */
export function eventually(fn, what, timeoutMs = ms(5000)) {
  return waitFor(fn, timeoutMs, what, 50);
}
