"""Lines become events exactly as `logad detect` makes them, with the faster pieces proven equal
to the ones they stand for."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logad.formats.registry import FORMATS, get_format
from logad.service.lines import (
    BodyError,
    Event,
    decode_ndjson,
    decode_text,
    fast_header,
    looks_binary,
    session_ids,
)
from logad.windowing.grouping import LineEvent, identifier_extractor

PIECES = ["a", "bb", "081109", "203615", "INFO", "dfs.X:", ":", " ", "  ", "\t", "x:y", "[1]", "|", "-", "é", "::", ": "]


def test_event_has_the_fields_of_line_event():
    assert [(f.name, f.default) for f in dataclasses.fields(Event)] == \
        [(f.name, f.default) for f in dataclasses.fields(LineEvent)]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_fast_header_equals_the_format_regex(name):
    fmt = get_format(name)
    fast = fast_header(fmt.regex.pattern)
    if fast is None:
        return  # this format keeps its own regex
    rng = random.Random(name)
    samples = [" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14))) for _ in range(3000)]
    samples += ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 20))) for _ in range(3000)]
    for text in samples:
        m = fast.match(text)
        if m is not None:  # when the rewrite matches, it matches the same way
            slow = fmt.regex.match(text)
            assert slow is not None and slow.groupdict() == m.groupdict(), (name, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=16))
def test_fast_header_hdfs_property(parts):
    fmt = get_format("hdfs")
    fast = fast_header(fmt.regex.pattern)
    text = "".join(parts)
    m = fast.match(text)
    if m is not None:
        assert fmt.regex.match(text).groupdict() == m.groupdict()


def test_fast_header_refuses_shapes_it_cannot_prove():
    assert fast_header(get_format("proxifier").regex.pattern) is None  # a lazy field before the others
    assert fast_header(r"^x+(?P<A>.*?)\s+(?P<Content>.*)$") is None  # a quantifier before the first field
    assert fast_header(r"^(?P<Content>.*)$") is None  # nothing to rewrite
    # only the leading fields are rewritten; what follows stays as it was
    assert fast_header(r"^(?P<A>.*?)\s+(x|y)?(?P<B>.*?)\s+(?P<Content>.*)$").pattern == \
        r"^(?P<A>\S++)\s++(x|y)?(?P<B>.*?)\s+(?P<Content>.*)$"
    assert fast_header(get_format("hdfs").regex.pattern) is not None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab_-0123456789 blk", max_size=60))
def test_session_ids_equal_identifier_extractor(text):
    for pattern in (r"(blk_-?\d+)", r"(a)(b)?", r"b\d"):
        assert session_ids(pattern)(text) == identifier_extractor(pattern)(text)


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
    from logad.formats.registry import get_format
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
