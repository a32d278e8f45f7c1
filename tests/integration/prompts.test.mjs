// The prompt library (docs/PROMPTS.md) end to end: what reaches the upstream (`torii mock`'s
// GET /mock/last) for each inbound format, through passthrough and translation: a route's
// default context, a client's whitelisted pick, a refused pick (400 in the client's shape), a
// template with variables and consumer metadata, a missing variable, `torii` stripped, a
// `torii` field on a route without prompts; a template created through the admin API and used
// live; the official SDKs sending `torii` as an extra body member; and a config without
// prompts, where the field goes upstream untouched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { api, firstLogin, startAdminGateway } from '../lib/admin.mjs';
import { randomKey, renderConfig, startMock, startWorld, tempDir } from '../lib/harness.mjs';
import {
  assertOpenAIError, bearer, chat, mockLast, mockStats, request, streamChat,
} from '../lib/http.mjs';
import { rejectsWith } from '../lib/sdk.mjs';

const CONCISE = 'Answer in at most three sentences.';
const FORMAL = 'Use a formal register.';
const PRE = [{ role: 'user', content: 'Who are you?' },
  { role: 'assistant', content: 'A formal assistant.' }];
const POST = [{ role: 'user', content: 'Reply in French.' }];

const PROMPTS_YAML = `
prompts:
  templates:
    - id: summarize
      text: "Summarize for the {{consumer.metadata.team}} team: {{ vars.text }}"
    - id: rules
      role: system
      text: "House rules for {{consumer.id}} on {{route}}."
  contexts:
    - id: concise
      system: "${CONCISE}"
    - id: formal
      system: "${FORMAL}"
      pre:
        - {role: user, content: "Who are you?"}
        - {role: assistant, content: "A formal assistant."}
      post: [{role: user, content: "Reply in French."}]
    - id: hidden
      system: "Offered by no route."
`;

const ROUTE_PROMPTS = { prompts: { context: 'concise', contexts: ['formal'],
  templates: ['summarize', 'rules'] } };

describe('prompt library', () => {
  let mock;
  let ctx;  // {gw, admin, password}
  let gw;
  let token;
  const alice = randomKey('sk-alice');  // metadata team: search
  const bob = randomKey('sk-bob');      // no metadata

  before(async () => {
    mock = await startMock();
    const base = `${mock.url}/v1`;
    const spec = {
      providers: [
        { name: 'local', base_url: base },  // openai-compatible: chat only (others translate)
        { name: 'oai', kind: 'openai', base_url: base, api_key_env: 'PT_PROVIDER_KEY' },
        { name: 'anth', kind: 'anthropic', base_url: base, api_key_env: 'PT_PROVIDER_KEY' },
      ],
      routes: [
        { name: 'chat', targets: ['local/mock-1'], extra: ROUTE_PROMPTS },
        { name: 'achat', targets: ['anth/mock-1'], extra: ROUTE_PROMPTS },
        { name: 'ochat', targets: ['oai/mock-1'], extra: ROUTE_PROMPTS },
        { name: 'plain', targets: ['local/mock-1'] },
      ],
      apiKeys: [
        { name: 'alice', env: 'PT_ALICE', metadata: { team: 'search' } },
        { name: 'bob', env: 'PT_BOB' },
      ],
    };
    const dir = tempDir();
    ctx = await startAdminGateway(dir, renderConfig(spec) + PROMPTS_YAML, {
      store: { type: 'memory' },
      env: { PT_ALICE: alice, PT_BOB: bob, PT_PROVIDER_KEY: randomKey('pk') },
    });
    gw = ctx.gw;
    token = await firstLogin(ctx);
  });

  after(async () => {
    await Promise.all([gw && gw.stop(), mock && mock.stop()]);
  });

  const post = (p, body, key = alice, headers = {}) => request(`${gw.url}${p}`, {
    method: 'POST', headers: { ...bearer(key), ...headers }, body });
  const anthropic = (body, key = alice) => request(`${gw.url}/v1/messages`, {
    method: 'POST', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body });
  const upstream = async () => (await mockLast(mock.url));
  const chatRequests = async () => (await mockStats(mock.url)).chat_requests;

  // An OpenAI-shaped 400 with this code and param, and no upstream call.
  async function refused(send, code, param, says) {
    const before = await chatRequests();
    const r = await send();
    const e = assertOpenAIError(r, 400, `${code} ${param}`);
    assert.equal(e.code, code, r.text);
    assert.equal(e.param, param, r.text);
    if (says) assert.ok(e.message.includes(says), e.message);
    assert.equal(await chatRequests(), before, 'no upstream call');
    return e;
  }

  test('OpenAI chat: the route\'s default context, torii stripped', async () => {
    const r = await chat(gw.url, alice, { model: 'chat',
      messages: [{ role: 'user', content: 'Q' }], torii: {} });
    assert.equal(r.status, 200, r.text);
    const last = await upstream();
    assert.equal(last.target, '/v1/chat/completions');
    assert.equal(last.body.model, 'mock-1');
    assert.equal(last.body.torii, undefined);
    assert.deepEqual(last.body.messages, [{ role: 'system', content: CONCISE },
      { role: 'user', content: 'Q' }]);
  });

  test('OpenAI chat: a whitelisted context, a template with variables and metadata', async () => {
    const r = await chat(gw.url, alice, { model: 'chat',
      messages: [{ role: 'system', content: 'Client rules.' }],
      torii: { context: 'formal', template: 'summarize', variables: { text: 'the Q3 report' } } });
    assert.equal(r.status, 200, r.text);
    const last = await upstream();
    assert.equal(last.body.torii, undefined);
    assert.deepEqual(last.body.messages, [
      { role: 'system', content: `${FORMAL}\n\nClient rules.` }, ...PRE,
      { role: 'user', content: 'Summarize for the search team: the Q3 report' }, ...POST]);
  });

  test('OpenAI chat: a template alone (empty messages), streamed', async () => {
    const r = await streamChat(gw.url, alice, { model: 'chat', messages: [], stream: true,
      torii: { template: 'summarize', variables: { text: 'streamed' } } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.done, true);
    const last = await upstream();
    assert.equal(last.body.stream, true);
    assert.deepEqual(last.body.messages, [{ role: 'system', content: CONCISE },
      { role: 'user', content: 'Summarize for the search team: streamed' }]);
    // Without a template, empty messages are still the codec's 400.
    await refused(() => chat(gw.url, alice, { model: 'chat', messages: [] }), null, 'messages');
  });

  test('refusals: not offered, unknown, missing values, bad torii, route without prompts',
    async () => {
      const ask = (torii, model = 'chat', key = alice) => () => chat(gw.url, key,
        { model, messages: [{ role: 'user', content: 'Q' }], torii });
      await refused(ask({ context: 'hidden' }), 'prompt_not_allowed', 'torii.context',
        "prompt context 'hidden' is not available on route 'chat'");
      await refused(ask({ context: 'no-such' }), 'prompt_not_allowed', 'torii.context', 'no-such');
      await refused(ask({ template: 'summarize' }, 'plain'), 'prompt_not_allowed', 'torii',
        "route 'plain' takes no prompt options");
      await refused(ask({ template: 'nope' }), 'prompt_not_allowed', 'torii.template', 'nope');
      await refused(ask({ template: 'summarize' }), 'prompt_variable_missing',
        'torii.variables.text', '{{vars.text}}');
      await refused(ask({ template: 'summarize', variables: { text: { nested: 1 } } }),
        'prompt_variable_missing', 'torii.variables.text');
      await refused(ask({ template: 'summarize', variables: { text: 'x' } }, 'chat', bob),
        'prompt_variable_missing', 'consumer.metadata.team', '{{consumer.metadata.team}}');
      await refused(ask('formal'), 'invalid_torii_field', 'torii', 'must be an object');
      await refused(ask({ contxt: 'formal' }), 'invalid_torii_field', 'torii.contxt');
      await refused(ask({ variables: 'x' }), 'invalid_torii_field', 'torii.variables');
      // The route without prompts works as before without the field.
      const ok = await chat(gw.url, alice, { model: 'plain',
        messages: [{ role: 'user', content: 'Q' }] });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual((await upstream()).body.messages, [{ role: 'user', content: 'Q' }]);
    });

  test('Anthropic Messages, passthrough: system joined, pre/post, a system template', async () => {
    const r = await anthropic({ model: 'achat', max_tokens: 64, system: 'Client rules.',
      messages: [{ role: 'user', content: 'Q' }],
      torii: { context: 'formal', template: 'rules' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'message');
    const last = await upstream();
    assert.equal(last.target, '/v1/messages');
    assert.equal(last.body.torii, undefined);
    assert.equal(last.body.system,
      `${FORMAL}\n\nClient rules.\n\nHouse rules for alice on achat.`);
    assert.deepEqual(last.body.messages, [...PRE, { role: 'user', content: 'Q' }, ...POST]);
  });

  test('Anthropic Messages: a refused pick in Anthropic\'s shape', async () => {
    const before = await chatRequests();
    const r = await anthropic({ model: 'achat', max_tokens: 64,
      messages: [{ role: 'user', content: 'Q' }], torii: { context: 'hidden' } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.ok(r.json.error.message.includes("'hidden'"), r.json.error.message);
    const missing = await anthropic({ model: 'achat', max_tokens: 64, messages: [],
      torii: { template: 'summarize' } });
    assert.equal(missing.status, 400, missing.text);
    assert.ok(missing.json.error.message.includes('{{vars.text}}'), missing.text);
    assert.equal(await chatRequests(), before);
  });

  test('Anthropic Messages translated to OpenAI chat: the context as the system message',
    async () => {
      const r = await anthropic({ model: 'chat', max_tokens: 64, system: 'Client rules.',
        messages: [{ role: 'user', content: 'Q' }] });
      assert.equal(r.status, 200, r.text);
      const last = await upstream();
      assert.equal(last.target, '/v1/chat/completions');
      assert.deepEqual(last.body.messages, [
        { role: 'system', content: `${CONCISE}\n\nClient rules.` },
        { role: 'user', content: 'Q' }]);
    });

  test('OpenAI Responses, passthrough: instructions joined, a string input a list', async () => {
    const r = await post('/v1/responses', { model: 'ochat', instructions: 'Client rules.',
      input: 'Q', torii: { context: 'formal' } });
    assert.equal(r.status, 200, r.text);
    const last = await upstream();
    assert.equal(last.target, '/v1/responses');
    assert.equal(last.body.torii, undefined);
    assert.equal(last.body.instructions, `${FORMAL}\n\nClient rules.`);
    assert.deepEqual(last.body.input, [...PRE, { role: 'user', content: 'Q' }, ...POST]);

    // A template with no input at all; the default context's instructions.
    const t = await post('/v1/responses', { model: 'ochat',
      torii: { template: 'summarize', variables: { text: 'resp' } } });
    assert.equal(t.status, 200, t.text);
    const l2 = await upstream();
    assert.equal(l2.body.instructions, CONCISE);
    assert.deepEqual(l2.body.input,
      [{ role: 'user', content: 'Summarize for the search team: resp' }]);

    await refused(() => post('/v1/responses', { model: 'ochat', input: 'Q',
      torii: { template: 'hidden' } }), 'prompt_not_allowed', 'torii.template');
  });

  test('OpenAI Responses translated to OpenAI chat', async () => {
    const r = await post('/v1/responses', { model: 'chat',
      input: [{ role: 'user', content: 'Q' }], torii: { template: 'rules' } });
    assert.equal(r.status, 200, r.text);
    const last = await upstream();
    assert.equal(last.target, '/v1/chat/completions');
    assert.equal(last.body.messages[0].role, 'system');
    assert.equal(last.body.messages[0].content, CONCISE);
    assert.deepEqual(last.body.messages.slice(1, 2), [{ role: 'user', content: 'Q' }]);
    const tail = last.body.messages[last.body.messages.length - 1];
    assert.equal(tail.role, 'system');
    assert.equal(tail.content, 'House rules for alice on chat.');
  });

  test('legacy completions: the prompt wrapped, passthrough and translated', async () => {
    const r = await post('/v1/completions', { model: 'ochat', prompt: 'Q', max_tokens: 8,
      torii: { template: 'summarize', variables: { text: 'T' } } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'text_completion');
    let last = await upstream();
    assert.equal(last.target, '/v1/completions');
    assert.equal(last.body.torii, undefined);
    assert.equal(last.body.prompt, `${CONCISE}\n\nQ\n\nSummarize for the search team: T`);

    const f = await post('/v1/completions', { model: 'ochat', prompt: 'Q',
      torii: { context: 'formal' } });
    assert.equal(f.status, 200, f.text);
    last = await upstream();
    assert.equal(last.body.prompt,
      `${FORMAL}\n\nWho are you?\n\nA formal assistant.\n\nQ\n\nReply in French.`);

    const t = await post('/v1/completions', { model: 'chat', prompt: 'Q' });
    assert.equal(t.status, 200, t.text);
    last = await upstream();
    assert.equal(last.target, '/v1/chat/completions');
    assert.deepEqual(last.body.messages, [{ role: 'user', content: `${CONCISE}\n\nQ` }]);

    await refused(() => post('/v1/completions', { model: 'ochat', prompt: [1, 2, 3],
      torii: { template: 'summarize', variables: { text: 'T' } } }), null, 'prompt');
  });

  test('admin API: a template created and offered through the API is used live', async () => {
    const created = await api(ctx.admin, token, 'POST', '/api/v1/prompt-templates',
      { id: 'translate', text: 'Translate into {{vars.lang}}: {{vars.text}}' });
    assert.equal(created.status, 201, created.text);
    const list = await api(ctx.admin, token, 'GET', '/api/v1/prompt-templates');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.data.map((t) => t.id), ['summarize', 'rules', 'translate']);
    const ask = () => chat(gw.url, alice, { model: 'chat', messages: [],
      torii: { template: 'translate', variables: { lang: 'French', text: 'hello' } } });
    await refused(ask, 'prompt_not_allowed', 'torii.template');  // not offered yet

    const patched = await api(ctx.admin, token, 'PATCH', '/api/v1/routes/chat',
      { prompts: { templates: ['summarize', 'rules', 'translate'] } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json.prompts, { context: 'concise', contexts: ['formal'],
      templates: ['summarize', 'rules', 'translate'] });
    const r = await ask();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((await upstream()).body.messages, [{ role: 'system', content: CONCISE },
      { role: 'user', content: 'Translate into French: hello' }]);

    // Invalid entries and dangling references are refused with the key path.
    const bad = await api(ctx.admin, token, 'POST', '/api/v1/prompt-templates',
      { id: 'broken', text: 'Hello {{user.name}}' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error.message, /unknown placeholder 'user'/);
    const del = await api(ctx.admin, token, 'DELETE', '/api/v1/prompt-templates/translate');
    assert.equal(del.status, 400, del.text);
    assert.match(del.json.error.message, /names no prompt template 'translate'/);

    // A context edited through the API is the next request's.
    const ctxPatch = await api(ctx.admin, token, 'PATCH', '/api/v1/prompt-contexts/concise',
      { system: 'One sentence, {{consumer.id}}.' });
    assert.equal(ctxPatch.status, 200, ctxPatch.text);
    const r2 = await chat(gw.url, alice, { model: 'chat',
      messages: [{ role: 'user', content: 'Q' }] });
    assert.equal(r2.status, 200, r2.text);
    assert.deepEqual((await upstream()).body.messages[0],
      { role: 'system', content: 'One sentence, alice.' });
    const restore = await api(ctx.admin, token, 'PATCH', '/api/v1/prompt-contexts/concise',
      { system: CONCISE });
    assert.equal(restore.status, 200, restore.text);
  });

  test('the official SDKs send torii as an extra body member', async () => {
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: alice, maxRetries: 0,
      timeout: 10_000 });
    const done = await openai.chat.completions.create({ model: 'chat', messages: [],
      torii: { template: 'summarize', variables: { text: 'from the SDK' } } });
    assert.equal(done.object, 'chat.completion');
    assert.deepEqual((await upstream()).body.messages.at(-1),
      { role: 'user', content: 'Summarize for the search team: from the SDK' });
    const err = await rejectsWith(openai.chat.completions.create({ model: 'chat',
      messages: [{ role: 'user', content: 'Q' }], torii: { context: 'hidden' } }),
    OpenAI.BadRequestError, 400);
    assert.equal(err.code, 'prompt_not_allowed');
    assert.equal(err.param, 'torii.context');

    const claude = new Anthropic({ baseURL: gw.url, apiKey: alice, maxRetries: 0,
      timeout: 10_000 });
    const msg = await claude.messages.create({ model: 'achat', max_tokens: 32,
      messages: [{ role: 'user', content: 'Q' }], torii: { context: 'formal' } });
    assert.equal(msg.type, 'message');
    assert.equal((await upstream()).body.system, FORMAL);
    await rejectsWith(claude.messages.create({ model: 'achat', max_tokens: 32,
      messages: [{ role: 'user', content: 'Q' }], torii: { template: 'hidden' } }),
    Anthropic.BadRequestError, 400);
  });
});

describe('no prompt config', () => {
  let w;
  before(async () => { w = await startWorld(); });
  after(async () => { if (w) await w.stop(); });

  test('no policy: a torii field goes upstream as it came', async () => {
    const r = await chat(w.gw.url, w.apiKey, { model: 'fast',
      messages: [{ role: 'user', content: 'Q' }], torii: { context: 'anything' } });
    assert.equal(r.status, 200, r.text);
    const last = await mockLast(w.mock.url);
    assert.deepEqual(last.body.torii, { context: 'anything' });
    assert.deepEqual(last.body.messages, [{ role: 'user', content: 'Q' }]);
  });
});
