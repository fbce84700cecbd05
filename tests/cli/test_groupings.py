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


def test_detect_output_traces_each_alarm_to_its_file_lines_and_text(jobs, tmp_path):
    """Issue 18 item 4: no file column, line numbers counted across all files joined, and an
    explanation naming a template id without the line's text."""
    model = tmp_path / "m"
    assert main(["train", "--logs", *_files(jobs / "train"), "--format", FORMAT, "--group", "count",
                 "--window-size", "10", "--detector", "new-template", "--save", str(model), "--quiet"]) == 0
    out = tmp_path / "alarms.csv"
    new = _files(jobs / "new")
    assert main(["detect", *new, "--model", str(model), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    alarms = [r for r in rows if r["alarm"] == "1"]
    failing = next(p for p in new if p.endswith("container_0101_00.log"))
    assert len(alarms) == 1 and alarms[0]["file"] == failing
    assert alarms[0]["blamed_lines"] == f"{failing}:5"  # the ERROR line, numbered within its own file
    assert "container killed on request: disk full" in alarms[0]["blamed_text"]
    assert "unseen template" in alarms[0]["explanation"]
    # every row's line numbers are within its file (10-line files: 1..11 with the inserted line)
    assert all(1 <= int(r["first_line"]) <= int(r["last_line"]) <= 11 for r in rows if "|" not in r["file"])


def test_rollup_to_jobs_in_detect_and_evaluate(jobs, tmp_path, capsys):
    """Issue 18: job-level results needed the user's own script."""
    model = tmp_path / "m"
    assert main(["train", "--logs", *_files(jobs / "train"), "--format", FORMAT, "--group", "file",
                 "--detector", "new-template", "--save", str(model), "--quiet"]) == 0
    out = tmp_path / "alarms.csv"
    assert main(["detect", *_files(jobs / "new"), "--model", str(model), "--out", str(out),
                 "--rollup", r"(application_\d+)", "--quiet"]) == 0
    units = {r["unit"]: r for r in csv.DictReader((tmp_path / "alarms.rollup.csv").open())}
    assert set(units) == {"application_0100", "application_0101"}
    assert units["application_0101"]["alarm"] == "1" and units["application_0101"]["alarms"] == "1"
    assert units["application_0100"]["alarm"] == "0" and units["application_0100"]["sequences"] == "3"
    assert "2 units, 1 alarmed" in capsys.readouterr().out


def test_rollup_metrics_beside_the_sequence_level():
    import numpy as np

    from logad.evaluation.rollup import rollup_result
    from logad.records import Sequence

    seqs = [Sequence(f"job{j}/w{w}", (1,), label=int(j == 2 and w == 0), sources=(f"/logs/job{j}/w{w}.log",))
            for j in range(4) for w in range(3)]
    scores = np.array([0.1] * 6 + [0.9, 0.2, 0.2] + [0.1, 0.7, 0.1])
    r = rollup_result(seqs, scores, scores > 0.5, r"(job\d+)")
    assert r["units"] == 4 and r["anomalous_units"] == 1 and r["sequences_per_unit"] == 3.0
    assert r["counts"] == {"tp": 1, "fp": 1, "tn": 2, "fn": 0}
