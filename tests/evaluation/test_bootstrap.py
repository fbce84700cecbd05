import numpy as np
import pytest

from logad.errors import InvalidParameterError
from logad.evaluation.bootstrap import bootstrap_interval, format_summary, metric_value, seed_summary
from logad.evaluation.metrics import binary_metrics


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    p = np.where(rng.random(n) < 0.95, y, ~y)
    return y.astype(int), p


@pytest.mark.parametrize("metric", ["f1", "precision", "recall", "fpr"])
def test_metric_value_matches_binary_metrics_and_interval_holds_it(metric):
    y, p = _data()
    value = metric_value(y, p, metric)
    assert value == pytest.approx(binary_metrics(y, p.astype(float), p)[metric])
    lo, hi = bootstrap_interval(y, p, metric=metric, n_boot=300)
    assert lo <= value <= hi and hi - lo < 0.05
    assert (lo, hi) == bootstrap_interval(y, p, metric=metric, n_boot=300)  # seeded


def test_interval_shrinks_with_more_test_sequences_and_averages_runs():
    y, p = _data(400)
    small = bootstrap_interval(y, p, n_boot=300)
    y2, p2 = _data(10_000)
    large = bootstrap_interval(y2, p2, n_boot=300)
    assert large[1] - large[0] < small[1] - small[0]
    # two runs: the interval of their mean lies between theirs
    q = p.copy()
    q[:20] = ~q[:20]
    lo, hi = bootstrap_interval(y, [p, q], n_boot=300)
    mean = (metric_value(y, p) + metric_value(y, q)) / 2
    assert lo <= mean <= hi


def test_seed_summary_and_refusals():
    mean, std = seed_summary([0.993, 0.973, 0.955])
    assert mean == pytest.approx(0.9737, abs=1e-4) and std == pytest.approx(0.0190, abs=1e-4)  # ddof=1
    assert seed_summary([0.5]) == (0.5, 0.0)
    assert format_summary([0.99, 0.98, 0.97], (0.96, 0.99)) == "0.980 ± 0.010 [0.960, 0.990]"
    y, p = _data(50)
    with pytest.raises(InvalidParameterError, match="metric"):
        bootstrap_interval(y, p, metric="auc")
    with pytest.raises(InvalidParameterError, match="entries per run"):
        bootstrap_interval(y, p[:10])
    with pytest.raises(InvalidParameterError):
        seed_summary([])
