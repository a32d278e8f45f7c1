#!/usr/bin/env bash
# The modalities' cost through torii (BENCHMARKS.md): the same request straight to `torii mock`
# and through one torii worker in front of it, with wrk. Embeddings (a JSON body, the model
# spliced in) and a transcription (a 1 MiB multipart upload: parsed as it arrives, re-written
# for the provider, sent on). Pinning as bench/run.sh: torii on cpu 1, mock and wrk on cpu 0.
#   bench/modalities.sh [BUILD_DIR]     (BENCH_DURATION: seconds per run, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
TORII=$BUILD/torii
DUR=${BENCH_DURATION:-10}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
url_of() { sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$1" | head -1; }
wait_for() { for _ in $(seq 100); do grep -q 'listening on' "$1" && break; sleep 0.05; done; }

pin 0 "$TORII" mock --listen 127.0.0.1:0 >"$OUT/mock.log" 2>&1 &
wait_for "$OUT/mock.log"
MOCK=$(url_of "$OUT/mock.log")
cat >"$OUT/torii.yaml" <<YAML
server: {listen: "127.0.0.1:0", workers: 1, max_connections: 20000}
providers:
  - {name: m, kind: openai-compatible, base_url: "$MOCK/v1", models: [emb-1, stt-1]}
egress: {allow_networks: [127.0.0.0/8]}
metrics: false
YAML
pin 1 "$TORII" serve --config "$OUT/torii.yaml" >"$OUT/torii.log" 2>&1 &
wait_for "$OUT/torii.log"
GW=$(url_of "$OUT/torii.log")

# Bodies: 8 texts to embed; a 1 MiB "audio" file in a form.
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
texts = [f"sentence number {i} about torii gates and their history" for i in range(8)]
for model, name in (("emb-1", "emb-direct"), ("m/emb-1", "emb-gw")):
    open(f"{out}/{name}.json", "w").write(json.dumps({"model": model, "input": texts}))
audio = b"RIFF" + b"\0" * 40 + b"MOCKAUDIO:bench\n" + b"\1" * (1 << 20)
for model, name in (("stt-1", "stt-direct"), ("m/stt-1", "stt-gw")):
    b = b"benchboundary"
    body = (b"--" + b + b'\r\nContent-Disposition: form-data; name="model"\r\n\r\n' + model.encode() +
            b"\r\n--" + b + b'\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n" + audio + b"\r\n--" + b + b"--\r\n")
    open(f"{out}/{name}.form", "wb").write(body)
PY

run() {  # run NAME URL BODY TYPE CONC
  local name=$1 url=$2 body=$3 type=$4 conc=$5
  pin 0 wrk -t1 -c"$conc" -d2s -s bench/wrk/post.lua "$url" -- "$body" "$type" >/dev/null 2>&1 || true
  local line
  line=$(pin 0 wrk -t1 -c"$conc" -d"${DUR}s" --latency -s bench/wrk/post.lua "$url" -- \
    "$body" "$type" 2>&1 | sed -n 's/^WRKJSON //p')
  echo "{\"run\":\"$name\",\"connections\":$conc,\"wrk\":$line}"
}
FORM="multipart/form-data; boundary=benchboundary"
for c in 1 32; do
  run "embeddings-direct-c$c" "$MOCK/v1/embeddings" "$OUT/emb-direct.json" application/json "$c"
  run "embeddings-torii-c$c" "$GW/v1/embeddings" "$OUT/emb-gw.json" application/json "$c"
done
for c in 1 8; do
  run "upload-1MiB-direct-c$c" "$MOCK/v1/audio/transcriptions" "$OUT/stt-direct.form" "$FORM" "$c"
  run "upload-1MiB-torii-c$c" "$GW/v1/audio/transcriptions" "$OUT/stt-gw.form" "$FORM" "$c"
done
