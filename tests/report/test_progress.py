"""Progress: bars on a terminal, plain lines with rate and ETA elsewhere, nothing when quiet."""

from __future__ import annotations

import io

from logad.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_carry_count_rate_and_eta():
    s = io.StringIO()
    p = Progress(stream=s, interval=0)
    p.stage("reading")
    for n in (10, 20, 30):
        p.tick("parsed a.log", n, 100)
    p.done("parsed a.log", 100, 100)
    out = s.getvalue()
    assert "reading" in out and "parsed a.log: 20/100" in out and "ETA" in out and "it/s" in out
    assert "\r" not in out and "100/100" in out


def test_a_terminal_gets_a_bar_and_a_stage_ends_it():
    s = Tty()
    p = Progress(stream=s)
    assert p.bars
    for n in range(0, 1001, 100):
        p.tick("epoch 1", n, 1000, unit="batch")
    p.stage("validation")
    out = s.getvalue()
    assert "\r" in out and "%|" in out and "epoch 1" in out
    assert out.rstrip().endswith("validation")


def test_quiet_writes_nothing_and_track_yields_everything():
    s = io.StringIO()
    p = Progress(enabled=False, stream=s)
    assert list(p.track(range(5), "items")) == [0, 1, 2, 3, 4]
    p.stage("x")
    p.callback("download")(10, 100)
    assert s.getvalue() == ""
    loud = io.StringIO()
    assert sum(Progress(stream=loud, interval=0).track([1, 2, 3], "items")) == 6
    assert "items: 3/3" in loud.getvalue()
