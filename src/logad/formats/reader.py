"""Stream raw log files (plain or gzip) as blocks of records, counting every line that is not one.

Memory is bounded by bytes, not lines: the file is read in chunks of `block_bytes` decompressed
bytes; a line longer than `max_line_bytes` keeps its first `max_line_bytes` and the rest is
skipped as it streams by (a 1 GB line costs one chunk of memory, not a gigabyte). Each block holds
the complete lines of one chunk, so a block is cut by bytes too (and by `max_block_lines`).

Headers are split in linear time (header.py; the compiled core does whole blocks) and timestamps
are read a block at a time (times.py). Nothing is dropped silently: unmatched, undecodable,
oversized and empty lines are counted in a ReadReport (with the first line numbers of unmatched
ones), and the report is not printed here (the caller prints it once).
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from logad.errors import InputError
from logad.records import LogRecord

log = logging.getLogger(__name__)

try:  # the optional compiled core; the Python reference gives identical records
    from logad import _core  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _core = None

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF = 8192
BLOCK_BYTES = 4 << 20
MAX_BLOCK_LINES = 65_536
MAX_LINE_BYTES = 65_536


@dataclass
class ReadReport:
    """What happened to every line of one file."""

    path: str = ""
    lines_total: int = 0
    records: int = 0
    unmatched: int = 0
    unmatched_line_nos: list[int] = field(default_factory=list)
    invalid_utf8: int = 0
    oversized: int = 0
    empty_lines: int = 0
    lines_without_session: int = 0
    timed_out: int = 0  # lines a user regex could not split within its per-line time bound
    continued: int = 0  # lines joined to the record before them (the format's continuation rule)
    cr_line_endings: bool = False  # lines end in a bare carriage return (read as line ends)

    def as_dict(self) -> dict:
        return dict(vars(self))

    def summary(self) -> str:
        parts = [f"{self.path}: {self.lines_total} lines, {self.records} read"]
        if self.unmatched:
            first = ", ".join(str(n) for n in self.unmatched_line_nos[:5])
            lines = "line" if self.unmatched == 1 else "lines"
            parts.append(f"{self.unmatched} not matching the format ({lines} {first}{', ...' if self.unmatched > 5 else ''})")
        if self.timed_out:
            parts.append(f"{self.timed_out} of them over the format regex's per-line time bound")
        if self.cr_line_endings:
            parts.append("lines end in a bare carriage return (\\r, old Mac style): read as line ends")
        if self.continued:
            parts.append(f"{self.continued} continuation lines joined to the record before them")
        if self.invalid_utf8:
            parts.append(f"{self.invalid_utf8} with invalid UTF-8 (decoded with replacement characters)")
        if self.oversized:
            parts.append(f"{self.oversized} oversized (truncated)")
        if self.empty_lines:
            parts.append(f"{self.empty_lines} empty")
        if self.lines_without_session:
            parts.append(f"{self.lines_without_session} naming no session id")
        return "; ".join(parts)

    def unmatched_at(self, line_no: int) -> None:
        self.unmatched += 1
        if len(self.unmatched_line_nos) < 20:
            self.unmatched_line_nos.append(line_no)


class GzipStream(io.BufferedIOBase):
    """Decompressed bytes of a gzip file (every member of a multi-member file), read straight
    through zlib: `read(n)` returns at most n bytes (memory stays bounded whatever the
    compression ratio), CRC and length of each member are checked by zlib."""

    def __init__(self, raw, chunk: int = 1 << 18) -> None:
        super().__init__()
        self._raw = raw
        self._chunk = chunk
        self._d = zlib.decompressobj(31)
        self._pending = b""  # compressed input not yet given to zlib
        self._head = b""  # decompressed bytes peeked but not read
        self._eof = False

    def _inflate(self, n: int) -> bytes:
        while not self._eof:
            if not self._pending:
                self._pending = self._raw.read(self._chunk)
                if not self._pending:
                    if not self._d.eof:
                        raise EOFError("compressed file ended before the end-of-stream marker was reached")
                    self._eof = True
                    return b""
            out = self._d.decompress(self._pending, n)
            self._pending = self._d.unconsumed_tail
            if self._d.eof:  # a member ended: another may follow
                rest = self._d.unused_data + self._pending
                self._pending = rest
                if rest:
                    self._d = zlib.decompressobj(31)
                else:
                    nxt = self._raw.read(self._chunk)
                    if not nxt:
                        self._eof = True
                    else:
                        self._pending = nxt
                        self._d = zlib.decompressobj(31)
            if out:
                return out
        return b""

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._head]
            self._head = b""
            while True:
                b = self._inflate(1 << 24)
                if not b:
                    return b"".join(parts)
                parts.append(b)
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._inflate(n)

    def read1(self, n: int = -1) -> bytes:
        return self.read(n if n is not None and n >= 0 else 1 << 16)

    def readable(self) -> bool:
        return True

    def peek(self, n: int = 1) -> bytes:
        while len(self._head) < n:
            b = self._inflate(n - len(self._head))
            if not b:
                break
            self._head += b
        return self._head

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_binary(path: str | Path) -> io.BufferedIOBase:
    """Open a plain or gzip file (by its magic bytes, not its name), refusing what is not a log."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p} is a directory, not a log file")
    if p.stat().st_size == 0:
        raise InputError(f"{p} is empty")
    try:
        raw = open(p, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc})") from exc
    head = raw.read(2)
    raw.seek(0)
    stream = GzipStream(raw) if head == _GZIP_MAGIC else raw
    try:
        sample = stream.peek(_SNIFF)[:_SNIFF] if hasattr(stream, "peek") else b""
    except (OSError, EOFError, zlib.error) as exc:
        raw.close()
        raise InputError(f"{p}: corrupt gzip file ({exc})") from exc
    if sample and _looks_binary(sample):
        raw.close()
        raise InputError(f"{p} looks binary (NUL or control bytes), not a text log")
    if head == _GZIP_MAGIC and not sample:
        raw.close()
        raise InputError(f"{p} is empty (gzip holds no data)")
    return stream


def _looks_binary(sample: bytes) -> bool:
    if sample.count(b"\x00") > max(1, len(sample) // 100):
        return True
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return control > len(sample) // 10


def _cut(data: bytes, limit: int) -> bytes:
    """The first `limit` bytes, not splitting a UTF-8 character."""
    if len(data) <= limit:
        return data
    k = limit
    while k > 0 and k > limit - 4 and (data[k] & 0xC0) == 0x80:  # data[k] continues a character
        k -= 1
    return data[:k]


def raw_chunks(path: str | Path, report: ReadReport, *, block_bytes: int = BLOCK_BYTES,
               max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[bytes, int]]:
    """(bytes holding whole lines, number of its first line) over a file, each input byte read
    once. A line that does not fit in `max_line_bytes` is cut there (counted `oversized`) and the
    rest of it is skipped as it streams by."""
    stream = open_binary(path)
    # a gzip file is inflated one chunk ahead in a thread (zlib lets go of the GIL): on two cores
    # decompression overlaps parsing; the chunks held stay two
    chunks = _ReadAhead(stream, block_bytes) if isinstance(stream, GzipStream) else None
    line_no = 1
    carry = b""
    skipping = False
    cr_only = None  # old Mac line endings (a bare \r ends each line): read as \n, and said so
    try:
        try:
            while True:
                data = chunks.read() if chunks is not None else stream.read(block_bytes)
                if not data:
                    break
                if cr_only is None:
                    cr_only = b"\r" in data and b"\n" not in data
                    report.cr_line_endings = cr_only
                if cr_only:
                    data = data.replace(b"\r", b"\n")
                if skipping:
                    k = data.find(b"\n")
                    if k < 0:
                        continue
                    data = data[k + 1:]
                    skipping = False
                buf = carry + data if carry else data
                last = buf.rfind(b"\n")
                if last < 0:
                    body, carry = b"", buf
                else:
                    body, carry = buf[:last + 1], buf[last + 1:]
                if body:
                    yield body, line_no
                    line_no += body.count(b"\n")
                if len(carry) > max_line_bytes:  # a line longer than the cap, still going on
                    report.oversized += 1
                    yield _cut(carry, max_line_bytes) + b"\n", line_no
                    line_no += 1
                    carry = b""
                    skipping = True
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: corrupt or truncated file after line {line_no - 1} ({exc})") from exc
        if carry:
            yield carry, line_no
            line_no += 1
        report.lines_total = line_no - 1
    finally:
        if chunks is not None:
            chunks.stop()  # before closing: the thread must not read a closed stream
        stream.close()


class _ReadAhead:
    """`stream.read(size)` in a background thread, at most two results ahead. `read()` returns the
    next chunk (b"" at the end) or raises what the thread's read raised; `stop()` ends the thread."""

    def __init__(self, stream, size: int) -> None:
        import queue
        import threading

        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stream, size), name="logad-read-ahead", daemon=True)
        self._done = False
        self._thread.start()

    def _run(self, stream, size: int) -> None:
        import queue

        while not self._stopping.is_set():
            try:
                item = stream.read(size)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
                item = exc
            while not self._stopping.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not isinstance(item, bytes) or not item:
                return

    def read(self) -> bytes:
        if self._done:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        if not item:
            self._done = True
        return item

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


@dataclass
class RecordBlock:
    """The records of consecutive lines of one file: columns, one entry per record.

    `fields` holds the header fields (not Content) by name; a field of an optional group the line
    does not have is "". `timestamps` are seconds since the epoch (NaN: no time); `labels` the
    per-line label when the format has a label field ('-' = normal -> 0), else None.
    """

    path: str
    line_nos: list[int]
    contents: list[str]
    fields: dict[str, list[str]]
    timestamps: list[float]
    labels: list[int] | None = None

    def __len__(self) -> int:
        return len(self.contents)

    def records(self) -> Iterator[LogRecord]:
        names = list(self.fields)
        cols = [self.fields[k] for k in names]
        labels = self.labels
        for i, (line_no, content, t) in enumerate(zip(self.line_nos, self.contents, self.timestamps)):
            fields = {k: c[i] for k, c in zip(names, cols)}
            yield LogRecord(line_no, content, fields, None if t != t else t, labels[i] if labels is not None else None)


def read_blocks(path: str | Path, fmt, report: ReadReport | None = None, *, block_bytes: int = BLOCK_BYTES,
                max_block_lines: int = MAX_BLOCK_LINES, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RecordBlock]:
    """Blocks of records of a file in a format; unmatched lines are counted, never yielded."""
    from logad.formats.times import timestamps

    report = report if report is not None else ReadReport(path=str(path))
    if not report.path:
        report.path = str(path)
    splitter = fmt.splitter
    names = [f for f in splitter.fields if f != "Content"]
    label_field = fmt.label_field
    spec = fmt.time_spec
    split = block_splitter(splitter)
    timed_out = splitter.timed_out
    chunks = raw_chunks(path, report, block_bytes=block_bytes, max_line_bytes=max_line_bytes)
    if fmt.multiline is not None:
        chunks = _joined_records(chunks, splitter, names, max_line_bytes, report, fmt.continuation, split)
    for item in chunks:
        line_nos, contents, fields = item if fmt.multiline is not None else split(*item, splitter, names,
                                                                                  max_line_bytes, report)
        for a in range(0, len(contents), max_block_lines):
            b = a + max_block_lines
            part = contents[a:b] if a or b < len(contents) else contents
            cols = {k: list(v)[a:b] for k, v in fields.items()} if part is not contents else fields
            times = timestamps(spec, cols, len(part))
            labels = [0 if v == "-" else 1 for v in cols[label_field]] if label_field in cols else None
            # a label column is read here; the others stay buffers until a consumer reads them
            report.records += len(part)
            yield RecordBlock(str(path), line_nos[a:b], part, cols, times, labels)
    report.timed_out += splitter.timed_out - timed_out


def _joined_records(chunks, splitter, names, max_line_bytes, report, continues, split):
    """Records of the chunks with their continuation lines joined to them ("\n" between lines).

    A chunk is split by the fast path; only a chunk holding lines that do not match the header is
    split again line by line, those lines then joining the record before them when `continues`
    accepts them. The last record of a chunk is held back until the next chunk has shown whether
    it goes on, so a stack trace across a chunk boundary stays one record."""
    import copy

    held = None  # (line_nos, contents, cols) of the previous chunk, not yet yielded
    for buf, first in chunks:
        before = copy.deepcopy(vars(report))
        line_nos, contents, cols = split(buf, first, splitter, names, max_line_bytes, report)
        lead: list[str] = []
        if report.unmatched != before["unmatched"]:  # continuation lines here: redo the chunk line by line
            vars(report).update(before)
            line_nos, contents, cols, lead = _split_py(buf, first, splitter, names, max_line_bytes, report,
                                                       continues=continues)
        if lead:
            if held is not None and held[1]:
                held[1][-1] = "\n".join([held[1][-1], *lead])
                report.continued += len(lead)
            else:  # before any record of the file: nothing to join them to
                for _ in lead:
                    report.unmatched += 1
        if not contents:  # a chunk of continuation lines only: the held record may go on further
            continue
        if held is not None:
            yield held
        held = (line_nos, list(contents), {k: list(v) for k, v in cols.items()})
    if held is not None:
        yield held


def _decoded(raw: bytes, max_line_bytes: int, report: ReadReport) -> str | None:
    """A line's text (its \\r dropped, cut at the cap, bad bytes replaced), each step counted;
    None for a blank line (counted as empty)."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > max_line_bytes:
        raw = _cut(raw, max_line_bytes)
        report.oversized += 1
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        report.invalid_utf8 += 1
    if not text.strip():
        report.empty_lines += 1
        return None
    return text


def block_splitter(splitter):
    """What splits a block of lines with this header splitter: the compiled core when it is built
    and runs the format (`_core_split`), else Python (`_split_py`); the same records either way."""
    use_core = _core is not None and splitter.program is not None and hasattr(_core, "split_block")
    return _core_split if use_core else _split_py


def _split_py(buf: bytes, first: int, splitter, names: list[str], max_line_bytes: int, report: ReadReport,
              continues=None):
    """The pure-Python reference of `_core.split_block`: the records of a chunk of whole lines.
    Returns (line numbers, contents, header columns); with a continuation rule `continues`, lines
    that do not match the header but satisfy it join the record before them, and the fourth item
    lists those that come before any record of the chunk (the caller joins them to the last
    record of the previous chunk)."""
    lines = buf.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    line_nos: list[int] = []
    contents: list[str] = []
    lead: list[str] = []
    cols: dict[str, list[str]] = {k: [] for k in names}
    order = splitter.fields
    ci = order.index("Content")
    for i, raw in enumerate(lines):
        n = first + i
        text = _decoded(raw, max_line_bytes, report)
        if text is None:
            continue
        marks = splitter.marks(text)
        if marks is None:
            if continues is not None and continues(text):
                if contents:
                    contents[-1] = contents[-1] + "\n" + text
                    report.continued += 1
                else:
                    lead.append(text)
                continue
            report.unmatched_at(n)
            continue
        line_nos.append(n)
        a, b = marks[2 * ci], marks[2 * ci + 1]
        contents.append(text[a:b] if a >= 0 else "")
        for k in names:
            j = order.index(k)
            a, b = marks[2 * j], marks[2 * j + 1]
            cols[k].append(text[a:b] if a >= 0 else "")
    if continues is not None:
        return line_nos, contents, cols, lead
    return line_nos, contents, cols


def _core_split(buf, first, splitter, names, max_line_bytes, report):
    """`_split_py` in the compiled core: columns come back as StrColumns (UTF-8 buffers)."""
    from logad.formats.columns import StrColumn
    from logad.formats.header import core_program

    prog = splitter.program
    line_nos, contents, cols, (empty, invalid, over, unmatched), bad = _core.split_block(
        buf, first, core_program(prog), prog.fields.index("Content"), len(prog.fields), max_line_bytes)
    report.empty_lines += empty
    report.invalid_utf8 += invalid
    report.oversized += over
    report.unmatched += unmatched
    room = 20 - len(report.unmatched_line_nos)
    if room > 0:
        report.unmatched_line_nos.extend(bad[:room])
    header = [f for f in prog.fields if f != "Content"]
    by_name = {f: StrColumn(v, o) for f, (v, o) in zip(header, cols)}
    return line_nos, contents, {k: by_name[k] for k in names}


def read_records(path: str | Path, fmt, report: ReadReport | None = None, max_line_chars: int = MAX_LINE_BYTES) -> Iterator[LogRecord]:
    """Stream the records of a file in a format; unmatched lines are counted, never yielded.
    InputError when the format matches no line of a file that has some."""
    report = report if report is not None else ReadReport(path=str(path))
    for block in read_blocks(path, fmt, report, max_line_bytes=max_line_chars):
        yield from block.records()
    check_matched(report, fmt)


def check_matched(report: ReadReport, fmt) -> None:
    """InputError when a file had lines and the format matched none of them, or when all its
    lines are blank."""
    if report.records == 0 and report.lines_total and report.lines_total == report.empty_lines:
        raise InputError(f"{report.path} holds no log line ({report.lines_total} blank lines)")
    if report.records == 0 and report.lines_total > report.empty_lines:
        first = report.unmatched_line_nos[0] if report.unmatched_line_nos else 1
        raise InputError(
            f"format {fmt.name!r} ({fmt.header}) matched no line of {report.path} "
            f"({report.lines_total} lines; first unmatched: line {first})"
        )


def lines_by_number(path: str | Path, numbers) -> dict[int, str]:
    """The text of the lines numbered `numbers` (1-based), as `read_lines` gives it (blank lines
    are absent); the file is read up to the last one, and only those lines are decoded."""
    import bisect

    wanted = sorted(set(numbers))
    out: dict[int, str] = {}
    if not wanted:
        return out
    report = ReadReport(path=str(path))
    for buf, first in raw_chunks(path, report):
        lines = buf.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        end = first + len(lines)
        i = bisect.bisect_left(wanted, first)
        while i < len(wanted) and wanted[i] < end:
            text = _decoded(lines[wanted[i] - first], MAX_LINE_BYTES, report)
            if text is not None:
                out[wanted[i]] = text
            i += 1
        if end > wanted[-1]:
            break
    return out


def read_lines(path: str | Path, report: ReadReport | None = None, max_line_chars: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(line_no, text) for every non-empty line; bad bytes replaced and counted."""
    report = report if report is not None else ReadReport(path=str(path))
    if not report.path:
        report.path = str(path)
    for buf, first in raw_chunks(path, report, max_line_bytes=max_line_chars):
        lines = buf.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for i, raw in enumerate(lines):
            text = _decoded(raw, max_line_chars, report)
            if text is not None:
                yield first + i, text
