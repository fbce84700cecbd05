"""The columnar batch path (`logad.windowing.columns`) gives exactly what `group_events` gives on
the same lines: sequences (ids, order, lines, labels, times, files), unlabelled ids and stats."""

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logad.windowing.columns import ColumnsBuilder, clean_timestamps, columns_can_group, group_columns
from logad.windowing.grouping import Grouping, LineEvent, group_events
from logad.windowing.logtime import clean_times, new_stats


def columns_of(evs, sessions):
    """The events as a builder sees them: one block per run of lines of one file."""
    b = ColumnsBuilder(sessions=sessions)
    for source, run in itertools.groupby(evs, key=lambda ev: ev.source):
        run = list(run)
        labels = [ev.label for ev in run]
        b.add([ev.line_no for ev in run], [ev.template_id for ev in run],
              [math.nan if ev.timestamp is None else ev.timestamp for ev in run],
              None if all(lab is None for lab in labels) else [-1 if lab is None else lab for lab in labels],
              source, [ev.keys for ev in run] if sessions else None)
    return b.build()


def both(evs, grouping, labels=None):
    """(sequences, unlabelled, stats) of the LineEvent path and of the columnar path."""
    out = []
    for columnar in (False, True):
        unlabelled, stats = [], {}
        # as parse_events: a line naming no session is not an event
        kept = [ev for ev in evs if ev.keys] if grouping.kind == "session" else evs
        if columnar:
            seqs = group_columns(columns_of(kept, grouping.kind == "session"), grouping, labels=labels,
                                 on_unlabelled=unlabelled.extend, stats=stats)
        else:
            seqs = group_events(kept, grouping, labels=labels, on_unlabelled=unlabelled.extend, stats=stats)
        out.append((seqs, unlabelled, stats))
    return out


SESSIONS = Grouping(kind="session", session_regex=r"(blk_\d+)")
TIMES = [None, 0.0, 5.0, 3.0, math.inf, -math.inf, 2e11, 5e9, 1e9, 1.0, 10.0]


@st.composite
def line_events(draw):
    n = draw(st.integers(0, 40))
    has_labels = draw(st.sampled_from(["none", "all", "some"]))
    evs = []
    for i in range(n):
        keys = tuple(dict.fromkeys(draw(st.lists(st.sampled_from(["blk_1", "blk_2", "blk_3", "blk_4"]), max_size=3))))
        label = None if has_labels == "none" else draw(st.sampled_from([0, 1] if has_labels == "all" else [0, 1, None]))
        source = "a.log" if i < n // 2 or not draw(st.booleans()) and i < 3 * n // 4 else "b.log"
        evs.append(LineEvent(i + 1, draw(st.integers(0, 4)), draw(st.sampled_from(TIMES)), label, keys, None, source))
    # files are read one after another: order the lines so each file's lines are contiguous
    evs.sort(key=lambda ev: (ev.source, ev.line_no))
    return evs


@settings(max_examples=300, deadline=None)
@given(line_events(), st.sampled_from([None, {"blk_1": 0, "blk_2": 1}, {}]))
def test_sessions_match_the_event_path(evs, labels):
    assert columns_can_group(SESSIONS)
    events_out, columns_out = both(evs, SESSIONS, labels)
    assert columns_out == events_out


@settings(max_examples=300, deadline=None)
@given(line_events(), st.integers(1, 12), st.integers(1, 12))
def test_count_windows_match_the_event_path(evs, size, step):
    g = Grouping(kind="count", size=size, step=min(step, size))
    assert columns_can_group(g)
    events_out, columns_out = both(evs, g)
    assert columns_out == events_out


@settings(max_examples=300, deadline=None)
@given(line_events(), st.sampled_from([1.0, 2.5, 4.0, 7.0, 1e9]), st.sampled_from([0.3, 0.5, 1.0]))
def test_time_windows_match_the_event_path(evs, size, fraction):
    g = Grouping(kind="time", size=size, step=size * fraction)
    assert columns_can_group(g)
    events_out, columns_out = both(evs, g)
    assert columns_out == events_out


@given(st.lists(st.sampled_from(TIMES), max_size=30))
def test_clean_timestamps_is_clean_times_on_an_array(times):
    import numpy as np

    expected_stats, stats = new_stats(), new_stats()
    refused, _ = clean_times(times, expected_stats, placement=False)
    expected = [None if i in refused else t for i, t in enumerate(times)]
    cleaned = clean_timestamps(np.array([math.nan if t is None else t for t in times], dtype=float), stats)
    assert [None if t != t else t for t in cleaned.tolist()] == expected
    assert stats == expected_stats


@pytest.mark.parametrize("g", [
    Grouping(kind="session", session_regex="(x)", timeout=5.0),
    Grouping(kind="session", session_from_path="(x)"),
    Grouping(kind="entity", entity_field="Node"),
    Grouping(kind="file", size=None),
])
def test_other_groupings_take_the_event_path(g):
    assert not columns_can_group(g)


def test_load_logs_gives_the_same_sequences_on_both_paths(tmp_path, monkeypatch):
    from logad.pipeline import logs

    lines = []
    for i in range(300):
        blk = f"blk_{i % 17}" if i % 23 else "no block here"
        second = f" and blk_{(i * 7) % 17}" if i % 5 == 0 else ""
        lines.append(f"081109 2035{i % 60:02d} {100 + i} INFO dfs.DataNode$PacketResponder: Received {blk}{second} "
                     f"of size {i * 13}")
    (tmp_path / "a.log").write_text("\n".join(lines[:150]) + "\n")
    (tmp_path / "b.log").write_text("\n".join(lines[150:]) + "\n")
    paths = [tmp_path / "a.log", tmp_path / "b.log"]
    labels = {f"blk_{i}": i % 2 for i in range(15)}  # two blocks have no label
    for grouping in (SESSIONS, Grouping(kind="count", size=40, step=15), Grouping(kind="time", size=20.0, step=7.0)):
        fast = logs.load_logs(paths, format="hdfs", grouping=grouping, labels=labels)
        monkeypatch.setattr(logs, "columns_can_group", lambda g: False)
        slow = logs.load_logs(paths, format="hdfs", grouping=grouping, labels=labels)
        monkeypatch.undo()
        assert fast.sequences == slow.sequences
        assert fast.unlabelled_sessions == slow.unlabelled_sessions
        assert fast.summary() == slow.summary()
        assert len(fast.sequences) > 5
