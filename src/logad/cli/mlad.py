"""`logad mlad`: the experiments of the MLAD README from the command line, with its flag names.

    logad mlad --datasets hdfs-sessions=DIR bgl=DIR [--train_only | --eval_only --model_path DIR |
               --transfer_learning | --alpha_ablation | --download_only] [--visualize] ...

Default: ONE model trained on the normal training sequences of every dataset together, then a
threshold per dataset from its validation part (best F1; a quantile of normal validation scores
when validation holds no anomaly) or `--threshold`, then each dataset's test part scored.
`--transfer_learning`: train on one dataset, evaluate on the other, both directions (zero-shot:
the model never sees the target; the threshold comes from the target's validation part, and the
JSON also gives the figure with the source's own threshold). `--alpha_ablation`: alpha in
(1.0, 1.2, 1.5, 1.8) on the first dataset. Raw supercomputer logs (BGL, Thunderbird) are cut into
`--window_size`-line windows. Splits (`--split`): `auto` = a session dataset's own files
(train file normal, its last 10% validation) and chronological 60/10/30 for raw logs; `pooled` =
every sequence pooled (chronological where there is time, else a seeded shuffle stratified by
label); `original` = the third-party split (test = all anomalies + as many normals; threshold =
0.99 quantile of the training energies, no validation).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError

MODES = ("download_only", "train_only", "eval_only", "transfer_learning", "alpha_ablation")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "mlad", help="MLAD: one unsupervised model for several systems (train, evaluate, transfer, alpha ablation)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--download_only", "--download-only", action="store_true",
                      help="only report which dataset folders are present and complete")
    mode.add_argument("--train_only", "--train-only", action="store_true", help="train and save, no test evaluation")
    mode.add_argument("--eval_only", "--eval-only", action="store_true", help="evaluate a saved model (--model_path)")
    mode.add_argument("--transfer_learning", "--transfer-learning", action="store_true",
                      help="train on one of two datasets, evaluate on the other, both directions")
    mode.add_argument("--alpha_ablation", "--alpha-ablation", action="store_true",
                      help="alpha in 1.0, 1.2, 1.5, 1.8 on the first dataset")
    p.add_argument("--datasets", nargs="+", required=True, metavar="DATASET=DIR",
                   help="e.g. hdfs-sessions=../shared/data/hdfs_sessions bgl=../shared/data/bgl_2k")
    p.add_argument("--split", choices=["auto", "pooled", "original"], default="auto")
    p.add_argument("--window_size", "--window-size", type=int, default=20, help="lines per window of raw logs")
    p.add_argument("--per_node", "--per-node", action="store_true",
                   help="windows over each node's own lines (the format's node field) instead of all lines")
    m = p.add_argument_group("model")
    m.add_argument("--d_model", "--d-model", type=int, default=100)
    m.add_argument("--n_heads", "--n-heads", type=int, default=4)
    m.add_argument("--n_layers", "--n-layers", type=int, default=2)
    m.add_argument("--d_ff", "--d-ff", type=int, default=256)
    m.add_argument("--dropout", type=float, default=0.1)
    m.add_argument("--alpha", type=float, default=1.5, help="entmax alpha (1 = softmax, 2 = sparsemax)")
    m.add_argument("--n_components", "--n-components", type=int, default=5,
                   help="Gaussian components (per training system unless --components total)")
    m.add_argument("--components", choices=["per-system", "total"], default="per-system",
                   help="per-system: the mixture has n_components for each training system (default); "
                        "total: n_components in all")
    m.add_argument("--mixture_weights", "--mixture-weights", choices=["shared", "system"], default="shared",
                   help="score a system by the density of all training systems (shared) or of its own (system)")
    m.add_argument("--no_gmm", "--no-gmm", action="store_true",
                   help="no GMM head: train and score by masked-template prediction alone")
    m.add_argument("--encoder", default="minilm", help="minilm | hashing | a local model folder")
    m.add_argument("--cache_dir", "--cache-dir", help="embedding cache folder (default ~/.cache/logad)")
    m.add_argument("--param", action="append", metavar="NAME=VALUE", help="any other mlad parameter (repeatable)")
    tr = p.add_argument_group("training")
    tr.add_argument("--batch_size", "--batch-size", type=int, default=512)
    tr.add_argument("--lr", type=float, default=0.001)
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--seed", type=int, default=42)
    tr.add_argument("--log_interval", "--log-interval", type=int, default=10, help=argparse.SUPPRESS)  # third party's
    o = p.add_argument_group("decision and output")
    o.add_argument("--threshold", type=float, help="energy threshold for every dataset (default: from validation)")
    o.add_argument("--visualize", action="store_true", help="write PNGs: confusion matrix, energies, 2-D map")
    o.add_argument("--save_dir", "--save-dir", default="./saved_models")
    o.add_argument("--output_dir", "--output-dir", default="./results")
    o.add_argument("--model_path", "--model-path", help="a saved mlad model folder (--eval_only)")
    o.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_mlad)


# ----------------------------------------------------------------------------- data
def _specs(args) -> list[tuple[str, str]]:
    from logad.detectors.crosssystem.data import parse_spec

    out = []
    for spec in args.datasets:
        if "=" not in spec:
            raise InvalidParameterError(f"--datasets entries look like DATASET=DIR, got {spec!r}")
        name, folder = parse_spec(spec)
        if name in [n for n, _ in out]:
            raise InvalidParameterError(f"--datasets names {name!r} twice")
        out.append((name, spec))
    return out


def _load(args, progress) -> list[tuple]:
    """(name, SystemData, Split) per dataset."""
    from logad.datasets.registry import get_dataset
    from logad.detectors.crosssystem.data import load_system, parse_spec, split_system
    from logad.detectors.crosssystem.mlad import mlad_balanced_split

    out = []
    for name, spec in _specs(args):
        data = load_system(spec, window=args.window_size, per_entity=args.per_node, progress=progress)
        if args.split == "original":
            split = mlad_balanced_split(data.sequences, seed=args.seed)
        elif args.split == "auto" and get_dataset(name).kind == "sessions":
            from logad.pipeline import load_dataset

            split = load_dataset(name, parse_spec(spec)[1]).split  # the dataset's own files
        else:
            split = split_system(data, seed=args.seed)
        out.append((name, data, split))
    return out


def _params(args) -> dict:
    from logad.cli.common import parse_params

    params = dict(
        encoder=args.encoder, cache_dir=args.cache_dir, d_model=args.d_model, n_heads=args.n_heads,
        n_layers=args.n_layers, d_ff=args.d_ff, dropout=args.dropout, alpha=args.alpha,
        n_components=args.n_components, components=args.components, mixture_weights=args.mixture_weights,
        no_gmm=args.no_gmm, batch_size=args.batch_size, lr=args.lr,
        epochs=args.epochs, seed=args.seed,
    )
    params.update(parse_params(args.param))
    return params


# ----------------------------------------------------------------------------- steps
def _train(params: dict, systems: list[tuple], progress):
    from logad.detectors.crosssystem.mlad import MLADDetector

    det = MLADDetector(**params)
    t0 = time.perf_counter()
    det.fit_systems([(name, data.templates, split.train) for name, data, split in systems], progress=progress)
    return det, time.perf_counter() - t0


def _threshold(det, name: str, split, args) -> dict:
    from logad.detectors.crosssystem.mlad import choose_system_threshold

    if args.threshold is None and args.split == "original":
        train = [s for s in split.train if s.label != 1]
        value = float(np.quantile(det.score_system(name, train), 0.99))
        det.thresholds_[name] = value
        return {"value": value, "policy": "train-quantile", "q": 0.99,
                "source": "the third-party rule: 0.99 quantile of the training energies"}
    return choose_system_threshold(det, name, split.validation, fixed=args.threshold)


def _evaluate(det, name: str, data, split, threshold: float) -> dict:
    from logad.detectors.crosssystem.transfer import metrics_of

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


def _line(name: str, res: dict, thr: dict) -> str:
    m = res["metrics"]
    auc = m.get("roc_auc")
    return (f"{name}: F1 {m['f1']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  FPR {m['fpr']:.5f}  "
            f"ROC-AUC {'-' if auc is None else f'{auc:.4f}'}  threshold {thr['value']:.6g} ({thr.get('policy')})")


def _finish(res: dict, det, name: str, out_dir: Path, args, prefix: str = "") -> dict:
    """Drop the arrays from a result, after drawing them when --visualize."""
    test, labels, scores, predicted = res.pop("_arrays")
    if args.visualize:
        res["figures"] = visualize(det, name, test, labels, scores, predicted, out_dir, prefix=prefix)
    return res


def _write(path: Path, payload: dict) -> None:
    from logad.cli.common import json_default
    from logad.io import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(payload, indent=2, default=json_default) + "\n")


def _model_dir(args, names: list[str], alpha: float) -> Path:
    return Path(args.save_dir) / f"mlad_{'+'.join(names)}_{alpha}"


# ----------------------------------------------------------------------------- visualisation
def visualize(det, name: str, test, labels, scores, predicted, out_dir: Path, prefix: str = "") -> list[str]:
    """Confusion matrix, energy histogram by true label, and a PCA map of the learned
    representations of at most 2,000 test sequences coloured by true and predicted label."""
    from logad.errors import require

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


# ----------------------------------------------------------------------------- the command
def cmd_mlad(args) -> int:
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    if args.download_only:
        return _download_only(args)
    if args.eval_only and not args.model_path:
        raise InvalidParameterError("--eval_only needs --model_path DIR (a folder saved by `logad mlad`)")
    if args.model_path and not args.eval_only:
        raise InvalidParameterError("--model_path is read by --eval_only only")
    if args.transfer_learning and len(args.datasets) != 2:
        raise InvalidParameterError(f"--transfer_learning needs exactly two --datasets, got {len(args.datasets)}")
    out_dir = Path(args.output_dir)
    systems = _load(args, progress)
    params = _params(args)
    if args.alpha_ablation:
        return _alpha_ablation(args, params, systems[:1], out_dir, progress)
    if args.transfer_learning:
        return _transfer(args, params, systems, out_dir, progress)
    return _train_eval(args, params, systems, out_dir, progress)


def _train_eval(args, params, systems, out_dir: Path, progress) -> int:
    from logad.detectors.crosssystem.mlad import MLADDetector

    names = [n for n, _, _ in systems]
    result: dict = {"command": "mlad", "mode": "eval_only" if args.eval_only else ("train_only" if args.train_only else "train+eval"),
                    "split": args.split, "datasets": {}}
    if args.eval_only:
        det = MLADDetector.load(args.model_path)
        result["model_path"] = args.model_path
        result["params"] = det.get_params()
        result["trained_on"] = det.systems_
        trained = {s["name"] for s in det.systems_}
    else:
        det, fit_s = _train(params, systems, progress)
        trained = set(names)
        result["params"] = det.get_params()
        result["training"] = {"seconds": fit_s, "systems": det.systems_, "history": det.history_.as_dict(),
                              "embedding": det.embedding_stats_}
        print(f"trained one mlad model on {', '.join(names)} in {fit_s:.1f}s "
              f"({det.history_.stopped}, best epoch {det.history_.best_epoch})")
    for name, data, split in systems:
        if args.eval_only and args.threshold is None and name in det.thresholds_:
            thr = {"value": det.thresholds_[name], "policy": "saved", "source": "picked when the model was trained"}
        else:
            thr = _threshold(det, name, split, args)
        entry: dict = {"threshold": thr, "split": split.describe(), "seen_in_training": name in trained}
        if not args.train_only:
            res = _evaluate(det, name, data, split, thr["value"])
            entry.update(_finish(res, det, name, out_dir, args))
            print(_line(name, entry, thr) + ("" if name in trained else "  (zero-shot: not in training)"))
        result["datasets"][name] = entry
    if not args.eval_only:
        path = det.save(_model_dir(args, names, det.alpha))
        result["model_path"] = str(path)
        print(f"model saved to {path}")
    stem = "eval" if args.eval_only else ("train" if args.train_only else "run")
    _write(out_dir / f"mlad_{stem}_{'+'.join(names)}.json", result)
    print(f"results written to {out_dir / f'mlad_{stem}_' }{'+'.join(names)}.json")
    return 0


def _transfer(args, params, systems, out_dir: Path, progress) -> int:
    result: dict = {"command": "mlad", "mode": "transfer_learning", "split": args.split, "params": params, "runs": {}}
    for src, tgt in ((systems[0], systems[1]), (systems[1], systems[0])):
        sname, tname = src[0], tgt[0]
        det, fit_s = _train(params, [src], progress)
        src_thr = _threshold(det, sname, src[2], args)
        run_dir = out_dir / f"transfer_{sname}_to_{tname}"
        if args.threshold is not None:
            thr = {"value": args.threshold, "policy": "fixed", "source": "--threshold"}
        elif args.split == "original":
            thr = {**src_thr, "source": "the source's training energies (zero-shot: no target data)"}
        else:
            thr = _threshold(det, tname, tgt[2], args)
            thr["source"] = "the target's validation part (the model never saw the target)"
        det.thresholds_[tname] = thr["value"]
        res = _evaluate(det, tname, tgt[1], tgt[2], thr["value"])
        _, labels, scores, _ = res["_arrays"]
        from logad.detectors.crosssystem.transfer import metrics_of

        with_source_thr = metrics_of(labels, scores, scores > src_thr["value"])
        res = _finish(res, det, tname, run_dir, args)
        run = {"source": sname, "target": tname, "threshold": thr, **res,
               "with_source_threshold": {**with_source_thr, "threshold": src_thr},
               "training": {"seconds": fit_s, "history": det.history_.as_dict(), "embedding": det.embedding_stats_},
               "target_split": tgt[2].describe()}
        path = det.save(_model_dir(args, [sname], det.alpha))
        run["model_path"] = str(path)
        _write(run_dir / "results.json", run)
        result["runs"][f"{sname}->{tname}"] = run
        print(f"{sname} -> {tname} (zero-shot) " + _line(tname, run, thr))
        m = with_source_thr["metrics"]
        print(f"    with the source's threshold {src_thr['value']:.6g}: F1 {m['f1']:.4f}  FPR {m['fpr']:.5f}")
    _write(out_dir / f"mlad_transfer_{systems[0][0]}+{systems[1][0]}.json", result)
    return 0


def _alpha_ablation(args, params, systems, out_dir: Path, progress) -> int:
    from logad.detectors.crosssystem.mlad import ALPHA_ABLATION

    name, data, split = systems[0]
    base = out_dir / f"ablation_alpha_{name}"
    rows = []
    summary: dict = {"command": "mlad", "mode": "alpha_ablation", "dataset": name, "split": split.describe(), "runs": {}}
    for alpha in ALPHA_ABLATION:
        p = {**params, "alpha": alpha}
        det, fit_s = _train(p, [systems[0]], progress)
        thr = _threshold(det, name, split, args)
        res = _evaluate(det, name, data, split, thr["value"])
        run_dir = base / f"alpha_{alpha}"
        res = _finish(res, det, name, run_dir, args)
        run = {"alpha": alpha, "threshold": thr, **res, "training": {"seconds": fit_s, "history": det.history_.as_dict()}}
        _write(run_dir / "results.json", run)
        summary["runs"][str(alpha)] = run
        m = res["metrics"]
        rows.append({"alpha": str(alpha), "f1": m["f1"], "precision": m["precision"], "recall": m["recall"],
                     "fpr": m["fpr"], "roc_auc": m.get("roc_auc"), "train_s": fit_s})
        print(f"alpha {alpha}: " + _line(name, res, thr))
    from logad.evaluation.runner import markdown_table

    table = markdown_table(rows, [("alpha", "alpha"), ("f1", "F1"), ("precision", "precision"), ("recall", "recall"),
                                  ("fpr", "FPR"), ("roc_auc", "ROC-AUC"), ("train_s", "train s")])
    print(table)
    summary["table"] = table
    _write(base / "summary.json", summary)
    return 0


def _download_only(args) -> int:
    """Report, per dataset, whether its folder exists and holds the whole layout."""
    from logad.datasets.local import check_layout
    from logad.datasets.registry import get_dataset
    from logad.detectors.crosssystem.data import parse_spec

    complete = True
    for spec in args.datasets:
        name, folder = parse_spec(spec)
        info = get_dataset(name)
        try:
            found = check_layout(info, folder)
            print(f"{name}: complete in {folder} ({', '.join(p.name for p in found.values())})")
        except InputError as exc:
            complete = False
            print(f"{name}: NOT complete: {exc}  (get it with `logad data fetch {name} --dest {folder}`)")
    return 0 if complete else 1
