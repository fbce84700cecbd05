"""`logad mlad`: the experiments of MLAD's README (seed_methods.md section 2.5) on loaded systems.

Default (`train_and_evaluate`): ONE model trained on the normal training sequences of every system
together, then a threshold per system from its validation part (best F1; a quantile of normal
validation scores when validation holds no anomaly) or a fixed one, then each system's test part
scored. `transfer_learning`: train on one system, evaluate on the other, both directions (zero-shot:
the model never sees the target; the threshold comes from the target's validation part, and the
result also gives the figure with the source's own threshold). `alpha_ablation`: alpha in
ALPHA_ABLATION on one system. `check_datasets`: which dataset folders are complete. Splits
(`load_datasets(split=...)`): `auto` = a session dataset's own files (train file normal, its last
10% validation) and chronological 60/10/30 for raw logs; `pooled` = every sequence pooled
(chronological where there is time, else a seeded shuffle stratified by label); `original` = the
third-party split (test = all anomalies + as many normals; threshold = 0.99 quantile of the
training energies, no validation).

Every run writes its results as JSON under `RunOptions.output_dir` (models under `save_dir`, by
default `output_dir/saved_models`) and
returns them; lines meant for the user go to `echo` (the CLI passes `print`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logad.datasets.local import check_layout
from logad.datasets.registry import get_dataset
from logad.detectors.crosssystem.mlad import MLADDetector
from logad.errors import InputError, InvalidParameterError, require
from logad.evaluation.runner import markdown_table
from logad.experiments.mlad import ALPHA_ABLATION, choose_system_threshold
from logad.experiments.transfer import metrics_of, split_system
from logad.io import write_json
from logad.pipeline.datasets import load_dataset
from logad.pipeline.systems import SystemData, load_system, parse_spec
from logad.progress import SILENT, Progress
from logad.splitting import Split
from logad.splitting.original import mlad_balanced_split

log = logging.getLogger(__name__)

Echo = Callable[[str], None]
SPLITS = ("auto", "pooled", "original")
MODES = ("train+eval", "train_only", "eval_only")


@dataclass(frozen=True)
class RunOptions:
    """How a `logad mlad` run splits, decides and writes: `split` (auto | pooled | original),
    `threshold` (fixed energy threshold for every system, None = per-system rule), `visualize`
    (PNG figures), `output_dir` (JSON results and figures) and `save_dir` (models; None =
    `output_dir/saved_models`, so one run writes under one folder)."""

    split: str = "auto"
    threshold: float | None = None
    visualize: bool = False
    save_dir: str | Path | None = None
    output_dir: str | Path = "./results"

    @property
    def models_dir(self) -> Path:
        return Path(self.output_dir) / "saved_models" if self.save_dir is None else Path(self.save_dir)


# -- data ---------------------------------------------------------------------------------------
def load_datasets(specs: list[str], *, split: str = "auto", window: int = 20, per_node: bool = False,
                  seed: int = 42, progress: Progress = SILENT, cache: bool = False) -> list[tuple[str, SystemData, Split]]:
    """(name, SystemData, Split) per `DATASET=DIR`: raw supercomputer logs cut into `window`-line
    windows (over each node's own lines with `per_node`), split as `split` says (module docstring)."""
    if split not in SPLITS:
        raise InvalidParameterError(f"`split` must be one of {', '.join(SPLITS)}, got {split!r}")
    out = []
    for spec in specs:
        name, folder = parse_spec(spec)
        data = load_system(spec, window=window, per_entity=per_node, progress=progress, cache=cache)
        if split == "original":
            part = mlad_balanced_split(data.sequences, seed=seed)
        elif split == "auto" and get_dataset(name).kind == "sessions":
            part = load_dataset(name, folder).split  # the dataset's own files
        else:
            part = split_system(data, seed=seed)
        out.append((name, data, part))
    return out


# -- steps --------------------------------------------------------------------------------------
def train_model(params: dict, systems: list[tuple], progress: Progress = SILENT) -> tuple[MLADDetector, float]:
    """ONE model on the training parts of `systems` ((name, SystemData, Split) triples), and its
    training seconds."""
    det = MLADDetector(**params)
    t0 = time.perf_counter()
    det.fit_systems([(name, data.templates, split.train) for name, data, split in systems], progress=progress)
    return det, time.perf_counter() - t0


def system_threshold(det: MLADDetector, name: str, split: Split, opts: RunOptions) -> dict:
    """The threshold of system `name`: `opts.threshold` when given; with the original split, the
    third party's 0.99 quantile of the training energies; else from the validation part
    (`choose_system_threshold`)."""
    if opts.threshold is None and opts.split == "original":
        train = [s for s in split.train if s.label != 1]
        value = float(np.quantile(det.score_system(name, train), 0.99))
        det.thresholds_[name] = value
        return {"value": value, "policy": "train-quantile", "q": 0.99, "n_scores": len(train),
                "applied": f"quantile 0.99 of {len(train)} training energies",
                "source": "the third-party rule: 0.99 quantile of the training energies"}
    return choose_system_threshold(det, name, split.validation, fixed=opts.threshold)


def evaluate_system(det: MLADDetector, name: str, data: SystemData, split: Split, threshold: float) -> dict:
    """Metrics of system `name`'s test part at `threshold`; `_arrays` keeps what the figures need."""
    test = [s for s in split.test if s.label is not None]
    t0 = time.perf_counter()
    scores = det.score_system(name, test, templates=data.templates)
    seconds = time.perf_counter() - t0
    labels = np.array([s.label for s in test], dtype=int)
    predicted = scores > threshold
    res = metrics_of(labels, scores, predicted)
    res["seconds"] = {"score": seconds}
    res["_arrays"] = (test, labels, scores, predicted)
    return res


def result_line(name: str, res: dict, thr: dict) -> str:
    """One line of figures, as `logad mlad` prints them, with the rule the threshold came from."""
    m = res["metrics"]
    auc = m.get("roc_auc")
    return (f"{name}: F1 {m['f1']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  FPR {m['fpr']:.5f}  "
            f"ROC-AUC {'-' if auc is None else f'{auc:.4f}'}  threshold {thr['value']:.6g} "
            f"({thr.get('applied') or thr.get('policy')})")


def _echo_warning(echo: Echo, name: str, thr: dict) -> None:
    if thr.get("warning"):  # e.g. a quantile of too few validation normals
        echo(f"  WARNING: {name}'s threshold: {thr['warning']}")


def _finish(res: dict, det: MLADDetector, name: str, out_dir: Path, opts: RunOptions, prefix: str = "") -> dict:
    """Drop the arrays from a result, after drawing them when `opts.visualize`."""
    test, labels, scores, predicted = res.pop("_arrays")
    if opts.visualize:
        res["figures"] = visualize(det, name, test, labels, scores, predicted, out_dir, prefix=prefix)
    return res


def _model_dir(opts: RunOptions, names: list[str], alpha: float) -> Path:
    return opts.models_dir / f"mlad_{'+'.join(names)}_{alpha}"


# -- the runs ----------------------------------------------------------------------------------
def train_and_evaluate(params: dict, systems: list[tuple], opts: RunOptions, *, mode: str = "train+eval",
                       model_path: str | None = None, progress: Progress = SILENT, echo: Echo = log.info) -> dict:
    """`mode` "train+eval": ONE model on every system's training part, a threshold per system, each
    test part scored, the model saved; "train_only": the same without scoring; "eval_only": the
    model saved at `model_path`, its saved thresholds unless `opts.threshold`. Writes
    `mlad_{run,train,eval}_{names}.json` in `opts.output_dir` and returns it."""
    if mode not in MODES:
        raise InvalidParameterError(f"`mode` must be one of {', '.join(MODES)}, got {mode!r}")
    eval_only, train_only = mode == "eval_only", mode == "train_only"
    out_dir = Path(opts.output_dir)
    names = [n for n, _, _ in systems]
    result: dict = {"command": "mlad", "mode": mode, "split": opts.split, "datasets": {}}
    if eval_only:
        det = MLADDetector.load(model_path)
        result["model_path"] = model_path
        result["params"] = det.get_params()
        result["trained_on"] = det.systems_
        trained = {s["name"] for s in det.systems_}
    else:
        det, fit_s = train_model(params, systems, progress)
        trained = set(names)
        result["params"] = det.get_params()
        result["training"] = {"seconds": fit_s, "systems": det.systems_, "history": det.history_.as_dict(),
                              "embedding": det.embedding_stats_}
        echo(f"trained one mlad model on {', '.join(names)} in {fit_s:.1f}s "
              f"({det.history_.stopped}, best epoch {det.history_.best_epoch})")
    for name, data, split in systems:
        if eval_only and opts.threshold is None and name in det.thresholds_:
            thr = {"value": det.thresholds_[name], "policy": "saved", "source": "picked when the model was trained",
                   "applied": "saved with the model"}
        else:
            thr = system_threshold(det, name, split, opts)
        entry: dict = {"threshold": thr, "split": split.describe(), "seen_in_training": name in trained}
        if not train_only:
            res = evaluate_system(det, name, data, split, thr["value"])
            entry.update(_finish(res, det, name, out_dir, opts))
            echo(result_line(name, entry, thr) + ("" if name in trained else "  (zero-shot: not in training)"))
        else:
            echo(f"{name}: threshold {thr['value']:.6g} ({thr.get('applied') or thr.get('policy')})")
        _echo_warning(echo, name, thr)
        result["datasets"][name] = entry
    if not eval_only:
        path = det.save(_model_dir(opts, names, det.alpha))
        result["model_path"] = str(path)
        echo(f"model saved to {path}")
    stem = "eval" if eval_only else ("train" if train_only else "run")
    write_json(out_dir / f"mlad_{stem}_{'+'.join(names)}.json", result)
    echo(f"results written to {out_dir / f'mlad_{stem}_' }{'+'.join(names)}.json")
    return result


def transfer_learning(params: dict, systems: list[tuple], opts: RunOptions, *, progress: Progress = SILENT,
                      echo: Echo = log.info) -> dict:
    """Train on one of two systems, evaluate zero-shot on the other, both directions. The target's
    threshold comes from its validation part (the model never saw the target), or `opts.threshold`,
    or with the original split the source's training-energy rule; each run also reports the figure
    with the source's own threshold. Writes `transfer_{src}_to_{tgt}/results.json` per direction and
    `mlad_transfer_{a}+{b}.json` in `opts.output_dir`; returns the latter."""
    if len(systems) != 2:
        raise InvalidParameterError(f"transfer learning needs exactly two systems, got {len(systems)}")
    out_dir = Path(opts.output_dir)
    result: dict = {"command": "mlad", "mode": "transfer_learning", "split": opts.split, "params": params, "runs": {}}
    for src, tgt in ((systems[0], systems[1]), (systems[1], systems[0])):
        sname, tname = src[0], tgt[0]
        det, fit_s = train_model(params, [src], progress)
        src_thr = system_threshold(det, sname, src[2], opts)
        run_dir = out_dir / f"transfer_{sname}_to_{tname}"
        if opts.threshold is not None:
            thr = {"value": opts.threshold, "policy": "fixed", "source": "--threshold"}
        elif opts.split == "original":
            thr = {**src_thr, "source": "the source's training energies (zero-shot: no target data)"}
        else:
            thr = system_threshold(det, tname, tgt[2], opts)
            thr["source"] = "the target's validation part (the model never saw the target)"
        det.thresholds_[tname] = thr["value"]
        res = evaluate_system(det, tname, tgt[1], tgt[2], thr["value"])
        _, labels, scores, _ = res["_arrays"]
        with_source_thr = metrics_of(labels, scores, scores > src_thr["value"])
        res = _finish(res, det, tname, run_dir, opts)
        run = {"source": sname, "target": tname, "threshold": thr, **res,
               "with_source_threshold": {**with_source_thr, "threshold": src_thr},
               "training": {"seconds": fit_s, "history": det.history_.as_dict(), "embedding": det.embedding_stats_},
               "target_split": tgt[2].describe()}
        path = det.save(_model_dir(opts, [sname], det.alpha))
        run["model_path"] = str(path)
        write_json(run_dir / "results.json", run)
        result["runs"][f"{sname}->{tname}"] = run
        echo(f"{sname} -> {tname} (zero-shot) " + result_line(tname, run, thr))
        _echo_warning(echo, tname, thr)
        m = with_source_thr["metrics"]
        echo(f"    with the source's threshold {src_thr['value']:.6g}: F1 {m['f1']:.4f}  FPR {m['fpr']:.5f}")
    write_json(out_dir / f"mlad_transfer_{systems[0][0]}+{systems[1][0]}.json", result)
    return result


def alpha_ablation(params: dict, system: tuple, opts: RunOptions, *, progress: Progress = SILENT,
                   echo: Echo = log.info) -> dict:
    """One model per alpha in ALPHA_ABLATION on `system` ((name, SystemData, Split)), each with its
    threshold and test figures, and a Markdown table of them. Writes
    `ablation_alpha_{name}/alpha_{a}/results.json` and `.../summary.json`; returns the summary."""
    name, data, split = system
    out_dir = Path(opts.output_dir)
    base = out_dir / f"ablation_alpha_{name}"
    rows = []
    summary: dict = {"command": "mlad", "mode": "alpha_ablation", "dataset": name, "split": split.describe(), "runs": {}}
    for alpha in ALPHA_ABLATION:
        p = {**params, "alpha": alpha}
        det, fit_s = train_model(p, [system], progress)
        thr = system_threshold(det, name, split, opts)
        res = evaluate_system(det, name, data, split, thr["value"])
        run_dir = base / f"alpha_{alpha}"
        res = _finish(res, det, name, run_dir, opts)
        run = {"alpha": alpha, "threshold": thr, **res, "training": {"seconds": fit_s, "history": det.history_.as_dict()}}
        write_json(run_dir / "results.json", run)
        summary["runs"][str(alpha)] = run
        m = res["metrics"]
        rows.append({"alpha": str(alpha), "f1": m["f1"], "precision": m["precision"], "recall": m["recall"],
                     "fpr": m["fpr"], "roc_auc": m.get("roc_auc"), "train_s": fit_s})
        echo(f"alpha {alpha}: " + result_line(name, res, thr))
        _echo_warning(echo, name, thr)
    table = markdown_table(rows, [("alpha", "alpha"), ("f1", "F1"), ("precision", "precision"), ("recall", "recall"),
                                  ("fpr", "FPR"), ("roc_auc", "ROC-AUC"), ("train_s", "train s")])
    echo(table)
    summary["table"] = table
    write_json(base / "summary.json", summary)
    return summary


def check_datasets(specs: list[str], echo: Echo = log.info) -> bool:
    """Report, per `DATASET=DIR`, whether its folder exists and holds the whole layout; True when
    every one does (`--download_only`: nothing is downloaded)."""
    complete = True
    for spec in specs:
        name, folder = parse_spec(spec)
        info = get_dataset(name)
        try:
            found = check_layout(info, folder)
            echo(f"{name}: complete in {folder} ({', '.join(p.name for p in found.values())})")
        except InputError as exc:
            complete = False
            echo(f"{name}: NOT complete: {exc}  (get it with `logad data fetch {name} --dest {folder}`)")
    return complete


# -- figures -------------------------------------------------------------------------------------
def visualize(det: MLADDetector, name: str, test, labels, scores, predicted, out_dir: Path,
              prefix: str = "") -> list[str]:
    """Confusion matrix, energy histogram by true label, and a PCA map of the learned
    representations of at most 2,000 test sequences coloured by true and predicted label (extra
    `viz`: matplotlib). Returns the PNG paths."""
    mpl = require("matplotlib", "viz")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{prefix}{name}"
    files = []
    tp = int(((predicted == 1) & (labels == 1)).sum())
    fp = int(((predicted == 1) & (labels == 0)).sum())
    tn = int(((predicted == 0) & (labels == 0)).sum())
    fn = int(((predicted == 0) & (labels == 1)).sum())
    cm = np.array([[tn, fp], [fn, tp]])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="black")
    ax.set_xticks([0, 1], ["normal", "anomalous"])
    ax.set_yticks([0, 1], ["normal", "anomalous"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{name}: confusion matrix")
    fig.tight_layout()
    files.append(str(out_dir / f"{stem}_confusion_matrix.png"))
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    finite = np.isfinite(scores)
    bins = np.histogram_bin_edges(scores[finite], bins=50) if finite.any() else 10
    wide = False
    normal = finite & (labels == 0)
    if finite.sum() > 1 and normal.any():  # anomalies' energies can lie 1000x the normal spread away
        lo, hi = np.quantile(scores[normal], [0.1, 0.9])
        span = scores[finite].max() - scores[finite].min()
        wide = span > 100 * max(hi - lo, 1e-9)
        if wide:
            f = np.sign(scores[finite]) * np.log1p(np.abs(scores[finite]))
            edges = np.linspace(f.min(), f.max(), 51)
            bins = np.sign(edges) * np.expm1(np.abs(edges))
    for lab, colour, text in ((0, "tab:blue", "normal"), (1, "tab:red", "anomalous")):
        sel = (labels == lab) & finite
        if sel.any():
            ax.hist(scores[sel], bins=bins, alpha=0.6, color=colour, label=f"{text} ({int(sel.sum())})")
    thr = det.thresholds_.get(name)
    if thr is not None:
        ax.axvline(thr, color="black", linestyle="--", label="threshold")
    ax.set_xlabel("masked-template NLL" if det.no_gmm else "energy (-log likelihood)")
    ax.set_ylabel("sequences")
    ax.set_yscale("log")
    if wide:
        ax.set_xscale("symlog")
    ax.legend()
    ax.set_title(f"{name}: scores by true label")
    fig.tight_layout()
    files.append(str(out_dir / f"{stem}_energy_distribution.png"))
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)

    rng = np.random.default_rng(0)
    pick = np.sort(rng.permutation(len(test))[:2000])
    h = det.represent_system(name, [test[i] for i in pick])
    centred = h - h.mean(0)
    if len(pick) >= 2:
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        xy = centred @ vt[:2].T if vt.shape[0] >= 2 else np.hstack([centred @ vt[:1].T, np.zeros((len(pick), 1))])
    else:
        xy = np.zeros((len(pick), 2))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
    for ax, lab, title in ((axes[0], labels[pick], "true label"), (axes[1], predicted[pick].astype(int), "predicted")):
        for v, colour, text in ((0, "tab:blue", "normal"), (1, "tab:red", "anomalous")):
            sel = lab == v
            ax.scatter(xy[sel, 0], xy[sel, 1], s=6, alpha=0.6, color=colour, label=text)
        ax.set_title(f"{name}: {title}")
        ax.set_xlabel("PC 1")
        ax.legend()
    axes[0].set_ylabel("PC 2")
    fig.suptitle(f"learned representations (PCA of {len(pick)} test sequences)")
    fig.tight_layout()
    files.append(str(out_dir / f"{stem}_embeddings.png"))
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    return files
