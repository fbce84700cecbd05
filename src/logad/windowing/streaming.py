"""Grouping one line at a time: the same sequences as the batch path, for online use.

`StreamingWindower(grouping, labels).push(event)` returns the sequences that line closed;
`flush()` closes everything still open (the end of a stream). Pushing a file's events and then
flushing gives exactly the sequences of `group_events` on the same events (same ids, lines,
labels, times, values, entity), in another order: compare them sorted by
`(line_nos[0], sequence_id)`. Both follow the same time rules (`logad.windowing.logtime`).

When a sequence closes, per grouping:
- count (and entity/file cut into windows): when its last line arrives; the shorter tail at flush.
  A sliding window keeps at most `size` lines.
- time: when a line's log time reaches the window's end; it keeps the lines of its open windows.
- session with `timeout`: when the stream's log time moves more than `timeout` past the session's
  last line. It remembers how many sessions each id has had (one integer per id seen), to name
  the next one `id#n`.
- session without `timeout`, whole entity, whole file: only at flush, so memory grows with the
  open sessions, entities or files (and their lines).

`to_dict()` / `from_dict()` save and restore everything open as plain JSON (the label map too),
so a service can checkpoint: a windower restored mid-stream and fed the rest gives exactly what
the uninterrupted one gives. After `flush()` the windower starts a new stream (ids and log time
start over); `stats` keeps counting across streams.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import replace

from logad.errors import InvalidParameterError
from logad.records import Sequence
from logad.windowing.grouping import (
    Grouping,
    LineEvent,
    path_session_extractor,
    report_time_stats,
    sequence_of,
    session_id,
    session_label,
)
from logad.windowing.logtime import LogClock, first_window_ending_after, new_stats, window_end

STATE_FORMAT = "logad.windowing.streaming"
STATE_VERSION = 1


class StreamingWindower:
    """Turns a stream of `LineEvent`s into `Sequence`s as they close (see the module docstring).

    The grouping is validated here, at construction: a windower has no fit step, and a bad
    grouping found at the first push would be found later and further from its cause.
    `stats` counts events pushed, sequences closed and lines whose time was refused or late, or
    that joined no session (keys: logad.windowing.logtime.STAT_KEYS).
    """

    def __init__(self, grouping: Grouping, labels: Mapping[str, int] | None = None) -> None:
        self.grouping = grouping
        self.labels = labels
        self._g = grouping.validated()
        self.stats: dict[str, int] = new_stats()
        self._clock = LogClock()
        self._state = self._new_state()

    def _new_state(self) -> _State:
        g = self._g
        if g.kind == "session":
            return _Sessions(g, self.labels, self.stats)
        if g.kind in ("entity", "file"):
            return _Keyed(g)
        if g.kind == "count":
            return _CountRun(g.size, g.step, "w")  # type: ignore[arg-type]
        return _TimeWindows(g.size, g.step)  # type: ignore[arg-type]

    def push(self, event: LineEvent) -> list[Sequence]:
        """Add one line (in stream order); return the sequences it closed, often none."""
        stats = self.stats
        stats["events"] += 1
        if event.timestamp is not None and self._clock.observe(event.timestamp, stats) is None:
            event = replace(event, timestamp=None)  # refused: the line has no time (counted)
        out = self._state.push(event, self._clock.now)
        stats["sequences"] += len(out)
        return out

    def flush(self) -> list[Sequence]:
        """Close every open sequence (end of stream), ordered by first line; then start a new stream."""
        out = self._state.flush()
        out.sort(key=lambda s: (s.line_nos[0], s.sequence_id))
        self.stats["sequences"] += len(out)
        report_time_stats(self.stats, "streaming windower (all streams so far)")
        self._clock = LogClock()
        self._state = self._new_state()
        return out

    @property
    def held_lines(self) -> int:
        """Lines held in open sequences (a sliding count window holds at most its size)."""
        return self._state.held()

    def to_dict(self) -> dict:
        """Everything open, as JSON-serialisable data (non-finite parameter values as strings)."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "grouping": self.grouping.describe(),
            "labels": dict(self.labels) if self.labels is not None else None,
            "stats": dict(self.stats),
            "clock": self._clock.to_dict(),
            "state": self._state.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> StreamingWindower:
        """Rebuild a windower saved by `to_dict`, ready to take the next line."""
        if not isinstance(d, Mapping) or d.get("format") != STATE_FORMAT:
            raise InvalidParameterError(f"not a streaming windower state (format {STATE_FORMAT!r}), got {_head(d)}")
        if d.get("version") != STATE_VERSION:
            raise InvalidParameterError(f"windower state `version` must be {STATE_VERSION}, got {d.get('version')!r}")
        try:
            w = cls(Grouping.from_dict(d["grouping"]), d["labels"])
            w.stats.update({str(k): int(v) for k, v in d["stats"].items()})
            w._clock = LogClock.from_dict(d["clock"])
            w._state.load(d["state"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, InvalidParameterError):
                raise
            raise InvalidParameterError(f"windower state is corrupt: {type(exc).__name__}: {exc}") from exc
        return w


def _head(d: object) -> str:
    text = repr(d)
    return text if len(text) <= 80 else text[:77] + "..."


def _enc(ev: LineEvent) -> list:
    values = None if ev.values is None else [v if math.isfinite(v) else repr(float(v)) for v in ev.values]
    return [ev.line_no, ev.template_id, ev.timestamp, ev.label, list(ev.keys), values, ev.source]


def _dec(row: list) -> LineEvent:
    line_no, template_id, timestamp, label, keys, values, source = row
    vals = None if values is None else tuple(float(v) if isinstance(v, str) else v for v in values)
    return LineEvent(line_no, template_id, timestamp, label, tuple(keys), vals, source)


class _State:
    """What one grouping keeps open between lines."""

    __slots__ = ()

    def push(self, ev: LineEvent, now: float | None) -> list[Sequence]:
        raise NotImplementedError

    def flush(self) -> list[Sequence]:
        raise NotImplementedError

    def held(self) -> int:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    def load(self, d: dict) -> None:
        raise NotImplementedError


class _CountRun(_State):
    """Count windows over one run of lines (the stream, or one entity or file): window j holds
    lines [j*step, j*step + size), closed when its last line arrives."""

    __slots__ = ("size", "step", "prefix", "entity", "n", "emitted", "covered", "buf")

    def __init__(self, size: int, step: int, prefix: str, entity: str | None = None) -> None:
        self.size = size
        self.step = step
        self.prefix = prefix
        self.entity = entity
        self.n = 0  # lines seen
        self.emitted = 0  # windows closed
        self.covered = 0  # lines covered by closed windows: the tail is kept only if it adds lines
        self.buf: deque[LineEvent] = deque(maxlen=size)

    def push(self, ev: LineEvent, now: float | None = None) -> list[Sequence]:
        self.buf.append(ev)
        self.n += 1
        if self.n >= self.size and (self.n - self.size) % self.step == 0:
            return [self._close(list(self.buf))]
        return []

    def _close(self, lines: list[LineEvent]) -> Sequence:
        seq = sequence_of(lines, f"{self.prefix}{self.emitted}", self.entity)
        self.emitted += 1
        self.covered = self.n
        return seq

    def flush(self) -> list[Sequence]:
        start = self.emitted * self.step  # the first window not yet full
        if start < self.n and self.n > self.covered:
            lines = list(self.buf)
            return [self._close(lines[len(lines) - (self.n - start):])]
        return []

    def held(self) -> int:
        return len(self.buf)

    def to_dict(self) -> dict:
        return {"n": self.n, "emitted": self.emitted, "covered": self.covered, "lines": [_enc(e) for e in self.buf]}

    def load(self, d: dict) -> None:
        self.n, self.emitted, self.covered = int(d["n"]), int(d["emitted"]), int(d["covered"])
        self.buf.extend(_dec(r) for r in d["lines"])


class _Keyed(_State):
    """Per entity (`keys[0]`) or per file (`source`): one sequence each, or count windows each."""

    def __init__(self, g: Grouping) -> None:
        self.by_file = g.kind == "file"
        self.size: int | None = g.size  # type: ignore[assignment]
        self.step: int | None = g.step  # type: ignore[assignment]
        self.whole: dict[str, list[LineEvent]] = {}
        self.runs: dict[str, _CountRun] = {}

    def _key(self, ev: LineEvent) -> str:
        return ev.source if self.by_file else (ev.keys[0] if ev.keys else "")

    def push(self, ev: LineEvent, now: float | None) -> list[Sequence]:
        key = self._key(ev)
        if self.size is None:
            lines = self.whole.get(key)
            if lines is None:
                lines = self.whole[key] = []
            lines.append(ev)
            return []
        run = self.runs.get(key)
        if run is None:
            run = self.runs[key] = _CountRun(self.size, self.step or self.size, f"{key}#", key)
        return run.push(ev)

    def flush(self) -> list[Sequence]:
        out = [sequence_of(lines, key, key) for key, lines in self.whole.items()]
        for run in self.runs.values():
            out.extend(run.flush())
        return out

    def held(self) -> int:
        return sum(map(len, self.whole.values())) + sum(r.held() for r in self.runs.values())

    def to_dict(self) -> dict:
        return {
            "whole": [[key, [_enc(e) for e in lines]] for key, lines in self.whole.items()],
            "runs": [[key, run.to_dict()] for key, run in self.runs.items()],
        }

    def load(self, d: dict) -> None:
        self.whole = {str(key): [_dec(r) for r in rows] for key, rows in d["whole"]}
        if d["runs"] and self.size is None:
            raise InvalidParameterError("windower state has count windows for a grouping without `size`")
        for key, rd in d["runs"]:
            run = self.runs[key] = _CountRun(self.size, self.step or self.size, f"{key}#", key)  # type: ignore[arg-type]
            run.load(rd)


class _Sessions(_State):
    """Open sessions by id, ordered by the log time of their last line (so expiry looks only at
    the front). Each is [sequence id, key, log time of last line, lines, opening order]."""

    def __init__(self, g: Grouping, labels: Mapping[str, int] | None, stats: dict[str, int]) -> None:
        self.timeout = g.timeout
        self.path_keys = path_session_extractor(g.session_from_path) if g.session_from_path else None
        self.labels = labels
        self.stats = stats
        self.open: OrderedDict[str, list] = OrderedDict()
        self.started: dict[str, int] = {}  # sessions per id so far (only with a timeout)
        self.opened = 0
        self.undated = False  # some open session's last line came before any usable time

    def push(self, ev: LineEvent, now: float | None) -> list[Sequence]:
        out: list[Sequence] = []
        open_ = self.open
        timeout = self.timeout
        if timeout is not None and now is not None and open_:
            if self.undated:  # lines before the first usable time take that time
                for s in open_.values():
                    if s[2] is None:
                        s[2] = now
                self.undated = False
            while open_:
                s = next(iter(open_.values()))
                if now - s[2] <= timeout:
                    break
                open_.popitem(last=False)
                out.append(self._close(s))
        keys = ev.keys if self.path_keys is None else self.path_keys(ev.source)
        if not keys:
            self.stats["no_session"] += 1
            return out
        for key in keys:
            s = open_.get(key)
            if s is None:
                n = 1
                if timeout is not None:
                    n = self.started[key] = self.started.get(key, 0) + 1
                s = open_[key] = [session_id(key, n), key, now, [], self.opened]
                self.opened += 1
            elif timeout is not None:
                open_.move_to_end(key)
            s[2] = now
            s[3].append(ev)
        if now is None:
            self.undated = True
        return out

    def _close(self, s: list) -> Sequence:
        label, known = session_label(s[1], self.labels, None)
        if not known:
            self.stats["unlabelled"] += 1
        return sequence_of(s[3], s[0], None, label)

    def flush(self) -> list[Sequence]:
        return [self._close(s) for s in sorted(self.open.values(), key=lambda s: s[4])]

    def held(self) -> int:
        return sum(len(s[3]) for s in self.open.values())

    def to_dict(self) -> dict:
        return {
            "open": [[s[0], s[1], s[2], [_enc(e) for e in s[3]], s[4]] for s in self.open.values()],
            "started": self.started,
            "opened": self.opened,
            "undated": self.undated,
        }

    def load(self, d: dict) -> None:
        for sid, key, last, rows, order in d["open"]:
            self.open[key] = [sid, key, last, [_dec(r) for r in rows], int(order)]
        self.started = {str(k): int(v) for k, v in d["started"].items()}
        self.opened = int(d["opened"])
        self.undated = bool(d["undated"])


class _TimeWindows(_State):
    """Windows k = [t0 + k*step, window_end(k)) of log time; the buffer holds (log time, line)
    from the start of the first open window. Lines before the first usable time wait in
    `pending` (they take that time, or 0.0 if the stream has none), as in the batch path."""

    def __init__(self, size: float, step: float) -> None:
        self.size = size
        self.step = step
        self.t0: float | None = None
        self.k = 0
        self.buf: deque[tuple[float, LineEvent]] = deque()
        self.pending: list[LineEvent] = []

    def push(self, ev: LineEvent, now: float | None) -> list[Sequence]:
        if now is None:
            self.pending.append(ev)
            return []
        if self.t0 is None:
            self._start(now)
        out = self._close_before(now)
        self.buf.append((now, ev))
        return out

    def _start(self, t0: float) -> None:
        self.t0 = t0
        self.buf.extend((t0, e) for e in self.pending)
        self.pending = []

    def _close_before(self, now: float) -> list[Sequence]:
        """Close the windows that end at or before log time `now` (all of them for inf)."""
        out: list[Sequence] = []
        buf, t0, size, step = self.buf, self.t0, self.size, self.step
        assert t0 is not None  # internal: set by the first usable time or by flush
        while buf:
            first = buf[0][0]
            k = self.k = first_window_ending_after(first, t0, size, step, self.k)
            if first < t0 + k * step:  # no window holds it (window_end rules this out); as in batch
                buf.popleft()
                continue
            end = window_end(k, t0, size, step)
            if now < end:
                break
            lines = []
            for p, ev in buf:
                if p >= end:
                    break
                lines.append(ev)
            out.append(sequence_of(lines, f"t{k}"))
            self.k = k + 1
            start = t0 + self.k * step
            while buf and buf[0][0] < start:
                buf.popleft()
        return out

    def flush(self) -> list[Sequence]:
        if self.t0 is None:
            if not self.pending:
                return []
            self._start(0.0)  # no usable time in the whole stream: as in the batch path
        return self._close_before(math.inf)

    def held(self) -> int:
        return len(self.buf) + len(self.pending)

    def to_dict(self) -> dict:
        return {
            "t0": self.t0,
            "k": self.k,
            "lines": [[p, _enc(e)] for p, e in self.buf],
            "pending": [_enc(e) for e in self.pending],
        }

    def load(self, d: dict) -> None:
        self.t0 = d["t0"]
        self.k = int(d["k"])
        self.buf = deque((float(p), _dec(r)) for p, r in d["lines"])
        self.pending = [_dec(r) for r in d["pending"]]
