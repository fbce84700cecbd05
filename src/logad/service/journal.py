"""The journal: every accepted line, on disk and fsynced before the service acknowledges it.

An append-only log of *records* in segment files (`journal/<first record>-<first offset>.seg`). A record is one
accepted request (its lines, the source of each, when it arrived, where a followed file stood) or
a flush marker; it holds a record number (`rseq`, from 0) and the offset of its first line (lines
are numbered from 1 across the whole journal). Layout of a record:

    header  magic "LGJ1", kind u8, 3 pad, rseq u64, first_offset u64, n u32, meta_len u32,
            body_len u32, crc32 u32 (of the header before it and the body)
    body    meta (JSON) | index ((n + 1) x u32: byte start of each line in the text, then its end)
            | text (the lines joined by '\\n', UTF-8)

Writes are group-committed: `submit` numbers a record and queues it; one writer thread writes
everything queued in one `write`, `fdatasync`s, and only then hands the records on (`on_durable`)
and resolves their futures. A kill at any moment leaves whole records and at most one torn record
at the end of the last segment, which `open` cuts off (it was never acknowledged). The text of any
line still kept can be read back by offset (`read_lines`: two `pread`s a line), which is how alarms
show their lines without the service holding every open line's text in memory.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import itertools
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from logad.errors import InputError
from logad.io import fsync_dir

log = logging.getLogger(__name__)

MAGIC = b"LGJ1"
HEADER = struct.Struct("<4sBxxxQQIIII")
LINES, FLUSH = 1, 2
KINDS = {LINES: "lines", FLUSH: "flush"}
SEGMENT_BYTES = 64 * 1024 * 1024


class JournalError(OSError):
    """The journal cannot be written (disk full, I/O error); the service stops accepting lines."""


@dataclass
class Record:
    """One journal record. `sources` has one entry per line; `meta` is small JSON (arrival time,
    followed-file positions)."""

    kind: int
    lines: list[str]
    sources: list[str]
    meta: dict = field(default_factory=dict)
    rseq: int = -1
    first_offset: int = 0
    split: object = None  # the header split, when the HTTP face made it already (not stored)

    @property
    def n(self) -> int:
        return len(self.lines)

    @property
    def last_offset(self) -> int:
        return self.first_offset + len(self.lines) - 1


def _encode(rec: Record) -> bytes:
    import numpy as np

    meta = dict(rec.meta)
    if rec.lines:
        meta["sources"] = [[s, len(list(g))] for s, g in itertools.groupby(rec.sources)]
    meta_b = json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text = "\n".join(rec.lines).encode("utf-8")
    if rec.lines:
        breaks = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10).astype(np.uint32)
        index = np.empty(len(rec.lines) + 1, dtype="<u4")
        index[0] = 0
        index[1:-1] = breaks + 1
        index[-1] = len(text) + 1  # as if the text ended with a separator
        index_b = index.tobytes()
    else:
        index_b = b""
    body = meta_b + index_b + text
    head = HEADER.pack(MAGIC, rec.kind, rec.rseq, rec.first_offset, len(rec.lines), len(meta_b), len(body), 0)
    crc = zlib.crc32(body, zlib.crc32(head[:-4]))
    return head[:-4] + struct.pack("<I", crc) + body


def _decode_body(kind: int, rseq: int, first: int, n: int, meta_len: int, body: bytes) -> Record:
    meta = json.loads(body[:meta_len].decode("utf-8")) if meta_len else {}
    text = body[meta_len + 4 * (n + 1):] if n else b""
    lines = text.decode("utf-8").split("\n") if n else []
    sources: list[str] = []
    for src, count in meta.pop("sources", []):
        sources.extend([src] * count)
    if len(lines) != n or len(sources) != n:
        raise InputError(f"journal record {rseq} is inconsistent ({n} lines announced, {len(lines)} found)")
    return Record(kind, lines, sources, meta, rseq, first)


@dataclass
class _Seg:
    path: Path
    first_rseq: int
    size: int = 0
    last_rseq: int = -1
    last_offset: int = 0  # offset of the last line in it (0: none)


class Journal:
    """Segmented, checksummed, group-committed append-only log (see the module docstring)."""

    def __init__(self, folder: str | Path, *, segment_bytes: int = SEGMENT_BYTES, sync: bool = True) -> None:
        self.folder = Path(folder)
        self.segment_bytes = segment_bytes
        self.sync = sync
        self.next_rseq = 0
        self.next_offset = 1
        self.on_durable: Callable[[list[Record]], None] | None = None
        self._segs: list[_Seg] = []
        # lines records, for reads by offset: first offsets, (segment path, record position, n, meta_len)
        self._firsts: list[int] = []
        self._where: list[tuple[Path, int, int, int]] = []
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._pending: list[tuple[Record, concurrent.futures.Future]] = []
        self._fd: int | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self.failed: BaseException | None = None
        self.fsync_seconds: Callable[[float], None] | None = None  # a metrics hook
        self._readers: dict[Path, int] = {}
        self._sources_cache: dict[tuple[Path, int], tuple[list[int], list[str]]] = {}
        self._read_lock = threading.Lock()

    # ------------------------------------------------------------------ opening
    def open(self) -> Journal:
        self.folder.mkdir(parents=True, exist_ok=True)
        paths = sorted(self.folder.glob("*.seg"))
        for k, path in enumerate(paths):
            first_rseq, first_offset = _seg_name(path)
            seg = _Seg(path, first_rseq)
            if k == 0:
                self.next_rseq, self.next_offset = first_rseq, first_offset
            elif first_rseq != self.next_rseq:
                raise InputError(f"journal segment {path} starts at record {first_rseq}, {self.next_rseq} was expected")
            self._scan(seg, last=k == len(paths) - 1)
            self._segs.append(seg)
        if not self._segs:
            self._segs.append(_Seg(self._seg_path(self.next_rseq, self.next_offset), self.next_rseq))
        active = self._segs[-1]
        self._fd = os.open(active.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(self.folder)
        self._thread = threading.Thread(target=self._writer, name="logad-journal", daemon=True)
        self._thread.start()
        return self

    def _scan(self, seg: _Seg, last: bool) -> None:
        """Index a segment's records; at the end of the last one, cut a torn record off."""
        size = seg.path.stat().st_size
        pos = 0
        with open(seg.path, "rb") as fh:
            while pos < size:
                fh.seek(pos)
                head = fh.read(HEADER.size)
                problem = None
                if len(head) < HEADER.size:
                    problem = "a short header"
                else:
                    magic, kind, rseq, first, n, meta_len, body_len, crc = HEADER.unpack(head)
                    if magic != MAGIC or kind not in KINDS:
                        problem = "no record header"
                    elif pos + HEADER.size + body_len > size:
                        problem = "a record cut short"
                    elif last:  # the tail may be torn: check every record's checksum there
                        body = fh.read(body_len)
                        if zlib.crc32(body, zlib.crc32(head[:-4])) != crc:
                            problem = "a bad checksum"
                    if problem is None and rseq != self.next_rseq:
                        problem = f"record {rseq} where {self.next_rseq} was expected"
                if problem is not None:
                    if not last or _whole_record_after(fh, pos + 1, size):
                        raise InputError(f"journal segment {seg.path} is corrupt at byte {pos}: {problem} (whole records "
                                         "follow it: this is damage, not a torn write; restore the state folder "
                                         "from a backup or move it away)")
                    log.warning("journal: cutting %d bytes off the end of %s (%s: a write that was never "
                                "acknowledged)", size - pos, seg.path.name, problem)
                    with open(seg.path, "r+b") as w:
                        w.truncate(pos)
                        os.fsync(w.fileno())
                    size = pos
                    break
                self._index(seg, pos, kind, rseq, first, n, meta_len)
                pos += HEADER.size + body_len
        seg.size = size

    def _index(self, seg: _Seg, pos: int, kind: int, rseq: int, first: int, n: int, meta_len: int) -> None:
        seg.last_rseq = rseq
        self.next_rseq = rseq + 1
        self.next_offset = max(self.next_offset, first + n)
        if n:
            seg.last_offset = first + n - 1
            self._firsts.append(first)
            self._where.append((seg.path, pos, n, meta_len))

    # ------------------------------------------------------------------ writing
    def submit(self, kind: int, lines: list[str], sources: list[str], meta: dict | None = None,
               split=None) -> concurrent.futures.Future:
        """Queue a record; the future resolves with the numbered Record once it is on disk."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self.failed is not None:
                raise JournalError(f"the journal cannot be written: {self.failed}")
            if self._closing:
                raise JournalError("the journal is closing")
            rec = Record(kind, lines, sources, meta or {}, self.next_rseq, self.next_offset, split)
            self.next_rseq += 1
            self.next_offset += len(lines)
            self._pending.append((rec, fut))
            self._cv.notify()
        return fut

    def _writer(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._cv.wait()
                if not self._pending and self._closing:
                    return
                batch, self._pending = self._pending, []
            try:
                self._write([r for r, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - reported to every waiting request
                with self._lock:
                    self.failed = exc
                    rest, self._pending = self._pending, []
                log.error("journal: write failed, no more lines are accepted: %s", exc)
                for _, fut in batch + rest:
                    fut.set_exception(JournalError(f"the journal cannot be written: {exc}"))
                return
            if self.on_durable is not None:
                self.on_durable([r for r, _ in batch])
            for rec, fut in batch:
                fut.set_result(rec)

    def _write(self, records: list[Record]) -> None:
        seg = self._segs[-1]
        if seg.size >= self.segment_bytes:
            self._rotate(records[0].rseq, records[0].first_offset)
            seg = self._segs[-1]
        data = [_encode(r) for r in records]
        blob = b"".join(data)
        t0 = time.perf_counter()
        written = 0
        while written < len(blob):
            written += os.write(self._fd, memoryview(blob)[written:])
        if self.sync:
            os.fdatasync(self._fd)
        if self.fsync_seconds is not None:
            self.fsync_seconds(time.perf_counter() - t0)
        pos = seg.size
        for r, d in zip(records, data):
            meta_len = HEADER.unpack_from(d)[5]
            with self._read_lock:
                self._index(seg, pos, r.kind, r.rseq, r.first_offset, r.n, meta_len)
            pos += len(d)
        seg.size = pos

    def _seg_path(self, first_rseq: int, first_offset: int) -> Path:
        return self.folder / f"{first_rseq:016d}-{first_offset:016d}.seg"

    def _rotate(self, first_rseq: int, first_offset: int) -> None:
        os.close(self._fd)
        seg = _Seg(self._seg_path(first_rseq, first_offset), first_rseq)
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(self.folder)
        self._segs.append(seg)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._lock:
            self._closing = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with self._read_lock:
            for fd in self._readers.values():
                os.close(fd)
            self._readers.clear()

    # ------------------------------------------------------------------ reading
    def records(self, from_rseq: int = 0) -> Iterator[Record]:
        """The records numbered `from_rseq` and later, read from disk (checksums verified)."""
        for k, seg in enumerate(self._segs):
            nxt = self._segs[k + 1].first_rseq if k + 1 < len(self._segs) else None
            if nxt is not None and nxt <= from_rseq:
                continue
            with open(seg.path, "rb") as fh:
                pos = 0
                while pos < seg.size:
                    fh.seek(pos)
                    head = fh.read(HEADER.size)
                    magic, kind, rseq, first, n, meta_len, body_len, crc = HEADER.unpack(head)
                    if rseq < from_rseq:
                        pos += HEADER.size + body_len
                        continue
                    body = fh.read(body_len)
                    if magic != MAGIC or zlib.crc32(body, zlib.crc32(head[:-4])) != crc:
                        raise InputError(f"journal record {rseq} in {seg.path} has a bad checksum")
                    yield _decode_body(kind, rseq, first, n, meta_len, body)
                    pos += HEADER.size + body_len

    def _locate(self, o: int) -> tuple[int, int] | None:
        """(index of the lines record holding offset `o`, position in it), or None."""
        k = bisect.bisect_right(self._firsts, o) - 1
        if k < 0:
            return None
        i = o - self._firsts[k]
        return (k, i) if i < self._where[k][2] else None

    def _reader(self, path: Path) -> int | None:
        fd = self._readers.get(path)
        if fd is None:
            try:
                fd = self._readers[path] = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                return None
        return fd

    def read_lines(self, offsets) -> dict[int, str]:
        """The text of lines by offset (those no longer kept are left out)."""
        out: dict[int, str] = {}
        with self._read_lock:
            for o in offsets:
                loc = self._locate(o)
                if loc is None:
                    continue
                k, i = loc
                path, pos, n, meta_len = self._where[k]
                fd = self._reader(path)
                if fd is None:
                    continue
                start, end = struct.unpack("<II", os.pread(fd, 8, pos + HEADER.size + meta_len + 4 * i))
                text_at = pos + HEADER.size + meta_len + 4 * (n + 1)
                out[o] = os.pread(fd, end - start - 1, text_at + start).decode("utf-8", errors="replace")
        return out

    def sources_of(self, offsets) -> dict[int, str]:
        """The source of lines by offset (from each record's meta, decoded once and cached)."""
        out: dict[int, str] = {}
        cache = self._sources_cache
        with self._read_lock:
            for o in offsets:
                loc = self._locate(o)
                if loc is None:
                    continue
                k, i = loc
                path, pos, n, meta_len = self._where[k]
                key = (path, pos)
                runs = cache.get(key)
                if runs is None:
                    fd = self._reader(path)
                    if fd is None:
                        continue
                    meta = json.loads(os.pread(fd, meta_len, pos + HEADER.size).decode("utf-8"))
                    ends, names, total = [], [], 0
                    for src, count in meta.get("sources", []):
                        total += count
                        ends.append(total)
                        names.append(src)
                    runs = cache[key] = (ends, names)
                    if len(cache) > 4096:
                        cache.pop(next(iter(cache)))
                ends, names = runs
                j = bisect.bisect_right(ends, i)
                if j < len(names):
                    out[o] = names[j]
        return out

    # ------------------------------------------------------------------ retention
    def drop_before(self, rseq: int, offset: int) -> int:
        """Delete whole segments holding only records before `rseq` and lines before `offset`
        (never the one being written); returns how many."""
        dropped = 0
        while len(self._segs) > 1:
            seg, nxt = self._segs[0], self._segs[1]
            if nxt.first_rseq > rseq or seg.last_offset >= offset:
                break
            with self._read_lock:
                fd = self._readers.pop(seg.path, None)
                if fd is not None:
                    os.close(fd)
                keep = bisect.bisect_right(self._firsts, seg.last_offset) if seg.last_offset else 0
                del self._firsts[:keep]
                del self._where[:keep]
            seg.path.unlink(missing_ok=True)
            self._segs.pop(0)
            dropped += 1
        return dropped

    @property
    def writing(self) -> bool:
        """Whether the writer thread still runs (it stops after `close` or a failed write)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segs)

    @property
    def first_offset_kept(self) -> int:
        return self._firsts[0] if self._firsts else self.next_offset


def _whole_record_after(fh, start: int, size: int) -> bool:
    """Whether a checksummed record starts anywhere after `start` (a torn write leaves none)."""
    fh.seek(start)
    data = fh.read(size - start)
    at = data.find(MAGIC)
    while at >= 0:
        head = data[at:at + HEADER.size]
        if len(head) == HEADER.size:
            magic, kind, _r, _f, _n, _m, body_len, crc = HEADER.unpack(head)
            body = data[at + HEADER.size:at + HEADER.size + body_len]
            if kind in KINDS and len(body) == body_len and zlib.crc32(body, zlib.crc32(head[:-4])) == crc:
                return True
        at = data.find(MAGIC, at + 1)
    return False


def _seg_name(path: Path) -> tuple[int, int]:
    """(first record, first line offset) from a segment's name `RSEQ-OFFSET.seg`."""
    try:
        a, b = path.stem.split("-")
        return int(a), int(b)
    except ValueError:
        raise InputError(f"{path} is not a journal segment (expected a name RECORD-OFFSET.seg)") from None
