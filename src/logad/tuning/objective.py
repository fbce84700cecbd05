"""Objectives of a detector search, computed on VALIDATION data only.

A trial fits the detector on the training part (normal sequences only for semi-supervised
detectors, as `logad evaluate` does) and scores the validation part. The test part is removed
from the split before it reaches a trial (`without_test`), so no trial can look at it.

    f1        F1 at the best threshold on validation (needs anomalies in validation)
    roc-auc   ROC-AUC on validation (needs both classes)
    pr-auc    average precision on validation (needs both classes)
    val-loss  the training engine's best validation loss (deep detectors; the loss is computed on
              the share of the training part each deep detector holds out, `val_fraction`, so it
              works when the validation part holds only normal data, as in `hdfs_sessions`)
"""

from __future__ import annotations

import logging
import math
from typing import Protocol

import numpy as np

from logad.errors import InvalidParameterError, unknown_name
from logad.splitting import Split

log = logging.getLogger(__name__)

# objective -> "max" or "min"
OBJECTIVES: dict[str, str] = {"f1": "max", "roc-auc": "max", "pr-auc": "max", "val-loss": "min"}


class Reporter(Protocol):
    def report(self, value: float, step: int) -> None:
        """Send an intermediate objective after `step` (an epoch); a scheduler may stop the trial."""


def objective_mode(objective: str) -> str:
    """'max' or 'min' for a known objective; UnknownNameError otherwise."""
    try:
        return OBJECTIVES[objective]
    except KeyError:
        raise unknown_name("objective", str(objective), list(OBJECTIVES)) from None


def without_test(split: Split) -> Split:
    """The split a trial receives: training and validation parts; the test part is left out."""
    return Split(
        train=list(split.train),
        validation=list(split.validation),
        test=[],
        protocol=split.protocol,
        details={**split.details, "test": "withheld from the search"},
    )


def reports_epochs(detector_cls) -> bool:
    """Whether a detector forwards a per-epoch callback to the training engine (deep detectors)."""
    return bool(detector_cls.reports_epochs)


def check_objective(objective: str, split: Split, detector: str, fixed: dict, searched: tuple[str, ...] = ()) -> None:
    """Refuse, before any trial runs, an objective the data or the detector cannot give."""
    from logad.detectors.registry import detector_class, get_detector

    objective_mode(objective)
    if objective == "val-loss":
        cls = detector_class(detector)
        if not reports_epochs(cls):
            raise InvalidParameterError(
                f"objective 'val-loss' needs a deep detector trained by the engine; {detector!r} has no "
                "validation loss (use --objective f1, roc-auc or pr-auc)"
            )
        if "val_fraction" in searched:
            raise InvalidParameterError(
                "objective 'val-loss' compares losses on the held-out share `val_fraction`; do not search it"
            )
        if getattr(get_detector(detector, **fixed), "val_fraction", None) == 0:
            raise InvalidParameterError(
                "objective 'val-loss' needs a held-out share: `val_fraction` must be > 0, got 0"
            )
        return
    labels = [s.label for s in split.validation if s.label is not None]
    n_anom = sum(1 for y in labels if y == 1)
    if not labels:
        raise InvalidParameterError(
            f"objective {objective!r} is computed on the validation part, which is empty or unlabelled; "
            "give a split with a validation share (--ratios), or use --objective val-loss for a deep detector"
        )
    if n_anom == 0:
        raise InvalidParameterError(
            f"objective {objective!r} needs anomalies in the validation part, which holds 0 of {len(labels)} "
            "sequences (e.g. session files keep only normal sessions there); use --objective val-loss with a "
            "deep detector, or a chronological split whose validation period holds anomalies"
        )
    if objective in ("roc-auc", "pr-auc") and n_anom == len(labels):
        raise InvalidParameterError(
            f"objective {objective!r} needs both classes in the validation part; all {len(labels)} are anomalous"
        )


def metric_of(objective: str, scores: np.ndarray, labels: np.ndarray) -> float:
    """The objective from validation scores (higher = more anomalous) and labels."""
    from logad.detectors.thresholds import best_f1_threshold

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if np.isnan(s).any():
        return math.nan
    if objective == "f1":
        return best_f1_threshold(s, y)[1]
    if not 0 < y.sum() < y.size:
        return math.nan
    from logad.evaluation.ranking import average_precision, roc_auc

    if objective == "roc-auc":
        return roc_auc(y, s)
    if objective == "pr-auc":
        return average_precision(y, s)
    raise unknown_name("objective", objective, [k for k in OBJECTIVES if k != "val-loss"])


def _validation(split: Split):
    val = [s for s in split.validation if s.label is not None]
    return val, np.array([s.label for s in val], dtype=np.int64)


def detector_trial(
    config: dict,
    reporter: Reporter,
    *,
    detector: str,
    fixed: dict,
    split: Split,
    objective: str,
    templates: dict[int, str] | None = None,
    epoch_reports: bool = True,
) -> float:
    """One trial: fit `detector` with `fixed` + `config` on `split.train`, return the validation
    objective. Deep detectors report every epoch through `reporter` (val-loss: the best validation
    loss so far; other objectives: the objective of the current weights on validation).

    `split` should come from `without_test`; this function reads only its train and validation parts.
    """
    from logad.detectors.registry import get_detector
    from logad.evaluation.runner import fit_detector

    det = get_detector(detector, **{**fixed, **config})
    val, labels = _validation(split)
    callback = None
    if epoch_reports and reports_epochs(type(det)):
        callback = _epoch_callback(det, reporter, objective, val, labels)
    fit_detector(det, split, templates=templates, on_epoch_end=callback)
    if objective == "val-loss":
        hist = getattr(det, "history_", None)
        losses = list(getattr(hist, "val_loss", None) or [])
        if not losses:
            raise InvalidParameterError(f"detector {detector!r} recorded no validation loss")
        return float(min(losses))  # the engine restores the weights of this epoch
    return metric_of(objective, det.score(val), labels)


def _epoch_callback(det, reporter: Reporter, objective: str, val, labels):
    state = {"best": math.inf, "scoring": True}

    def on_epoch_end(epoch: int, train_loss: float, val_loss: float) -> None:
        if objective == "val-loss":
            state["best"] = min(state["best"], float(val_loss))
            reporter.report(state["best"], epoch)
            return
        if not state["scoring"]:
            return
        try:
            # the current weights on validation; scoring in eval mode draws no random numbers, so
            # training goes on exactly as without the callback
            value = metric_of(objective, det._score(val), labels)
        except Exception as exc:  # a detector whose scorer needs state built after training
            state["scoring"] = False
            log.info("%s cannot be scored during training (%s); reporting once at the end", det.name, exc)
            return
        reporter.report(value, epoch)

    return on_epoch_end
