import random

import numpy as np
import pytest

from logad.detectors.registry import detector_class, get_detector, list_detectors
from logad.evaluation.runner import evaluate_detector
from logad.records import Sequence
from logad.splitting import Split, chronological_split


def synthetic(n=400, seed=0):
    rng = random.Random(seed)
    seqs = []
    for i in range(n):
        anomalous = rng.random() < 0.1
        ids = [1, 2, 3, 3, 4] if not anomalous else rng.choice([[1, 2, 9, 4], [1, 3, 4], [1, 2, 3, 3, 3, 3, 3, 4]])
        seqs.append(Sequence(f"s{i}", tuple(ids), (i,), float(i), float(i), None, int(anomalous)))
    return seqs


@pytest.mark.parametrize("name", list_detectors("classical"))
def test_test_labels_never_reach_the_threshold(name):
    split = chronological_split(synthetic())
    rng = random.Random(1)
    flipped = [Sequence(s.sequence_id, s.template_ids, s.line_nos, s.start_time, s.end_time, None, rng.randint(0, 1))
               for s in split.test]
    altered = Split(split.train, split.validation, flipped, split.protocol)
    a = evaluate_detector(get_detector(name), split)
    b = evaluate_detector(get_detector(name), altered)
    assert a.result["threshold"]["value"] == b.result["threshold"]["value"]
    assert np.array_equal(a.predicted, b.predicted)


def test_result_has_every_documented_part():
    ev = evaluate_detector(get_detector("knn"), chronological_split(synthetic()))
    r = ev.result
    for key in ["precision", "recall", "f1", "fpr", "roc_auc", "pr_auc"]:
        assert key in r["metrics"]
    assert {"tp", "fp", "tn", "fn"} <= set(r["counts"])
    assert {"fit", "score"} <= set(r["seconds"])
    assert r["threshold"]["policy"] == "best-f1-validation"
    assert r["audit"]["test_sequences"] == len(ev.test)
    assert r["metrics"]["f1"] > 0.9


def test_semi_supervised_detectors_never_see_anomalies_in_fit():
    split = chronological_split(synthetic())
    for name in list_detectors("classical"):
        if detector_class(name).supervised:
            continue
        det = get_detector(name)
        seen = []
        original = det.fit

        def spy(seqs, labels=None, _orig=original, _seen=seen, **hooks):
            _seen.extend(seqs)
            return _orig(seqs, labels, **hooks)

        det.fit = spy
        evaluate_detector(det, split)
        assert all(s.label == 0 for s in seen)


def test_original_protocol_marks_oracle_thresholds():
    split = chronological_split(synthetic())
    ev = evaluate_detector(get_detector("knn"), split, protocol="original")
    assert ev.result["threshold"]["policy"] == "oracle-on-test"
    assert "TEST labels" in ev.result["threshold"]["warning"]
    assert ev.result["protocol"] == "original"
    honest = evaluate_detector(get_detector("knn"), split)
    assert honest.result["protocol"] == "honest" and "warning" not in honest.result["threshold"]


def varied(n=3000, seed=0, anomaly_rate=0.0):
    """Normal sequences of varied length and content (continuous-ish scores), iid in time."""
    rng = np.random.default_rng(seed)
    seqs = []
    for i in range(n):
        anomalous = rng.random() < anomaly_rate
        body = rng.choice([2, 3, 4, 5], size=int(rng.integers(3, 12)), p=[0.4, 0.3, 0.2, 0.1]).tolist()
        if anomalous:
            body += [9, 9]
        seqs.append(Sequence(f"v{i}", (1, *body, 6), (i,), float(i), float(i), None, int(anomalous)))
    return seqs


def test_alarm_budget_through_evaluate_records_budget_and_never_reads_test_labels():
    split = chronological_split(varied(1500, anomaly_rate=0.05))
    rng = random.Random(2)
    flipped = [Sequence(s.sequence_id, s.template_ids, s.line_nos, s.start_time, s.end_time, None, rng.randint(0, 1))
               for s in split.test]
    a = evaluate_detector(get_detector("pca"), split, policy="alarm-budget:0.05", policy_kw={"folds": 3})
    b = evaluate_detector(get_detector("pca"), Split(split.train, split.validation, flipped, split.protocol),
                          policy="alarm-budget:0.05", policy_kw={"folds": 3})
    t = a.result["threshold"]
    assert t["policy"] == "alarm-budget" and t["budget"] == 0.05 and t["folds"] == 3
    # every training and validation normal has an out-of-fold score
    assert t["n_scores"] == sum(1 for s in split.train + split.validation if s.label == 0)
    assert t["value"] == b.result["threshold"]["value"] and np.array_equal(a.predicted, b.predicted)


def test_alarm_budget_is_met_on_new_normals_where_in_sample_scores_miss_it():
    """iid normals: the out-of-fold budget holds on the test normals; the same quantile of the
    model's own training scores (what a threshold from in-sample scores does) flags far more."""
    from logad.detectors.thresholds import TrainQuantile

    split = chronological_split(varied(4000, seed=3), 0.6, 0.1, 0.3)
    budget = 0.02
    ev = evaluate_detector(get_detector("knn"), split, policy=f"alarm-budget:{budget}")
    fpr = ev.result["metrics"]["fpr"]
    assert budget / 3 <= fpr <= 3 * budget, fpr
    in_sample = TrainQuantile(1 - budget).fit(ev.detector.score(split.train))
    assert np.mean(ev.scores > in_sample) > 3 * budget


def test_without_validation_anomalies_the_default_is_a_half_percent_alarm_budget():
    split = chronological_split(varied(300))
    t = evaluate_detector(get_detector("knn"), split).result["threshold"]
    assert t["policy"] == "alarm-budget" and t["budget"] == 0.005
    # best F1 asked for explicitly keeps its own fallback, whose budget is recorded too
    t = evaluate_detector(get_detector("knn"), split, policy="best-f1-validation").result["threshold"]
    assert t["fallback"] and t["budget"] == pytest.approx(0.005)
    ev = evaluate_detector(get_detector("knn"), chronological_split(synthetic()))
    assert ev.result["threshold"]["policy"] == "best-f1-validation"  # validation holds anomalies
    assert "budget" not in ev.result["threshold"]  # best F1 on validation anomalies aims at no budget


def test_fit_validation_fits_on_both_parts():
    split = chronological_split(varied(300))
    seen = []
    det = get_detector("knn")
    original = det.fit

    def spy(seqs, labels=None, **hooks):
        seen.append(len(list(seqs)))
        return original(seqs, labels, **hooks)

    det.fit = spy
    ev = evaluate_detector(det, split, policy="alarm-budget:0.01", fit_validation=True)
    assert seen == [len(split.train) + len(split.validation)]
    assert ev.result["fitted_on"] == "training and validation parts"


def test_cross_conformal_budget_makes_the_fold_models_the_model():
    split = chronological_split(varied(1500, anomaly_rate=0.05))
    rng = random.Random(4)
    flipped = [Sequence(s.sequence_id, s.template_ids, s.line_nos, s.start_time, s.end_time, None, rng.randint(0, 1))
               for s in split.test]
    kw = {"method": "cross-conformal", "folds": 3}
    a = evaluate_detector(get_detector("knn"), split, policy="alarm-budget:0.05", policy_kw=kw)
    b = evaluate_detector(get_detector("knn"), Split(split.train, split.validation, flipped, split.protocol),
                          policy="alarm-budget:0.05", policy_kw=kw)
    r = a.result
    assert r["detector"]["name"] == "knn" and r["detector"]["model"] == "cross-conformal: 3 fold models"
    assert r["threshold"]["method"] == "cross-conformal" and r["threshold"]["budget"] == 0.05
    assert r["fitted_on"] == "training and validation parts"
    assert np.array_equal(a.predicted, b.predicted) and r["metrics"]["f1"] > 0.5
    # a supervised detector cannot be cross-conformal here: it keeps one cross-fit threshold, and says so
    t = evaluate_detector(get_detector("decision-tree"), split, policy="alarm-budget:0.05", policy_kw=kw).result
    assert t["threshold"]["method"] == "cross-fit" and "model" not in t["detector"]
