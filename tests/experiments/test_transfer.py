"""The transfer setup's splits and label budgets."""

from __future__ import annotations

import numpy as np
import pytest

from logad.errors import InvalidParameterError
from logad.experiments.transfer import label_budget, split_system
from logad.pipeline.systems import load_system
from tests.synthetic.session_folders import _session_folder


def test_stratified_split_without_time_is_seeded_and_says_so(tmp_path):
    data = load_system(f"openstack-sessions={_session_folder(tmp_path)}")
    a, b = split_system(data, seed=3), split_system(data, seed=3)
    assert [s.sequence_id for s in a.test] == [s.sequence_id for s in b.test]
    assert a.protocol == "stratified-shuffle" and "no timestamps" in a.details["ordered_by"]
    ids = [s.sequence_id for part in (a.train, a.validation, a.test) for s in part]
    assert sorted(ids) == sorted(s.sequence_id for s in data.sequences)  # nothing lost, nothing twice
    assert sum(s.label for s in a.train) == 6 and sum(s.label for s in a.test) == 3
    with pytest.raises(InvalidParameterError, match="ratios"):
        split_system(data, ratios=(0.5, 0.5, 0.5))


def test_label_budget():
    y = np.array([0] * 200 + [1] * 50)
    m = label_budget(y, 0.01, seed=0)
    assert m[:200].sum() == 2 and m[200:].sum() == 1  # 1 % of each class, at least one anomaly
    assert label_budget(y, 0.01, seed=0).tolist() == m.tolist()
    assert label_budget(y, 0.0).sum() == 0
    counted = label_budget(y, 25, seed=1)
    assert counted.sum() == 25 and counted[200:].sum() == 5
    assert label_budget(np.zeros(10, dtype=int), 0.5).sum() == 5  # no anomaly to label
    with pytest.raises(InvalidParameterError):
        label_budget(y, -0.1)


def test_label_budget_with_its_own_share_of_normals():
    y = np.array([0] * 200 + [1] * 50)
    m = label_budget(y, 0.02, seed=0, normal_amount=0.5)
    assert m[:200].sum() == 100 and m[200:].sum() == 1  # half the normals, 2 % of the anomalies
    assert label_budget(y, 0.02, seed=0, normal_amount=1.0)[:200].all()
    for bad in (-0.1, 1.5, float("nan"), True):
        with pytest.raises(InvalidParameterError, match="normal label amount"):
            label_budget(y, 0.01, normal_amount=bad)


def test_named_label_settings(tmp_path):
    from logad.experiments.transfer import LABEL_SETTINGS, make_setup

    (tmp_path / "t").mkdir()
    (tmp_path / "s").mkdir()
    target = load_system(f"openstack-sessions={_session_folder(tmp_path / 't')}")
    source = load_system(f"openstack-sessions-loghub={_session_folder(tmp_path / 's')}")
    code = make_setup([source], target, 0.01, label_setting="metalog-code")
    half = make_setup([source], target, 0.01, normal_amount=0.5)
    assert code.labelled.tolist() == half.labelled.tolist() and LABEL_SETTINGS["metalog-code"] == 0.5
    assert code.describe()["label_setting"] == "metalog-code" and "label_setting" not in half.describe()
    each = make_setup([source], target, 0.01, label_setting="each-class")
    assert each.labelled.tolist() == make_setup([source], target, 0.01).labelled.tolist()
    with pytest.raises(InvalidParameterError, match="half|0.5|share"):
        make_setup([source], target, 0.01, label_setting="metalog-code", normal_amount=0.2)
    with pytest.raises(Exception, match="label setting"):
        make_setup([source], target, 0.01, label_setting="most")
