"""kNN's numpy search finds the distances sklearn's tree finds; big searches go to the tree."""

from __future__ import annotations

import numpy as np
import pytest

from logad.detectors.classical import knn as knn_module
from logad.detectors.classical.knn import nearest_rows


def test_same_distances_as_sklearn():
    sk = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(0)
    for m in (1, 3, 7):
        train = rng.integers(0, 6, size=(300, 12)).astype(float)  # integer counts: many exact ties
        x = rng.integers(0, 6, size=(500, 12)).astype(float)
        dist, idx = nearest_rows(train, x, m)
        ref, _ = sk.NearestNeighbors(algorithm="kd_tree").fit(train).kneighbors(x, n_neighbors=m)
        np.testing.assert_allclose(dist, ref, atol=1e-12)
        # the indices name rows at those distances
        np.testing.assert_allclose(np.linalg.norm(train[idx] - x[:, None, :], axis=2), dist, atol=1e-12)
    d, i = nearest_rows(train[:2], x[:4], 2)  # m = every training row
    assert d.shape == i.shape == (4, 2) and (np.diff(d, axis=1) >= 0).all()


def test_scores_equal_through_either_search(monkeypatch):
    pytest.importorskip("sklearn.neighbors")
    from logad.detectors import get_detector
    from tests.detectors.test_conformance import make_data

    normal, anomalies = make_data()
    det = get_detector("knn", n_neighbors=3).fit(normal)
    small = det.score(anomalies + normal[:50])
    monkeypatch.setattr(knn_module, "BRUTE_FORCE_WORK", 0)  # every search through sklearn's tree
    big = get_detector("knn", n_neighbors=3).fit(normal).score(anomalies + normal[:50])
    np.testing.assert_allclose(small, big, atol=1e-12)
