"""MLAD's experiments: a threshold per system, the alpha ablation's values, and
`logad transfer --method mlad` (the method beside its target-only and source-only baselines).

The commands of MLAD's own README (`logad mlad`: train, evaluate, transfer learning, alpha
ablation, figures) are `logad.experiments.mlad_runs`.
"""

from __future__ import annotations

import numpy as np

from logad.detectors.crosssystem.mlad import MLADDetector
from logad.detectors.thresholds import BestF1OnValidation, too_few_for_quantile
from logad.errors import InvalidParameterError, no_such_parameter
from logad.experiments.transfer import metrics_of
from logad.progress import SILENT, Progress
from logad.records import Sequence
from logad.splitting.original import mlad_balanced_split

ALPHA_ABLATION = (1.0, 1.2, 1.5, 1.8)  # the third party's alpha ablation (seed_methods.md 2.5)


# -- a threshold per system --------------------------------------------------------------------
def choose_system_threshold(detector: MLADDetector, name: str, validation: list[Sequence], *,
                            fixed: float | None = None, fallback_q: float = 0.995) -> dict:
    """The threshold of system `name`: `fixed` when given, else best F1 on its validation
    sequences (a quantile of their scores when they hold no anomaly). Never test data."""
    if fixed is not None:
        detector.thresholds_[name] = float(fixed)
        return {"value": float(fixed), "policy": "fixed", "source": "--threshold", "applied": "fixed (--threshold)"}
    ref = [s for s in validation if s.label is not None]
    if not ref:
        raise InvalidParameterError(f"system {name!r} has no labelled validation sequence to pick a threshold on")
    policy = BestF1OnValidation(fallback_q=fallback_q)
    value = policy.fit(detector.score_system(name, ref), np.array([s.label for s in ref], dtype=int))
    detector.thresholds_[name] = float(value)
    return {"value": float(value), **policy.to_dict(), "validation_sequences": len(ref)}


# -- logad transfer --method mlad ----------------------------------------------------------------
def _detector_params(params: dict) -> dict:
    valid = MLADDetector._param_names()
    bad = [k for k in params if k not in valid]
    if bad:
        raise no_such_parameter("mlad", bad, valid)
    return dict(params)


def _budget_threshold(det: MLADDetector, name: str, labelled: list[Sequence], unlabelled: list[Sequence],
                      q: float = 0.995) -> dict:
    """Target threshold for `logad transfer`: best F1 on the labelled target budget; with no
    labelled anomaly, the q quantile of the labelled normal scores; with no label at all, the q
    quantile of the unlabelled target training scores (labels never used)."""
    if labelled:
        policy = BestF1OnValidation(fallback_q=q)
        y = np.array([s.label for s in labelled], dtype=int)
        value = policy.fit(det.score_system(name, labelled), y)
        return {"value": float(value), **policy.to_dict(), "source": "the labelled target budget",
                "sequences": len(labelled)}
    value = float(np.quantile(det.score_system(name, unlabelled), q))
    out = {"value": value, "policy": "unlabelled-quantile", "q": q, "n_scores": len(unlabelled),
           "applied": f"quantile {q} of {len(unlabelled)} unlabelled target training sequences",
           "source": "no target label: quantile of the unlabelled target training scores"}
    warning = too_few_for_quantile(q, len(unlabelled), "unlabelled target scores")
    return {**out, "warning": warning} if warning else out


def run_transfer(setup, params: dict, progress: Progress = SILENT) -> dict:
    """MLAD in `logad transfer`.

    Honest protocol (default):
    - method: ONE model trained on the normal training sequences of every source (their labels
      drop known anomalies) AND the target's unlabelled training sequences (labels hidden, so
      they may hold anomalies: an unsupervised method cannot remove them). The labelled target
      budget is NOT trained on: it is held out to pick the target threshold (best F1 on it; a
      quantile of its normal scores when it holds no anomaly; the 0.995 quantile of the
      unlabelled target scores when the budget is empty).
    - target-only: the same model trained on the target's unlabelled training sequences alone.
    - source-only: trained on the sources alone (zero-shot on the target's sequences).
    All three use the same threshold rule on the same budget and are scored on the target test part.

    Original protocol: the third-party split (`mlad-balanced`) of every system; models trained on
    the remaining normal sequences; threshold = the 0.99 quantile of the training energies of the
    target (method, target-only) or of the sources (source-only), as the third party's helper;
    no test labels are used.
    """
    kw = _detector_params(params)
    target = setup.target
    tname = target.name

    def evaluate(det: MLADDetector, test: list[Sequence]) -> dict:
        scores = det.score_system(tname, test, templates=target.templates)
        labels = np.array([s.label for s in test], dtype=int)
        thr = det.thresholds_[tname]
        return {**metrics_of(labels, scores, scores > thr), "scores": scores}

    def fit(systems) -> MLADDetector:
        return MLADDetector(**kw).fit_systems(systems, progress=progress)

    if setup.protocol == "original":
        splits = {s.name: mlad_balanced_split(s.sequences) for s in setup.sources}
        t_split = mlad_balanced_split(target.sequences)
        src = [(s.name, s.templates, splits[s.name].train) for s in setup.sources]
        tgt = (tname, target.templates, t_split.train)
        out: dict = {}
        for variant, systems in (("method", src + [tgt]), ("target-only", [tgt]), ("source-only", src)):
            det = fit(systems)
            if variant == "source-only":
                ref = np.concatenate([det.score_system(n, seqs) for n, _, seqs in src])
            else:
                ref = det.score_system(tname, t_split.train)
            value = float(np.quantile(ref, 0.99))
            det.thresholds_[tname] = value
            res = evaluate(det, t_split.test)
            res.pop("scores")
            res["threshold"] = {"value": value, "policy": "train-quantile", "q": 0.99,
                                "source": "training energies (" + ("sources" if variant == "source-only" else "target") + ")"}
            out[variant] = res
        method = out.pop("method")
        return {**method, "baselines": out,
                "details": {"protocol": "original", "split": t_split.describe(),
                            "note": "MLAD third-party protocol: balanced test set; F1 not comparable with the honest split"}}

    labelled, _ = setup.labelled_target()
    unlabelled = setup.unlabelled_target()
    src = [(s.name, s.templates, [x for x in setup.source_splits[s.name].train if x.label == 0]) for s in setup.sources]
    tgt = (tname, target.templates, unlabelled)
    test = [s for s in setup.target_split.test if s.label is not None]
    out = {}
    thresholds = {}
    details: dict = {"setup": setup.describe(), "training": {}}
    variants = [("method", src + [tgt] if unlabelled else src), ("target-only", [tgt] if unlabelled else None),
                ("source-only", src)]
    for variant, systems in variants:
        if systems is None:
            out[variant] = {"metrics": None, "counts": None, "note": "the target has no unlabelled training sequence"}
            continue
        progress.stage(f"mlad transfer: training the {variant} model on {', '.join(n for n, _, _ in systems)}")
        det = fit(systems)
        thr = _budget_threshold(det, tname, labelled, unlabelled)
        det.thresholds_[tname] = thr["value"]
        res = evaluate(det, test)
        res.pop("scores")
        thresholds[variant] = thr
        out[variant] = {**res, "threshold": thr}
        details["training"][variant] = {"systems": det.systems_, "history": det.history_.as_dict(),
                                        "embedding": det.embedding_stats_}
    method = out.pop("method")
    details["rule"] = ("unsupervised: sources' normal training sequences + the target's unlabelled training "
                       "sequences; the labelled target budget only picks the threshold")
    return {"metrics": method["metrics"], "counts": method["counts"], "threshold": thresholds["method"],
            "baselines": out, "details": details}
