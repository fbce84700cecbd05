"""Header splitting: the linear-time programs give exactly the format regex's fields, on real lines
of every LogHub system and on random ones; hostile lines stay linear; a user regex outside the
programs' shape runs under a per-line time bound and is counted."""

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logad.formats.header import HeaderSplitter, exact, forward, split
from logad.formats.registry import FORMATS, get_format
from tests.conftest import shared_data

SYSTEMS = {"hdfs": "HDFS", "bgl": "BGL", "thunderbird": "Thunderbird", "hadoop": "Hadoop", "openstack": "OpenStack",
           "spark": "Spark", "zookeeper": "Zookeeper", "hpc": "HPC", "windows": "Windows", "linux": "Linux",
           "android": "Android", "healthapp": "HealthApp", "apache": "Apache", "proxifier": "Proxifier",
           "openssh": "OpenSSH", "mac": "Mac"}
USER = ["<Date> <Time> <Level> <Component>: <Content>", "[<Time>] <Level> - <Content>", "<Content>",
        r"<Date> <Time> \[<Thread>\] (<Level> )?<Content>", "<A>|<B>|<Content>"]


def regex_marks(rx: re.Pattern, s: str, fields) -> list[int] | None:
    m = rx.match(s)
    if m is None:
        return None
    out = []
    for f in fields:
        out += list(m.span(f))
    return out


def test_every_format_compiles_to_a_program():
    for name, fmt in FORMATS.items():
        assert fmt.splitter.program is not None, name
    for u in USER:
        assert get_format(u).splitter.program is not None, u


@pytest.mark.real_data
@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_program_equals_the_regex_on_real_lines(name):
    system = SYSTEMS[name]
    path = shared_data("loghub_2k", system, f"{system}_2k.log")
    fmt = get_format(name)
    prog = fmt.splitter.program
    for line in path.read_text(encoding="utf-8").splitlines():
        want = regex_marks(fmt.regex, line, prog.fields)
        assert split(prog, line) == want, line
        assert exact(prog, line) == want, line
        assert forward(prog, line) in (None, want)


ALPHABET = " ab:[]-|(),.\t01x\xa0=_"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(FORMATS) + USER), st.text(alphabet=ALPHABET, max_size=30))
def test_program_equals_the_regex_on_random_lines(name, line):
    fmt = get_format(name)
    prog = fmt.splitter.program
    want = regex_marks(fmt.regex, line, prog.fields)
    assert exact(prog, line) == want
    assert forward(prog, line) in (None, want)


@pytest.mark.parametrize("name", ["hdfs", "android", "openstack", "bgl", "thunderbird", "mac", "linux", "zookeeper"])
def test_hostile_lines_split_in_linear_time(name):
    prog = get_format(name).splitter.program
    for line in [" ".join(["word"] * 200), "1" * 65_000 + " .", " ".join(["a:"] * 3000), "[" * 20_000]:
        t0 = time.perf_counter()
        split(prog, line)
        assert time.perf_counter() - t0 < 1.0, (name, line[:20])


def test_user_regex_outside_the_shape_is_bounded_and_counted():
    fmt = get_format(r"<Level> (\w+\s?)+: <Content>")  # nested repeat: not a program, and it backtracks
    sp = HeaderSplitter(fmt.regex, timeout=0.05)
    assert sp.program is None
    assert sp.marks("INFO started: ok") is not None
    t0 = time.perf_counter()
    assert sp.marks("INFO " + "word " * 40 + "!") is None  # exponential for `re`
    assert time.perf_counter() - t0 < 1.0 and sp.timed_out == 1
