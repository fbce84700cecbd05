"""Our CART tree grows the splits scikit-learn's DecisionTreeClassifier grows."""

from __future__ import annotations

import numpy as np
import pytest

from logad.detectors.classical.cart import GiniTree


def _child_impurity(x, y, w, f, t):
    out = 0.0
    for side in (x[:, f] <= t, x[:, f] > t):
        weight = w[side].sum()
        p = (w[side] * y[side]).sum() / weight
        out += weight * (1 - p**2 - (1 - p) ** 2)
    return out


def test_pure_leaves_fit_the_training_data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(300, 6)).astype(float)
    y = ((x[:, 0] > 1) ^ (x[:, 3] > 2)).astype(int)  # XOR: no single split helps at the root
    tree = GiniTree().fit(x, y, rng.integers(1, 4, size=300).astype(float))
    np.testing.assert_array_equal(tree.predict_proba(x)[:, 1], y)
    assert GiniTree(max_depth=1).fit(x, y).depth() == 1


def test_leaf_value_is_the_weighted_anomaly_fraction():
    x = np.array([[0.0], [0.0], [1.0]])
    tree = GiniTree().fit(x, np.array([0, 1, 1]), np.array([3.0, 1.0, 2.0]))
    np.testing.assert_allclose(tree.predict_proba(np.array([[0.0], [5.0]]))[:, 1], [0.25, 1.0])
    assert tree.threshold_[0] == 0.5  # the midpoint between the two values


def test_constant_features_make_one_leaf():
    tree = GiniTree().fit(np.ones((5, 3)), np.array([0, 1, 0, 1, 0]))
    assert tree.node_count == 1
    np.testing.assert_allclose(tree.predict_proba(np.zeros((2, 3)))[:, 1], [0.4, 0.4])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        GiniTree().fit(np.ones((3, 2)), np.array([0, 1]))
    tree = GiniTree().fit(np.eye(2), np.array([0, 1]))
    with pytest.raises(ValueError):
        tree.predict_proba(np.ones((1, 3)))


def test_same_training_fit_and_root_split_quality_as_sklearn():
    sk = pytest.importorskip("sklearn.tree")
    rng = np.random.default_rng(1)
    for _trial in range(80):
        n, d = int(rng.integers(5, 300)), int(rng.integers(1, 10))
        x = rng.integers(0, 5, size=(n, d)).astype(float)
        y = (rng.random(n) < 0.3).astype(int)
        if y.min() == y.max():
            continue
        w = rng.integers(1, 5, size=n).astype(float)
        ours = GiniTree(random_state=0).fit(x, y, w)
        theirs = sk.DecisionTreeClassifier(random_state=0).fit(x, y, sample_weight=w)
        # fully grown trees: the same leaf values on every training row
        np.testing.assert_allclose(ours.predict_proba(x)[:, 1], theirs.predict_proba(x)[:, 1])
        # the root split is equally good (features may differ on exact ties only)
        assert _child_impurity(x, y, w, ours.feature_[0], ours.threshold_[0]) == pytest.approx(
            _child_impurity(x, y, w, theirs.tree_.feature[0], theirs.tree_.threshold[0]))
