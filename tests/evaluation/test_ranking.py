"""Our ranking metrics equal scikit-learn's on random, tied and infinite scores."""

from __future__ import annotations

import numpy as np
import pytest

from logad.evaluation import ranking

sk = pytest.importorskip("sklearn.metrics")


def _cases():
    rng = np.random.default_rng(0)
    for i in range(60):
        n = int(rng.integers(2, 300))
        y = (rng.random(n) < rng.uniform(0.05, 0.9)).astype(int)
        if y.min() == y.max():
            y[0] = 1 - y[0]
        # continuous, heavily tied and partly infinite scores
        s = rng.normal(size=n) + y * rng.uniform(0, 2)
        if i % 3 == 1:
            s = np.round(s)
        if i % 3 == 2:
            s[rng.random(n) < 0.1] = np.inf
            s[rng.random(n) < 0.05] = -np.inf
        yield y, s


def _ranked(s):
    from scipy.stats import rankdata

    return rankdata(s)  # sklearn's curves need finite scores


@pytest.mark.parametrize("case", range(60))
def test_areas_and_curves_equal_sklearns(case):
    y, s = list(_cases())[case]
    r = _ranked(s)
    assert ranking.roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, r), abs=1e-12)
    assert ranking.average_precision(y, s) == pytest.approx(sk.average_precision_score(y, r), abs=1e-12)
    fpr, tpr, _ = ranking.roc_curve(y, s)
    sfpr, stpr, _ = sk.roc_curve(y, r)
    np.testing.assert_allclose(fpr, sfpr)
    np.testing.assert_allclose(tpr, stpr)
    p, rc, _ = ranking.precision_recall_curve(y, s)
    sp, src, _ = sk.precision_recall_curve(y, r)
    np.testing.assert_allclose(p, sp)
    np.testing.assert_allclose(rc, src)


def test_known_values():
    y = np.array([0, 0, 1, 1])
    assert ranking.roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert ranking.roc_auc(y, np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.5)  # all tied: half
    assert ranking.average_precision(y, np.array([0.0, 0.0, 1.0, 1.0])) == pytest.approx(1.0)
