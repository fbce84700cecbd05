"""`logad parse` end to end: Parquet and CSV outputs, rows with final ids and real parameters,
outputs that never overwrite inputs, and hostile input that finishes fast, bounded and counted
(run in a subprocess with a timeout: a hang fails the test instead of stalling the suite)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from logad.cli import main
from logad.parsing import parser_for
from logad.parsing.files import parse_files
from logad.parsing.output import ParsedWriter, read_parsed

SRC = str(Path(__file__).resolve().parents[2] / "src")
HDFS = [
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
    "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-6952295868487656571 terminating",
    "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864",
    "081109 204106 329 INFO dfs.DataNode$PacketResponder: Received block blk_-7017553867379051457 of size 67108864 from /10.251.89.155",
]


def run_cli(args: list[str], timeout: float = 20.0) -> tuple[int, str, float, float]:
    """(exit code, stderr, CPU seconds of the command, peak RSS MB) of `logad ARGS` in a fresh
    process (CPU time: the shared test machine's load does not enter; a hang hits `timeout`)."""
    # peak memory from VmHWM (this process's own high-water mark: ru_maxrss would carry the
    # forking test process's size across exec)
    code = ("import resource, sys; from logad.cli import main; r0 = resource.getrusage(resource.RUSAGE_SELF); "
            "rc = main(sys.argv[1:]); r = resource.getrusage(resource.RUSAGE_SELF); "
            "hwm = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')][0]; "
            "print(f'WALL {r.ru_utime + r.ru_stime - r0.ru_utime - r0.ru_stime:.3f} PEAK {hwm / 1024:.0f}',"
            " file=sys.stderr); sys.exit(rc)")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, env=env)
    wall = peak = float("nan")
    for line in p.stderr.splitlines():
        if line.startswith("WALL "):
            _, w, _, m = line.split()
            wall, peak = float(w), float(m)
    return p.returncode, p.stderr, wall, peak


def test_parquet_round_trip_equals_csv(tmp_path):
    log = tmp_path / "HDFS.log"
    log.write_text("\n".join(HDFS * 3) + "\n")
    pq_out, csv_out = tmp_path / "p.parquet", tmp_path / "p.csv"
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(pq_out)]) == 0
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(csv_out)]) == 0
    a, b = read_parsed(pq_out), read_parsed(csv_out)
    assert a.num_rows == b.num_rows == 12
    assert a.column_names[:6] == ["file", "line_no", "timestamp", "template_id", "template", "parameters"]
    assert a.column_names[6:] == ["Date", "Time", "Pid", "Level", "Component"]
    for col in ("line_no", "template_id", "parameters", "Date", "Level", "Component"):
        assert a.column(col).to_pylist() == b.column(col).to_pylist(), col
    assert a.column("template").to_pylist() == b.column("template").to_pylist()
    ts = a.column("timestamp").to_pylist()
    assert ts[0].isoformat() == "2008-11-09T20:36:15+00:00"
    assert [t.timestamp() for t in ts] == b.column("timestamp").to_pylist()
    assert a.column("parameters").to_pylist()[2] == ["10.251.73.220:50010", "blk_7128370237687728475", "67108864"]
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "p.templates.parquet").to_pylist()
    assert {r["template_id"] for r in table} == set(a.column("template_id").to_pylist())
    assert sum(r["lines"] for r in table) == 12
    assert (tmp_path / "p.templates.csv").exists()


MERGE = ["session opened for user alice by sshd", "disk sda1 is full", "session opened for user bob by sshd",
         "session opened for user carol by sshd", "disk sda2 is full", "session opened for user dave by sshd",
         "session opened for user bob by sshd"]


@pytest.mark.parametrize("hold", [0, 64 << 20])  # written at once (fixed from the file at the end) or held
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_rows_written_before_a_later_merge_get_the_final_id_and_parameters(tmp_path, suffix, hold):
    log = tmp_path / "auth.log"
    log.write_text("\n".join(MERGE) + "\n")
    parser = parser_for("<Content>")
    run = parse_files([log], "<Content>", parser, max_block_lines=2)  # the merge happens in block 3
    out = tmp_path / f"p.{suffix}"
    w = ParsedWriter(out, ["Content"], parser, hold_bytes=hold)
    for block in run:
        w.write(block)
    w.close()
    assert parser.resolve(3) != 3 or parser.resolve(1) != 1  # a merge really happened after block 1
    t = read_parsed(out)
    ids = t.column("template_id").to_pylist()
    users = [i for i, c in enumerate(MERGE) if c.startswith("session")]
    assert len({ids[i] for i in users}) == 1
    assert {t.column("template").to_pylist()[i] for i in users} == {"session opened for user <*> by sshd"}
    assert [t.column("parameters").to_pylist()[i] for i in users] == [["alice"], ["bob"], ["carol"], ["dave"], ["bob"]]


def test_out_equal_to_an_input_or_the_state_is_refused(tmp_path, capsys):
    log = tmp_path / "a.csv"
    log.write_text("\n".join(HDFS) + "\n")
    before = log.read_text()
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(log)]) == 2
    assert "input" in capsys.readouterr().err
    assert log.read_text() == before
    state = tmp_path / "s.csv"
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(state), "--state", str(state)]) == 2
    assert "state" in capsys.readouterr().err
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(tmp_path / "x.csv"), "--state", str(log)]) == 2
    assert log.read_text() == before
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(tmp_path / "x.txt")]) == 2
    assert ".parquet or .csv" in capsys.readouterr().err


def test_another_runs_templates_table_is_not_replaced_silently(tmp_path, capsys):
    log = tmp_path / "h.log"
    log.write_text("\n".join(HDFS) + "\n")
    table = tmp_path / "p.templates.csv"
    table.write_text("template_id,template,alias_of,lines\n1,from another run,,5\n")
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(tmp_path / "p.csv")]) == 2
    assert "another run" in capsys.readouterr().err and "from another run" in table.read_text()
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(tmp_path / "p.csv"), "--overwrite"]) == 0
    assert "from another run" not in table.read_text()
    # both exist now (one run's pair): running again replaces both together
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(tmp_path / "p.csv")]) == 0
    # a Parquet output has its own table: it never touches the CSV's
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(tmp_path / "p.parquet")]) == 0
    assert (tmp_path / "p.templates.parquet").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_unmatched_lines_of_each_file_reported_once_by_the_whole_command(tmp_path, workers):
    """Issue 18 item 10 saw each 'not matching' report twice: run as a user does (a process of its
    own, logging configured by the CLI), with two files, one gzipped."""
    import gzip

    plain, packed = tmp_path / "a.log", tmp_path / "b.log.gz"
    plain.write_text("\n".join(HDFS + ["not an hdfs line"]) + "\n")
    packed.write_bytes(gzip.compress(("\n".join(["neither", *HDFS, "nor this"]) + "\n").encode()))
    code = "import sys; from logad.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, "parse", str(plain), str(packed), "--format", "hdfs",
                          "--out", str(tmp_path / "p.csv"), "--workers", workers],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": SRC})
    assert run.returncode == 0, run.stderr
    reports = [line for line in (run.stdout + run.stderr).splitlines() if "not matching" in line]
    assert reports == [f"{plain}: 5 lines, 4 read; 1 not matching the format (line 5)",
                       f"{packed}: 6 lines, 4 read; 2 not matching the format (lines 1, 6)"]


def test_unmatched_lines_reported_once_and_drain_mode(tmp_path, capsys):
    log = tmp_path / "h.log"
    log.write_text("\n".join(HDFS + ["not an hdfs line", "neither"]) + "\n")
    out = tmp_path / "p.csv"
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(out), "--mode", "drain"]) == 0
    err = capsys.readouterr().err
    assert err.count("not matching the format") == 1 and "do not match" not in err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and all(json.loads(r["parameters"]) is not None for r in rows)
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(out), "--mode", "brain"]) == 2
    assert "did you mean" in capsys.readouterr().err


def _gzip(path: Path, parts) -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        for p in parts:
            fh.write(c.compress(p))
        fh.write(c.flush())


def test_hostile_lines_finish_fast_bounded_and_counted(tmp_path):
    head = b"081109 203615 148 INFO dfs.DataNode: "
    words = tmp_path / "words.log"  # 200 words without ": " read as hdfs (today: over 60 s)
    words.write_bytes(b" ".join([b"word"] * 200) + b"\n" + HDFS[0].encode() + b"\n")
    digits = tmp_path / "digits.log"  # 65 KB of digits ending in " ." (today: 49 s)
    digits.write_bytes(b"1" * 65_000 + b" .\n" + HDFS[0].encode() + b"\n")
    big = tmp_path / "big.log.gz"  # a 1 GB line inside a ~1 MB gzip (today: 3.3 GB of memory)
    _gzip(big, [head + b"start\n"] + [b"a" * (1 << 20)] * 1024 + [b"\n", head + b"end\n"])
    assert big.stat().st_size < 2_000_000
    for log, fmt, counted in [(words, "hdfs", "1 not matching"), (digits, "bgl", "1 not matching"),
                              (digits, "hdfs", "1 not matching"), (big, "hdfs", "1 oversized")]:
        out = tmp_path / f"{log.stem}.{fmt}.csv"
        rc, err, wall, peak = run_cli(["parse", str(log), "--format", fmt, "--out", str(out), "--overwrite"])
        assert rc == 0, err
        assert wall < 2.0, (log.name, fmt, wall)  # CPU seconds
        assert peak < 400, (log.name, fmt, peak)
        assert counted in err, err


@pytest.mark.parametrize("kind", ["missing", "binary", "empty", "blank", "corrupt-gzip", "unknown-format", "nothing-matches",
                                  "directory"])
def test_bad_input_one_line_exit_2(tmp_path, kind):
    good = tmp_path / "good.log"
    good.write_text("\n".join(HDFS) + "\n")
    files = {"missing": tmp_path / "nope.log", "binary": tmp_path / "bin.log", "empty": tmp_path / "empty.log",
             "blank": tmp_path / "blank.log", "corrupt-gzip": tmp_path / "bad.log.gz", "unknown-format": good,
             "nothing-matches": good, "directory": tmp_path}
    (tmp_path / "blank.log").write_text("\n  \n\t\n")
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    gz = c.compress(("\n".join(HDFS * 200) + "\n").encode()) + c.flush()
    (tmp_path / "bad.log.gz").write_bytes(gz[: len(gz) // 2])  # cut in the middle
    (tmp_path / "bin.log").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "empty.log").write_bytes(b"")
    fmt = {"unknown-format": "hfds", "nothing-matches": "<Level> | <Content>"}.get(kind, "hdfs")
    rc, err, _, _ = run_cli(["parse", str(files[kind]), "--format", fmt, "--out", str(tmp_path / "o.csv")])
    lines = [x for x in err.splitlines() if not x.startswith("WALL ")]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("logad: error:"), err
    assert "Traceback" not in err


def test_compiled_csv_rows_equal_the_python_writer(tmp_path, monkeypatch):
    pytest.importorskip("logad._core")
    from logad.parsing import output

    log = tmp_path / "odd.log"
    lines = ['2024-01-01 10:00:00 INFO a: say "hi", then x=1\tand \u00e9 \\ done 5',
             "2024-01-01 10:00:01 INFO a,b: value 7 with,comma and \"quote\" 0x1F",
             "2024-13-01 10:00:02 INFO c: no valid date 9 \x01 ctrl"]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fmt = "<Date> <Time> <Level> <Component>: <Content>"
    real = output._core
    assert real is not None
    outs = []
    for core in (True, False):
        monkeypatch.setattr(output, "_core", real if core else None)
        out = tmp_path / f"p{int(core)}.csv"
        assert main(["parse", str(log), "--format", fmt, "--out", str(out), "--mode", "drain"]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    rows = list(csv.DictReader(io.StringIO(outs[0].decode("utf-8"), newline="")))
    assert len(rows) == 3 and all(r["timestamp"] == "" for r in rows)  # a user format string has no time
    hd = tmp_path / "h.log"
    hd.write_text("\n".join(HDFS) + "\n")
    outs = []
    for core in (True, False):
        monkeypatch.setattr(output, "_core", real if core else None)
        out = tmp_path / f"h{int(core)}.csv"
        assert main(["parse", str(hd), "--format", "hdfs", "--out", str(out), "--overwrite"]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and b"1226262975.0" in outs[0]
