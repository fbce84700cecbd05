"""MetaLog's pseudo-labels for the unlabelled target training sequences (seed_methods.md section 1.4).

Sequence vector = sum of its template vectors; FastICA; HDBSCAN; a cluster holding a labelled
normal is normal, any other cluster anomalous; noise is anomalous unless identical to a labelled
normal; confidence c = GLOSH outlier score for clustered points (NaN -> 1), 0 for noise; soft target
1 - c/2 on the pseudo class. The anchors are the labelled normals of the label budget, NOT "the
first 50 % of the ground-truth normals" the original took (that read hidden labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logad.errors import require


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
) -> PseudoLabels:
    """MetaLog's HDBSCAN pseudo-labels for `unlabelled` sequence vectors.

    `anchors` are the vectors of the LABELLED NORMAL target sequences; `others` any further
    target training vectors (the labelled anomalies) that take part in FastICA and clustering
    without deciding anything. Sizes are clamped for small data (`_clamp`: at most n // 5,
    at least 2, where n is the number of clustered points).
    """
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
    if n_clusters == 0:
        # everything is noise: the rule would call every sequence anomalous with full confidence,
        # which carries no information; keep only the exact copies of labelled normals
        used = same_as_anchor.copy()
        info["status"] = "HDBSCAN found no cluster: only copies of labelled normals are used"
    else:
        info["status"] = "ok"
    info.update(pseudo_normal=int(((labels == 0) & used).sum()), pseudo_anomalous=int(((labels == 1) & used).sum()),
                mean_confidence=float(conf[used].mean()) if used.any() else None)
    return PseudoLabels(labels, conf, used, info)
