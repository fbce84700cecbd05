"""Timestamps of whole blocks of lines at once (the pure-Python reference of the compiled core's
`_core.times`, which reads the common strptime layouts without calling `strptime`).

A format's `time_spec` (registry.py) says where its time is: ``("strptime", fields, pattern)``
(fields joined by a space, read as UTC) or ``("float", field)`` (epoch seconds). A value that does
not read is NaN (the line simply has no time).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

NAN = math.nan


def _float(text: str | None) -> float:
    try:
        return float(text) if text is not None else NAN
    except ValueError:
        return NAN


def timestamps(spec: tuple | None, columns: dict[str, list], n: int) -> list[float]:
    """One float per line (NaN = no time) from the header columns of a block."""
    if spec is None:
        return [NAN] * n
    if spec[0] == "float":
        col = columns.get(spec[1])
        return [NAN] * n if col is None else [_float(v) for v in col]
    keys, pattern = tuple(spec[1]), spec[2]
    cols = [columns.get(k) for k in keys]
    if any(c is None for c in cols):
        return [NAN] * n
    cache: dict[str, float] = {}
    out = []
    for parts in zip(*cols):
        if any(p is None for p in parts):
            out.append(NAN)
            continue
        text = " ".join(parts)
        t = cache.get(text)
        if t is None:
            try:
                t = datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
            except ValueError:
                t = NAN
            cache[text] = t
        out.append(t)
    return out
