"""Label files: HDFS `anomaly_label.csv`, DeepLog-style session files, template tables."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from logad.errors import InputError
from logad.formats.reader import read_lines

_LABEL_VALUES = {"normal": 0, "anomaly": 1, "anomalous": 1, "abnormal": 1, "0": 0, "1": 1}


def read_block_labels(path: str | Path) -> dict[str, int]:
    """`BlockId,Label` rows (Normal/Anomaly) -> {block id: 0|1}. A bad row names its line."""
    out: dict[str, int] = {}
    lines = read_lines(path)
    try:
        _, header = next(lines)
    except StopIteration:
        raise InputError(f"{path} holds no label") from None
    cols = [c.strip().lower() for c in next(csv.reader([header]))]
    if len(cols) < 2:
        raise InputError(f"{path}: expected a header like 'BlockId,Label', got {header[:80]!r}")
    for line_no, text in lines:
        row = next(csv.reader([text]))
        if len(row) < 2:
            raise InputError(f"{path} line {line_no}: expected 'id,label', got {text[:80]!r}")
        value = _LABEL_VALUES.get(row[1].strip().lower())
        if value is None:
            raise InputError(f"{path} line {line_no}: unknown label {row[1]!r} (expected Normal or Anomaly)")
        out[row[0].strip()] = value
    return out


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
