"""`logad serve` over HTTP, against servers this script starts on 127.0.0.1, in one run:

    python benchmarks/bench_serve.py [--data-dir ../shared/data] [--soak-seconds 600] [--kills 20]

Models are trained with `logad train` on hdfs_2pct's first 60 % of lines; the other 40 % (the
replay file) is sent over HTTP in batches (text/plain, one sender, in order), each pass ended by
POST /v1/flush. The server is a child process pinned to one core (the sender to the other), with
OMP_NUM_THREADS=1. Every alarm a pass stores is compared with `logad detect`'s alarms on the replay
file (sequence id, score to 6 digits, first/last line, length, times).

1. Throughput: passes of the replay file; lines/s from the first request to the last flush done
   (ingestion and detection). knn (sessions closed by a 600 s log-time timeout; and sessions
   without timeout, which all close at the flush) and deeplog (timeout). Target >= 100,000 lines/s
   (knn) and >= 20,000 (deeplog). The same runs give the time from a sequence closing to its alarm
   being stored (p99 < 100 ms), separately for sequences a line closed and those a flush closed.
2. Soak: `--soak-seconds` at 80 % of the knn rate measured in 1: resident memory of the server
   sampled every second (last minute within 10 % of the second), lines sent = lines counted in
   /metrics, every pass's alarms equal to `logad detect`'s.
3. Crash: `kill -9` at `--kills` random moments during one replay (some while a request is in
   flight), a restart each time, the sender resuming from the journal offset /healthz reports; at
   the end the alarms equal `logad detect`'s, none duplicated.

Prints each figure beside its target with the machine load (`uptime`) at the time, and writes
benchmarks/results/serve.md.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import data_dir_or_none  # noqa: E402

TIMEOUT = 600  # log-time seconds without a line that close an HDFS block session (online models)
BATCH = 10_000


def load() -> str:
    out = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    m = re.search(r"load averages?: ([\d.]+)", out)
    busy = m is not None and float(m.group(1)) > 1.2
    return f"{out}{'  (machine busy: other work was running)' if busy else ''}"


class Server:
    """`logad serve` in a child process pinned to core 0, on 127.0.0.1 (a free port)."""

    def __init__(self, model: Path, state: Path, log: Path, *args: str) -> None:
        import httpx

        env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.log = log
        start = log.stat().st_size if log.exists() else 0
        self.fh = open(log, "ab")  # noqa: SIM115
        cores = sorted(os.sched_getaffinity(0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from logad.cli import main; sys.exit(main(sys.argv[1:]))", "serve",
             "--model", str(model), "--state-dir", str(state), "--host", "127.0.0.1", "--port", "0", *args],
            stdout=self.fh, stderr=self.fh, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cores[0]})) if len(cores) > 1 else None)
        deadline = time.monotonic() + 180
        while True:
            text = log.read_bytes()[start:].decode(errors="replace")
            found = re.findall(r"listening on (http://127\.0\.0\.1:\d+)", text)
            if found:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise SystemExit(f"logad serve did not start:\n{text[-3000:]}")
            time.sleep(0.05)
        self.url = found[-1]
        self.client = httpx.Client(base_url=self.url, timeout=120)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def close(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.fh.close()


def post(client, body: bytes):
    r = client.post("/v1/lines", content=body, headers={"content-type": "text/plain"})
    if r.status_code != 200:
        raise RuntimeError(f"POST /v1/lines: {r.status_code} {r.text[:300]}")
    return r.json()


def bodies(lines: list[bytes], size: int = BATCH) -> list[bytes]:
    return [b"\n".join(lines[i:i + size]) + b"\n" for i in range(0, len(lines), size)]


def detect_alarms(model: Path, replay: Path, out: Path) -> list[tuple]:
    from logad.model import TrainedModel

    TrainedModel.load(model).detect([str(replay)], out)
    rows = [r for r in csv.DictReader(out.open()) if r["alarm"] == "1"]
    return sorted((r["sequence_id"], r["score"], int(r["first_line"]), int(r["last_line"]), int(r["lines"]))
                  for r in rows)


def stored_alarms(state: Path, bases: list[int] | None = None) -> dict[int, list[tuple]]:
    """The sequence alarms in a state database, per stream (read after the server stopped), their
    offsets counted from the stream's start (`bases[k]`: the offset before stream k's first line),
    as line numbers of the replay file."""
    db = sqlite3.connect(state / "state.db")
    out: dict[int, list[tuple]] = {}
    for stream, sid, score, first, last, n in db.execute(
            "SELECT stream, sequence_id, score, first_offset, last_offset, n_lines FROM alarms WHERE kind = 'sequence'"):
        base = bases[stream] if bases is not None and stream < len(bases) else 0
        out.setdefault(stream, []).append((sid, f"{score:.6g}", first - base, last - base, n))
    db.close()
    return {k: sorted(v) for k, v in out.items()}


def train(data: Path, work: Path) -> dict:
    """The split and the models (trained once; reused by later runs with the same work folder)."""
    from logad.cli import main

    train_log, replay = work / "train.log", work / "replay.log"
    if not replay.exists():
        with gzip.open(data / "hdfs_2pct" / "HDFS.log.gz", "rb") as fh:
            lines = fh.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        cut = int(len(lines) * 0.6)
        train_log.write_bytes(b"\n".join(lines[:cut]) + b"\n")
        replay.write_bytes(b"\n".join(lines[cut:]) + b"\n")
    models = {}
    # thresholds at the 0.99 quantile of held-out normal scores: the online models alarm on more
    # than a handful of the replay's sessions, so latencies and the crash test have alarms to time
    q99 = ["--threshold-policy", "train-quantile:0.99"]
    specs = {
        "knn": ["--detector", "knn", "--session-timeout", str(TIMEOUT), *q99],
        "knn-no-timeout": ["--detector", "knn"],
        "deeplog": ["--detector", "deeplog", "--session-timeout", str(TIMEOUT), "--param", "epochs=5",
                    "--param", "max_train_seconds=300", *q99],
    }
    for name, args in specs.items():
        out = work / f"model-{name}"
        if not (out / "model.json").exists():
            t0 = time.perf_counter()
            rc = main(["train", "--logs", str(train_log), "--format", "hdfs", *args, "--save", str(out), "--quiet"])
            if rc != 0:
                raise SystemExit(f"training {name} failed")
            print(f"trained {name} in {time.perf_counter() - t0:.1f} s")
        models[name] = out
    return {"train": train_log, "replay": replay, "models": models}


def throughput(name: str, model: Path, replay: Path, expected: list[tuple], work: Path, passes: int) -> dict:
    state = work / f"state-{name}"
    _fresh(state)
    lines = replay.read_bytes().split(b"\n")[:-1]
    bs = bodies(lines)
    srv = Server(model, state, work / f"serve-{name}.log")
    try:
        post(srv.client, bs[0])  # warm-up of the first request's code paths ...
        bases = [0, srv.client.post("/v1/flush").json()["offset"]]  # ... in a stream of its own (0, not compared)
        start_load = load()
        cpu0 = srv.cpu_seconds()
        t0 = time.perf_counter()
        for _ in range(passes):
            for b in bs:
                post(srv.client, b)
            f = srv.client.post("/v1/flush", params={"wait": 600}).json()
            assert f["flushed"] is True, f
            bases.append(f["offset"])
        dt = time.perf_counter() - t0
        cpu = srv.cpu_seconds() - cpu0
        status = srv.client.get("/v1/status").json()
        rss = srv.rss_mb()
    finally:
        srv.close()
    got = stored_alarms(state, bases)
    equal = all(got.get(k, []) == expected for k in range(1, passes + 1))
    n = passes * len(lines)
    return {"model": name, "lines": n, "seconds": dt, "rate": n / dt, "cpu_seconds": cpu, "rate_per_cpu_second": n / cpu,
            "equal": equal, "passes": passes,
            "alarms_per_pass": len(expected), "latency": status["alarm_latency_seconds"], "rss_mb": rss,
            "load": start_load, "load_end": load()}


def soak(model: Path, replay: Path, expected: list[tuple], work: Path, rate: float, seconds: float) -> dict:
    state = work / "state-soak"
    _fresh(state)
    lines = replay.read_bytes().split(b"\n")[:-1]
    bs = bodies(lines)
    srv = Server(model, state, work / "serve-soak.log")
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                samples.append((time.monotonic() - t0, srv.rss_mb()))
            except OSError:
                return
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sent = passes = 0
    bases = [0]
    start_load = load()
    try:
        sampler.start()
        t0 = time.monotonic()
        interval = BATCH / rate
        k = 0
        while time.monotonic() - t0 < seconds:
            for b in bs:
                due = t0 + k * interval
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                sent += post(srv.client, b)["accepted"]
                k += 1
            f = srv.client.post("/v1/flush", params={"wait": 600}).json()
            assert f["flushed"] is True, f
            bases.append(f["offset"])
            passes += 1
        elapsed = time.monotonic() - t0
        metrics = srv.client.get("/metrics").text
        status = srv.client.get("/v1/status").json()
    finally:
        stop.set()
        sampler.join(timeout=5)
        srv.close()
    received = _metric(metrics, "logad_lines_received_total")
    got = stored_alarms(state, bases)
    equal = sum(1 for k in range(passes) if got.get(k, []) == expected)

    def mean_rss(lo: float, hi: float) -> float:
        v = [m for t, m in samples if lo <= t < hi]
        return sum(v) / len(v) if v else float("nan")

    second = mean_rss(60, 120)
    last = mean_rss(elapsed - 60, elapsed + 1)
    return {"seconds": elapsed, "target_rate": rate, "rate": sent / elapsed, "sent": sent, "received": received,
            "processed": status["counters"]["lines"], "passes": passes, "passes_equal": equal,
            "rss_second_minute": second, "rss_last_minute": last, "rss_peak": max(m for _, m in samples),
            "latency": status["alarm_latency_seconds"], "load": start_load, "load_end": load()}


class Receiver:
    """A webhook on 127.0.0.1 counting deliveries per alarm key."""

    def __init__(self) -> None:
        from collections import Counter
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.keys: Counter = Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.keys[self.headers.get("Idempotency-Key")] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def crash(model: Path, replay: Path, expected: list[tuple], work: Path, kills: int, seed: int) -> dict:
    state, log = work / "state-crash", work / "serve-crash.log"
    _fresh(state)
    hook = Receiver()
    log.unlink(missing_ok=True)
    lines = replay.read_bytes().split(b"\n")[:-1]
    rng = random.Random(seed)
    points = sorted(rng.sample(range(1000, len(lines) - 1000), kills))
    acked = 0
    lost = 0
    restarts = []
    start_load = load()
    for stop_at in points:
        t0 = time.perf_counter()
        srv = Server(model, state, log, "--checkpoint-seconds", "1", "--webhook", hook.url)
        durable = srv.client.get("/healthz").json()["journal_offset"]
        restarts.append(time.perf_counter() - t0)
        lost += max(0, acked - durable)
        pos = durable
        killer = None
        try:
            while pos < len(lines):
                size = rng.randint(500, 5000)
                if pos + size >= stop_at and killer is None:  # die during this request or just after it
                    killer = threading.Timer(rng.uniform(0.0, 0.03), srv.kill9)
                    killer.start()
                try:
                    acked = post(srv.client, b"\n".join(lines[pos:pos + size]) + b"\n")["last_offset"]
                except Exception:  # noqa: BLE001 - killed under the request
                    break
                pos = acked
                if killer is not None:
                    break
        finally:
            if killer is not None:
                killer.join(timeout=30)
            if srv.proc.poll() is None:
                srv.kill9()
            srv.client.close()
            srv.fh.close()
    srv = Server(model, state, log, "--webhook", hook.url)
    try:
        durable = srv.client.get("/healthz").json()["journal_offset"]
        lost += max(0, acked - durable)
        for b in bodies(lines[durable:], 5000):
            post(srv.client, b)
        assert srv.client.post("/v1/flush", params={"wait": 600}).json()["flushed"] is True
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # every stored alarm delivered (or given up on)
            status = srv.client.get("/v1/status").json()
            if not status["sinks"].get("pending"):
                break
            time.sleep(0.2)
    finally:
        srv.close()
        hook.close()
    got = stored_alarms(state)
    keys = sqlite3.connect(state / "state.db").execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM alarms").fetchone()
    text = log.read_text(errors="replace")
    return {"kills": kills, "equal": got.get(0, []) == expected, "alarms": len(got.get(0, [])),
            "stored_all_kinds": keys[0], "webhook_alarms": len(hook.keys), "webhook_deliveries": sum(hook.keys.values()),
            "expected": len(expected), "duplicates": keys[0] - keys[1], "lost_acknowledged": lost,
            "journal_lines": status["journal"]["lines"], "lines": len(lines), "torn_tails_cut": text.count("cutting"),
            "restart_seconds_max": max(restarts), "restart_seconds_mean": sum(restarts) / len(restarts),
            "replayed_lines": [int(x) for x in re.findall(r"replayed \d+ records, (\d+) lines", text)],
            "load": start_load, "load_end": load()}


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


def _fresh(state: Path) -> None:
    import shutil

    shutil.rmtree(state, ignore_errors=True)


def _ms(lat: dict, key: str = "p99") -> str:
    return "-" if not lat.get("n") else f"{lat[key] * 1000:.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--work", default="/tmp/logad-bench-serve", help="split, models and state folders")
    ap.add_argument("--passes", type=int, default=5, help="replays of the replay file per throughput run")
    ap.add_argument("--soak-seconds", type=float, default=600)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: deeplog,soak,crash")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "serve.md"), help="the Markdown results")
    args = ap.parse_args()
    data = data_dir_or_none(args.data_dir, "hdfs_2pct")
    if data is None:
        return 0
    try:
        import httpx  # noqa: F401
    except ImportError:
        print("needs httpx and the serve extra: pip install 'logad[serve]' httpx")
        return 0
    skip = set(filter(None, args.skip.split(",")))
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, set(cores[1:]))  # the sender; the server gets cores[0]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; load at start: {load()}")
    setup = train(data, work)
    replay = setup["replay"]
    expected = {name: detect_alarms(m, replay, work / f"detect-{name}.csv") for name, m in setup["models"].items()
                if not (name == "deeplog" and "deeplog" in skip)}
    n_lines = len(replay.read_bytes().split(b"\n")) - 1
    print(f"replay file: {n_lines} lines; logad detect alarms: " + ", ".join(f"{k} {len(v)}" for k, v in expected.items()))
    results: dict = {"when": time.strftime("%Y-%m-%d %H:%M"), "replay_lines": n_lines, "cores": os.cpu_count()}
    runs = []
    for name in ("knn", "knn-no-timeout", "deeplog"):
        if name not in expected:
            continue
        passes = args.passes if name != "deeplog" else max(1, args.passes // 5)
        r = throughput(name, setup["models"][name], replay, expected[name], work, passes)
        runs.append(r)
        target = 20_000 if name == "deeplog" else 100_000
        print(f"throughput {name:15s} {r['rate']:>10,.0f} lines/s (target >= {target:,}; x{r['rate'] / target:.2f}); "
              f"{r['rate_per_cpu_second']:,.0f} lines per CPU-second of the server "
              f"alarms equal to logad detect in every pass: {r['equal']}; close->stored p99 line-closed "
              f"{_ms(r['latency']['line'])} (n {r['latency']['line'].get('n', 0)}), flush-closed "
              f"{_ms(r['latency']['flush'])} (target < 100 ms); close->decided p99 (every sequence) line-closed "
              f"{_ms(r['latency'].get('decided_line', {}))} (n {r['latency'].get('decided_line', {}).get('n', 0)}); "
              f"load {r['load']}")
    results["throughput"] = runs
    knn_rate = runs[0]["rate"] if runs else 0.0
    if "soak" not in skip and knn_rate:
        rate = 0.8 * min(knn_rate, 100_000)  # 80 % of the target, or of the rate reached when below it
        s = soak(setup["models"]["knn"], replay, expected["knn"], work, rate, args.soak_seconds)
        results["soak"] = s
        drift = s["rss_last_minute"] / s["rss_second_minute"] - 1
        print(f"soak {s['seconds']:.0f} s at {s['rate']:,.0f} lines/s (asked {s['target_rate']:,.0f}): RSS second minute "
              f"{s['rss_second_minute']:.0f} MB, last minute {s['rss_last_minute']:.0f} MB ({drift:+.1%}; target within "
              f"10%); lines sent {s['sent']:,} = counted {s['received']:,.0f} = processed {s['processed']:,}: "
              f"{s['sent'] == s['received'] == s['processed']}; passes equal to logad detect "
              f"{s['passes_equal']}/{s['passes']}; load {s['load']}")
    if "crash" not in skip:
        c = crash(setup["models"]["knn"], replay, expected["knn"], work, args.kills, args.seed)
        results["crash"] = c
        print(f"crash: {c['kills']} kill -9, restarts (mean {c['restart_seconds_mean']:.1f} s): alarms equal to logad "
              f"detect {c['equal']} ({c['alarms']}/{c['expected']}), duplicates {c['duplicates']}, acknowledged lines "
              f"lost {c['lost_acknowledged']}, journal lines {c['journal_lines']}/{c['lines']}; webhook: "
              f"{c['webhook_alarms']} alarms of {c['stored_all_kinds']} stored, {c['webhook_deliveries']} deliveries; "
              f"load {c['load']}")
    out = Path(args.out)
    out.write_text(report(results))
    (work / "serve.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {out}")
    return 0


def report(r: dict) -> str:
    lines = [f"# `logad serve` ({r['when']}, {r['cores']} cores; `python benchmarks/bench_serve.py`)", "",
             f"hdfs_2pct: models trained on the first 60 % of lines; the other {r['replay_lines']:,} lines replayed "
             f"over HTTP (text/plain, {BATCH:,}-line batches, one sender in order, each pass ended by POST /v1/flush). "
             "Server: one process pinned to one core, OMP_NUM_THREADS=1; the sender on the other core.", "",
             "## Throughput and alarm latency", "",
             "| model | lines | lines/s (wall) | target | x target | lines per server CPU-second | alarms = `logad detect` "
             "(every pass) | close->alarm stored p99, line-closed | flush-closed | close->decided p99, every sequence "
             "a line closed | server RSS | load (uptime) at start |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in r.get("throughput", []):
        target = 20_000 if t["model"] == "deeplog" else 100_000
        lat = t["latency"]
        lines.append(f"| {t['model']} | {t['lines']:,} ({t['passes']} passes) | {t['rate']:,.0f} | >= {target:,} | "
                     f"{t['rate'] / target:.2f} | {t['rate_per_cpu_second']:,.0f} | "
                     f"{'yes' if t['equal'] else 'NO'} ({t['alarms_per_pass']} per pass) | "
                     f"{_ms(lat['line'])} (n {lat['line'].get('n', 0)}) | {_ms(lat['flush'])} (n {lat['flush'].get('n', 0)})"
                     f" | {_ms(lat.get('decided_line', {}))} (n {lat.get('decided_line', {}).get('n', 0)})"
                     f" | {t['rss_mb']:.0f} MB | {t['load']} |")
    lines += ["", "knn and deeplog: HDFS block sessions closed after 600 s of log time without a line (so they close "
              "during the stream); knn-no-timeout: the default grouping, every session closes at the flush. "
              "Target for the p99: < 100 ms; line-closed alarms are few with these models (HDFS sessions cut by a "
              "timeout mostly look like training ones), so the same path is also timed for every sequence: from "
              "closing to being scored and, when it alarms, stored (close->decided). Lines per server CPU-second: lines over the user + system CPU time the "
              "server process used (all its threads), the rate one free core would give; the wall rate depends on "
              "what else the machine runs (see the load).", ""]
    s = r.get("soak")
    if s:
        drift = s["rss_last_minute"] / s["rss_second_minute"] - 1
        lines += ["## Soak", "",
                  "| seconds | rate asked | rate sent | RSS 2nd minute | RSS last minute | drift (target within 10%) | "
                  "peak RSS | lines sent | counted (/metrics) | processed | passes = `logad detect` | load at start |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|",
                  f"| {s['seconds']:.0f} | {s['target_rate']:,.0f} | {s['rate']:,.0f} | {s['rss_second_minute']:.0f} MB | "
                  f"{s['rss_last_minute']:.0f} MB | {drift:+.1%} | {s['rss_peak']:.0f} MB | {s['sent']:,} | "
                  f"{s['received']:,.0f} | {s['processed']:,} | {s['passes_equal']}/{s['passes']} | {s['load']} |", ""]
    c = r.get("crash")
    if c:
        lines += ["## Crash (kill -9 during one replay, restart, resume from /healthz journal_offset)", "",
                  "| kills | sequence alarms = `logad detect` | sequence alarms | duplicates stored | acknowledged lines lost "
                  "| journal lines / file lines | torn tails cut | webhook: alarms / deliveries (stored, all kinds) "
                  "| restart mean / max | load at start |",
                  "|---|---|---|---|---|---|---|---|---|---|",
                  f"| {c['kills']} | {'yes' if c['equal'] else 'NO'} | {c['alarms']}/{c['expected']} | {c['duplicates']} | "
                  f"{c['lost_acknowledged']} | {c['journal_lines']:,} / {c['lines']:,} | {c['torn_tails_cut']} | "
                  f"{c['webhook_alarms']} / {c['webhook_deliveries']} ({c['stored_all_kinds']}) | "
                  f"{c['restart_seconds_mean']:.1f} / {c['restart_seconds_max']:.1f} s | {c['load']} |", "",
                  "Webhook deliveries are at least once: a kill between a receiver's 2xx and the outbox row being "
                  "marked sends that alarm again after the restart, with the same Idempotency-Key.", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
