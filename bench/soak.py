#!/usr/bin/env python3
"""Soak stage of bench/run.sh (BENCH.md figure 4): steady mixed load on one gateway process for
N seconds while its VmRSS is sampled, then one JSON line with the figures on stdout.

usage: soak.py --seconds N --pid PID [--ref-pid PID] --url URL --model M --key K
               --wrk-script LUA --loadgen BIN --out DIR [--wrk-conns 32] [--streams 100]
               [--chunks 16] [--interval-ms 20] [--error-rate 5]

Load, all at once for N seconds:
  - wrk -t1 -c{wrk-conns} on non-streaming chat with a unique prompt per request (LUA script);
  - torii_loadgen holding {streams} streams of {chunks} chunks {interval-ms} apart;
  - a trickle of {error-rate} faulty requests per second, one kind after the other:
      upstream_500   non-streaming, "mock":{"status":500}         -> expect 502 + OpenAI error
      stream_reset   stream, "mock":{"reset_after_chunks":8,       -> expect 200, an error event,
                     "tokens_per_chunk":8}                            no [DONE] (64 words, ~290
                                                                     bytes, before the reset:
                                                                     more than a guarded stream
                                                                     holds back, so some of it
                                                                     reached the client)
      client_abort   stream; the client hangs up after the first content event
      bad_key        a wrong API key                               -> expect 401
      bad_json       a malformed body                              -> expect 400
    An outcome other than the expected one is an unexpected error, as is any wrk or loadgen error.

RSS: VmRSS of --pid (and of --ref-pid, the upstream mock, for reference) every min(2, N/20) s
from the moment the load starts, plus once 1 s after it stopped. Written to DIR/soak-rss.csv.
Slope: least squares of MiB against hours over the second half of the samples.
Verdict: "flat" when that slope is under FLAT_MIB_PER_HOUR, else "growing". The verdict never
changes the exit status; exit 1 only when the run itself broke (a tool or the process died).
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

FLAT_MIB_PER_HOUR = 5.0
KINDS = ["upstream_500", "stream_reset", "client_abort", "bad_key", "bad_json"]


def rss_kb(pid):
    """VmRSS of pid in KiB, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Trickle:
    """Sends the faulty requests, one kind after the other, at a fixed rate, and classifies them."""

    def __init__(self, url, model, key, rate):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port or 80, u.path
        self.model, self.key, self.rate = model, key, rate
        self.sent = {k: 0 for k in KINDS}
        self.expected = {k: 0 for k in KINDS}
        self.unexpected = {}  # "kind: what" -> count
        self.examples = []    # a few unexpected outcomes, for the log
        self.stop = threading.Event()
        self.seq = 0

    def body(self, stream, mock):
        self.seq += 1
        b = {"model": self.model, "stream": stream,
             "messages": [{"role": "user", "content": f"soak fault {self.seq}: say hi"}]}
        if mock:
            b["mock"] = mock
        return json.dumps(b)

    def request(self, body, key=None, timeout=10):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.request("POST", self.path, body=body, headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {key or self.key}"})
        return conn, conn.getresponse()

    @staticmethod
    def read_all(resp):
        try:
            return resp.read()
        except http.client.IncompleteRead as e:
            return e.partial

    def one(self, kind):
        """Sends one request of this kind; returns None when it went as expected, else why not."""
        if kind == "upstream_500":
            conn, resp = self.request(self.body(False, {"status": 500}))
            data = self.read_all(resp)
            conn.close()
            if resp.status != 502:
                return f"status {resp.status}"
            return None if b'"error"' in data else "502 without an error body"
        if kind == "stream_reset":
            conn, resp = self.request(
                self.body(True, {"chunks": 16, "interval_ms": 20, "tokens_per_chunk": 8,
                                 "reset_after_chunks": 8}))
            data = self.read_all(resp)
            conn.close()
            if resp.status != 200:
                return f"status {resp.status}"
            if b'data: {"error"' not in data:
                return "no error event"
            return "[DONE] after the error" if b"data: [DONE]" in data else None
        if kind == "client_abort":
            conn, resp = self.request(self.body(True, {"chunks": 16, "interval_ms": 20}))
            if resp.status != 200:
                conn.close()
                return f"status {resp.status}"
            seen = b""
            while b'"content":"' not in seen.replace(b'"content":""', b""):
                chunk = resp.read1(4096)
                if not chunk:
                    conn.close()
                    return "stream ended before any content"
                seen += chunk
            conn.close()  # hang up mid-stream: the gateway must drop its upstream side
            return None
        if kind == "bad_key":
            conn, resp = self.request(self.body(False, None), key="soak-wrong-key")
            self.read_all(resp)
            conn.close()
            return None if resp.status == 401 else f"status {resp.status}"
        if kind == "bad_json":
            conn, resp = self.request('{"model": "' + self.model + '", "messages": [')
            self.read_all(resp)
            conn.close()
            return None if resp.status == 400 else f"status {resp.status}"
        raise ValueError(kind)

    def run(self):
        if self.rate <= 0:
            return
        period, nxt, i = 1.0 / self.rate, time.monotonic(), 0
        while not self.stop.is_set():
            kind = KINDS[i % len(KINDS)]
            i += 1
            self.sent[kind] += 1
            try:
                why = self.one(kind)
            except (OSError, http.client.HTTPException) as e:
                why = type(e).__name__ + (f" {e}" if str(e) else "")
            if why is None:
                self.expected[kind] += 1
            else:
                key = f"{kind}: {why}"
                self.unexpected[key] = self.unexpected.get(key, 0) + 1
                if len(self.examples) < 10:
                    self.examples.append(key)
            nxt += period
            delay = nxt - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            else:
                nxt = time.monotonic()  # behind: do not burst to catch up


def slope_per_hour(points):
    """Least-squares slope of (seconds, MiB) points, in MiB per hour (0 with < 2 points)."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return sum((t - mt) * (v - mv) for t, v in points) / den * 3600


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--ref-pid", type=int)
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--wrk-script", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--wrk-conns", type=int, default=32)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--chunks", type=int, default=16)
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--error-rate", type=float, default=5)
    a = ap.parse_args()

    secs = a.seconds
    dt = max(0.1, min(2.0, secs / 20))
    wrk_log = os.path.join(a.out, "soak-wrk.txt")
    lg_log = os.path.join(a.out, "soak-loadgen.json")
    procs = []

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    trickle = Trickle(a.url, a.model, a.key, a.error_rate)
    samples = []  # (t, torii kB, ref kB)
    died = False
    try:
        wrk_cmd = ["wrk", "-t1", f"-c{a.wrk_conns}", f"-d{int(round(secs))}s", "--latency",
                   "--timeout", "5s", "-s", a.wrk_script, a.url, "--", a.model, a.key]
        lg_cmd = [a.loadgen, "stream", "--url", a.url, "--model", a.model, "--key", a.key,
                  "--streams", str(a.streams), "--duration", str(secs), "--chunks",
                  str(a.chunks), "--interval-ms", str(a.interval_ms)]
        t0 = time.monotonic()
        samples.append((0.0, rss_kb(a.pid), rss_kb(a.ref_pid) if a.ref_pid else None))
        with open(wrk_log, "w") as wo, open(lg_log, "w") as lo, \
                open(os.path.join(a.out, "soak-loadgen.err"), "w") as le:
            procs.append(subprocess.Popen(wrk_cmd, stdout=wo, stderr=subprocess.STDOUT))
            procs.append(subprocess.Popen(lg_cmd, stdout=lo, stderr=le))
        tt = threading.Thread(target=trickle.run, daemon=True)
        tt.start()
        k = 1
        while True:
            target = k * dt
            if target > secs + 1e-6:
                break
            time.sleep(max(0.0, t0 + target - time.monotonic()))
            v = rss_kb(a.pid)
            samples.append((time.monotonic() - t0, v, rss_kb(a.ref_pid) if a.ref_pid else None))
            if v is None:
                died = True
                break
            k += 1
        trickle.stop.set()
        tt.join(timeout=15)
        for p in procs:
            try:
                p.wait(timeout=60 if not died else 1)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        time.sleep(1)
        after = rss_kb(a.pid)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    with open(os.path.join(a.out, "soak-rss.csv"), "w") as f:
        f.write("seconds,torii_rss_kb,upstream_rss_kb\n")
        for t, v, r in samples:
            f.write(f"{t:.2f},{v if v is not None else ''},{r if r is not None else ''}\n")

    good = [(t, v, r) for t, v, r in samples if v is not None]
    mib = [(t, v / 1024) for t, v, _ in good]

    def at(frac):
        """RSS MiB of the sample nearest to frac of the soak."""
        if not mib:
            return None
        return min(mib, key=lambda p: abs(p[0] - frac * secs))[1]

    half = [p for p in mib if p[0] >= secs / 2]
    slope = slope_per_hour(half)
    level = sum(v for _, v in half) / len(half) if half else 0
    ref = [(t, r / 1024) for t, _, r in good if r is not None]
    ref_half = [p for p in ref if p[0] >= secs / 2]

    wrk = None
    for line in open(wrk_log, errors="replace"):
        if line.startswith("WRKJSON "):
            wrk = json.loads(line[8:])
    lg = None
    try:
        text = open(lg_log).read().strip()
        lg = json.loads(text.splitlines()[-1]) if text else None
    except (OSError, ValueError):
        lg = None

    unexpected = dict(trickle.unexpected)
    if wrk:
        for k in ("connect", "read", "write", "status", "timeout"):
            if wrk[f"errors_{k}"]:
                unexpected[f"wrk {k}"] = wrk[f"errors_{k}"]
    if lg:
        for k, v in lg["error_kinds"].items():
            unexpected[f"loadgen {k}"] = v
    broken = []
    if died:
        broken.append(f"process {a.pid} died during the soak")
    if wrk is None:
        broken.append(f"wrk gave no result (see {wrk_log})")
    if lg is None:
        broken.append(f"torii_loadgen gave no result (see {lg_log})")

    result = {
        "seconds": secs, "sample_every_s": dt, "samples": len(samples),
        "rss_mib": {"start": at(0), "p25": at(0.25), "p50": at(0.5), "p75": at(0.75),
                    "end": at(1.0), "max": max((v for _, v in mib), default=None),
                    "after": after / 1024 if after else None},
        "slope_mib_per_hour": slope, "level_mib": level,
        "verdict": "flat" if slope < FLAT_MIB_PER_HOUR else "growing",
        "flat_threshold_mib_per_hour": FLAT_MIB_PER_HOUR,
        "upstream_rss_mib": {"start": ref[0][1] if ref else None,
                             "end": ref[-1][1] if ref else None,
                             "slope_mib_per_hour": slope_per_hour(ref_half)},
        "load": {"wrk_conns": a.wrk_conns, "streams": a.streams, "chunks": a.chunks,
                 "interval_ms": a.interval_ms, "error_rate": a.error_rate},
        "served": {"wrk_requests": wrk["requests"] if wrk else 0,
                   "wrk_rps": wrk["rps"] if wrk else 0,
                   "streams_completed": lg["completed"] if lg else 0,
                   "stream_events": lg["events"] if lg else 0,
                   "streams_cut_at_end": lg["cut_at_end"] if lg else 0,
                   "stream_stalls": lg["stalls"] if lg else 0,
                   "faults_sent": sum(trickle.sent.values())},
        "expected_errors": trickle.expected,
        "unexpected_errors": unexpected,
        "unexpected_examples": trickle.examples,
        "broken": broken,
    }
    print(json.dumps(result))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
