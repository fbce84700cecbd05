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


def timestamps(spec: tuple | None, columns: dict, n: int) -> list[float]:
    """One float per line (NaN = no time) from the header columns of a block (lists of str, or
    StrColumns: then the compiled core reads them, and Python only the values it leaves)."""
    if spec is None:
        return [NAN] * n
    fast = _core_times(spec, columns, n)
    if fast is not None:
        return fast
    return _py_times(spec, columns, n)


def _core_times(spec: tuple, columns: dict, n: int) -> list[float] | None:
    from logad.formats.columns import StrColumn

    try:
        from logad import _core  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - depends on the build
        return None
    import array

    if spec[0] == "float":
        col = columns.get(spec[1])
        if not isinstance(col, StrColumn):
            return None
        raw, todo = _core.floats_block(col.values, col.offsets)
        out = array.array("d", raw).tolist()
        for i in todo:
            out[i] = _float(col[i])
        return out
    keys = tuple(spec[1])
    cols = [columns.get(k) for k in keys]
    if len(cols) not in (1, 2) or not all(isinstance(c, StrColumn) for c in cols):
        return None
    a = cols[0]
    b = cols[1] if len(cols) == 2 else None
    raw, todo = _core.strptime_block(a.values, a.offsets, b.values if b else None, b.offsets if b else None, spec[2])
    out = array.array("d", raw).tolist()
    if todo:
        rest = _py_times(spec, {k: [c[i] for i in todo] for k, c in zip(keys, cols)}, len(todo))
        for i, t in zip(todo, rest):
            out[i] = t
    return out


def _py_times(spec: tuple, columns: dict, n: int) -> list[float]:
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
