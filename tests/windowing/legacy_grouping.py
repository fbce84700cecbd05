"""The batch groupings as they were before the log-time rules (commit 40b3303), kept verbatim
as the reference that proves files whose timestamps never go back group exactly as before."""

# ruff: noqa

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from logad.errors import InvalidParameterError
from logad.records import Sequence


@dataclass(frozen=True, slots=True)
class LineEvent:
    """One parsed line, reduced to what grouping needs.

    `keys` are the session identifiers (several for a line naming several blocks) or the entity.
    """

    line_no: int
    template_id: int
    timestamp: float | None = None
    label: int | None = None
    keys: tuple[str, ...] = ()
    values: tuple[float, ...] | None = None  # numeric parameters, when the loader extracts them


@dataclass
class Grouping:
    """How lines become sequences. `kind` is one of logad.windowing.GROUPINGS."""

    kind: str = "count"
    size: float | None = 100
    step: float | None = None
    session_regex: str | None = None
    entity_field: str | None = None

    def describe(self) -> dict:
        out = {"kind": self.kind}
        if self.kind == "session":
            out["session_regex"] = self.session_regex
        else:
            out.update(size=self.size, step=self.step or self.size)
            if self.kind == "entity":
                out["entity_field"] = self.entity_field
        return out


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
        raise InvalidParameterError(f"`{name}` must be > 0, got {value!r}")


class _Builder:
    """Accumulates the columns of one sequence without per-line objects."""

    __slots__ = ("ids", "line_nos", "times", "labels", "entity", "values")

    def __init__(self, entity: str | None = None) -> None:
        self.ids: list[int] = []
        self.line_nos: list[int] = []
        self.times: list[float | None] = []
        self.labels: list[int | None] = []
        self.entity = entity
        self.values: list[tuple[float, ...] | None] = []

    def add(self, ev: LineEvent) -> None:
        self.ids.append(ev.template_id)
        self.line_nos.append(ev.line_no)
        self.times.append(ev.timestamp)
        self.labels.append(ev.label)
        self.values.append(ev.values)

    def _line_values(self) -> tuple[tuple[float, ...], ...] | None:
        if all(v is None for v in self.values):
            return None
        nan = float("nan")
        out = []
        prev: float | None = None
        for i, (t, v) in enumerate(zip(self.times, self.values)):
            if i == 0:
                dt = 0.0 if t is not None else nan
            else:
                dt = nan if t is None or prev is None else t - prev
            if t is not None:
                prev = t
            out.append((dt, *(v or ())))
        return tuple(out)

    def build(self, sequence_id: str, label_override: int | None = None) -> Sequence:
        known_times = [t for t in self.times if t is not None]
        known_labels = [lab for lab in self.labels if lab is not None]
        line_labels = tuple(lab if lab is not None else 0 for lab in self.labels) if known_labels else None
        if label_override is not None:
            label = label_override
        elif known_labels:
            label = int(any(known_labels))
        else:
            label = None
        return Sequence(
            sequence_id=sequence_id,
            template_ids=tuple(self.ids),
            line_nos=tuple(self.line_nos),
            start_time=min(known_times) if known_times else None,
            end_time=max(known_times) if known_times else None,
            line_labels=line_labels,
            label=label,
            entity=self.entity,
            line_values=self._line_values(),
        )


def sessions_by_identifier(
    events: Iterable[LineEvent],
    labels: Mapping[str, int] | None = None,
    *,
    missing_label: int | None = None,
) -> tuple[list[Sequence], list[str]]:
    """One session per identifier in `LineEvent.keys`; a line with several ids joins each session.

    Sessions are ordered by first appearance. `labels` maps session id -> 0/1 (e.g. HDFS
    anomaly_label.csv); sessions absent from it get `missing_label` and are returned in the second
    list so the caller can report them (never dropped silently).
    """
    builders: dict[str, _Builder] = {}
    for ev in events:
        for key in ev.keys:
            b = builders.get(key)
            if b is None:
                b = builders[key] = _Builder()
            b.add(ev)
    sequences: list[Sequence] = []
    unlabelled: list[str] = []
    for key, b in builders.items():
        override = None
        if labels is not None:
            override = labels.get(key)
            if override is None:
                unlabelled.append(key)
                override = missing_label
        sequences.append(b.build(key, override))
    return sequences, unlabelled


def count_windows(events: Iterable[LineEvent], size: int, step: int | None = None, *, prefix: str = "w") -> list[Sequence]:
    """Fixed (step == size) or sliding (step < size) windows of `size` consecutive lines.

    The last, shorter window is kept when it holds lines no earlier window covered.
    """
    step = size if step is None else step
    if not isinstance(size, int) or size < 1:
        raise InvalidParameterError(f"`size` must be an integer >= 1, got {size!r}")
    if not isinstance(step, int) or step < 1:
        raise InvalidParameterError(f"`step` must be an integer >= 1, got {step!r}")
    evs = list(events)
    return _count_windows_of(evs, size, step, prefix, None)


def _count_windows_of(evs: list[LineEvent], size: int, step: int, prefix: str, entity: str | None) -> list[Sequence]:
    out: list[Sequence] = []
    n = len(evs)
    start = 0
    covered = 0  # lines covered so far: a tail window is emitted only when it adds lines
    while start < n:
        end = min(start + size, n)
        if end > covered:
            b = _Builder(entity)
            for ev in evs[start:end]:
                b.add(ev)
            out.append(b.build(f"{prefix}{len(out)}"))
            covered = end
        if end == n:
            break
        start += step
    return out


def entity_windows(events: Iterable[LineEvent], size: int | None = None, step: int | None = None) -> list[Sequence]:
    """Per-entity sequences (e.g. per BGL node, key = `LineEvent.keys[0]`), optionally cut into count windows.

    With `size=None` each entity is one sequence. Entities are ordered by first appearance.
    """
    if size is not None and (not isinstance(size, int) or size < 1):
        raise InvalidParameterError(f"`size` must be an integer >= 1, got {size!r}")
    per_entity: dict[str, list[LineEvent]] = {}
    for ev in events:
        key = ev.keys[0] if ev.keys else ""
        per_entity.setdefault(key, []).append(ev)
    out: list[Sequence] = []
    for entity, evs in per_entity.items():
        if size is None:
            b = _Builder(entity)
            for ev in evs:
                b.add(ev)
            out.append(b.build(entity))
        else:
            out.extend(_count_windows_of(evs, size, step or size, f"{entity}#", entity))
    return out


def time_windows(events: Iterable[LineEvent], size: float, step: float | None = None) -> list[Sequence]:
    """Sliding (or, with step == size, tumbling) windows of `size` seconds, every `step` seconds.

    Windows start at the first timestamp; empty windows are skipped. Lines without a timestamp
    take the time of the previous line (the first ones the next known time), and the caller's
    read report says how many lines had no time.
    """
    step = size if step is None else step
    _check_positive("size", size)
    _check_positive("step", step)
    evs = list(events)
    times = _fill_times(evs)
    out: list[Sequence] = []
    if not evs:
        return out
    order = sorted(range(len(evs)), key=lambda i: times[i])  # stable: file order within equal times
    t0 = times[order[0]]
    t_last = times[order[-1]]
    lo = 0
    k = 0
    while True:
        w_start = t0 + k * step
        if w_start > t_last:
            break
        w_end = w_start + size
        while lo < len(order) and times[order[lo]] < w_start:
            lo += 1
        hi = lo
        b = _Builder()
        while hi < len(order) and times[order[hi]] < w_end:
            b.add(evs[order[hi]])
            hi += 1
        if b.ids:
            out.append(b.build(f"t{k}"))
        k += 1
    return out


def _fill_times(evs: list[LineEvent]) -> list[float]:
    times: list[float | None] = [ev.timestamp for ev in evs]
    first_known = next((t for t in times if t is not None), 0.0)
    filled: list[float] = []
    prev = first_known
    for t in times:
        prev = t if t is not None else prev
        filled.append(prev)
    return filled


GROUPINGS: dict[str, str] = {
    "session": "sessions by identifier (regex); a line with several ids joins each session",
    "entity": "one sequence per entity (e.g. node), optionally cut into count windows",
    "count": "fixed or sliding windows of N consecutive lines",
    "time": "fixed or sliding windows of N seconds",
}


def group_events(
    events: Iterable[LineEvent],
    grouping: str,
    *,
    size: float | None = None,
    step: float | None = None,
    labels: Mapping[str, int] | None = None,
    on_unlabelled: Callable[[list[str]], None] | None = None,
) -> list[Sequence]:
    """Dispatch to one grouping by name (see GROUPINGS)."""
    if grouping == "session":
        seqs, unlabelled = sessions_by_identifier(events, labels)
        if unlabelled and on_unlabelled is not None:
            on_unlabelled(unlabelled)
        return seqs
    if grouping == "entity":
        return entity_windows(events, int(size) if size else None, int(step) if step else None)
    if grouping == "count":
        if size is None:
            raise InvalidParameterError("count windows need `size` (lines per window)")
        return count_windows(events, int(size), int(step) if step else None)
    if grouping == "time":
        if size is None:
            raise InvalidParameterError("time windows need `size` (seconds per window)")
        return time_windows(events, float(size), float(step) if step else None)
    from logad.errors import unknown_name

    raise unknown_name("grouping", grouping, list(GROUPINGS))


def identifier_extractor(pattern: str) -> Callable[[str], tuple[str, ...]]:
    """Return a function giving the distinct ids a line names, in order of appearance."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise InvalidParameterError(f"`session_regex` is not a valid regex: {pattern!r} ({exc})") from exc

    def extract(text: str) -> tuple[str, ...]:
        found = rx.findall(text)
        if not found:
            return ()
        if isinstance(found[0], tuple):  # several groups: take the first
            found = [f[0] for f in found]
        return tuple(dict.fromkeys(found))

    return extract
