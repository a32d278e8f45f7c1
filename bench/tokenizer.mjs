#!/usr/bin/env node
// Tokenizer throughput of the two JavaScript references on the corpus torii's micro-benchmark
// uses (bench/micro/tokenizer_bench.cpp): js-tiktoken (pure JS) and tiktoken (Rust in WASM),
// both pinned by bench/package.json (npm ci --prefix bench).
//
// Corpus: $TORII_TOKENIZER_CORPUS if set, else docs/*.md sorted by name, concatenated, repeated
// up to 1 MiB and cut back to the last '\n' (the same rule as the C++ benchmark).
// Output: one JSON line per (impl, encoding): {"impl","encoding","bytes","tokens","mb_per_s"}.
// Env: BENCH_TOKENIZER_SECONDS (CPU time per measurement, default 2).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(here, 'package.json'));

export function corpus() {
  if (process.env.TORII_TOKENIZER_CORPUS) {
    return fs.readFileSync(process.env.TORII_TOKENIZER_CORPUS);
  }
  const dir = path.join(root, 'docs');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.md')).sort();
  const one = Buffer.concat(files.map((f) => fs.readFileSync(path.join(dir, f))));
  const limit = 1 << 20;
  const parts = [];
  for (let n = 0; n < limit; n += one.length) parts.push(one);
  let all = Buffer.concat(parts).subarray(0, limit);
  return all.subarray(0, all.lastIndexOf(0x0a) + 1);
}

// CPU time (user + sys) per run, as Google Benchmark reports for torii: on a shared machine
// wall time mostly measures the neighbours.
function measure(fn, text, seconds) {
  fn(text);  // warm-up (JIT, lazy tables)
  let runs = 0;
  let tokens = 0;
  const start = process.cpuUsage();
  let elapsed = 0;
  do {
    tokens = fn(text);
    runs++;
    const u = process.cpuUsage(start);
    elapsed = (u.user + u.system) / 1e6;
  } while (elapsed < seconds || runs < 2);
  return { tokens, seconds: elapsed / runs };
}

const seconds = Number(process.env.BENCH_TOKENIZER_SECONDS ?? 2);
const bytes = corpus();
const text = bytes.toString('utf8');
const { getEncoding } = require('js-tiktoken');
const wasm = require('tiktoken');
for (const encoding of ['cl100k_base', 'o200k_base']) {
  const js = getEncoding(encoding);
  const w = wasm.get_encoding(encoding);
  const impls = {
    'js-tiktoken': (t) => js.encode(t, [], []).length,
    'tiktoken-wasm': (t) => w.encode_ordinary(t).length,
  };
  for (const [impl, fn] of Object.entries(impls)) {
    const r = measure(fn, text, seconds);
    console.log(JSON.stringify({ impl, encoding, bytes: bytes.length, tokens: r.tokens,
      mb_per_s: +(bytes.length / r.seconds / 1e6).toFixed(2) }));
  }
  w.free();
}
