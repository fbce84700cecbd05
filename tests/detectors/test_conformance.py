"""One conformance sweep over every registered detector."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from logad.detectors import Detector, detector_class, get_detector, list_detectors
from logad.detectors.registry import torch_available
from logad.errors import InputError, InvalidParameterError, NotFittedError, UnknownNameError
from logad.records import Sequence

PATTERNS = [(1, 2, 3, 4, 5), (1, 2, 3, 3, 4, 5), (1, 6, 7, 5), (1, 2, 3, 4, 8, 5)]
# deep detectors join the sweep at tiny sizes when torch is installed (skipped without it; a broken
# torch fails loudly because find_spec finds it and the import then raises)
ALL = list_detectors("classical") + (list_detectors("deep") if torch_available() else [])
TINY = {
    "deeplog": {"epochs": 6, "hidden": 16, "embed_dim": 8, "layers": 1, "batch_size": 64, "n_models": 1},
    "logbert": {"epochs": 4, "hidden": 16, "layers": 1, "heads": 2, "ff": 32, "batch_size": 32},
    "loganomaly": {"epochs": 6, "hidden": 16, "batch_size": 64},
    "logrobust": {"epochs": 25, "hidden": 16, "batch_size": 16, "lr": 1e-2, "n_models": 1},
    "lstm-w2v": {"epochs": 8, "hidden": 16, "times": 2, "batch_size": 32, "lr": 1e-2, "patience": 8},
    "mlad": {"encoder": "hashing", "d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "n_components": 2,
             "epochs": 10, "batch_size": 64, "lr": 3e-3},
    "metalog": {"epochs": 8, "hidden": 16, "layers": 1, "batch_size": 32, "lr": 1e-2},
}

# one bad value per parameter family, to check refusal in fit
BAD_PARAMS = {
    "new-template": {"mode": "sum"},
    "pca": {"n_components": 0},
    "invariants-mining": {"percentage": 1.5},
    "log-clustering": {"max_dist": -0.1},
    "isolation-forest": {"n_estimators": 0},
    "knn": {"n_neighbors": 0},
    "decision-tree": {"max_depth": 0},
    "logistic-regression": {"C": 0.0},
    "svm": {"C": -1.0},
    "random-forest": {"n_estimators": 0},
    "deeplog": {"top_g": 0},
    "logbert": {"top_g": 0},
    "loganomaly": {"top_g": 0},
    "logrobust": {"hidden": 0},
    "lstm-w2v": {"times": 0},
    "mlad": {"alpha": 2.5},
    "metalog": {"hidden": 0},
}


def _seq(i: int, tids, label: int) -> Sequence:
    return Sequence(f"s{i}", tuple(tids), label=label)


def _normal_pattern(rng: random.Random) -> list[int]:
    """A normal execution: one of a few fixed paths, with a loop step repeated 1-3 times."""
    path = PATTERNS[rng.randrange(len(PATTERNS))]
    out: list[int] = []
    for t in path:
        out.extend([t] * (rng.choice((1, 1, 2, 3)) if t in (3, 7) else 1))
    return out


def make_data(seed: int = 0):
    rng = random.Random(seed)
    normal = [_seq(i, _normal_pattern(rng), 0) for i in range(400)]
    anomalies = []
    for i in range(60):
        base = _normal_pattern(rng)
        kind = i % 3
        if kind == 0:  # an extra template never seen in normal operation
            base.insert(rng.randrange(1, len(base)), 99)
        elif kind == 1:  # a missing step
            del base[rng.randrange(1, len(base) - 1)]
        else:  # a step repeated far more often than ever in training, then a crash template
            base = base[:-1] + [base[1]] * 8 + [98]
        anomalies.append(_seq(1000 + i, base, 1))
    return normal, anomalies


NORMAL, ANOMALIES = make_data()
TEST_NORMAL, TEST_ANOMALIES = make_data(seed=1)


def fitted(name: str, **params) -> Detector:
    det = get_detector(name, **{**TINY.get(name, {}), **params})
    if det.supervised:
        train = NORMAL + ANOMALIES
        det.fit(train, np.array([s.label for s in train]))
    else:
        det.fit(NORMAL)
    return det


@pytest.fixture(scope="module")
def fitted_all():
    return {name: fitted(name) for name in ALL}


def test_registry_lists_all_classical():
    assert set(ALL) <= set(BAD_PARAMS)
    assert set(list_detectors("classical")) <= set(ALL)
    for name in ALL:
        cls = detector_class(name)
        assert cls.name == name
        assert isinstance(cls.supervised, bool) and isinstance(cls.needs_normal_only, bool)


def test_unknown_detector_has_did_you_mean():
    with pytest.raises(UnknownNameError, match="did you mean 'knn'"):
        get_detector("knnn")
    with pytest.raises(InvalidParameterError, match="n_neighbors"):
        get_detector("knn", n_neighbours=3)


@pytest.mark.parametrize("name", ALL)
def test_score_shape_dtype_and_direction(name, fitted_all):
    det = fitted_all[name]
    test = TEST_NORMAL + TEST_ANOMALIES
    scores = det.score(test)
    assert scores.shape == (len(test),)
    assert scores.dtype == np.float64
    assert np.isfinite(scores).all()
    n = len(TEST_NORMAL)
    assert scores[n:].mean() > scores[:n].mean(), name
    assert det.score([]).shape == (0,)


@pytest.mark.parametrize("name", ALL)
def test_get_params_and_init_only_stores(name):
    det = get_detector(name, **BAD_PARAMS[name])  # no error at construction
    params = det.get_params()
    for k, v in BAD_PARAMS[name].items():
        assert params[k] == v
    json.dumps(params)
    assert det.threshold_ is None


@pytest.mark.parametrize("name", ALL)
def test_determinism(name):
    a, b = fitted(name), fitted(name)
    test = TEST_NORMAL + TEST_ANOMALIES
    np.testing.assert_array_equal(a.score(test), b.score(test))


@pytest.mark.parametrize("name", ALL)
def test_save_load_roundtrip(name, fitted_all, tmp_path):
    det = fitted_all[name]
    det.threshold_ = 0.5
    det.save(tmp_path / "m")
    test = TEST_NORMAL + TEST_ANOMALIES + [_seq(9, (), 0), _seq(10, (77, 78), 0)]
    for loaded in (detector_class(name).load(tmp_path / "m"), Detector.load(tmp_path / "m")):
        assert type(loaded) is type(det)
        assert loaded.get_params() == det.get_params()
        assert loaded.threshold_ == 0.5
        np.testing.assert_array_equal(loaded.score(test), det.score(test))
        np.testing.assert_array_equal(loaded.predict(test), det.predict(test))
    det.threshold_ = None


@pytest.mark.parametrize("name", ALL)
def test_load_refuses_other_or_corrupt_folder(name, fitted_all, tmp_path):
    other = "knn" if name != "knn" else "pca"
    fitted_all[other].save(tmp_path / "other")
    with pytest.raises(InputError, match=other):
        detector_class(name).load(tmp_path / "other")
    with pytest.raises(InputError, match="missing"):
        detector_class(name).load(tmp_path / "nothing")
    fitted_all[name].save(tmp_path / "bad")
    (tmp_path / "bad" / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="corrupt"):
        detector_class(name).load(tmp_path / "bad")
    fitted_all[name].save(tmp_path / "bad2")
    (tmp_path / "bad2" / "arrays.safetensors").write_bytes(b"garbage")  # every fitted array, weights too
    with pytest.raises(InputError, match="checksum"):
        detector_class(name).load(tmp_path / "bad2")


@pytest.mark.parametrize("name", ALL)
def test_refuses_bad_input(name):
    with pytest.raises(InvalidParameterError):
        get_detector(name, **TINY.get(name, {})).fit([])
    with pytest.raises(InvalidParameterError):
        fitted(name, **BAD_PARAMS[name])
    with pytest.raises(NotFittedError):
        get_detector(name, **TINY.get(name, {})).score(TEST_NORMAL)
    with pytest.raises(InvalidParameterError):
        get_detector(name, **TINY.get(name, {})).fit(NORMAL, np.zeros(3))


@pytest.mark.parametrize("name", ALL)
def test_unseen_and_empty_sequences_score(name, fitted_all):
    det = fitted_all[name]
    scores = det.score([_seq(1, (), 0), _seq(2, (500, 501, 0), 0), _seq(3, (0,), 0)])
    assert scores.shape == (3,) and np.isfinite(scores).all()


@pytest.mark.parametrize("name", ALL)
def test_predict_needs_threshold(name, fitted_all):
    det = fitted_all[name]
    det.threshold_ = None
    with pytest.raises(NotFittedError, match="threshold"):
        det.predict(TEST_NORMAL)
    det.threshold_ = float(np.median(det.score(TEST_NORMAL + TEST_ANOMALIES)))
    pred = det.predict(TEST_NORMAL + TEST_ANOMALIES)
    assert pred.dtype == bool
    det.threshold_ = None


@pytest.mark.parametrize("name", ALL)
def test_explain_if_supported(name, fitted_all):
    det = fitted_all[name]
    try:
        top = det.explain(_seq(1, (1, 2, 99, 3, 4, 5), 1))
    except NotImplementedError:
        return
    assert all(isinstance(t, int) and isinstance(w, float) for t, w in top)
    assert top and top[0][0] in (0, 99)  # the unseen template drives the score (0 = 'unseen' column)


@pytest.mark.parametrize("name", [n for n in ALL if not detector_class(n).supervised])
def test_semi_supervised_uses_only_normal_rows_when_given_labels(name):
    train = NORMAL + ANOMALIES
    a = get_detector(name, **TINY.get(name, {})).fit(train, np.array([s.label for s in train]))
    b = get_detector(name, **TINY.get(name, {})).fit(NORMAL)
    test = TEST_NORMAL + TEST_ANOMALIES
    np.testing.assert_array_equal(a.score(test), b.score(test))


@pytest.mark.parametrize("name", [n for n in ALL if detector_class(n).supervised])
def test_supervised_needs_both_classes(name):
    with pytest.raises(InvalidParameterError, match="both classes"):
        get_detector(name, **TINY.get(name, {})).fit(NORMAL, np.zeros(len(NORMAL), dtype=int))
    # labels can come from the sequences themselves
    get_detector(name, **TINY.get(name, {})).fit(NORMAL + ANOMALIES)


@pytest.mark.parametrize("name", ALL)
def test_capabilities_are_declared_as_implemented(name):
    """Callers trust the class's declarations instead of probing with hasattr: each must be true."""
    cls = detector_class(name)
    assert cls.explains == (cls.explain is not Detector.explain)
    assert cls.localises == callable(getattr(cls, "localise", None))
    assert cls.uses_templates == (cls.add_templates is not Detector.add_templates)
    assert isinstance(cls.reports_epochs, bool)
    assert cls.max_score is None or isinstance(cls.max_score, float)


DEEP = [n for n in ALL if n in list_detectors("deep")]
UNSEEN = _seq(7000, (901, 902, 903, 904, 905, 906), 1)


@pytest.mark.parametrize("name", DEEP)
def test_a_sequence_of_unseen_templates_scores_above_every_training_sequence_and_alarms(name, fitted_all):
    det = fitted_all[name]
    train_normal = det.score(NORMAL)
    threshold = float(train_normal.max())  # the strictest threshold normal training data can give
    assert det.score([UNSEEN])[0] > threshold
    det.threshold_ = threshold
    assert det.predict([UNSEEN])[0]
    det.threshold_ = None


@pytest.mark.parametrize("name", ["deeplog", "loganomaly", "logbert"])
def test_novelty_scores_keep_their_order_beyond_the_cap(name, fitted_all):
    """A held-out normal holding one never-seen template must not set a threshold nothing can pass:
    more novelty (more unseen templates, a larger share of the sequence) scores higher."""
    if name not in fitted_all:
        pytest.skip("needs torch")
    det = fitted_all[name]
    one = _seq(7001, (1, 2, 3, 901, 4, 5), 0)
    three = _seq(7002, (1, 901, 3, 902, 4, 903, 5), 1)
    all_unseen = _seq(7003, (901, 902, 903), 1)
    s_one, s_three, s_all = det.score([one, three, all_unseen])
    assert s_one < s_three and s_one < s_all
    det.threshold_ = float(s_one)
    assert det.predict([three, all_unseen]).all()
    det.threshold_ = None


@pytest.mark.parametrize("name", [n for n in ALL if detector_class(n).max_score is not None])
def test_a_threshold_at_the_largest_possible_score_is_reported(name, fitted_all):
    from logad.detectors.base import never_alarms

    det = fitted_all[name]
    assert never_alarms(det, det.max_score) and "never alarm" in never_alarms(det, det.max_score)
    assert never_alarms(det, det.max_score - 0.01) is None
