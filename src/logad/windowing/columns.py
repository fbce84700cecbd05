"""Sessions, count windows and time windows computed on columns: one numpy array per field of
every line (line number, template id, timestamp, label, file), instead of one `LineEvent` object
per line.

This is the batch path of `load_logs` for the groupings most runs use (sessions by an id in the
line without a timeout, count windows, time windows); building 200,000 small objects cost more
than parsing the lines. It gives the same sequences, in the same order, with the same ids, lines,
labels and times as `grouping.group_events` on the same lines (tests/windowing/test_columns.py
compares them), and counts the same stats. The other groupings (timeouts, entities, files, line
values) take the LineEvent path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from logad.records import Sequence
from logad.windowing.grouping import Grouping, _finish, session_label
from logad.windowing.logtime import (
    MAX_ABS_TIMESTAMP,
    first_window_ending_after,
    new_stats,
    usable_range,
    window_end,
)

NO_LABEL = -1  # in `LineColumns.labels`: the line has no label


def columns_can_group(grouping: Grouping) -> bool:
    """Whether `group_columns` does this grouping (else use `group_events`)."""
    if grouping.kind == "session":
        return grouping.timeout is None and not grouping.session_from_path and bool(grouping.session_regex)
    return grouping.kind in ("count", "time")


@dataclass
class LineColumns:
    """Parsed lines in stream order, one array entry per line.

    For sessions, `pair_lines` / `pair_keys` list every (line, session id) pair in stream order (a
    line naming two ids is in two pairs); `keys` are the distinct ids in order of first appearance,
    and `pair_keys` index them.
    """

    line_nos: np.ndarray  # int64
    template_ids: np.ndarray  # int64
    timestamps: np.ndarray  # float64, NaN = no time
    labels: np.ndarray  # int8, NO_LABEL = no label
    source_ids: np.ndarray  # int32, index into `sources`
    sources: list[str]
    pair_lines: np.ndarray | None = None  # int64
    pair_keys: np.ndarray | None = None  # int64
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.line_nos)


class ColumnsBuilder:
    """Collects blocks of parsed lines into `LineColumns` (one `add` per block, `build` at the end)."""

    def __init__(self, sessions: bool) -> None:
        self.sessions = sessions
        self._parts: dict[str, list] = {"line_nos": [], "template_ids": [], "timestamps": [], "labels": [],
                                        "source_ids": []}
        self._sources: dict[str, int] = {}
        self._pair_lines: list[np.ndarray] = []  # per block
        self._pair_key_names: list[str] = []
        self._lines = 0

    def add(self, line_nos: SequenceOf[int], template_ids: SequenceOf[int], timestamps: SequenceOf[float],
            labels: SequenceOf[int] | None, source: str, keys_of: SequenceOf[tuple[str, ...]] | None = None,
            *, line_offset: int = 0) -> None:
        """One block. With sessions, `keys_of` gives each line's ids; a line with none is left out
        (as `parse_events` leaves it out). `line_offset` is added to the line numbers (the lines of
        the run's earlier files)."""
        n = len(line_nos)
        kept = None
        if self.sessions:
            assert keys_of is not None  # internal: sessions need the keys
            per_line = np.fromiter(map(len, keys_of), dtype=np.int64, count=n)
            kept = np.flatnonzero(per_line)
            rows = np.arange(self._lines, self._lines + len(kept), dtype=np.int64)
            self._pair_lines.append(np.repeat(rows, per_line[kept]))
            self._pair_key_names.extend(chain.from_iterable(keys_of))
            if len(kept) == n:
                kept = None  # every line is in a session: no copy
        source_id = self._sources.setdefault(source, len(self._sources))
        cols = {"line_nos": np.asarray(line_nos, dtype=np.int64) + line_offset,
                "template_ids": np.asarray(template_ids, dtype=np.int64),
                "timestamps": np.asarray(timestamps, dtype=np.float64),
                "labels": (np.asarray(labels, dtype=np.int8) if labels is not None
                           else np.full(n, NO_LABEL, dtype=np.int8))}
        if kept is not None:
            cols = {name: col[kept] for name, col in cols.items()}
        m = n if kept is None else len(kept)
        cols["source_ids"] = np.full(m, source_id, dtype=np.int32)
        for name, col in cols.items():
            self._parts[name].append(col)
        self._lines += m

    def build(self) -> LineColumns:
        dtypes = {"line_nos": np.int64, "template_ids": np.int64, "timestamps": np.float64, "labels": np.int8,
                  "source_ids": np.int32}
        arrays = {name: np.concatenate(parts) if parts else np.zeros(0, dtype=dtypes[name])
                  for name, parts in self._parts.items()}
        cols = LineColumns(**arrays, sources=list(self._sources))
        if self.sessions:
            names = self._pair_key_names
            cols.pair_lines = np.concatenate(self._pair_lines) if self._pair_lines else np.zeros(0, np.int64)
            cols.keys = list(dict.fromkeys(names))  # in order of first appearance
            code_of = dict(zip(cols.keys, range(len(cols.keys))))
            cols.pair_keys = np.fromiter(map(code_of.__getitem__, names), dtype=np.int64, count=len(names))
        return cols


def clean_timestamps(timestamps: np.ndarray, stats: dict[str, int]) -> np.ndarray:
    """`logtime.clean_times` on an array (NaN = no time): a copy with every refused timestamp set
    to NaN, counting refused and late ones in `stats` as it does."""
    has_time = ~np.isnan(timestamps)
    plausible = has_time & (np.abs(timestamps) <= MAX_ABS_TIMESTAMP)  # inf fails too
    usable = np.zeros(len(timestamps), dtype=bool)
    if plausible.any():
        first = int(np.argmax(plausible))  # the first usable timestamp anchors rule 3
        lo, hi = usable_range(float(timestamps[first]))
        usable[first:] = has_time[first:] & (timestamps[first:] >= lo) & (timestamps[first:] <= hi)
        kept = np.where(usable, timestamps, -np.inf)
        latest_before = np.maximum.accumulate(kept)
        latest_before = np.concatenate(([-np.inf], latest_before[:-1]))
        stats["late"] += int(np.count_nonzero(usable & (timestamps < latest_before)))
    refused = has_time & ~usable
    not_finite = int(np.count_nonzero(refused & np.isinf(timestamps)))
    stats["time_not_finite"] += not_finite
    stats["time_out_of_range"] += int(np.count_nonzero(refused)) - not_finite
    return np.where(refused, np.nan, timestamps)


def group_columns(
    cols: LineColumns,
    grouping: Grouping,
    *,
    labels: Mapping[str, int] | None = None,
    on_unlabelled: Callable[[list[str]], None] | None = None,
    stats: dict[str, int] | None = None,
) -> list[Sequence]:
    """`group_events` for the groupings `columns_can_group` accepts."""
    g = grouping.validated()
    if not columns_can_group(g):
        raise ValueError(f"group_columns does not do {g.describe()}; use group_events")  # internal
    st = new_stats()
    st["events"] += len(cols)
    times = clean_timestamps(cols.timestamps, st)
    if g.kind == "session":
        seqs, unlabelled = _column_sessions(cols, times, labels, st)
        if unlabelled and on_unlabelled is not None:
            on_unlabelled(unlabelled)
    elif g.kind == "time":
        seqs = _column_time_windows(cols, times, g.size, g.step)  # type: ignore[arg-type]
    else:
        seqs = _column_count_windows(cols, times, g.size, g.step, "w")  # type: ignore[arg-type]
    _finish(st, len(seqs), stats)
    return seqs


def _column_sessions(cols: LineColumns, times: np.ndarray, labels: Mapping[str, int] | None,
                     stats: dict[str, int]) -> tuple[list[Sequence], list[str]]:
    assert cols.pair_lines is not None and cols.pair_keys is not None  # internal: built with sessions
    # a stable sort by key code: sessions in order of first appearance, each one's lines in stream order
    order = np.argsort(cols.pair_keys, kind="stable")
    rows = cols.pair_lines[order]
    sizes = np.bincount(cols.pair_keys, minlength=len(cols.keys))
    label_of = [session_label(key, labels, None)[0] for key in cols.keys]
    seqs = _sequences(cols, times, rows, sizes, cols.keys, label_of)
    unlabelled = [key for key in cols.keys if labels.get(key) is None] if labels is not None else []
    stats["unlabelled"] += len(unlabelled)
    return seqs, unlabelled


def _column_count_windows(cols: LineColumns, times: np.ndarray, size: int, step: int, prefix: str) -> list[Sequence]:
    n = len(cols)
    bounds = []
    start = covered = 0
    while start < n:  # as grouping._count_windows_of: a tail window only when it adds lines
        end = min(start + size, n)
        if end > covered:
            bounds.append((start, end))
            covered = end
        if end == n:
            break
        start += step
    if step == size:
        rows = np.arange(n, dtype=np.int64)
    else:
        rows = np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in bounds]) if bounds else np.zeros(0, np.int64)
    sizes = np.array([b - a for a, b in bounds], dtype=np.int64)
    ids = [f"{prefix}{i}" for i in range(len(bounds))]
    return _sequences(cols, times, rows, sizes, ids, [None] * len(bounds))


def log_times(times: np.ndarray) -> np.ndarray:
    """Every line's log time from cleaned timestamps (NaN: none), as `logtime.clean_times` places
    lines: the latest usable time so far (a late line keeps it), the first usable time before it,
    0.0 everywhere when no line has one."""
    usable = ~np.isnan(times)
    if not usable.any():
        return np.zeros(len(times))
    first = int(np.argmax(usable))
    out = np.maximum.accumulate(np.where(usable, times, -np.inf))
    out[:first] = times[first]
    return out


def _column_time_windows(cols: LineColumns, times: np.ndarray, size: float, step: float) -> list[Sequence]:
    """`grouping._time_windows_of` on columns: windows of `size` seconds of log time every `step`,
    from the first line's, empty ones skipped in one jump."""
    n = len(cols)
    if not n:
        return []
    p = log_times(times)
    t0 = float(p[0])
    bounds: list[tuple[int, int]] = []
    ids: list[str] = []
    k = lo = 0
    while lo < n:  # log time never decreases: each window is a slice found by bisection
        k = first_window_ending_after(float(p[lo]), t0, size, step, k)
        lo += int(np.searchsorted(p[lo:], t0 + k * step, side="left"))  # bisect_left from lo (a view)
        if lo == n:
            break
        hi = lo + int(np.searchsorted(p[lo:], window_end(k, t0, size, step), side="left"))
        if hi > lo:
            bounds.append((lo, hi))
            ids.append(f"t{k}")
        k += 1
    sizes = np.array([b - a for a, b in bounds], dtype=np.int64)
    if step >= size:  # tumbling (or gapped) windows: disjoint slices in order
        rows = np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in bounds]) if bounds else np.zeros(0, np.int64)
    else:
        starts = np.array([a for a, _ in bounds], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        rows = np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()), dtype=np.int64)
    return _sequences(cols, times, rows, sizes, ids, [None] * len(bounds))


def _sequences(cols: LineColumns, times: np.ndarray, rows: np.ndarray, sizes: np.ndarray, ids: list[str],
               label_of: list[int | None]) -> list[Sequence]:
    """The sequences whose lines are `rows`, cut into consecutive runs of `sizes` (as
    `grouping.sequence_of` builds them, with entity None and no line values)."""
    if not len(ids):
        return []
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    t = times[rows]
    first_time = np.fmin.reduceat(t, starts)  # NaN only when no line of the sequence has a time
    last_time = np.fmax.reduceat(t, starts)
    lab = cols.labels[rows]
    top_label = np.maximum.reduceat(lab, starts)  # NO_LABEL only when no line has a label
    line_labels = np.where(lab == NO_LABEL, 0, lab).tolist()
    template_ids = cols.template_ids[rows].tolist()
    line_nos = cols.line_nos[rows].tolist()
    src = cols.source_ids[rows]
    one_source = (np.minimum.reduceat(src, starts) == np.maximum.reduceat(src, starts)).tolist()
    source_of = [cols.sources[s] for s in src[starts].tolist()]
    # Python lists, not numpy scalars, in the loop: it runs once per sequence
    ends = np.cumsum(sizes).tolist()
    first_times = [None if x != x else x for x in first_time.tolist()]
    last_times = [None if x != x else x for x in last_time.tolist()]
    top_labels = top_label.tolist()
    out = []
    for j, (a, b, sid) in enumerate(zip(starts.tolist(), ends, ids)):
        known_label = top_labels[j] != NO_LABEL
        label = label_of[j]
        if label is None and known_label:
            label = int(top_labels[j] > 0)
        if one_source[j]:
            files = (source_of[j],) if source_of[j] else ()
        else:
            files = tuple(dict.fromkeys(cols.sources[s] for s in src[a:b].tolist() if cols.sources[s]))
        out.append(Sequence(
            sequence_id=sid,
            template_ids=tuple(template_ids[a:b]),
            line_nos=tuple(line_nos[a:b]),
            start_time=first_times[j],
            end_time=last_times[j],
            line_labels=tuple(line_labels[a:b]) if known_label else None,
            label=label,
            entity=None,
            line_values=None,
            sources=files,
        ))
    return out
