import itertools
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logad.errors import InvalidParameterError
from logad.windowing.grouping import (
    Grouping,
    LineEvent,
    count_windows,
    entity_windows,
    group_events,
    identifier_extractor,
    sessions_by_identifier,
    time_windows,
)


def events(n, labels=None, times=None, keys=None):
    return [
        LineEvent(
            line_no=i + 1,
            template_id=(i % 5) + 1,
            timestamp=None if times is None else times[i],
            label=None if labels is None else labels[i],
            keys=() if keys is None else keys[i],
        )
        for i in range(n)
    ]


def test_multi_id_line_joins_each_session():
    evs = [
        LineEvent(1, 1, 0.0, None, ("blk_1",)),
        LineEvent(2, 2, 1.0, None, ("blk_1", "blk_2")),
        LineEvent(3, 3, 2.0, None, ("blk_2",)),
    ]
    seqs, unlabelled = sessions_by_identifier(evs, {"blk_1": 0, "blk_2": 1})
    by_id = {s.sequence_id: s for s in seqs}
    assert by_id["blk_1"].line_nos == (1, 2)
    assert by_id["blk_2"].line_nos == (2, 3)
    assert by_id["blk_2"].label == 1 and by_id["blk_1"].label == 0
    assert by_id["blk_2"].start_time == 1.0 and by_id["blk_2"].end_time == 2.0
    assert unlabelled == []


def test_sessions_missing_from_labels_are_reported_not_dropped():
    evs = [LineEvent(1, 1, None, None, ("a",)), LineEvent(2, 1, None, None, ("b",))]
    seqs, unlabelled = sessions_by_identifier(evs, {"a": 0})
    assert len(seqs) == 2
    assert unlabelled == ["b"]
    assert {s.sequence_id: s.label for s in seqs} == {"a": 0, "b": None}


def test_identifier_extractor_distinct_in_order():
    ex = identifier_extractor(r"(blk_-?\d+)")
    assert ex("copy blk_-12 to blk_7 then blk_-12") == ("blk_-12", "blk_7")
    assert ex("no id here") == ()


def test_window_label_is_any_line_and_line_labels_kept():
    evs = events(10, labels=[0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    seqs = count_windows(evs, 5)
    assert [s.label for s in seqs] == [1, 0]
    assert seqs[0].line_labels == (0, 0, 0, 1, 0)


def test_entity_windows_per_node():
    keys = [("n1",), ("n2",)] * 6
    seqs = entity_windows(events(12, keys=keys), size=4)
    assert [s.entity for s in seqs] == ["n1", "n1", "n2", "n2"]
    assert seqs[0].line_nos == (1, 3, 5, 7)
    assert len(seqs[1]) == 2


def test_time_windows_sliding():
    times = [0, 10, 20, 65, 70, 130]
    seqs = time_windows(events(6, times=times), size=60, step=30)
    assert seqs[0].line_nos == (1, 2, 3)  # [0, 60)
    assert seqs[1].line_nos == (4, 5)  # [30, 90)
    assert seqs[2].line_nos == (4, 5)  # [60, 120)
    assert seqs[3].line_nos == (6,)  # [90, 150)


@given(
    n=st.integers(min_value=0, max_value=200),
    size=st.integers(min_value=1, max_value=40),
    step=st.integers(min_value=1, max_value=40),
)
def test_count_windows_cover_every_line_and_keep_order(n, size, step):
    step = min(step, size)  # windows with gaps would skip lines by design
    seqs = count_windows(events(n), size, step)
    covered = sorted({ln for s in seqs for ln in s.line_nos})
    assert covered == list(range(1, n + 1))
    for s in seqs:
        assert 1 <= len(s) <= size
        assert list(s.line_nos) == sorted(s.line_nos)
    if n:
        assert seqs[0].line_nos[0] == 1


@given(
    times=st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=0, max_size=100),
    size=st.floats(min_value=1, max_value=500),
)
def test_tumbling_time_windows_partition_lines(times, size):
    evs = events(len(times), times=times)
    seqs = time_windows(evs, size=size)
    seen = [ln for s in seqs for ln in s.line_nos]
    assert sorted(seen) == list(range(1, len(times) + 1))  # each line exactly once
    # a window spans less than `size` of log time (which never goes back: a line stamped earlier
    # than one before it is placed at the latest time, so its own stamp may lie before the window)
    log_time = list(itertools.accumulate(times, max))
    for s in seqs:
        placed = [log_time[ln - 1] for ln in s.line_nos]
        assert max(placed) - min(placed) < size + 1e-6
    if times == sorted(times):
        for s in seqs:
            assert s.end_time - s.start_time < size + 1e-6


def test_entity_grouping_records_the_field_the_format_supplied(tmp_path):
    """A saved model must name the node field it grouped by, also when the format chose it."""
    from logad.pipeline import Grouping, load_logs

    log = tmp_path / "bgl.log"
    log.write_text(
        "- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.363779 R02-M1-N0 RAS KERNEL INFO cache parity ok\n"
        "- 1117838571 2005.06.03 R03-M1-N0 2005-06-03-15.42.51.363779 R03-M1-N0 RAS KERNEL INFO cache parity ok\n"
    )
    loaded = load_logs([log], format="bgl", grouping=Grouping(kind="entity", size=20))
    assert loaded.grouping["entity_field"] == "Node"
    assert len(loaded.sequences) == 2  # one window per node


POD = r"pods/[^_]+_([^_/]+)_"


def test_file_grouping_one_sequence_per_file():
    evs = [LineEvent(i + 1, 1, float(i), source=src) for i, src in enumerate(["a.log", "b.log", "a.log", "b.log", "a.log"])]
    seqs = group_events(evs, Grouping(kind="file", size=None))
    assert [(s.sequence_id, s.entity, s.line_nos) for s in seqs] == [("a.log", "a.log", (1, 3, 5)), ("b.log", "b.log", (2, 4))]
    windows = group_events(evs, Grouping(kind="file", size=2))
    assert [(s.sequence_id, s.line_nos) for s in windows] == [("a.log#0", (1, 3)), ("a.log#1", (5,)), ("b.log#0", (2, 4))]


def test_sessions_from_the_file_path_join_files_of_one_session():
    evs = [
        LineEvent(1, 1, 0.0, keys=("blk_9",), source="/var/log/pods/shop_cart-7f_1/app/0.log"),
        LineEvent(2, 2, 1.0, source="/var/log/pods/shop_pay-2c_9/app/0.log"),
        LineEvent(3, 3, 2.0, source="/var/log/pods/shop_cart-7f_1/app/1.log"),  # restarted container
        LineEvent(4, 4, 3.0, source="/var/log/syslog"),
    ]
    stats: dict = {}
    unlabelled: list = []
    seqs = group_events(evs, Grouping(kind="session", session_from_path=POD), labels={"cart-7f": 1},
                        on_unlabelled=unlabelled.extend, stats=stats)
    assert [(s.sequence_id, s.line_nos, s.label) for s in seqs] == [("cart-7f", (1, 3), 1), ("pay-2c", (2,), None)]
    assert unlabelled == ["pay-2c"]
    assert stats["no_session"] == 1  # the syslog line names no pod: counted, not silently lost


def test_session_timeout_in_batch():
    evs = [LineEvent(1, 1, 0.0, keys=("blk_1",)), LineEvent(2, 1, 100.0, keys=("blk_1", "blk_2")),
           LineEvent(3, 1, 101.0, keys=("blk_1",))]
    seqs, unlabelled = sessions_by_identifier(evs, {"blk_1": 1, "blk_2": 0}, timeout=60)
    assert [(s.sequence_id, s.line_nos, s.label) for s in seqs] == [
        ("blk_1", (1,), 1), ("blk_1#2", (2, 3), 1), ("blk_2", (2,), 0)
    ]
    assert unlabelled == []


def test_describe_and_from_dict_round_trip():
    for g in [
        Grouping(kind="count", size=100, step=10),
        Grouping(kind="time", size=60.0),
        Grouping(kind="entity", size=None, entity_field="Node"),
        Grouping(kind="file", size=50),
        Grouping(kind="file", size=None),
        Grouping(kind="session", session_regex=r"(blk_-?\d+)", timeout=300),
        Grouping(kind="session", session_from_path=POD),
    ]:
        d = g.describe()
        assert json.loads(json.dumps(d)) == d
        back = Grouping.from_dict(d)
        assert back.validated() == g.validated()
        assert back.describe() == d
    assert "timeout" not in Grouping(kind="session", session_regex="(x)").describe()  # old models unchanged


def test_from_dict_refuses_unknown_keys_and_missing_kind():
    with pytest.raises(InvalidParameterError, match=r"'sise' \(did you mean 'size'\?\)"):
        Grouping.from_dict({"kind": "count", "sise": 10})
    with pytest.raises(InvalidParameterError, match="a grouping needs `kind`"):
        Grouping.from_dict({"size": 10})
    with pytest.raises(InvalidParameterError, match=r"`step` must be <= `size` \(10\), got 50"):
        Grouping.from_dict({"kind": "count", "size": 10, "step": 50})


@pytest.mark.parametrize("g, message", [
    (Grouping(kind="count", size=10, timeout=5), "`timeout` applies only to session groupings"),
    (Grouping(kind="file", session_from_path="(x)"), "`session_from_path` applies only to session groupings"),
    (Grouping(kind="session", timeout=0), r"`timeout` must be > 0, got 0"),
    (Grouping(kind="session", timeout=math.inf), r"`timeout` must be > 0, got inf"),
    (Grouping(kind="session", session_regex="(a)", session_from_path="(b)"), "not both"),
    (Grouping(kind="session", session_from_path="(unclosed"), "`session_from_path` is not a valid regex"),
    (Grouping(kind="entity", size=None, step=5), "`step` needs a `size`"),
    (Grouping(kind="count", size=None), "count windows need `size`"),
    (Grouping(kind="count", size=True), "`size` must be an integer >= 1"),
])
def test_bad_groupings_are_refused_clearly(g, message):
    with pytest.raises(InvalidParameterError, match=message):
        g.validated()
