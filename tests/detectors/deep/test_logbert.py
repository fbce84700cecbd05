"""LogBERT detector: tiny synthetic sessions, fast."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.conftest import needs_torch  # noqa: E402

torch = needs_torch()  # skips only when torch is absent: a broken torch fails loudly

from logad.detectors.deep.logbert import LogBERTDetector  # noqa: E402
from logad.errors import InputError, InvalidParameterError  # noqa: E402
from logad.records import Sequence  # noqa: E402

PATTERNS = [(1, 2, 3, 4, 5, 6), (1, 2, 7, 4, 5, 6), (1, 8, 3, 3, 5, 6)]
TINY = dict(hidden=16, layers=1, heads=2, ff=32, epochs=8, batch_size=16, lr=3e-3)


def _seq(i, tids, label=0):
    return Sequence(f"s{i}", tuple(tids), label=label)


def make_data(seed):
    rng = random.Random(seed)
    normal = [_seq(i, PATTERNS[rng.randrange(3)]) for i in range(150)]
    anomalies = []
    for i in range(30):
        base = list(PATTERNS[rng.randrange(3)])
        kind = i % 3
        if kind == 0:  # an unseen key
            base.insert(rng.randrange(1, len(base)), 99)
        elif kind == 1:  # a swapped order
            j = rng.randrange(1, len(base) - 2)
            base[j], base[j + 1] = base[j + 1], base[j]
        else:  # a missing step
            del base[rng.randrange(1, len(base) - 1)]
        anomalies.append(_seq(1000 + i, base, 1))
    return normal, anomalies


NORMAL, _ = make_data(0)
TEST_NORMAL, TEST_ANOMALIES = make_data(1)
TEST = TEST_NORMAL + TEST_ANOMALIES


@pytest.fixture(scope="module")
def fitted():
    det = LogBERTDetector(**TINY)
    assert det.fit(NORMAL) is det
    return det


def test_scores_shape_dtype_and_direction(fitted):
    scores = fitted.score(TEST)
    assert scores.shape == (len(TEST),) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    n = len(TEST_NORMAL)
    assert scores[n:].mean() > scores[:n].mean()
    assert fitted.score([]).shape == (0,)
    assert np.isfinite(fitted.radius_) and len(fitted.center_) == TINY["hidden"]


def test_unseen_empty_and_short_sequences(fitted):
    scores = fitted.score([_seq(1, ()), _seq(2, (1,)), _seq(3, (500, 501, 0)), _seq(4, (1, 2, 99, 4, 5, 6))])
    assert np.isfinite(scores).all()
    assert scores[0] > 50  # an empty session: start -> end was never seen in training
    assert scores[2] > 50  # unseen keys count with the worst surprise
    ratio = LogBERTDetector(**{**TINY, "scoring": "ratio", "unseen_transitions": False}).fit(NORMAL)
    r = ratio.score([_seq(1, ()), _seq(3, (500, 501, 0))])
    assert r[0] == 0.0 and r[1] == 1.0  # the paper's rule: nothing masked; every masked key missed
    assert scores[3] > 0
    assert 99 in [tid for tid, _ in fitted.explain(_seq(4, (1, 2, 99, 4, 5, 6)))]
    assert fitted.explain(_seq(1, ()))[0][0] == 0  # id 0: the sequence ended where none ever did


def test_determinism():
    a = LogBERTDetector(**TINY).fit(NORMAL)
    b = LogBERTDetector(**TINY).fit(NORMAL)
    np.testing.assert_array_equal(a.score(TEST), b.score(TEST))


def test_random_mask_mode_and_hypersphere(fitted):
    det = LogBERTDetector(**{**TINY, "epochs": 2, "mask_mode": "random", "use_hypersphere": True, "scoring": "ratio"}).fit(NORMAL)
    s1, s2 = det.score(TEST), det.score(TEST[::-1])[::-1]
    np.testing.assert_array_equal(s1, s2)  # a sequence's score does not depend on its batch
    assert np.isfinite(s1).all() and s1.max() <= 2.0


def test_single_mask_mode_predicts_each_key_from_all_others(fitted):
    det = LogBERTDetector(**{**TINY, "mask_mode": "single"})
    det.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_") or k == "_fitted"})  # same model
    ids = det._encode(TEST[0])
    assert det._masks(ids) == [[j] for j in range(len(ids))]
    (pos, _, _), = det._position_results([ids])
    assert pos.tolist() == list(range(len(ids)))  # every position scored exactly once
    s1, s2 = det.score(TEST), det.score(TEST[::-1])[::-1]
    np.testing.assert_array_equal(s1, s2)
    assert np.isfinite(s1).all() and not np.array_equal(s1, fitted.score(TEST))


def test_key_calibrated_scoring(fitted, tmp_path):
    det = fitted  # the default scoring
    assert det.scoring == "key-calibrated"
    assert det.key_surprise_max_.shape == (len(det.vocab_),) and det.key_surprise_max_.max() > 0
    # no training sequence is more surprising anywhere than its keys' training maxima (float32 noise aside)
    assert (det.score(NORMAL) <= 1e-5).all()
    raw = LogBERTDetector(**{**TINY, "scoring": "surprise"})
    raw.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_") or k == "_fitted"})  # same model
    plain, calibrated = raw.score(TEST), det.score(TEST)
    assert (calibrated <= plain + 1e-5).all() and not np.array_equal(plain, calibrated)
    n = len(TEST_NORMAL)
    assert calibrated[n:].mean() > calibrated[:n].mean()
    odd = det.score([_seq(1, (500, 501, 0)), _seq(2, ())])
    assert (odd > 50).all()  # unseen keys and transitions keep the worst surprise
    det.save(tmp_path / "cal")
    loaded = LogBERTDetector.load(tmp_path / "cal")
    np.testing.assert_array_equal(loaded.key_surprise_max_, det.key_surprise_max_)
    np.testing.assert_array_equal(loaded.score(TEST), calibrated)


def test_save_load_roundtrip(fitted, tmp_path):
    fitted.threshold_ = 0.25
    fitted.save(tmp_path / "m")
    loaded = LogBERTDetector.load(tmp_path / "m")
    assert loaded.get_params() == fitted.get_params()
    assert loaded.threshold_ == 0.25
    test = TEST + [_seq(9, ()), _seq(10, (77, 78))]
    np.testing.assert_array_equal(loaded.score(test), fitted.score(test))
    assert loaded.radius_ == fitted.radius_
    fitted.threshold_ = None


def test_load_refuses_other_or_corrupt_folder(fitted, tmp_path):
    from logad.detectors.deep.deeplog import DeepLogDetector

    DeepLogDetector(epochs=1, hidden=8, embed_dim=4, layers=1).fit(NORMAL).save(tmp_path / "other")
    with pytest.raises(InputError, match="deeplog"):
        LogBERTDetector.load(tmp_path / "other")
    with pytest.raises(InputError, match="missing"):
        LogBERTDetector.load(tmp_path / "nothing")
    fitted.save(tmp_path / "bad")
    (tmp_path / "bad" / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="corrupt"):
        LogBERTDetector.load(tmp_path / "bad")
    fitted.save(tmp_path / "bad2")
    (tmp_path / "bad2" / "arrays.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError):
        LogBERTDetector.load(tmp_path / "bad2")


@pytest.mark.parametrize(
    "params, match",
    [({"top_g": 0}, "top_g"), ({"mask_ratio": 0.0}, "mask_ratio"), ({"nu": 1.0}, "nu"),
     ({"mask_mode": "some"}, "mask_mode"), ({"scoring": "max"}, "scoring"), ({"hidden": 15, "heads": 4}, "hidden")],
)
def test_bad_params(params, match):
    det = LogBERTDetector(**params)  # construction only stores
    with pytest.raises(InvalidParameterError, match=match):
        det.fit(NORMAL)
