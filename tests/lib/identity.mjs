// Shared pieces of the identity suites (tests/integration/identity*.test.mjs): fresh keys
// remembered as secrets, the three header styles, identity YAML on top of renderConfig, the
// 401/403 checks, and the final "no credential in the logs" check.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { renderConfig } from './harness.mjs';
import { assertOpenAIError } from './http.mjs';

// Everything a test file presented as a credential (keys, tokens, token signatures, the HMAC
// secret): none may show in a response body of a refusal or in any gateway's stderr.
export const secrets = new Set();
// Every gateway a suite started, for the final log check (checkLogs).
export const gateways = [];

/** A fresh `tk-` style key (256 random bits), remembered as a secret. */
export function newKey() {
  const k = `tk-${crypto.randomBytes(32).toString('base64url')}`;
  secrets.add(k);
  return k;
}
export const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
/** RFC 3339 UTC without fractional seconds. */
export const rfc3339 = (unixS) => new Date(unixS * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const rememberToken = (t) => {
  secrets.add(t);
  const sig = t.split('.')[2];
  if (sig && sig.length >= 16) secrets.add(sig);
  return t;
};

/** The headers presenting `cred` in one of the three accepted styles. */
export function authHeaders(cred, style = 'bearer') {
  if (cred === undefined) return {};
  if (style === 'bearer') return { authorization: `Bearer ${cred}` };
  if (style === 'x-api-key') return { 'x-api-key': cred };
  if (style === 'api-key') return { 'api-key': cred };
  throw new Error(`unknown style ${style}`);
}

/** The gateway's YAML: renderConfig's server/providers/routes plus hand-written identity. */
export function writeConfig(dir, name, spec, identityYaml) {
  const base = renderConfig({ ...spec, apiKeys: [] }).split('\nauth:\n')[0];
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${base}\negress:\n  allow_networks: [127.0.0.0/8]\n${identityYaml}`);
  return file;
}

/** Asserts the 403 of an authorization refusal, OpenAI shape, naming exactly `ruleId`. */
export function assertDenied(res, ruleId, what = '') {
  const err = assertOpenAIError(res, 403, what);
  assert.equal(err.type, 'permission_error', `${what}: ${res.text}`);
  assert.equal(err.code, 'access_denied', `${what}: ${res.text}`);
  assert.equal(err.param, null, `${what}: ${res.text}`);
  assert.equal(err.message, `request denied by authorization rule '${ruleId}'`, what);
  return err;
}

/** Asserts a 401 authentication_error whose body holds none of the presented secrets. */
export function assertUnauthenticated(res, code, what = '') {
  const err = assertOpenAIError(res, 401, what);
  assert.equal(err.type, 'authentication_error', `${what}: ${res.text}`);
  if (code) assert.equal(err.code, code, `${what}: ${res.text}`);
  for (const s of secrets) assert.ok(!res.text.includes(s), `${what}: body echoes a credential`);
  return err;
}

// Minutes of the UTC day as "HH:MM".
export const hhmm = (m) => {
  const x = ((m % 1440) + 1440) % 1440;
  return `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`;
};
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * Stops every gateway in `gateways` (at least `min` of them) and asserts that none of the
 * remembered secrets appears in its stderr.
 */
export async function checkLogs(min) {
  assert.ok(gateways.length >= min, `every gateway of this file started (${gateways.length})`);
  assert.ok(secrets.size > 5, 'secrets were collected');
  for (const { name, gw } of gateways) {
    await gw.stop();
    const log = gw.stderr();
    for (const s of secrets) {
      assert.ok(!log.includes(s), `${name} gateway log holds a credential (${s.slice(0, 6)}…)`);
    }
  }
}
