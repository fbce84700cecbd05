"""LogPAI structured CSVs (`*_structured.csv`): one parsed line per row with its `EventId`.

Columns used: `EventId` (required), `LineId`, `Label` ('-' = normal, as in CFDR logs; or 0/1,
Normal/Anomaly), `Timestamp` (epoch seconds), `EventTemplate`. Other columns are kept as fields.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from logad.errors import InputError
from logad.formats.reader import open_binary

_NORMAL = {"-", "0", "normal", ""}


@dataclass(frozen=True, slots=True)
class StructuredRow:
    line_no: int
    event_id: str
    template: str
    timestamp: float | None
    label: int | None


def read_structured(path: str | Path) -> Iterator[StructuredRow]:
    """Stream the rows of a structured CSV; a missing EventId column is an InputError."""
    import io

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # log messages can be long
    stream = io.TextIOWrapper(open_binary(path), encoding="utf-8", errors="replace", newline="")
    try:
        reader = csv.DictReader(stream)
        fields = reader.fieldnames or []
        if "EventId" not in fields:
            raise InputError(f"{path} is not a structured log CSV: no EventId column (columns: {', '.join(fields[:12])})")
        has_label = "Label" in fields
        for i, row in enumerate(reader, start=1):
            line_no = _int(row.get("LineId")) or i
            ts = _float(row.get("Timestamp"))
            label = None
            if has_label:
                label = 0 if (row.get("Label") or "").strip().lower() in _NORMAL else 1
            yield StructuredRow(line_no, row["EventId"], row.get("EventTemplate") or "", ts, label)
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from exc
    finally:
        stream.close()


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
