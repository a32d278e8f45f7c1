#!/usr/bin/env bash
# Tokenizer throughput: torii's BPE (torii_micro_bench, tokenizer/* benchmarks) beside
# js-tiktoken and tiktoken (WASM) (bench/tokenizer.mjs) on the same corpus, in one run.
# Prints a markdown table; all figures are MB/s of CPU time on one core.
#
#   bench/tokenizer.sh            (BUILD=build, TORII_MICRO=$BUILD/bench/torii_micro_bench)
#   BENCH_SMOKE=1 bench/tokenizer.sh      short measurements
# Needs: scripts/setup.sh (the tables in data/tokenizer) and npm ci --prefix bench.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MICRO=${TORII_MICRO:-$BUILD/bench/torii_micro_bench}
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"
if [ "${BENCH_SMOKE:-0}" = 1 ]; then MIN_TIME=0.05; JS_SECONDS=0.2; else MIN_TIME=1; JS_SECONDS=3; fi
[ -x "$MICRO" ] || { echo "tokenizer.sh: $MICRO not built (cmake --build $BUILD --target torii_micro_bench)" >&2; exit 1; }
[ -d bench/node_modules/tiktoken ] || { echo "tokenizer.sh: npm ci --prefix bench first" >&2; exit 1; }

"$MICRO" --benchmark_filter='^tokenizer/count/' --benchmark_min_time="$MIN_TIME" \
  --benchmark_format=json >"$OUT/tokenizer_micro.json"
BENCH_TOKENIZER_SECONDS=$JS_SECONDS node bench/tokenizer.mjs >"$OUT/tokenizer_js.jsonl"
python3 - "$OUT/tokenizer_micro.json" "$OUT/tokenizer_js.jsonl" <<'PY'
import json, sys
torii = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("error_occurred"):
        sys.exit(f"tokenizer.sh: {b['name']}: {b.get('error_message')}")
    torii[b["name"].split("/")[-1]] = b["bytes_per_second"] / 1e6
js = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    js[(r["impl"], r["encoding"])] = r["mb_per_s"]
print("| encoding | torii MB/s | js-tiktoken MB/s | tiktoken (WASM) MB/s | torii / best JS |")
print("|---|---:|---:|---:|---:|")
for enc in ("cl100k_base", "o200k_base"):
    t, a, w = torii.get(enc), js.get(("js-tiktoken", enc)), js.get(("tiktoken-wasm", enc))
    best = max(a or 0, w or 0)
    ratio = f"{t / best:.1f}x" if t and best else "-"
    print(f"| {enc} | {t:.1f} | {a:.2f} | {w:.2f} | {ratio} |")
PY
