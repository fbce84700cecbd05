"""Sessions and windows over parsed lines: the batch path.

Every grouping consumes `LineEvent`s (what is left of a line once parsed: ids, time, label, the
keys it belongs to, the file it came from) in stream order and returns `Sequence`s. A sequence is
anomalous when any of its lines is, or when a session label map says so; per-line labels are kept.
`logad.windowing.streaming.StreamingWindower` gives exactly the same sequences one line at a time.

Time follows `logad.windowing.logtime`: a timestamp that is not finite or is absurdly far from the
stream's first one is removed from its line and counted; time windows and session timeouts place
each line at its *log time*, which never goes back (a line stamped earlier than the latest seen
takes the latest, and is counted as `late`). Before this rule, time windows sorted all lines of a
file by time; for files whose timestamps never go back the windows are unchanged, for the others a
late line now joins the window of the time it was logged at, which a stream can do too.

Sequence ids, deterministic for a given input:
- session: the id (`blk_1`); with a `timeout`, the n-th session of one id is `blk_1#n` (n >= 2)
- entity / file: the entity or file path; cut into count windows, `<key>#<i>`
- count: `w<i>`; time: `t<k>` with k the window index counted from the first line's log time
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from logad.errors import InvalidParameterError, no_such_parameter, unknown_name
from logad.records import Sequence
from logad.windowing.logtime import (
    MAX_OVERLAP,
    MIN_TIME_WINDOW,
    clean_times,
    first_window_ending_after,
    new_stats,
    window_end,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LineEvent:
    """One parsed line, reduced to what grouping needs.

    `keys` are the session identifiers (several for a line naming several blocks) or the entity.
    `source` is the file the line came from (kind "file" and sessions taken from the path need it).
    """

    line_no: int
    template_id: int
    timestamp: float | None = None
    label: int | None = None
    keys: tuple[str, ...] = ()
    values: tuple[float, ...] | None = None  # numeric parameters, when the loader extracts them
    source: str = ""


GROUPINGS: dict[str, str] = {
    "session": "sessions by identifier (regex on the line, or on the file path); optional inactivity timeout",
    "entity": "one sequence per entity (e.g. node), optionally cut into count windows",
    "file": "one sequence per input file (container, worker, process), optionally cut into count windows",
    "count": "fixed or sliding windows of N consecutive lines",
    "time": "fixed or sliding windows of N seconds of log time",
}
_SESSION_ONLY = ("timeout", "session_from_path")


@dataclass
class Grouping:
    """How lines become sequences. `kind` is one of logad.windowing.GROUPINGS.

    `size`/`step` are lines (count, entity, file) or seconds (time); `step` defaults to `size`.
    Sessions: `session_regex` names the id in the line text (the loader applies it), or
    `session_from_path` takes it from the file path (first group of the regex on
    `LineEvent.source`); `timeout` (seconds of log time) closes a session after that long without
    a line, and a later line of the same id starts a new one.
    """

    kind: str = "count"
    size: float | None = 100
    step: float | None = None
    session_regex: str | None = None
    entity_field: str | None = None
    timeout: float | None = None
    session_from_path: str | None = None

    def describe(self) -> dict:
        """The fields this kind uses, enough for `from_dict` to rebuild it (saved models keep this)."""
        out: dict = {"kind": self.kind}
        if self.kind == "session":
            out["session_regex"] = self.session_regex
            for name in _SESSION_ONLY:
                if getattr(self, name) is not None:
                    out[name] = getattr(self, name)
        else:
            out.update(size=self.size, step=self.step or self.size)
            if self.kind == "entity":
                out["entity_field"] = self.entity_field
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> Grouping:
        """Inverse of `describe`: unknown keys and a missing `kind` are refused, values validated."""
        if not isinstance(d, Mapping):
            raise InvalidParameterError(f"a grouping must be a mapping, got {type(d).__name__}")
        valid = [f.name for f in dataclasses.fields(cls)]
        bad = [str(k) for k in d if k not in valid]
        if bad:
            raise no_such_parameter("Grouping", bad, valid)
        if "kind" not in d:
            raise InvalidParameterError(
                f"a grouping needs `kind` (one of {', '.join(GROUPINGS)}), got keys {sorted(d)!r}"
            )
        g = cls(**{"size": None, **d})  # a missing size means none, not the dataclass default
        g.validated()
        return g

    def validated(self) -> Grouping:
        """A copy with every parameter checked and normalised (ints for line counts, `step` filled).

        Batch and streaming both call this, so a grouping is refused the same way everywhere.
        """
        kind = self.kind
        if kind not in GROUPINGS:
            raise unknown_name("grouping", str(kind), list(GROUPINGS))
        if kind == "session":
            if self.timeout is not None:
                _check_positive("timeout", self.timeout)
            if self.session_regex and self.session_from_path:
                raise InvalidParameterError(
                    f"give `session_regex` ({self.session_regex!r}) or `session_from_path` "
                    f"({self.session_from_path!r}), not both"
                )
            for name in ("session_regex", "session_from_path"):
                if getattr(self, name) is not None:
                    _compile(name, getattr(self, name))
            return dataclasses.replace(self, size=None, step=None)
        for name in _SESSION_ONLY:
            if getattr(self, name) is not None:
                raise InvalidParameterError(
                    f"`{name}` applies only to session groupings, got {getattr(self, name)!r} with kind {kind!r}"
                )
        if self.size is None:
            if kind in ("count", "time"):
                unit = "lines" if kind == "count" else "seconds"
                raise InvalidParameterError(f"{kind} windows need `size` ({unit} per window)")
            if self.step is not None:
                raise InvalidParameterError(f"`step` needs a `size` (lines per window), got step {self.step!r}")
            return dataclasses.replace(self, step=None)
        if kind == "time":
            size = _seconds("size", self.size)
            step = size if self.step is None else _seconds("step", self.step)
        else:
            size = _lines("size", self.size)
            step = size if self.step is None else _lines("step", self.step)
        if step > size:
            raise InvalidParameterError(
                f"`step` must be <= `size` ({_num(size)}), got {_num(step)}: lines between windows would be dropped"
            )
        if size / step > MAX_OVERLAP:
            raise InvalidParameterError(
                f"`size` / `step` must be <= {MAX_OVERLAP} (each line is copied into that many windows), "
                f"got size {_num(size)}, step {_num(step)}"
            )
        return dataclasses.replace(self, size=size, step=step)


def _num(x: float) -> str:
    return repr(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else repr(x)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_positive(name: str, value: float) -> None:
    if not (_is_number(value) and value > 0 and math.isfinite(value)):
        raise InvalidParameterError(f"`{name}` must be > 0, got {value!r}")


def _lines(name: str, value: float) -> int:
    if not (_is_number(value) and math.isfinite(value) and float(value).is_integer() and value >= 1):
        raise InvalidParameterError(f"`{name}` must be an integer >= 1 (lines), got {value!r}")
    return int(value)


def _seconds(name: str, value: float) -> float:
    _check_positive(name, value)
    if value < MIN_TIME_WINDOW:
        raise InvalidParameterError(
            f"`{name}` must be >= {MIN_TIME_WINDOW} s (1 ms) for time windows, got {value!r}"
        )
    return float(value)


def _compile(name: str, pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise InvalidParameterError(f"`{name}` is not a valid regex: {pattern!r} ({exc})") from exc


def sequence_of(
    evs: list[LineEvent], sequence_id: str, entity: str | None = None, label_override: int | None = None
) -> Sequence:
    """The sequence of these lines, in their order (the one place a Sequence is built)."""
    n = len(evs)
    times = [ev.timestamp for ev in evs]
    labels = [ev.label for ev in evs]
    values = [ev.values for ev in evs]
    n_none = times.count(None)
    if n_none == 0:
        start, end = min(times), max(times)
    elif n_none < n:
        known_times = [t for t in times if t is not None]
        start, end = min(known_times), max(known_times)
    else:
        start = end = None
    known_label = labels.count(None) < n
    if label_override is not None:
        label = label_override
    elif known_label:
        label = int(any(labels))
    else:
        label = None
    return Sequence(
        sequence_id=sequence_id,
        template_ids=tuple([ev.template_id for ev in evs]),
        line_nos=tuple([ev.line_no for ev in evs]),
        start_time=start,
        end_time=end,
        line_labels=tuple([lab if lab is not None else 0 for lab in labels]) if known_label else None,
        label=label,
        entity=entity,
        line_values=None if values.count(None) == n else _line_values(times, values),
        sources=tuple(dict.fromkeys(ev.source for ev in evs if ev.source)),
    )


def _line_values(times: list[float | None], values: list[tuple[float, ...] | None]) -> tuple:
    nan = float("nan")
    out = []
    prev: float | None = None
    for i, (t, v) in enumerate(zip(times, values)):
        if i == 0:
            dt = 0.0 if t is not None else nan
        else:
            dt = nan if t is None or prev is None else t - prev
        if t is not None:
            prev = t
        out.append((dt, *(v or ())))
    return tuple(out)


def _prepare(
    events: Iterable[LineEvent], stats: dict[str, int], *, placement: bool
) -> tuple[list[LineEvent], list[float] | None]:
    """The events as a list with refused timestamps cleared (copies only for those lines), and
    every line's log time when `placement` (time windows, session timeouts)."""
    evs = list(events)
    refused, log_time = clean_times([ev.timestamp for ev in evs], stats, placement=placement)
    for i in refused:
        evs[i] = dataclasses.replace(evs[i], timestamp=None)
    stats["events"] += len(evs)
    return evs, log_time


def report_time_stats(stats: Mapping[str, int], where: str = "windowing") -> None:
    """Log what the time rules did (once per file or stream, never per line)."""
    refused = stats.get("time_not_finite", 0) + stats.get("time_out_of_range", 0)
    if refused:
        log.warning(
            "%s: %d lines had an unusable timestamp (%d not finite, %d out of range); they are treated "
            "as having no time", where, refused, stats.get("time_not_finite", 0), stats.get("time_out_of_range", 0),
        )
    if stats.get("late"):
        log.info("%s: %d lines were stamped earlier than a line before them; they take the latest time",
                 where, stats["late"])


def session_label(key: str, labels: Mapping[str, int] | None, missing_label: int | None) -> tuple[int | None, bool]:
    """(label, known) of a session from the label map; sessions without a map are not 'unlabelled'."""
    if labels is None:
        return None, True
    lab = labels.get(key)
    return (lab, True) if lab is not None else (missing_label, False)


def session_id(key: str, n: int) -> str:
    """The id of the n-th session (1-based) of one identifier: the id itself, then `id#n`."""
    return key if n == 1 else f"{key}#{n}"


def _sessions(
    evs: list[LineEvent],
    log_time: list[float] | None,
    labels: Mapping[str, int] | None,
    missing_label: int | None,
    timeout: float | None,
    path_keys: Callable[[str], tuple[str, ...]] | None,
    stats: dict[str, int],
) -> tuple[list[Sequence], list[str]]:
    no_session = 0
    sequences: list = []  # by first line: a Sequence once closed, (id, key, lines) while open
    unlabelled: list[str] = []

    def close(sid: str, key: str, lines: list[LineEvent]) -> Sequence:
        return sequence_of(lines, sid, None, session_label(key, labels, missing_label)[0])

    if timeout is None:
        per_key: dict[str, list[LineEvent]] = {}
        for ev in evs:
            keys = ev.keys if path_keys is None else path_keys(ev.source)
            if not keys:
                no_session += 1
                continue
            for key in keys:
                lines = per_key.get(key)
                if lines is None:
                    lines = per_key[key] = []
                lines.append(ev)
        sequences = [close(key, key, lines) for key, lines in per_key.items()]
        session_keys = list(per_key)
    else:
        assert log_time is not None  # internal: _prepare(placement=True) for timeouts
        open_: dict[str, int] = {}  # key -> index of its open session in `sequences`
        last: dict[str, float] = {}  # key -> log time of its open session's last line
        started: dict[str, int] = {}
        session_keys = []
        for ev, now in zip(evs, log_time):
            keys = ev.keys if path_keys is None else path_keys(ev.source)
            if not keys:
                no_session += 1
                continue
            for key in keys:
                i = open_.get(key)
                if i is None or now - last[key] > timeout:
                    if i is not None:  # timed out: build it now, so its lines can be freed
                        sequences[i] = close(*sequences[i])
                    n = started[key] = started.get(key, 0) + 1
                    i = open_[key] = len(sequences)
                    sequences.append((session_id(key, n), key, []))
                    session_keys.append(key)
                sequences[i][2].append(ev)
                last[key] = now
        for i in open_.values():
            sequences[i] = close(*sequences[i])
    stats["no_session"] += no_session
    if labels is not None:  # in the order of the sessions (by first line)
        unlabelled = [s.sequence_id for s, key in zip(sequences, session_keys) if labels.get(key) is None]
    stats["unlabelled"] += len(unlabelled)
    return sequences, unlabelled


def sessions_by_identifier(
    events: Iterable[LineEvent],
    labels: Mapping[str, int] | None = None,
    *,
    missing_label: int | None = None,
    timeout: float | None = None,
    stats: dict[str, int] | None = None,
) -> tuple[list[Sequence], list[str]]:
    """One session per identifier in `LineEvent.keys`; a line with several ids joins each session.

    Sessions are ordered by their first line. `labels` maps session id -> 0/1 (e.g. HDFS
    anomaly_label.csv); sessions absent from it get `missing_label` and their sequence ids are
    returned in the second list so the caller can report them (never dropped silently). With
    `timeout`, see `Grouping`. `stats` (optional) is updated with the counts of logtime.STAT_KEYS.
    """
    g = Grouping(kind="session", timeout=timeout).validated()
    return _run_sessions(events, g, labels, missing_label, stats)


def sessions_by_path(
    events: Iterable[LineEvent],
    pattern: str,
    labels: Mapping[str, int] | None = None,
    *,
    missing_label: int | None = None,
    timeout: float | None = None,
    stats: dict[str, int] | None = None,
) -> tuple[list[Sequence], list[str]]:
    """Sessions whose id is the first group of `pattern` searched in each line's file path
    (`LineEvent.source`): all lines of the files of one session join it, whatever they say."""
    g = Grouping(kind="session", session_from_path=pattern, timeout=timeout).validated()
    return _run_sessions(events, g, labels, missing_label, stats)


def _run_sessions(events, g: Grouping, labels, missing_label, stats) -> tuple[list[Sequence], list[str]]:
    st = new_stats()
    evs, log_time = _prepare(events, st, placement=g.timeout is not None)
    path_keys = path_session_extractor(g.session_from_path) if g.session_from_path else None
    seqs, unlabelled = _sessions(evs, log_time, labels, missing_label, g.timeout, path_keys, st)
    _finish(st, len(seqs), stats)
    return seqs, unlabelled


def _finish(st: dict[str, int], n_sequences: int, stats: dict[str, int] | None) -> None:
    st["sequences"] += n_sequences
    report_time_stats(st)
    if stats is not None:
        for key, value in st.items():
            stats[key] = stats.get(key, 0) + value


def count_windows(
    events: Iterable[LineEvent],
    size: int,
    step: int | None = None,
    *,
    prefix: str = "w",
    stats: dict[str, int] | None = None,
) -> list[Sequence]:
    """Fixed (step == size) or sliding (step < size) windows of `size` consecutive lines.

    The last, shorter window is kept when it holds lines no earlier window covered.
    """
    g = Grouping(kind="count", size=size, step=step).validated()
    st = new_stats()
    evs, _ = _prepare(events, st, placement=False)
    out = _count_windows_of(evs, g.size, g.step, prefix, None)  # type: ignore[arg-type]
    _finish(st, len(out), stats)
    return out


def _count_windows_of(evs: list[LineEvent], size: int, step: int, prefix: str, entity: str | None) -> list[Sequence]:
    out: list[Sequence] = []
    n = len(evs)
    start = 0
    covered = 0  # lines covered so far: a tail window is emitted only when it adds lines
    while start < n:
        end = min(start + size, n)
        if end > covered:
            out.append(sequence_of(evs[start:end], f"{prefix}{len(out)}", entity))
            covered = end
        if end == n:
            break
        start += step
    return out


def _keyed(evs: list[LineEvent], by_file: bool, size: int | None, step: int | None) -> list[Sequence]:
    per_key: dict[str, list[LineEvent]] = {}
    if by_file:
        for ev in evs:
            per_key.setdefault(ev.source, []).append(ev)
    else:
        for ev in evs:
            per_key.setdefault(ev.keys[0] if ev.keys else "", []).append(ev)
    out: list[Sequence] = []
    for key, lines in per_key.items():
        if size is None:
            out.append(sequence_of(lines, key, key))
        else:
            out.extend(_count_windows_of(lines, size, step or size, f"{key}#", key))
    return out


def entity_windows(
    events: Iterable[LineEvent],
    size: int | None = None,
    step: int | None = None,
    *,
    stats: dict[str, int] | None = None,
) -> list[Sequence]:
    """Per-entity sequences (e.g. per BGL node, key = `LineEvent.keys[0]`), optionally cut into count windows.

    With `size=None` each entity is one sequence. Entities are ordered by first appearance.
    """
    return _run_keyed(events, Grouping(kind="entity", size=size, step=step), stats)


def file_windows(
    events: Iterable[LineEvent],
    size: int | None = None,
    step: int | None = None,
    *,
    stats: dict[str, int] | None = None,
) -> list[Sequence]:
    """One sequence per file (`LineEvent.source`; id and entity = the path), optionally cut into
    count windows: for logs where each file is one unit (a container, a worker, a process)."""
    return _run_keyed(events, Grouping(kind="file", size=size, step=step), stats)


def _run_keyed(events, g: Grouping, stats) -> list[Sequence]:
    g = g.validated()
    st = new_stats()
    evs, _ = _prepare(events, st, placement=False)
    out = _keyed(evs, g.kind == "file", g.size, g.step)  # type: ignore[arg-type]
    _finish(st, len(out), stats)
    return out


def time_windows(
    events: Iterable[LineEvent],
    size: float,
    step: float | None = None,
    *,
    stats: dict[str, int] | None = None,
) -> list[Sequence]:
    """Sliding (or, with step == size, tumbling) windows of `size` seconds of log time, every `step`.

    Windows start at the first line's log time; empty windows are skipped (in one jump, whatever
    the gap). Lines without a usable timestamp take the previous line's log time (the first ones
    the first usable time), and `stats` says how many lines had a refused or late timestamp.
    """
    g = Grouping(kind="time", size=size, step=step).validated()
    st = new_stats()
    evs, log_time = _prepare(events, st, placement=True)
    out = _time_windows_of(evs, log_time, g.size, g.step)  # type: ignore[arg-type]
    _finish(st, len(out), stats)
    return out


def _time_windows_of(evs: list[LineEvent], p: list[float], size: float, step: float) -> list[Sequence]:
    out: list[Sequence] = []
    n = len(evs)
    if not n:
        return out
    t0 = p[0]
    k = 0
    lo = 0
    while lo < n:  # p (log time) never decreases: each window is a slice found by bisection
        k = first_window_ending_after(p[lo], t0, size, step, k)
        lo = bisect_left(p, t0 + k * step, lo)
        if lo == n:
            break
        hi = bisect_left(p, window_end(k, t0, size, step), lo)
        if hi > lo:
            out.append(sequence_of(evs[lo:hi], f"t{k}"))
        k += 1
    return out


def group_events(
    events: Iterable[LineEvent],
    grouping: str | Grouping,
    *,
    size: float | None = None,
    step: float | None = None,
    labels: Mapping[str, int] | None = None,
    on_unlabelled: Callable[[list[str]], None] | None = None,
    stats: dict[str, int] | None = None,
) -> list[Sequence]:
    """Dispatch to one grouping: a `Grouping` (every field used), or a kind name with `size`/`step`.

    `stats` (optional) is updated with the counts of logtime.STAT_KEYS (refused and late
    timestamps, lines in no session, sessions without a label).
    """
    if isinstance(grouping, Grouping):
        if size is not None or step is not None:
            raise InvalidParameterError(
                f"pass `size` and `step` inside the Grouping, not beside it, got size {size!r}, step {step!r}"
            )
        g = grouping.validated()
    else:
        g = Grouping(kind=grouping, size=size, step=step).validated()
    if g.kind == "session":
        seqs, unlabelled = _run_sessions(events, g, labels, None, stats)
        if unlabelled and on_unlabelled is not None:
            on_unlabelled(unlabelled)
        return seqs
    if g.kind in ("entity", "file"):
        return _run_keyed(events, g, stats)
    if g.kind == "count":
        return count_windows(events, g.size, g.step, stats=stats)  # type: ignore[arg-type]
    return time_windows(events, g.size, g.step, stats=stats)  # type: ignore[arg-type]


def identifier_extractor(pattern: str) -> Callable[[str], tuple[str, ...]]:
    """Return a function giving the distinct ids a line names, in order of appearance."""
    rx = _compile("session_regex", pattern)

    def extract(text: str) -> tuple[str, ...]:
        found = rx.findall(text)
        if not found:
            return ()
        if isinstance(found[0], tuple):  # several groups: take the first
            found = [f[0] for f in found]
        return tuple(dict.fromkeys(found))

    return extract


def path_session_extractor(pattern: str) -> Callable[[str], tuple[str, ...]]:
    """Return a function giving a file path's session id: `(first group,)` of `pattern` searched in
    the path (the whole match when it has no group), `()` when it does not match or matches empty.
    Answers are cached per path, so a file costs one search."""
    rx = _compile("session_from_path", pattern)
    cache: dict[str, tuple[str, ...]] = {}

    def extract(path: str) -> tuple[str, ...]:
        keys = cache.get(path)
        if keys is None:
            m = rx.search(path)
            key = (m.group(1) if rx.groups else m.group(0)) if m else None
            keys = cache[path] = (key,) if key else ()
        return keys

    return extract
