// Shared pieces of the audit suites (tests/integration/audit*.test.mjs, docs/AUDIT.md): reading
// the SQLite and JSONL sinks, an HTTP collector that can be taken down and brought back (the
// webhook sink, the OTLP exporter), and the Prometheus text parser (python3-prometheus-client,
// the reference implementation's parser).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { waitFor, ms } from './harness.mjs';

/** Rows of `sql` on the SQLite file `db` (sqlite3 -json), [] when none. */
export function sqliteRows(db, sql) {
  const out = execFileSync('sqlite3', ['-json', db, sql], { encoding: 'utf8' }).trim();
  return out ? JSON.parse(out) : [];
}

/** The audit events in the SQLite sink `db` (parsed), optionally only those with request_id. */
export function sqliteEvents(db, requestId) {
  if (!fs.existsSync(db)) return [];
  const where = requestId ? ` WHERE json_extract(event,'$.request_id') = '${requestId}'` : '';
  return sqliteRows(db, `SELECT event FROM audit_events${where}`).map((r) => JSON.parse(r.event));
}

/** The events of a JSONL sink file (parsed), every line; a torn line fails the test. */
export function jsonlEvents(file) {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${file}: the last line is complete`);
  return text.split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

/** Waits until `fn()` returns exactly `n` items; returns them. */
export async function waitForCount(fn, n, what, timeoutMs = ms(10_000)) {
  let got = [];
  await waitFor(() => { got = fn(); return got.length >= n; }, timeoutMs, what);
  await new Promise((r) => setTimeout(r, 50));  // and no more than n arrive
  got = fn();
  assert.equal(got.length, n, `${what}: exactly ${n}`);
  return got;
}

/**
 * An HTTP collector on a fixed port: records each POST's parsed JSON body and headers.
 * `down()` makes it answer 503 to everything; `up()` restores 200.
 */
export async function startCollector() {
  const posts = [];
  let healthy = true;
  let refused = 0;
  const srv = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      if (!healthy) {
        refused += 1;
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('down for the test');
        return;
      }
      const text = Buffer.concat(parts).toString('utf8');
      let body;
      try { body = JSON.parse(text); } catch { body = { unparsed: text }; }
      posts.push({ path: req.url, headers: req.headers, body, text });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    posts,
    down() { healthy = false; },
    up() { healthy = true; },
    refused: () => refused,
    close: () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(resolve); }),
  };
}

/**
 * Parses Prometheus text with prometheus_client's parser (python3). Returns
 * [{name, type, samples: [{name, labels, value}]}]; a malformed exposition throws.
 */
export function parsePrometheus(text) {
  const script = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
`;
  // Debian's python3 (python3-prometheus-client, scripts/setup.sh), not another one on PATH.
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const out = execFileSync(python, ['-c', script], { input: text, encoding: 'utf8' });
  return JSON.parse(out);
}

/** The value of the sample `name` whose labels include `labels` (summed over the rest). */
export function metricValue(families, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
        sum += s.value;
        found = true;
      }
    }
  }
  return found ? sum : undefined;
}
