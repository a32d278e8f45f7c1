// `torii tokenize` against js-tiktoken (the pinned reference): the ids must be equal, token for
// token, for both encodings, on fixed texts of every kind and on seeded random Unicode strings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { getEncoding } from 'js-tiktoken';

import { TORII_BIN } from '../lib/harness.mjs';

const ENCODINGS = ['cl100k_base', 'o200k_base'];

function tokenize(encoding, text, extra = []) {
  const r = spawnSync(TORII_BIN, ['tokenize', '--encoding', encoding, ...extra], {
    input: Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'),
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, `torii tokenize failed: ${r.stderr}`);
  return JSON.parse(r.stdout.toString());
}

// mulberry32: a small seeded PRNG, so that a failure reproduces.
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Code point ranges assigned long ago (Unicode <= 13), so that PCRE2's and V8's Unicode tables
// agree on every category; weights favour the pattern's edge cases (spaces, apostrophes, digits).
const RANGES = [
  [0x20, 0x7e, 30], [0x09, 0x0d, 4], [0x27, 0x27, 3], [0x30, 0x39, 4], [0xa0, 0xff, 4],
  [0x100, 0x17f, 2], [0x300, 0x36f, 2], [0x391, 0x3c9, 2], [0x410, 0x44f, 3], [0x5d0, 0x5ea, 2],
  [0x621, 0x64a, 3], [0x660, 0x669, 1], [0x905, 0x939, 2], [0xe01, 0xe2e, 2], [0x2000, 0x200d, 2],
  [0x2010, 0x2027, 2], [0x2028, 0x2029, 1], [0x202f, 0x202f, 1], [0x2070, 0x2079, 1],
  [0x2160, 0x2188, 1], [0x2200, 0x22ff, 1], [0x3000, 0x3000, 1], [0x3041, 0x3096, 2],
  [0x30a1, 0x30fa, 2], [0x4e00, 0x9fa5, 4], [0xac00, 0xd7a3, 2], [0xfe0f, 0xfe0f, 1],
  [0xfeff, 0xfeff, 1], [0xff10, 0xff19, 1], [0x0085, 0x0085, 1], [0x1f300, 0x1f64f, 4],
  [0x1f3fb, 0x1f3ff, 1],
];
const TOTAL = RANGES.reduce((s, r) => s + r[2], 0);

function randomString(rand) {
  const len = 1 + Math.floor(rand() * 60);
  let s = '';
  for (let i = 0; i < len; i++) {
    let w = rand() * TOTAL;
    let r = RANGES[0];
    for (r of RANGES) {
      if ((w -= r[2]) < 0) break;
    }
    s += String.fromCodePoint(r[0] + Math.floor(rand() * (r[1] - r[0] + 1)));
  }
  return s;
}

const mix30k = (() => {
  const parts = [
    '# Heading\n\nSome *markdown* with `code` and a [link](https://example.com/a?b=c).\n',
    'int main(int argc, char** argv) {\n    return argc > 1 ? 0 : 1;  // done\n}\n',
    '日本語の文章とカタカナ、そして漢字。中文句子也在这里。한국어 문장도 있습니다.\n',
    'Emoji: 👍🏽 👩‍💻 🏳️‍🌈 ❤️ and numbers 3.14159, 1,000,000, 2026-11-22T11:49:00Z.\n',
    'مرحبا بالعالم، هذا نص عربي. שלום עולם. Привет, мир! Γειά σου Κόσμε.\n',
    "    indented\t\ttabs   and    spaces   \n\n\n   I'm sure they'll've done it; it's JOHN'S.\n",
  ];
  let s = '';
  for (let i = 0; s.length < 30000; i++) s += parts[i % parts.length];
  return s;
})();

const FIXED = {
  english: 'The quick brown fox jumps over the lazy dog. It was the best of times.',
  code: 'def f(x):\n    return [i ** 2 for i in range(x) if i % 3 == 0]\n\nprint(f(10))\n',
  cjk: '日本語のテキストと中文的文本，还有한국어 텍스트。',
  emoji_zwj: '👩‍👩‍👧‍👦 family, 🧑🏽‍🚀 astronaut, 🏳️‍⚧️ flag, 👍🏿',
  arabic: 'مرحبا بالعالم! كيف حالك اليوم؟ ١٢٣٤٥',
  whitespace_runs: 'a     b\t\t\tc \n \n  d          \n',
  newlines: '\n\n\n',
  numbers: '1234567 and 12 and 123456789012345',
  contractions: "I'm they'll we've she'd YOU'RE it's Don'T",
  special_token_text: 'before <|endoftext|> after <|fim_prefix|><|endofprompt|>',
  mix_30k: mix30k,
  // Pieces over 256 bytes take the heap merge (kept short: js-tiktoken's merge is quadratic).
  long_spaces: ' '.repeat(700) + 'x' + ' '.repeat(300),
  long_punctuation: '!@#$%^&*()'.repeat(70),
  long_letters: 'ab'.repeat(200) + 'é'.repeat(80),
  empty: '',
};

for (const encoding of ENCODINGS) {
  const ref = getEncoding(encoding);
  const expected = (text) => ref.encode(text, [], []);

  test(`${encoding}: fixed texts equal js-tiktoken`, () => {
    for (const [name, text] of Object.entries(FIXED)) {
      assert.deepEqual(tokenize(encoding, text), expected(text), `text "${name}"`);
    }
  });

  test(`${encoding}: --count equals the number of ids`, () => {
    const r = spawnSync(TORII_BIN, ['tokenize', '--encoding', encoding, '--count'],
      { input: mix30k });
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(Number(r.stdout.toString().trim()), expected(mix30k).length);
  });

  test(`${encoding}: 200 seeded random Unicode strings equal js-tiktoken`, () => {
    const rand = prng(encoding === 'cl100k_base' ? 42 : 4242);
    const strings = Array.from({ length: 200 }, () => randomString(rand));
    // Ten per process (the table loads once per run); a failing batch is retried one string at
    // a time so that the message names the string.
    for (let i = 0; i < strings.length; i += 10) {
      const batch = strings.slice(i, i + 10).join('');
      const got = tokenize(encoding, batch);
      if (JSON.stringify(got) === JSON.stringify(expected(batch))) continue;
      for (const s of strings.slice(i, i + 10)) {
        assert.deepEqual(tokenize(encoding, s), expected(s), `string ${JSON.stringify(s)}`);
      }
      assert.deepEqual(got, expected(batch), `batch ${i / 10}`);
    }
  });

  test(`${encoding}: invalid UTF-8 is read as a TextDecoder reads it`, () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82, 0x20, 0xf0, 0x9f, 0x98, 0xc0, 0x80,
      0xed, 0xa0, 0x80, 0x63]);
    assert.deepEqual(tokenize(encoding, bytes), expected(bytes.toString('utf8')));
  });
}

test('tokenize: unknown encoding and missing data exit 1 with a message', () => {
  let r = spawnSync(TORII_BIN, ['tokenize', '--encoding', 'p50k_base'], { input: 'x' });
  assert.equal(r.status, 1);
  assert.match(String(r.stderr), /unknown encoding/);
  r = spawnSync(TORII_BIN, ['tokenize', '--encoding', 'o200k_base'], {
    input: 'x', env: { ...process.env, TORII_DATA_DIR: '/nonexistent/torii-data' },
  });
  assert.equal(r.status, 1);
  assert.match(String(r.stderr), /no tokenizer data/);
});
