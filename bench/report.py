#!/usr/bin/env python3
"""Renders bench/run.sh results as markdown tables: prints them and writes the report file.

usage: report.py RESULTS.jsonl NOTES.txt REPORT.md key=value...
RESULTS.jsonl holds one object per measured case ("kind": "wrk" or "stream"), as run.sh wrote it.
The key micro=FILE names torii_micro_bench's JSON output (section 5), when it ran.
"""
import datetime
import json
import os
import sys

results_path, notes_path, report_path = sys.argv[1:4]
meta = dict(arg.split("=", 1) for arg in sys.argv[4:])
rows = [json.loads(line) for line in open(results_path) if line.strip()]
notes = [line.rstrip() for line in open(notes_path) if line.strip()]
smoke = meta.get("smoke") == "1"

ORDER = ["direct", "nginx", "torii-bare", "torii-full", "portkey"]


def wrk(scenario):
    return {r["target"]: r for r in rows if r["kind"] == "wrk" and r["scenario"] == scenario}


def errors(w):
    return sum(w[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_status",
                              "errors_timeout"))


def cpu_us(r, key):
    """CPU µs per request of the target (key=target_ticks) or upstream (upstream_ticks)."""
    req = r["wrk"]["requests"]
    if not req:
        return None
    return r[key] * 1e6 / r["clk_tck"] / req


def fmt(v, digits=0, signed=False):
    if v is None:
        return "–"
    s = f"{v:+,.{digits}f}" if signed else f"{v:,.{digits}f}"
    return s


def table(header, body):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(out)


def ordered(d):
    return [t for t in ORDER if t in d]


sections = []

# 1. Added latency at concurrency 1.
c1 = wrk("c1-0ms")
if c1:
    base = c1.get("direct")
    body = []
    for t in ordered(c1):
        w = c1[t]["wrk"]
        add50 = w["p50_us"] - base["wrk"]["p50_us"] if base and t != "direct" else None
        add99 = w["p99_us"] - base["wrk"]["p99_us"] if base and t != "direct" else None
        body.append([t, fmt(w["p50_us"]), fmt(w["p99_us"]), fmt(add50, signed=True),
                     fmt(add99, signed=True), fmt(w["rps"]), errors(w)])
    sections.append("## 1. Added latency (concurrency 1, zero-delay mock)\n\n" + table(
        ["target", "p50 µs", "p99 µs", "added p50 µs", "added p99 µs", "req/s", "errors"], body) +
        "\n\nGoal: added p99 ≤ 50 µs. At concurrency 1 the wall clock is dominated by wakeup "
        "latency on a shared VM; CPU per request (1b) is the steadier overhead figure.")

# 1b. CPU per request.
c64 = wrk("c64-0ms")
if c64 or c1:
    body = []
    ng = c64.get("nginx")
    ng_cpu = cpu_us(ng, "target_ticks") if ng else None
    for t in ordered(c64 or c1):
        r64, r1 = c64.get(t), c1.get(t)
        if t == "direct":
            # The upstream shown alone: the mock's own cost, nothing in front of it.
            body.append(["mock alone (direct)", fmt(cpu_us(r64, "upstream_ticks"), 1) if r64 else "–",
                         "", fmt(cpu_us(r1, "upstream_ticks"), 1) if r1 else "–", ""])
            continue
        own = cpu_us(r64, "target_ticks") if r64 else None
        ratio = f"{own / ng_cpu:.2f}×" if own is not None and ng_cpu else "–"
        body.append([t, fmt(own, 1), ratio, fmt(cpu_us(r1, "target_ticks"), 1) if r1 else "–",
                     fmt(cpu_us(r64, "upstream_ticks"), 1) if r64 else "–"])
    sections.append("## 1b. CPU per request (user+sys of the target's processes / requests)\n\n" +
                    table(["target", "µs/req at c64", "vs nginx", "µs/req at c1",
                           "upstream mock µs/req (c64)"], body) +
                    "\n\nGoal: torii full chain at or below nginx. Clock ticks are "
                    f"1/{rows[0]['clk_tck'] if rows else 100} s, summed over the run.")

# 2. Throughput at concurrency 64.
c20 = wrk("c64-20ms")
if c64 or c20:
    body = []
    n0 = c64.get("nginx", {}).get("wrk", {}).get("rps")
    n20 = c20.get("nginx", {}).get("wrk", {}).get("rps")
    for t in ordered({**c64, **c20}):
        a, b = c64.get(t), c20.get(t)
        row = [t]
        for r, n in ((a, n0), (b, n20)):
            if r:
                w = r["wrk"]
                row += [fmt(w["rps"]), f"{w['rps'] / n:.2f}×" if n else "–", fmt(w["p50_us"]),
                        fmt(w["p99_us"]), errors(w)]
            else:
                row += ["–"] * 5
        body.append(row)
    sections.append("## 2. Throughput (concurrency 64)\n\n" + table(
        ["target", "req/s 0 ms", "× nginx", "p50 µs", "p99 µs", "errors",
         "req/s 20 ms", "× nginx", "p50 µs", "p99 µs", "errors"], body) +
        "\n\nGoal: full chain ≥ 1.0× nginx. With a 20 ms upstream, 64 connections cap at "
        "3,200 req/s.")

# 3. Streaming.
streams = [r for r in rows if r["kind"] == "stream"]
if streams:
    body = []
    direct = {r["level"]: r["lg"] for r in streams if r["target"] == "direct"}

    def per_event(r, key):
        ev = r["lg"]["events"]
        return r[key] * 1e6 / r["clk_tck"] / ev if ev and key in r else None

    for r in sorted(streams, key=lambda r: (r["level"], ORDER.index(r["target"]))):
        s, d = r["lg"], direct.get(r["level"])
        other = r["target"] != "direct" and d
        body.append([
            f"{r['level']:,}", r["interval_ms"], r["target"], s["streams_established"],
            s["completed"], s["errors"], fmt(s["ttft_p50_us"]), fmt(s["ttft_p99_us"]),
            fmt(s["ttft_p99_us"] - d["ttft_p99_us"], signed=True) if other else "–",
            fmt(s["gap_p50_us"]), fmt(s["gap_p99_us"]),
            fmt(s["gap_p99_us"] - d["gap_p99_us"], signed=True) if other else "–",
            s["stalls"],
            fmt(per_event(r, "target_ticks"), 1) if r["target"] != "direct" else "–",
            fmt(per_event(r, "upstream_ticks"), 1), fmt(r["rss_peak_kb"] / 1024, 1)])
    chunks = streams[0]["chunks"]
    kinds = [f"{r['level']} via {r['target']}: {r['lg']['error_kinds']}"
             for r in streams if r["lg"]["errors"]]
    overflows = [f"{r['level']} via {r['target']}: {r['listen_overflows']:,}"
                 for r in streams if r.get("listen_overflows")]
    extra = ""
    if kinds:
        extra += "\n\nErrors: " + "; ".join(kinds) + "."
    if overflows:
        extra += ("\n\nKernel accept-queue overflows (TcpExtListenOverflows, machine-wide) during "
                  "the run: " + "; ".join(overflows) + ".")
    sections.append(
        f"## 3. Streaming ({chunks} chunks per stream)\n\n" + table(
            ["streams", "interval ms", "target", "held", "completed", "errors", "TTFT p50 µs",
             "TTFT p99 µs", "added TTFT p99", "gap p50 µs", "gap p99 µs", "added gap p99",
             "stalls", "target CPU µs/event", "mock CPU µs/event", "RSS peak MiB"], body) +
        "\n\nA stall is a gap over 5× the interval. \"held\" is the most connections open at "
        "once; RSS is the target's (the mock's for direct). CPU per event is the process's "
        "user+sys time over the run divided by the SSE events the client received. Goal: 10k "
        "streams held, added TTFT p99 ≤ 200 µs. On 2 cores the 5k and 10k levels run with a "
        "longer interval (same total event rate as 1k at 20 ms): at 20 ms the mock and the "
        "load generator, sharing one core, stall by themselves." + extra)

# 4. Memory.
mem = []
for name, key in (("torii bare", "rss_idle_bare"), ("torii full", "rss_idle_full")):
    if int(meta.get(key, "0")):
        mem.append([name, "idle (after start)", fmt(int(meta[key]) / 1024, 1)])
for r in sorted(streams, key=lambda r: r["level"]):
    if r["target"].startswith("torii"):
        mem.append([r["target"], f"peak at {r['lg']['streams_established']:,} open streams",
                    fmt(r["rss_peak_kb"] / 1024, 1)])
        mem.append([r["target"], f"after the {r['level']:,}-stream run",
                    fmt(r["rss_after_kb"] / 1024, 1)])
soaks = [r["soak"] for r in rows if r["kind"] == "soak"]
if mem or soaks:
    text = "## 4. Memory (VmRSS)"
    if mem:
        text += "\n\n" + table(["process", "when", "RSS MiB"], mem)
    if not soaks:
        text += ("\n\nNo soak in this run (BENCH_SOAK_SECONDS=0); BENCH.md asks for an hour: "
                 "`BENCH_SOAK_SECONDS=3600 bench/run.sh`, or the soak alone with "
                 "`BENCH_ONLY=soak BENCH_SOAK_SECONDS=3600 bench/run.sh`.")
    for s in soaks:
        m, u, v, ld = s["rss_mib"], s["upstream_rss_mib"], s["served"], s["load"]
        secs = s["seconds"]
        dur = f"{secs / 3600:g} h" if secs >= 3600 else f"{secs / 60:g} min" if secs >= 120 \
            else f"{secs:g} s"
        points = [("start (0 s)", m["start"])]
        points += [(f"{f:.0%} ({secs * f:,.0f} s)", m[k])
                   for f, k in ((0.25, "p25"), (0.5, "p50"), (0.75, "p75"), (1.0, "end"))]
        points += [("max", m["max"]), ("1 s after the load stopped", m["after"])]
        body = [[label, fmt(val, 1)] for label, val in points]
        rel = s["slope_mib_per_hour"] / s["level_mib"] * 100 if s["level_mib"] else 0
        exp = s["expected_errors"]
        une = s["unexpected_errors"]
        served = [
            ["non-streaming chat (wrk)", f"{v['wrk_requests']:,} ({v['wrk_rps']:,.0f}/s)", "–"],
            ["streams completed (torii_loadgen)", f"{v['streams_completed']:,}",
             f"{v['stream_events']:,} SSE events, {v['stream_stalls']:,} stalls"],
            ["faulty requests (trickle)", f"{v['faults_sent']:,}",
             ", ".join(f"{k} {n:,}" for k, n in exp.items()) + " answered as expected"],
            ["unexpected errors", f"{sum(une.values()):,}",
             ", ".join(f"{k}: {n:,}" for k, n in une.items()) or "none"],
        ]
        short = "" if secs >= 3600 else (
            f" This soak lasted {dur}: its slope is extrapolated to an hour, so a few pages "
            "allocated late read as a steep slope; only the hour-long soak (BENCH.md) settles "
            "\"flat\".")
        text += (
            f"\n\n### Soak: {dur} under mixed load (torii-full, fresh process)\n\n" +
            table(["when", "RSS MiB"], body) +
            f"\n\n**Verdict: {s['verdict']}.** Second-half slope {s['slope_mib_per_hour']:+.2f} "
            f"MiB/hour (least squares over {secs / 2:,.0f}–{secs:,.0f} s, "
            f"{rel:+.1f} % of its {s['level_mib']:.1f} MiB level per hour); \"flat\" means under "
            f"{s['flat_threshold_mib_per_hour']:g} MiB/hour. Sampled every "
            f"{s['sample_every_s']:g} s ({s['samples']} samples, soak-rss.csv in the bench output directory). The "
            f"upstream mock, for reference: {fmt(u['start'], 1)} → {fmt(u['end'], 1)} MiB, "
            f"second-half slope {u['slope_mib_per_hour']:+.2f} MiB/hour.{short}\n\n" +
            table(["load", "served", "detail"], served) +
            f"\n\nLoad, all at once against the zero-delay mock: wrk -c{ld['wrk_conns']} on "
            f"non-streaming chat with unique prompts; {ld['streams']} streams of {ld['chunks']} "
            f"chunks {ld['interval_ms']} ms apart; {ld['error_rate']:g} faulty requests per "
            "second in turn: upstream 500 (→ 502), stream reset by the upstream after 2 chunks "
            "(→ error event, no [DONE]), client hang-up after the first chunk, bad API key "
            "(→ 401), malformed JSON (→ 400). Any other outcome, and any wrk or loadgen error, "
            "is unexpected. Memory never fails the run.")
    sections.append(text)

# 5. Micro-benchmarks (Google Benchmark JSON from torii_micro_bench).
micro_path = meta.get("micro", "")
if micro_path and os.path.exists(micro_path):
    try:
        micro = json.load(open(micro_path)).get("benchmarks", [])
    except ValueError:
        micro = []
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    body = []
    for b in micro:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b["name"].removeprefix("BM_")
        if b.get("error_occurred"):
            body.append([name, "error", "–", "–", b.get("error_message", "")])
            continue
        ns = b["cpu_time"] * scale.get(b.get("time_unit", "ns"), 1)
        per_op = f"{ns:,.0f} ns" if ns < 10_000 else f"{ns / 1e3:,.1f} µs"
        mbs = b.get("bytes_per_second")
        ips = b.get("items_per_second")
        body.append([name, per_op, fmt(mbs / 1e6, 1) if mbs else "–",
                     fmt(ips / 1e3, 1) if ips else "–", b.get("label", "")])
    if body:
        sections.append(
            "## 5. Micro-benchmarks (Google Benchmark, bench/micro)\n\n" + table(
                ["benchmark", "CPU time per op", "MB/s", "k items/s", "input"], body) +
            "\n\nOne core, CPU time per iteration. Items are SSE events for sse_feed and "
            "stream_decoder_stream, else one call. sse_feed parses one 64-chunk OpenAI stream "
            "(the mock's bytes) in one piece or in 1 KiB reads; stream_decoder_* runs the OpenAI "
            "stream decoder on one content chunk, the usage chunk, or the whole stream; "
            "decode_openai_chat decodes into a 4 KiB monotonic arena as RequestContext does "
            "(large_heap: default storage); encode_openai_body builds the openai vendor's "
            "streaming upstream body (MB/s of output); find_usage is the usage scan of a "
            "non-streamed answer, find_usage_full_parse the boost::json::parse it replaces.")

if notes:
    sections.append("## Notes\n\n" + "\n".join(f"- {n}" for n in notes))

method = f"""## Method

- Every figure is taken in one run, side by side with its references (BENCH.md): **direct**
  (client → `torii mock`), **nginx** (`proxy_pass` with upstream keepalive, 1 worker,
  bench/nginx.conf), **torii-bare** (no API keys, no policies, bench/configs/torii-bare.yaml),
  **torii-full** (API key + the policy chain, bench/configs/torii-full.yaml) and **portkey**
  (`@portkey-ai/gateway` pinned in bench/package-lock.json, non-streaming only).
- Upstreams: two `torii mock --workers 1`, one with no delay, one with `--latency-ms 20`.
  Every target runs one worker. Pinning: {meta.get('pinning', '?')}.
- Latency and throughput: `wrk -t1 --latency` with bench/wrk/chat.lua (a unique prompt index
  per request, so nothing can be cached), {meta.get('warmup')} s warm-up then {meta.get('duration')} s
  per case; concurrency 1 and 64.
- CPU per request: user+sys clock ticks of the target's processes (nginx: master and workers)
  from /proc/PID/stat around the measured run, divided by the requests wrk counted.
- Streaming: `torii_loadgen stream` (bench/loadgen) holds N keep-alive connections, each posting
  streaming requests back to back for {meta.get('stream_duration')} s; TTFT is request written →
  first SSE event with content; gaps are between consecutive events after it.
  RSS is sampled from /proc/PID/status every 200 ms.
- Soak (section 4, when BENCH_SOAK_SECONDS > 0): bench/soak.py runs the mixed load on a fresh
  torii-full process and samples its VmRSS from /proc/PID/status.
- fd limit {meta.get('fd_limit')}: a proxy holding N streams needs about 2N descriptors.
- Micro-benchmarks: `torii_micro_bench --benchmark_min_time=...` (0.2 s per benchmark, 0.02 s in
  smoke mode), pinned like the target.
- Reproduce: `make bench` (full) or `make bench-smoke` (short CI pass, writes
  bench/out/BENCHMARKS.smoke.md).
"""
sections.append(method)

only = meta.get("only", "")
head = f"""# torii benchmarks{' (smoke pass: too short to mean anything)' if smoke else ''}\
{f' (partial run: BENCH_ONLY={only})' if only else ''}

- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
- Machine: {meta.get('arch')}, {meta.get('cpu')}, {meta.get('cores')} cores
- Commit: {meta.get('commit')}
- Load average: {meta.get('load')} (other work on the machine skews absolute figures)
- Written by `bench/run.sh`{' with BENCH_SMOKE=1' if smoke else ''}; see BENCH.md for what each
  figure means. Absolute numbers on a shared VM are noisy: read the ratios.
"""
text = head + "\n" + "\n\n".join(sections) + "\n"
open(report_path, "w").write(text)
print()
print(text)
