"""Files whose timestamps never go back group exactly as before the log-time rules."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from logad.windowing.grouping import Grouping, LineEvent, group_events
from tests.windowing import legacy_grouping as legacy
from tests.windowing.compare import canonical

KEYS = ("blk_1", "blk_2", "blk_3")
LABEL_MAPS = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), st.integers(0, 1)))


@st.composite
def ordered_streams(draw):
    n = draw(st.integers(0, 60))
    deltas = draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0, 30.0]), min_size=n, max_size=n))
    start = draw(st.sampled_from([0.0, 1000.0, 1.1e9]))
    times = [start + d for d in itertools.accumulate(deltas)]
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return [
        LineEvent(i + 1, draw(st.integers(1, 5)), None if missing[i] else times[i],
                  draw(st.sampled_from([None, 0, 1])), tuple(draw(st.lists(st.sampled_from(KEYS), max_size=2, unique=True))))
        for i in range(n)
    ]


@st.composite
def old_groupings(draw):
    kind = draw(st.sampled_from(["count", "time", "session", "entity"]))
    if kind == "session":
        return kind, None, None
    if kind == "time":
        size = draw(st.sampled_from([0.5, 1.0, 3.0, 60.0]))
        return kind, size, size * draw(st.sampled_from([1.0, 0.5, 0.2]))
    size = draw(st.integers(1, 6)) if kind == "count" else draw(st.one_of(st.none(), st.integers(1, 6)))
    return kind, size, draw(st.integers(1, size)) if size else None


@settings(max_examples=300, deadline=None)
@given(evs=ordered_streams(), grouping=old_groupings(), labels=LABEL_MAPS)
def test_never_going_back_groups_as_before(evs, grouping, labels):
    kind, size, step = grouping
    old_unlabelled: list = []
    new_unlabelled: list = []
    old = legacy.group_events(evs, kind, size=size, step=step, labels=labels, on_unlabelled=old_unlabelled.extend)
    new = group_events(evs, Grouping(kind=kind, size=size, step=step), labels=labels, on_unlabelled=new_unlabelled.extend)
    assert [s.sequence_id for s in new] == [s.sequence_id for s in old]  # the same order, too
    assert canonical(new) == canonical(old)
    assert new_unlabelled == old_unlabelled
