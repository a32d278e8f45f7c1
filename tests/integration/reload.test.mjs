// SIGHUP reload under load: no request fails, the new config serves, a bad config is rejected
// and the old one keeps serving.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ms, sleep, startWorld, waitFor, writeFileAtomic } from '../lib/harness.mjs';
import { chat, chatBody } from '../lib/http.mjs';

describe('SIGHUP reload', () => {
  let w;
  before(async () => { w = await startWorld(); });
  after(async () => { if (w) await w.stop(); });

  test('reload under load adds an alias without failing a request', async () => {
    const pre = await chat(w.gw.url, w.apiKey, chatBody('reloaded-alias'));
    assert.equal(pre.status, 404, `alias must not exist yet: ${pre.text}`);

    const failures = [];
    let count = 0;
    let stop = false;
    const loop = async (i) => {
      while (!stop) {
        const stream = i % 2 === 1;
        try {
          const r = await chat(w.gw.url, w.apiKey, chatBody(i % 4 === 0 ? 'fast' : 'local/mock-1',
            stream ? { stream: true, mock: { chunks: 3, interval_ms: 5 } } : {}));
          count++;
          if (r.status !== 200 || (stream && !r.text.includes('data: [DONE]'))) {
            failures.push(`${r.status} ${r.text.slice(0, 300)}`);
          }
        } catch (e) {
          failures.push(`transport error: ${e.message}`);
        }
      }
    };
    const loops = Array.from({ length: 8 }, (_, i) => loop(i));
    try {
      await sleep(500);
      w.rewrite({
        ...w.spec,
        routes: [...w.spec.routes, { name: 'reloaded-alias', targets: ['local/mock-1'] }],
      });
      w.gw.kill('SIGHUP');
      await waitFor(async () => {
        const r = await chat(w.gw.url, w.apiKey, chatBody('reloaded-alias'));
        return r.status === 200;
      }, ms(3_000), 'the new alias to serve after SIGHUP');
      await sleep(1_000);
      w.gw.kill('SIGHUP');  // a second reload of the same file, still under load
      await sleep(500);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    assert.deepEqual(failures, [], `${failures.length} of ${count} requests failed`);
    assert.ok(count >= 16, `the load loop ran (${count} requests)`);
    const r = await chat(w.gw.url, w.apiKey, chatBody('reloaded-alias'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'mock-1');
  });

  test('an invalid config on SIGHUP keeps the old config serving', async () => {
    const errBefore = w.gw.stderr().length;
    const good = fs.readFileSync(w.configFile, 'utf8');
    assert.match(good, /reloaded-alias/, 'previous test left the alias in the file');
    writeFileAtomic(w.configFile, 'server:\n  listen: [unclosed\nproviders: {{{\n');
    w.gw.kill('SIGHUP');
    await waitFor(() => /error|invalid|fail/i.test(w.gw.stderr().slice(errBefore)),
      ms(3_000), 'stderr to mention the bad config');
    assert.equal(w.gw.proc.exitCode, null, 'the gateway is still running');
    for (const model of ['reloaded-alias', 'fast', 'local/mock-1']) {
      const r = await chat(w.gw.url, w.apiKey, chatBody(model));
      assert.equal(r.status, 200, `${model}: ${r.text}`);
    }
    // A semantically invalid config (route to an unknown provider) is refused too.
    const errMid = w.gw.stderr().length;
    w.rewrite({
      ...w.spec,
      routes: [{ name: 'fast', targets: ['ghost-provider/mock-1'] }],
    });
    w.gw.kill('SIGHUP');
    await waitFor(() => /error|invalid|fail|unknown/i.test(w.gw.stderr().slice(errMid)),
      ms(3_000), 'stderr to mention the invalid route');
    const r = await chat(w.gw.url, w.apiKey, chatBody('reloaded-alias'));
    assert.equal(r.status, 200, `old config still serves: ${r.text}`);
    const f = await chat(w.gw.url, w.apiKey, chatBody('fast'));
    assert.equal(f.status, 200, `old alias fast still routes to local: ${f.text}`);
    // Secrets never land in the logs.
    assert.ok(!w.gw.stderr().includes(w.apiKey), 'api key not logged');
    assert.ok(!w.gw.stderr().includes(w.providerKey), 'provider key not logged');
  });
});
