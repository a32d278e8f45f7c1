// Upstream TLS against a real TLS server: nginx terminates TLS (certificates made here with the
// openssl CLI) and proxies to `torii mock`. Checks a verified chain works (plain and streamed),
// that pooled TLS connections are reused, and that an unknown CA or a wrong host name is a 502
// with code `upstream_tls`.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import {
  closedPort, ms, randomKey, startMock, startTorii, tempDir, waitFor,
} from '../lib/harness.mjs';
import {
  assertOpenAIError, chat, chatBody, request, streamChat, streamedContent,
} from '../lib/http.mjs';

const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: ms(20_000) });
}

/**
 * Makes, in `dir`: ca.key/ca.pem (a throwaway CA), server.key/server.pem (CN localhost,
 * SAN DNS:localhost + IP:127.0.0.1, signed by the CA) and other.key/other.pem (an unrelated
 * self-signed certificate for other.example).
 */
function makeCertificates(dir) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=torii test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=localhost'], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ].join('\n') + '\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  openssl(['req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.pem', '-days', '2',
    '-subj', '/CN=other.example', '-addext', 'subjectAltName=DNS:other.example'], dir);
}

/** nginx.conf: TLS on `goodPort` (localhost cert) and `otherPort` (other.example cert). */
function nginxConfig(dir, { goodPort, otherPort, mockPort }) {
  const p = (f) => path.join(dir, f);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = (port, cert, key) => `
    server {
      listen 127.0.0.1:${port} ssl;
      ssl_certificate ${cert};
      ssl_certificate_key ${key};
      access_log ${p('access.log')} conns;
      location / {
        proxy_pass http://127.0.0.1:${mockPort};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
      }
    }`;
  return `${asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${p('client_body_temp')};
  proxy_temp_path ${p('proxy_temp')};
  fastcgi_temp_path ${p('fastcgi_temp')};
  ssl_protocols TLSv1.2 TLSv1.3;
  keepalive_requests 10000;
  keepalive_timeout 60s;
  log_format conns '$connection $connection_requests $server_port $status "$request"';
${server(goodPort, p('server.pem'), p('server.key'))}
${server(otherPort, p('other.pem'), p('other.key'))}
}
`;
}

/** A TLS handshake to 127.0.0.1:port succeeds (chain checked against `ca`, name not checked). */
function tlsProbe(port, { ca, servername = 'localhost' } = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false,
      checkServerIdentity: () => undefined,  // chain only; names are checked by the caller
    }, () => {
      const r = { authorized: s.authorized, error: s.authorizationError,
        cert: s.getPeerCertificate() };
      s.end();
      resolve(r);
    });
    s.setTimeout(ms(3_000), () => s.destroy(new Error('tls probe timed out')));
    s.once('error', reject);
  });
}

/** Starts nginx in the foreground; resolves once `port` completes a TLS handshake. */
async function startNginx(dir, conf, port) {
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const proc = spawn(NGINX, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', confFile,
    '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { err += d; });
  proc.stdout.resume();
  const killOnExit = () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } };
  process.on('exit', killOnExit);
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
    process.off('exit', killOnExit);
    resolve({ code, signal });
  }));
  const handle = {
    proc,
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGQUIT');  // graceful: master waits for its workers, then exits
      let timer;
      const forced = new Promise((resolve) => {
        timer = setTimeout(() => { proc.kill('SIGKILL'); resolve(); }, ms(5_000));
      });
      await Promise.race([exited, forced]);
      clearTimeout(timer);
      return exited;
    },
  };
  let dead = false;
  exited.then(() => { dead = true; });
  try {
    await waitFor(async () => {
      if (dead) throw new Error('nginx exited');
      await tlsProbe(port);
      return true;
    }, ms(10_000), `nginx TLS on port ${port}`, 50);
  } catch (e) {
    await handle.stop();
    let log = '';
    try { log = fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { /* none */ }
    throw new Error(`${e.message}\nnginx stderr:\n${err}\nnginx error.log:\n${log}`);
  }
  return handle;
}

/** Parsed lines of the nginx access log: [{conn, connRequests, port, status, request}]. */
function accessLog(dir) {
  let text = '';
  try { text = fs.readFileSync(path.join(dir, 'access.log'), 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map((line) => {
    const m = /^(\d+) (\d+) (\d+) (\d+) "(.*)"$/.exec(line);
    assert.ok(m, `access log line: ${line}`);
    return { conn: Number(m[1]), connRequests: Number(m[2]), port: Number(m[3]),
      status: Number(m[4]), request: m[5], line };
  });
}

function yamlStr(s) { return JSON.stringify(String(s)); }

describe('upstream TLS (nginx with a private CA in front of the mock)', () => {
  let dir;
  let mock;
  let nginx;
  let gw;
  let goodPort;
  let otherPort;
  const apiKey = randomKey('sk-torii-test');
  const providerKey = randomKey('sk-provider');

  before(async () => {
    dir = tempDir();
    makeCertificates(dir);
    mock = await startMock();
    goodPort = await closedPort();
    do { otherPort = await closedPort(); } while (otherPort === goodPort);
    nginx = await startNginx(dir, nginxConfig(dir, { goodPort, otherPort, mockPort: mock.port }),
      goodPort);
    await waitFor(() => tlsProbe(otherPort).then(() => true), ms(5_000), 'nginx second port');

    const provider = (name, baseUrl, caFile) => [
      `  - name: ${yamlStr(name)}`,
      '    kind: "openai-compatible"',
      `    base_url: ${yamlStr(baseUrl)}`,
      '    api_key: "${env:TORII_TEST_PROVIDER_KEY}"',
      ...(caFile ? [`    ca_file: ${yamlStr(caFile)}`] : []),
      '    models: ["mock-1"]',
      '    timeouts: {connect_ms: 3000, first_byte_ms: 10000, idle_ms: 10000}',
    ].join('\n');
    const config = [
      'server:',
      '  listen: "127.0.0.1:0"',
      '  workers: 1',
      '  idle_timeout_ms: 5000',
      '  shutdown_grace_ms: 3000',
      'providers:',
      provider('good', `https://localhost:${goodPort}/v1`, path.join(dir, 'ca.pem')),
      provider('noca', `https://localhost:${goodPort}/v1`, null),
      provider('wrongname', `https://localhost:${otherPort}/v1`, path.join(dir, 'other.pem')),
      // nginx is on loopback, which egress control refuses unless allowed.
      'egress:',
      '  allow_networks: [127.0.0.0/8, "::1/128"]',
      'auth:',
      '  api_keys:',
      '    - name: "team-tls"',
      '      key: "${env:TORII_TEST_API_KEY}"',
      '',
    ].join('\n');
    const configFile = path.join(dir, 'torii.yaml');
    fs.writeFileSync(configFile, config);
    // One worker: the upstream connection pool is per worker thread, so with one worker two
    // sequential requests must be able to share one pooled TLS connection.
    gw = await startTorii(['serve', '--config', configFile, '--listen', '127.0.0.1:0',
      '--workers', '1'], {
      env: { TORII_TEST_API_KEY: apiKey, TORII_TEST_PROVIDER_KEY: providerKey },
    });
  });

  after(async () => {
    await Promise.all([
      gw && gw.stop(),
      nginx && nginx.stop(),
      mock && mock.stop(),
    ]);
  });

  test('fixture: chains and names are what the other tests assume', async () => {
    const ca = fs.readFileSync(path.join(dir, 'ca.pem'));
    const other = fs.readFileSync(path.join(dir, 'other.pem'));
    const good = await tlsProbe(goodPort, { ca });
    assert.ok(good.authorized, `localhost cert verifies with the CA: ${good.error}`);
    assert.equal(tls.checkServerIdentity('localhost', good.cert), undefined);
    const goodNoCa = await tlsProbe(goodPort);
    assert.equal(goodNoCa.authorized, false, 'the test CA is unknown to the default store');
    const wrong = await tlsProbe(otherPort, { ca: other });
    assert.ok(wrong.authorized, `other.example cert verifies as its own anchor: ${wrong.error}`);
    assert.ok(tls.checkServerIdentity('localhost', wrong.cert) instanceof Error,
      'other.example cert does not match localhost');
  });

  test('non-stream chat through good/mock-1 over TLS returns the mock answer', async () => {
    const knobs = { chunks: 3, tokens_per_chunk: 2 };
    const before = accessLog(dir).length;
    const r = await chat(gw.url, apiKey, chatBody('good/mock-1', { mock: knobs }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.model, 'mock-1');
    assert.equal(r.json.choices[0].message.role, 'assistant');
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    const direct = await request(`${mock.url}/v1/chat/completions`, {
      method: 'POST', body: chatBody('mock-1', { mock: knobs }),
    });
    assert.equal(direct.status, 200, direct.text);
    assert.ok(direct.json.choices[0].message.content.length > 0);
    assert.equal(r.json.choices[0].message.content, direct.json.choices[0].message.content);
    assert.deepEqual(r.json.usage, direct.json.usage);
    // It really went through nginx's TLS port.
    const lines = await waitFor(() => {
      const l = accessLog(dir).slice(before);
      return l.length >= 1 && l;
    }, ms(5_000), 'nginx access log line');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].port, goodPort);
    assert.equal(lines[0].status, 200);
    assert.match(lines[0].request, /^POST \/v1\/chat\/completions HTTP\/1\.1$/);
  });

  test('streaming chat through good/mock-1 over TLS: events then [DONE]', async () => {
    const before = accessLog(dir).length;
    const s = await streamChat(gw.url, apiKey, chatBody('good/mock-1', {
      stream: true, mock: { chunks: 4, interval_ms: 20, tokens_per_chunk: 2 },
    }), { timeoutMs: ms(15_000) });
    assert.equal(s.status, 200, s.text);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    assert.ok(s.done, `stream ends with [DONE]: ${JSON.stringify(s.text.slice(-500))}`);
    assert.equal(s.events[s.events.length - 1].data, '[DONE]');
    for (const ev of s.events.slice(0, -1)) {
      assert.ok(ev.json, `event is JSON: ${ev.data}`);
      assert.equal(ev.json.object, 'chat.completion.chunk');
    }
    const content = s.events.filter((e) => e.json && e.json.choices && e.json.choices[0] &&
      e.json.choices[0].delta && e.json.choices[0].delta.content);
    assert.equal(content.length, 4, s.text);
    assert.equal(streamedContent(s.events).trim().split(/\s+/).length, 8, s.text);
    // Chunks are relayed as they come, not buffered to the end.
    assert.ok(content[3].t - content[0].t >= 40,
      `chunks spread in time: ${content.map((e) => e.t).join(',')}`);
    // nginx logs the stream once it ends upstream, which may be after the client saw [DONE]:
    // wait for that line so that later tests see a settled log.
    const lines = await waitFor(() => {
      const l = accessLog(dir).slice(before);
      return l.length >= 1 && l;
    }, ms(5_000), 'nginx access log line for the stream');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].port, goodPort);
    assert.equal(lines[0].status, 200);
  });

  test('two sequential requests reuse one pooled TLS connection to nginx', async () => {
    const before = accessLog(dir).length;
    for (let i = 0; i < 2; i++) {
      const r = await chat(gw.url, apiKey, chatBody('good/mock-1'));
      assert.equal(r.status, 200, r.text);
      // Let nginx log the request before the next one is sent.
      await waitFor(() => accessLog(dir).length >= before + i + 1, ms(5_000), 'access log');
    }
    const lines = accessLog(dir).slice(before);
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.equal(lines[0].port, goodPort);
    assert.equal(lines[1].port, goodPort);
    assert.equal(lines[1].conn, lines[0].conn,
      `same nginx connection for both requests: ${lines.map((l) => l.line).join(' | ')}`);
    assert.equal(lines[1].connRequests, lines[0].connRequests + 1,
      `second request is the next one on that connection: ${lines.map((l) => l.line).join(' | ')}`);
  });

  test('noca/mock-1 (CA not in the system store) -> 502 upstream_tls', async (t) => {
    const before = accessLog(dir).length;
    const r = await chat(gw.url, apiKey, chatBody('noca/mock-1'));
    const e = assertOpenAIError(r, 502, 'noca/mock-1');
    t.diagnostic(`error.message: ${e.message}`);
    assert.equal(e.code, 'upstream_tls', r.text);
    assert.match(e.message, /TLS/, r.text);
    assert.match(e.message, /certificate|issuer|verify/i, r.text);
    assert.ok(!r.text.includes(providerKey) && !r.text.includes(apiKey), 'no secrets');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(accessLog(dir).length, before, 'no HTTP request reached nginx');
  });

  test('wrongname/mock-1 (chain ok, name other.example) -> 502 upstream_tls', async (t) => {
    const before = accessLog(dir).length;
    const r = await chat(gw.url, apiKey, chatBody('wrongname/mock-1'));
    const e = assertOpenAIError(r, 502, 'wrongname/mock-1');
    t.diagnostic(`error.message: ${e.message}`);
    assert.equal(e.code, 'upstream_tls', r.text);
    assert.match(e.message, /TLS/, r.text);
    assert.match(e.message, /certificate|host ?name/i, r.text);
    assert.ok(!r.text.includes(providerKey) && !r.text.includes(apiKey), 'no secrets');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(accessLog(dir).length, before, 'no HTTP request reached nginx');
  });

  test('streaming to noca/mock-1 fails before any byte: 502 upstream_tls, not a 200', async () => {
    const s = await streamChat(gw.url, apiKey, chatBody('noca/mock-1', { stream: true }));
    assert.equal(s.status, 502, s.text);
    const body = JSON.parse(s.text);
    assert.equal(body.error.code, 'upstream_tls', s.text);
  });

  test('the gateway still serves good/mock-1 after TLS failures', async () => {
    const r = await chat(gw.url, apiKey, chatBody('good/mock-1'));
    assert.equal(r.status, 200, r.text);
    assert.ok(gw.proc.exitCode === null && gw.proc.signalCode === null, 'gateway alive');
    assert.ok(nginx.proc.exitCode === null, 'nginx alive');
  });
});
