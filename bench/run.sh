#!/usr/bin/env bash
# torii bench harness (BENCH.md). Every figure is a ratio against references run side by side:
# direct (client -> torii mock), nginx proxy_pass, torii bare, torii full chain, portkey.
#
#   bench/run.sh                 full run (~6-10 min), writes BENCHMARKS.md
#   BENCH_SMOKE=1 bench/run.sh   short pass of every stage (CI), writes bench/out/BENCHMARKS.smoke.md
#   BENCH_SOAK_SECONDS=3600 bench/run.sh        full run plus the hour-long memory soak
#   BENCH_ONLY=soak BENCH_SOAK_SECONDS=300 bench/run.sh   the soak alone, report in BENCH_OUT
#
# Env: BUILD (default build), TORII_BIN, TORII_LOADGEN, TORII_MICRO, BENCH_OUT (default bench/out).
# BENCH_SOAK_SECONDS: length of the soak stage (default 0 = skipped in a full run, 20 in smoke
# mode, 300 with BENCH_ONLY=soak). BENCH_ONLY: comma-separated stages to run among micro,
# callgrind (full runs only, unless named), wrk, stream, soak (default all); a partial run writes its report to BENCH_OUT/BENCHMARKS.only.md,
# never to BENCHMARKS.md. Soak load: BENCH_SOAK_CONNS (wrk connections, 32), BENCH_SOAK_STREAMS
# (100), BENCH_SOAK_ERROR_RATE (faulty requests per second, 5).
# Exit status: 1 when something is broken (a service does not start, a target answers errors in
# smoke mode, the soak sees unexpected errors); never because of a timing or of memory growth.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SMOKE=${BENCH_SMOKE:-0}
BUILD=${BUILD:-build}
TORII=${TORII_BIN:-$BUILD/torii}
LOADGEN=${TORII_LOADGEN:-$BUILD/bench/torii_loadgen}
MICRO=${TORII_MICRO:-$BUILD/bench/torii_micro_bench}
OUT=${BENCH_OUT:-bench/out}
ONLY=${BENCH_ONLY:-}
for stage in ${ONLY//,/ }; do
  case "$stage" in micro | callgrind | wrk | stream | audit | soak) ;;
    *) echo "bench: BENCH_ONLY: unknown stage '$stage' (micro, callgrind, wrk, stream, audit, soak)" >&2; exit 2 ;;
  esac
done
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
case "$TORII" in /*) ;; *) TORII=$ROOT/$TORII ;; esac
case "$LOADGEN" in /*) ;; *) LOADGEN=$ROOT/$LOADGEN ;; esac
case "$MICRO" in /*) ;; *) MICRO=$ROOT/$MICRO ;; esac

if [ "$SMOKE" = 1 ]; then
  WARM=1; DUR=2; STREAM_DUR=2; STREAM_CHUNKS=8; STREAM_LEVELS=(50); BIG_LEVELS=()
  MICRO_MIN_TIME=0.02
  MICRO_REPS=1
  REPORT=$OUT/BENCHMARKS.smoke.md
else
  WARM=2; DUR=10; STREAM_DUR=10; STREAM_CHUNKS=64; STREAM_LEVELS=(1000); BIG_LEVELS=(5000 10000)
  MICRO_MIN_TIME=0.2
  MICRO_REPS=3  # the report shows each benchmark's median
  REPORT=$ROOT/BENCHMARKS.md
fi
STREAM_INTERVAL=20
if [ -n "$ONLY" ]; then REPORT=$OUT/BENCHMARKS.only.md; fi
if [ -n "${BENCH_SOAK_SECONDS:-}" ]; then SOAK_SECONDS=$BENCH_SOAK_SECONDS
elif [ -n "$ONLY" ] && want soak; then SOAK_SECONDS=300
elif [ "$SMOKE" = 1 ]; then SOAK_SECONDS=20
else SOAK_SECONDS=0
fi
if ! [[ "$SOAK_SECONDS" =~ ^[0-9]+$ ]]; then
  echo "bench: BENCH_SOAK_SECONDS must be whole seconds" >&2
  exit 2
fi

for bin in "$TORII" "$LOADGEN"; do
  [ -x "$bin" ] || { echo "bench: $bin not found; build it first (make build)" >&2; exit 1; }
done
for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/setup.sh)" >&2; exit 1; }
done

rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.jsonl
NOTES=$OUT/notes.txt
: >"$RESULTS"
: >"$NOTES"
PROBLEMS=0

note() { echo "bench: $*"; echo "$*" >>"$NOTES"; }
problem() { echo "bench: PROBLEM: $*" >&2; echo "PROBLEM: $*" >>"$NOTES"; PROBLEMS=$((PROBLEMS + 1)); }

# 10k streams need ~2 fds each in a proxy: take the hard limit for everything started here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)

# ---------------------------------------------------------------- services and cleanup
PIDS=()       # targets, stopped first
MOCK_PIDS=()  # upstreams, stopped last so no target logs a refused connection on the way out
stop_pids() {
  local pid alive
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 50); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null; done
}
cleanup() {
  set +e
  stop_pids "${PIDS[@]}"
  stop_pids "${MOCK_PIDS[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pinning: the target on one core, the upstream and the load generator on others (BENCH.md).
read -r -a CPUS <<<"$(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"
PIN_TARGET=(); PIN_UP=(); PIN_LOAD=()
if ((${#CPUS[@]} >= 3)); then
  PIN_TARGET=(taskset -c "${CPUS[0]}"); PIN_UP=(taskset -c "${CPUS[1]}")
  PIN_LOAD=(taskset -c "${CPUS[2]}")
elif ((${#CPUS[@]} == 2)); then
  PIN_TARGET=(taskset -c "${CPUS[0]}"); PIN_UP=(taskset -c "${CPUS[1]}")
  PIN_LOAD=(taskset -c "${CPUS[1]}")
fi
if ((${#PIN_TARGET[@]})) && ! taskset -c "${CPUS[0]}" true 2>/dev/null; then
  PIN_TARGET=(); PIN_UP=(); PIN_LOAD=()
fi
if ((${#PIN_TARGET[@]})); then
  PINNING="target (torii, nginx, portkey) on cpu ${PIN_TARGET[2]}; upstream mocks on cpu ${PIN_UP[2]}; load generator (wrk, torii_loadgen) on cpu ${PIN_LOAD[2]}"
else
  PINNING="none (fewer than 2 cpus or taskset unavailable)"
fi
echo "bench: pinning: $PINNING"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: fd limit $FD_LIMIT; smoke=$SMOKE; run ${DUR}s after ${WARM}s warm-up per case"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_line FILE REGEX PID SECONDS: prints the first match once the process printed it.
wait_line() {
  local file=$1 re=$2 pid=$3 secs=$4 line
  for _ in $(seq $((secs * 10))); do
    line=$(grep -m1 -oE "$re" "$file" 2>/dev/null || true)
    [ -n "$line" ] && { echo "$line"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

wait_http() {  # wait_http URL SECONDS
  for _ in $(seq $(($2 * 10))); do
    curl -s -o /dev/null -m 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# start_mock NAME LATENCY_MS: sets MOCK_PORT and MOCK_PID.
start_mock() {
  local name=$1 latency=$2
  "${PIN_UP[@]}" "$TORII" mock --listen 127.0.0.1:0 --workers 1 --latency-ms "$latency" \
    >"$OUT/$name.out" 2>"$OUT/$name.err" &
  MOCK_PID=$!
  MOCK_PIDS+=("$MOCK_PID")
  local line
  line=$(wait_line "$OUT/$name.out" 'listening on http://[0-9.]+:[0-9]+' "$MOCK_PID" 10) || {
    problem "$name (torii mock) did not start; see $OUT/$name.err"; tail -5 "$OUT/$name.err" >&2
    exit 1
  }
  MOCK_PORT=${line##*:}
}

# start_torii NAME TEMPLATE: sets TORII_PORT and TORII_PID (empty when it did not start).
start_torii() {
  local name=$1 template=$2 cfg=$OUT/$1.yml line
  sed -e "s/@MOCK0_PORT@/$MOCK0_PORT/g" -e "s/@MOCK20_PORT@/$MOCK20_PORT/g" -e "s|@OUT@|$OUT|g" \
    "$template" >"$cfg"
  TORII_PORT=""; TORII_PID=""
  if ! "$TORII" check --config "$cfg" >"$OUT/$name.check" 2>&1; then
    problem "$name: torii check rejected $cfg: $(head -3 "$OUT/$name.check" | tr '\n' ' ')"
    return 0
  fi
  "${PIN_TARGET[@]}" "$TORII" serve --config "$cfg" --listen 127.0.0.1:0 --workers 1 \
    >"$OUT/$name.out" 2>"$OUT/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  line=$(wait_line "$OUT/$name.out" 'listening on http://[0-9.]+:[0-9]+' "$pid" 15) || {
    problem "$name did not start; see $OUT/$name.err"; tail -5 "$OUT/$name.err" >&2
    return 0
  }
  TORII_PORT=${line##*:}
  TORII_PID=$pid
}

# Target table: URL per mock, model per mock, key, extra headers (space-separated k:v), pids.
declare -A URL0 URL20 MODEL0 MODEL20 KEY HDR0 HDR20 TPIDS DEAD
TARGETS=()
add_target() {  # NAME PORT0 PORT20 MODEL0 MODEL20 KEY "HDR0" "HDR20" "PIDS"
  TARGETS+=("$1")
  URL0[$1]=http://127.0.0.1:$2/v1/chat/completions
  URL20[$1]=http://127.0.0.1:$3/v1/chat/completions
  MODEL0[$1]=$4; MODEL20[$1]=$5; KEY[$1]=$6; HDR0[$1]=$7; HDR20[$1]=$8; TPIDS[$1]=$9
}

# probe NAME URL MODEL KEY HDRS: one non-streaming request must answer 200.
probe() {
  local args=(-s -m 5 -o "$OUT/probe-$1.json" -w '%{http_code}' -H 'Content-Type: application/json')
  if [ "$4" != "-" ]; then args+=(-H "Authorization: Bearer $4"); fi
  local h
  for h in $5; do args+=(-H "$h"); done
  local code
  code=$(curl "${args[@]}" -d "{\"model\":\"$3\",\"messages\":[{\"role\":\"user\",\"content\":\"probe\"}]}" "$2" || true)
  [ "$code" = 200 ]
}

# ---------------------------------------------------------------- measurements
CLK_TCK=$(getconf CLK_TCK)

# All pids of a process tree (nginx master + workers); empty input gives nothing.
tree_pids() {
  local pid
  for pid in "$@"; do
    echo "$pid"
    local kids
    kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
    # shellcheck disable=SC2086
    if [ -n "$kids" ]; then tree_pids $kids; fi
  done
}

# cpu_ticks PID...: user+sys clock ticks of the processes (and their threads).
cpu_ticks() {
  local total=0 pid stat rest
  for pid in $(tree_pids "$@"); do
    stat=$(cat /proc/"$pid"/stat 2>/dev/null) || continue
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    total=$((total + f[11] + f[12]))  # fields 14 and 15 (utime, stime), counted after the comm
  done
  echo "$total"
}

rss_kb() {
  local total=0 pid v
  for pid in $(tree_pids "$@"); do
    v=$(awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# alive TARGET: false (and a problem) when one of the target's processes is gone.
alive() {
  local pid
  for pid in ${TPIDS[$1]}; do
    if ! kill -0 "$pid" 2>/dev/null; then
      problem "$1 (pid $pid) is no longer running; see $OUT/$1.err"
      TPIDS[$1]=""
      return 1
    fi
  done
}

# run_wrk SCENARIO TARGET DELAY(0|20) CONCURRENCY
run_wrk() {
  local scenario=$1 t=$2 delay=$3 conc=$4 url model hdrs up_pid
  [ -n "${DEAD[$t]:-}" ] && return 0
  alive "$t" || { DEAD[$t]=1; return 0; }
  if [ "$delay" = 0 ]; then
    url=${URL0[$t]}; model=${MODEL0[$t]}; hdrs=${HDR0[$t]}; up_pid=$MOCK0_PID
  else
    url=${URL20[$t]}; model=${MODEL20[$t]}; hdrs=${HDR20[$t]}; up_pid=$MOCK20_PID
  fi
  local args=(-t1 -c"$conc" --latency --timeout 5s -s bench/wrk/chat.lua "$url" -- "$model" "${KEY[$t]}")
  # shellcheck disable=SC2206
  args+=($hdrs)
  timeout $((WARM + 20)) "${PIN_LOAD[@]}" wrk -d"${WARM}s" "${args[@]}" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  local t0 u0 t1 u1 log=$OUT/wrk-$scenario-$t.txt
  t0=$(cpu_ticks ${TPIDS[$t]}); u0=$(cpu_ticks "$up_pid")
  timeout $((DUR + 30)) "${PIN_LOAD[@]}" wrk -d"${DUR}s" "${args[@]}" >"$log" 2>&1 || true
  t1=$(cpu_ticks ${TPIDS[$t]}); u1=$(cpu_ticks "$up_pid")
  local json
  json=$(sed -n 's/^WRKJSON //p' "$log")
  if [ -z "$json" ]; then
    problem "wrk $scenario $t gave no result; see $log"
    return 0
  fi
  echo "{\"kind\":\"wrk\",\"scenario\":\"$scenario\",\"target\":\"$t\",\"concurrency\":$conc,\"delay_ms\":$delay,\"target_ticks\":$((t1 - t0)),\"upstream_ticks\":$((u1 - u0)),\"clk_tck\":$CLK_TCK,\"has_target_pids\":$([ -n "${TPIDS[$t]}" ] && echo true || echo false),\"wrk\":$json}" >>"$RESULTS"
  local rc
  if python3 - "$json" "$scenario" "$t" <<'EOF'
import json, sys
w = json.loads(sys.argv[1])
errs = w["errors_connect"] + w["errors_read"] + w["errors_write"] + w["errors_status"] + w["errors_timeout"]
print(f"bench: {sys.argv[2]:<10} {sys.argv[3]:<11} {w['rps']:>9.0f} rps  p50 {w['p50_us']:>6} us  p99 {w['p99_us']:>6} us  errors {errs}")
sys.exit(3 if errs or w["requests"] == 0 else 0)
EOF
  then rc=0; else rc=$?; fi
  if [ "$rc" = 3 ]; then
    if [ "$SMOKE" = 1 ] || [ "$t" != portkey ]; then
      problem "wrk $scenario $t: errors or no requests (see $log)"
    else
      note "wrk $scenario $t: errors (see $log)"
    fi
  fi
}

listen_overflows() {
  awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) k[i] = $i; h = 1 } else
       for (i = 1; i <= NF; i++) if (k[i] == "ListenOverflows") print $i }' /proc/net/netstat
}

# run_stream LEVEL TARGET [INTERVAL_MS]
run_stream() {
  local n=$1 t=$2 interval=${3:-$STREAM_INTERVAL} log=$OUT/stream-$1-$2.json
  [ -n "${DEAD[$t]:-}" ] && return 0
  alive "$t" || { DEAD[$t]=1; return 0; }
  local args=(stream --url "${URL0[$t]}" --model "${MODEL0[$t]}" --streams "$n"
    --duration "$STREAM_DUR" --chunks "$STREAM_CHUNKS" --interval-ms "$interval")
  if [ "${KEY[$t]}" != "-" ]; then args+=(--key "${KEY[$t]}"); fi
  local h
  for h in ${HDR0[$t]}; do args+=(--header "$h"); done
  local pids=${TPIDS[$t]:-$MOCK0_PID} rss_file=$OUT/rss-$n-$t.txt
  # Sample the RSS of the target (the mock for direct) while the streams run; keep the peak.
  # shellcheck disable=SC2086
  (
    peak=0
    while :; do
      v=$(rss_kb $pids); ((v > peak)) && peak=$v && echo "$peak" >"$rss_file"
      sleep 0.2
    done
  ) &
  local sampler=$!
  local limit=$((STREAM_DUR + n / 4000 + 2 * STREAM_CHUNKS * interval / 1000 + 30))
  local t0 u0 o0 t1 u1 o1
  # shellcheck disable=SC2086
  t0=$(cpu_ticks ${TPIDS[$t]}); u0=$(cpu_ticks "$MOCK0_PID"); o0=$(listen_overflows)
  timeout "$limit" "${PIN_LOAD[@]}" "$LOADGEN" "${args[@]}" >"$log" 2>"$OUT/stream-$n-$t.err" || true
  # shellcheck disable=SC2086
  t1=$(cpu_ticks ${TPIDS[$t]}); u1=$(cpu_ticks "$MOCK0_PID"); o1=$(listen_overflows)
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sleep 0.3
  # shellcheck disable=SC2086
  local rss_peak rss_after
  rss_peak=$(cat "$rss_file" 2>/dev/null || echo 0); rss_after=$(rss_kb $pids)
  if ! grep -q '"mode":"stream"' "$log"; then
    problem "loadgen $n streams via $t gave no result; see $OUT/stream-$n-$t.err"
    return 0
  fi
  echo "{\"kind\":\"stream\",\"target\":\"$t\",\"level\":$n,\"chunks\":$STREAM_CHUNKS,\"interval_ms\":$interval,\"target_ticks\":$((t1 - t0)),\"upstream_ticks\":$((u1 - u0)),\"clk_tck\":$CLK_TCK,\"listen_overflows\":$((o1 - o0)),\"rss_peak_kb\":$rss_peak,\"rss_after_kb\":$rss_after,\"lg\":$(cat "$log")}" >>"$RESULTS"
  if ! python3 - "$(cat "$log")" "$n" "$t" "$rss_peak" "$((t1 - t0))" "$interval" <<'EOF'
import json, sys
s = json.loads(sys.argv[1])
cpu = int(sys.argv[5]) * 1e4 / max(1, s["events"])
print(f"bench: stream {sys.argv[2]:>5}@{sys.argv[6]}ms {sys.argv[3]:<11} held {s['streams_established']:>5} "
      f"done {s['completed']:>6} err {s['errors']:>4} ttft p99 {s['ttft_p99_us']:>7} us "
      f"gap p99 {s['gap_p99_us']:>7} us stalls {s['stalls']:>5}  cpu {cpu:.1f} us/event  "
      f"rss {int(sys.argv[4]) // 1024} MiB"
      + (f"  {s['error_kinds']}" if s['errors'] else ""))
sys.exit(3 if s["completed"] == 0 or (s["errors"] and int(sys.argv[2]) <= 1000) else 0)
EOF
  then
    problem "stream $n via $t: errors or nothing completed (see $log)"
  fi
  return 0
}

# run_soak SECONDS: a fresh torii-full on the zero-delay mock under a steady mixed load (wrk,
# streams and a trickle of faulty requests, bench/soak.py) while its RSS is sampled. The memory
# verdict never makes a problem; unexpected errors and a dead process do.
run_soak() {
  local n=$1 log=$OUT/soak.json
  start_torii torii-soak bench/configs/torii-full.yaml
  [ -n "$TORII_PID" ] || return 0
  local pid=$TORII_PID url=http://127.0.0.1:$TORII_PORT/v1/chat/completions
  if ! probe torii-soak "$url" m0/mock-1 "$TORII_BENCH_KEY" ""; then
    problem "torii-soak: probe request failed (see $OUT/probe-torii-soak.json)"
    return 0
  fi
  local conns=${BENCH_SOAK_CONNS:-32} streams=${BENCH_SOAK_STREAMS:-100}
  local faults=${BENCH_SOAK_ERROR_RATE:-5}
  echo "bench: soak ${n}s on torii-full (pid $pid): wrk -c$conns, $streams streams of 16 chunks" \
    "at 20 ms, $faults faulty requests/s"
  local rc=0
  timeout $((n + 180)) "${PIN_LOAD[@]}" python3 bench/soak.py --seconds "$n" --pid "$pid" \
    --ref-pid "$MOCK0_PID" --url "$url" --model m0/mock-1 --key "$TORII_BENCH_KEY" \
    --wrk-script bench/wrk/chat.lua --loadgen "$LOADGEN" --out "$OUT" --wrk-conns "$conns" \
    --streams "$streams" --chunks 16 --interval-ms 20 --error-rate "$faults" \
    >"$log" 2>"$OUT/soak.err" || rc=$?
  if ! grep -q '"verdict"' "$log"; then
    problem "soak gave no result (exit $rc); see $OUT/soak.err"
    return 0
  fi
  echo "{\"kind\":\"soak\",\"target\":\"torii-full\",\"soak\":$(cat "$log")}" >>"$RESULTS"
  local line
  while IFS= read -r line; do
    case "$line" in
      PROBLEM\ *) problem "${line#PROBLEM }" ;;
      *) echo "bench: $line" ;;
    esac
  done < <(python3 - "$log" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
m, v = s["rss_mib"], s["served"]
print(f"soak rss MiB start {m['start']:.1f} 25% {m['p25']:.1f} 50% {m['p50']:.1f} "
      f"75% {m['p75']:.1f} end {m['end']:.1f} max {m['max']:.1f}; second-half slope "
      f"{s['slope_mib_per_hour']:+.2f} MiB/h: {s['verdict']}")
print(f"soak served {v['wrk_requests']:,} requests ({v['wrk_rps']:,.0f}/s), "
      f"{v['streams_completed']:,} streams, {v['faults_sent']:,} faulty requests "
      f"(expected outcomes {sum(s['expected_errors'].values()):,}); unexpected errors "
      f"{sum(s['unexpected_errors'].values()):,} {s['unexpected_errors'] or ''}")
for b in s["broken"]:
    print(f"PROBLEM soak: {b}")
if s["unexpected_errors"]:
    print(f"PROBLEM soak: unexpected errors {s['unexpected_errors']} (see {sys.argv[1]})")
EOF
  )
  return 0
}

# ---------------------------------------------------------------- micro-benchmarks
# Google Benchmark (bench/micro), run first, on the target's core, while nothing else of ours runs.
MICRO_JSON=$OUT/micro.json
if ! want micro; then
  MICRO_JSON=""
elif [ ! -x "$MICRO" ]; then
  note "micro-benchmarks: skipped ($MICRO not built; it needs libbenchmark-dev)"
elif "${PIN_TARGET[@]}" "$MICRO" --benchmark_format=json --benchmark_min_time="$MICRO_MIN_TIME" \
  --benchmark_repetitions="$MICRO_REPS" >"$MICRO_JSON" 2>"$OUT/micro.err"; then
  python3 - "$MICRO_JSON" <<'EOF' || problem "micro-benchmarks: a benchmark failed (see $MICRO_JSON)"
import json, sys
bad = 0
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("error_occurred"):
        bad += 1
        print(f"bench: micro {b['name']:<34} ERROR {b.get('error_message')}")
    else:
        mbs = b.get("bytes_per_second", 0) / 1e6
        print(f"bench: micro {b['name']:<34} {b['cpu_time']:>10.1f} {b['time_unit']}/op  {mbs:>8.1f} MB/s")
sys.exit(1 if bad else 0)
EOF
else
  problem "micro-benchmarks: $MICRO failed; see $OUT/micro.err"
fi
# The quota policy's figure is a difference of two benchmarks: measured again with the two
# interleaved over many short repetitions, so that a noisy minute weighs on both alike.
QUOTA_JSON=$OUT/quota_pair.json
if [ -z "$MICRO_JSON" ] || [ ! -s "$MICRO_JSON" ]; then
  QUOTA_JSON=""
elif ! "${PIN_TARGET[@]}" "$MICRO" --benchmark_format=json \
  --benchmark_filter='^BM_Quota(PolicyMemory|Harness)$' --benchmark_enable_random_interleaving=true \
  --benchmark_repetitions="$([ "$SMOKE" = 1 ] && echo 2 || echo 20)" \
  --benchmark_min_time="$([ "$SMOKE" = 1 ] && echo 0.02 || echo 0.1)" \
  >"$QUOTA_JSON" 2>>"$OUT/micro.err"; then
  QUOTA_JSON=""
  problem "micro-benchmarks: the interleaved quota pass failed; see $OUT/micro.err"
fi

# Tokenizer references (bench/tokenizer.mjs): js-tiktoken and tiktoken (WASM) on the corpus of
# the tokenizer/* micro-benchmarks, for the "Tokenizer" section (bench/tokenizer.sh: alone).
TOKENIZER_JS=$OUT/tokenizer_js.jsonl
if [ -z "$MICRO_JSON" ] || [ ! -s "$MICRO_JSON" ]; then
  TOKENIZER_JS=""
elif [ ! -d bench/node_modules/tiktoken ]; then
  TOKENIZER_JS=""
  note "tokenizer references: skipped (npm ci --prefix bench)"
elif ! BENCH_TOKENIZER_SECONDS=$([ "$SMOKE" = 1 ] && echo 0.2 || echo 2) \
  "${PIN_TARGET[@]}" node bench/tokenizer.mjs >"$TOKENIZER_JS" 2>"$OUT/tokenizer_js.err"; then
  problem "tokenizer references: bench/tokenizer.mjs failed; see $OUT/tokenizer_js.err"
  TOKENIZER_JS=""
fi

# ---------------------------------------------------------------- instructions per request
# callgrind (bench/callgrind.sh): a repeatable count, for the hot-path figures of ARCHITECTURE.md.
# Full runs only (valgrind makes it ~30 s), or BENCH_ONLY=callgrind.
CALLGRIND_TXT=$OUT/callgrind.txt
: >"$CALLGRIND_TXT"
if { [ "$SMOKE" != 1 ] && [ -z "$ONLY" ]; } || [[ ",$ONLY," == *",callgrind,"* ]]; then
  if command -v valgrind >/dev/null; then
    for which in bare full; do
      TORII="$TORII" bench/callgrind.sh "$which" | tee -a "$CALLGRIND_TXT" ||
        problem "callgrind $which failed"
    done
  else
    note "callgrind: skipped (valgrind not installed)"
  fi
fi

# ---------------------------------------------------------------- start everything
export TORII_BENCH_UPSTREAM_KEY=bench-upstream-key
TORII_BENCH_KEY=bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
export TORII_BENCH_KEY

start_mock mock0 0; MOCK0_PORT=$MOCK_PORT; MOCK0_PID=$MOCK_PID
start_mock mock20 20; MOCK20_PORT=$MOCK_PORT; MOCK20_PID=$MOCK_PID
echo "bench: mocks on :$MOCK0_PORT (0 ms) and :$MOCK20_PORT (20 ms)"
add_target direct "$MOCK0_PORT" "$MOCK20_PORT" mock-1 mock-1 - "" "" ""

# The proxies under test; only the soak stage runs without them (it starts its own torii).
RSS_IDLE_BARE=0; RSS_IDLE_FULL=0
if want wrk || want stream || want audit; then
  # nginx with its own prefix under $OUT; stopped by PID.
  NGX=$OUT/nginx
  mkdir -p "$NGX"
  NG0=$(free_port); NG20=$(free_port)
  sed -e "s|@PREFIX@|$NGX|g" -e "s/@MOCK0_PORT@/$MOCK0_PORT/g" -e "s/@MOCK20_PORT@/$MOCK20_PORT/g" \
    -e "s/@PORT0@/$NG0/g" -e "s/@PORT20@/$NG20/g" bench/nginx.conf >"$NGX/nginx.conf"
  "${PIN_TARGET[@]}" nginx -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" -g 'daemon off;' \
    >"$NGX/stdout" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  if wait_http "http://127.0.0.1:$NG0/" 10; then
    add_target nginx "$NG0" "$NG20" mock-1 mock-1 - "" "" "$NGINX_PID"
  else
    problem "nginx did not start; see $NGX/error.log"
  fi

  start_torii torii-bare bench/configs/torii-bare.yaml
  if [ -n "$TORII_PID" ]; then
    add_target torii-bare "$TORII_PORT" "$TORII_PORT" m0/mock-1 m20/mock-1 - "" "" "$TORII_PID"
    BARE_PID=$TORII_PID
  fi
  start_torii torii-full bench/configs/torii-full.yaml
  if [ -n "$TORII_PID" ]; then
    add_target torii-full "$TORII_PORT" "$TORII_PORT" m0/mock-1 m20/mock-1 "$TORII_BENCH_KEY" \
      "" "" "$TORII_PID"
    FULL_PID=$TORII_PID
  fi
  sleep 0.5
  RSS_IDLE_BARE=$([ -n "${BARE_PID:-}" ] && rss_kb "$BARE_PID" || echo 0)
  RSS_IDLE_FULL=$([ -n "${FULL_PID:-}" ] && rss_kb "$FULL_PID" || echo 0)

  # Portkey: full run only, installed from the lockfile; skipped (and said so) when it won't start.
  if [ "$SMOKE" = 1 ]; then
    note "portkey: skipped in smoke mode"
  elif ! command -v node >/dev/null; then
    note "portkey: skipped (node is not installed)"
  else
    stamp=bench/node_modules/.torii-lock
    if [ ! -f "$stamp" ] || ! cmp -s bench/package-lock.json "$stamp"; then
      echo "bench: npm ci --prefix bench (portkey)"
      if npm ci --prefix bench --no-audit --no-fund --loglevel=error >"$OUT/npm.log" 2>&1; then
        cp bench/package-lock.json "$stamp"
      fi
    fi
    PK_JS=bench/node_modules/@portkey-ai/gateway/build/start-server.js
    if [ ! -f "$PK_JS" ]; then
      note "portkey: skipped (npm ci --prefix bench failed; see $OUT/npm.log)"
    else
      PK=$(free_port)
      # Same as `npx @portkey-ai/gateway --port=P --headless`, but the PID is node's own.
      NODE_ENV=production "${PIN_TARGET[@]}" node "$PK_JS" --port="$PK" --headless \
        >"$OUT/portkey.out" 2>"$OUT/portkey.err" &
      PK_PID=$!
      PIDS+=("$PK_PID")
      if wait_http "http://127.0.0.1:$PK/" 20 &&
        probe portkey "http://127.0.0.1:$PK/v1/chat/completions" mock-1 "$TORII_BENCH_UPSTREAM_KEY" \
          "x-portkey-provider:openai x-portkey-custom-host:http://127.0.0.1:$MOCK0_PORT/v1"; then
        add_target portkey "$PK" "$PK" mock-1 mock-1 "$TORII_BENCH_UPSTREAM_KEY" \
          "x-portkey-provider:openai x-portkey-custom-host:http://127.0.0.1:$MOCK0_PORT/v1" \
          "x-portkey-provider:openai x-portkey-custom-host:http://127.0.0.1:$MOCK20_PORT/v1" "$PK_PID"
        note "portkey: @portkey-ai/gateway $(python3 -c 'import json; print(json.load(open("bench/node_modules/@portkey-ai/gateway/package.json"))["version"])') on node $(node --version), non-streaming only (FACTS.md)"
      else
        note "portkey: skipped (did not start or answer within 20 s; see $OUT/portkey.err)"
        kill "$PK_PID" 2>/dev/null || true
      fi
    fi
  fi
fi

# Every target must answer one request before it is measured.
LIVE=()
for t in "${TARGETS[@]}"; do
  if probe "$t" "${URL0[$t]}" "${MODEL0[$t]}" "${KEY[$t]}" "${HDR0[$t]}"; then
    LIVE+=("$t")
  else
    problem "$t: probe request failed (see $OUT/probe-$t.json)"
  fi
done
TARGETS=("${LIVE[@]}")
echo "bench: targets: ${TARGETS[*]}"
# The full chain must really check keys, or it would be measured doing less than it claims.
if [[ " ${TARGETS[*]} " == *" torii-full "* ]] && probe torii-full-nokey "${URL0[torii-full]}" \
  "${MODEL0[torii-full]}" - ""; then
  problem "torii-full answered 200 without an API key: the auth policy is not running"
fi

# ---------------------------------------------------------------- the runs
if want wrk; then
  for t in "${TARGETS[@]}"; do run_wrk c1-0ms "$t" 0 1; done
  for t in "${TARGETS[@]}"; do run_wrk c64-0ms "$t" 0 64; done
  for t in "${TARGETS[@]}"; do run_wrk c64-20ms "$t" 20 64; done
fi

STREAM_TARGETS=()
for t in "${TARGETS[@]}"; do [ "$t" != portkey ] && STREAM_TARGETS+=("$t"); done
want stream || { STREAM_LEVELS=(); BIG_LEVELS=(); }
for n in "${STREAM_LEVELS[@]}"; do
  for t in "${STREAM_TARGETS[@]}"; do run_stream "$n" "$t"; done
done
# 5k and 10k streams at 20 ms would ask 250k-500k events/s of the mock and the loadgen, which
# share one core here: direct itself stalls. Scale the interval so the event rate stays that of
# 1k streams at 20 ms (set BENCH_BIG_INTERVAL_MS to force one interval).
for n in "${BIG_LEVELS[@]}"; do
  iv=${BENCH_BIG_INTERVAL_MS:-$((STREAM_INTERVAL * n / 1000))}
  for t in direct torii-full; do
    [[ " ${STREAM_TARGETS[*]} " == *" $t "* ]] && run_stream "$n" "$t" "$iv"
  done
done

# Audit cost (issue 8): torii-full (its audit: a SQLite sink, the metrics) against the same
# config with neither (the AUDIT block cut out, metrics: false), interleaved over short runs at
# concurrency 64 so that a noisy minute weighs on both alike, on the zero-delay mock (the
# gateway's core is the bottleneck: every audit instruction shows) and on the 20 ms one;
# report.py takes the medians.
if want audit && [[ " ${TARGETS[*]} " == *" torii-full "* ]]; then
  sed -e '/^# ==== AUDIT/,/^# ==== END AUDIT/d' bench/configs/torii-full.yaml >"$OUT/torii-noaudit.template"
  echo "metrics: false" >>"$OUT/torii-noaudit.template"
  start_torii torii-noaudit "$OUT/torii-noaudit.template"
  if [ -n "$TORII_PID" ]; then
    add_target torii-noaudit "$TORII_PORT" "$TORII_PORT" m0/mock-1 m20/mock-1 "$TORII_BENCH_KEY" \
      "" "" "$TORII_PID"
    for _ in $(seq "$([ "$SMOKE" = 1 ] && echo 1 || echo "${BENCH_AUDIT_REPS:-7}")"); do
      run_wrk audit-on torii-full 0 64
      run_wrk audit-off torii-noaudit 0 64
    done
    for _ in $(seq "$([ "$SMOKE" = 1 ] && echo 1 || echo 3)"); do
      run_wrk audit-on-20ms torii-full 20 64
      run_wrk audit-off-20ms torii-noaudit 20 64
    done
    AUDIT_ROWS=$( { sqlite3 "$OUT/audit/audit.db" 'SELECT count(*) FROM audit_events' 2>/dev/null || echo 0; } | tail -1)
    note "audit: torii-full's SQLite sink held $AUDIT_ROWS events at the end of the audit runs"
  fi
fi

for t in "${TARGETS[@]}"; do [ -z "${DEAD[$t]:-}" ] && { alive "$t" || true; }; done

if ! want soak; then
  :
elif [ "$SOAK_SECONDS" = 0 ]; then
  note "soak: skipped (BENCH_SOAK_SECONDS=0; BENCH.md asks for an hour: BENCH_SOAK_SECONDS=3600)"
else
  run_soak "$SOAK_SECONDS"
fi

# ---------------------------------------------------------------- report
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "none (no commit yet)")
[ -n "$(git status --porcelain -- src bench 2>/dev/null)" ] && COMMIT="$COMMIT (+ uncommitted changes)"
python3 bench/report.py "$RESULTS" "$NOTES" "$REPORT" \
  "smoke=$SMOKE" "arch=$(uname -m)" \
  "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
  "cores=$(nproc)" "commit=$COMMIT" "pinning=$PINNING" "fd_limit=$FD_LIMIT" \
  "duration=$DUR" "warmup=$WARM" "stream_duration=$STREAM_DUR" \
  "load=$LOAD_START (start), $LOAD_END (end)" "rss_idle_bare=$RSS_IDLE_BARE" "rss_idle_full=$RSS_IDLE_FULL" "problems=$PROBLEMS" \
  "micro=$MICRO_JSON" "only=$ONLY" "callgrind=$CALLGRIND_TXT" "tokenizer_js=$TOKENIZER_JS" \
  "quota_pair=$QUOTA_JSON"
echo "bench: wrote $REPORT"

if ((PROBLEMS)); then
  echo "bench: $PROBLEMS problem(s); see $NOTES" >&2
  exit 1
fi
