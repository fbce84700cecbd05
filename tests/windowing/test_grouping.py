from hypothesis import given
from hypothesis import strategies as st

from logad.windowing.grouping import (
    LineEvent,
    count_windows,
    entity_windows,
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
