"""Binary detection metrics with the anomalous class (label 1) as positive. Pure functions."""

from __future__ import annotations

import numpy as np

from logad.errors import InvalidParameterError


def _as_1d(name: str, value, n: int | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise InvalidParameterError(f"`{name}` must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise InvalidParameterError(f"`{name}` must have length {n} (as `labels`), got {arr.shape[0]}")
    return arr


def confusion_counts(labels, predicted) -> dict[str, int]:
    """tp, fp, tn, fn for 0/1 labels and boolean (or 0/1) predictions."""
    y = _as_1d("labels", labels).astype(bool)
    p = _as_1d("predicted", predicted, y.shape[0]).astype(bool)
    return {
        "tp": int(np.sum(y & p)),
        "fp": int(np.sum(~y & p)),
        "tn": int(np.sum(~y & ~p)),
        "fn": int(np.sum(y & ~p)),
    }


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0  # sklearn's zero_division=0


def binary_metrics(labels, scores, predicted) -> dict:
    """precision, recall, f1, fpr, accuracy, roc_auc, pr_auc, tp, fp, tn, fn, n, n_anomalous.

    `labels` are 0/1, `scores` higher = more anomalous, `predicted` booleans. roc_auc and pr_auc
    (average precision) are None when only one class is present; undefined ratios are 0.0.
    """
    y = _as_1d("labels", labels)
    if y.size and not np.all(np.isin(y, (0, 1))):
        raise InvalidParameterError(f"`labels` must hold only 0 and 1, got {np.unique(y)[:5].tolist()}")
    y = y.astype(np.int64)
    s = _as_1d("scores", scores, y.shape[0]).astype(np.float64)
    if np.isnan(s).any():
        raise InvalidParameterError(f"`scores` must not contain NaN, got {int(np.isnan(s).sum())} NaN values")
    c = confusion_counts(y, predicted)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    roc_auc = pr_auc = None
    if 0 < y.sum() < y.size:
        from logad.evaluation.ranking import average_precision
        from logad.evaluation.ranking import roc_auc as area_under_roc

        roc_auc = area_under_roc(y, s)
        pr_auc = average_precision(y, s)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fpr": _ratio(fp, fp + tn),
        "accuracy": _ratio(tp + tn, y.size),
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "n": int(y.size),
        "n_anomalous": int(y.sum()),
    }
