"""Fit a detector on a split, pick its threshold without test labels, score the test set.

The result dict is what `logad evaluate --json` writes: `metrics`, `audit`, `counts`,
`threshold`, `seconds`, plus the split and detector descriptions, and for pictures `curves`
(score histograms, PR/ROC points) and `examples` (worst false alarms and misses).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from logad.errors import InvalidParameterError
from logad.progress import SILENT, Progress
from logad.records import Sequence
from logad.splitting import Split, audit_split


@dataclass
class Evaluation:
    result: dict
    test: list[Sequence]
    scores: np.ndarray
    predicted: np.ndarray
    detector: object


# the honest threshold when the validation part holds no anomaly to aim at: flag 0.5 % of normal
# operation, estimated from out-of-fold scores of every training normal (adopted by the rule in
# benchmarks/README.md, "Alarm budgets", over the 0.995 quantile of the validation normals)
NO_ANOMALY_POLICY = "alarm-budget:0.005"
# with an alarm budget, the evaluated model is fitted on the training AND validation parts, the
# sequences its out-of-fold scores come from, so the threshold comes from models that saw what the
# scored model saw ("pooled", adopted by round 2 of the rule in benchmarks/README.md)
ALARM_BUDGET_FITS_VALIDATION = True


def default_policy(detector, split: Split | None = None) -> str:
    """Best F1 on validation where the validation part holds an anomaly (supervised and
    semi-supervised detectors alike); where it holds none, an alarm budget of 0.5 %
    (`NO_ANOMALY_POLICY`). An explicit `best-f1-validation` keeps its own fallback (a quantile of
    the validation scores)."""
    if split is not None and not any(s.label == 1 for s in (split.validation or split.train)):
        return NO_ANOMALY_POLICY
    return "best-f1-validation"


def fit_detector(
    detector, split: Split, progress: Progress = SILENT, templates: dict[int, str] | None = None,
    on_epoch_end=None, *, with_validation: bool = False,
) -> tuple[object, float]:
    """Fit on the training part (and the validation part too with `with_validation`): normal
    sequences only for semi-supervised detectors."""
    train = split.train + split.validation if with_validation else split.train
    if getattr(detector, "supervised", False):
        labels = np.array([s.label for s in train], dtype=int)
        if labels.sum() == 0:
            raise InvalidParameterError(
                f"detector {detector.name!r} is supervised but the training part holds no anomaly"
            )
        fit_seqs, fit_labels = train, labels
    else:
        fit_seqs = [s for s in train if s.label != 1]
        fit_labels = None
    if not fit_seqs:
        raise InvalidParameterError("the training part holds no usable sequence")
    progress.stage(f"fitting {detector.name} on {len(fit_seqs)} sequences")
    t0 = time.perf_counter()
    detector.fit(fit_seqs, fit_labels, templates=templates, progress=progress, on_epoch_end=on_epoch_end)
    return detector, time.perf_counter() - t0


def training_normals(split: Split) -> tuple[list[Sequence], list[Sequence]]:
    """(normal, anomalous) sequences of the training and validation parts, in their order: what an
    alarm budget is estimated from (labels of these parts may be read; test labels never)."""
    ref = split.train + split.validation
    return [s for s in ref if s.label != 1], [s for s in ref if s.label == 1]


def choose_threshold(
    detector, split: Split, policy_name: str | None = None, *, templates: dict[int, str] | None = None,
    progress: Progress = SILENT, reference_scores: np.ndarray | None = None, **policy_kw,
) -> dict:
    """Set `detector.threshold_` from validation (or training) scores; never from the test set.

    `alarm-budget` refits `folds` copies of the detector on the training and validation normals
    (out-of-fold scores; `templates` are handed to their fits); `reference_scores` gives those
    scores when they were computed already (`budget_reference_scores`), e.g. for several budgets
    of one model."""
    from logad.detectors.base import never_alarms
    from logad.detectors.thresholds import get_policy

    policy = get_policy(policy_name or default_policy(detector, split), **policy_kw)
    if policy.name == "best-f1-validation":
        ref = split.validation or split.train
        scores = detector.score(ref)
        labels = np.array([s.label for s in ref], dtype=int)
        # with no anomaly to aim at, the policy falls back to a quantile of these normal scores
        threshold = policy.fit(scores, labels)
    elif policy.name == "train-quantile":
        ref = [s for s in split.train + split.validation if s.label != 1]
        threshold = policy.fit(detector.score(ref))
    elif policy.name == "alarm-budget":
        policy.check()
        if policy.method == "cross-conformal":  # only a model made of the fold models can be cross-conformal
            policy.method = "cross-fit"          # (evaluate_detector builds one); here: one cross-fit threshold
        if reference_scores is None:
            folds = policy.folds_for(len(training_normals(split)[0]))
            reference_scores = budget_reference_scores(detector, split, folds=folds, fold_order=policy.fold_order,
                                                       templates=templates, progress=progress)
        threshold = policy.fit(reference_scores)
    else:
        threshold = policy.fit(np.zeros(0))
    detector.threshold_ = float(threshold)
    out = {"value": float(threshold), **policy.to_dict()}
    if policy.alarm_budget is not None:
        out["budget"] = policy.alarm_budget
    warnings = [w for w in (out.pop("warning", None), never_alarms(detector, detector.threshold_)) if w]
    if warnings:
        out["warning"] = "; ".join(warnings)
    return out


def cross_conformal_policy(detector, policy: str | None, policy_kw: dict | None):
    """The AlarmBudget policy when `policy` asks for a cross-conformal budget of a detector that can
    have one (semi-supervised); else None (a supervised detector keeps the cross-fit threshold)."""
    from logad.detectors.thresholds import get_policy

    if str(policy).partition(":")[0] != "alarm-budget":
        return None
    p = get_policy(policy, **(policy_kw or {})).check()
    if p.method != "cross-conformal" or getattr(detector, "supervised", False):
        return None
    return p


def budget_reference_scores(
    detector, split: Split, *, folds: int = 5, fold_order: str = "shuffled", templates: dict[int, str] | None = None,
    progress: Progress = SILENT,
) -> np.ndarray:
    """Out-of-fold scores of every training and validation normal (see `cross_fitted_scores`)."""
    from logad.detectors.thresholds import cross_fitted_scores

    normals, anomalies = training_normals(split)
    return cross_fitted_scores(detector, normals, anomalies=anomalies, folds=folds, fold_order=fold_order,
                               templates=templates, progress=progress)


ORACLE_WARNING = (
    "threshold chosen on the TEST labels to reproduce the original paper's protocol; "
    "this figure is not an honest estimate of performance on new data"
)


def oracle_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold maximising test F1 (what LogBERT, DeepLog and LogAnomaly ports report).

    Only for `--protocol original`; every result made with it is marked oracle-on-test."""
    from logad.detectors.thresholds import BestF1OnValidation

    return float(BestF1OnValidation().fit(scores, labels))


def evaluate_detector(
    detector,
    split: Split,
    *,
    policy: str | None = None,
    policy_kw: dict | None = None,
    protocol: str = "honest",
    progress: Progress = SILENT,
    templates: dict[int, str] | None = None,
    fit_validation: bool | None = None,
) -> Evaluation:
    """Fit, threshold on validation, score test; return the full result.

    `fit_validation`: fit on the training and validation parts (None: with an alarm-budget
    threshold iff `ALARM_BUDGET_FITS_VALIDATION`, else the training part only).

    `protocol="original"` reproduces the papers' decision rule: a detector whose paper decides
    with a fixed rule declares it as `ORIGINAL_THRESHOLD`; otherwise the threshold is picked on
    the test labels, as the originals did, and the result says so
    (`threshold.policy == "oracle-on-test"`).
    """
    from logad.evaluation.metrics import binary_metrics

    if protocol not in ("honest", "original"):
        raise InvalidParameterError(f"`protocol` must be 'honest' or 'original', got {protocol!r}")
    base = detector
    conformal = None
    if protocol == "honest":
        policy = policy or default_policy(detector, split)
        conformal = cross_conformal_policy(detector, policy, policy_kw)
    budgeted = protocol == "honest" and str(policy).partition(":")[0] == "alarm-budget"
    pooled = (budgeted and ALARM_BUDGET_FITS_VALIDATION if fit_validation is None else fit_validation)
    if conformal is not None:  # the fold models are the model: fitted on every training normal
        from logad.detectors.conformal import CrossConformal

        n_pool = len(training_normals(split)[0])
        detector = CrossConformal.around(base, folds=conformal.folds_for(n_pool), fold_order=conformal.fold_order)
        pooled = True
    detector, fit_seconds = fit_detector(detector, split, progress, templates, with_validation=pooled)
    test = [s for s in split.test if s.label is not None]
    if conformal is not None:
        detector.threshold_ = detector.budget_threshold(conformal.budget)
        conformal.n_scores_ = detector.n_reference_
        threshold = {"value": detector.threshold_, **conformal.to_dict(), "budget": conformal.budget,
                     "scores_from": f"cross-conformal p-values: {len(detector.members_)} fold models score each "
                                    "sequence against the fold they did not see; alarm iff p <= budget"}
        if detector.budget_warning(conformal.budget):
            threshold["warning"] = detector.budget_warning(conformal.budget)
    elif protocol == "honest":
        threshold = choose_threshold(detector, split, policy, templates=templates, progress=progress,
                                     **(policy_kw or {}))
    progress.stage(f"scoring {len(test)} test sequences")
    t0 = time.perf_counter()
    scores = np.asarray(detector.score(test), dtype=float)
    score_seconds = time.perf_counter() - t0
    if protocol == "original":
        fixed = getattr(detector, "ORIGINAL_THRESHOLD", None)
        if fixed is not None:  # the paper decides with a fixed rule (e.g. argmax = 0.5): no test labels
            detector.threshold_ = float(fixed)
            threshold = {"value": float(fixed), "policy": "fixed", "source": "the paper's decision rule"}
        else:
            value = oracle_threshold(scores, np.array([s.label for s in test], dtype=int))
            detector.threshold_ = value
            threshold = {"value": value, "policy": "oracle-on-test", "warning": ORACLE_WARNING}
    predicted = scores > detector.threshold_
    labels = np.array([s.label for s in test], dtype=int)
    metrics = binary_metrics(labels, scores, predicted)
    audit = audit_split(split.train, split.test, split.validation)
    counts = {k: metrics.pop(k) for k in ("tp", "fp", "tn", "fn") if k in metrics}
    counts.update(split.describe())
    result = {
        "protocol": protocol,
        "detector": {"name": base.name, "params": base.get_params(),
                     **({"model": f"cross-conformal: {len(detector.members_)} fold models"} if conformal else {})},
        "metrics": metrics,
        "counts": counts,
        "threshold": threshold,
        "fitted_on": "training and validation parts" if pooled else "training part",
        "audit": audit,
        # an original protocol whose test set was chosen with the test labels says so (e.g. morpheus)
        **({"test_selection": split.details["test_selection"]} if split.details.get("test_selection") else {}),
        "seconds": {
            "fit": fit_seconds,
            "score": score_seconds,
            "score_per_second": len(test) / score_seconds if score_seconds > 0 else None,
        },
    }
    # what `logad report` draws: score histograms, PR/ROC points, the worst mistakes (compact)
    from logad.evaluation.curves import score_curves, worst_examples

    result["curves"] = score_curves(labels, scores, detector.threshold_)
    result["examples"] = worst_examples(test, scores, predicted, detector, templates)
    return Evaluation(result=result, test=test, scores=scores, predicted=predicted, detector=detector)


def write_predictions(path, evaluation: Evaluation) -> None:
    """One row per test sequence: sequence_id,score,predicted,label."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sequence_id", "score", "predicted", "label"])
        for s, sc, p in zip(evaluation.test, evaluation.scores, evaluation.predicted):
            w.writerow([s.sequence_id, f"{sc:.6g}", int(p), s.label])


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A Markdown table from dicts; floats with 3 decimals, None as '-'."""

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v)

    head = "| " + " | ".join(title for _, title in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cell(r.get(key)) for key, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


RESULT_COLUMNS = [
    ("dataset", "dataset"),
    ("detector", "detector"),
    ("f1", "F1"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("fpr", "FPR"),
    ("roc_auc", "ROC-AUC"),
    ("fit_s", "fit s"),
    ("score_s", "score s"),
]


def result_row(dataset: str, evaluation: Evaluation) -> dict:
    m = evaluation.result["metrics"]
    s = evaluation.result["seconds"]
    return {
        "dataset": dataset,
        "detector": evaluation.result["detector"]["name"],
        "f1": m.get("f1"),
        "precision": m.get("precision"),
        "recall": m.get("recall"),
        "fpr": m.get("fpr"),
        "roc_auc": m.get("roc_auc"),
        "fit_s": s["fit"],
        "score_s": s["score"],
    }
