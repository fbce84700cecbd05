"""Lines become events exactly as `logad detect` makes them, with the faster pieces proven equal
to the ones they stand for."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logad.formats.registry import get_format
from logad.service.lines import (
    BodyError,
    Event,
    decode_ndjson,
    decode_text,
    looks_binary,
    session_ids,
)
from logad.windowing.grouping import LineEvent, identifier_extractor

PIECES = ["a", "bb", "081109", "203615", "INFO", "dfs.X:", ":", " ", "  ", "\t", "x:y", "[1]", "|", "-", "é", "::", ": "]


def test_event_has_the_fields_of_line_event():
    assert [(f.name, f.default) for f in dataclasses.fields(Event)] == \
        [(f.name, f.default) for f in dataclasses.fields(LineEvent)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab_-0123456789 blk", max_size=60))
def test_session_ids_equal_identifier_extractor(text):
    for pattern in (r"(blk_-?\d+)", r"(a)(b)?", r"b\d"):
        assert session_ids(pattern)(text) == identifier_extractor(pattern)(text)


def _split_lines(fmt, lines):
    """The service's split of a block, as (rows, contents, times, labels) and the counts."""
    from types import SimpleNamespace

    from logad.service.lines import LineParser

    lp = LineParser.__new__(LineParser)  # only what split() reads: the format's pieces
    from logad.formats import reader

    lp.fmt, lp._splitter = fmt, fmt.splitter
    lp._names = [f for f in fmt.splitter.fields if f != "Content"]
    lp._split_block = reader.block_splitter(fmt.splitter)
    lp._max_line_bytes = reader.MAX_LINE_BYTES
    lp.label_field, lp.entity_field = fmt.label_field, None
    s = lp.split(lines)
    return SimpleNamespace(rows=s.rows, content=s.content, times=s.timestamp, labels=s.label, bad=s.n_bad,
                           blank=s.blank, over=s.oversized)


@pytest.mark.parametrize("name", ["hdfs", "bgl", "openssh", "proxifier"])
def test_split_equals_the_file_reader(name, tmp_path):
    """A block split by the service gives the records, times and labels `logad detect`'s reader
    reads from a file of the same lines: blank and whitespace-only lines, a trailing \r, lines
    over the length cap, lines not in the format, replaced bytes."""
    from logad.formats.reader import MAX_LINE_BYTES, ReadReport, read_blocks

    fmt = get_format(name)
    good = {"hdfs": "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38 x",
            "bgl": "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.363779 R02-M1-N0-C:J12-U11 RAS "
                   "KERNEL INFO instruction cache parity error corrected",
            "openssh": "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo failed",
            "proxifier": "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy HTTPS"}[name]
    rng = random.Random(name)
    lines = []
    for _ in range(400):
        r = rng.random()
        if r < 0.1:
            lines.append(rng.choice(["", " ", "\t ", "\u3000"]))
        elif r < 0.2:
            lines.append(" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8))))
        elif r < 0.25:
            lines.append(good + " " + "y" * rng.randint(MAX_LINE_BYTES - 200, MAX_LINE_BYTES + 50) + "é")
        elif r < 0.3:
            lines.append(good + " \ufffd é")
        else:
            lines.append(good.replace("1", str(rng.randint(0, 9))) + " " + rng.choice(PIECES))
    got = _split_lines(fmt, lines)
    path = tmp_path / "x.log"
    path.write_text("\n".join(lines) + "\n")
    report = ReadReport()
    blocks = list(read_blocks(path, fmt, report))
    assert got.rows == [n - 1 for b in blocks for n in b.line_nos]
    assert got.content == [c for b in blocks for c in b.contents]
    assert got.times == [None if t != t else t for b in blocks for t in b.timestamps]
    if fmt.label_field:
        assert got.labels == [v for b in blocks for v in b.labels]
    assert (got.bad, got.blank, got.over) == (report.unmatched, report.empty_lines, report.oversized)
    assert got.bad and got.blank and got.over and got.rows


def test_bodies():
    lines, invalid = decode_text(b"a\r\nb\n\nc")
    assert lines == ["a", "b", "", "c"] and invalid == 0  # split on \n only, \r removed
    assert decode_text(b"a long enough line with x\x0by\x1cz in it\n")[0] == ["a long enough line with x\x0by\x1cz in it"]  # not str.splitlines
    lines, invalid = decode_text(b"ok\nbad \xff\n")
    assert lines == ["ok", "bad \ufffd"] and invalid == 1
    assert looks_binary(b"\x00" * 10 + b"text") and not looks_binary(b"plain text\n")
    with pytest.raises(BodyError, match="binary"):
        decode_text(bytes(range(256)) * 4)
    lines, sources = decode_ndjson(b'{"line": "a", "source": "s1"}\n\n{"message": "b\\nc"}\n{"log": "\\ud800x"}\n', "d")
    assert lines == ["a", "b", "c", "?x"] and sources == ["s1", "d", "d", "d"]
    for bad in (b'{"line": 3}\n', b"[1]\n", b"{nope\n", b'{"line": "a", "source": 1}\n', b"\xff\xfe\n"):
        with pytest.raises(BodyError):
            decode_ndjson(bad, "d")


def test_line_parser_matches_parse_events(data):
    """The events of a block equal those `logad detect`'s reader makes from the same file."""
    from logad.model import TrainedModel
    from logad.pipeline.logs import parse_events
    from logad.service.lines import LineParser

    for key in ("session", "entity", "count"):
        model = TrainedModel.load(data["models"][key])
        path = data["logs"][key]
        ref = list(parse_events([path], get_format(model.format_name), model.parser, model._grouping(),
                                reports=[], learn=False))
        lines = path.read_text().split("\n")[:-1]
        events, _ = LineParser(model).parse_block(lines, 1, [str(path)] * len(lines))
        assert [dataclasses.astuple(e) for e in events] == [dataclasses.astuple(e) for e in ref]
        assert re.match(r".*\.log$", events[0].source)
