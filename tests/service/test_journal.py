"""The journal keeps every acknowledged line: records numbered in order, torn tails cut off,
corruption refused, lines readable by offset, old segments dropped only when nothing needs them."""

from __future__ import annotations

import os

import pytest

from logad.errors import InputError
from logad.service.journal import FLUSH, LINES, Journal


def _fill(j: Journal, n_records: int, size: int = 50) -> list:
    out = []
    for r in range(n_records):
        lines = [f"record {r} line {i} é" for i in range(size)]
        out.append(j.submit(LINES, lines, [f"src{r % 2}"] * size, {"r": r}).result(timeout=10))
    return out


def test_records_offsets_reads_and_reopen(tmp_path):
    j = Journal(tmp_path / "j").open()
    recs = _fill(j, 5)
    flush = j.submit(FLUSH, [], [], {}).result(timeout=10)
    assert [r.rseq for r in recs] == [0, 1, 2, 3, 4] and flush.rseq == 5
    assert recs[2].first_offset == 101 and recs[2].last_offset == 150 and flush.first_offset == 251
    assert j.read_lines([1, 150, 250, 251]) == {1: "record 0 line 0 é", 150: "record 2 line 49 é",
                                                 250: "record 4 line 49 é"}
    assert j.sources_of([1, 51, 250]) == {1: "src0", 51: "src1", 250: "src0"}
    j.close()
    j = Journal(tmp_path / "j").open()
    assert (j.next_rseq, j.next_offset) == (6, 251)
    back = list(j.records(3))
    assert [r.rseq for r in back] == [3, 4, 5] and back[0].lines == recs[3].lines and back[0].meta["r"] == 3
    assert back[0].sources == recs[3].sources
    j.close()


def test_torn_tail_is_cut_and_corruption_refused(tmp_path):
    j = Journal(tmp_path / "j").open()
    _fill(j, 3)
    j.close()
    seg = next((tmp_path / "j").glob("*.seg"))
    size = seg.stat().st_size
    with open(seg, "ab") as fh:  # a write the kill interrupted
        fh.write(b"LGJ1\x01garbage")
    j = Journal(tmp_path / "j").open()
    assert j.next_rseq == 3 and seg.stat().st_size == size
    _fill(j, 1)
    j.close()
    # a flipped byte with whole records after it is damage, not a torn write: refused, never cut
    data = bytearray(seg.read_bytes())
    data[100] ^= 0xFF
    seg.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damage"):
        Journal(tmp_path / "j").open()
    assert seg.stat().st_size == len(data)
    j = Journal(tmp_path / "k", segment_bytes=1000).open()
    _fill(j, 4)
    j.close()
    first = sorted((tmp_path / "k").glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[0] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt"):
        Journal(tmp_path / "k").open()


def test_segments_rotate_and_old_ones_are_dropped(tmp_path):
    j = Journal(tmp_path / "j", segment_bytes=4000).open()
    recs = _fill(j, 12)
    segs = sorted((tmp_path / "j").glob("*.seg"))
    assert len(segs) >= 3
    assert j.drop_before(6, 1) == 0  # line 1 still needed (open in a window)
    dropped = j.drop_before(6, recs[6].first_offset)
    assert dropped >= 1 and len(list((tmp_path / "j").glob("*.seg"))) == len(segs) - dropped
    assert 1 not in j.read_lines([1]) and j.read_lines([recs[11].last_offset])
    assert [r.rseq for r in j.records(6)][0] == 6
    j.close()
    j = Journal(tmp_path / "j").open()  # reopens from the first kept segment
    assert j.next_rseq == 12 and j.next_offset == recs[-1].last_offset + 1
    j.close()


def test_a_failed_write_refuses_later_records(tmp_path, monkeypatch):
    from logad.service.journal import JournalError

    j = Journal(tmp_path / "j").open()
    _fill(j, 1)

    def broken(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", broken)
    fut = j.submit(LINES, ["x"], ["s"], {})
    with pytest.raises(JournalError, match="No space"):
        fut.result(timeout=10)
    with pytest.raises(JournalError):
        j.submit(LINES, ["y"], ["s"], {})
    monkeypatch.undo()
    j.close()
