"""One conformance sweep over every registered parser: the `Parser` protocol, read-only match,
stable ids, the block path equal to the line path, save/load round trip, refusal of bad states."""

import json

import pytest

from logad.errors import InputError, InvalidParameterError
from logad.parsing import PARSERS, Parser, load_parser, parser_for, reconstruct
from logad.parsing.registry import parser_class
from tests.parsing.samples import HDFS

LINES = HDFS + ["session opened for user alice by sshd", "session opened for user bob by sshd",
                "session opened for user carol by sshd", "session opened for user dave by sshd",
                "disk /dev/sda1 is 91% full", "", "x" * 300]


@pytest.mark.parametrize("mode", sorted(PARSERS))
def test_every_parser_follows_the_protocol(mode, tmp_path):
    p = parser_for("hdfs", mode)
    assert isinstance(p, Parser) and p.mode == mode and parser_class(mode) is type(p)
    ids = [p.add(line, i).template_id for i, line in enumerate(LINES)]
    assert all(i >= 1 for i in ids) and p.stats["lines"] == len(LINES)
    before = p.to_dict()
    # match and match_many are read-only and agree with the final ids
    assert [p.match(line).template_id for line in LINES] == [p.resolve(i) for i in ids]
    assert p.match_many(LINES) == [p.resolve(i) for i in ids]
    res = p.parse_block(LINES, learn=False)
    assert res.ids == [p.resolve(i) for i in ids] and p.to_dict() == before
    # templates, live templates, texts and parameters
    assert set(p.live_templates) <= set(p.templates) and all(p.resolve(t) in p.live_templates for t in p.templates)
    for line, t in zip(LINES, res.ids):
        params = p.parameters(line, t)
        assert reconstruct(p, p.templates_text(t), params) == p.normalise(line[:1_000_000])
        assert tuple(res.parameters[res.ids.index(t)]) is not None
    assert sum(p.sizes().values()) == len(LINES)
    # the block path learns what the line path learns
    q = parser_for("hdfs", mode)
    assert [q.resolve(i) for i in q.parse_block(LINES).ids] == [p.resolve(i) for i in ids]
    r = parser_for("hdfs", mode)
    assert [r.resolve(i) for i in r.add_many(LINES)] == [p.resolve(i) for i in ids]
    # save / load keep every id
    path = tmp_path / "state.json"
    p.save(path)
    again = load_parser(path)
    assert type(again) is type(p) and again.templates == p.templates
    assert [again.match(line).template_id for line in LINES] == [p.resolve(i) for i in ids]
    assert type(p).load(path).templates == p.templates


@pytest.mark.parametrize("mode", sorted(PARSERS))
def test_bad_states_and_arguments_are_refused(mode, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": parser_for("x", mode).STATE_FORMAT, "version": 1}))
    with pytest.raises(InputError):
        load_parser(bad)
    bad.write_text("not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_parser(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_parser(tmp_path / "missing.json")
    with pytest.raises(InvalidParameterError, match="workers"):
        parser_for("hdfs", mode).add_many(["a"], workers=0)


def test_unknown_mode_names_the_modes():
    with pytest.raises(InvalidParameterError, match="did you mean 'drain'"):
        parser_for("hdfs", "drian")
