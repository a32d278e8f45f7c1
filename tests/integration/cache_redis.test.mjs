// The answer cache on Redis (docs/CACHING.md, issue 10): two gateways on one redis-server share
// exact hits and, through the vector stream each node follows, semantic hits; entries carry a
// TTL in Redis; an admin purge on one node empties the shared store; Redis going away turns
// lookups into misses (never an error for the client).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ms, randomKey, sleep, startGateway, startMock, tempDir, waitFor } from '../lib/harness.mjs';
import { chat } from '../lib/http.mjs';
import { startRedis } from '../lib/redis.mjs';

const dir = tempDir();
const key = randomKey('sk-cache-redis');
let mock;
let redis;
let a;
let b;

const config = (name) => {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, `
server: {listen: "127.0.0.1:0", workers: 2}
providers:
  - {name: local, kind: openai-compatible, base_url: "${mock.url}/v1", models: [mock-1, embed-1]}
routes:
  - {name: chat, targets: [local/mock-1]}
  - {name: embed, targets: [local/embed-1]}
auth:
  api_keys: [{name: app, key: "\${env:CACHE_REDIS_KEY}"}]
egress: {allow_networks: [127.0.0.0/8]}
cache:
  store: redis
  redis: {url: "${redis.url}", prefix: "t1:", timeout_ms: 200, connect_timeout_ms: 200}
  ttl_seconds: 120
  semantic: {embedding_model: embed, threshold: 0.9}
`);
  return file;
};

before(async () => {
  [mock, redis] = await Promise.all([startMock(), startRedis()]);
  const env = { CACHE_REDIS_KEY: key };
  [a, b] = await Promise.all([startGateway(config('a'), { env }), startGateway(config('b'), { env })]);
});

after(async () => {
  await Promise.all([a, b].filter(Boolean).map((g) => g.stop()));
  await Promise.all([mock, redis].filter(Boolean).map((p) => p.stop()));
});

const body = (content) => ({ model: 'chat', temperature: 0, messages: [{ role: 'user', content }] });

describe('cache on Redis: two nodes', () => {
  test('an answer stored by one node is a hit on the other; the entry has a TTL', async () => {
    const q = body(`shared question ${process.pid}`);
    const r1 = await chat(a.url, key, q);
    assert.equal(r1.headers['x-torii-cache'], 'miss');
    const cacheKey = r1.headers['x-torii-cache-key'];
    const stored = await waitFor(async () => (await redis.command('EXISTS', `t1:cache:${cacheKey}`)) === 1,
      ms(3000), 'the entry in Redis');
    assert.ok(stored);
    const ttl = await redis.command('PTTL', `t1:cache:${cacheKey}`);
    assert.ok(ttl > 100_000 && ttl <= 120_000, `PTTL ${ttl}`);
    const r2 = await chat(b.url, key, q);
    assert.equal(r2.headers['x-torii-cache'], 'hit');
    assert.equal(r2.json.id, r1.json.id);
    assert.equal(r2.json.usage.total_tokens, 0);
  });

  test('a semantic entry made on one node serves a paraphrase on the other', async () => {
    const r1 = await chat(a.url, key, body('How do I reset my password?'));
    assert.equal(r1.headers['x-torii-cache'], 'miss');
    // B follows the vector stream from its start (a reader thread of its own): once the vector
    // is in the stream, B has it a moment later. (Polling B itself would store B's own answer.)
    await waitFor(async () => (await redis.command('XLEN', 't1:cachevec')) >= 1, ms(3000),
      'the vector in the stream');
    await sleep(ms(500));
    const hit = await chat(b.url, key, body('how can i reset my password'));
    assert.equal(hit.headers['x-torii-cache'], 'semantic-hit', hit.text);
    assert.equal(hit.json.id, r1.json.id, 'node A\'s answer');
  });

  test('Redis gone: lookups are misses, answers still 200', async () => {
    const q = body(`while redis is down ${process.pid}`);
    await redis.kill();
    const t0 = Date.now();
    const r = await chat(a.url, key, q);
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.headers['x-torii-cache'], 'hit');
    assert.ok(Date.now() - t0 < ms(3000), 'no hang on a dead store');
    await sleep(50);
  });
});
