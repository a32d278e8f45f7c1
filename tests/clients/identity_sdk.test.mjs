// Identity through the official SDKs, unchanged (issue 5): the `openai` client (Authorization:
// Bearer, also with a JWT as its key), its AzureOpenAI client (api-key), and `@anthropic-ai/sdk`
// (Bearer by default, x-api-key when set as a default header) authenticate against torii; a
// bad key surfaces as the SDK's typed AuthenticationError (401), an authorization denial as
// PermissionDeniedError (403) naming the rule.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { AzureOpenAI } from 'openai';
import { renderConfig, startGateway, startMock, tempDir } from '../lib/harness.mjs';
import { signHs256 } from '../lib/jwt_fixture.mjs';
import { rejectsWith } from '../lib/sdk.mjs';

const messages = [{ role: 'user', content: 'Tell the identity SDK test something.' }];
const AZURE_API_VERSION = '2024-10-21';
const DEPLOYMENT = 'torii';

// AzureOpenAI posts to {endpoint}/openai/deployments/{deployment}/chat/completions
// ?api-version=..., which torii serves as /v1/chat/completions (the body's model routes).

const newKey = () => `tk-${crypto.randomBytes(32).toString('base64url')}`;


/** Which auth headers each client configuration puts on the wire (a local capture server). */
async function captureAuthHeaders(make) {
  let seen;
  const srv = http.createServer((req, res) => {
    seen = { authorization: req.headers.authorization, 'x-api-key': req.headers['x-api-key'],
      'api-key': req.headers['api-key'], url: req.url };
    req.resume();
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"captured","type":"authentication_error"}}');
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    await make(`http://127.0.0.1:${srv.address().port}`).catch(() => {});
  } finally {
    srv.closeAllConnections();
    await new Promise((resolve) => srv.close(resolve));
  }
  return seen;
}

describe('identity through the official SDKs', () => {
  let mock;
  let gw;
  const key = newKey();
  const internKey = newKey();
  const hmacSecret = crypto.randomBytes(36).toString('base64url');
  const ISS = 'https://sdk-idp.test/';

  before(async () => {
    mock = await startMock();
    const dir = tempDir();
    const base = renderConfig({
      providers: [{ name: 'local', base_url: `${mock.url}/v1`, models: ['mock-1'] },
        { name: 'mistral', base_url: `${mock.url}/v1`, models: ['small'] }],
      routes: [{ name: 'fast', targets: ['local/mock-1'] }],
      apiKeys: [],
    }).split('\nauth:\n')[0];
    const file = path.join(dir, 'sdk.yaml');
    fs.writeFileSync(file, `${base}
egress:
  allow_networks: [127.0.0.0/8]
auth:
  api_keys:
    - name: sdk
      key: "\${env:SDK_KEY}"
    - name: sdk-intern
      key: "\${env:SDK_INTERN_KEY}"
      metadata: {team: interns}
  jwt:
    - issuer: "${ISS}"
      audience: torii
      hmac_secret: "\${env:SDK_HS_SECRET}"
      algorithms: [HS256]
authorization:
  rules:
    - id: interns-models
      when: [{metadata: team, equals: interns}, {model: ["mistral/*"], not: true}]
`);
    gw = await startGateway(file, { env: { SDK_KEY: key, SDK_INTERN_KEY: internKey,
      SDK_HS_SECRET: hmacSecret } });
  });

  after(async () => {
    await Promise.all([gw, mock].filter(Boolean).map((p) => p.stop()));
    // The keys the SDKs presented never reach the logs.
    const log = gw ? gw.stderr() : '';
    for (const s of [key, internKey, hmacSecret]) assert.ok(!log.includes(s), 'a key is logged');
  });

  const openai = (apiKey) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0,
    timeout: 10_000 });
  const azure = (apiKey, endpoint = gw.url) => new AzureOpenAI({ endpoint, apiKey,
    apiVersion: AZURE_API_VERSION, deployment: DEPLOYMENT, maxRetries: 0, timeout: 10_000 });
  const anthropic = (apiKey, baseURL = gw.url) =>
    new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
  // The Anthropic SDK's own escape hatch for x-api-key: no apiKey, an explicit header.
  const anthropicXApiKey = (apiKey, baseURL = gw.url) => new Anthropic({ baseURL, apiKey: null,
    authToken: null, defaultHeaders: { 'x-api-key': apiKey }, maxRetries: 0, timeout: 10_000 });

  test('each client puts the expected auth header on the wire', async () => {
    const o = await captureAuthHeaders((b) => new OpenAI({ baseURL: `${b}/v1`, apiKey: 'K1',
      maxRetries: 0 }).chat.completions.create({ model: 'fast', messages }));
    assert.equal(o.authorization, 'Bearer K1');
    const z = await captureAuthHeaders((b) => azure('K2', b).chat.completions
      .create({ model: 'fast', messages }));
    assert.equal(z['api-key'], 'K2');
    assert.equal(z.authorization, undefined);
    assert.match(z.url, /^\/openai\/deployments\/torii\/chat\/completions\?api-version=/);
    const a = await captureAuthHeaders((b) => anthropic('K3', b).messages
      .create({ model: 'fast', max_tokens: 10, messages }));
    assert.equal(a.authorization, 'Bearer K3');
    const x = await captureAuthHeaders((b) => anthropicXApiKey('K4', b).messages
      .create({ model: 'fast', max_tokens: 10, messages }));
    assert.equal(x['x-api-key'], 'K4');
    assert.equal(x.authorization, undefined);
  });

  test('openai SDK (Bearer): chat and models', async () => {
    const c = await openai(key).chat.completions.create({ model: 'fast', messages });
    assert.equal(c.object, 'chat.completion');
    assert.ok(c.choices[0].message.content.length > 0);
    const ids = [];
    for await (const m of openai(key).models.list()) ids.push(m.id);
    assert.ok(ids.includes('local/mock-1'), JSON.stringify(ids));
  });

  test('openai SDK with a JWT as its key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = signHs256(hmacSecret, { iss: ISS, aud: 'torii', sub: 'sdk-user', exp: now + 300 });
    const c = await openai(token).chat.completions.create({ model: 'fast', messages });
    assert.equal(c.object, 'chat.completion');
    const expired = signHs256(hmacSecret, { iss: ISS, aud: 'torii', sub: 'u', exp: now - 3600 });
    const e = await rejectsWith(openai(expired).chat.completions.create({ model: 'fast',
      messages }), OpenAI.AuthenticationError, 401);
    assert.equal(e.code, 'invalid_token');
  });

  test('AzureOpenAI client (api-key) authenticates', async () => {
    const c = await azure(key).chat.completions.create({ model: 'fast', messages });
    assert.equal(c.object, 'chat.completion');
    assert.ok(c.choices[0].message.content.length > 0);
  });

  test('plain fetch with an api-key header', async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST',
      headers: { 'api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', messages }) });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal((await r.json()).object, 'chat.completion');
  });

  test('anthropic SDK: Bearer and x-api-key both authenticate', async () => {
    for (const client of [anthropic(key), anthropicXApiKey(key)]) {
      const msg = await client.messages.create({ model: 'fast', max_tokens: 64, messages });
      assert.equal(msg.type, 'message');
      assert.ok(msg.content[0].text.length > 0);
    }
  });

  test('a bad key: AuthenticationError (401) in every SDK, the key never echoed', async () => {
    const bad = newKey();
    const checks = [
      [() => openai(bad).chat.completions.create({ model: 'fast', messages }),
        OpenAI.AuthenticationError],
      [() => openai(bad).models.list(), OpenAI.AuthenticationError],
      [() => azure(bad).chat.completions.create({ model: 'fast', messages }),
        OpenAI.AuthenticationError],
      [() => anthropic(bad).messages.create({ model: 'fast', max_tokens: 10, messages }),
        Anthropic.AuthenticationError],
      [() => anthropicXApiKey(bad).messages.create({ model: 'fast', max_tokens: 10, messages }),
        Anthropic.AuthenticationError],
    ];
    // One at a time (a promise made early and awaited late counts as an unhandled rejection).
    for (const [call, Cls] of checks) {
      const e = await rejectsWith(call(), Cls, 401);
      assert.ok(!e.message.includes(bad), `the error echoes the key: ${e.message}`);
      assert.ok(!JSON.stringify(e.error || {}).includes(bad), 'the error body echoes the key');
    }
  });

  test('a denial: PermissionDeniedError (403) naming the rule in every SDK', async () => {
    const checks = [
      [() => openai(internKey).chat.completions.create({ model: 'fast', messages }),
        OpenAI.PermissionDeniedError],
      [() => azure(internKey).chat.completions.create({ model: 'local/mock-1', messages }),
        OpenAI.PermissionDeniedError],
      [() => anthropic(internKey).messages.create({ model: 'fast', max_tokens: 10, messages }),
        Anthropic.PermissionDeniedError],
      [() => anthropicXApiKey(internKey).messages.countTokens({ model: 'local/mock-1',
        messages }), Anthropic.PermissionDeniedError],
    ];
    for (const [call, Cls] of checks) {
      const e = await rejectsWith(call(), Cls, 403);
      assert.match(e.message, /'interns-models'/, e.message);
      assert.ok(!/mistral/.test(e.message), `the condition leaks: ${e.message}`);
    }
    // OpenAI's typed fields.
    const e = await rejectsWith(openai(internKey).chat.completions.create({ model: 'fast',
      messages }), OpenAI.PermissionDeniedError, 403);
    assert.equal(e.code, 'access_denied');
    assert.equal(e.type, 'permission_error');
    // Anthropic's error body shape.
    const a = await rejectsWith(anthropic(internKey).messages.create({ model: 'fast',
      max_tokens: 10, messages }), Anthropic.PermissionDeniedError, 403);
    assert.equal(a.error.type, 'error', JSON.stringify(a.error));
    assert.equal(a.error.error.type, 'permission_error', JSON.stringify(a.error));
    // The same key on an allowed model goes through.
    const ok = await openai(internKey).chat.completions.create({ model: 'mistral/small',
      messages });
    assert.equal(ok.object, 'chat.completion');
  });
});
