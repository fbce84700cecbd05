"""Alarm budgets: is the false-alarm rate a user asks for the one they get on new normal data?

    python benchmarks/bench_budgets.py [--data-dir ../shared/data] [--seeds 0,1,2] [--only knn,deeplog]
    python benchmarks/bench_budgets.py --development   # the run that decides the defaults (no benchmark test)

For every detector, seed and requested budget B (0.1 %, 0.5 %, 1 %) one fitted model is
thresholded several ways, and the achieved false-positive rate on the test normals is printed
beside the target window [B/3, 3B]:
- `alarm-budget` (cross-fit): the conformal (1 - B) quantile of out-of-fold scores of every training
  and validation normal (5 models, each fitted without one fold; folds shuffled, or in time order);
  "pooled": the scored model is fitted on those same training and validation normals (otherwise,
  as for the quantiles below, on the training part only);
- `cross-conformal`: no final model: the 5 fold models score each test sequence against the fold
  each did not see, and the pooled p-value decides (alarm iff p <= B; see logad.detectors.conformal);
- `held-out quantile`: the (1 - B) quantile of the validation normals' scores (the previous way,
  e.g. the best-F1 policy's fallback on hdfs_sessions);
- `in-sample quantile` (shown for reference, not a candidate): the (1 - B) quantile of the scores
  of the model's own training normals.
Benchmark (default): hdfs_sessions (session files) with knn, deeplog, loganomaly, logbert, and
hdfs_2pct (chronological 60/10/30) with knn, deeplog. Development (`--development`; rule in
benchmarks/README.md, fixed before its run): splits that never touch a benchmark's test part:
hdfs_sessions' training file alone (file order 60/10/30), hdfs_2pct's training period alone
(chronological 60/10/30 inside it), and openstack_sessions.
Every figure: mean ± std over seeds, and the 95 % bootstrap interval (over test sequences) of the
seed mean. knn has no seed: one run. Writes benchmarks/results/budgets[-development].md and .json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from common import data_dir_or_none  # noqa: E402

from logad.detectors.registry import get_detector  # noqa: E402
from logad.detectors.thresholds import AlarmBudget, cross_fitted_scores, fold_indices  # noqa: E402
from logad.evaluation.bootstrap import bootstrap_interval, metric_value, seed_summary  # noqa: E402
from logad.evaluation.runner import fit_detector, markdown_table, training_normals  # noqa: E402
from logad.pipeline import load_dataset, make_split  # noqa: E402
from logad.splitting import Split, chronological_split  # noqa: E402

BUDGETS = (0.001, 0.005, 0.01)
SEEDED = {"deeplog", "loganomaly", "logbert", "logrobust", "lstm-w2v"}
BENCHMARK = [("hdfs_sessions", ("knn", "deeplog", "loganomaly", "logbert")), ("hdfs_2pct", ("knn", "deeplog"))]
DEVELOPMENT = [("dev: hdfs_train alone", ("knn", "deeplog", "loganomaly", "logbert")),
               ("dev: hdfs_2pct training period", ("knn", "deeplog", "loganomaly", "logbert")),
               ("dev: openstack_sessions", ("knn", "deeplog"))]
COLUMNS = [("dataset", "dataset"), ("detector", "detector"), ("budget", "budget"), ("method", "threshold from"),
           ("fpr", "achieved FPR on test normals: mean ± std [95% CI]"), ("window", "in [B/3, 3B]"),
           ("f1", "F1 mean ± std [95% CI]"), ("n_ref", "normal scores used")]


def within(fpr: float, budget: float) -> bool:
    return budget / 3 <= fpr <= 3 * budget


def load_splits(data: Path, development: bool) -> dict[str, tuple[Split, dict]]:
    """name -> (split, templates)."""
    out = {}
    sessions = load_dataset("hdfs-sessions", data / "hdfs_sessions")
    raw = load_dataset("hdfs", data / "hdfs_2pct")
    bench_raw = make_split(raw, "chronological")
    if not development:
        out["hdfs_sessions"] = (make_split(sessions, "session-files"), sessions.templates)
        out["hdfs_2pct"] = (bench_raw, raw.templates)
        return out
    train_file = sessions.split.train + sessions.split.validation  # hdfs_train, in file order: all normal
    out["dev: hdfs_train alone"] = (chronological_split(train_file, 0.6, 0.1, 0.3), sessions.templates)
    period = bench_raw.train + bench_raw.validation  # the benchmark's training period, in time order
    out["dev: hdfs_2pct training period"] = (chronological_split(period, 0.6, 0.1, 0.3), raw.templates)
    stack = load_dataset("openstack-sessions", data / "openstack_sessions")
    out["dev: openstack_sessions"] = (make_split(stack, "session-files"), stack.templates)
    return out


def one_run(name: str, seed: int | None, split: Split, templates, methods: list[str]) -> dict:
    """The fitted model(s), their test scores, the reference scores of every method. A "pooled"
    method scores the test with a model fitted on the training AND validation normals (the
    sequences its out-of-fold scores come from); the others with the model of the training part."""
    params = {"seed": seed} if seed is not None else {}
    t0 = time.perf_counter()
    det, fit_s = fit_detector(get_detector(name, **params), split, templates=templates)
    test = [s for s in split.test if s.label is not None]
    scores = det.score(test)
    pooled_scores = None
    if any("pooled" in m for m in methods):
        pooled_det, _ = fit_detector(get_detector(name, **params), split, templates=templates, with_validation=True)
        pooled_scores = pooled_det.score(test)
    normals, _ = training_normals(split)
    val_normals = [s for s in split.validation if s.label != 1]
    train_normals = [s for s in split.train if s.label != 1]
    ref = {"held-out quantile": det.score(val_normals), "in-sample quantile": det.score(train_normals)}
    by_method = {m: (pooled_scores if "pooled" in m else scores) for m in methods}
    p_values: dict[str, np.ndarray] = {}
    cross_s: dict[str, float] = {}
    oof: dict[str, np.ndarray] = {}
    for m in methods:
        if m.startswith("alarm-budget") or m.startswith("cross-conformal"):
            order = "shuffled" if "shuffled" in m else "blocks"
            if order not in oof:  # every method of one fold order shares the out-of-fold scores and models
                t1 = time.perf_counter()
                members: list = []
                oof[order] = cross_fitted_scores(det, normals, folds=5, fold_order=order, templates=templates,
                                                 keep_models=members)
                cross_s[order] = time.perf_counter() - t1
                parts = fold_indices(len(normals), 5, order)
                # the cross-conformal p-value of every test sequence (the fold models score it)
                count = np.zeros(len(test))
                for member, part in zip(members, parts):
                    r = np.sort(oof[order][part])
                    count += r.size - np.searchsorted(r, member.score(test), side="left")
                p_values[order] = (1.0 + count) / (len(normals) + 1.0)
            ref[m] = oof[order]
            if m.startswith("cross-conformal"):
                by_method[m] = -p_values[order]  # alarm iff p <= B: see threshold_of
    print(f"  {name} seed {seed}: fit {fit_s:.1f}s, cross-fit {', '.join(f'{k} {v:.0f}s' for k, v in cross_s.items())} "
          f"({time.perf_counter() - t0:.0f}s in all)", flush=True)
    return {"labels": np.array([s.label for s in test], dtype=int), "scores": by_method, "ref": ref, "fit_s": fit_s,
            "cross_s": cross_s}


def threshold_of(method: str, ref: np.ndarray, budget: float) -> float:
    if method.startswith("cross-conformal"):  # scores are -p: alarm iff -p > -B - half a step, i.e. p <= B
        return -budget - 0.5 / (ref.size + 1.0)
    if method.startswith("alarm-budget"):
        return AlarmBudget(budget).fit(ref)
    return float(np.quantile(ref, 1 - budget))  # the held-out and in-sample quantiles


def rows_of(dataset: str, name: str, runs: list[dict], methods: list[str]) -> list[dict]:
    rows = []
    y = runs[0]["labels"]
    for budget in BUDGETS:
        for method in methods:
            preds = [r["scores"][method] > threshold_of(method, r["ref"][method], budget) for r in runs]
            fprs = [metric_value(y, p, "fpr") for p in preds]
            f1s = [metric_value(y, p, "f1") for p in preds]
            fpr_m, fpr_s = seed_summary(fprs)
            lo, hi = bootstrap_interval(y, preds, metric="fpr", n_boot=1000)
            has_anomalies = bool(y.sum())
            f1_text = "-"
            if has_anomalies:
                f1_m, f1_s = seed_summary(f1s)
                flo, fhi = bootstrap_interval(y, preds, metric="f1", n_boot=1000)
                f1_text = f"{f1_m:.3f} ± {f1_s:.3f} [{flo:.3f}, {fhi:.3f}]"
            rows.append({
                "dataset": dataset, "detector": name, "budget": f"{budget:.1%}", "method": method,
                "fpr": f"{fpr_m:.4f} ± {fpr_s:.4f} [{lo:.4f}, {hi:.4f}]",
                "window": f"{sum(within(f, budget) for f in fprs)}/{len(fprs)} "
                          f"({'met' if within(fpr_m, budget) else 'MISSED'} on the mean)",
                "f1": f1_text, "n_ref": f"{len(runs[0]['ref'][method]):,}",
                "_fprs": fprs, "_f1s": f1s if has_anomalies else None, "_budget": budget,
                "_n_test_normal": int((y == 0).sum()),
            })
    return rows


def load_text() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "uptime unavailable"


def summary(rows: list[dict], methods: list[str]) -> list[str]:
    """Per method: seed runs within the window, and the median |log10(achieved / B)| (achieved
    floored at 1 / (2 n) test normals so a run with no false alarm counts as far below)."""
    lines = []
    for m in methods:
        cells = [r for r in rows if r["method"] == m]
        hits = sum(within(f, r["_budget"]) for r in cells for f in r["_fprs"])
        total = sum(len(r["_fprs"]) for r in cells)
        errors = [abs(math.log10(max(f, 1 / (2 * r["_n_test_normal"])) / r["_budget"])) for r in cells for f in r["_fprs"]]
        lines.append(f"- {m}: {hits} of {total} runs within [B/3, 3B]; median |log10(achieved / B)| "
                     f"{float(np.median(errors)):.3f}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--only", help="comma-separated detector names")
    ap.add_argument("--development", action="store_true", help="the development run that decides the defaults")
    ap.add_argument("--pooled", action="store_true", help="also the pooled candidates (on in --development)")
    ap.add_argument("--tag", default="", help="suffix of the results files")
    args = ap.parse_args()
    data = data_dir_or_none(args.data_dir, "hdfs_sessions", "hdfs_2pct", "openstack_sessions")
    if data is None:
        return 0
    import torch

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = set(args.only.split(",")) if args.only else None
    methods = ["alarm-budget (cross-fit, shuffled)", "alarm-budget (cross-fit, blocks)"]
    if args.development or args.pooled:
        methods += ["alarm-budget (cross-fit, shuffled, pooled)", "alarm-budget (cross-fit, blocks, pooled)"]
    methods += ["cross-conformal (shuffled)", "cross-conformal (blocks)"]
    methods += ["held-out quantile", "in-sample quantile"]
    started = load_text()
    splits = load_splits(data, args.development)
    rows, raw = [], {}
    for dataset, detectors in (DEVELOPMENT if args.development else BENCHMARK):
        split, templates = splits[dataset]
        d = split.describe()
        print(f"{dataset}: train {d['train']}, validation {d['validation']}, test {d['test']}", flush=True)
        for name in detectors:
            if wanted and name not in wanted:
                continue
            runs = [one_run(name, s if name in SEEDED else None, split, templates, methods)
                    for s in (seeds if name in SEEDED else [None])]
            new = rows_of(dataset, name, runs, methods)
            for r in new:
                print(f"    {r['budget']} {r['method']}: FPR {r['fpr']} {r['window']} (target [B/3, 3B])", flush=True)
            rows += new
            raw[f"{dataset}/{name}"] = {"fit_s": [r["fit_s"] for r in runs], "cross_s": [r["cross_s"] for r in runs],
                                         "split": d}
    kind = "development" if args.development else "benchmark"
    shown = [r for r in rows if r["method"] != "in-sample quantile"] + [r for r in rows if r["method"] == "in-sample quantile"]
    text = "\n".join([
        f"# Alarm budgets ({kind} run; seeds {args.seeds}; knn has no seed: one run)", "",
        f"Machine load at the start: `{started}`; at the end: `{load_text()}` (2 cores, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, torch 1 thread). Times are noisy; FPR and F1 are not.", "",
        "Target: achieved FPR on the test normals within [B/3, 3B] for every requested budget B.", "",
        markdown_table(shown, COLUMNS), "", "Runs within the window, per method:", *summary(rows, methods), "",
    ])
    print(text)
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    stem = "budgets-development" if args.development else "budgets"
    if wanted:
        stem += "-" + "-".join(sorted(wanted))
    if args.tag:
        stem += "-" + args.tag
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    keep = [{k: v for k, v in r.items()} for r in rows]
    (out / f"{stem}.json").write_text(json.dumps({"rows": keep, "runs": raw}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
