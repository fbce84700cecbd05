"""What a picture of a test result needs, compactly: score histograms per class with the threshold,
PR and ROC curves, and the worst mistakes with their lines and explanations.

`logad evaluate` keeps these in its result JSON (`curves`, `examples`) so that `logad report` can
draw the result later without the data. Pure functions of the test scores; nothing here chooses
a threshold.
"""

from __future__ import annotations

import math

import numpy as np

HIST_BINS = 40
MAX_CURVE_POINTS = 200
EXAMPLES = 5  # false alarms and misses kept per result
EXAMPLE_LINES = 120  # lines kept per example sequence


def _thin(xs: np.ndarray, ys: np.ndarray, n: int) -> tuple[list[float], list[float]]:
    """At most `n` points of a curve, the first and last kept, evenly spaced along its length."""
    if xs.size <= n:
        idx = np.arange(xs.size)
    else:
        d = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))])
        idx = np.unique(np.searchsorted(d, np.linspace(0.0, d[-1], n)).clip(0, xs.size - 1))
        idx = np.union1d(idx, [0, xs.size - 1])
    return [round(float(v), 5) for v in xs[idx]], [round(float(v), 5) for v in ys[idx]]


def histogram_edges(scores: np.ndarray, threshold: float | None, bins: int = HIST_BINS) -> tuple[np.ndarray, bool]:
    """Linear bin edges over the finite scores (and the threshold). When a few far outliers would
    squash every other score into one bin, the range stops at the 99.5th percentile and the
    last bin holds everything above (returned flag `clipped`)."""
    fin = scores[np.isfinite(scores)]
    if fin.size == 0:
        return np.linspace(0.0, 1.0, bins + 1), False
    lo, hi = float(fin.min()), float(fin.max())
    clipped = False
    q = float(np.quantile(fin, 0.995))
    if hi - lo > 0 and (q - lo) < 0.05 * (hi - lo) and q > lo:
        hi, clipped = q + (q - lo) / (bins - 1), True
    if threshold is not None and math.isfinite(threshold):
        lo, hi = min(lo, threshold), max(hi, threshold)  # the threshold is always on the picture
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1), clipped


def score_curves(labels, scores, threshold: float | None, *, bins: int = HIST_BINS,
                 max_points: int = MAX_CURVE_POINTS) -> dict:
    """Histograms of the normal and anomalous test scores on shared bins, ROC and PR curves
    (thinned to `max_points`), and where the threshold sits on each.

    `labels` 0/1, `scores` higher = more anomalous, `threshold` the value an alarm must exceed.
    Infinite scores are counted apart (`histogram.inf`); curves treat them by rank.
    """
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    edges, clipped = histogram_edges(s, threshold, bins)
    fin = np.isfinite(s)
    hist: dict = {"edges": [float(e) for e in edges], "clipped_above": clipped}
    for name, cls in (("normal", 0), ("anomalous", 1)):
        v = s[(y == cls) & fin]
        counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
        hist[name] = counts.astype(int).tolist()
        hist[f"inf_{name}"] = int(np.sum((y == cls) & ~fin))
    out: dict = {"n": int(y.size), "n_anomalous": int(y.sum()), "threshold": threshold, "histogram": hist}
    if threshold is not None:
        pred = s > threshold
        tp, fp = int(np.sum(pred & (y == 1))), int(np.sum(pred & (y == 0)))
        pos, neg = int(y.sum()), int(y.size - y.sum())
        out["at_threshold"] = {
            "tpr": tp / pos if pos else 0.0,
            "fpr": fp / neg if neg else 0.0,
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / pos if pos else 0.0,
        }
    if 0 < y.sum() < y.size:
        from logad.evaluation.ranking import precision_recall_curve, roc_curve

        r = s  # ranking orders +-inf itself (sklearn's curves needed finite stand-ins)
        fpr, tpr, _ = roc_curve(y, r)
        fx, fy = _thin(fpr, tpr, max_points)
        out["roc"] = {"fpr": fx, "tpr": fy}
        precision, recall, _ = precision_recall_curve(y, r)
        order = np.argsort(recall, kind="stable")
        rx, ry = _thin(recall[order], precision[order], max_points)
        out["pr"] = {"recall": rx, "precision": ry, "base_rate": float(y.mean())}
    return out


def worst_examples(test, scores, predicted, detector=None, templates: dict[int, str] | None = None, *,
                   k: int = EXAMPLES, max_lines: int = EXAMPLE_LINES) -> dict:
    """The `k` most confident false alarms (normal, highest scores) and the `k` worst misses
    (anomalous, lowest scores), each with its lines (template ids and line numbers, at most
    `max_lines`), its explanation (`detector.explain`) and the lines it blames (`detector.localise`)
    where the detector has them; `templates` texts of every id they name."""
    s = np.asarray(scores, dtype=np.float64)
    p = np.asarray(predicted, dtype=bool)
    y = np.array([seq.label for seq in test], dtype=np.int64)
    fa = [int(i) for i in np.flatnonzero((y == 0) & p)]
    miss = [int(i) for i in np.flatnonzero((y == 1) & ~p)]
    fa.sort(key=lambda i: -s[i])
    miss.sort(key=lambda i: s[i])
    used: set[int] = set()

    def one(i: int, kind: str) -> dict:
        seq = test[i]
        item = {
            "kind": kind,
            "sequence_id": seq.sequence_id,
            "score": float(s[i]) if math.isfinite(s[i]) else str(s[i]),
            "label": int(y[i]),
            "predicted": bool(p[i]),
            "start_time": seq.start_time,
            "end_time": seq.end_time,
            "n_lines": len(seq),
            "template_ids": [int(t) for t in seq.template_ids[:max_lines]],
            "line_nos": [int(n) for n in seq.line_nos[:max_lines]],
        }
        if seq.line_labels is not None:
            item["line_labels"] = [int(v) for v in seq.line_labels[:max_lines]]
        used.update(item["template_ids"])
        if detector.explains:
            top = detector.explain(seq)[:5]
            item["explanation"] = [[int(t), float(w)] for t, w in top]
            used.update(int(t) for t, _ in top)
        if detector.localises:
            item["blamed"] = [int(j) for j in detector.localise(seq) if j < max_lines]
        return item

    out = {
        "false_alarms": [one(i, "false alarm") for i in fa[:k]],
        "misses": [one(i, "miss") for i in miss[:k]],
        "n_false_alarms": len(fa),
        "n_misses": len(miss),
    }
    names = templates or {}
    out["templates"] = {str(t): (names.get(t) or ("unseen template" if t == 0 else f"template {t}"))
                        for t in sorted(used)}
    return out
