"""The transfer setup's splits and label budgets."""

from __future__ import annotations

import numpy as np
import pytest

from logad.errors import InvalidParameterError, LogadError
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


def test_a_session_dataset_keeps_its_own_split(tmp_path):
    from logad.experiments.transfer import make_setup

    (tmp_path / "t").mkdir()
    (tmp_path / "s").mkdir()
    target = load_system(f"openstack-sessions={_session_folder(tmp_path / 't')}")
    source = load_system(f"openstack-sessions-loghub={_session_folder(tmp_path / 's')}")
    setup = make_setup([source], target, 0.5, seed=0)
    split = setup.target_split
    assert split.protocol == "session-files" and "own split" in split.details["ordered_by"]
    assert [s.sequence_id for s in split.train + split.validation] == ["a", "b"]  # the training file, in order
    assert sorted(s.sequence_id for s in split.test) == sorted([f"n{i}" for i in range(20)] + [f"x{i}" for i in range(10)])
    assert setup.describe()["target_split"]["files"]["test_abnormal"] == "openstack_test_abnormal"
    # the source stays pooled (its anomalies are training data); --split pooled pools the target too
    assert setup.source_splits[source.name].protocol == "stratified-shuffle"
    assert make_setup([source], target, 0.5, split="pooled").target_split.protocol == "stratified-shuffle"
    with pytest.raises(LogadError, match="unknown split 'own'"):
        make_setup([source], target, 0.5, split="own")


def test_own_session_files_with_an_underscore_in_their_name(tmp_path):
    for part, body in (("train", "a,1 2\nb,1 2\nc,1 2\n"), ("test_normal", "n,1 2\n"), ("test_abnormal", "x,1 3\n")):
        (tmp_path / f"my_app_{part}").write_text(body, encoding="utf-8")
    split = split_system(load_system(f"sessions={tmp_path}"), split="auto")
    assert [s.sequence_id for s in split.train + split.validation] == ["a", "b", "c"]
    assert [(s.sequence_id, s.label) for s in split.test] == [("n", 0), ("x", 1)]


def _grouped_system(n_groups: int = 30, per_group: int = 4):
    """Sessions of `n_groups` VMs (ids vm<g>-s<i>), no timestamps; every 5th VM misbehaves in one session."""
    from logad.pipeline.system_data import SystemData
    from logad.records import Sequence

    seqs = [Sequence(f"vm{g}-s{i}", (1, 2, 3), label=int(g % 5 == 0 and i == 1))
            for i in range(per_group) for g in range(n_groups)]  # interleaved, as a log would
    return SystemData(name="vms", system="openstack", sequences=seqs, templates={}, ordered_by="file order (no timestamps)",
                      source="synthetic")


def test_split_groups_keep_whole_groups_on_one_side():
    data = _grouped_system()

    def vms(seqs):
        return {s.sequence_id.split("-")[0] for s in seqs}

    leaky = split_system(data, seed=0)
    assert vms(leaky.train + leaky.validation) & vms(leaky.test)  # without groups, VMs straddle the split
    for seed in range(5):
        split = split_system(data, seed=seed, groups=r"^(vm\d+)-")
        train, val, test = vms(split.train), vms(split.validation), vms(split.test)
        assert not (train & val) and not (train & test) and not (val & test)
        assert len(train | val | test) == 30 and len(split.train + split.validation + split.test) == 120
        assert any(s.label for s in split.train) and any(s.label for s in split.test)  # stratified by group
        assert split.protocol == "stratified-group-shuffle"
        assert split.details["groups"] == {"regex": r"^(vm\d+)-", "groups": 30, "anomalous_groups": 6,
                                           "on_both_sides": 0}
    # a regex that matches nothing leaves each sequence its own group: the plain shuffle's split
    single = split_system(data, seed=0, groups=r"^(nothing)")
    assert [s.sequence_id for s in single.test] == [s.sequence_id for s in leaky.test]
    with pytest.raises(InvalidParameterError, match="--split-groups"):
        split_system(data, groups="(unclosed")
