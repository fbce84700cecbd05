"""Multi-system data: loading, splits, label budgets."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from logad.detectors.crosssystem.data import (
    label_budget,
    load_system,
    parse_spec,
    split_system,
)
from logad.errors import InputError, InvalidParameterError, UnknownNameError
from tests.conftest import shared_data


def _session_folder(tmp_path, with_templates=True):
    (tmp_path / "openstack_train").write_text("a,1 2 3\nb,1 2 3\n", encoding="utf-8")
    (tmp_path / "openstack_test_normal").write_text("".join(f"n{i},1 2 3\n" for i in range(20)), encoding="utf-8")
    (tmp_path / "openstack_test_abnormal").write_text("".join(f"x{i},1 4\n" for i in range(10)), encoding="utf-8")
    if with_templates:
        (tmp_path / "OpenStack_templates.csv").write_text("start <*>\nclaim <*>\nstop\nerror <*>\n", encoding="utf-8")
    return tmp_path


def test_sessions_system_with_template_texts(tmp_path):
    data = load_system(f"openstack-sessions={_session_folder(tmp_path)}")
    assert data.system == "openstack" and data.name == "openstack-sessions"
    assert len(data.sequences) == 32 and sum(s.label for s in data.sequences) == 10
    assert data.templates == {1: "start <*>", 2: "claim <*>", 3: "stop", 4: "error <*>"}
    assert data.ordered_by.startswith("file order")
    with pytest.raises(InvalidParameterError, match="no log entries"):
        load_system(f"openstack-sessions={tmp_path}", entries=True)


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


def test_text_windows_entries(tmp_path):
    rows = [("a b ;-; c d 1 ;-; e", 1, [0, 1, 0]), ("a b ;-; a b", 0, [0, 0])]
    body = "Content,Label,item_Label,session_length\n" + "".join(
        f'"{c}",{lab},"{json.dumps(item)}",{len(item)}\n' for c, lab, item in rows
    )
    with gzip.open(tmp_path / "BGL_windows25.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(body)
    data = load_system(f"bgl-text-windows={tmp_path}")
    assert data.entries.texts == ["a b", "c d 1", "e", "a b", "a b"]
    assert data.entries.labels.tolist() == [0, 1, 0, 0, 0]
    assert data.entries.blocks.tolist() == [0, 0, 0, 1, 1]
    assert [s.label for s in data.sequences] == [1, 0]
    assert data.sequences[0].template_ids[0] == data.sequences[1].template_ids[0]  # same message, same template
    with gzip.open(tmp_path / "BGL_windows25.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write('Content,Label,item_Label,session_length\n"a ;-; b",0,"[0]",2\n')
    with pytest.raises(InputError, match="2 messages but 1 item labels"):
        load_system(f"bgl-text-windows={tmp_path}")


def test_bad_specs(tmp_path):
    with pytest.raises(InvalidParameterError):
        parse_spec("=x")
    with pytest.raises(UnknownNameError, match="did you mean"):
        load_system(f"openstak-sessions={tmp_path}")
    with pytest.raises(InputError, match="layout"):
        load_system(f"openstack-sessions={tmp_path}")  # empty folder
    assert parse_spec("hdfs")[1].name == "hdfs"


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


def test_real_systems_load():
    d = shared_data()
    bgl = load_system(f"bgl={d / 'bgl_2k'}", entries=True)
    assert len(bgl.entries) == 2000 and bgl.entries.labels.sum() == 143
    assert not any(t.startswith("-") for t in bgl.entries.texts[:50])  # the label field is never in the text
    assert len(bgl.sequences) == 100 and bgl.ordered_by == "time"
    hdfs = load_system(f"hdfs-sessions={d / 'hdfs_sessions'}")
    assert len(hdfs.templates) == 33 and sum(s.label for s in hdfs.sequences) == 16838


def test_per_node_windows(tmp_path):
    """Windows over each node's own lines: a node's alert never shares a window with another node."""
    lines = []
    for i in range(12):
        node = "R00-M0-N0" if i % 3 else "R01-M1-N1"
        label = "KERNDTLB" if i == 9 else "-"
        t = 1117838570 + i
        lines.append(f"{label} {t} 2005.06.03 {node} 2005-06-03-15.42.{i:02d}.363779 {node} RAS KERNEL INFO "
                     f"{'data TLB error interrupt' if label != '-' else f'instruction cache parity error corrected {i}'}")
    (tmp_path / "BGL.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain = load_system(f"bgl={tmp_path}", window=4)
    nodes = load_system(f"bgl={tmp_path}", window=4, per_entity=True)
    assert len(plain.sequences) == 3 and sum(s.label for s in plain.sequences) == 1
    assert nodes.details["grouping"]["kind"] == "entity"
    # node R01 has lines 0, 3, 6, 9 (one window, anomalous); node R00 has 8 lines (two normal windows)
    assert sorted((len(s.template_ids), s.label) for s in nodes.sequences) == [(4, 0), (4, 0), (4, 1)]
    (tmp_path / "s").mkdir()
    sessions = _session_folder(tmp_path / "s")  # session datasets keep their sessions
    assert len(load_system(f"openstack-sessions={sessions}", per_entity=True).sequences) == len(
        load_system(f"openstack-sessions={sessions}").sequences)
