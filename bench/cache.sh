#!/usr/bin/env bash
# The exact cache's hit latency through torii (BENCHMARKS.md): one torii worker in front of a
# `torii mock` that answers after 20 ms, the same request over and over with wrk. With the cache
# every request after the first is a hit, served without the upstream; without it, each pays
# the upstream. Pinning as bench/run.sh: torii on cpu 1, mock and wrk on cpu 0 (when taskset
# exists and there are 2 cores).
#   bench/cache.sh [BUILD_DIR]     (BENCH_DURATION: seconds per run, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
TORII=$BUILD/torii
DUR=${BENCH_DURATION:-10}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

pin 0 "$TORII" mock --listen 127.0.0.1:0 --latency-ms 20 >"$OUT/mock.log" 2>&1 &
for _ in $(seq 100); do grep -q 'listening on' "$OUT/mock.log" && break; sleep 0.05; done
MOCK=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$OUT/mock.log")

run() {  # run NAME CACHE_YAML CONC
  local name=$1 cache=$2 conc=$3
  cat >"$OUT/$name.yaml" <<YAML
server: {listen: "127.0.0.1:0", workers: 1, max_connections: 20000}
providers:
  - {name: m20, kind: openai-compatible, base_url: "$MOCK/v1", models: [mock-1]}
routes:
  - {name: chat, targets: [m20/mock-1]}
egress: {allow_networks: [127.0.0.0/8]}
metrics: false
$cache
YAML
  pin 1 "$TORII" serve --config "$OUT/$name.yaml" >"$OUT/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$OUT/$name.log" && break; sleep 0.05; done
  local url
  url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$OUT/$name.log" | head -1)
  pin 0 wrk -t1 -c"$conc" -d2s -s bench/wrk/same.lua "$url/v1/chat/completions" -- chat >/dev/null 2>&1 || true
  local line
  line=$(pin 0 wrk -t1 -c"$conc" -d"${DUR}s" --latency -s bench/wrk/same.lua \
    "$url/v1/chat/completions" -- chat 2>&1 | sed -n 's/^WRKJSON //p')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "{\"run\":\"$name\",\"connections\":$conc,\"wrk\":$line}"
}

for c in 1 64; do
  run "hit-c$c" "cache: {max_temperature: 0}" "$c"
  run "nocache-c$c" "" "$c"
done
