#!/usr/bin/env bash
# Instructions per proxied request, a repeatable figure on a noisy machine (ARCHITECTURE.md's
# hot-path table): torii serve under callgrind, behind wrk at concurrency 4 against a zero-delay
# `torii mock`. Counters are zeroed after a warm-up, so startup is not counted.
#   bench/callgrind.sh [bare|full] [model]      (default: bare, m0/mock-1)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-bare}
model=${2:-m0/mock-1}
TORII=${TORII:-build/torii}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

"$TORII" mock --listen 127.0.0.1:0 >"$out/mock.log" 2>&1 &
for _ in $(seq 50); do grep -q 'listening on' "$out/mock.log" && break; sleep 0.1; done
mock_port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out/mock.log")
sed -e "s/@MOCK0_PORT@/$mock_port/; s/@MOCK20_PORT@/$mock_port/; s#@OUT@#$out#" \
  "bench/configs/torii-$which.yaml" >"$out/torii.yaml"
export TORII_BENCH_UPSTREAM_KEY=sk-upstream TORII_BENCH_KEY=sk-bench
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
  "$TORII" serve --config "$out/torii.yaml" >"$out/torii.log" 2>"$out/vg.log" &
vg=$!
for _ in $(seq 300); do grep -q 'listening on' "$out/torii.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out/torii.log")
# A config with quotas loads the token tables in the background (~200M instructions under
# valgrind): wait for them, or their load would be counted against the requests.
if grep -q '^quotas:' "$out/torii.yaml"; then
  for _ in $(seq 1200); do grep -q 'tokenizer: .* loaded' "$out/torii.log" && break; sleep 0.1; done
fi
args=(-t1 -c4 -s bench/wrk/chat.lua "http://127.0.0.1:$port/v1/chat/completions" -- "$model" sk-bench)
wrk -d3s "${args[@]}" >/dev/null
callgrind_control -z "$vg" >/dev/null 2>&1
wrk -d10s "${args[@]}" >"$out/wrk.txt"
callgrind_control -d "$vg" >/dev/null 2>&1
requests=$(sed -n 's/^WRKJSON //p' "$out/wrk.txt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
kill -INT "$vg"; wait "$vg" || true
# The dump taken after the zeroing is the one with the highest sequence number.
dump=$(ls -1 "$out"/cg.out* | grep -v '\.out$' | sort -t. -k3 -n | tail -1 || true)
[ -n "$dump" ] || dump=$(ls -1 "$out"/cg.out* | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | sed -n 's/^\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "callgrind: $which $model: $requests requests, $((total / requests)) instructions/request"
