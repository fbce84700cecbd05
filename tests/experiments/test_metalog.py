"""`logad transfer --method metalog`: the experiment, its baselines, the original protocol.

Two tiny synthetic systems and a tiny GloVe-format word-vector file written in tmp_path: no GloVe
package and no real data needed.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.errors import InvalidParameterError  # noqa: E402
from logad.experiments import metalog as ml  # noqa: E402
from logad.experiments.transfer import make_setup, method_runner  # noqa: E402
from logad.pipeline.systems import SystemData  # noqa: E402
from logad.records import Sequence  # noqa: E402
from logad.splitting.original import ORIGINAL_SPLITS, original_split  # noqa: E402
from tests.synthetic.metalog import OTHER, TINY, cloud, one_thread, params, store  # noqa: E402, F401


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
