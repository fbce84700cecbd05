"""Ranking metrics (ROC and precision-recall curves, their areas) in numpy.

The same definitions as scikit-learn's `roc_curve`, `precision_recall_curve`, `roc_auc_score` and
`average_precision_score` (tested against them), without importing sklearn.metrics, which pulls
in scipy.stats and pandas: about a second of every `logad evaluate`. Scores are higher = more
anomalous; +-inf are ordinary, ordered values here (equal infinities are one threshold), NaN is
refused by the callers before.
"""

from __future__ import annotations

import numpy as np


def _cumulative_counts(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positives, true positives, threshold) at each distinct score, highest first:
    everything scoring >= the threshold is called anomalous (sklearn's _binary_clf_curve)."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")[::-1]
    s, y = s[order], y[order]
    last_of_value = np.r_[np.flatnonzero(s[1:] != s[:-1]), y.size - 1]
    tps = np.cumsum(y)[last_of_value]
    fps = 1 + last_of_value - tps
    return fps, tps, s[last_of_value]


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf; points on a straight line
    between their neighbours are dropped (sklearn's drop_intermediate=True)."""
    fps, tps, thresholds = _cumulative_counts(labels, scores)
    if fps.size > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    thresholds = np.r_[np.inf, thresholds]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr, thresholds


def precision_recall_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) by increasing threshold, ending at precision 1, recall 0."""
    fps, tps, thresholds = _cumulative_counts(labels, scores)
    called = tps + fps
    precision = np.divide(tps, called, out=np.zeros(tps.shape, dtype=np.float64), where=called != 0)
    recall = np.ones(tps.shape) if tps[-1] == 0 else tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (trapezoids: a tie between a normal and an anomaly counts half)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def average_precision(labels, scores) -> float:
    """Average precision: the sum over thresholds of (recall gained) x (precision there)."""
    precision, recall, _ = precision_recall_curve(labels, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))
