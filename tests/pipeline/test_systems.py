"""Whole systems for cross-system experiments: loading sessions, raw logs, text windows, per-node windows."""

from __future__ import annotations

import gzip
import json

import pytest

from logad.errors import InputError, InvalidParameterError, UnknownNameError
from logad.pipeline.systems import load_system, parse_spec
from tests.conftest import shared_data
from tests.synthetic.session_folders import _session_folder


def test_sessions_system_with_template_texts(tmp_path):
    data = load_system(f"openstack-sessions={_session_folder(tmp_path)}")
    assert data.system == "openstack" and data.name == "openstack-sessions"
    assert len(data.sequences) == 32 and sum(s.label for s in data.sequences) == 10
    assert data.templates == {1: "start <*>", 2: "claim <*>", 3: "stop", 4: "error <*>"}
    assert data.ordered_by.startswith("file order")
    with pytest.raises(InvalidParameterError, match="no log entries"):
        load_system(f"openstack-sessions={tmp_path}", entries=True)


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
