"""The compiled core gives the Python reference's results: masking regexes (the matcher of
rx.c against `re`), keys and token spans of both parsers, header splitting and timestamps."""

import array
import csv
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logad.formats import reader
from logad.formats.reader import ReadReport, read_blocks
from logad.formats.registry import get_format
from logad.parsing import parser_for
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, DRAIN3_INI_RULES
from logad.parsing.presets import BRAIN, LOGPAI_DRAIN
from logad.parsing.rxvm import compile_rule
from tests.conftest import shared_data

core = pytest.importorskip("logad._core")

PATTERNS = sorted({rx for s in BRAIN.values() for rx in s["regex"] + s["remove"]}
                  | {rx for s in LOGPAI_DRAIN.values() for rx in s["regex"]}
                  | {r.pattern for r in DRAIN3_EXAMPLE_RULES + DRAIN3_INI_RULES}
                  | {r"\(.*?\)", r"(?<=[^A-Za-z0-9])ab|cd(?!x)", r"(a|ab)(c|bcd)", r"x{2,3}?y", r"\d++\.",
                     r"\bfoo\b", r"(?:ab)+?c", r"[^ ]+=[^ ,]*", r"^start", r"end$"})
ALPHABET = "0123456789abcdefABCDEFxXgKMB:.-+ _/\"=,()<>[]sec\tJ"


def test_the_presets_compile_for_the_core():
    assert [p for p in PATTERNS if compile_rule(p) is None] == []


@pytest.mark.parametrize("pattern", PATTERNS)
def test_matcher_equals_re(pattern):
    spec = compile_rule(pattern)
    if spec is None:
        pytest.skip("outside the core's subset: runs through re")
    rx = re.compile(pattern)

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=ALPHABET, max_size=40))
    def check(text):
        got = core.rx_findall(spec, text)
        assert got is None or got == [m.span() for m in rx.finditer(text)]

    check()


SYSTEMS = ["Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac", "OpenSSH",
           "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper"]


@pytest.mark.real_data
@pytest.mark.parametrize("system", SYSTEMS)
def test_keys_and_spans_equal_the_reference(system):
    rows = list(csv.DictReader(shared_data("loghub_2k", system, f"{system}_2k.log_structured.csv").open(encoding="utf-8")))
    contents = [r["Content"] for r in rows]
    p = parser_for(system.lower())
    keys, spans = p.keys_spans(contents)
    for c, k, sp in zip(contents, keys, spans):
        want_k, want_sp = p._spans_py(c)
        flat = array.array("i", sp)
        assert (k, list(zip(flat[0::2], flat[1::2]))) == (want_k, want_sp), c
    assert p.keys(contents) == keys
    d = parser_for(system.lower(), "drain")
    masked, dspans = d._masked_many(contents)
    from logad.parsing.drain import _decode

    for c, m, sp in zip(contents, masked, dspans):
        if m is not None:
            assert m == d.masked(c) and _decode(m, sp) == d.spans(c), c


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET + "\u00e9", max_size=50), max_size=10))
def test_keys_and_spans_equal_the_reference_on_random_text(lines):
    for p in (parser_for("hdfs"), parser_for("android"), parser_for("custom"), parser_for("proxifier")):
        keys, spans = p.keys_spans(lines)
        for c, k, sp in zip(lines, keys, spans):
            flat = array.array("i", sp)
            assert (k, list(zip(flat[0::2], flat[1::2]))) == p._spans_py(c)


def _blocks(path, fmt, use_core):
    saved = reader._core
    if not use_core:
        reader._core = None
    r = ReadReport()
    out = []
    try:
        for b in read_blocks(path, get_format(fmt), r):
            out.append((b.line_nos, b.contents, {k: list(v) for k, v in b.fields.items()},
                        [None if math.isnan(t) else t for t in b.timestamps], b.labels))
    finally:
        reader._core = saved
    return out, r.as_dict()


@pytest.mark.real_data
@pytest.mark.parametrize("system", SYSTEMS)
def test_reader_equals_the_reference(system):
    path = shared_data("loghub_2k", system, f"{system}_2k.log")
    assert _blocks(path, system.lower(), True) == _blocks(path, system.lower(), False)


def test_reader_equals_the_reference_on_odd_bytes(tmp_path):
    log = tmp_path / "odd.log"
    log.write_bytes(b"081109 203615 148 INFO dfs.DataNode: ok \xff\xfe bad\r\n\n   \n\xc2\xa0\n"
                    b"081109 203615 148 INFO a\xc2\xa0b: x\xe2\x80\x80y\n081399 256199 1 INFO c: bad date\n"
                    + b"081109 203615 148 INFO dfs.DataNode: " + b"z" * 70_000 + b"\nno header here\n")
    for fmt in ("hdfs", "<Date> <Time> <Pid> <Level> <Component>: <Content>", "<Content>"):
        assert _blocks(log, fmt, True) == _blocks(log, fmt, False)


def test_gather_strings_equals_the_numpy_gather(monkeypatch):
    """The Parquet writer's refresh gathers parameter strings in C; the numpy way gives the same."""
    import numpy as np
    import pyarrow as pa

    from logad.parsing import output

    words = ["", "a", "bé", "blk_-123", "x" * 300, "10.0.0.1:50010"] * 50
    blob = "".join(words).encode("utf-8")
    offs = np.concatenate([[0], np.cumsum([len(w.encode("utf-8")) for w in words])]).astype(np.int64)
    data = np.frombuffer(blob, dtype=np.uint8)
    take = np.random.default_rng(0).integers(0, len(words), size=1000).astype(np.int64)
    fast = output._gather_strings(data, offs, take, pa, np)
    monkeypatch.setattr(output, "_core", None)
    slow = output._gather_strings(data, offs, take, pa, np)
    assert fast.to_pylist() == slow.to_pylist() == [words[i] for i in take]
    with pytest.raises(IndexError):
        core.gather_strings(data, offs, np.array([len(words)], dtype=np.int64))


def test_remap_of_changed_templates_equals_apply_recipe():
    """The writers' column-wise fix of rows whose template generalised (constants, filled Drain
    tokens, rows that do not fit) gives what apply_recipe gives row by row."""
    import random

    import numpy as np

    from logad.parsing.base import apply_recipe, recipe
    from logad.parsing.output import ParsedWriter

    changes = {1: ("a <*>:<*> b c", "a <*> b <*>", 11), 2: ("x <*> y", "x <*> <*>", 2)}
    recipes = {tid: recipe(old, new, ("<*>",)) for tid, (old, new, _) in changes.items()}

    class Writer:  # only what _remap uses
        def _recipe(self, tid, old):
            return changes[tid][2], changes[tid][1], recipes[tid]

    rng = random.Random(0)
    ids, rows = [], []
    for _ in range(300):
        tid = rng.choice([1, 2, 3])
        n = {1: 2, 2: 1, 3: 3}[tid] + (1 if rng.random() < 0.1 else 0)  # some rows do not fit
        ids.append(tid)
        rows.append(tuple(f"v{rng.randrange(100)}" for _ in range(n)))
    values = [v for r in rows for v in r]
    offs = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    new_ids, new_offs, take, extra = ParsedWriter._remap(Writer(), np.array(ids), offs,
                                                         {1: changes[1][0], 2: changes[2][0]},
                                                         len(values), values.__getitem__, np)
    pool = values + extra
    got = [tuple(pool[j] for j in take[new_offs[i]:new_offs[i + 1]]) for i in range(len(rows))]
    for i, (tid, r) in enumerate(zip(ids, rows)):
        want = (apply_recipe(recipes[tid], r) or r) if tid in recipes else r
        assert got[i] == want
        assert new_ids[i] == (changes[tid][2] if tid in changes else tid)


def test_csv_block_with_colliding_ids_and_repeated_times():
    """csv_block's caches (a second's text, templates by id mod 256) give csv.writer's rows."""
    import io
    import json

    ids = [1 + 256 * (i % 7) + (i % 3) for i in range(3000)]  # ids sharing cache slots, in turn
    texts = {t: f'tpl {t} <*> "q",x' for t in set(ids)}
    times = [1226262975.0 + (i // 10) * 0.5 for i in range(3000)]
    line_nos = list(range(1, 3001))
    values = [f"v{i}" for i in range(3000)]
    offs = array.array("i", range(3001))
    got = core.csv_block("a,b.log", line_nos, times, ids, texts, values, offs, [])
    out = io.StringIO()
    w = csv.writer(out)
    for i in range(3000):
        w.writerow(["a,b.log", line_nos[i], repr(times[i]), ids[i], texts[ids[i]], json.dumps([values[i]])])
    assert got == out.getvalue().encode("utf-8")
