"""Parser states and logs that could hang, mislead or lose work (issue 17: items 3, 8, 12)."""

from __future__ import annotations

import json
import time

import pytest

from logad.cli import main
from logad.errors import InputError
from logad.parsing import load_parser
from tests.cli.test_cli import HDFS_LINES, one_line_error


@pytest.fixture()
def state(tmp_path):
    log = tmp_path / "h.log"
    log.write_text("\n".join(HDFS_LINES) + "\n")
    s = tmp_path / "s.json"
    assert main(["parse", str(log), "--format", "hdfs", "--state", str(s), "--out", str(tmp_path / "p.csv")]) == 0
    return log, s


def _tamper(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_an_alias_cycle_is_refused_at_load_instead_of_looping(state):
    _, s = state
    _tamper(s, lambda d: d.update(alias=[[90, 91], [91, 90]], next_id=100))
    t0 = time.monotonic()
    with pytest.raises(InputError, match="alias cycle"):
        load_parser(s)
    assert time.monotonic() - t0 < 2


def test_a_next_id_that_would_overwrite_templates_is_refused(state):
    _, s = state
    _tamper(s, lambda d: d.update(next_id=1))
    with pytest.raises(InputError, match="overwrite"):
        load_parser(s)


def test_a_masking_rule_from_a_state_cannot_hang_the_run(state, tmp_path):
    """The drain3.ini SEQ pattern alone took 28 s on 81 characters (and over a minute here)."""
    log, s = state
    seq = r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)"
    _tamper(s, lambda d: d["params"].update(masking=[{"name": "SEQ", "pattern": seq}]))
    bad = tmp_path / "bad.log"
    bad.write_text("081109 203615 148 INFO dfs.DataNode: " + "a" * 80 + "z\n")
    t0 = time.monotonic()
    assert main(["parse", str(bad), "--format", "hdfs", "--state", str(s), "--out", str(tmp_path / "q.csv")]) == 0
    assert time.monotonic() - t0 < 10


def test_two_runs_on_one_state_cannot_both_write_it(state, tmp_path, capsys):
    log, s = state
    from logad.io import exclusive_lock

    with exclusive_lock(s, "the parser state"):  # another run holds it
        assert main(["parse", str(log), "--format", "hdfs", "--state", str(s), "--out", str(tmp_path / "x.csv")]) == 2
    assert "is in use by pid" in one_line_error(capsys)
    assert main(["parse", str(log), "--format", "hdfs", "--state", str(s), "--out", str(tmp_path / "y.csv")]) == 0


def test_a_state_of_another_format_is_warned_about(state, tmp_path, capsys):
    log, s = state
    bgl = tmp_path / "b.log"
    bgl.write_text("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 "
                   "RAS KERNEL INFO instruction cache parity error corrected\n")
    assert main(["parse", str(bgl), "--format", "bgl", "--state", str(s), "--out", str(tmp_path / "z.csv")]) == 0
    assert "was built from logs read as 'hdfs'" in capsys.readouterr().err


def test_cr_only_line_endings_are_read_as_line_ends(tmp_path, capsys):
    log = tmp_path / "mac.log"
    log.write_bytes(("\r".join(HDFS_LINES) + "\r").encode())
    out = tmp_path / "p.csv"
    assert main(["parse", str(log), "--format", "hdfs", "--out", str(out)]) == 0
    assert len(out.read_text().strip().splitlines()) == 1 + len(HDFS_LINES)
    assert "bare carriage return" in capsys.readouterr().err
