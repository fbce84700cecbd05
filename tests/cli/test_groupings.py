"""One sequence per file, sessions named by the file's path, session timeouts, and refused
groupings, through the CLI (issue 18 item 2; issue 17 item 6; issue 13's float window size)."""

from __future__ import annotations

import csv
import json

import pytest

from logad.cli import main
from tests.cli.test_cli import one_line_error

FORMAT = "<Date> <Time> <Level> <Content>"


def _job(folder, job: int, workers: int, failing: bool = False) -> None:
    for w in range(workers):
        d = folder / f"application_{job:04d}"
        d.mkdir(parents=True, exist_ok=True)
        lines = [f"2024-01-01 10:{w:02d}:{s:02d} INFO task {s} of worker {w} started" for s in range(5)]
        lines += [f"2024-01-01 10:{w:02d}:{s + 5:02d} INFO task {s} of worker {w} finished in {s * 3} ms"
                  for s in range(5)]
        if failing and w == 0:
            lines.insert(4, "2024-01-01 10:00:04 ERROR container killed on request: disk full")
        (d / f"container_{job:04d}_{w:02d}.log").write_text("\n".join(lines) + "\n")


@pytest.fixture()
def jobs(tmp_path):
    for job in range(6):
        _job(tmp_path / "train", job, workers=3)
    _job(tmp_path / "new", 100, workers=3)
    _job(tmp_path / "new", 101, workers=3, failing=True)
    return tmp_path


def _files(folder) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.log"))


def test_one_sequence_per_file(jobs, tmp_path):
    model = tmp_path / "m"
    assert main(["train", "--logs", *_files(jobs / "train"), "--format", FORMAT, "--group", "file",
                 "--detector", "new-template", "--save", str(model), "--quiet"]) == 0
    grouping = json.loads((model / "model.json").read_text())["grouping"]
    assert grouping["kind"] == "file"
    out = tmp_path / "alarms.csv"
    new = _files(jobs / "new")
    assert main(["detect", *new, "--model", str(model), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["sequence_id"] for r in rows) == new  # one row per file, named by its path
    alarmed = {r["sequence_id"] for r in rows if r["alarm"] == "1"}
    assert alarmed == {p for p in new if p.endswith("container_0101_00.log")}


def test_sessions_named_by_the_files_path(jobs, tmp_path):
    model = tmp_path / "m"
    assert main(["train", "--logs", *_files(jobs / "train"), "--format", FORMAT,
                 "--session-from-path", r"(application_\d+)", "--detector", "new-template",
                 "--save", str(model), "--quiet"]) == 0
    grouping = json.loads((model / "model.json").read_text())["grouping"]
    assert grouping == {"kind": "session", "session_from_path": r"(application_\d+)", "session_regex": None}
    out = tmp_path / "alarms.csv"
    assert main(["detect", *_files(jobs / "new"), "--model", str(model), "--out", str(out), "--quiet"]) == 0
    rows = {r["sequence_id"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"application_0100", "application_0101"}  # the files of a job join one session
    assert rows["application_0101"]["alarm"] == "1" and rows["application_0100"]["alarm"] == "0"
    assert int(rows["application_0100"]["lines"]) == 30


def test_session_timeout_splits_a_session_in_log_time(tmp_path):
    log = tmp_path / "app.log"
    # a built-in format, so the lines carry their time (spark: "%y/%m/%d %H:%M:%S")
    lines = [f"17/06/09 20:10:{s:02d} INFO worker.Executor: session s1 step {s}" for s in range(5)]
    lines += [f"17/06/09 21:10:{s:02d} INFO worker.Executor: session s1 step {s}" for s in range(5)]  # an hour on
    log.write_text("\n".join(lines) + "\n")
    model, out = tmp_path / "m", tmp_path / "alarms.csv"
    args = ["--group", "session", "--session-regex", r"session (s\d+)", "--session-timeout", "600"]
    assert main(["train", "--logs", str(log), "--format", "spark", *args, "--detector", "new-template",
                 "--save", str(model), "--quiet"]) == 0
    assert json.loads((model / "model.json").read_text())["grouping"]["timeout"] == 600
    assert main(["detect", str(log), "--model", str(model), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["sequence_id"] for r in rows] == ["s1", "s1#2"] and [r["lines"] for r in rows] == ["5", "5"]


@pytest.mark.parametrize("argv, needle", [
    (["--group", "count", "--window-size", "2.5"], "integer"),
    (["--group", "count", "--window-size", "10", "--window-step", "50"], "`step` must be <= `size`"),
    (["--group", "time", "--window-size", "1e-9"], "1 ms"),
    (["--group", "count", "--session-from-path", "(x)"], "cannot go with --group count"),
])
def test_groupings_that_would_lose_lines_are_refused(jobs, capsys, argv, needle):
    rc = main(["evaluate", "--logs", *_files(jobs / "train"), "--format", FORMAT, *argv,
               "--detector", "new-template", "--quiet"])
    assert rc == 2
    assert needle in one_line_error(capsys)
