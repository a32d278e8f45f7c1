// Egress control (docs/SECURITY.md, "Egress"): provider calls never reach a loopback, private
// or link-local (cloud metadata) address unless egress.allow_networks holds it. Refused at load
// for a literal address (torii check), and at connect for what a name resolves to (DNS
// rebinding), in which case the route fails over.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  randomKey, renderConfig, runTorii, startGateway, startMock, tempDir,
} from '../lib/harness.mjs';
import { chat, chatBody, request } from '../lib/http.mjs';

const dir = tempDir();
const env = { TORII_TEST_API_KEY: randomKey('sk-torii-test') };
const apiKeys = [{ name: 'team-test', env: 'TORII_TEST_API_KEY' }];

function write(name, spec) {
  const file = path.join(dir, name);
  const text = renderConfig({ apiKeys, ...spec });
  fs.writeFileSync(file, text);
  return { file, text };
}

function check(file) {
  const r = runTorii(['check', '--config', file], { env });
  return { status: r.status, out: r.stdout + r.stderr };
}

async function chatStats(mock) {
  const r = await request(`${mock.url}/mock/stats`);
  assert.equal(r.status, 200, r.text);
  return r.json.chat_requests;
}

describe('egress: SSRF through config is refused at load', () => {
  test('a base_url at the cloud metadata address fails torii check', () => {
    const { file } = write('metadata.yaml', {
      providers: [{ name: 'meta', base_url: 'http://169.254.169.254/v1' }],
      egress: null,
    });
    const r = check(file);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /provider 'meta': base_url host 169\.254\.169\.254 is link-local; egress refuses it \(allow it with egress\.allow_networks\)/);
  });

  test('other refused literals too, whatever the egress section allows elsewhere', () => {
    for (const [url, why] of [
      ['http://10.0.0.7:8000/v1', 'private'],
      ['http://[::ffff:169.254.169.254]/v1', 'link-local'],
      ['http://[::1]:8080/v1', 'loopback'],
      ['http://100.64.1.1/v1', 'CGNAT'],
    ]) {
      const { file } = write('literal.yaml', {
        providers: [{ name: 'p', base_url: url }],
        egress: { allow_networks: ['192.168.0.0/16'] },
      });
      const r = check(file);
      assert.equal(r.status, 1, `${url}: ${r.out}`);
      assert.ok(r.out.includes(`is ${why}; egress refuses it`), `${url}: ${r.out}`);
    }
  });

  test('allow_networks makes the same config valid', () => {
    const { file } = write('metadata-allowed.yaml', {
      providers: [{ name: 'meta', base_url: 'http://169.254.169.254/v1' }],
      egress: { allow_networks: ['169.254.169.254/32'] },
    });
    const r = check(file);
    assert.equal(r.status, 0, r.out);
  });
});

describe('egress: config errors', () => {
  test('a bad CIDR is an error with file:line:path', () => {
    const { file, text } = write('bad-cidr.yaml', {
      providers: [{ name: 'p', base_url: 'https://api.example.com/v1' }],
      egress: ['allow_networks:', '  - 10.0.0.0/8', '  - 10.1.2.0/16', '  - not-a-cidr/8',
        '  - "::1/129"'],
    });
    const lines = text.split('\n');
    const at = (needle) => lines.findIndex((l) => l.includes(needle)) + 1;
    const r = check(file);
    assert.equal(r.status, 1, r.out);
    assert.ok(r.out.includes(`bad-cidr.yaml:${at('10.1.2.0/16')}: egress.allow_networks[1]: ` +
      "'10.1.2.0/16' is not a network (CIDR): host bits are set (the network is 10.1.0.0/16)"),
    r.out);
    assert.ok(r.out.includes(`bad-cidr.yaml:${at('not-a-cidr')}: egress.allow_networks[2]: `),
      r.out);
    assert.ok(r.out.includes(`bad-cidr.yaml:${at('::1/129')}: egress.allow_networks[3]: `) &&
      r.out.includes('0 to 128'), r.out);
    assert.ok(!r.out.includes('allow_networks[0]'), r.out);
  });

  test('allow_hosts takes host names, not URLs; unknown keys are named', () => {
    const { file } = write('bad-hosts.yaml', {
      providers: [{ name: 'p', base_url: 'https://api.example.com/v1' }],
      egress: ['allow_hosts: ["https://internal.corp/"]', 'allow_network: [10.0.0.0/8]'],
    });
    const r = check(file);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /egress\.allow_hosts\[0\]: must be a host name/);
    assert.match(r.out, /egress\.allow_network: unknown key \(did you mean allow_networks\?\)/);
  });
});

describe('egress: the resolved address is checked at connect', () => {
  let mock;
  const gateways = [];
  before(async () => {
    mock = await startMock();
  });
  after(async () => {
    await Promise.all([mock, ...gateways].filter(Boolean).map((p) => p.stop()));
  });

  async function gateway(name, spec) {
    const { file } = write(name, spec);
    const gw = await startGateway(file, { env });
    gateways.push(gw);
    return gw;
  }

  test('DNS rebinding: an allowed provider name that resolves to loopback gets 502 ' +
    'egress_denied, and the upstream sees nothing', async () => {
    const gw = await gateway('rebind.yaml', {
      providers: [{ name: 'rebind', base_url: `http://localhost:${mock.port}/v1` }],
      egress: null,  // no allow_networks at all
    });
    const before = await chatStats(mock);
    for (let i = 0; i < 3; i++) {
      const r = await chat(gw.url, env.TORII_TEST_API_KEY, chatBody('rebind/mock-1'));
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json.error.code, 'egress_denied', r.text);
      assert.match(r.json.error.message,
        /^egress refused: upstream host localhost resolved to (127\.0\.0\.1|::1) \(loopback\); allow it with egress\.allow_networks/);
    }
    assert.equal(await chatStats(mock), before, 'the mock received no chat request');
    assert.match(gw.stderr(), /egress refused: upstream host localhost/, 'logged');
  });

  test('the same config with allow_networks [127.0.0.0/8] works', async () => {
    const gw = await gateway('rebind-allowed.yaml', {
      providers: [{ name: 'rebind', base_url: `http://localhost:${mock.port}/v1` }],
      egress: { allow_networks: ['127.0.0.0/8'] },
    });
    const before = await chatStats(mock);
    const r = await chat(gw.url, env.TORII_TEST_API_KEY, chatBody('rebind/mock-1'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(await chatStats(mock), before + 1);
  });

  test('a refused first target fails over to the next (200, two attempts)', async () => {
    // "127.2" is 127.0.0.2 in inet_aton's short form: no literal for the load check (the URL
    // host is a name), but the resolver turns it into a loopback address that the allowed
    // 127.0.0.1/32 does not hold. Refused at connect, then the route fails over.
    const gw = await gateway('failover.yaml', {
      providers: [
        { name: 'sneaky', base_url: `http://127.2:${mock.port}/v1` },
        { name: 'good', base_url: `http://127.0.0.1:${mock.port}/v1` },
      ],
      routes: [{ name: 'pair', targets: ['sneaky/mock-1', 'good/mock-1'] }],
      egress: { allow_networks: ['127.0.0.1/32'] },
    });
    const before = await chatStats(mock);
    const r = await chat(gw.url, env.TORII_TEST_API_KEY, chatBody('pair'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-torii-attempts'], '2');
    assert.equal(r.headers['x-torii-provider'], 'good');
    assert.equal(await chatStats(mock), before + 1, 'only the good target reached the mock');

    const direct = await chat(gw.url, env.TORII_TEST_API_KEY, chatBody('sneaky/mock-1'));
    assert.equal(direct.status, 502, direct.text);
    assert.equal(direct.json.error.code, 'egress_denied');
    assert.match(direct.json.error.message, /upstream host 127\.2 resolved to 127\.0\.0\.2 \(loopback\)/);
  });
});
