// A real redis-server for the quota suites: started on a free port with no persistence
// (`--save "" --appendonly no --dir <tmpdir>`), stopped by its PID, plus a minimal RESP client
// (one command per connection) to look at the keys the gateway wrote.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { closedPort, ms, tempDir, waitFor } from './harness.mjs';

const servers = new Set();
process.on('exit', () => {
  for (const p of servers) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** Encodes one command as a RESP array of bulk strings. */
function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const s = String(a);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

// Parses one RESP value at `pos` of `buf`; returns [value, nextPos] or null when incomplete.
function parse(buf, pos) {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  if (type === '+') return [line, next];
  if (type === '-') return [new Error(line), next];
  if (type === ':') return [Number(line), next];
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return [null, next];
    if (buf.length < next + n + 2) return null;
    return [buf.toString('utf8', next, next + n), next + n + 2];
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return [null, next];
    const items = [];
    let p = next;
    for (let i = 0; i < n; i++) {
      const r = parse(buf, p);
      if (!r) return null;
      items.push(r[0]);
      p = r[1];
    }
    return [items, p];
  }
  throw new Error(`bad RESP type ${type}`);
}

/** Sends one command to 127.0.0.1:`port`; resolves to its reply (errors reject). */
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(new Error('redis command timed out')), 3000);
    sock.on('connect', () => sock.write(encode(args)));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parse(buf, 0);
      if (!r) return;
      clearTimeout(timer);
      sock.end();
      if (r[0] instanceof Error) reject(r[0]); else resolve(r[0]);
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/**
 * Starts redis-server on a free port and waits for PING. Returns
 * {port, url, proc, command(...args), kill() (SIGKILL, resolves on exit), stop()}.
 */
export async function startRedis() {
  const port = await closedPort();
  const dir = tempDir();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(proc);
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
    servers.delete(proc);
    resolve({ code, signal });
  }));
  try {
    await waitFor(async () => (await redisCommand(port, 'PING')) === 'PONG', ms(5000),
      `redis-server on port ${port}`);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\nredis log:\n${log}`);
  }
  const handle = {
    port,
    proc,
    url: `redis://127.0.0.1:${port}/0`,
    log: () => log,
    command: (...args) => redisCommand(port, ...args),
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      return exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
  return handle;
}
