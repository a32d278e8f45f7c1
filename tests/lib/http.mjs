// HTTP helpers on node:http (no hidden connection pooling unless an Agent is passed):
// a bounded request, an SSE reader that timestamps every event, and OpenAI error checks.
import assert from 'node:assert/strict';
import http from 'node:http';
import { ms } from './harness.mjs';

/**
 * One HTTP request. `opts`: method, headers, body (string/Buffer, or an object sent as JSON),
 * agent (default: none, one connection per request), timeoutMs (default 10 s, scaled).
 * Resolves to {status, headers, text, json} where json is the parsed body or undefined.
 */
export function request(url, opts = {}) {
  const { method = 'GET', headers = {}, agent = false, timeoutMs = ms(10_000) } = opts;
  let body = opts.body;
  const hdrs = { ...headers };
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    if (!Object.keys(hdrs).some((h) => h.toLowerCase() === 'content-type')) {
      hdrs['content-type'] = 'application/json';
    }
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: hdrs, agent }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(parts).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`request ${method} ${url} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (body !== undefined) req.end(body); else req.end();
  });
}

/** Bearer auth header. */
export function bearer(key) {
  return { authorization: `Bearer ${key}` };
}

/** POST /v1/chat/completions on the gateway with a bearer key. */
export function chat(baseUrl, key, body, opts = {}) {
  return request(`${baseUrl}/v1/chat/completions`, {
    ...opts,
    method: 'POST',
    headers: { ...bearer(key), ...(opts.headers || {}) },
    body,
  });
}

/** A minimal valid chat body. */
export function chatBody(model, extra = {}) {
  return { model, messages: [{ role: 'user', content: 'Say hello to the test suite.' }], ...extra };
}

/** Splits an SSE byte stream into events; returns the data payload of each event. */
export class SseSplitter {
  constructor() { this.buf = ''; }
  /** Feeds text; returns the complete events found: [{data, raw}]. */
  push(text) {
    this.buf += text;
    const events = [];
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.buf);
      if (!m) break;
      const raw = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const dataLines = raw.split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''));
      if (dataLines.length === 0) continue;  // comment or keep-alive event
      events.push({ data: dataLines.join('\n'), raw, dataLines: dataLines.length });
    }
    return events;
  }
}

/**
 * Sends a streaming chat request and reads the SSE response to the end (or until the
 * connection closes). Resolves to:
 *   {status, headers, events: [{data, json, t}], done, tail, endedBy, elapsed, text}
 * where t is ms since the request was sent, done is true when `data: [DONE]` arrived,
 * endedBy is 'end' | 'close' | 'error', and text is the whole body for non-SSE answers.
 * opts.onEvent(ev, events, req) may return 'destroy' to cut the connection there.
 */
export function streamChat(baseUrl, key, body, opts = {}) {
  const { timeoutMs = ms(15_000), agent = false, headers = {}, onEvent } = opts;
  const payload = JSON.stringify(body);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const result = { status: 0, headers: {}, events: [], done: false, endedBy: null, text: '' };
    let settled = false;
    const finish = (how) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.endedBy = how;
      result.elapsed = Date.now() - t0;
      result.tail = splitter.buf;
      resolve(result);
    };
    const splitter = new SseSplitter();
    const req = http.request(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      agent,
      headers: { ...bearer(key), 'content-type': 'application/json', ...headers },
    }, (res) => {
      result.status = res.statusCode;
      result.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        result.text += d;
        for (const ev of splitter.push(d)) {
          ev.t = Date.now() - t0;
          if (ev.data === '[DONE]') {
            result.done = true;
          } else {
            try { ev.json = JSON.parse(ev.data); } catch { ev.json = undefined; }
          }
          result.events.push(ev);
          if (onEvent && onEvent(ev, result.events, req) === 'destroy') {
            req.destroy();
            finish('destroyed');
            return;
          }
        }
      });
      res.on('end', () => finish('end'));
      res.on('close', () => finish('close'));
      res.on('error', () => finish('error'));
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new Error(`stream timed out after ${timeoutMs} ms; got ${result.events.length} ` +
        `events so far: ${JSON.stringify(result.text.slice(0, 2000))}`));
    }, timeoutMs);
    req.on('error', (e) => {
      if (result.status) finish('error');
      else if (!settled) { settled = true; clearTimeout(timer); reject(e); }
    });
    req.end(payload);
  });
}

/** Content chunks of a stream: events whose first choice has a non-empty delta.content. */
export function contentEvents(events) {
  return events.filter((e) => e.json && Array.isArray(e.json.choices) &&
    e.json.choices[0] && e.json.choices[0].delta &&
    typeof e.json.choices[0].delta.content === 'string' &&
    e.json.choices[0].delta.content.length > 0);
}

/** Concatenated delta.content of a stream. */
export function streamedContent(events) {
  return contentEvents(events).map((e) => e.json.choices[0].delta.content).join('');
}

/**
 * Asserts an OpenAI-shaped error answer with the given status:
 * {"error": {"message": string, "type": string, ...}}. Returns the error object.
 */
export function assertOpenAIError(res, status, what = '') {
  const ctx = `${what} -> ${res.status} ${res.text && res.text.slice(0, 500)}`;
  assert.equal(res.status, status, `status for ${ctx}`);
  assert.ok(res.json && typeof res.json === 'object', `JSON body for ${ctx}`);
  assert.ok(res.json.error && typeof res.json.error === 'object', `error object for ${ctx}`);
  assert.equal(typeof res.json.error.message, 'string', `error.message for ${ctx}`);
  assert.ok(res.json.error.message.length > 0, `non-empty error.message for ${ctx}`);
  assert.equal(typeof res.json.error.type, 'string', `error.type for ${ctx}`);
  assert.match(String(res.headers['content-type'] || ''), /application\/json/,
    `content-type for ${ctx}`);
  assert.ok(res.headers['x-request-id'], `x-request-id on error for ${ctx}`);
  return res.json.error;
}

/** GET <mock>/mock/stats. */
export async function mockStats(mockUrl) {
  const r = await request(`${mockUrl}/mock/stats`);
  assert.equal(r.status, 200, `mock stats: ${r.text}`);
  return r.json;
}

/** GET <mock>/mock/last. */
export async function mockLast(mockUrl) {
  const r = await request(`${mockUrl}/mock/last`);
  assert.equal(r.status, 200, `mock last: ${r.text}`);
  return r.json;
}
