"""The streaming windower gives exactly the batch path's sequences, for every grouping.

Compared order: both sides sorted by (first line number, sequence id); every field of every
sequence must be equal (NaN equal to NaN in line_values), and so must the stats.
"""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logad.errors import InvalidParameterError
from logad.windowing import StreamingWindower
from logad.windowing.grouping import Grouping, LineEvent, group_events
from tests.windowing.compare import canonical

KEYS = ("blk_1", "blk_2", "blk_3", "blk_4")
SOURCES = (
    "/var/log/pods/shop_cart-7f_1/app/0.log",
    "/var/log/pods/shop_cart-7f_1/app/1.log",  # the same pod, a restarted container
    "/var/log/pods/shop_pay-2c_9/app/0.log",
    "/var/log/syslog",  # matches no pod: no session when sessions come from the path
)
POD = r"pods/[^_]+_([^_/]+)_"
NAN = float("nan")
# log time moves forward, stays (ties) or goes back; some stamps are missing or unusable
DELTAS = st.sampled_from([0.0, 0.0, 0.25, 0.5, 1.0, 1.0, 2.0, 3.0, 7.5, 40.0, -0.5, -3.0])
SPECIAL = st.sampled_from(["none", "none", "inf", "-inf", "nan", "1e15", "decades"])


def _stamp(t, special):
    return {"none": None, "inf": math.inf, "-inf": -math.inf, "nan": NAN, "1e15": 1e15, "decades": t + 2e9}[special]


@st.composite
def streams(draw):
    n = draw(st.integers(0, 45))
    labelled = draw(st.booleans())
    with_values = draw(st.booleans())
    t = draw(st.sampled_from([0.0, 1000.0, 1.1e9]))
    evs = []
    for i in range(n):
        t += draw(DELTAS)
        special = draw(st.one_of(st.none(), SPECIAL)) if draw(st.integers(0, 4)) == 0 else None
        evs.append(LineEvent(
            line_no=i + 1,
            template_id=draw(st.integers(1, 6)),
            timestamp=t if special is None else _stamp(t, special),
            label=draw(st.sampled_from([None, 0, 0, 1])) if labelled else None,
            keys=tuple(draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True))),
            values=(draw(st.sampled_from([1.0, 2.5, NAN])),) if with_values else None,
            source=draw(st.sampled_from(SOURCES)),
        ))
    return evs


@st.composite
def groupings(draw):
    kind = draw(st.sampled_from(["count", "time", "session", "entity", "file"]))
    if kind == "session":
        return Grouping(
            kind="session",
            timeout=draw(st.sampled_from([None, 0.5, 1.0, 4.0])),
            session_from_path=draw(st.sampled_from([None, POD])),
        )
    if kind == "time":
        size = draw(st.sampled_from([0.5, 1.0, 2.5, 10.0]))
        return Grouping(kind="time", size=size, step=size * draw(st.sampled_from([1.0, 0.5, 0.25, 0.3])))
    size = draw(st.one_of(st.none(), st.integers(1, 6))) if kind != "count" else draw(st.integers(1, 6))
    step = draw(st.integers(1, size)) if size is not None else None
    return Grouping(kind=kind, size=size, step=step)


LABEL_MAPS = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(KEYS + ("cart-7f", "pay-2c")), st.integers(0, 1)),
)


def stream(g, labels, evs):
    w = StreamingWindower(g, labels)
    out = []
    for ev in evs:
        out.extend(w.push(ev))
    return out + w.flush(), w.stats


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=streams(), g=groupings(), labels=LABEL_MAPS, cut=st.floats(0, 1))
def test_streaming_equals_batch_and_survives_a_checkpoint(evs, g, labels, cut):
    batch_stats: dict = {}
    batch = group_events(evs, g, labels=labels if g.kind == "session" else None, stats=batch_stats)
    labels = labels if g.kind == "session" else None
    seqs, stats = stream(g, labels, evs)
    assert canonical(seqs) == canonical(batch)
    assert stats == batch_stats
    assert len({s.sequence_id for s in seqs}) == len(seqs)  # ids are distinct

    # checkpoint mid-stream through strict JSON, restore, feed the rest: the same result
    c = int(cut * len(evs))
    w = StreamingWindower(g, labels)
    first = [s for ev in evs[:c] for s in w.push(ev)]
    state = json.loads(json.dumps(w.to_dict(), allow_nan=False))
    w2 = StreamingWindower.from_dict(state)
    rest = [s for ev in evs[c:] for s in w2.push(ev)] + w2.flush()
    assert canonical(first + rest) == canonical(batch)
    assert w2.stats == batch_stats


@given(evs=streams(), size=st.integers(1, 6), data=st.data())
def test_sliding_count_window_holds_at_most_its_size(evs, size, data):
    w = StreamingWindower(Grouping(kind="count", size=size, step=data.draw(st.integers(1, size))))
    for ev in evs:
        w.push(ev)
        assert w.held_lines <= size


def test_time_windows_keep_only_open_lines():
    w = StreamingWindower(Grouping(kind="time", size=10))
    closed = []
    for i in range(1000):
        closed += w.push(LineEvent(i + 1, 1, float(i)))
        assert w.held_lines <= 10
    assert len(closed) == 99 and len(w.flush()) == 1


def test_session_timeout_closes_and_reopens_with_a_distinct_id():
    g = Grouping(kind="session", timeout=10)
    w = StreamingWindower(g, labels={"blk_1": 1})
    assert w.push(LineEvent(1, 1, 0.0, keys=("blk_1",))) == []
    assert w.push(LineEvent(2, 2, 5.0, keys=("blk_2",))) == []
    closed = w.push(LineEvent(3, 3, 10.5, keys=("blk_2",)))  # 10.5 s past blk_1's last line
    assert [s.sequence_id for s in closed] == ["blk_1"] and closed[0].label == 1
    w.push(LineEvent(4, 4, 11.0, keys=("blk_1",)))
    rest = w.flush()
    assert [(s.sequence_id, s.line_nos, s.label) for s in rest] == [("blk_2", (2, 3), None), ("blk_1#2", (4,), 1)]
    assert w.stats["unlabelled"] == 1  # blk_2 is not in the label map


def test_a_session_times_out_only_after_more_than_timeout():
    evs = [LineEvent(1, 1, 0.0, keys=("a",)), LineEvent(2, 1, 10.0, keys=("a",)), LineEvent(3, 1, 20.5, keys=("a",))]
    seqs = group_events(evs, Grouping(kind="session", timeout=10))
    assert [(s.sequence_id, s.line_nos) for s in seqs] == [("a", (1, 2)), ("a#2", (3,))]


def test_streaming_refuses_what_batch_refuses():
    with pytest.raises(InvalidParameterError, match=r"`step` must be <= `size` \(10\), got 50"):
        StreamingWindower(Grouping(kind="count", size=10, step=50))
    with pytest.raises(InvalidParameterError, match=r"`size` must be >= 0.001 s"):
        StreamingWindower(Grouping(kind="time", size=1e-9))
    with pytest.raises(InvalidParameterError, match=r"`size` must be an integer >= 1 \(lines\), got 2.5"):
        StreamingWindower(Grouping(kind="count", size=2.5))


def test_unusable_timestamps_are_counted_in_stream_stats():
    w = StreamingWindower(Grouping(kind="time", size=60))
    for i, t in enumerate([0.0, math.inf, NAN, 1e15, 1.0, 0.5]):
        w.push(LineEvent(i + 1, 1, t))
    (seq,) = w.flush()
    assert seq.line_nos == (1, 2, 3, 4, 5, 6) and (seq.start_time, seq.end_time) == (0.0, 1.0)
    assert {k: w.stats[k] for k in ("time_not_finite", "time_out_of_range", "late")} == {
        "time_not_finite": 2, "time_out_of_range": 1, "late": 1
    }


def test_state_is_strict_json_and_refuses_garbage():
    w = StreamingWindower(Grouping(kind="count", size=3, step=1))
    w.push(LineEvent(1, 1, math.inf, values=(NAN, math.inf)))
    state = json.dumps(w.to_dict(), allow_nan=False)
    w2 = StreamingWindower.from_dict(json.loads(state))
    (seq,) = w2.flush()
    assert seq.start_time is None and math.isnan(seq.line_values[0][1]) and seq.line_values[0][2] == math.inf
    with pytest.raises(InvalidParameterError, match="not a streaming windower state"):
        StreamingWindower.from_dict({"grouping": {}})
    broken = json.loads(state)
    del broken["state"]["n"]
    with pytest.raises(InvalidParameterError, match="windower state is corrupt"):
        StreamingWindower.from_dict(broken)


def test_flush_starts_a_new_stream():
    w = StreamingWindower(Grouping(kind="count", size=2))
    w.push(LineEvent(1, 1))
    assert [s.sequence_id for s in w.flush()] == ["w0"]
    w.push(LineEvent(2, 1))
    assert [s.sequence_id for s in w.push(LineEvent(3, 1))] == ["w0"]
    assert w.stats["events"] == 3 and w.stats["sequences"] == 2


def test_timed_out_sessions_are_not_kept():
    w = StreamingWindower(Grouping(kind="session", timeout=1.0))
    closed = []
    for i in range(1000):
        closed += w.push(LineEvent(i + 1, 1, float(i), keys=(f"blk_{i}",)))
        assert w.held_lines <= 2
    assert len(closed) == 998 and len(w.flush()) == 2


def test_restored_state_refuses_windows_for_a_whole_entity_grouping():
    w = StreamingWindower(Grouping(kind="entity", size=2))
    w.push(LineEvent(1, 1, keys=("n1",)))
    state = w.to_dict()
    state["grouping"]["size"] = state["grouping"]["step"] = None
    with pytest.raises(InvalidParameterError, match="count windows for a grouping without `size`"):
        StreamingWindower.from_dict(state)
