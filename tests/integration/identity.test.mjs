// Identity end to end (docs/SECURITY.md, issue 5), one gateway: API keys (three header styles,
// key_sha256, disabled, expiry, `torii keys new`), consumers and teams (inherited metadata and
// groups), authorization rules (the interns example on every API, deny wins, per-target provider
// denial with failover, time and weekday) and JWT (RS256/ES256/EdDSA from a JWKS URL, HS256,
// every refusal, groups and metadata claims, IdP key rotation), and no credential in the
// gateway's log. Real gateway, `torii mock` upstreams and a JWKS server (jwt_fixture.mjs).
// identity_config.test.mjs covers rotation, reload, default deny, the demo and config checks.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ms, runTorii, sleep, startGateway, startMock, tempDir } from '../lib/harness.mjs';
import { assertOpenAIError, chatBody, mockStats, request } from '../lib/http.mjs';
import {
  assertDenied, assertUnauthenticated, authHeaders, checkLogs, gateways, hhmm, newKey,
  rememberToken, secrets, sha256, WEEKDAYS, writeConfig,
} from '../lib/identity.mjs';
import {
  generateKey, nowS, signHs256, signToken, startJwksServer, swapPayload, tamperSignature,
  unsignedToken,
} from '../lib/jwt_fixture.mjs';

describe('identity: keys, consumers, JWT, authorization', () => {
  let mock;       // every allowed target
  let mockDenied; // the providers a rule denies: must never be called
  let jwksSrv;
  let gw;
  let agent;
  const dir = tempDir();
  const keys = {
    plain: newKey(), hashed: newKey(), disabled: newKey(), expired: newKey(), future: newKey(),
    intern: newKey(), conflict: newKey(), twNow: newKey(), twLater: newKey(), wdToday: newKey(),
    wdOther: newKey(), wrapIn: newKey(), wrapOut: newKey(),
  };
  const hmacSecret = crypto.randomBytes(36).toString('base64url');
  secrets.add(hmacSecret);
  const idp = {
    rsa: generateKey('rsa'), ec: generateKey('ec'), ed: generateKey('ed25519'),
    next: generateKey('rsa', 'rotated-kid'), stranger: generateKey('ec', 'stranger-kid'),
  };
  const ISS = 'https://idp.test/';
  const HS_ISS = 'https://hs.test/';
  let generated;  // {key, sha, stdout} from `torii keys new`, or {error}
  let clockAtStart;

  before(async () => {
    [mock, mockDenied] = await Promise.all([startMock(), startMock()]);
    jwksSrv = await startJwksServer([idp.rsa, idp.ec, idp.ed]);
    const r = runTorii(['keys', 'new', '--name', 'generated']);
    const m = /\btk-[A-Za-z0-9_-]{43}\b/.exec(r.stdout || '');
    const h = /key_sha256:\s*["']?([0-9a-fA-F]{64})\b/.exec(r.stdout || '');
    generated = r.status === 0 && m && h
      ? { key: m[0], sha: h[1], stdout: r.stdout }
      : { error: `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}` };
    if (generated.key) secrets.add(generated.key);

    const now = new Date();
    clockAtStart = now;
    const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
    const day = now.getUTCDay();
    const A = `${mock.url}/v1`;
    const D = `${mockDenied.url}/v1`;
    const spec = {
      server: { idle_timeout_ms: 5000 },
      providers: [
        { name: 'local', base_url: A, models: ['mock-1', 'gpt-4o-mini', 'gpt-4o-mini-2'] },
        { name: 'mistral', base_url: A, models: ['small', 'large'] },
        { name: 'pb', base_url: A },
        { name: 'pdenied', base_url: D },
        { name: 'pdenied2', base_url: D },
        { name: 'pdenied3', kind: 'anthropic', base_url: D, api_key_env: 'ID_PLAIN' },
      ],
      routes: [
        { name: 'gpt-4o-mini', targets: ['local/gpt-4o-mini'] },
        { name: 'cheap', targets: ['mistral/small'] },
        { name: 'two', targets: ['pdenied/mock-1', 'pb/mock-1'] },
        { name: 'all-denied', targets: ['pdenied/mock-1', 'pdenied2/mock-1'] },
        { name: 'ct-two', targets: ['pdenied3/mock-1', 'pb/mock-1'] },
        { name: 'r-eng', targets: ['mistral/small'], extra: { group: 'eng' } },
        { name: 'r-interns', targets: ['mistral/small'], extra: { group: 'interns' } },
        { name: 'r-beta', targets: ['mistral/small'], extra: { group: 'beta' } },
        { name: 'r-jwt', targets: ['local/mock-1'], extra: { group: 'jwt-readers' } },
      ],
    };
    const env = (n) => `"\${env:${n}}"`;
    const identity = `
auth:
  consumers:
    - id: interns
      kind: team
      metadata: {team: interns, dept: eng, level: team}
      groups: [eng]
    - id: intern-app
      kind: app
      team: interns
      metadata: {level: app, site: paris}
  api_keys:
    - name: plain
      key: ${env('ID_PLAIN')}
    - name: hashed
      key_sha256: ${sha256(keys.hashed)}
    - name: disabled
      key: ${env('ID_DISABLED')}
      enabled: false
    - name: expired
      key: ${env('ID_EXPIRED')}
      expires_at: 2020-01-01T00:00:00Z
    - name: future
      key: ${env('ID_FUTURE')}
      expires_at: 2099-01-01T00:00:00+02:00
    - name: intern
      key: ${env('ID_INTERN')}
      consumer: intern-app
      metadata: {env: prod, site: lyon}
      groups: [beta]
    - name: conflict
      key: ${env('ID_CONFLICT')}
    - name: tw-now
      key: ${env('ID_TW_NOW')}
    - name: tw-later
      key: ${env('ID_TW_LATER')}
    - name: wd-today
      key: ${env('ID_WD_TODAY')}
    - name: wd-other
      key: ${env('ID_WD_OTHER')}
    - name: wrap-in
      key: ${env('ID_WRAP_IN')}
    - name: wrap-out
      key: ${env('ID_WRAP_OUT')}
${generated.sha ? `    - name: generated\n      key_sha256: ${generated.sha}\n` : ''}\
  jwt:
    - issuer: "${ISS}"
      audience: torii
      jwks_url: "${jwksSrv.url}"
      jwks_min_refetch_s: 1
      metadata_claims: {team: team}
    - issuer: "${HS_ISS}"
      audience: [torii, torii-alt]
      hmac_secret: ${env('ID_HS_SECRET')}
      algorithms: [HS256]
authorization:
  default: allow
  rules:
    - id: interns-models
      effect: deny
      when:
        - {metadata: team, equals: interns}
        - {model: ["mistral/*", "gpt-4o-mini"], not: true}
    - id: interns-max-tokens
      when: [{metadata: team, equals: interns}, {param: max_tokens, above: 1000}]
    - id: interns-no-tools
      when: [{metadata: team, equals: interns}, {param: tools, exists: true}]
    - id: probe-dept
      when: [{header: x-probe, equals: dept}, {metadata: dept, equals: eng}]
    - id: probe-level
      when: [{header: x-probe, equals: level}, {metadata: level, equals: app}]
    - id: probe-site
      when: [{header: x-probe, equals: site}, {metadata: site, equals: lyon}]
    - id: probe-env
      when: [{header: x-probe, equals: env}, {metadata: env, equals: prod}]
    - id: probe-group
      when: [{header: x-probe, equals: group}, {group: beta}]
    - id: probe-consumer-self
      when: [{header: x-probe, equals: consumer}, {consumer: plain}]
    - id: probe-consumer-bound
      when: [{header: x-probe, equals: consumer}, {consumer: intern-app}]
    - id: probe-jwt-key
      when: [{header: x-probe, equals: jwtkey}, {key: "jwt:${HS_ISS}"}]
    - id: conflict-allow
      effect: allow
      when: {key: conflict}
    - id: conflict-deny
      effect: deny
      when: [{key: conflict}, {header: x-conflict, equals: "yes"}]
    - id: secret-project
      when: {header: x-project, equals: "zebra-*-7731"}
    - id: no-pdenied
      when: {provider: [pdenied, pdenied2, pdenied3]}
    - id: jwt-blocked-sub
      when: {consumer: blocked-user}
    - id: jwt-suspended-role
      when: {claim: roles, equals: suspended}
    - id: time-now
      when: [{key: tw-now}, {time: "${hhmm(minute - 10)}-${hhmm(minute + 10)}"}]
    - id: time-later
      when: [{key: tw-later}, {time: "${hhmm(minute + 60)}-${hhmm(minute + 120)}"}]
    - id: time-wrap-in
      when: [{key: wrap-in}, {time: "${hhmm(minute + 60)}-${hhmm(minute + 30)}"}]
    - id: time-wrap-out
      when: [{key: wrap-out}, {time: "${hhmm(minute + 30)}-${hhmm(minute - 30)}"}]
    - id: weekday-today
      when: [{key: wd-today}, {weekday: [${WEEKDAYS[day]}]}]
    - id: weekday-other
      when: [{key: wd-other}, {weekday: [${WEEKDAYS.filter((_, i) => i !== day).join(', ')}]}]
`;
    const file = writeConfig(dir, 'identity.yaml', spec, identity);
    gw = await startGateway(file, { env: {
      ID_PLAIN: keys.plain, ID_DISABLED: keys.disabled, ID_EXPIRED: keys.expired,
      ID_FUTURE: keys.future, ID_INTERN: keys.intern, ID_CONFLICT: keys.conflict,
      ID_TW_NOW: keys.twNow, ID_TW_LATER: keys.twLater, ID_WD_TODAY: keys.wdToday,
      ID_WD_OTHER: keys.wdOther, ID_WRAP_IN: keys.wrapIn, ID_WRAP_OUT: keys.wrapOut,
      ID_HS_SECRET: hmacSecret,
    } });
    gateways.push({ name: 'identity', gw });
    agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  });

  after(async () => {
    if (agent) agent.destroy();
    await Promise.all([gw, mock, mockDenied].filter(Boolean).map((p) => p.stop()));
    if (jwksSrv) await jwksSrv.close();
  });

  /** POST `apiPath` (default chat) with `cred` in `style`; `body` defaults to a chat body. */
  const call = (cred, { model = 'local/mock-1', style = 'bearer', body, headers = {},
    apiPath = '/v1/chat/completions', extra = {} } = {}) =>
    request(`${gw.url}${apiPath}`, {
      method: 'POST', agent, timeoutMs: ms(10_000),
      headers: { ...authHeaders(cred, style), ...headers },
      body: body || chatBody(model, extra),
    });
  const ok = (res, what) => assert.equal(res.status, 200, `${what}: ${res.text}`);
  const chatsOf = async (m) => (await mockStats(m.url)).chat_requests;

  // --- API keys -----------------------------------------------------------------------------

  test('the three header styles authenticate', async () => {
    for (const style of ['bearer', 'x-api-key', 'api-key']) {
      const r = await call(keys.plain, { style });
      ok(r, style);
      assert.equal(r.json.object, 'chat.completion', style);
    }
  });

  test('wrong key and no key: 401 authentication_error, the key is never echoed', async () => {
    const wrong = newKey();
    for (const style of ['bearer', 'x-api-key', 'api-key']) {
      assertUnauthenticated(await call(wrong, { style }), 'invalid_api_key', `wrong key ${style}`);
    }
    // A near miss of a real key (one character changed) is just as unknown.
    const nearMiss = keys.plain.slice(0, -1) + (keys.plain.endsWith('A') ? 'B' : 'A');
    secrets.add(nearMiss);
    assertUnauthenticated(await call(nearMiss), 'invalid_api_key', 'near miss');
    const missing = assertUnauthenticated(await call(undefined), 'invalid_api_key', 'no key');
    assert.match(missing.message, /authorization|x-api-key|api-key/i,
      'the missing-key message says how to send one');
    assertUnauthenticated(await call('', { style: 'x-api-key' }), 'invalid_api_key', 'empty key');
  });

  test('key_sha256: the key whose hash is configured authenticates', async () => {
    ok(await call(keys.hashed), 'hashed key');
    ok(await call(keys.hashed, { style: 'x-api-key' }), 'hashed key via x-api-key');
    // The hash itself is not a key.
    const hashAsKey = sha256(keys.hashed);
    secrets.add(hashAsKey);
    assertUnauthenticated(await call(hashAsKey), 'invalid_api_key', 'the hash presented as key');
  });

  test('disabled and expired keys: 401 saying which; a future expiry works', async () => {
    const dis = assertUnauthenticated(await call(keys.disabled), 'invalid_api_key', 'disabled');
    assert.match(dis.message, /disabled/i);
    const exp = assertUnauthenticated(await call(keys.expired), 'invalid_api_key', 'expired');
    assert.match(exp.message, /expired/i);
    ok(await call(keys.future), 'expires in 2099');
  });

  test('GET /v1/models: a bad key is 401, a good one lists models', async () => {
    const bad = await request(`${gw.url}/v1/models`, { headers: authHeaders(newKey()) });
    assertUnauthenticated(bad, 'invalid_api_key', 'models with a bad key');
    assertUnauthenticated(await request(`${gw.url}/v1/models`), 'invalid_api_key', 'no key');
    const good = await request(`${gw.url}/v1/models`, { headers: authHeaders(keys.plain) });
    ok(good, 'models');
    assert.ok(good.json.data.some((m) => m.id === 'local/mock-1'), good.text);
  });

  test('`torii keys new` prints a tk- key and its key_sha256; the config accepts it', async () => {
    assert.ok(generated.key, `torii keys new failed or printed no key: ${generated.error}`);
    assert.match(generated.key, /^tk-[A-Za-z0-9_-]{43}$/);
    const raw = Buffer.from(generated.key.slice(3), 'base64url');
    assert.equal(raw.length, 32, '256 random bits');
    assert.equal(generated.sha.toLowerCase(), sha256(generated.key), 'key_sha256 = sha256(key)');
    assert.match(generated.stdout, /name:\s*["']?generated/, 'the config lines carry the name');
    const again = runTorii(['keys', 'new']);
    assert.equal(again.status, 0, again.stderr);
    const k2 = /\btk-[A-Za-z0-9_-]{43}\b/.exec(again.stdout);
    assert.ok(k2 && k2[0] !== generated.key, 'each run makes a new key');
    secrets.add(k2[0]);
    ok(await call(generated.key), 'the generated key');
  });

  // --- consumers ----------------------------------------------------------------------------

  test('consumer + team: metadata merged (key > consumer > team) reaches authorization', async () => {
    const probe = (cred, what, model = 'mistral/small') =>
      call(cred, { model, headers: { 'x-probe': what } });
    ok(await probe(keys.intern, 'none'), 'no probe');
    assertDenied(await probe(keys.intern, 'dept'), 'probe-dept', 'dept inherited from the team');
    assertDenied(await probe(keys.intern, 'level'), 'probe-level', "the consumer's level wins");
    assertDenied(await probe(keys.intern, 'site'), 'probe-site', "the key's site wins");
    assertDenied(await probe(keys.intern, 'env'), 'probe-env', "the key's own metadata");
    assertDenied(await probe(keys.intern, 'group'), 'probe-group', "the key's group");
    for (const what of ['dept', 'level', 'site', 'env', 'group']) {
      ok(await probe(keys.plain, what, 'local/mock-1'), `plain key, probe ${what}`);
    }
    // The principal's id: the bound consumer, or the key's own name.
    assertDenied(await probe(keys.intern, 'consumer'), 'probe-consumer-bound', 'bound key');
    assertDenied(await probe(keys.plain, 'consumer', 'local/mock-1'), 'probe-consumer-self',
      'a key without consumer is its own consumer');
    ok(await probe(keys.hashed, 'consumer', 'local/mock-1'), 'another key');
  });

  test('consumer + team: group-scoped routes (team id, team groups, key groups)', async () => {
    for (const route of ['r-eng', 'r-interns', 'r-beta']) {
      const r = await call(keys.intern, { model: route });
      ok(r, `intern -> ${route}`);
      assert.equal(r.headers['x-torii-provider'], 'mistral');
      const p = await call(keys.plain, { model: route });
      assert.equal(assertOpenAIError(p, 404, `plain -> ${route}`).code, 'model_not_found');
    }
    const list = await request(`${gw.url}/v1/models`, { headers: authHeaders(keys.intern) });
    ok(list, 'models');
    const ids = list.json.data.map((m) => m.id);
    for (const route of ['r-eng', 'r-interns', 'r-beta']) assert.ok(ids.includes(route), route);
    assert.ok(!ids.includes('r-jwt'), 'not in jwt-readers');
  });

  // --- authorization ------------------------------------------------------------------------

  test('the interns rules: a table of allow and deny cases', async () => {
    const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object' } } };
    const cases = [
      // [what, model, extra body, expected rule id or null for 200]
      ['a mistral model', 'mistral/small', {}, null],
      ['another mistral model', 'mistral/large', {}, null],
      ['alias to mistral (target matches)', 'cheap', {}, null],
      ['alias named gpt-4o-mini (requested model matches)', 'gpt-4o-mini', {}, null],
      ['local/mock-1', 'local/mock-1', {}, 'interns-models'],
      ['local/gpt-4o-mini (the target\'s bare model name matches)', 'local/gpt-4o-mini', {},
        null],
      ['local/gpt-4o-mini-2 (no glob: not a prefix match)', 'local/gpt-4o-mini-2', {},
        'interns-models'],
      ['pb/mock-1', 'pb/mock-1', {}, 'interns-models'],
      ['max_tokens 1000 (not above)', 'mistral/small', { max_tokens: 1000 }, null],
      ['max_tokens 1001', 'mistral/small', { max_tokens: 1001 }, 'interns-max-tokens'],
      ['max_completion_tokens 2000', 'mistral/small', { max_completion_tokens: 2000 },
        'interns-max-tokens'],
      ['one tool', 'mistral/small', { tools: [tool] }, 'interns-no-tools'],
      ['empty tools', 'mistral/small', { tools: [] }, null],
    ];
    const before = await chatsOf(mock);
    let allowed = 0;
    for (const [what, model, extra, rule] of cases) {
      const r = await call(keys.intern, { model, extra });
      if (rule) assertDenied(r, rule, what);
      else { ok(r, what); allowed++; }
    }
    assert.equal(await chatsOf(mock) - before, allowed, 'denied requests never went upstream');
    // A denied stream is a plain JSON 403, before any SSE.
    const st = await call(keys.intern, { model: 'local/mock-1', extra: { stream: true } });
    assertDenied(st, 'interns-models', 'stream');
    // The rules only bind the interns.
    ok(await call(keys.plain, { model: 'local/mock-1', extra: { max_tokens: 5000, tools: [tool] } }),
      'plain key, same request');
  });

  test('the interns rules on the other APIs (messages, responses, count_tokens)', async () => {
    const messages = [{ role: 'user', content: 'hello' }];
    const anth = (model, apiPath = '/v1/messages') => call(keys.intern, {
      style: 'x-api-key', apiPath, headers: { 'anthropic-version': '2023-06-01' },
      body: { model, max_tokens: 100, messages } });
    const denied = await anth('local/mock-1');
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.type, 'error', `Anthropic shape: ${denied.text}`);
    assert.equal(denied.json.error.type, 'permission_error', denied.text);
    assert.equal(denied.json.error.message,
      "request denied by authorization rule 'interns-models'");
    ok(await anth('mistral/small'), 'messages, allowed model');
    const bigAnth = await call(keys.intern, { style: 'x-api-key', apiPath: '/v1/messages',
      body: { model: 'mistral/small', max_tokens: 4000, messages } });
    assert.equal(bigAnth.status, 403, bigAnth.text);
    assert.match(bigAnth.json.error.message, /'interns-max-tokens'/);

    const ct = await anth('local/mock-1', '/v1/messages/count_tokens');
    assert.equal(ct.status, 403, `count_tokens: ${ct.text}`);
    assert.match(ct.json.error.message, /'interns-models'/);
    const ctOk = await anth('mistral/small', '/v1/messages/count_tokens');
    ok(ctOk, 'count_tokens, allowed model');
    assert.equal(typeof ctOk.json.input_tokens, 'number', ctOk.text);

    const resp = (model, extra = {}) => call(keys.intern, { apiPath: '/v1/responses',
      body: { model, input: 'hello', ...extra } });
    assertDenied(await resp('local/mock-1'), 'interns-models', 'responses');
    assertDenied(await resp('mistral/small', { max_output_tokens: 5000 }), 'interns-max-tokens',
      'responses max_output_tokens');
    ok(await resp('mistral/small'), 'responses, allowed model');

    const comp = (model) => call(keys.intern, { apiPath: '/v1/completions',
      body: { model, prompt: 'hello', max_tokens: 20 } });
    assertDenied(await comp('local/mock-1'), 'interns-models', 'completions');
    ok(await comp('mistral/small'), 'completions, allowed model');
  });

  test('allow and deny both match: deny wins', async () => {
    ok(await call(keys.conflict), 'only the allow rule matches');
    assertDenied(await call(keys.conflict, { headers: { 'x-conflict': 'yes' } }), 'conflict-deny');
  });

  test('the 403 names the rule id only, never its condition values', async () => {
    const r = await call(keys.plain, { headers: { 'x-project': 'zebra-alpha-7731' } });
    assertDenied(r, 'secret-project');
    for (const leak of ['zebra', '7731', 'x-project']) {
      assert.ok(!r.text.includes(leak), `403 body leaks ${leak}: ${r.text}`);
    }
    ok(await call(keys.plain, { headers: { 'x-project': 'zebra-alpha-7732' } }), 'no match');
  });

  test('a denied provider is skipped (failover); all targets denied: 403, no upstream call',
    async () => {
      const before = await chatsOf(mockDenied);
      for (let i = 0; i < 4; i++) {
        const r = await call(keys.plain, { model: 'two' });
        ok(r, `two #${i}`);
        assert.equal(r.headers['x-torii-provider'], 'pb', `two #${i}`);
      }
      assertDenied(await call(keys.plain, { model: 'all-denied' }), 'no-pdenied', 'all-denied');
      assertDenied(await call(keys.plain, { model: 'pdenied/mock-1' }), 'no-pdenied', 'direct');
      assert.equal(await chatsOf(mockDenied), before, 'the denied providers were never called');
      // count_tokens asks the first target authorization left: not the denied Anthropic one
      // (which would count natively), so the answer is the estimate.
      const calls = (await mockStats(mockDenied.url)).requests;
      const ct = await call(keys.plain, { style: 'x-api-key', apiPath: '/v1/messages/count_tokens',
        body: { model: 'ct-two', messages: [{ role: 'user', content: 'count me' }] } });
      ok(ct, 'count_tokens past a denied target');
      assert.equal(ct.headers['x-torii-estimated'], 'true', ct.text);
      // (+1: the mock counts the GET /mock/stats that reads the count.)
      assert.equal((await mockStats(mockDenied.url)).requests, calls + 1,
        'count_tokens never called the denied provider');
    });

  test('time and weekday rules (UTC)', async () => {
    // The windows were computed at start, +-10 min around then; a day change since then would
    // invalidate the weekday case.
    assert.equal(new Date().getUTCDay(), clockAtStart.getUTCDay(), 'test ran across midnight');
    assertDenied(await call(keys.twNow), 'time-now', 'window holding now');
    ok(await call(keys.twLater), 'window 1-2 h ahead');
    // Windows that wrap midnight (from > to), whatever the time of day: [now+60 min, now+30 min)
    // holds now, [now+30 min, now-30 min) does not.
    assertDenied(await call(keys.wrapIn), 'time-wrap-in', 'wrapping window holding now');
    ok(await call(keys.wrapOut), 'wrapping window around now');
    assertDenied(await call(keys.wdToday), 'weekday-today', 'today');
    ok(await call(keys.wdOther), 'every other weekday');
  });

  // --- JWT ----------------------------------------------------------------------------------

  const tok = (key, claims = {}, opts) =>
    rememberToken(signToken(key, { iss: ISS, aud: 'torii', sub: 'alice', ...claims }, opts));

  test('JWT: RS256, ES256 and EdDSA tokens from the JWKS URL; HS256 with hmac_secret', async () => {
    for (const k of [idp.rsa, idp.ec, idp.ed]) {
      for (const style of ['bearer', 'x-api-key', 'api-key']) {
        ok(await call(tok(k), { style }), `${k.alg} ${style}`);
      }
    }
    ok(await call(tok(idp.rsa, { aud: ['other', 'torii'] })), 'aud as a list');
    ok(await call(tok(idp.rsa, { exp: nowS() - 10 })), 'expired 10 s ago, within the leeway');
    const hs = (claims) => rememberToken(signHs256(hmacSecret,
      { iss: HS_ISS, aud: 'torii-alt', sub: 'svc', ...claims }));
    ok(await call(hs()), 'HS256');
    assertUnauthenticated(await call(hs({ aud: 'nobody' })), 'invalid_token', 'HS256 wrong aud');
    const forged = rememberToken(signHs256(crypto.randomBytes(36).toString('base64url'),
      { iss: HS_ISS, aud: 'torii', sub: 'svc' }));
    assertUnauthenticated(await call(forged), 'invalid_token', 'HS256 with another secret');
    // The RSA issuer does not list HS256: an HMAC token claiming it is refused.
    const hsAtRsa = rememberToken(signHs256(hmacSecret, { iss: ISS, aud: 'torii', sub: 'x' }));
    assertUnauthenticated(await call(hsAtRsa), 'invalid_token', 'HS256 at an RS issuer');
  });

  test('JWT: every bad token is 401 invalid_token', async () => {
    const now = nowS();
    const bad = [
      ['expired', tok(idp.rsa, { exp: now - 3600, iat: now - 7200 })],
      ['not yet valid', tok(idp.ec, { nbf: now + 3600 })],
      ['wrong aud', tok(idp.rsa, { aud: 'someone-else' })],
      ['wrong iss', tok(idp.rsa, { iss: 'https://evil.test/' })],
      ['bad signature', rememberToken(tamperSignature(tok(idp.ed)))],
      ['payload swapped', rememberToken(swapPayload(tok(idp.rsa),
        { iss: ISS, aud: 'torii', sub: 'root', exp: now + 300, groups: ['jwt-readers'] }))],
      ['signed by an unknown key', tok(idp.stranger)],
      ['unknown key using a known kid', tok(idp.stranger, {}, { header: { kid: idp.ec.kid } })],
      ['ES256 signature in DER, not JOSE r||s', tok(idp.ec, {}, { dsaEncoding: 'der' })],
      ['RS256 naming the kid of the EC key', tok(idp.rsa, {}, { header: { kid: idp.ec.kid } })],
      ['EdDSA header on an RS256 signature', tok(idp.rsa, {}, { header: { alg: 'EdDSA' } })],
      ['alg none', rememberToken(unsignedToken({ iss: ISS, aud: 'torii', sub: 'x' },
        idp.rsa.kid) + 'c2ln')],
    ];
    for (const [what, t] of bad) assertUnauthenticated(await call(t), 'invalid_token', what);
    // alg none with an empty signature part: refused either as a token or as an unknown key.
    const none = unsignedToken({ iss: ISS, aud: 'torii', sub: 'x' }, idp.rsa.kid);
    secrets.add(none);
    assertUnauthenticated(await call(none), undefined, 'alg none, empty signature');
  });

  test('JWT: groups claim opens a group-scoped route; metadata_claims reach a rule', async () => {
    ok(await call(tok(idp.ec, { groups: ['x', 'jwt-readers'] }), { model: 'r-jwt' }), 'groups');
    ok(await call(tok(idp.ec, { groups: 'jwt-readers' }), { model: 'r-jwt' }), 'groups string');
    const no = await call(tok(idp.ec, { groups: ['x'] }), { model: 'r-jwt' });
    assert.equal(assertOpenAIError(no, 404, 'not in the group').code, 'model_not_found');
    const intern = tok(idp.ed, { team: 'interns' });
    assertDenied(await call(intern), 'interns-models', 'team claim -> metadata team');
    ok(await call(intern, { model: 'mistral/small' }), 'interns on an allowed model');
    ok(await call(tok(idp.ed, { team: 'staff' })), 'another team');
  });

  test('JWT: consumer (sub) and claim conditions', async () => {
    assertDenied(await call(tok(idp.rsa, { sub: 'blocked-user' })), 'jwt-blocked-sub');
    assertDenied(await call(tok(idp.rsa, { roles: ['reader', 'suspended'] })),
      'jwt-suspended-role', 'one element of an array claim');
    ok(await call(tok(idp.rsa, { roles: ['reader'] })), 'roles without suspended');
    // A token's key name is "jwt:<issuer>".
    const hs = rememberToken(signHs256(hmacSecret, { iss: HS_ISS, aud: 'torii', sub: 'svc' }));
    assertDenied(await call(hs, { headers: { 'x-probe': 'jwtkey' } }), 'probe-jwt-key');
    ok(await call(tok(idp.rsa), { headers: { 'x-probe': 'jwtkey' } }), 'the other issuer');
  });

  // Last of the JWT tests: the RSA key it rotates out is gone afterwards.
  test('JWT: IdP key rotation refetches the JWKS on the first unknown kid', async () => {
    ok(await call(tok(idp.rsa)), 'before rotation');
    assertUnauthenticated(await call(tok(idp.next)), 'invalid_token', 'new kid, not yet published');
    await sleep(1200);  // past jwks_min_refetch_s
    const before = jwksSrv.requests();
    jwksSrv.setKeys([idp.next, idp.ec, idp.ed]);
    const r = await call(tok(idp.next));
    ok(r, 'the first token with the new kid');
    const afterFirst = jwksSrv.requests();
    assert.ok(afterFirst > before, `JWKS refetched: ${before} -> ${afterFirst}`);
    for (let i = 0; i < 6; i++) ok(await call(tok(idp.next)), `new kid #${i}`);
    assert.ok(jwksSrv.requests() - afterFirst <= 2,
      `the new key set is cached: ${jwksSrv.requests() - afterFirst} more fetches`);
  });
});

describe('identity: logs', () => {
  test('no presented key, token or HMAC secret in the gateway log', () => checkLogs(1));
});
