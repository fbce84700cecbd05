"""`logad transfer --method mlad`: honest and original protocols, the target threshold rules."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.errors import InvalidParameterError  # noqa: E402
from logad.experiments.mlad import run_transfer  # noqa: E402
from logad.experiments.transfer import TransferSetup, make_setup  # noqa: E402
from tests.synthetic.mlad import COMPUTE, FAST, STORAGE, _system  # noqa: E402


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
