"""Uncertainty of test figures: a percentile bootstrap over test sequences, and seed summaries.

A figure from one test set is one draw: resampling the test sequences with replacement (the same
draw for every seed's predictions, so a seed-averaged figure keeps its pairing) gives the spread
that another test set of the same size would show. Seeds show the spread of training. Benchmarks
report both: mean ± std over seeds, and the 95 % bootstrap interval of the seed mean.
"""

from __future__ import annotations

import numpy as np

from logad.errors import InvalidParameterError

METRICS = ("f1", "precision", "recall", "fpr")


def _rates(tp, fp, tn, fn, metric: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "f1":
            den = 2 * tp + fp + fn
            return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)
        if metric == "precision":
            return np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        if metric == "recall":
            return np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        return np.where(fp + tn > 0, fp / np.maximum(fp + tn, 1), 0.0)


def metric_value(labels, predicted, metric: str = "f1") -> float:
    """One of METRICS (anomalous class positive; an undefined ratio is 0, as in binary_metrics)."""
    y, p = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    tp, fp = np.sum(y & p), np.sum(~y & p)
    tn, fn = np.sum(~y & ~p), np.sum(y & ~p)
    return float(_rates(tp, fp, tn, fn, metric))


def bootstrap_interval(
    labels, predicted, *, metric: str = "f1", n_boot: int = 1000, level: float = 0.95, seed: int = 0,
    chunk: int = 50,
) -> tuple[float, float]:
    """Percentile interval of `metric` over `n_boot` resamples of the test sequences.

    `predicted` is one boolean array, or a list of them (one per seed, same sequences): each
    resample then yields the mean of the metric over the seeds. Seeded: the same call gives the
    same interval."""
    if metric not in METRICS:
        raise InvalidParameterError(f"`metric` must be one of {', '.join(METRICS)}, got {metric!r}")
    if not 0 < level < 1:
        raise InvalidParameterError(f"`level` must be in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise InvalidParameterError(f"`n_boot` must be an integer >= 1, got {n_boot!r}")
    y = np.asarray(labels).astype(bool)
    runs = np.atleast_2d(np.asarray(predicted).astype(bool))
    if runs.shape[1] != y.shape[0]:
        raise InvalidParameterError(f"`predicted` must have {y.shape[0]} entries per run (as `labels`), got {runs.shape[1]}")
    n = y.shape[0]
    if n == 0:
        raise InvalidParameterError("the bootstrap needs at least one test sequence, got 0")
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))  # m resamples of n sequences, with replacement
        pos = y[idx].sum(axis=1)
        neg = n - pos
        acc = np.zeros(m)
        for p in runs:
            tp, fp = (y & p)[idx].sum(axis=1), (~y & p)[idx].sum(axis=1)
            acc += _rates(tp, fp, neg - fp, pos - tp, metric)
        values[start:start + m] = acc / runs.shape[0]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def seed_summary(values) -> tuple[float, float]:
    """(mean, sample standard deviation, ddof=1) of one figure over seeds; std 0.0 for one seed."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise InvalidParameterError("a seed summary needs at least one value, got 0")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def format_summary(values, interval: tuple[float, float] | None = None, digits: int = 3) -> str:
    """`0.984 ± 0.010 [0.981, 0.987]` (mean ± std over seeds, the bootstrap interval after it)."""
    mean, std = seed_summary(values)
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    if interval is not None:
        text += f" [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"
    return text
