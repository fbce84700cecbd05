"""Gzip files are inflated a chunk ahead in a thread: same lines, same errors, no thread left."""

from __future__ import annotations

import gzip
import threading

import pytest

from logad.errors import InputError
from logad.formats.reader import ReadReport, raw_chunks


def _threads() -> int:
    return sum(t.name == "logad-read-ahead" for t in threading.enumerate())


def test_same_bytes_as_the_plain_file(tmp_path):
    text = "".join(f"line {i} {'x' * (i % 50)}\n" for i in range(20_000))
    plain = tmp_path / "a.log"
    plain.write_text(text)
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    got = {}
    for p in (plain, packed):
        report = ReadReport(str(p))
        got[p.suffix] = b"".join(chunk for chunk, _ in raw_chunks(p, report, block_bytes=4096))
        assert report.lines_total == 20_000
    assert got[".log"] == got[".gz"] == text.encode()
    assert _threads() == 0


def test_a_truncated_gzip_is_one_clear_error(tmp_path):
    data = gzip.compress("".join(f"line {i}\n" for i in range(50_000)).encode())
    bad = tmp_path / "cut.log.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt or truncated"):
        for _ in raw_chunks(bad, ReadReport(str(bad)), block_bytes=4096):
            pass
    assert _threads() == 0


def test_a_reader_that_stops_early_ends_the_thread(tmp_path):
    p = tmp_path / "big.log.gz"
    p.write_bytes(gzip.compress(b"".join(b"line %d\n" % i for i in range(200_000))))
    chunks = raw_chunks(p, ReadReport(str(p)), block_bytes=4096)
    next(chunks)
    chunks.close()  # the consumer gives up after one chunk
    assert _threads() == 0


def test_lines_by_number_equals_read_lines(tmp_path):
    from logad.formats.reader import lines_by_number, read_lines

    text = "".join(("" if i % 9 == 0 else f"line {i} \xe9\r") + "\n" for i in range(1, 30_001))
    p = tmp_path / "x.log.gz"
    p.write_bytes(gzip.compress(text.encode("utf-8")))
    every = dict(read_lines(p))
    wanted = {1, 2, 9, 18, 4095, 4096, 4097, 29_999, 30_000, 40_000}
    assert lines_by_number(p, wanted) == {n: every[n] for n in wanted if n in every}
    assert lines_by_number(p, []) == {}
    assert _threads() == 0
