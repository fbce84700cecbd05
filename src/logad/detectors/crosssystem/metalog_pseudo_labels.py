"""MetaLog's pseudo-labels for the unlabelled target training sequences (seed_methods.md section 1.4).

Sequence vector = sum of its template vectors; FastICA; HDBSCAN; a cluster holding a labelled
normal is normal, any other cluster anomalous; noise is anomalous unless identical to a labelled
normal; confidence c = GLOSH outlier score for clustered points (NaN -> 1), 0 for noise; soft target
1 - c/2 on the pseudo class. The anchors are the labelled normals of the label budget, NOT "the
first 50 % of the ground-truth normals" the original took (that read hidden labels).

`rule="distance"` (benchmarks/README.md, MetaLog 1 %/1 %: the rule and its adoption test were
written before it was run): inside the clusters HDBSCAN decides as above, but a sequence outside
every cluster that holds a labelled sequence (HDBSCAN noise, and clusters no labelled sequence
falls in) no longer becomes "anomalous" with full confidence. Its soft target P(anomalous) comes
from its distance d to the nearest labelled normal, on a log scale running from the labelled
normals' own spacing s_N (the median distance from a distinct labelled normal to the nearest other
one: P = 0 at d <= s_N) to the labelled anomalies' distance s_A (the median distance from a
labelled anomaly to the nearest labelled normal: P = 1 at d >= s_A), in two views: HDBSCAN's space
(FastICA of the sum vectors) and the composition (mean template vector: the sum divided by the
length, so a long normal session is not far merely for being long). The views are averaged with
weights log(s_A / s_N), how far the labelled anomalies stand out in each; a view where they do
not (s_A <= s_N, or no labelled anomaly) gets weight 0, and with no usable view the original
rule applies. A sequence identical to a labelled normal has d = 0, so P = 0, as before. And a
clustered sequence whose GLOSH score is NaN (an exact duplicate: HDBSCAN's lambda is infinite)
gets full confidence in its cluster's label instead of the original's c = 1 (a 50/50 target).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logad.errors import InvalidParameterError, require

RULES = ("original", "distance")


@dataclass
class PseudoLabels:
    """For each unlabelled sequence: pseudo label, confidence c, and whether it is used."""

    labels: np.ndarray  # int64 0/1
    confidence: np.ndarray  # float64 in [0, 1]; soft target on the pseudo class = 1 - c/2
    used: np.ndarray  # bool
    info: dict

    def soft_targets(self) -> np.ndarray:
        """P(anomalous) targets of the used sequences."""
        p = 1.0 - self.confidence / 2.0
        return np.where(self.labels == 1, p, 1.0 - p)[self.used]


def _clamp(value: int, n: int) -> int:
    """HDBSCAN sizes for small data: at most a fifth of the points (at least 2)."""
    return int(max(2, min(value, n // 5)))


def pseudo_label(
    unlabelled: np.ndarray,
    anchors: np.ndarray,
    others: np.ndarray | None = None,
    *,
    min_cluster_size: int = 100,
    min_samples: int = 100,
    reduce_dimension: int = 50,
    seed: int = 0,
    rule: str = "original",
    lengths: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PseudoLabels:
    """MetaLog's HDBSCAN pseudo-labels for `unlabelled` sequence vectors.

    `anchors` are the vectors of the LABELLED NORMAL target sequences; `others` any further
    target training vectors (the labelled anomalies) that take part in FastICA and clustering
    without deciding anything. Sizes are clamped for small data (`_clamp`: at most n // 5,
    at least 2, where n is the number of clustered points). `rule` = "original" or "distance"
    (module docstring); `lengths` = (anchors, others, unlabelled) sequence lengths, for the
    distance rule's composition view (without them that view is not used).
    """
    if rule not in RULES:
        raise InvalidParameterError(f"`rule` must be one of {', '.join(RULES)}, got {rule!r}")
    n = len(unlabelled)
    info: dict = {"unlabelled": n, "anchors": int(len(anchors))}
    empty = PseudoLabels(np.zeros(n, np.int64), np.zeros(n), np.zeros(n, bool), info)
    if n == 0:
        info["status"] = "no unlabelled target sequence"
        return empty
    if len(anchors) == 0:
        info["status"] = "no labelled normal target sequence to anchor the clusters: unlabelled data not used"
        return empty
    others = np.zeros((0, unlabelled.shape[1]), np.float32) if others is None else others
    x = np.vstack([anchors, others, unlabelled]).astype(np.float64)
    n_anchor, n_other = len(anchors), len(others)
    # identical to a labelled normal (distance exactly 0): normal whatever HDBSCAN says
    anchor_keys = {a.tobytes() for a in np.asarray(anchors, dtype=np.float64)}
    same_as_anchor = np.array([row.tobytes() in anchor_keys for row in x[n_anchor + n_other :]])
    z = x
    if reduce_dimension != -1:
        centred = x - x.mean(axis=0)
        sv = np.linalg.svd(centred, compute_uv=False) if len(x) > 1 else np.zeros(1)
        rank = int((sv > 1e-8 * max(float(sv.max(initial=0.0)), 1e-30)).sum())
        k = min(int(reduce_dimension), x.shape[1], rank)
        info["ica_components"] = k
        if k >= 1:
            import warnings

            from sklearn.decomposition import FastICA

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning: the unmixing is still usable
                z = FastICA(n_components=k, random_state=seed, whiten="unit-variance").fit_transform(x)
            if not np.isfinite(z).all():
                info["ica"] = "non-finite output: clustering the raw vectors"
                z = x
    n_all = len(x)
    mcs, ms = _clamp(min_cluster_size, n_all), _clamp(min_samples, n_all)
    info.update(min_cluster_size=mcs, min_samples=ms)
    if n_all < 3:
        clusters = np.full(n_all, -1)
        glosh = np.zeros(n_all)
    else:
        hdbscan = require("hdbscan", "semantic")
        model = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms, metric="euclidean", algorithm="best")
        model.fit(z)
        clusters = np.asarray(model.labels_)
        glosh = np.asarray(model.outlier_scores_, dtype=np.float64)
    normal_clusters = {int(c) for c in clusters[:n_anchor] if c != -1}
    u_cl = clusters[n_anchor + n_other :]
    u_glosh = glosh[n_anchor + n_other :]
    n_clusters = len({int(c) for c in clusters if c != -1})
    info.update(clusters=n_clusters, normal_clusters=len(normal_clusters), noise=int((u_cl == -1).sum()))
    labels = np.ones(n, dtype=np.int64)
    conf = np.zeros(n, dtype=np.float64)
    in_cluster = u_cl != -1
    labels[in_cluster & np.isin(u_cl, list(normal_clusters))] = 0
    labels[~in_cluster & same_as_anchor] = 0
    g = np.where(np.isfinite(u_glosh), u_glosh, 1.0)  # GLOSH NaN (duplicates) -> c = 1
    conf[in_cluster] = np.clip(g[in_cluster], 0.0, 1.0)
    used = np.ones(n, dtype=bool)
    if rule == "distance":
        # a NaN GLOSH score is a point at zero distance from its neighbours (duplicates: lambda = inf),
        # HDBSCAN's densest and not its least certain: full confidence, not c = 1 (a 50/50 target)
        conf[in_cluster] = np.clip(np.where(np.isfinite(u_glosh), u_glosh, 0.0)[in_cluster], 0.0, 1.0)
        labelled_clusters = normal_clusters | {int(c) for c in clusters[n_anchor : n_anchor + n_other] if c != -1}
        decide = ~np.isin(u_cl, sorted(labelled_clusters))  # noise + clusters no labelled sequence is in
        views = [(z[:n_anchor], z[n_anchor : n_anchor + n_other], z[n_anchor + n_other :], "clustering space")]
        if lengths is not None:
            la, lo, lu = (np.maximum(np.asarray(v, dtype=np.float64), 1.0)[:, None] for v in lengths)
            views.append((x[:n_anchor] / la, x[n_anchor : n_anchor + n_other] / lo, x[n_anchor + n_other :] / lu,
                          "composition"))
        p, dist_info = distance_targets([(a, o, u[decide]) for a, o, u, _ in views], [v[3] for v in views])
        info["distance_rule"] = {**dist_info, "decided": int(decide.sum())}
        if p is not None:
            idx = np.flatnonzero(decide)
            labels[idx] = (p >= 0.5).astype(np.int64)
            conf[idx] = 1.0 - np.abs(2.0 * p - 1.0)  # soft target on the pseudo class 1 - c/2 = max(p, 1 - p)
    if n_clusters == 0 and not (rule == "distance" and info["distance_rule"]["applied"]):
        # everything is noise: the rule would call every sequence anomalous with full confidence,
        # which carries no information; keep only the exact copies of labelled normals
        used = same_as_anchor.copy()
        info["status"] = "HDBSCAN found no cluster: only copies of labelled normals are used"
    else:
        info["status"] = "ok"
    info.update(pseudo_normal=int(((labels == 0) & used).sum()), pseudo_anomalous=int(((labels == 1) & used).sum()),
                mean_confidence=float(conf[used].mean()) if used.any() else None)
    return PseudoLabels(labels, conf, used, info)


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each row of `a` to the nearest row of `b` (Euclidean)."""
    if len(a) == 0:
        return np.zeros(0)
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def distance_targets(views: list[tuple[np.ndarray, np.ndarray, np.ndarray]], names: list[str]):
    """The distance rule's P(anomalous) for the rows to decide, or None (no usable view).

    Each view is (labelled normals, labelled anomalies, rows to decide). Per view: s_N = median
    distance from a distinct labelled normal to the nearest other one, s_A = median distance from a
    labelled anomaly to the nearest labelled normal, d = each row's distance to the nearest labelled
    normal, P = clip(log(d / s_N) / log(s_A / s_N), 0, 1); weight log(s_A / s_N) when s_A > s_N > 0,
    else 0. The result is the weighted mean of the views' P."""
    total, weights, per_view = None, 0.0, []
    for (anchors, others, rows), name in zip(views, names):
        entry: dict = {"view": name}
        distinct = np.unique(np.round(anchors, 9), axis=0)
        if len(others) == 0 or len(distinct) < 2:
            entry.update(weight=0.0, reason="no labelled anomaly" if len(others) == 0 else "fewer than 2 distinct labelled normals")
            per_view.append(entry)
            continue
        spacing = np.array([_nearest(distinct[i : i + 1], np.delete(distinct, i, axis=0))[0] for i in range(len(distinct))])
        s_n = float(np.median(spacing))
        s_a = float(np.median(_nearest(others, anchors)))
        entry.update(s_normal=s_n, s_anomalous=s_a)
        if not (s_n > 0 and s_a > s_n):
            entry.update(weight=0.0, reason="labelled anomalies not farther from the labelled normals than they are from each other")
            per_view.append(entry)
            continue
        w = float(np.log(s_a / s_n))
        d = _nearest(rows, anchors)
        with np.errstate(divide="ignore"):
            p = np.clip(np.log(np.maximum(d, 1e-300) / s_n) / w, 0.0, 1.0)
        p[d == 0] = 0.0
        entry["weight"] = w
        per_view.append(entry)
        total = p * w if total is None else total + p * w
        weights += w
    info = {"views": per_view, "applied": total is not None}
    if total is None:
        return None, info
    return total / weights, info
