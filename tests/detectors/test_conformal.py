"""Cross-conformal alarm budgets: the fold models score new sequences with a pooled p-value."""

import numpy as np
import pytest

from logad.detectors.conformal import CrossConformal
from logad.errors import InvalidParameterError
from logad.records import Sequence


def _varied(n, seed=0, novel=0.0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        body = rng.choice(np.arange(2, 12), size=int(rng.integers(5, 60))).tolist()  # few exact repeats
        if rng.random() < novel:
            body += [9]
        out.append(Sequence(f"v{i}", (1, *body, 6), (i,), float(i), float(i), None, 0))
    return out


@pytest.fixture(scope="module")
def fitted():
    return CrossConformal(base="knn", folds=4).fit(_varied(1200))


def test_p_values_are_calibrated_on_new_exchangeable_normals(fitted):
    new = _varied(4000, seed=7)
    p = fitted.p_values(new)
    assert p.min() >= 1 / 1201 and p.max() <= 1.0
    for budget in (0.02, 0.05, 0.1):
        rate = np.mean(fitted.score(new) > fitted.budget_threshold(budget))
        assert budget / 2 <= rate <= 1.6 * budget, (budget, rate)
        assert rate == pytest.approx(np.mean(p <= budget))
    # a sequence of unseen templates lies beyond every reference: the smallest p
    odd = Sequence("odd", (7, 7, 7, 8, 8, 8) * 5, (0,), 0.0, 0.0, None, 1)
    assert fitted.p_values([odd])[0] == pytest.approx(1 / 1201)


def test_save_load_round_trip_and_small_samples(fitted, tmp_path):
    fitted.threshold_ = fitted.budget_threshold(0.05)
    fitted.save(tmp_path / "cc")
    back = CrossConformal.load(tmp_path / "cc")
    seqs = _varied(50, seed=3)
    assert np.array_equal(back.score(seqs), fitted.score(seqs)) and back.threshold_ == fitted.threshold_
    assert len(back.members_) == 4 and back.get_params()["base"] == "knn"
    small = CrossConformal(base="knn").fit(_varied(30))
    assert "needs at least 999" in small.budget_warning(0.001)
    assert small.budget_threshold(0.001) < small.score([Sequence("o", (8,) * 300, (0,), 0.0, 0.0, None, 1)])[0]
    assert small.budget_warning(0.05) is None


def test_refusals():
    with pytest.raises(InvalidParameterError, match="supervised"):
        CrossConformal(base="decision-tree").fit(_varied(20), np.array([0] * 19 + [1]))
    with pytest.raises(Exception, match="did you mean"):
        CrossConformal(base="knm").fit(_varied(20))
    with pytest.raises(InvalidParameterError, match="folds"):
        CrossConformal(base="knn", folds=1).fit(_varied(20))
