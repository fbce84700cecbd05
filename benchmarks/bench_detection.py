"""Detection figures of the foundation issue, in one run.

    python benchmarks/bench_detection.py [--data-dir ../shared/data] [--only sessions|raw|labels]

1. hdfs_sessions: every classical detector trained on hdfs_train (normal sessions; its last 10%
   held out as validation for the threshold), tested on hdfs_test_normal + hdfs_test_abnormal.
2. hdfs_2pct: raw lines -> our Drain -> block sessions -> chronological 60/10/30 split by block
   start time; every classical detector.
3. Label-leak check: altering the test labels must not change a single prediction.

Prints Markdown tables and writes them to benchmarks/results/detection.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from common import data_dir_or_none  # noqa: E402

from logad.detectors.registry import detector_class, get_detector, list_detectors  # noqa: E402
from logad.evaluation.runner import RESULT_COLUMNS, evaluate_detector, markdown_table, result_row  # noqa: E402
from logad.pipeline import load_dataset, make_split  # noqa: E402
from logad.records import Sequence  # noqa: E402
from logad.splitting import Split  # noqa: E402

COLUMNS = RESULT_COLUMNS[:2] + [("training", "training")] + RESULT_COLUMNS[2:]


def run_matrix(name: str, split: Split, normal_only: bool = False) -> list[dict]:
    rows = []
    for det in list_detectors("classical"):
        if normal_only and detector_class(det).supervised:
            continue  # the training file holds no anomaly to learn from
        t0 = time.perf_counter()
        ev = evaluate_detector(get_detector(det), split)
        row = result_row(name, ev)
        row["training"] = "supervised" if detector_class(det).supervised else "normal only"
        rows.append(row)
        print(f"  {det:20s} F1 {row['f1']:.4f} FPR {row['fpr']:.5f} ({time.perf_counter() - t0:.1f}s)", flush=True)
    return rows


def best(rows: list[dict], training: str | None = None) -> dict:
    pool = [r for r in rows if training is None or r["training"] == training]
    return max(pool, key=lambda r: r["f1"])


def check(label: str, value: float, target: float) -> str:
    verdict = "PASS" if value >= target else "FAIL"
    return f"- {label}: {value:.4f} (target >= {target}) {verdict}"


def sessions_part(data_dir: Path, out: list[str]) -> None:
    print("hdfs_sessions ...", flush=True)
    loaded = load_dataset("hdfs-sessions", data_dir / "hdfs_sessions")
    split = make_split(loaded, "session-files")
    rows = run_matrix("hdfs_sessions", split, normal_only=True)
    b = best(rows)
    out += [
        "## hdfs_sessions (train on hdfs_train normal sessions; threshold from held-out training sessions)",
        "",
        markdown_table(rows, COLUMNS),
        "",
        check(f"best classical detector ({b['detector']}) F1, FPR {b['fpr']:.5f}", b["f1"], 0.99),
        "",
    ]


def raw_part(data_dir: Path, out: list[str]) -> Split:
    print("hdfs_2pct ...", flush=True)
    t0 = time.perf_counter()
    loaded = load_dataset("hdfs", data_dir / "hdfs_2pct")
    load_s = time.perf_counter() - t0
    split = make_split(loaded, "chronological")
    rows = run_matrix("hdfs_2pct", split)
    dt = next(r for r in rows if r["detector"] == "decision-tree")
    semi = best(rows, "normal only")
    out += [
        f"## hdfs_2pct (raw lines -> Drain -> block sessions -> chronological 60/10/30; read+parse+group {load_s:.1f}s)",
        "",
        markdown_table(rows, COLUMNS),
        "",
        check("decision-tree F1", dt["f1"], 0.98),
        check(f"best semi-supervised ({semi['detector']}) F1", semi["f1"], 0.95),
        "",
    ]
    return split


def labels_part(split: Split, out: list[str]) -> None:
    """Flip every test label at random: predictions and threshold must stay the same."""
    rng = random.Random(0)
    flipped = [
        Sequence(s.sequence_id, s.template_ids, s.line_nos, s.start_time, s.end_time, s.line_labels, rng.randint(0, 1), s.entity)
        for s in split.test
    ]
    altered = Split(split.train, split.validation, flipped, split.protocol)
    lines = ["## Test labels cannot reach a threshold", ""]
    for det in list_detectors("classical"):
        a = evaluate_detector(get_detector(det), split)
        b = evaluate_detector(get_detector(det), altered)
        same = np.array_equal(a.predicted, b.predicted) and a.result["threshold"]["value"] == b.result["threshold"]["value"]
        lines.append(f"- {det}: predictions {'unchanged' if same else 'CHANGED'} with random test labels")
    out += lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--only", choices=["sessions", "raw", "labels"])
    args = ap.parse_args()
    data_dir = data_dir_or_none(args.data_dir)
    if data_dir is None:
        return 0
    out: list[str] = ["# Detection figures (classical detectors)", ""]
    if args.only in (None, "sessions"):
        sessions_part(data_dir, out)
    if args.only in (None, "raw", "labels"):
        split = raw_part(data_dir, out)
        if args.only in (None, "labels"):
            labels_part(split, out)
    text = "\n".join(out)
    print(text)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    suffix = f"-{args.only}" if args.only else ""
    (REPO / "benchmarks" / "results" / f"detection{suffix}.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
