// A target that cannot take a request (here: Anthropic has no JSON mode without a schema) is
// skipped without counting as an attempt, is never picked again by the retries, and does not
// hide the failure of the targets that were tried.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startWorld } from '../lib/harness.mjs';
import { assertOpenAIError, bearer, chatBody, request } from '../lib/http.mjs';

describe('routing: targets that cannot take the request', () => {
  let w;
  before(async () => {
    w = await startWorld({
      providers: (mockBase) => [
        { name: 'broken', base_url: mockBase, headers: { 'x-mock-status': '500' },
          extra: { breaker: { enabled: false } } },
        { name: 'claude', kind: 'anthropic', base_url: mockBase.replace(/\/v1$/, ''),
          api_key_env: 'TORII_TEST_PROVIDER_KEY' },
      ],
      routes: [
        { name: 'json', targets: ['broken/mock-1', 'claude/mock-1'],
          extra: { retry: { attempts: 3, backoff_ms: 1, max_backoff_ms: 2 } } },
        { name: 'json-ok', targets: ['claude/mock-1', 'local/mock-1'] },
      ],
    });
  });
  after(async () => { if (w) await w.stop(); });

  const post = (body) => request(`${w.gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { ...bearer(w.apiKey), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const jsonMode = { response_format: { type: 'json_object' } };

  test('retries go to the target that can take it; the error is the upstream one', async () => {
    const r = await post(chatBody('json', jsonMode));
    const err = assertOpenAIError(r, 502, 'broken three times');
    assert.match(err.message, /all 3 attempts/);
    assert.match(err.message, /HTTP 500/, 'not the capability error of the skipped target');
    assert.equal(r.headers['x-torii-attempts'], '3');
  });

  test('a skipped target is not an attempt: the next one answers', async () => {
    const r = await post(chatBody('json-ok', jsonMode));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-torii-provider'], 'local');
    assert.equal(r.headers['x-torii-attempts'], '1');
  });

  test('when no target can take it, the client gets the 400 naming the field', async () => {
    const r = await post(chatBody('claude/mock-1', jsonMode));
    const err = assertOpenAIError(r, 400, 'no JSON mode');
    assert.equal(err.param, 'response_format');
  });
});
