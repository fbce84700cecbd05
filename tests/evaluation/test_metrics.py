import numpy as np
import pytest

from logad.errors import InvalidParameterError
from logad.evaluation.metrics import binary_metrics


def test_hand_computed_case():
    labels = np.array([1, 1, 0, 0, 0, 1])
    scores = np.array([0.9, 0.4, 0.5, 0.1, 0.2, 0.8])
    predicted = scores > 0.45  # alarms: 0.9, 0.5, 0.8
    m = binary_metrics(labels, scores, predicted)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 2, 1)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["fpr"] == pytest.approx(1 / 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # pairs (anomaly, normal) ordered correctly: 0.9>all 3, 0.8>all 3, 0.4>0.1,0.2 -> 8 of 9
    assert m["roc_auc"] == pytest.approx(8 / 9)
    # AP: ranks 0.9(1) 0.8(1) 0.5(0) 0.4(1): (1 + 1 + 3/4) / 3
    assert m["pr_auc"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert m["n"] == 6 and m["n_anomalous"] == 3


def test_one_class_gives_none_aucs_and_no_crash():
    m = binary_metrics([0, 0, 0], [0.1, 0.2, 0.3], [False, False, True])
    assert m["roc_auc"] is None and m["pr_auc"] is None
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
    assert m["fpr"] == pytest.approx(1 / 3)
    m = binary_metrics([1, 1], [0.1, 0.2], [True, True])
    assert m["roc_auc"] is None and m["f1"] == 1.0 and m["fpr"] == 0.0
    m = binary_metrics([], [], [])
    assert m["n"] == 0 and m["accuracy"] == 0.0


def test_infinite_scores_are_ranked():
    m = binary_metrics([0, 1, 1], [0.0, np.inf, 5.0], [False, True, True])
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0


def test_bad_input():
    with pytest.raises(InvalidParameterError, match="length"):
        binary_metrics([0, 1], [0.1], [True, False])
    with pytest.raises(InvalidParameterError, match="0 and 1"):
        binary_metrics([0, 2], [0.1, 0.2], [True, False])
    with pytest.raises(InvalidParameterError, match="NaN"):
        binary_metrics([0, 1], [0.1, np.nan], [True, False])
