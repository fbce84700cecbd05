"""Registered datasets whose logs are many files: Hadoop (one log per container, labels per
application) and OpenStack (a list of anomalous instances), on small fixtures in their LogHub
layouts (issue 18 item 7: `hadoop` read its labels file as the raw log)."""

from __future__ import annotations

import json

import pytest

from logad.cli import main
from logad.datasets.local import labels_for, raw_log_paths
from logad.datasets.registry import get_dataset
from logad.errors import InputError
from logad.formats.labels import read_application_labels
from logad.pipeline import load_dataset

NORMAL_APPS = [f"application_1445087491445_{i:04d}" for i in range(1, 9)]
FAILED_APPS = [f"application_1445182159119_{i:04d}" for i in range(1, 5)]

LABELS = "WordCount:\n\nNormal:\n" + "".join(f"+ {a}\n" for a in NORMAL_APPS) + \
    "\nMachine down:\n" + "".join(f"+ {a}\n" for a in FAILED_APPS[:2]) + \
    "\nDisk full:\n" + "".join(f"+ {a}\n" for a in FAILED_APPS[2:])


def _container(app: str, c: int, day: int, failing: bool) -> str:
    t = f"2015-10-{day:02d} 18:{c:02d}"
    lines = [f"{t}:01,100 INFO [main] org.apache.hadoop.mapred.YarnChild: Starting task attempt_{c}",
             f"{t}:02,200 INFO [main] org.apache.hadoop.mapred.Task: Using ResourceCalculatorProcessTree : [ ]",
             f"{t}:03,300 INFO [main] org.apache.hadoop.mapred.MapTask: Processing split: hdfs://msra:9000/in/{c}",
             f"{t}:04,400 INFO [main] org.apache.hadoop.mapred.Task: Task:attempt_{c} is done. And is in the process of committing"]
    if failing:
        lines.insert(3, f"{t}:03,900 WARN [ResponseProcessor] org.apache.hadoop.hdfs.DFSClient: DFSOutputStream "
                        f"ResponseProcessor exception for block BP-{c}:blk_{c}")
        lines.insert(4, f"{t}:03,950 ERROR [main] org.apache.hadoop.mapred.YarnChild: Exception running child : "
                        "java.io.IOException: No space left on device")
    return "\n".join(lines) + "\n"


@pytest.fixture()
def hadoop(tmp_path):
    (tmp_path / "abnormal_label.txt").write_text(LABELS)
    for k, app in enumerate(NORMAL_APPS + FAILED_APPS):
        folder = tmp_path / app
        folder.mkdir()
        for c in range(1, 4):
            (folder / f"container_{app[12:]}_01_00000{c}.log").write_text(
                _container(app, c, day=10 + k, failing=app in FAILED_APPS and c == 2))
    return tmp_path


def test_application_labels_are_read_by_heading(hadoop):
    labels = read_application_labels(hadoop / "abnormal_label.txt")
    assert {labels[a] for a in NORMAL_APPS} == {0} and {labels[a] for a in FAILED_APPS} == {1}


def test_hadoop_loads_one_sequence_per_container_labelled_by_its_application(hadoop):
    info = get_dataset("hadoop")
    assert len(raw_log_paths(info, hadoop)) == 36
    loaded = load_dataset("hadoop", hadoop)
    assert loaded.grouping["kind"] == "file"
    assert len(loaded.sequences) == 36
    by_app = {}
    for s in loaded.sequences:
        app = next(a for a in NORMAL_APPS + FAILED_APPS if a in s.sequence_id)
        by_app.setdefault(app, set()).add(s.label)
    assert all(by_app[a] == {0} for a in NORMAL_APPS) and all(by_app[a] == {1} for a in FAILED_APPS)
    assert labels_for(info, hadoop)[FAILED_APPS[0]] == 1


def test_evaluate_on_hadoop_from_the_cli(hadoop, tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--dataset", "hadoop", "--data-dir", str(hadoop), "--detector", "new-template",
                 "--rollup", r"(application_\d+_\d+)", "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["data"]["sequences"] == 36 and result["data"]["anomalous_sequences"] == 12
    assert result["rollup"]["units"] >= 1


def test_a_labels_file_without_applications_is_refused(tmp_path):
    (tmp_path / "abnormal_label.txt").write_text("nothing here\n")
    with pytest.raises(InputError, match="names no application"):
        read_application_labels(tmp_path / "abnormal_label.txt")


def test_openstack_sessions_are_labelled_by_its_list_of_anomalous_instances(tmp_path):
    bad = "a6e6b9cc-1f83-4f3e-8e3a-7c1d4dd0a111"
    good = "b7f7c0dd-2a94-4a4f-9f4b-8d2e5ee1b222"
    (tmp_path / "anomaly_labels.txt").write_text(f"The following VM instances are abnormal:\n{bad}\n")
    lines = []
    for k, inst in enumerate([good, bad]):
        for s in range(3):
            lines.append(f"nova-compute.log.1 2017-05-16 00:0{k}:0{s}.100 2931 INFO nova.compute.manager "
                         f"[req-1 - - - - -] [instance: {inst}] VM Started (Lifecycle Event)")
    (tmp_path / "openstack_normal1.log").write_text("\n".join(lines) + "\n")
    loaded = load_dataset("openstack", tmp_path)
    labels = {s.sequence_id: s.label for s in loaded.sequences}
    assert labels == {good: 0, bad: 1}
    assert loaded.unlabelled_sessions == []
