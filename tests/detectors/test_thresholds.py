import numpy as np
import pytest

from logad.detectors.thresholds import (
    BestF1OnValidation,
    FixedThreshold,
    TrainQuantile,
    get_policy,
    too_few_for_quantile,
)
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
    d = p.to_dict()
    assert d["n_scores"] == 1001 and d["applied"].startswith("quantile 0.99 of 1001") and "warning" not in d


def test_best_f1_fallback_on_a_few_normals_says_so_and_warns():
    p = BestF1OnValidation(fallback_q=0.995)
    p.fit(np.arange(7, dtype=float), np.zeros(7, dtype=int))
    d = p.to_dict()
    assert d["policy"] == "best-f1-validation" and d["n_scores"] == 7
    assert d["applied"] == "quantile 0.995 of 7 validation normals (no validation anomaly)"
    assert "only 7 normal validation scores" in d["warning"] and "at least 200" in d["warning"]
    p.fit(np.array([0.1, 0.2, 0.9]), np.array([0, 0, 1]))  # an anomaly: best F1, nothing to warn about
    assert p.to_dict()["applied"] == "best F1 on 3 validation sequences" and "warning" not in p.to_dict()


def test_too_few_for_quantile():
    assert too_few_for_quantile(0.99, 100) is None and "only 99" in too_few_for_quantile(0.99, 99)
    assert "infinitely many" in too_few_for_quantile(1.0, 10_000)


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


# -- alarm budgets: conformal quantile of out-of-fold normal scores ------------------------------
from logad.detectors.thresholds import (  # noqa: E402
    AlarmBudget,
    conformal_threshold,
    cross_fitted_scores,
    fold_indices,
)


def test_conformal_rank_and_small_sample_warning():
    s = np.arange(1, 200, dtype=float)  # 199 scores 1..199
    # rank ceil(200 * 0.99) = 198: 1 of 199 scores lies above it
    assert conformal_threshold(s, 0.01) == (198.0, None)
    thr, warning = conformal_threshold(np.arange(50, dtype=float), 0.01)
    assert thr == 49.0 and "needs at least 99 normal scores, got 50" in warning


def test_alarm_budget_is_kept_on_new_exchangeable_scores():
    rng = np.random.default_rng(0)
    for budget in (0.001, 0.01, 0.05):
        p = AlarmBudget(budget)
        thr = p.fit(rng.standard_normal(20_000))
        rate = float(np.mean(rng.standard_normal(200_000) > thr))
        assert budget / 1.5 <= rate <= budget * 1.5, (budget, rate)
        assert p.to_dict()["budget"] == budget and p.alarm_budget == budget and p.to_dict()["n_scores"] == 20_000


def test_alarm_budget_spec_and_refusals():
    p = get_policy("alarm-budget:0.005", folds=3)
    assert isinstance(p, AlarmBudget) and p.budget == 0.005 and p.folds == 3
    assert get_policy("train-quantile:0.99").alarm_budget == pytest.approx(0.01)
    assert get_policy("fixed:1").alarm_budget is None
    for bad in (0, 1, -0.1, 2, True):
        with pytest.raises(InvalidParameterError, match="budget"):
            AlarmBudget(bad).fit([1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="folds"):
        AlarmBudget(0.01, folds=1).check()
    with pytest.raises(InvalidParameterError, match="fold_order"):
        AlarmBudget(0.01, fold_order="random").check()
    with pytest.raises(InvalidParameterError, match="at least one"):
        AlarmBudget(0.01).fit([])
    # with labels only the normal scores count
    assert AlarmBudget(0.5).fit([1.0, 2.0, 3.0, 100.0], [0, 0, 0, 1]) == 2.0


def test_fold_indices_partition():
    for order in ("blocks", "shuffled"):
        parts = fold_indices(23, 5, order, seed=1)
        assert len(parts) == 5 and sorted(np.concatenate(parts).tolist()) == list(range(23))
    assert fold_indices(10, 2, "blocks")[0].tolist() == [0, 1, 2, 3, 4]  # blocks keep the given (time) order
    assert fold_indices(10, 2, "shuffled", 3)[0].tolist() == fold_indices(10, 2, "shuffled", 3)[0].tolist()
    with pytest.raises(InvalidParameterError, match="at least 5"):
        fold_indices(3, 5)


def _seqs(contents):
    from logad.records import Sequence

    return [Sequence(f"s{i}", tuple(c), (i,), float(i), float(i), None, 0) for i, c in enumerate(contents)]


def test_cross_fitted_scores_are_out_of_fold_and_leave_the_detector_alone():
    from logad.detectors.registry import get_detector

    # a content seen only in the last block: in-sample it scores 0, out of fold it is new
    normals = _seqs([[1, 2, 3]] * 16 + [[1, 2, 2, 2, 3]] * 4)
    det = get_detector("knn")
    oof = cross_fitted_scores(det, normals, folds=5, fold_order="blocks")
    assert oof.shape == (20,) and np.all(oof[:16] == 0) and np.all(oof[16:] > 0)
    assert not getattr(det, "_fitted", False)  # the given detector is only a template
    fitted = get_detector("knn").fit(normals)
    assert np.all(fitted.score(normals) == 0)  # what a threshold from training scores would see


def test_cross_fitted_scores_supervised_needs_anomalies():
    from logad.detectors.registry import get_detector

    normals = _seqs([[1, 2, 3]] * 20)
    anomalies = _seqs([[1, 9, 3]] * 10)
    oof = cross_fitted_scores(get_detector("decision-tree"), normals, anomalies=anomalies, folds=5)
    assert oof.shape == (20,) and np.all(oof < 0.5)
    with pytest.raises(InvalidParameterError, match="at least 5 training anomalies"):
        cross_fitted_scores(get_detector("decision-tree"), normals, anomalies=anomalies[:2], folds=5)


def test_fewer_normals_than_folds_use_one_per_fold_and_say_so():
    p = AlarmBudget(0.01, folds=5)
    assert p.folds_for(3) == 3
    p.fit([1.0, 2.0, 3.0])
    d = p.to_dict()
    assert d["folds"] == 3 and d["folds_asked"] == 5 and "needs at least 99" in d["warning"]
    with pytest.raises(InvalidParameterError, match="at least 2 normal sequences"):
        AlarmBudget(0.01).folds_for(1)


def test_scores_needed_for_quantile_is_not_fooled_by_rounding():
    from logad.detectors.thresholds import scores_needed_for_quantile

    assert [scores_needed_for_quantile(q) for q in (0.5, 0.9, 0.95, 0.99, 0.999)] == [2, 10, 20, 100, 1000]
    assert scores_needed_for_quantile(1.0) is None
