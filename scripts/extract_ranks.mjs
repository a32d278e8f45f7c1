#!/usr/bin/env node
// Setup-time extraction of the BPE tables torii's tokenizer loads (src/tokenizer).
// Reads node_modules/js-tiktoken/dist/ranks/<name>.js (`export default {...}`: JSON with
// pat_str, special_tokens and bpe_ranks "! <start_rank> <b64> <b64> ... ! <start_rank> ...")
// and writes, for cl100k_base and o200k_base:
//   data/tokenizer/<name>.tiktoken  "<base64 token> <rank>" lines, the standard tiktoken format
//   data/tokenizer/<name>.json      {"pat_str": ..., "special_tokens": {...}}
// Usage: node scripts/extract_ranks.mjs [OUT_DIR]   (default <repo>/data/tokenizer)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.resolve(process.argv[2] ?? path.join(root, 'data', 'tokenizer'));
const srcDir = path.join(root, 'node_modules', 'js-tiktoken', 'dist', 'ranks');

fs.mkdirSync(outDir, { recursive: true });
for (const name of ['cl100k_base', 'o200k_base']) {
  const file = path.join(srcDir, `${name}.js`);
  if (!fs.existsSync(file)) {
    console.error(`extract_ranks: ${file} is missing (run npm ci first)`);
    process.exit(1);
  }
  let text = fs.readFileSync(file, 'utf8').trim();
  const prefix = 'export default';
  if (!text.startsWith(prefix)) throw new Error(`${file}: no "${prefix}" wrapper`);
  text = text.slice(prefix.length).trim().replace(/;$/, '');
  const data = JSON.parse(text);

  const lines = [];
  let rank = -1;
  let expectStart = false;
  for (const word of data.bpe_ranks.split(/\s+/)) {
    if (word === '!') { expectStart = true; continue; }
    if (expectStart) { rank = Number(word); expectStart = false; continue; }
    if (word === '') continue;
    lines.push(`${word} ${rank++}`);
  }
  if (lines.length < 50000) throw new Error(`${name}: only ${lines.length} ranks`);
  // Written to a temporary name first so that a reader never sees half a table.
  const write = (f, body) => {
    fs.writeFileSync(`${f}.tmp`, body);
    fs.renameSync(`${f}.tmp`, f);
  };
  write(path.join(outDir, `${name}.tiktoken`), lines.join('\n') + '\n');
  write(path.join(outDir, `${name}.json`),
    JSON.stringify({ pat_str: data.pat_str, special_tokens: data.special_tokens }) + '\n');
  console.log(`extract_ranks: ${name}: ${lines.length} ranks -> ${outDir}`);
}
