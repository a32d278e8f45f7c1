// `torii check --config FILE`: exit 0 for a good file; exit 1 with file:line for a bad one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { renderConfig, runTorii, tempDir } from '../lib/harness.mjs';

const dir = tempDir();
const env = { CHECK_PROVIDER_KEY: 'sk-check-provider', CHECK_API_KEY: 'sk-check-client' };

const goodSpec = {
  providers: [{ name: 'local', base_url: 'http://127.0.0.1:9/v1',
    api_key_env: 'CHECK_PROVIDER_KEY', models: ['mock-1'] }],
  routes: [{ name: 'fast', targets: ['local/mock-1'] }],
  apiKeys: [{ name: 'team', env: 'CHECK_API_KEY' }],
};

function write(name, text) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** 1-based line number of the first line of `text` containing `needle`. */
function lineOf(text, needle) {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} in config`);
  return i + 1;
}

/** Asserts exit 1 and a "<basename>:<line>" mention with line in [lo, hi]. */
function assertRejected(file, lo, hi) {
  const r = runTorii(['check', '--config', file], { env });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 1, `exit status for ${path.basename(file)}; output:\n${out}`);
  const base = path.basename(file).replace(/\./g, '\\.');
  const m = new RegExp(`${base}:(\\d+)`).exec(out);
  assert.ok(m, `output names ${path.basename(file)}:LINE:\n${out}`);
  const line = Number(m[1]);
  assert.ok(line >= lo && line <= hi, `reported line ${line}, expected ${lo}..${hi}:\n${out}`);
  return out;
}

describe('torii check', () => {
  test('a good config exits 0', () => {
    const file = write('good.yaml', renderConfig(goodSpec));
    const r = runTorii(['check', '--config', file], { env });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('an unknown provider kind exits 1 with file:line', () => {
    const text = renderConfig(goodSpec).replace('kind: "openai-compatible"',
      'kind: "no-such-vendor"');
    const file = write('bad.yaml', text);
    assertRejected(file, lineOf(text, '- name: "local"'), lineOf(text, 'no-such-vendor'));
  });

  test('a route to an unknown provider exits 1 with file:line', () => {
    const text = renderConfig({ ...goodSpec,
      routes: [{ name: 'fast', targets: ['ghost/mock-1'] }] });
    const file = write('bad-route.yaml', text);
    assertRejected(file, lineOf(text, '- name: "fast"'), lineOf(text, 'ghost/mock-1'));
  });

  test('a YAML syntax error exits 1 with file:line', () => {
    const text = renderConfig(goodSpec).replace('models: ["mock-1"]', 'models: ["mock-1"');
    const file = write('bad-syntax.yaml', text);
    const l = lineOf(text, 'models: ["mock-1"');
    assertRejected(file, l, l + 2);
  });

  test('an unresolvable secret exits 1, naming the reference only', () => {
    delete process.env.TORII_CHECK_UNSET_VAR;
    const spec = { ...goodSpec, providers: [{ ...goodSpec.providers[0],
      api_key_env: 'TORII_CHECK_UNSET_VAR' }] };
    const file = write('bad-secret.yaml', renderConfig(spec));
    const r = runTorii(['check', '--config', file], { env });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 1, out);
    assert.match(out, /TORII_CHECK_UNSET_VAR/);
    assert.ok(!out.includes('sk-check-client'), 'no secret value printed');
  });

  test('a missing file exits 1', () => {
    const r = runTorii(['check', '--config', path.join(dir, 'nope.yaml')], { env });
    assert.equal(r.status, 1, r.stdout + r.stderr);
  });
});
