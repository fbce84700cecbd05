"""Stream raw log files (plain or gzip) as LogRecords, counting every line that is not one.

Memory does not grow with the file: lines are read one at a time from a buffered binary stream.
Nothing is dropped silently: unmatched, undecodable, oversized and empty lines are counted in a
ReadReport (with the first line numbers of unmatched ones).
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from logad.errors import InputError
from logad.records import LogRecord

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF = 8192


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

    def as_dict(self) -> dict:
        return dict(vars(self))

    def summary(self) -> str:
        parts = [f"{self.path}: {self.lines_total} lines, {self.records} read"]
        if self.unmatched:
            first = ", ".join(str(n) for n in self.unmatched_line_nos[:5])
            parts.append(f"{self.unmatched} not matching the format (lines {first}{', ...' if self.unmatched > 5 else ''})")
        if self.invalid_utf8:
            parts.append(f"{self.invalid_utf8} with invalid UTF-8 (decoded with replacement characters)")
        if self.oversized:
            parts.append(f"{self.oversized} oversized (truncated)")
        if self.empty_lines:
            parts.append(f"{self.empty_lines} empty")
        if self.lines_without_session:
            parts.append(f"{self.lines_without_session} naming no session id")
        return "; ".join(parts)


def open_binary(path: str | Path) -> io.BufferedIOBase:
    """Open a plain or gzip file (by its magic bytes, not its name), refusing what is not a log."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p} is a directory, not a log file")
    if p.stat().st_size == 0:
        raise InputError(f"{p} is empty")
    raw = open(p, "rb")  # noqa: SIM115 - returned to the caller
    head = raw.read(2)
    raw.seek(0)
    stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if head == _GZIP_MAGIC else raw
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


def read_lines(path: str | Path, report: ReadReport | None = None, max_line_chars: int = 65_536) -> Iterator[tuple[int, str]]:
    """(line_no, text) for every non-empty line; bad bytes replaced and counted."""
    report = report if report is not None else ReadReport(path=str(path))
    if not report.path:
        report.path = str(path)
    stream = open_binary(path)
    try:
        n = 0
        try:
            for raw in stream:
                n += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", errors="replace")
                    report.invalid_utf8 += 1
                text = text.rstrip("\r\n")
                if not text.strip():
                    report.empty_lines += 1
                    continue
                if len(text) > max_line_chars:
                    text = text[:max_line_chars]
                    report.oversized += 1
                report.lines_total = n
                yield n, text
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: corrupt or truncated file after line {n} ({exc})") from exc
        report.lines_total = n
    finally:
        stream.close()


def read_records(path: str | Path, fmt, report: ReadReport | None = None, max_line_chars: int = 65_536) -> Iterator[LogRecord]:
    """Stream the records of a file in a format; unmatched lines are counted, never yielded."""
    report = report if report is not None else ReadReport(path=str(path))
    rx = fmt.regex
    label_field = fmt.label_field
    time_of = fmt.time
    match = rx.match
    for line_no, text in read_lines(path, report, max_line_chars):
        m = match(text)
        if m is None:
            report.unmatched += 1
            if len(report.unmatched_line_nos) < 20:
                report.unmatched_line_nos.append(line_no)
            continue
        fields = m.groupdict()
        content = fields.pop("Content") or ""
        label = None
        if label_field is not None:
            label = 0 if fields.get(label_field) == "-" else 1
        report.records += 1
        yield LogRecord(line_no, content, fields, time_of(fields) if time_of else None, label)
    if report.unmatched:
        log.warning("%s: %d lines do not match format %s", path, report.unmatched, fmt.name)
    if report.records == 0 and report.lines_total > 0:
        first = report.unmatched_line_nos[0] if report.unmatched_line_nos else 1
        raise InputError(
            f"format {fmt.name!r} ({fmt.header}) matched no line of {path} "
            f"({report.lines_total} lines; first unmatched: line {first})"
        )
