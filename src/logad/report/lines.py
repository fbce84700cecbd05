"""The raw text of log lines, by the line numbers logad's sequences carry.

A loader numbers lines across its files: the first line of the second file is the first file's
`lines_total` + 1. The read reports of a run (`result["data"]["read"]`, a detect summary's
`files`) name the files and their sizes, which is all it takes to find a line again.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from logad.errors import LogadError

MAX_CHARS = 2000  # a line longer than this is cut in a report


def _resolve(path: str, bases: Iterable[Path]) -> Path | None:
    p = Path(path)
    if p.is_file():
        return p
    for base in bases:
        q = base / p if not p.is_absolute() else base / p.name
        if q.is_file():
            return q
    return None


def read_lines(files: list[dict], wanted: Iterable[int], *, bases: Iterable[Path] = ()) -> tuple[dict[int, str], list[str]]:
    """{global line number: text} for the `wanted` numbers, and notes on files that could not be
    read. `files` are read reports (`{"path", "lines_total"}`) in the order the run read them."""
    want = sorted({int(n) for n in wanted if n})
    out: dict[int, str] = {}
    notes: list[str] = []
    if not want or not files:
        return out, notes
    bases = list(bases)
    offset = 0
    i = 0
    for f in files:
        total = int(f.get("lines_total") or 0)
        lo, hi = offset, offset + total
        offset = hi
        mine = []
        while i < len(want) and want[i] <= hi:
            if want[i] > lo:
                mine.append(want[i] - lo)
            i += 1
        if not mine:
            continue
        path = _resolve(str(f.get("path", "")), bases)
        if path is None:
            notes.append(f"{f.get('path')}: not found here, its lines are shown by their templates only")
            continue
        targets = set(mine)
        last = mine[-1]
        from logad.formats.reader import read_lines as numbered_lines  # the loaders' own numbering

        lines = numbered_lines(path, max_line_chars=MAX_CHARS)
        try:
            for n, text in lines:
                if n in targets:
                    out[lo + n] = text
                if n >= last:
                    break
        except (OSError, LogadError) as exc:
            notes.append(f"{path}: {exc}")
        finally:
            lines.close()
    return out, notes
