import numpy as np
import pytest

from logad.detectors.thresholds import BestF1OnValidation, FixedThreshold, TrainQuantile, get_policy
from logad.errors import InvalidParameterError, UnknownNameError


def test_best_f1_midpoint_between_classes():
    scores = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    labels = np.array([0, 0, 0, 1, 1])
    p = BestF1OnValidation()
    assert p.fit(scores, labels) == pytest.approx(0.6)  # midpoint of 0.3 and 0.9
    assert p.to_dict()["validation_f1"] == pytest.approx(1.0)
    assert "fallback" not in p.to_dict()


def test_best_f1_hand_computed_with_overlap():
    # cuts: >0.5 -> tp1 fp0 F1 2/3 ; >0.35 -> tp1 fp1 F1 .5 ; >0.25 -> tp2 fp1 F1 .8 ; >0.15 -> tp2 fp2 F1 2/3
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.6])
    labels = np.array([0, 0, 1, 0, 1])
    assert BestF1OnValidation().fit(scores, labels) == pytest.approx(0.25)


def test_best_f1_ties_pick_highest_cut_and_all_positive_case():
    # >0.5 gives tp1 fp0 (F1 .667); >0.15 gives tp2 fp1 -> F1 .8 ... make a tie instead:
    scores = np.array([1.0, 2.0, 3.0, 4.0])
    labels = np.array([1, 0, 0, 1])
    # >3.5: tp1 fp0 fn1 F1 2/3 ; >0.5 (all): tp2 fp2 F1 2/3 -> tie, the higher cut wins
    assert BestF1OnValidation().fit(scores, labels) == pytest.approx(3.5)
    # every score anomalous-best: the cut lies half a gap below the lowest score
    assert BestF1OnValidation().fit(np.array([1.0, 3.0]), np.array([1, 1])) == pytest.approx(0.0)


def test_best_f1_ties_within_equal_scores():
    scores = np.array([0.5, 0.5, 0.5, 0.9])
    labels = np.array([0, 1, 0, 1])
    thr = BestF1OnValidation().fit(scores, labels)
    assert thr == pytest.approx(0.7)  # F1 2/3 either way; highest cut


def test_best_f1_falls_back_without_anomalies():
    scores = np.arange(1001, dtype=float)
    p = BestF1OnValidation(fallback_q=0.99)
    assert p.fit(scores, np.zeros(1001, dtype=int)) == pytest.approx(990.0)
    assert "no anomaly" in p.to_dict()["fallback"]


def test_best_f1_needs_labels():
    with pytest.raises(InvalidParameterError, match="labels"):
        BestF1OnValidation().fit([0.1, 0.2])
    with pytest.raises(InvalidParameterError):
        BestF1OnValidation().fit([], [])


def test_train_quantile():
    p = TrainQuantile(q=0.5)
    assert p.fit([1.0, 2.0, 3.0]) == 2.0
    assert p.to_dict() == {"policy": "train-quantile", "q": 0.5}
    # with labels, only normal scores count
    assert TrainQuantile(q=1.0).fit([1.0, 2.0, 100.0], [0, 0, 1]) == 2.0
    with pytest.raises(InvalidParameterError, match="`q`"):
        TrainQuantile(q=0).fit([1.0])
    with pytest.raises(InvalidParameterError):
        TrainQuantile().fit([])


def test_fixed_and_registry():
    p = get_policy("fixed", value=3.5)
    assert isinstance(p, FixedThreshold) and p.fit(np.zeros(0)) == 3.5 and p.value == 3.5
    assert isinstance(get_policy("train-quantile", q=0.9), TrainQuantile)
    assert isinstance(get_policy("best-f1-validation"), BestF1OnValidation)
    with pytest.raises(UnknownNameError, match="did you mean"):
        get_policy("train-quantil")
    with pytest.raises(InvalidParameterError):
        get_policy("fixed", vlaue=1.0)
