"""`logad tune` on real data: Ray Tune + ASHA, objective on validation only, test scored once.

    python benchmarks/bench_tune.py [--data-dir ../shared/data] [--only knn,deeplog] [--samples N]

- knn on hdfs_2pct (raw lines -> Drain -> blocks -> chronological 60/10/30): n_neighbors and
  feature kind, objective F1 on the validation period (it holds anomalies).
- deeplog on hdfs_sessions (session files; the validation part holds normal sessions only):
  hidden size and learning rate, objective = the engine's best validation loss, every epoch
  reported so ASHA stops bad trials early.

For each search: the trials (objective, epochs reported, status), how many ASHA stopped, the best
configuration, and its test F1 computed ONCE, after the search, by retraining it on the training
part. The default configuration's test F1 is printed beside it (it plays no part in the choice).
Writes `benchmarks/results/tune.md`. Needs `pip install 'logad[distributed]'` (and `[deep]`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from common import data_dir_or_none  # noqa: E402

from logad.detectors.registry import get_detector  # noqa: E402
from logad.evaluation.runner import evaluate_detector, markdown_table  # noqa: E402
from logad.pipeline import load_dataset, make_split  # noqa: E402
from logad.progress import Progress  # noqa: E402
from logad.tuning import SearchSettings, metric_of, parse_space, retrain_best, tune_detector  # noqa: E402
from logad.tuning.tuner import default_max_t  # noqa: E402

EXPERIMENTS = {
    "knn": {
        "dataset": "hdfs_2pct",
        "registry": "hdfs",
        "split": "chronological",
        "detector": "knn",
        "space": ["n_neighbors=randint:1:20", "features=choice:counts,tfidf,presence,counts+length"],
        "fixed": {},
        "objective": "f1",
        "samples": 8,
        "grace": 1,  # classical detectors report once: ASHA has nothing to cut
    },
    "deeplog": {
        "dataset": "hdfs_sessions",
        "registry": "hdfs-sessions",
        "split": "session-files",
        "detector": "deeplog",
        "space": ["hidden=choice:16,32,64", "lr=loguniform:1e-4:1e-2"],
        "fixed": {"epochs": 30},
        "objective": "val-loss",
        "samples": 8,
        # DeepLog's loss barely moves in its first epochs (few unique windows, few batches per
        # epoch): a rung at epoch 1 would cut configurations that later win, so the first is at 5
        "grace": 5,
    },
}


def run(name: str, data_dir: Path, out_root: Path, samples: int | None, progress: Progress) -> tuple[str, dict]:
    exp = EXPERIMENTS[name]
    loaded = load_dataset(exp["registry"], data_dir / exp["dataset"], progress=progress)
    split = make_split(loaded, exp["split"])
    space = parse_space(exp["space"])
    settings = SearchSettings(
        num_samples=samples or exp["samples"],
        scheduler="asha",
        max_t=default_max_t(exp["detector"], exp["fixed"], space),
        grace_period=exp["grace"],
        reduction_factor=3,
        cpus=2,
        seed=0,
    )
    out = out_root / name
    t0 = time.perf_counter()
    result = tune_detector(
        split, exp["detector"], space, objective=exp["objective"], fixed=exp["fixed"], settings=settings,
        templates=loaded.templates, out=out, description={"dataset": exp["dataset"]}, progress=progress,
    )
    search_s = time.perf_counter() - t0
    ev = retrain_best(result, split, templates=loaded.templates, progress=progress)  # the one test figure
    # the retrained model must reproduce the trial's validation objective (same data, params, seed)
    if exp["objective"] == "val-loss":
        again = min(ev.detector.history_.val_loss)
    else:
        val = [q for q in split.validation if q.label is not None]
        again = metric_of(exp["objective"], ev.detector.score(val), np.array([q.label for q in val]))
    default = evaluate_detector(get_detector(exp["detector"], **exp["fixed"]), split, templates=loaded.templates)
    s = result.search
    rows = []
    for t in s.trials:
        rows.append({
            "trial": str(t.index),
            **{k: (f"{v:.2e}" if isinstance(v, float) else str(v)) for k, v in t.config.items()},
            "objective": t.objective,
            "epochs": str(len(t.iterations)) if t.iterations else "-",
            "seconds": t.seconds,
            "status": t.status,
        })
    cols = [("trial", "trial"), *[(k, k) for k in space], ("objective", f"{exp['objective']} (validation)"),
            ("epochs", "epochs reported"), ("seconds", "s"), ("status", "status")]
    m, dm = ev.result["metrics"], default.result["metrics"]
    summary = {
        "experiment": name,
        "dataset": exp["dataset"],
        "detector": exp["detector"],
        "objective": exp["objective"],
        "trials": len(s.trials),
        "stopped_early": s.stopped_early,
        "search_s": search_s,
        "best_config": result.best_config,
        "best_validation": s.best.objective,
        "retrain_validation": again,
        "test_f1": m["f1"],
        "test_fpr": m["fpr"],
        "default_test_f1": dm["f1"],
        "default_test_fpr": dm["fpr"],
        "split": split.describe(),
    }
    text = [
        f"### {exp['detector']} on {exp['dataset']} (objective {exp['objective']} on validation)",
        "",
        f"Space: `{' '.join('--space ' + x for x in exp['space'])}`; fixed: `{json.dumps(exp['fixed'])}`; "
        f"{settings.num_samples} samples, ASHA (max_t {settings.max_t}, grace period {settings.grace_period}, reduction factor 3), "
        f"2 CPUs, seed 0. Split: {split.describe()['train']['sequences']} train / "
        f"{split.describe()['validation']['sequences']} validation "
        f"({split.describe()['validation']['anomalous']} anomalous) / {split.describe()['test']['sequences']} test.",
        "",
        markdown_table(rows, cols),
        "",
        f"{len(s.trials)} trials in {search_s:.0f} s; {s.stopped_early} stopped early by ASHA. Best: "
        + ", ".join(f"{k}={v!r}" for k, v in result.best_config.items())
        + f" ({exp['objective']} {s.best.objective:.4f} on validation).",
        "",
        f"Retraining the best configuration reproduces its validation {exp['objective']}: "
        f"{again:.4f} ({'identical' if again == s.best.objective else 'DIFFERENT'}).",
        "",
        f"Test, computed once after the search (best configuration retrained on the training part): "
        f"F1 {m['f1']:.4f}, FPR {m['fpr']:.5f}. Default configuration, for comparison only: "
        f"F1 {dm['f1']:.4f}, FPR {dm['fpr']:.5f}.",
        "",
    ]
    return "\n".join(text), summary


def main() -> int:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--only", default="knn,deeplog")
    ap.add_argument("--samples", type=int, help="override the number of sampled configurations")
    ap.add_argument("--keep", help="keep the tuning folders here (default: a temporary folder)")
    args = ap.parse_args()
    data_dir = data_dir_or_none(args.data_dir)
    if data_dir is None:
        return 0
    progress = Progress()
    out_root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-tune-"))
    parts, summaries = [], []
    for name in args.only.split(","):
        text, summary = run(name.strip(), data_dir, out_root, args.samples, progress)
        print(text, flush=True)
        parts.append(text)
        summaries.append(summary)
    header = (
        "# Hyper-parameter search (`logad tune`: Ray Tune + ASHA, objective on validation only)\n\n"
        f"`python benchmarks/bench_tune.py` on {os.cpu_count()} shared CPU cores; wall times are inflated by other jobs.\n"
        "No trial saw the test part (trials receive the split without it); each test figure below was computed "
        "once, after its search.\n\n"
    )
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "tune.md").write_text(header + "\n".join(parts), encoding="utf-8")
    (out_root / "summary.json").write_text(json.dumps(summaries, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {results / 'tune.md'}; tuning folders in {out_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
