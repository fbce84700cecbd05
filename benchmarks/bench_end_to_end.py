"""The user's path end to end, in one run, beside Drain3 and LogLead (issue 14):

    python benchmarks/bench_end_to_end.py [--data-dir ../shared/data] [--repeat 3] [--stream-lines 10000000]
                                          [--only parse,evaluate,drain3,loglead,stream]

Whole-command wall times (a fresh process each, best of --repeat), on hdfs_2pct, thunderbird_slice
and bgl_2k:
- `logad parse FILE --format F --out x.parquet` and `--out x.csv`, pinned to one core (taskset);
- `logad evaluate --dataset D --data-dir DIR --detector decision-tree` and `knn`, and the floor
  under them: a process that only starts, one that imports numpy (and, for comparison, one that
  imports sklearn.tree, which the decision tree no longer needs);
- Drain3 0.9.11 with its example drain3.ini (the 7 masking rules, "<:"/":>", extra delimiter "_",
  depth 4, sim 0.4, 100 children): its add loop alone (timed inside the process, reading excluded)
  and the whole process with reading (gzip, the format's LogPAI regex per line, the add loop);
- LogLead 2.0 from PyPI, in this benchmark's own environment (a venv under benchmarks/.envs/,
  created on first run; never the project's): its HDFSLoader, normalize, parse_tip or
  parse_drain, block sequences (SequenceEnhancer.events), its decision tree (train_DT, predict),
  the whole process; its loader reads plain text, so it gets HDFS.log decompressed beforehand
  (not timed: an advantage to LogLead).
Then a generated stream of --stream-lines lines (bench_parser_stream's generator, 5,000 templates,
under a header) through `logad parse --progress` to Parquet: lines/s per million (from the
command's own progress lines) and its peak memory.

Each figure is printed with its ratio and target. The machine's load average before and after
is recorded (2 shared cores: absolute rates are noisy, ratios are measured side by side).
Writes benchmarks/results/end-to-end.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
ENVS = BENCH / ".envs"
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(BENCH))

from common import data_dir_or_none  # noqa: E402

FILES = [("hdfs_2pct", "HDFS.log.gz", "hdfs", "hdfs"), ("thunderbird_slice", "Thunderbird.log.gz", "thunderbird", "thunderbird"),
         ("bgl_2k", "BGL.log", "bgl", "bgl")]
LOGAD = [sys.executable, "-c", "import sys; sys.argv[0] = 'logad'; from logad.cli import main; sys.exit(main())"]
ONE_CORE = ["taskset", "-c", "0"] if shutil.which("taskset") else []
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}

DRAIN3 = r'''
import gzip, json, re, sys, time
t_start = time.perf_counter()
from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
RULES = [("ID", r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)"),
         ("IP", r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)"),
         ("SEQ", r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)"),
         ("SEQ", r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)"),
         ("HEX", r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)"),
         ("NUM", r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)"),
         ("CMD", r"(?<=executed cmd )(\".+?\")")]
cfg = TemplateMinerConfig()
cfg.profiling_enabled = False
cfg.drain_sim_th, cfg.drain_depth, cfg.drain_max_children, cfg.drain_max_clusters = 0.4, 4, 100, None
cfg.drain_extra_delimiters = ["_"]
cfg.mask_prefix, cfg.mask_suffix = "<:", ":>"
cfg.masking_instructions = [MaskingInstruction(p, n) for n, p in RULES]
miner = TemplateMiner(config=cfg)
path, regex = sys.argv[1], re.compile(sys.argv[2])
t0 = time.perf_counter()
opener = gzip.open if path.endswith(".gz") else open
contents = []
with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
    for line in fh:
        m = regex.match(line.rstrip("\r\n"))
        if m is not None:
            contents.append(m.group("Content"))
t1 = time.perf_counter()
c1 = time.process_time()
for c in contents:
    miner.add_log_message(c)
t2 = time.perf_counter()
c2 = time.process_time()
print(json.dumps({"lines": len(contents), "read_s": t1 - t0, "add_s": t2 - t1, "add_cpu_s": c2 - c1,
                  "clusters": len(miner.drain.clusters)}))
'''

LOGLEAD = r'''
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import polars as pl
from loglead import AnomalyDetector
from loglead.enhancers import EventLogEnhancer, SequenceEnhancer
from loglead.loaders import HDFSLoader
from sklearn.metrics import f1_score
log, labels, parser = sys.argv[1], sys.argv[2], sys.argv[3]
t = {}
t0 = time.perf_counter()
loader = HDFSLoader(filename=log, labels_file_name=labels)
df = loader.execute()
t["load_s"] = time.perf_counter() - t0
enhancer = EventLogEnhancer(df)
df = enhancer.normalize()
df = enhancer.parse_tip() if parser == "tip" else enhancer.parse_drain()
t["parse_s"] = time.perf_counter() - t0 - t["load_s"]
col = "e_event_tip_id" if parser == "tip" else "e_event_drain_id"
seq = SequenceEnhancer(df=df, df_seq=loader.df_seq)
df_seq = seq.events(col)
t["sequences_s"] = time.perf_counter() - t0 - t["load_s"] - t["parse_s"]
sad = AnomalyDetector(item_list_col=col, print_scores=False)
sad.test_train_split(df_seq, test_frac=0.3, shuffle=True)
sad.train_DT()
pred = sad.predict()
f1 = f1_score(pred["anomaly"].to_list(), pred["pred_ano"].to_list())
t["model_s"] = time.perf_counter() - t0 - t["load_s"] - t["parse_s"] - t["sequences_s"]
print(json.dumps({"lines": df.height, "sequences": df_seq.height, "f1": f1, **t}))
'''


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(cmd: list[str], *, env=None, repeat: int = 1, timeout: float = 3600) -> tuple[float, str, str, float]:
    """(best wall seconds, stdout, stderr, CPU seconds of that run) of a fresh process, `repeat`
    times. CPU = user + system time of the process and its children (what the load of other jobs
    does not stretch, unlike wall time)."""
    best = None
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=timeout)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:6])}... failed ({p.returncode}):\n{p.stderr[-2000:]}")
        if best is None or wall < best[0]:
            best = (wall, p.stdout, p.stderr, cpu)
    return best  # type: ignore[return-value]


def _count_lines(path: Path) -> int:
    import gzip

    with gzip.open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def loglead_python() -> Path:
    """The Python of the benchmark's own LogLead environment (created on first use)."""
    py = ENVS / "loglead" / "bin" / "python"
    if not py.exists():
        print("creating benchmarks/.envs/loglead (LogLead 2.0 from PyPI) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ENVS / "loglead")], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "loglead==2.0.*"], check=True)
    return py


def section_parse(data: Path, work: Path, repeat: int, out: list[str], figures: dict) -> None:
    out += ["## `logad parse`, whole command, one core (taskset -c 0)", "",
            "Wall seconds (CPU seconds of the same run in brackets).", "",
            "| file | lines | to Parquet s | lines/s | to CSV s | lines/s | peak RSS MB (Parquet) |",
            "|---|---|---|---|---|---|---|"]
    for folder, name, fmt, _ in FILES:
        path = data / folder / name
        row = {}
        for kind in ("parquet", "csv"):
            dest = work / f"{folder}.{kind}"
            cmd = ONE_CORE + ["/usr/bin/time", "-f", "MAXRSS %M"] + LOGAD + ["parse", str(path), "--format", fmt,
                                                                           "--out", str(dest), "--overwrite"]
            wall, _, err, cpu = timed(cmd, repeat=repeat)
            lines = int(re.search(r"parsed (\d+) lines", err).group(1))
            rss = int(re.search(r"MAXRSS (\d+)", err).group(1)) / 1024
            row[kind] = (wall, lines, rss, cpu)
        (pw, n, rss, pc), (cw, _, _, cc) = row["parquet"], row["csv"]
        figures.setdefault("parse", {})[folder] = {"lines": n, "parquet_s": pw, "csv_s": cw, "rss_mb": rss,
                                                    "parquet_cpu_s": pc, "csv_cpu_s": cc}
        out.append(f"| {folder} | {n:,} | {pw:.2f} ({pc:.2f}) | {n / pw:,.0f} | {cw:.2f} ({cc:.2f}) | {n / cw:,.0f} | "
                   f"{rss:.0f} |")
        print(f"  parse {folder}: parquet {pw:.2f}s ({n / pw:,.0f}/s), csv {cw:.2f}s", flush=True)
    out.append("")


def section_drain3(data: Path, repeat: int, out: list[str], figures: dict) -> None:
    from logad.formats.registry import get_format

    out += ["## Drain3 0.9.11 (its example drain3.ini), one core", "",
            "| file | lines | add loop alone s | lines/s | whole process with reading s (CPU s) | lines/s |",
            "|---|---|---|---|---|---|"]
    for folder, name, fmt, _ in FILES:
        path = data / folder / name
        rx = get_format(fmt).regex.pattern
        best_add = None
        wall, stdout, _, cpu = timed(ONE_CORE + [sys.executable, "-c", DRAIN3, str(path), rx], repeat=repeat,
                                     env=dict(os.environ))
        info = json.loads(stdout.strip().splitlines()[-1])
        best_add = info["add_s"]
        n = info["lines"]
        figures.setdefault("drain3", {})[folder] = {"lines": n, "add_s": best_add, "whole_s": wall, "whole_cpu_s": cpu,
                                                     "add_cpu_s": info.get("add_cpu_s")}
        out.append(f"| {folder} | {n:,} | {best_add:.2f} | {n / best_add:,.0f} | {wall:.2f} ({cpu:.2f}) | {n / wall:,.0f} |")
        print(f"  drain3 {folder}: add {best_add:.2f}s, whole {wall:.2f}s", flush=True)
    out.append("")


def section_evaluate(data: Path, repeat: int, out: list[str], figures: dict) -> None:
    out += ["## `logad evaluate` (whole command; chronological 60/10/30; threshold from validation)", "",
            "| data | detector | wall s (CPU s) | F1 | FPR |", "|---|---|---|---|---|"]
    for folder, _, _, dataset in FILES:
        for det in ("decision-tree", "knn"):
            with tempfile.TemporaryDirectory() as tmp:
                js = Path(tmp) / "r.json"
                wall, _, _, cpu = timed(LOGAD + ["evaluate", "--dataset", dataset, "--data-dir", str(data / folder),
                                                 "--detector", det, "--quiet", "--json", str(js)], repeat=repeat)
                m = json.loads(js.read_text())["metrics"]
            figures.setdefault("evaluate", {})[f"{folder}/{det}"] = {"wall_s": wall, "cpu_s": cpu, "f1": m["f1"],
                                                                     "fpr": m["fpr"]}
            out.append(f"| {folder} | {det} | {wall:.2f} ({cpu:.2f}) | {m['f1']:.4f} | {m['fpr']:.5f} |")
            print(f"  evaluate {folder} {det}: {wall:.2f}s F1 {m['f1']:.4f}", flush=True)
    out.append("")
    # the rest of the user's path on hdfs_2pct: train a model (knn, the default alarm budget with its
    # cross-fitted scores) and run it over the same log with `logad detect` (CSV + its summary)
    out += ["`logad train` and `logad detect` on hdfs_2pct (whole commands, one thread; no other tool does both):", "",
            "| command | wall s (CPU s) | lines/s (wall) |", "|---|---|---|"]
    log = data / "hdfs_2pct" / "HDFS.log.gz"
    n_lines = figures.get("parse", {}).get("hdfs_2pct", {}).get("lines") or _count_lines(log)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        train_cmd = LOGAD + ["train", "--dataset", "hdfs", "--data-dir", str(data / "hdfs_2pct"), "--detector", "knn",
                             "--save", str(model), "--quiet"]
        wall, _, _, cpu = timed(train_cmd, repeat=1)  # each run saves the model the next would replace
        figures.setdefault("train_detect", {})["train"] = {"wall_s": wall, "cpu_s": cpu}
        out.append(f"| `logad train --detector knn --save M` | {wall:.2f} ({cpu:.2f}) | {n_lines / wall:,.0f} |")
        wall, _, _, cpu = timed(LOGAD + ["detect", str(log), "--model", str(model), "--out", str(Path(tmp) / "a.csv"),
                                         "--quiet"], repeat=repeat)
        figures["train_detect"]["detect"] = {"wall_s": wall, "cpu_s": cpu}
        out.append(f"| `logad detect HDFS.log.gz --model M --out a.csv` (CSV and its report summary) | {wall:.2f} "
                   f"({cpu:.2f}) | {n_lines / wall:,.0f} |")
        print(f"  train {figures['train_detect']['train']['wall_s']:.2f}s, detect {wall:.2f}s", flush=True)
    out.append("")
    # the floor under the commands: a process that only starts, or only imports numpy; and what
    # importing scikit-learn's tree would add (the decision tree is our own since issue 14: cart.py)
    out += ["Start-up floor of the same commands (fresh process, best of the same repeats):", "",
            "| process | wall s (CPU s) |", "|---|---|"]
    for label, code in (("`python -c pass`", "pass"), ("`import numpy`", "import numpy"),
                        ("`import numpy, sklearn.tree` (not imported by `logad evaluate` any more)",
                         "import numpy, sklearn.tree")):
        wall, _, _, cpu = timed([sys.executable, "-c", code], repeat=repeat)
        figures.setdefault("evaluate_floor", {})[code] = {"wall_s": wall, "cpu_s": cpu}
        out.append(f"| {label} | {wall:.2f} ({cpu:.2f}) |")
        print(f"  floor {code}: {wall:.2f}s", flush=True)
    out.append("")


def section_loglead(data: Path, work: Path, repeat: int, out: list[str], figures: dict) -> None:
    import gzip

    py = loglead_python()
    log = work / "HDFS.log"
    if not log.exists():
        with gzip.open(data / "hdfs_2pct" / "HDFS.log.gz", "rb") as src, open(log, "wb") as dst:
            shutil.copyfileobj(src, dst)
    labels = data / "hdfs_2pct" / "anomaly_label.csv"
    out += ["## LogLead 2.0 on hdfs_2pct (loader, normalize, parser, block sequences, decision tree; whole process)", "",
            "| parser | wall s (CPU s, all threads) | load s | parse s | sequences s | model s | F1 (its random 70/30 split) |",
            "|---|---|---|---|---|---|---|"]
    for parser in ("tip", "drain"):
        wall, stdout, _, cpu = timed([str(py), "-c", LOGLEAD, str(log), str(labels), parser], repeat=repeat,
                                     env=dict(os.environ))
        info = json.loads(stdout.strip().splitlines()[-1])
        figures.setdefault("loglead", {})[parser] = {"wall_s": wall, "cpu_s": cpu, **info}
        out.append(f"| {parser} | {wall:.2f} ({cpu:.2f}) | {info['load_s']:.2f} | {info['parse_s']:.2f} | {info['sequences_s']:.2f} | "
                   f"{info['model_s']:.2f} | {info['f1']:.4f} |")
        print(f"  loglead {parser}: {wall:.2f}s F1 {info['f1']:.4f}", flush=True)
    out.append("")


def section_stream(work: Path, lines: int, out: list[str], figures: dict) -> None:
    import random

    import bench_parser_stream as gen

    path = work / "stream.log"
    if not path.exists() or path.stat().st_size == 0:
        print(f"  generating {lines:,} lines ...", flush=True)
        rng = random.Random(0)
        templates = gen.make_templates(5000, rng)
        weights = [1.0 / (i + 1) ** 0.9 for i in range(len(templates))]
        with open(path, "w", encoding="utf-8") as fh:
            done = 0
            while done < lines:
                block = gen.generate(templates, weights, min(1_000_000, lines - done), rng)
                sec = done // 1000
                fh.write("".join(f"2026-01-01 {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} INFO app: {c}\n"
                                 for c in block))
                done += len(block)
    fmt = "<Date> <Time> <Level> <Component>: <Content>"
    cmd = ONE_CORE + ["/usr/bin/time", "-f", "MAXRSS %M"] + LOGAD + ["parse", str(path), "--format", fmt, "--out",
                                                                   str(work / "stream.parquet"), "--overwrite", "--progress"]
    wall, _, err, cpu = timed(cmd, repeat=1, timeout=7200)
    marks = [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
             for m in re.finditer(r"progress: (\d+) lines ([\d.]+) s cpu ([\d.]+) s", err)]
    rss = int(re.search(r"MAXRSS (\d+)", err).group(1)) / 1024
    rates, cpu_rates = [], []
    prev_n, prev_t = 0, 0.0
    prev_c = None
    for n, t, c in marks:
        rates.append((n, (n - prev_n) / (t - prev_t)))
        if prev_c is not None:
            cpu_rates.append((n, (n - prev_n) / (c - prev_c)))
        prev_n, prev_t, prev_c = n, t, c
    first, last = rates[0][1], rates[-1][1]
    c_first, c_last = (cpu_rates[0][1], cpu_rates[-1][1]) if len(cpu_rates) > 1 else (1.0, 1.0)
    figures["stream"] = {"lines": lines, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss, "per_million": rates,
                         "per_million_cpu": cpu_rates}
    out += [f"## {lines:,} generated lines through `logad parse --progress` to Parquet (one core)", "",
            "Per million: lines per wall second (the machine's load stretches it), and per CPU second of the "
            "command (from the 2nd million: the 1st includes start-up).", "",
            "| million | " + " | ".join(str(i + 1) for i in range(len(rates))) + " |",
            "|---|" + "---|" * len(rates),
            "| lines/s (wall) | " + " | ".join(f"{r:,.0f}" for _, r in rates) + " |",
            "| lines/s (CPU) | - | " + " | ".join(f"{r:,.0f}" for _, r in cpu_rates) + " |", "",
            f"- whole command {wall:.1f} s wall, {cpu:.1f} s CPU ({lines / wall:,.0f} lines/s including start-up and "
            f"the final write); last million / first (target >= 0.80): by CPU time {c_last / c_first:.2f} (2nd million "
            f"as the first) {'PASS' if c_last / c_first >= 0.8 else 'NOT MET'}, by wall time {last / first:.2f} "
            f"{'PASS' if last / first >= 0.8 else 'NOT MET'} (wall time moves with the other jobs' load); "
            f"peak RSS {rss:.0f} MB (target < 1,000) {'PASS' if rss < 1000 else 'NOT MET'}", ""]
    print(f"  stream: {wall:.1f}s, last/first {last / first:.2f} (cpu {c_last / c_first:.2f}), peak {rss:.0f} MB", flush=True)


def verdicts(figures: dict, out: list[str]) -> None:
    out += ["## Ratios and targets (same run)", ""]
    parse, d3, ev, ll = figures.get("parse", {}), figures.get("drain3", {}), figures.get("evaluate", {}), figures.get("loglead", {})
    for folder in parse:
        p = parse[folder]
        line = f"- {folder}: `logad parse` to Parquet {p['lines'] / p['parquet_s']:,.0f} lines/s"
        if folder in d3:
            add = d3[folder]["add_s"]
            r_pq, r_csv = add / p["parquet_s"], add / p["csv_s"]
            r_whole = d3[folder]["whole_s"] / p["parquet_s"]
            line += (f"; {r_pq:.1f}x Drain3's bare add loop (target >= 15x: {'PASS' if r_pq >= 15 else 'NOT MET'}), "
                     f"{r_whole:.1f}x Drain3 with reading; CSV {r_csv:.1f}x the add loop "
                     f"(target >= 8x: {'PASS' if r_csv >= 8 else 'NOT MET'})")
            if d3[folder].get("add_cpu_s"):
                line += (f"; by CPU seconds: {d3[folder]['add_cpu_s'] / p['parquet_cpu_s']:.1f}x (Parquet), "
                         f"{d3[folder]['add_cpu_s'] / p['csv_cpu_s']:.1f}x (CSV)")
        if folder == "hdfs_2pct":
            rate = p["lines"] / p["parquet_s"]
            line += f"; target >= 500,000 lines/s on an idle machine: {'PASS' if rate >= 500_000 else 'NOT MET'}"
        out.append(line)
    dt = ev.get("hdfs_2pct/decision-tree")
    if dt and "tip" in ll:
        r = ll["tip"]["wall_s"] / dt["wall_s"]
        out.append(f"- `logad evaluate --dataset hdfs --detector decision-tree` {dt['wall_s']:.2f} s (F1 {dt['f1']:.4f}) "
                   f"against LogLead (tipping) {ll['tip']['wall_s']:.2f} s: {r:.1f}x (target >= 5x: "
                   f"{'PASS' if r >= 5 else 'NOT MET'}); against LogLead with Drain {ll['drain']['wall_s'] / dt['wall_s']:.1f}x; "
                   f"by CPU seconds {ll['tip']['cpu_s'] / dt['cpu_s']:.1f}x (tipping), {ll['drain']['cpu_s'] / dt['cpu_s']:.1f}x (Drain)")
        floor = figures.get("evaluate_floor", {})
        if "import numpy" in floor and "import numpy, sklearn.tree" in floor:
            out.append(f"- start-up with numpy takes {floor['import numpy']['wall_s']:.2f} s of it; importing "
                       f"scikit-learn's tree (which the command no longer does) would add "
                       f"{floor['import numpy, sklearn.tree']['wall_s'] - floor['import numpy']['wall_s']:.2f} s")
    out.append("")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stream-lines", type=int, default=10_000_000)
    ap.add_argument("--only", default="parse,drain3,evaluate,loglead,stream")
    args = ap.parse_args()
    data = data_dir_or_none(args.data_dir)
    if data is None:
        return 0
    only = set(args.only.split(","))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=False)  # as an install has .pyc
    from logad import _core  # noqa: F401 - the compiled core must be built for these figures

    work = ENVS / "work"
    work.mkdir(parents=True, exist_ok=True)
    before = loadavg()
    figures: dict = {"load_before": before}
    out = ["# End to end: raw logs to parsed records and to detection", "",
           f"{os.cpu_count()} cores shared with other jobs; load average (1/5/15 min) at the start {before}; "
           f"best of {args.repeat} runs for every whole-process figure; `logad parse` and Drain3 pinned to one core "
           "(taskset -c 0), `logad evaluate` in one thread (OMP_NUM_THREADS=1, not pinned), LogLead with its own "
           "thread pool (polars).", ""]
    if "parse" in only:
        section_parse(data, work, args.repeat, out, figures)
    if "drain3" in only:
        section_drain3(data, args.repeat, out, figures)
    if "evaluate" in only:
        section_evaluate(data, args.repeat, out, figures)
    if "loglead" in only:
        section_loglead(data, work, args.repeat, out, figures)
    verdicts(figures, out)
    if "stream" in only:
        section_stream(work, args.stream_lines, out, figures)
    figures["load_after"] = loadavg()
    out.append(f"Load average at the end {figures['load_after']}.")
    text = "\n".join(out)
    print(text)
    (BENCH / "results").mkdir(exist_ok=True)
    name = "end-to-end.md" if only == {"parse", "drain3", "evaluate", "loglead", "stream"} else f"end-to-end-{'-'.join(sorted(only))}.md"
    (BENCH / "results" / name).write_text(text + "\n", encoding="utf-8")
    (BENCH / "results" / name.replace(".md", ".json")).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
