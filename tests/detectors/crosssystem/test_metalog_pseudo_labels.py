"""MetaLog's HDBSCAN pseudo-labels, anchored on labelled normals."""

from __future__ import annotations

import numpy as np
import pytest

from logad.detectors.crosssystem import metalog_pseudo_labels as ml


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    normal = rng.normal(0, 0.05, (60, 4))
    other = rng.normal(0, 0.05, (40, 4)) + np.array([5.0, 0, 0, 0])
    return normal, other


def test_pseudo_labels_follow_the_anchor_clusters():
    normal, other = _blobs()
    pl = ml.pseudo_label(np.vstack([normal[10:], other]), normal[:10], min_cluster_size=10, min_samples=5,
                         reduce_dimension=-1)
    assert pl.info["clusters"] >= 2 and pl.info["status"] == "ok"
    assert (pl.labels[:50] == 0).mean() > 0.9 and (pl.labels[50:] == 1).mean() > 0.9
    assert ((pl.confidence >= 0) & (pl.confidence <= 1)).all()
    t = pl.soft_targets()
    assert ((t >= 0) & (t <= 1)).all()
    # clustered points: soft target on the pseudo class = 1 - c/2
    i = int(np.flatnonzero((pl.labels == 1) & pl.used)[0])
    assert t[i] == pytest.approx(1 - pl.confidence[i] / 2)


def test_pseudo_label_edge_cases():
    normal, other = _blobs()
    assert ml.pseudo_label(np.zeros((0, 4)), normal).info["status"].startswith("no unlabelled")
    none = ml.pseudo_label(other, np.zeros((0, 4)))
    assert not none.used.any() and "no labelled normal" in none.info["status"]
    # far-apart points: HDBSCAN finds no cluster -> only copies of labelled normals are used
    spread = np.arange(40, dtype=float).reshape(10, 4) ** 2
    pl = ml.pseudo_label(np.vstack([spread, spread[:1]]), spread[:1], min_cluster_size=5, min_samples=5,
                         reduce_dimension=-1)
    assert pl.info["clusters"] == 0 and "no cluster" in pl.info["status"]
    assert pl.used.tolist() == [True] + [False] * 9 + [True] and (pl.labels[pl.used] == 0).all()
    # all-identical points: GLOSH scores are NaN -> confidence 1 (a 50/50 soft target)
    same = np.ones((30, 4))
    pl = ml.pseudo_label(same, same[:3], min_cluster_size=5, min_samples=5, reduce_dimension=2)
    assert np.isfinite(pl.confidence).all()
    assert (pl.labels == 0).all()
    # sizes are clamped on small data
    assert ml._clamp(100, 30) == 6 and ml._clamp(100, 3) == 2 and ml._clamp(5, 1000) == 5
