// The admin API's contract: docs/openapi.json is a valid OpenAPI 3.1 descriptor, served
// byte-identical at /apis/openapi.json, lists exactly the endpoints `torii admin-routes` prints,
// and every operation it describes answers a live torii with a status it lists, a body that
// matches the schema it gives and the headers it says are required. Swagger UI is served.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import {
  ms, randomKey, REPO_ROOT, runTorii, startTorii, tempDir, waitFor,
} from '../lib/harness.mjs';

const DOC_FILE = path.join(REPO_ROOT, 'docs', 'openapi.json');
const DOC_TEXT = fs.readFileSync(DOC_FILE, 'utf8');
const DOC = JSON.parse(DOC_TEXT);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every operation of the descriptor: [{method: 'GET', path, op}], in file order. */
function operations(doc) {
  const out = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (item[m]) out.push({ method: m.toUpperCase(), path: p, op: item[m] });
    }
  }
  return out;
}

// ---- a small JSON Schema checker (the subset the descriptor uses), over a dereferenced doc ----
function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want, v) {
  const got = typeOf(v);
  return want === got || (want === 'number' && got === 'integer');
}

/** Appends to `errors` every way `v` (at `where`) breaks `schema`. */
function check(schema, v, where, errors) {
  if (!schema || typeof schema !== 'object') return;
  if (schema.oneOf || schema.anyOf) {
    const ok = (schema.oneOf || schema.anyOf).some((s) => {
      const e = [];
      check(s, v, where, e);
      return e.length === 0;
    });
    if (!ok) errors.push(`${where}: matches none of the alternatives: ${JSON.stringify(v)}`);
    return;
  }
  if ('const' in schema && v !== schema.const) errors.push(`${where}: not ${schema.const}`);
  if (schema.enum && !schema.enum.includes(v)) errors.push(`${where}: ${v} not in ${schema.enum}`);
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, v))) {
      errors.push(`${where}: ${typeOf(v)} where ${types.join('|')} is expected`);
      return;
    }
  }
  if (typeof v === 'string' && schema.pattern && !new RegExp(schema.pattern).test(v)) {
    errors.push(`${where}: "${v}" does not match ${schema.pattern}`);
  }
  if (Array.isArray(v) && schema.items) {
    v.forEach((x, i) => check(schema.items, x, `${where}[${i}]`, errors));
  }
  if (typeOf(v) === 'object') {
    for (const r of schema.required || []) {
      if (!(r in v)) errors.push(`${where}: the required member ${r} is missing`);
    }
    const props = schema.properties || {};
    for (const [k, x] of Object.entries(v)) {
      if (k in props) check(props[k], x, `${where}.${k}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${where}: unexpected ${k}`);
      else if (typeof schema.additionalProperties === 'object') {
        check(schema.additionalProperties, x, `${where}.${k}`, errors);
      }
    }
  }
}

// ---- the world: a torii with its admin API, demo-like entities, an audit database ----
const DEMO_KEY = randomKey('tk-openapi-demo');
const HMAC = 'openapi-test-hmac-secret-0123456789abcdef';  // >= 32 bytes for HS256

function configYaml(dir) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 1
providers:
  - {name: mock, kind: mock, models: [mock-1, gpt-4o-mini]}
routes:
  - {name: demo, targets: [mock/mock-1]}
auth:
  api_keys:
    - {name: demo, key: "\${env:OA_DEMO_KEY}"}
authorization:
  rules:
    - {id: demo-max-tokens, when: [{key: demo}, {param: max_tokens, above: 4096}]}
quotas:
  limits:
    - {id: demo-rate, scope: [key], requests: 600, tokens: 200000, per: minute}
  budgets:
    - {id: demo-daily, scope: [key], usd: 5.00, period: day}
prompts:
  templates:
    - {id: demo-summary, text: "Summarize: {{vars.text}}"}
  contexts:
    - {id: demo-concise, system: "Answer briefly."}
prices:
  mock-1: {input: 0.50, output: 1.50}
guardrails:
  checks:
    - {id: pii, kind: pii, action: mask, entities: [email, phone]}
cache:
  routes: [demo]
  max_temperature: 2
audit:
  sinks:
    - {type: sqlite, path: ${JSON.stringify(path.join(dir, 'audit.db'))}}
  spill_dir: ${JSON.stringify(path.join(dir, 'spill'))}
  flush_ms: 20
  access_log: false
`;
}

/** The line `prefix ...` of the process's stdout (waited for), its rest. */
async function stdoutLine(proc, prefix) {
  return waitFor(() => {
    const line = proc.stdout().split('\n').find((l) => l.startsWith(prefix));
    return line ? line.slice(prefix.length) : null;
  }, ms(5_000), `"${prefix}" on stdout`);
}

async function call(base, method, p, { token, body, headers = {}, raw = false } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + p, { method, headers: h, body: payload });
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  let json;
  if (!raw && (res.headers.get('content-type') || '').includes('json')) {
    try { json = JSON.parse(text); } catch { /* left undefined: checked by the caller */ }
  }
  return { status: res.status, headers: res.headers, text, json, bytes: buf };
}

describe('admin API OpenAPI descriptor', () => {
  let gw;
  let admin;        // the admin API's base URL
  let gateway;      // the gateway's base URL
  let token;        // an admin session
  let password;     // the admin's current password
  let deref;        // the descriptor with every $ref resolved

  before(async () => {
    const dir = tempDir();
    const configFile = path.join(dir, 'torii.yaml');
    fs.writeFileSync(configFile, configYaml(dir));
    gw = await startTorii(['serve', '--config', configFile, '--listen', '127.0.0.1:0',
      '--admin-listen', '127.0.0.1:0', '--admin-store', 'memory'],
    { env: { OA_DEMO_KEY: DEMO_KEY, OA_HMAC: HMAC } });
    admin = `http://${(await stdoutLine(gw, 'admin API listening on http://')).split(' ')[0]}`;
    gateway = `http://${(await stdoutLine(gw, 'torii listening on http://')).trim()}`;
    password = (await stdoutLine(gw, 'admin password: ')).split(' ')[0];
    const user = (await stdoutLine(gw, 'admin user: ')).trim();

    const login = await call(admin, 'POST', '/api/v1/auth/login',
      { body: { username: user, password } });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.json.must_change_password, true);
    token = login.json.token;
    const forced = await call(admin, 'GET', '/api/v1/providers', { token });
    assert.equal(forced.status, 403, forced.text);
    assert.equal(forced.json.error.code, 'password_change_required');
    const next = `${randomKey('openapi-pw')}-long`;
    const changed = await call(admin, 'POST', '/api/v1/auth/password',
      { token, body: { current_password: password, new_password: next } });
    assert.equal(changed.status, 204, changed.text);
    password = next;

    // Entities the demo has none of, for the {id} operations to read and change.
    for (const [coll, item] of [
      ['consumers', { id: 'oa-base-consumer', kind: 'team' }],
      ['jwt-issuers', { issuer: 'https://oa-base.example.com', hmac_secret: '${env:OA_HMAC}',
        algorithms: ['HS256'] }],
    ]) {
      const r = await call(admin, 'POST', `/api/v1/${coll}`, { token, body: item });
      assert.equal(r.status, 201, `${coll}: ${r.text}`);
    }
    // Traffic, so that the audit queries and quota counters have something to show.
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${gateway}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: `hi ${i}` }] }),
      });
      assert.equal(r.status, 200, await r.text());
    }
    await waitFor(async () => {
      const r = await call(admin, 'GET', '/api/v1/audit/events?limit=5', { token });
      return r.status === 200 && r.json.data.length >= 3;
    }, ms(5_000), 'the audit events to reach SQLite');
    deref = await SwaggerParser.dereference(structuredClone(DOC));
  });

  after(async () => { if (gw) await gw.stop(); });

  test('docs/openapi.json and the served /apis/openapi.json are valid and identical', async () => {
    await SwaggerParser.validate(structuredClone(DOC));
    assert.equal(DOC.openapi, '3.1.0');
    const served = await call(admin, 'GET', '/apis/openapi.json', { raw: true });
    assert.equal(served.status, 200);
    assert.match(served.headers.get('content-type'), /application\/json/);
    assert.ok(served.bytes.equals(fs.readFileSync(DOC_FILE)),
      `/apis/openapi.json (${served.bytes.length} bytes) differs from docs/openapi.json ` +
      `(${DOC_TEXT.length} chars): rebuild torii (CMake embeds the file)`);
    await SwaggerParser.validate(JSON.parse(served.text));
  });

  test('the descriptor lists exactly the endpoints of `torii admin-routes`', () => {
    const r = runTorii(['admin-routes']);
    assert.equal(r.status, 0, r.stderr);
    const routes = new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
    assert.ok(routes.size > 10, `admin-routes printed ${routes.size} lines`);
    const described = new Set(operations(DOC).map((o) => `${o.method} ${o.path}`));
    const undocumented = [...routes].filter((x) => !described.has(x));
    const unserved = [...described].filter((x) => !routes.has(x));
    assert.deepEqual({ undocumented, unserved }, { undocumented: [], unserved: [] },
      `in admin-routes but not in docs/openapi.json: ${undocumented.join(', ') || 'none'}; ` +
      `in docs/openapi.json but not in admin-routes: ${unserved.join(', ') || 'none'}`);
  });

  test('every public operation is open, every other one needs the bearer token', async () => {
    const open = new Set(['POST /api/v1/auth/login', 'GET /apis/openapi.json', 'GET /apis/docs',
      'GET /apis/docs/{file}', 'GET /metrics']);
    assert.deepEqual(DOC.security, [{ bearer: [] }]);
    for (const { method, path: p, op } of operations(DOC)) {
      const key = `${method} ${p}`;
      if (open.has(key)) assert.deepEqual(op.security, [], `${key} must be security: []`);
      else assert.equal(op.security, undefined, `${key} must use the global bearer security`);
    }
    // And the server agrees: without a token, a protected operation is 401.
    const r = await call(admin, 'GET', '/api/v1/providers');
    assert.equal(r.status, 401);
    assert.equal(r.json.error.type, 'authentication_error');
  });

  // ---- every operation against the live server ----
  // The sample request of each operation. Ids name real entities (the config's, or those made
  // in before()); creations use fresh ids, which the deletes, run last, remove again.
  const COLL = {
    providers: { id: 'mock', patch: { models: ['mock-1', 'gpt-4o-mini'] },
      create: { name: 'oa-provider', kind: 'mock', models: ['mock-1'] }, created: 'oa-provider' },
    routes: { id: 'demo', patch: { strategy: 'round_robin' },
      create: { name: 'oa-route', targets: ['mock/mock-1'] }, created: 'oa-route' },
    consumers: { id: 'oa-base-consumer', patch: { metadata: { team: 'a' } },
      create: { id: 'oa-consumer', kind: 'app' }, created: 'oa-consumer' },
    keys: { id: 'demo', patch: { metadata: { env: 'test' } },
      create: { name: 'oa-key', consumer: 'oa-base-consumer' }, created: 'oa-key' },
    'jwt-issuers': { id: 'https://oa-base.example.com', patch: { leeway_s: 30 },
      create: { issuer: 'https://oa.example.com', hmac_secret: '${env:OA_HMAC}',
        algorithms: ['HS256'] }, created: 'https://oa.example.com' },
    'authz-rules': { id: 'demo-max-tokens', patch: { effect: 'deny' },
      create: { id: 'oa-rule', when: { model: 'mock/gpt-4o-mini' } }, created: 'oa-rule' },
    'rate-limits': { id: 'demo-rate', patch: { requests: 600 },
      create: { id: 'oa-rate', scope: ['key'], requests: 100, per: 'minute' }, created: 'oa-rate' },
    budgets: { id: 'demo-daily', patch: { mode: 'block' },
      create: { id: 'oa-budget', scope: ['key'], usd: 1.5, period: 'day' }, created: 'oa-budget' },
    guardrails: { id: 'pii', patch: { entities: ['email'] },
      create: { id: 'oa-guard', kind: 'contains', words: ['plum'] }, created: 'oa-guard' },
    'prompt-templates': { id: 'demo-summary', patch: { role: 'user' },
      create: { id: 'oa-template', text: 'Hello {{consumer.id}}' }, created: 'oa-template' },
    'prompt-contexts': { id: 'demo-concise', patch: { system: 'Answer very briefly.' },
      create: { id: 'oa-context', post: [{ role: 'user', content: 'Reply in French.' }] },
      created: 'oa-context' },
  };
  const state = {};

  // Reads `p` and returns [its body, its ETag].
  async function current(p) {
    const r = await call(admin, 'GET', p, { token });
    assert.equal(r.status, 200, `GET ${p}: ${r.text}`);
    return [r.json, r.headers.get('etag')];
  }

  /** {path, body, headers, token} of the sample request of an operation. */
  async function sample(method, p) {
    const key = `${method} ${p}`;
    const m = /^\/api\/v1\/([a-z-]+)(\/\{id\})?$/.exec(p);
    const c = m && COLL[m[1]];
    if (c) {
      const base = `/api/v1/${m[1]}`;
      if (!m[2]) return { path: base, body: method === 'POST' ? c.create : undefined };
      const id = method === 'DELETE' ? c.created : c.id;
      const one = `${base}/${encodeURIComponent(id)}`;
      if (method === 'GET') return { path: one };
      const [item, etag] = await current(one);
      if (method === 'PUT') return { path: one, body: item, headers: { 'if-match': etag } };
      if (method === 'PATCH') return { path: one, body: c.patch, headers: { 'if-match': etag } };
      return { path: one, headers: { 'if-match': etag } };  // DELETE
    }
    switch (key) {
      case 'GET /apis/docs/{file}': return { path: '/apis/docs/swagger-ui-bundle.js', token: null };
      case 'GET /apis/openapi.json': case 'GET /apis/docs': case 'GET /metrics':
        return { path: p, token: null };
      case 'POST /api/v1/auth/login':
        return { path: p, token: null, body: { username: 'admin', password } };
      case 'POST /api/v1/auth/logout': {
        // A throwaway session: the test's own token must live on.
        const r = await call(admin, 'POST', '/api/v1/auth/login',
          { body: { username: 'admin', password } });
        assert.equal(r.status, 200, r.text);
        return { path: p, token: r.json.token };
      }
      case 'POST /api/v1/auth/password': {
        const next = `${randomKey('openapi-pw')}-long`;
        const body = { current_password: password, new_password: next };
        state.afterPassword = () => { password = next; };
        return { path: p, body };
      }
      case 'POST /api/v1/users':
        return { path: p,
          body: { name: 'oa-user', role: 'editor', password: 'oa-user-temporary-1' } };
      case 'GET /api/v1/users/{name}': return { path: '/api/v1/users/admin' };
      case 'PATCH /api/v1/users/{name}':
        return { path: '/api/v1/users/oa-user', body: { role: 'viewer' } };
      case 'DELETE /api/v1/users/{name}': return { path: '/api/v1/users/oa-user' };
      case 'POST /api/v1/tokens':
        return { path: p, body: { name: 'oa-token', role: 'viewer', ttl_s: 3600 } };
      case 'DELETE /api/v1/tokens/{id}': return { path: `/api/v1/tokens/${state.tokenId}` };
      case 'GET /api/v1/config': return { path: `${p}?format=json` };
      case 'PUT /api/v1/config': {
        const [doc, etag] = await current(p);
        return { path: p, body: doc, headers: { 'if-match': etag } };
      }
      case 'POST /api/v1/config/validate':
        return { path: p, body: (await current('/api/v1/config'))[0] };
      case 'GET /api/v1/config/history': return { path: `${p}?limit=5` };
      case 'POST /api/v1/keys/{id}/rotate':
        return { path: '/api/v1/keys/oa-key/rotate', body: { grace_s: 60 } };
      case 'POST /api/v1/keys/{id}/revoke': return { path: '/api/v1/keys/oa-key/revoke' };
      case 'GET /api/v1/audit/events': return { path: `${p}?consumer=demo&limit=2` };
      case 'GET /api/v1/usage': return { path: `${p}?group_by=consumer,model,day` };
      default: {
        // The quota rules' usage and reset: the config's rules.
        const q = /^\/api\/v1\/(rate-limits|budgets)\/\{id\}\/(usage|reset)$/.exec(p);
        if (q) return { path: p.replace('{id}', COLL[q[1]].id) };
        return { path: p };  // no parameters
      }
    }
  }

  // Reads first, then creations, replacements, patches, key rotation, deletes, and logout last.
  function rank(method, p) {
    if (p === '/api/v1/auth/logout') return 99;
    if (method === 'DELETE') return 90;
    if (p.endsWith('/revoke')) return 80;
    if (p.endsWith('/rotate')) return 70;
    return { GET: 10, POST: 20, PUT: 30, PATCH: 40 }[method];
  }
  const ordered = operations(DOC).map((o, i) => ({ ...o, i }))
    .sort((a, b) => rank(a.method, a.path) - rank(b.method, b.path) || a.i - b.i);

  describe('every operation answers as described', () => {
    for (const { method, path: p } of ordered) {
      test(`${method} ${p}`, async () => {
        const op = deref.paths[p][method.toLowerCase()];
        const s = await sample(method, p);
        const r = await call(admin, method, s.path, {
          token: s.token === undefined ? token : s.token ?? undefined,
          body: s.body,
          headers: s.headers,
        });
        const where = `${method} ${s.path} -> ${r.status} ${r.text.slice(0, 300)}`;
        assert.notEqual(r.status, 405, where);
        assert.ok(!(r.status === 404 && /no admin endpoint/.test(r.text)), where);
        const listed = Object.keys(op.responses).filter((k) => k !== 'default');
        assert.ok(listed.includes(String(r.status)), `${where}; listed: ${listed.join(', ')}`);
        // The samples are valid requests: each must succeed.
        assert.ok(r.status >= 200 && r.status < 300, where);

        const resp = op.responses[String(r.status)];
        for (const [name, h] of Object.entries(resp.headers || {})) {
          if (h.required) assert.ok(r.headers.get(name) !== null, `${where}: no ${name} header`);
          const v = r.headers.get(name);
          if (v !== null && h.schema?.pattern) {
            assert.match(v, new RegExp(h.schema.pattern), `${where}: header ${name}`);
          }
        }
        const ct = (r.headers.get('content-type') || '').split(';')[0].trim();
        if (resp.content) {
          assert.ok(ct in resp.content, `${where}: content-type ${ct} is not described`);
          if (ct === 'application/json') {
            assert.notEqual(r.json, undefined, `${where}: not JSON`);
            const errors = [];
            check(resp.content[ct].schema, r.json, 'body', errors);
            assert.deepEqual(errors, [], `${where}: the body breaks the schema`);
          }
        } else {
          assert.equal(r.text, '', `${where}: a body where none is described`);
        }

        if (method === 'POST' && p === '/api/v1/tokens') state.tokenId = r.json.id;
        if (p === '/api/v1/auth/password') state.afterPassword();
      });
    }
  });

  test('an error answer matches the Error schema (404, 409, 412)', async () => {
    const errorSchema = deref.components.schemas.Error;
    const missing = await call(admin, 'GET', '/api/v1/providers/no-such-provider', { token });
    const dup = await call(admin, 'POST', '/api/v1/providers',
      { token, body: { name: 'mock', kind: 'mock' } });
    const stale = await call(admin, 'PATCH', '/api/v1/routes/demo',
      { token, body: { strategy: 'random' }, headers: { 'if-match': '"0000000000000000"' } });
    for (const [r, status, code] of [[missing, 404, 'not_found'], [dup, 409, 'already_exists'],
      [stale, 412, 'etag_mismatch']]) {
      assert.equal(r.status, status, r.text);
      const errors = [];
      check(errorSchema, r.json, 'body', errors);
      assert.deepEqual(errors, [], r.text);
      assert.equal(r.json.error.code, code);
    }
  });

  test('Swagger UI: /apis/docs is HTML and its bundle is served', async () => {
    const page = await call(admin, 'GET', '/apis/docs', { raw: true });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(page.text, /<html/i);
    assert.match(page.text, /swagger-ui-bundle\.js/);
    assert.match(page.text, /\/apis\/openapi\.json/);
    const bundle = await call(admin, 'GET', '/apis/docs/swagger-ui-bundle.js', { raw: true });
    assert.equal(bundle.status, 200, 'swagger-ui-dist is a devDependency: run npm ci');
    assert.match(bundle.headers.get('content-type'), /javascript/);
    const installed = fs.readFileSync(
      path.join(REPO_ROOT, 'node_modules', 'swagger-ui-dist', 'swagger-ui-bundle.js'));
    assert.ok(bundle.bytes.equals(installed), 'the bundle served is swagger-ui-dist\'s');
    const css = await call(admin, 'GET', '/apis/docs/swagger-ui.css', { raw: true });
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type'), /text\/css/);
    const other = await call(admin, 'GET', '/apis/docs/..%2Fpackage.json', { raw: true });
    assert.equal(other.status, 404, 'only the known files are served');
  });
});
