// The vault (docs/SECURITY.md, Vault): provider keys read through ${vault:NAME/KEY} from a
// HashiCorp Vault KV v2 (a node fake) and from the local encrypted store written by
// `torii vault put`; a rotated value reaches the upstream without a restart (ttl_s: 1);
// `torii check` reports vault failures clearly; and no secret ever appears in the logs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ms, randomKey, runTorii, startGateway, startMock, tempDir, TORII_BIN, waitFor,
} from '../lib/harness.mjs';
import { chat, chatBody, mockLast } from '../lib/http.mjs';
import { startVaultFake } from '../lib/vault_fake.mjs';

const API_KEY = randomKey('sk-torii-vault-test');
const VAULT_TOKEN = randomKey('hvs-token');
const BAD_TOKEN = randomKey('hvs-wrong');
const MASTER_KEY = randomBytes(32).toString('hex');
const PROVIDER_KEYS = {
  first: randomKey('sk-vault-first'),
  rotated: randomKey('sk-vault-rotated'),
  local: randomKey('sk-vault-local'),
};
const ENV = {
  TORII_TEST_API_KEY: API_KEY,
  TORII_TEST_VAULT_TOKEN: VAULT_TOKEN,
  TORII_TEST_BAD_TOKEN: BAD_TOKEN,
  TORII_TEST_MASTER_KEY: MASTER_KEY,
};
// Every value that must never be logged.
const SECRETS = [API_KEY, VAULT_TOKEN, BAD_TOKEN, MASTER_KEY, ...Object.values(PROVIDER_KEYS)];

// A gateway config: one provider whose api_key is ${vault:openai/api_key}, under `vault`.
function config(mockUrl, vaultLines) {
  return [
    'server:',
    '  listen: "127.0.0.1:0"',
    '  workers: 2',
    '  shutdown_grace_ms: 2000',
    'vault:',
    ...vaultLines.map((l) => `  ${l}`),
    'egress:',
    '  allow_networks: [127.0.0.0/8]',
    'providers:',
    '  - name: local',
    '    kind: openai-compatible',
    `    base_url: "${mockUrl}/v1"`,
    '    api_key: "${vault:openai/api_key}"',
    '    models: [mock-1]',
    'auth:',
    '  api_keys:',
    '    - name: team',
    '      key: "${env:TORII_TEST_API_KEY}"',
    '',
  ].join('\n');
}

// `torii ...args` without blocking the event loop (the vault fake runs in this process).
function runAsync(args, env) {
  return new Promise((resolve, reject) => {
    const proc = spawn(TORII_BIN, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), ms(20_000));
    proc.once('error', reject);
    proc.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function upstreamAuthorization(gw, mock) {
  const r = await chat(gw.url, API_KEY, chatBody('local/mock-1'));
  assert.equal(r.status, 200, r.text);
  return (await mockLast(mock.url)).headers.authorization;
}

describe('vault', () => {
  let mock;
  let fake;
  let dir;
  const logs = [];  // stderr of every torii process of this file

  before(async () => {
    dir = tempDir();
    mock = await startMock();
    fake = await startVaultFake({ token: VAULT_TOKEN });
    fake.set('openai', { api_key: PROVIDER_KEYS.first, org: 'org-1' });
  });

  after(async () => {
    await mock?.stop();
    await fake?.stop();
    logs.push(mock?.stderr() || '');
    // The log check: nothing this file's processes wrote holds a secret value.
    const all = logs.join('\n');
    for (const s of SECRETS) assert.ok(!all.includes(s), `a secret value appears in the logs`);
  });

  test('hashicorp: the provider key comes from the vault and rotates without a restart',
    async () => {
      const file = path.join(dir, 'hashicorp.yaml');
      fs.writeFileSync(file, config(mock.url, [
        'backend: hashicorp',
        `address: "${fake.url}"`,
        'token: "${env:TORII_TEST_VAULT_TOKEN}"',
        'namespace: team-a',
        'ttl_s: 1',
      ]));
      const gw = await startGateway(file, { env: ENV });
      try {
        assert.equal(await upstreamAuthorization(gw, mock), `Bearer ${PROVIDER_KEYS.first}`);
        const reads = fake.seen();
        assert.ok(reads.length >= 1);
        assert.equal(reads[0].token, VAULT_TOKEN);
        assert.equal(reads[0].namespace, 'team-a');
        assert.equal(reads[0].url, '/v1/secret/data/openai');

        fake.set('openai', { api_key: PROVIDER_KEYS.rotated, org: 'org-1' });
        const seen = await waitFor(async () => {
          const auth = await upstreamAuthorization(gw, mock);
          return auth === `Bearer ${PROVIDER_KEYS.rotated}` ? auth : null;
        }, ms(8_000), 'the rotated key to reach the upstream', 200);
        assert.equal(seen, `Bearer ${PROVIDER_KEYS.rotated}`);
        await waitFor(() => gw.stderr().includes('vault: secrets changed, reloading'), ms(2_000),
          'the reload log line');
        // Unchanged values do not reload again and again.
        const reloads = () => gw.stderr().split('vault: secrets changed, reloading').length - 1;
        const before = reloads();
        await new Promise((r) => setTimeout(r, 2500));
        assert.equal(reloads(), before);
      } finally {
        await gw.stop();
        logs.push(gw.stderr());
      }
    });

  test('hashicorp: torii check names the failure, never the token', async () => {
    const bad = path.join(dir, 'bad-token.yaml');
    fs.writeFileSync(bad, config(mock.url, [
      'backend: hashicorp',
      `address: "${fake.url}"`,
      'token: "${env:TORII_TEST_BAD_TOKEN}"',
    ]));
    const r = await runAsync(['check', '--config', bad], ENV);
    logs.push(r.stderr, r.stdout);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /providers\[0\]\.api_key: .*permission denied \(check the token\)/);
    assert.ok(!r.stderr.includes(BAD_TOKEN));

    const unknown = path.join(dir, 'unknown.yaml');
    fs.writeFileSync(unknown, config(mock.url, [
      'backend: hashicorp',
      `address: "${fake.url}"`,
      'token: "${env:TORII_TEST_VAULT_TOKEN}"',
      'mount: other',
    ]));
    const r2 = await runAsync(['check', '--config', unknown], ENV);
    logs.push(r2.stderr, r2.stdout);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /secret openai not found/);

    fake.set('nokey', { other: 'x' });
    const nokey = path.join(dir, 'nokey.yaml');
    fs.writeFileSync(nokey, config(mock.url, [
      'backend: hashicorp',
      `address: "${fake.url}"`,
      'token: "${env:TORII_TEST_VAULT_TOKEN}"',
    ]).replace('${vault:openai/api_key}', '${vault:nokey/api_key}'));
    const r3 = await runAsync(['check', '--config', nokey], ENV);
    logs.push(r3.stderr, r3.stdout);
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /key api_key not in secret nokey/);

    const good = path.join(dir, 'hashicorp.yaml');
    const ok = await runAsync(['check', '--config', good], ENV);
    logs.push(ok.stderr, ok.stdout);
    assert.equal(ok.status, 0, ok.stderr);
  });

  test('local store: torii vault put, then a gateway reads it', async () => {
    const store = path.join(dir, 'store.json');
    const vaultEnv = { ...process.env, TORII_VAULT_MASTER_KEY: MASTER_KEY };
    const put = spawnSync(TORII_BIN, ['vault', 'put', 'openai/api_key', '--store', store], {
      env: vaultEnv, input: `${PROVIDER_KEYS.local}\n`, encoding: 'utf8', timeout: ms(10_000),
    });
    logs.push(put.stderr, put.stdout);
    assert.equal(put.status, 0, put.stderr);
    assert.equal(fs.statSync(store).mode & 0o777, 0o600);
    assert.ok(!fs.readFileSync(store, 'utf8').includes(PROVIDER_KEYS.local));

    const list = spawnSync(TORII_BIN, ['vault', 'list', '--store', store],
      { env: vaultEnv, encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout, 'openai/api_key\n');
    const get = spawnSync(TORII_BIN, ['vault', 'get', 'openai/api_key', '--store', store],
      { env: vaultEnv, encoding: 'utf8' });
    assert.equal(get.status, 0, get.stderr);
    assert.equal(get.stdout, `${PROVIDER_KEYS.local}\n`);
    const wrong = spawnSync(TORII_BIN, ['vault', 'get', 'openai/api_key', '--store', store,
      '--master-key-env', 'TORII_TEST_OTHER_KEY'],
    { env: { ...vaultEnv, TORII_TEST_OTHER_KEY: 'ff'.repeat(32) }, encoding: 'utf8' });
    logs.push(wrong.stderr);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /failed authentication \(tampered, or wrong master key\)/);
    const fresh = runTorii(['vault', 'new-master-key']);
    assert.equal(fresh.status, 0);
    assert.match(fresh.stdout, /^[0-9a-f]{64}\n$/);

    const file = path.join(dir, 'local.yaml');
    fs.writeFileSync(file, config(mock.url, [
      'backend: local',
      `path: "${store}"`,
      'master_key: "${env:TORII_TEST_MASTER_KEY}"',
    ]));
    const gw = await startGateway(file, { env: ENV });
    try {
      assert.equal(await upstreamAuthorization(gw, mock), `Bearer ${PROVIDER_KEYS.local}`);
    } finally {
      await gw.stop();
      logs.push(gw.stderr());
    }

    // A wrong master key in the config: check fails with the entry named, no key shown.
    const wrongCfg = path.join(dir, 'local-wrong.yaml');
    fs.writeFileSync(wrongCfg, fs.readFileSync(file, 'utf8')
      .replace('TORII_TEST_MASTER_KEY', 'TORII_TEST_OTHER_MASTER'));
    const c = runTorii(['check', '--config', wrongCfg],
      { env: { ...ENV, TORII_TEST_OTHER_MASTER: 'ee'.repeat(32) } });
    logs.push(c.stderr, c.stdout);
    assert.equal(c.status, 1);
    assert.match(c.stderr, /vault entry openai\/api_key failed authentication/);
  });
});
