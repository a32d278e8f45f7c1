// Process harness for the integration and client suites: starts `torii mock` and
// `torii serve` as child processes on port 0, waits for their "listening on" line, writes
// temporary YAML configs, and makes sure no child outlives the test process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');

/** The torii binary under test: env TORII_BIN, default <repo>/build/torii. */
export const TORII_BIN = process.env.TORII_BIN
  ? path.resolve(process.env.TORII_BIN)
  : path.join(REPO_ROOT, 'build', 'torii');

/** Timeout multiplier: 5 under a sanitizer build (TORII_SLOW=1). */
export const SLOW = process.env.TORII_SLOW === '1' ? 5 : 1;

/** Scales a timeout (ms) for slow builds. */
export function ms(n) {
  return n * SLOW;
}

export function sleep(n) {
  return new Promise((resolve) => setTimeout(resolve, n));
}

/** Rejects after `timeoutMs` with `what` in the message unless `promise` settles first. */
export function withTimeout(promise, timeoutMs, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `fn` (sync or async) until it returns a truthy value; returns that value. */
export async function waitFor(fn, timeoutMs, what, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (last instanceof Error ? ` (last error: ${last.message})` : ''));
    }
    await sleep(everyMs);
  }
}

// Every child we start, so that nothing survives the test process.
const children = new Set();
process.on('exit', () => {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const child of children) {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
    }
    process.exit(130);
  });
}

// The gateway's or the mock's line (not the admin API's, printed before it).
const LISTEN_RE = /^torii (?:mock )?listening on http:\/\/([^\s:]+|\[[^\]]+\]):(\d+)/m;

/**
 * Starts `TORII_BIN ...args` and waits (10 s, scaled) for the "listening on http://H:P" line
 * on stdout. Returns a handle:
 *   { url, host, port, proc, stdout(), stderr(), exited, stop(), kill(sig) }
 * `exited` resolves to {code, signal} when the process ends. stop() sends SIGTERM, waits
 * for the exit and SIGKILLs after 5 s; it resolves to {code, signal}.
 * On timeout or early exit, throws with the process's stderr.
 */
export async function startTorii(args, { env = {}, readyTimeoutMs = ms(10_000), cwd } = {}) {
  if (!fs.existsSync(TORII_BIN)) {
    throw new Error(`torii binary not found at ${TORII_BIN} (set TORII_BIN)`);
  }
  const proc = spawn(TORII_BIN, args, {
    env: { ...process.env, ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    });
  });
  const ready = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = LISTEN_RE.exec(out);
      if (m) resolve({ host: m[1], port: Number(m[2]) });
    });
    proc.once('error', reject);
    exited.then(({ code, signal }) => reject(new Error(
      `torii ${args.join(' ')} exited (code ${code}, signal ${signal}) before listening.\n` +
      `stdout:\n${out}\nstderr:\n${err}`)));
  });
  let addr;
  try {
    addr = await withTimeout(ready, readyTimeoutMs, `torii ${args.join(' ')} to listen`);
  } catch (e) {
    proc.kill('SIGKILL');
    await withTimeout(exited, ms(5_000), 'killed torii to exit').catch(() => {});
    throw new Error(`${e.message}\nstderr so far:\n${err}`);
  }
  const handle = {
    proc,
    host: addr.host,
    port: addr.port,
    url: `http://${addr.host}:${addr.port}`,
    exited,
    stdout: () => out,
    stderr: () => err,
    kill: (sig) => proc.kill(sig),
    async stop(graceMs = ms(5_000)) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      let timer;
      const forced = new Promise((resolve) => {
        timer = setTimeout(() => { proc.kill('SIGKILL'); resolve(); }, graceMs);
      });
      await Promise.race([exited, forced]);
      clearTimeout(timer);
      return exited;
    },
  };
  return handle;
}

/** `torii mock --listen 127.0.0.1:0 ...extraArgs`. */
export function startMock(extraArgs = [], opts = {}) {
  return startTorii(['mock', '--listen', '127.0.0.1:0', '--workers', '1', ...extraArgs], opts);
}

/** `torii serve --config FILE --listen 127.0.0.1:0 ...extraArgs`. */
export function startGateway(configFile, { env = {}, extraArgs = [] } = {}) {
  return startTorii(
    ['serve', '--config', configFile, '--listen', '127.0.0.1:0', '--workers', '2', ...extraArgs],
    { env });
}

/** Runs `torii ...args` to completion (bounded); returns {status, stdout, stderr}. */
export function runTorii(args, { env = {}, timeoutMs = ms(10_000) } = {}) {
  const r = spawnSync(TORII_BIN, args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** A fresh temporary directory, removed when the process exits. */
export function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torii-test-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A random secret-looking string. */
export function randomKey(prefix) {
  return `${prefix}-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
}

function yamlString(s) {
  return JSON.stringify(String(s));  // a JSON string is a valid YAML double-quoted scalar
}

// A list item's optional `extra` settings, indented by `indent` spaces (see renderConfig).
function extraLines(extra, indent) {
  if (!extra) return [];
  const pad = ' '.repeat(indent);
  if (typeof extra === 'string' || Array.isArray(extra)) {
    const raw = typeof extra === 'string' ? extra.split('\n') : extra;
    return raw.filter((l) => l.trim() !== '').map((l) => pad + l);
  }
  // JSON is YAML flow style: objects and arrays render as they are.
  return Object.entries(extra).map(([k, v]) => `${pad}${k}: ${JSON.stringify(v)}`);
}

function targetYaml(t) {
  return typeof t === 'string' ? yamlString(t) : JSON.stringify(t);
}

/**
 * Renders a config YAML. `spec`:
 *   server:    {key: value} merged over test defaults (listen port 0, small limits)
 *   providers: [{name, kind?, base_url, api_key_env?, models?, headers?, timeouts?,
 *                fields?: {api_version|region|account_id|aws_…|…: string}, extra?}]
 *   routes:    [{name, targets: [...], extra?}]; a target is "provider/model" or an object
 *              ({target, weight, priority}), rendered as a YAML flow mapping
 *   apiKeys:   [{name, env, groups?: [..], metadata?: {..}}] (the key is read via ${env:NAME})
 *   egress:    {allow_hosts?, allow_networks?} (rendered as JSON flow style) or raw YAML lines;
 *              default {allow_networks: ['127.0.0.0/8']}, since every test upstream is on
 *              loopback, which egress control refuses otherwise; null omits the section
 * `extra` adds settings to the item: an object (each key rendered as `key: <value as JSON>`,
 * which YAML reads as flow style: {breaker: {cooldown_ms: 500}}, {retry: {attempts: 3}}), or
 * raw YAML lines (a string or an array of strings), written indented under the item.
 */
export function renderConfig(spec) {
  const server = {
    listen: '127.0.0.1:0',
    workers: 2,
    max_body_bytes: 4096,
    idle_timeout_ms: 500,
    body_timeout_ms: 5000,
    write_timeout_ms: 5000,
    shutdown_grace_ms: 5000,
    ...(spec.server || {}),
  };
  const lines = ['server:'];
  for (const [k, v] of Object.entries(server)) {
    lines.push(`  ${k}: ${typeof v === 'string' ? yamlString(v) : v}`);
  }
  lines.push('providers:');
  for (const p of spec.providers) {
    lines.push(`  - name: ${yamlString(p.name)}`);
    lines.push(`    kind: ${yamlString(p.kind || 'openai-compatible')}`);
    lines.push(`    base_url: ${yamlString(p.base_url)}`);
    if (p.api_key_env) lines.push(`    api_key: "\${env:${p.api_key_env}}"`);
    // Kind-specific scalars (api_version, region, account_id, aws_access_key_id…): strings,
    // rendered as they are (so "${env:NAME}" references work).
    for (const [k, v] of Object.entries(p.fields || {})) lines.push(`    ${k}: ${yamlString(v)}`);
    lines.push(`    models: [${(p.models || ['mock-1']).map(yamlString).join(', ')}]`);
    if (p.headers) {
      lines.push('    headers:');
      for (const [k, v] of Object.entries(p.headers)) lines.push(`      ${k}: ${yamlString(v)}`);
    }
    if (p.timeouts) {
      lines.push('    timeouts:');
      for (const [k, v] of Object.entries(p.timeouts)) lines.push(`      ${k}: ${v}`);
    }
    lines.push(...extraLines(p.extra, 4));
  }
  if (spec.routes && spec.routes.length) {
    lines.push('routes:');
    for (const r of spec.routes) {
      lines.push(`  - name: ${yamlString(r.name)}`);
      lines.push(`    targets: [${r.targets.map(targetYaml).join(', ')}]`);
      lines.push(...extraLines(r.extra, 4));
    }
  }
  lines.push('auth:');
  lines.push('  api_keys:');
  for (const k of spec.apiKeys) {
    lines.push(`    - name: ${yamlString(k.name)}`);
    lines.push(`      key: "\${env:${k.env}}"`);
    if (k.groups) lines.push(`      groups: ${JSON.stringify(k.groups)}`);
    if (k.metadata) lines.push(`      metadata: ${JSON.stringify(k.metadata)}`);
  }
  const egress = spec.egress === undefined ? { allow_networks: ['127.0.0.0/8'] } : spec.egress;
  if (egress !== null) {
    lines.push('egress:');
    lines.push(...extraLines(egress, 2));
  }
  return lines.join('\n') + '\n';
}

/** Writes `text` to `file` atomically (write a sibling, then rename). */
export function writeFileAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * The standard test world: one mock, and a gateway whose provider `local`
 * (openai-compatible, models mock-1 and gpt-4o-mini) points at it.
 * Options:
 *   providers(mockBase, extra)  -> extra provider specs (extra has {deadPort})
 *   routes                      -> route specs (default: `fast` -> local/mock-1)
 *   server                      -> server overrides
 *   mockArgs                    -> extra `torii mock` flags
 *   localExtra                  -> `extra` settings of the `local` provider (see renderConfig),
 *                                  e.g. {breaker: {enabled: false}} for suites that make it fail
 * Returns { mock, gw, apiKey, providerKey, configFile, spec, rewrite(spec), stop() }.
 */
export async function startWorld(options = {}) {
  const dir = tempDir();
  const apiKey = randomKey('sk-torii-test');
  const providerKey = randomKey('sk-provider');
  const env = { TORII_TEST_API_KEY: apiKey, TORII_TEST_PROVIDER_KEY: providerKey };
  const mock = await startMock(options.mockArgs || []);
  const mockBase = `${mock.url}/v1`;
  const deadPort = await closedPort();
  const spec = {
    server: options.server || {},
    providers: [
      { name: 'local', base_url: mockBase, api_key_env: 'TORII_TEST_PROVIDER_KEY',
        models: ['mock-1', 'gpt-4o-mini'], extra: options.localExtra },
      ...(options.providers ? options.providers(mockBase, { deadPort }) : []),
    ],
    routes: options.routes || [{ name: 'fast', targets: ['local/mock-1'] }],
    apiKeys: [{ name: 'team-test', env: 'TORII_TEST_API_KEY' }],
  };
  const configFile = path.join(dir, 'torii.yaml');
  fs.writeFileSync(configFile, renderConfig(spec));
  let gw;
  try {
    gw = await startGateway(configFile, { env });
  } catch (e) {
    await mock.stop();
    throw e;
  }
  return {
    mock, gw, apiKey, providerKey, configFile, spec, dir, deadPort, mockBase,
    /** Rewrites the config file from a new spec (not reloaded until SIGHUP). */
    rewrite(newSpec) { writeFileAtomic(configFile, renderConfig(newSpec)); },
    async stop() {
      await Promise.all([gw.stop(), mock.stop()]);
    },
  };
}
