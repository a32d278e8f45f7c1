// Identity, one gateway per case (docs/SECURITY.md, issue 5): API key rotation with
// `previous` values and revocation by SIGHUP reload, `default: deny`, the embedded demo config,
// JWT issuers without API keys (jwks_file, an issuer mapped to a consumer), an open gateway, and
// `torii check` refusing bad identity configs; no credential in any gateway's log.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ms, runTorii, sleep, startGateway, startMock, startTorii, tempDir, waitFor, writeFileAtomic,
} from '../lib/harness.mjs';
import { chatBody, request } from '../lib/http.mjs';
import {
  assertDenied, assertUnauthenticated, authHeaders, checkLogs, gateways, newKey, rememberToken,
  rfc3339, secrets, sha256, writeConfig,
} from '../lib/identity.mjs';
import { generateKey, signHs256, signToken, startJwksServer } from '../lib/jwt_fixture.mjs';

describe('identity: key rotation with previous values', () => {
  let mock;
  let gw;
  let expiry;  // unix seconds when the previous value stops working
  const current = newKey();
  const old = newKey();
  const older = newKey();
  const mid = newKey();
  const replacement = newKey();
  let file;

  before(async () => {
    mock = await startMock();
    const dir = tempDir();
    // 3 s rather than 2: the gateway must be up and answering before the expiry.
    expiry = Math.ceil(Date.now() / 1000) + 3;
    file = writeConfig(dir, 'rotation.yaml', {
      providers: [{ name: 'local', base_url: `${mock.url}/v1` }],
    }, `
auth:
  api_keys:
    - name: rotating
      key: "\${env:ROT_CURRENT}"
      previous:
        - key_sha256: ${sha256(old)}
          expires_at: ${rfc3339(expiry)}
        - key: "\${env:ROT_OLDER}"
          expires_at: 2020-01-01T00:00:00Z
        - key: "\${env:ROT_MID}"
          expires_at: 2099-01-01T00:00:00Z
`);
    gw = await startGateway(file, { env: { ROT_CURRENT: current, ROT_OLDER: older, ROT_MID: mid,
      ROT_REPLACEMENT: replacement } });
    gateways.push({ name: 'rotation', gw });
  });
  after(async () => { await Promise.all([gw, mock].filter(Boolean).map((p) => p.stop())); });

  const post = (key) => request(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: authHeaders(key), body: chatBody('local/mock-1') });

  test('a previous value works until its expires_at, then 401', async () => {
    assert.ok(Date.now() < expiry * 1000 - 300, 'the gateway started too slowly for this test');
    const r1 = await post(old);
    assert.equal(r1.status, 200, `previous value before expiry: ${r1.text}`);
    assert.equal((await post(current)).status, 200, 'current value');
    assertUnauthenticated(await post(older), 'invalid_api_key', 'a long-expired previous value');
    assert.equal((await post(mid)).status, 200, 'a previous value given as a key reference');
    await sleep(Math.max(0, expiry * 1000 - Date.now()) + 1200);
    assertUnauthenticated(await post(old), 'invalid_api_key', 'previous value after expiry');
    assert.equal((await post(current)).status, 200, 'current value after expiry');
  });

  test('SIGHUP: a key disabled in the file is refused, a new one accepted', async () => {
    const text = fs.readFileSync(file, 'utf8')
      .replace(/\nauth:\n[\s\S]*$/, `
auth:
  api_keys:
    - name: rotating
      key: "\${env:ROT_CURRENT}"
      enabled: false
    - name: replacement
      key: "\${env:ROT_REPLACEMENT}"
`);
    writeFileAtomic(file, text);
    gw.kill('SIGHUP');
    await waitFor(async () => (await post(replacement)).status === 200, ms(5000),
      'the replacement key after the reload');
    const r = assertUnauthenticated(await post(current), 'invalid_api_key', 'disabled by reload');
    assert.match(r.message, /disabled/i);
    assertUnauthenticated(await post(mid), 'invalid_api_key', 'its previous values are gone');
  });
});

describe('identity: default deny', () => {
  let mock;
  let gw;
  const k = { member: newKey(), admin: newKey(), outsider: newKey() };

  before(async () => {
    mock = await startMock();
    const dir = tempDir();
    const file = writeConfig(dir, 'deny.yaml', {
      providers: [{ name: 'local', base_url: `${mock.url}/v1`, models: ['mock-1', 'gpt-4o-mini'] }],
      routes: [{ name: 'mixed', targets: ['local/gpt-4o-mini', 'local/mock-1'] }],
    }, `
auth:
  api_keys:
    - {name: member, key: "\${env:DD_MEMBER}"}
    - {name: admin, key: "\${env:DD_ADMIN}"}
    - {name: outsider, key: "\${env:DD_OUTSIDER}"}
authorization:
  default: deny
  rules:
    - id: members-mock-1
      effect: allow
      when: [{key: member}, {model: "local/mock-1"}]
    - id: admins
      effect: allow
      when: {key: admin}
    - id: admins-not-gpt
      effect: deny
      when: [{key: admin}, {model: "*/gpt-4o-mini"}]
`);
    gw = await startGateway(file, { env: {
      DD_MEMBER: k.member, DD_ADMIN: k.admin, DD_OUTSIDER: k.outsider } });
    gateways.push({ name: 'default-deny', gw });
  });
  after(async () => { await Promise.all([gw, mock].filter(Boolean).map((p) => p.stop())); });

  const post = (key, model) => request(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: authHeaders(key), body: chatBody(model) });

  test('a request needs a matching allow rule; deny still wins', async () => {
    assert.equal((await post(k.member, 'local/mock-1')).status, 200, 'member, allowed model');
    assertDenied(await post(k.member, 'local/gpt-4o-mini'), 'default', 'member, other model');
    assertDenied(await post(k.outsider, 'local/mock-1'), 'default', 'no allow rule');
    assert.equal((await post(k.admin, 'local/mock-1')).status, 200, 'admin');
    assertDenied(await post(k.admin, 'local/gpt-4o-mini'), 'admins-not-gpt', 'deny over allow');
    assertUnauthenticated(await post(newKey(), 'local/mock-1'), 'invalid_api_key', 'unknown');
  });

  test('per target: only the allowed target of a route is used', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await post(k.member, 'mixed');
      assert.equal(r.status, 200, `mixed #${i}: ${r.text}`);
      assert.equal(r.json.model, 'mock-1', `mixed #${i} went to the allowed target`);
    }
    assertDenied(await post(k.outsider, 'mixed'), 'default', 'no target allowed');
  });

  test('GET /v1/models is authentication only', async () => {
    const r = await request(`${gw.url}/v1/models`, { headers: authHeaders(k.outsider) });
    assert.equal(r.status, 200, r.text);
  });
});

describe('identity: the demo config', () => {
  let gw;
  const demoKey = newKey();

  before(async () => {
    gw = await startTorii(['serve', '--listen', '127.0.0.1:0', '--workers', '1',
      '--admin-listen', '127.0.0.1:0', '--admin-store', 'memory'],
      { env: { TORII_DEMO_KEY: demoKey } });
    gateways.push({ name: 'demo', gw });
  });
  after(async () => { if (gw) await gw.stop(); });

  const post = (key, extra, model = 'mock/mock-1') => request(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: authHeaders(key), body: chatBody(model, extra) });

  test('the demo key works, others are 401, max_tokens above 4096 is 403', async () => {
    // Printed just after the "listening" line, maybe in a later chunk.
    await waitFor(() => gw.stdout().includes(`demo key: ${demoKey}`), ms(3000),
      'the "demo key: KEY" line');
    assert.equal((await post(demoKey, {})).status, 200);
    assert.equal((await post(demoKey, {}, 'demo')).status, 200, 'the demo route');
    assertUnauthenticated(await post(newKey(), {}), 'invalid_api_key', 'another key');
    assertDenied(await post(demoKey, { max_tokens: 5000 }), 'demo-max-tokens', 'max_tokens 5000');
    const r = await post(demoKey, { max_tokens: 4096 });
    assert.equal(r.status, 200, `max_tokens 4096: ${r.text}`);
  });
});

describe('identity: JWT only (jwks_file, issuer consumer), and an open gateway', () => {
  let mock;
  let jwtGw;
  let openGw;
  let jwksSrv;
  const ec = generateKey('ec');
  const rsa = generateKey('rsa');
  const hmacSecret = crypto.randomBytes(40).toString('base64url');
  secrets.add(hmacSecret);

  before(async () => {
    mock = await startMock();
    jwksSrv = await startJwksServer([rsa]);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [ec.jwk] }));
    const spec = { providers: [{ name: 'local', base_url: `${mock.url}/v1` }] };
    // No api_keys at all: the JWT issuers alone must close the gateway.
    const jwtFile = writeConfig(dir, 'jwt-only.yaml', spec, `
auth:
  consumers:
    - {id: batch-svc, metadata: {team: interns}, groups: [batch]}
  jwt:
    - issuer: "https://file-idp.test/"
      jwks_file: "${path.join(dir, 'jwks.json')}"
      consumer: batch-svc
    - issuer: "https://hs-only.test/"
      hmac_secret: "\${env:JO_HS}"
      algorithms: [HS256]
    - issuer: "https://slow-refetch.test/"
      jwks_url: "${jwksSrv.url}"
      jwks_min_refetch_s: 60
authorization:
  rules:
    - id: batch-interns
      when: [{metadata: team, equals: interns}, {group: batch}, {header: x-batch, exists: true}]
`);
    const openFile = writeConfig(dir, 'open.yaml', spec, '');
    [jwtGw, openGw] = await Promise.all([
      startGateway(jwtFile, { env: { JO_HS: hmacSecret } }),
      startGateway(openFile),
    ]);
    gateways.push({ name: 'jwt-only', gw: jwtGw }, { name: 'open', gw: openGw });
  });
  after(async () => {
    await Promise.all([jwtGw, openGw, mock].filter(Boolean).map((p) => p.stop()));
    if (jwksSrv) await jwksSrv.close();
  });

  const post = (g, headers = {}) => request(`${g.url}/v1/chat/completions`, {
    method: 'POST', headers, body: chatBody('local/mock-1') });

  test('JWT issuers alone: no credential is 401, a good token is 200, no "open" warning',
    async () => {
      assertUnauthenticated(await post(jwtGw), 'invalid_api_key', 'no credential');
      assertUnauthenticated(await post(jwtGw, authHeaders(newKey())), undefined, 'an API key');
      const hs = rememberToken(signHs256(hmacSecret, { iss: 'https://hs-only.test/', sub: 's' }));
      assert.equal((await post(jwtGw, authHeaders(hs))).status, 200, 'HS256 token');
      assert.doesNotMatch(jwtGw.stderr(), /gateway is open|open to anyone/i,
        'no "open gateway" warning when JWT issuers are configured');
    });

  test('jwks_file keys; `consumer:` maps every token to that consumer', async () => {
    const t = rememberToken(signToken(ec, { iss: 'https://file-idp.test/', sub: 'anyone' }));
    assert.equal((await post(jwtGw, authHeaders(t))).status, 200, 'token from the jwks_file key');
    assertDenied(await post(jwtGw, { ...authHeaders(t), 'x-batch': '1' }), 'batch-interns',
      "the consumer's metadata and groups");
  });

  test('a spray of unknown kids does not hammer the JWKS (jwks_min_refetch_s)', async () => {
    const good = rememberToken(signToken(rsa, { iss: 'https://slow-refetch.test/', sub: 's' }));
    assert.equal((await post(jwtGw, authHeaders(good))).status, 200, 'a known kid');
    const before = jwksSrv.requests();
    const stranger = generateKey('ec');
    const sprays = await Promise.all(Array.from({ length: 30 }, (_, i) => post(jwtGw,
      authHeaders(rememberToken(signToken(stranger,
        { iss: 'https://slow-refetch.test/', sub: 's' }, { header: { kid: `spray-${i}` } }))))));
    for (const r of sprays) assertUnauthenticated(r, 'invalid_token', 'unknown kid');
    const fetched = jwksSrv.requests() - before;
    assert.ok(fetched <= 2, `30 unknown kids caused ${fetched} JWKS fetches`);
    assert.equal((await post(jwtGw, authHeaders(good))).status, 200, 'the known kid still works');
  });

  test('neither api_keys nor jwt: the gateway is open, with a warning at start', async () => {
    const r = await post(openGw);
    assert.equal(r.status, 200, r.text);
    assert.match(openGw.stderr(), /open/i, 'a warning says the gateway is open');
  });
});

describe('identity: config validation (torii check)', () => {
  const dir = tempDir();
  const pasted = newKey();
  const base = (body) => writeConfig(dir, 'check.yaml', {
    providers: [{ name: 'local', base_url: 'http://127.0.0.1:9/v1' }] }, body);
  const cases = [
    ['key and key_sha256 both', `auth:\n  api_keys:\n    - {name: a, key: "\${env:CK}", key_sha256: ${sha256('x')}}`, /api_keys\[0\]/],
    ['key_sha256 not 64 hex (a pasted key)', `auth:\n  api_keys:\n    - {name: a, key_sha256: "${pasted}"}`, /key_sha256/],
    ['duplicate key names', `auth:\n  api_keys:\n    - {name: a, key: "\${env:CK}"}\n    - {name: a, key_sha256: ${sha256('y')}}`, /duplicate|name/],
    ['unknown consumer', `auth:\n  api_keys:\n    - {name: a, key: "\${env:CK}", consumer: ghost}`, /consumer/],
    ['team of kind app', `auth:\n  consumers:\n    - {id: t, kind: app}\n    - {id: u, team: t}`, /team/],
    ['previous without expires_at', `auth:\n  api_keys:\n    - name: a\n      key: "\${env:CK}"\n      previous:\n        - key_sha256: ${sha256('z')}`, /expires_at/],
    ['bad expires_at', `auth:\n  api_keys:\n    - {name: a, key: "\${env:CK}", expires_at: "next week"}`, /expires_at/],
    ['short HS256 secret', `auth:\n  jwt:\n    - {issuer: x, hmac_secret: "\${env:CK}", algorithms: [HS256]}`, /hmac_secret|32/],
    ['alg none', `auth:\n  jwt:\n    - {issuer: x, jwks_file: /nonexistent.json, algorithms: [none]}`, /algorithms/],
    ['duplicate rule id', `authorization:\n  rules:\n    - {id: r, when: {key: a}}\n    - {id: r, when: {key: b}}`, /duplicate|rules\[1\]/],
    ['rule without id', `authorization:\n  rules:\n    - {when: {key: a}}`, /id/],
    ['bad time window', `authorization:\n  rules:\n    - {id: r, when: {time: "9-18"}}`, /time/],
    ['bad weekday', `authorization:\n  rules:\n    - {id: r, when: {weekday: [someday]}}`, /weekday/],
    ['bad default', `authorization:\n  default: maybe`, /default/],
  ];
  test('bad identity configs are refused with the path; no secret is echoed', () => {
    for (const [what, body, re] of cases) {
      const file = base(body);
      const r = runTorii(['check', '--config', file], { env: { CK: 'short-secret-value' } });
      const out = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 1, `${what}: exit 1\n${out}`);
      assert.match(out, re, what);
      assert.ok(!out.includes(pasted), `${what}: the output echoes a pasted key`);
      assert.ok(!out.includes('short-secret-value'), `${what}: the output echoes a secret`);
    }
    const good = base(`auth:\n  api_keys:\n    - {name: a, key: "\${env:CK}"}\n` +
      'authorization:\n  rules:\n    - {id: r, when: {time: "22:00-02:00"}}\n');
    const r = runTorii(['check', '--config', good], { env: { CK: pasted } });
    assert.equal(r.status, 0, `a good config: ${r.stdout}${r.stderr}`);
  });
});

describe('identity: logs', () => {
  test('no presented key, token or HMAC secret in any gateway log', () => checkLogs(5));
});
