"""A new system one command away: the three layouts for a user's own data (issue 19 item 5,
issue 18 items 8 and 9), for `logad evaluate` and for the cross-system loaders."""

from __future__ import annotations

import gzip
import json
import random

import pytest

from logad.cli import main
from logad.pipeline import load_dataset, load_system
from tests.cli.test_cli import one_line_error


def _sessions(folder, prefix="myapp"):
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    normal = lambda: [1, 2] + [3] * rng.randint(1, 3) + [4]  # noqa: E731
    (folder / f"{prefix}_train").write_text("".join(f"t{i}," + " ".join(map(str, normal())) + "\n" for i in range(60)))
    (folder / f"{prefix}_test_normal").write_text("".join(" ".join(map(str, normal())) + "\n" for _ in range(40)))
    (folder / f"{prefix}_test_abnormal").write_text("".join(" ".join(map(str, normal() + [5])) + "\n" for _ in range(10)))
    (folder / f"{prefix}_templates.csv").write_text("start <*>\nread <*>\nloop <*>\nend\ncrash <*>\n")
    return folder


def test_own_session_files_are_evaluated_on_their_own_split(tmp_path):
    folder = _sessions(tmp_path / "mine")
    loaded = load_dataset("sessions", folder)
    split = loaded.split  # the files own split: train file (its last 10% validation), test files
    assert split is not None and len(split.train) + len(split.validation) == 60 and len(split.test) == 50
    assert loaded.templates[5] == "crash <*>"
    out = tmp_path / "r.json"
    assert main(["evaluate", "--dataset", "sessions", "--data-dir", str(folder), "--detector", "new-template",
                 "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["metrics"]["recall"] == 1.0


def test_own_session_files_as_a_transfer_system_keep_their_name_and_templates(tmp_path):
    system = load_system(f"sessions={_sessions(tmp_path / 'mine', 'svc')}")
    assert system.name == "sessions:svc" and system.templates[1] == "start <*>"
    assert sum(s.label for s in system.sequences) == 10


def test_a_session_folder_missing_a_part_names_it(tmp_path, capsys):
    folder = _sessions(tmp_path / "mine")
    (folder / "myapp_test_abnormal").unlink()
    assert main(["evaluate", "--dataset", "sessions", "--data-dir", str(folder), "--detector", "knn"]) == 2
    assert "*_test_abnormal session file" in one_line_error(capsys)


def _labelled_logs(folder, toml: str):
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["JobId,Label"]
    for job in range(12):
        bad = job in (3, 9)
        lines = [f"2024-01-0{1 + job % 9} 10:00:{s:02d} INFO job_{job} step {s} done" for s in range(6)]
        if bad:
            lines.insert(3, f"2024-01-0{1 + job % 9} 10:00:03 ERROR job_{job} lost its worker")
        (folder / f"job_{job}.log").write_text("\n".join(lines) + "\n")
        rows.append(f"job_{job},{'Anomaly' if bad else 'Normal'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    (folder / "dataset.toml").write_text(toml)
    return folder


def test_own_raw_logs_described_by_a_dataset_toml(tmp_path):
    folder = _labelled_logs(tmp_path / "jobs", 'format = "<Date> <Time> <Level> <Content>"\nlabels = "labels.csv"\n'
                                               'session_from_path = "(job_\\\\d+)"\n')
    loaded = load_dataset("labelled-logs", folder)
    labels = {s.sequence_id: s.label for s in loaded.sequences}
    assert len(labels) == 12 and labels["job_3"] == 1 and labels["job_0"] == 0 and sum(labels.values()) == 2


@pytest.mark.parametrize("toml, needle", [
    ('format = "hdfs"\nlabel = "x.csv"\n', "did you mean 'labels'"),
    ('labels = "labels.csv"\n', "`format` is required"),
])
def test_a_bad_dataset_toml_is_refused_in_one_line(tmp_path, capsys, toml, needle):
    folder = _labelled_logs(tmp_path / "jobs", toml)
    assert main(["evaluate", "--dataset", "labelled-logs", "--data-dir", str(folder), "--detector", "knn"]) == 2
    assert needle in one_line_error(capsys)


def test_text_windows_by_path_for_evaluate(tmp_path):
    """Issue 18 item 9: they were refused as 'parsing ground truth' and only CroSysLog read them."""
    path = tmp_path / "windows.csv.gz"
    rows = ["Content,Label,item_Label"]
    rng = random.Random(1)
    for w in range(40):
        msgs = [f"node {rng.randint(1, 9)} heartbeat ok" for _ in range(10)]
        item = [0] * 10
        if w % 8 == 7:
            msgs[4], item[4] = "kernel panic on node 3", 1
        rows.append('"' + " ;-; ".join(msgs) + f'",{int(any(item))},"{json.dumps(item)}"')
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    loaded = load_dataset("text-windows", path)
    assert len(loaded.sequences) == 40 and sum(s.label for s in loaded.sequences) == 5
    out = tmp_path / "r.json"
    assert main(["evaluate", "--dataset", "text-windows", "--data-dir", str(path), "--detector", "new-template",
                 "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["data"]["sequences"] == 40


def test_an_unknown_dataset_says_how_to_point_at_your_own(capsys):
    assert main(["evaluate", "--dataset", "mysystem", "--data-dir", ".", "--detector", "knn"]) == 2
    err = one_line_error(capsys)
    assert "--dataset sessions" in err and "--dataset labelled-logs" in err and "--logs" in err
