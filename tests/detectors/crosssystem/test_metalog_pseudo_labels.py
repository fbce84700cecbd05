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


def test_the_distance_rule_softens_unclustered_sequences_by_their_distance():
    rng = np.random.default_rng(0)
    normal = np.vstack([rng.normal(0, 0.05, (60, 4)), rng.normal(0, 0.05, (60, 4)) + np.array([0, 0, 1.0, 0])])
    normal = normal[rng.permutation(120)]
    near = rng.normal(0, 0.15, (6, 4)) + np.array([0.0, 0.8, 0, 0])  # normal-looking stragglers
    far = rng.normal(0, 0.3, (6, 4)) + np.array([6.0, 0, 0, 0])  # anomalies, as far as the labelled ones
    labelled_anomalies = rng.normal(0, 0.3, (2, 4)) + np.array([6.0, 0, 0, 0])
    unl = np.vstack([normal[10:], near, far])
    kw = dict(min_cluster_size=20, min_samples=10, reduce_dimension=-1)
    orig = ml.pseudo_label(unl, normal[:10], labelled_anomalies, **kw)
    dist = ml.pseudo_label(unl, normal[:10], labelled_anomalies, rule="distance", **kw)
    assert orig.info["clusters"] == 2 and dist.info["clusters"] == 2 and dist.used.all()
    t_orig, t_dist = orig.soft_targets(), dist.soft_targets()
    assert dist.info["distance_rule"]["applied"] and dist.info["distance_rule"]["decided"] == dist.info["noise"]
    np.testing.assert_array_equal(t_dist[:110], t_orig[:110])  # HDBSCAN's clusters decide as before
    assert (t_orig[-6:] == 1.0).all() and (t_dist[-6:] > 0.95).all()  # far: anomalous either way
    noise = np.flatnonzero(t_orig[110:116] == 1.0) + 110  # stragglers HDBSCAN left out
    assert len(noise) >= 3
    assert (t_dist[noise] < 0.7).all()  # soft, not "anomalous with full confidence"
    views = dist.info["distance_rule"]["views"]
    assert [v["view"] for v in views] == ["clustering space"] and views[0]["weight"] > 0


def test_the_distance_rule_falls_back_to_the_original_without_a_labelled_anomaly():
    normal, other = _blobs()
    kw = dict(min_cluster_size=10, min_samples=5, reduce_dimension=-1)
    unl = np.vstack([normal[10:], other])
    a = ml.pseudo_label(unl, normal[:10], **kw)
    b = ml.pseudo_label(unl, normal[:10], rule="distance", **kw)
    assert not b.info["distance_rule"]["applied"]
    np.testing.assert_array_equal(a.labels, b.labels)
    with pytest.raises(Exception, match="rule"):
        ml.pseudo_label(unl, normal[:10], rule="nearest")


def test_distance_targets_weigh_the_views_by_how_far_the_labelled_anomalies_stand_out():
    anchors = np.array([[0.0, 0], [1.0, 0], [0, 1.0]])
    others = np.array([[10.0, 0]])
    rows = np.array([[0.0, 0], [1.0, 1.0], [10.0, 10.0], [3.0, 0]])
    p, info = ml.distance_targets([(anchors, others, rows)], ["v"])
    s_n, s_a = info["views"][0]["s_normal"], info["views"][0]["s_anomalous"]
    assert s_n == pytest.approx(1.0) and s_a == pytest.approx(9.0)
    assert p[0] == 0.0 and p[2] == 1.0
    assert p[3] == pytest.approx(np.log(2.0) / np.log(9.0))  # d = 2: log-linear between s_N and s_A
    # a view where the labelled anomalies do not stand out gets no weight
    p2, info2 = ml.distance_targets([(anchors, others, rows), (anchors, anchors[:1], rows)], ["v", "w"])
    assert info2["views"][1]["weight"] == 0.0
    np.testing.assert_allclose(p2, p)
    none, info3 = ml.distance_targets([(anchors, np.zeros((0, 2)), rows)], ["v"])
    assert none is None and not info3["applied"]
