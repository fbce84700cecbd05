"""Label files: HDFS `anomaly_label.csv`, DeepLog-style session files, template tables."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from logad.errors import InputError
from logad.formats.reader import read_lines

_LABEL_VALUES = {"normal": 0, "anomaly": 1, "anomalous": 1, "abnormal": 1, "0": 0, "1": 1}


def _csv_row(path, line_no: int, text: str) -> list[str]:
    if '"' not in text and "\r" not in text:  # no quoting: what csv.reader gives, 10x faster
        return text.split(",") if text else []
    try:
        return next(csv.reader([text]), [])
    except csv.Error as exc:
        raise InputError(f"{path} line {line_no}: not a CSV row ({exc})") from None


def read_block_labels(path: str | Path) -> dict[str, int]:
    """`BlockId,Label` rows (Normal/Anomaly) -> {block id: 0|1}. A bad row names its line; an id
    listed twice with different labels is refused (which one is right is the user's call, and a
    silent "last row wins" turned anomalies into normals); repeated identical rows are fine."""
    out: dict[str, int] = {}
    first_line: dict[str, int] = {}
    conflicts: list[tuple[str, int, int]] = []
    lines = read_lines(path)
    try:
        _, header = next(lines)
    except StopIteration:
        raise InputError(f"{path} holds no label") from None
    cols = [c.strip().lower() for c in _csv_row(path, 1, header)]
    if len(cols) < 2:
        raise InputError(f"{path}: expected a header like 'BlockId,Label', got {header[:80]!r}")
    for line_no, text in lines:
        row = _csv_row(path, line_no, text)
        if len(row) < 2:
            raise InputError(f"{path} line {line_no}: expected 'id,label', got {text[:80]!r}")
        value = _LABEL_VALUES.get(row[1].strip().lower())
        if value is None:
            raise InputError(f"{path} line {line_no}: unknown label {row[1]!r} (expected Normal or Anomaly)")
        key = row[0].strip()
        if key in out and out[key] != value:
            conflicts.append((key, first_line[key], line_no))
            continue
        first_line.setdefault(key, line_no)
        out[key] = value
    if conflicts:
        key, a, b = conflicts[0]
        raise InputError(f"{path}: {len(conflicts)} ids are listed again with a different label (e.g. {key!r} at lines "
                         f"{a} and {b}); keep one label per id")
    return out


# the headings of LogHub Hadoop's abnormal_label.txt; every one but "Normal" is a failure injected
_HADOOP_KINDS = {"normal": 0, "machine down": 1, "network disconnection": 1, "disk full": 1}


def read_application_labels(path: str | Path) -> dict[str, int]:
    """LogHub Hadoop's `abnormal_label.txt`: headings (`Normal:`, `Machine down:`, ...) each followed
    by `+ application_...` lines -> {application id: 0|1}. An application under no known heading,
    or a file naming none, is an InputError."""
    import re

    out: dict[str, int] = {}
    kind: int | None = None
    app = re.compile(r"(application_\d+_\d+)")
    for line_no, text in read_lines(path):
        heading = text.strip().rstrip(":").strip().lower()
        if text.strip().endswith(":") and heading in _HADOOP_KINDS:
            kind = _HADOOP_KINDS[heading]
            continue
        m = app.search(text)
        if m is None:
            continue  # the application kind headings (WordCount:, PageRank:) and prose
        if kind is None:
            raise InputError(f"{path} line {line_no}: {m.group(1)} comes before any of the headings "
                             f"{', '.join(k.capitalize() + ':' for k in _HADOOP_KINDS)}")
        out[m.group(1)] = kind
    if not out:
        raise InputError(f"{path} names no application (expected lines like '+ application_1445087491445_0005')")
    return out


def read_id_list(path: str | Path, id_pattern) -> set[str]:
    """The anomalous session ids a list file names (LogHub OpenStack's anomaly_labels.txt)."""
    found = {m.group(1) if id_pattern.groups else m.group(0) for _, text in read_lines(path)
             for m in [id_pattern.search(text)] if m}
    if not found:
        raise InputError(f"{path} lists no session id matching {id_pattern.pattern!r}")
    return found


def read_session_file(path: str | Path) -> Iterator[tuple[str, list[int]]]:
    """DeepLog-style sessions: `id,key key key` lines, or bare `key key key` lines (id = file:line)."""
    name = Path(path).name
    for line_no, text in read_lines(path):
        if "," in text:
            sid, _, keys = text.partition(",")
        else:
            sid, keys = f"{name}:{line_no}", text
        try:
            ids = [int(k) for k in keys.split()]
        except ValueError:
            raise InputError(f"{path} line {line_no}: session keys must be integers, got {keys[:80]!r}") from None
        yield sid.strip(), ids


def read_templates_file(path: str | Path) -> list[str]:
    """One template per line; template id = 1-based line number."""
    return [text for _, text in read_lines(path)]
