"""Regression tests for defects of the batch windows (each failed, or hung, before its fix)."""

import math

import pytest

from logad.errors import InvalidParameterError
from logad.windowing.grouping import (
    Grouping,
    LineEvent,
    count_windows,
    entity_windows,
    group_events,
    time_windows,
)
from tests.windowing.bounded import within


def timed(times):
    return [LineEvent(i + 1, 1, t) for i, t in enumerate(times)]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, 1e15, -1e15, math.nan])
def test_unusable_timestamp_is_never_looped_over(bad):
    times = [0.0, 1.0, bad, 2.0, 70.0, 71.0]
    with within(5):
        seqs = time_windows(timed(times), size=60)
    assert [s.line_nos for s in seqs] == [(1, 2, 3, 4), (5, 6)]  # the bad line takes the previous time
    assert seqs[0].start_time == 0.0 and seqs[0].end_time == 2.0  # never inf or NaN


@pytest.mark.parametrize("bad", [math.inf, -math.inf, 1e15, math.nan])
def test_unusable_timestamp_is_counted(bad):
    stats: dict = {}
    time_windows(timed([0.0, bad, 1.0]), size=60, stats=stats)
    reason = "time_not_finite" if not math.isfinite(bad) else "time_out_of_range"
    assert stats[reason] == 1 and stats["events"] == 3


def test_timestamp_decades_from_the_first_is_refused():
    times = [1.1e9, 1.1e9 + 1, 5e10, 1.1e9 + 2]  # a garbled year (about 3554)
    with within(5):
        seqs = time_windows(timed(times), size=60)
    assert [s.line_nos for s in seqs] == [(1, 2, 3, 4)]
    assert seqs[0].end_time == 1.1e9 + 2


def test_unusable_timestamp_is_removed_from_count_windows_too():
    seqs = count_windows(timed([0.0, math.inf, 1.0]), 10)
    assert (seqs[0].start_time, seqs[0].end_time) == (0.0, 1.0)


def test_large_gap_costs_nothing():
    """Windows over a gap are skipped in one jump, not one loop turn per empty window."""
    times = [0.0, 1.0, 3e8, 3e8 + 0.5]  # about 9.5 years apart, in 1 ms windows every 1 ms
    with within(5):
        seqs = time_windows(timed(times), size=0.001)
        sliding = time_windows(timed(times), size=0.01, step=0.001)
    assert [s.line_nos for s in seqs] == [(1,), (2,), (3,), (4,)]
    assert sorted({ln for s in sliding for ln in s.line_nos}) == [1, 2, 3, 4]
    assert all(len(s) == 1 for s in sliding) and len(sliding) == 1 + 3 * 10  # windows start at the first line


def test_step_larger_than_size_is_refused():
    evs = timed([float(i) for i in range(100)])
    with pytest.raises(InvalidParameterError, match=r"`step` must be <= `size` \(10\), got 50"):
        count_windows(evs, 10, 50)
    with pytest.raises(InvalidParameterError, match=r"`step` must be <= `size` \(10\), got 600"):
        time_windows(evs, 10, 600)
    with pytest.raises(InvalidParameterError, match=r"`step` must be <= `size` \(4\), got 5"):
        entity_windows(evs, 4, 5)
    with pytest.raises(InvalidParameterError, match=r"`step` must be <= `size`"):
        group_events(evs, "count", size=10, step=50)


@pytest.mark.parametrize("size", [1e-9, 1e-4])
def test_absurdly_small_time_window_is_refused(size):
    with within(5), pytest.raises(InvalidParameterError, match=r"`size` must be >= 0.001 s"):
        time_windows(timed([0.0, 1.0]), size)


def test_overlap_is_bounded():
    with within(5), pytest.raises(InvalidParameterError, match=r"`size` / `step` must be <= 10000"):
        time_windows(timed([0.0, 3600.0]), 3600, 0.001)


@pytest.mark.parametrize("kind", ["count", "entity", "file"])
def test_non_integer_line_count_is_refused(kind):
    evs = timed([None] * 10)
    with pytest.raises(InvalidParameterError, match=r"`size` must be an integer >= 1 \(lines\), got 2.5"):
        group_events(evs, kind, size=2.5)
    with pytest.raises(InvalidParameterError, match=r"`step` must be an integer >= 1 \(lines\), got 1.5"):
        group_events(evs, kind, size=4, step=1.5)


def test_integral_float_sizes_still_work():
    """The CLI reads --window-size as a float: 100.0 is a count."""
    evs = timed([None] * 10)
    assert [s.line_nos for s in group_events(evs, "count", size=4.0, step=2.0)] == [
        (1, 2, 3, 4), (3, 4, 5, 6), (5, 6, 7, 8), (7, 8, 9, 10)
    ]


def test_validated_grouping_has_integer_counts():
    assert Grouping(kind="count", size=4.0).validated().size == 4
