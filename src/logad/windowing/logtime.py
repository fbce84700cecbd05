"""Log time: which timestamps are believed, and a clock that never goes back.

Shared by the batch groupings and the streaming windower so both place every line at exactly the
same time. The rules, in the order they apply to a line's timestamp `t`:

1. `t` is None: the line has no time.
2. `t` is not finite (NaN, inf, -inf): refused, counted as `time_not_finite`.
3. `|t| > MAX_ABS_TIMESTAMP` (1e11 s, about the year 5138), or `t` lies more than
   `MAX_TIME_SPAN` (1e9 s, about 31.7 years) from the first usable timestamp of the stream:
   refused, counted as `time_out_of_range`. No log spans decades; such a value is a parse error
   (milliseconds read as seconds, a garbled year) and would otherwise stretch or stall windows.
   The rule looks only at what came before the line, so a stream can apply it exactly.
4. `t` is earlier than the latest usable timestamp seen so far: kept on the line (it is the truth
   of the log), counted as `late`, and placed at the latest time for time windows and session
   timeouts.

A refused timestamp is removed from the line (it becomes None in the sequence), so a sequence
never carries inf or NaN as a time. The *log time* of a line (where time windows and session
timeouts place it) is the latest usable timestamp up to and including that line; lines before the
first usable timestamp take that first one (0.0 when the stream has none). For files whose
timestamps never go back this is exactly each line's own time, or the previous line's when it
has none.
"""

from __future__ import annotations

import math

MAX_ABS_TIMESTAMP = 1e11
MAX_TIME_SPAN = 1e9
MIN_TIME_WINDOW = 1e-3  # seconds: finer windows are a unit mistake (ms or ns read as s)
MAX_OVERLAP = 10_000  # size / step: each line is copied into that many windows

STAT_KEYS = ("events", "sequences", "late", "time_not_finite", "time_out_of_range", "no_session", "unlabelled")
"""What `stats` counts: events pushed, sequences closed, lines whose timestamp went back (`late`),
lines whose timestamp was refused (two reasons), lines that joined no session (`no_session`:
no id in the line, or the file path does not match), sessions missing from the label map."""


def new_stats() -> dict[str, int]:
    return dict.fromkeys(STAT_KEYS, 0)


def refusal(t: float) -> str:
    """The stats key of a timestamp that rules 2-3 refuse (call only for refused values)."""
    return "time_not_finite" if t != t or t in (math.inf, -math.inf) else "time_out_of_range"


class LogClock:
    """The streaming form of the rules above: `observe` one timestamp at a time.

    `anchor` is the first usable timestamp (rule 3), `now` the latest usable one (the log time).
    """

    __slots__ = ("anchor", "now", "_lo", "_hi")

    def __init__(self, anchor: float | None = None, now: float | None = None) -> None:
        self.anchor = anchor
        self.now = now
        self._lo, self._hi = usable_range(anchor) if anchor is not None else (-MAX_ABS_TIMESTAMP, MAX_ABS_TIMESTAMP)

    def observe(self, t: float | None, stats: dict[str, int]) -> float | None:
        """The timestamp to keep on the line (None when missing or refused); advances `now`."""
        if t is None:
            return None
        if not self._lo <= t <= self._hi:  # NaN fails every comparison
            stats[refusal(t)] += 1
            return None
        if self.now is None:
            self.anchor = self.now = t
            self._lo, self._hi = usable_range(t)
        elif t > self.now:
            self.now = t
        elif t < self.now:
            stats["late"] += 1
        return t

    def to_dict(self) -> dict:
        return {"anchor": self.anchor, "now": self.now}

    @classmethod
    def from_dict(cls, d: dict) -> LogClock:
        return cls(d["anchor"], d["now"])


def usable_range(anchor: float) -> tuple[float, float]:
    """Timestamps rule 3 accepts once the first usable one is `anchor`."""
    return max(-MAX_ABS_TIMESTAMP, anchor - MAX_TIME_SPAN), min(MAX_ABS_TIMESTAMP, anchor + MAX_TIME_SPAN)


def clean_times(
    timestamps: list[float | None], stats: dict[str, int], *, placement: bool
) -> tuple[list[int], list[float] | None]:
    """The batch form of the rules above, in one pass over a file's timestamps.

    Returns the indices of refused timestamps (the caller clears them on those lines only, so a
    clean file costs no copies) and, when `placement`, every line's log time.
    """
    refused: list[int] = []
    n = len(timestamps)
    first = 0
    while first < n:  # rule 3 needs the first usable timestamp: find it
        t = timestamps[first]
        if t is not None:
            if -MAX_ABS_TIMESTAMP <= t <= MAX_ABS_TIMESTAMP:
                break
            stats[refusal(t)] += 1
            refused.append(first)
        first += 1
    if first == n:
        return refused, [0.0] * n if placement else None
    now = timestamps[first]
    lo, hi = usable_range(now)  # type: ignore[arg-type]
    late = 0
    log_time: list[float] | None = [now] * (first + 1) if placement else None  # type: ignore[list-item]
    for i in range(first + 1, n):
        t = timestamps[i]
        if t is not None:
            if lo <= t <= hi:
                if t > now:
                    now = t
                elif t < now:
                    late += 1
            else:
                stats[refusal(t)] += 1
                refused.append(i)
        if log_time is not None:
            log_time.append(now)  # type: ignore[arg-type]
    stats["late"] += late
    return refused, log_time


def window_end(k: int, t0: float, size: float, step: float) -> float:
    """End (exclusive) of time window `k`, which starts at `t0 + k * step`.

    Never before the next window's start, so float rounding cannot leave a gap between tumbling
    windows where a line would belong to none.
    """
    return max(t0 + k * step + size, t0 + (k + 1) * step)


def first_window_ending_after(t: float, t0: float, size: float, step: float, k_min: int) -> int:
    """The smallest window index >= `k_min` whose window ends after log time `t`.

    This is the jump over empty stretches: the cost does not grow with the gap between two lines,
    only the float estimate is corrected by a step or two with the exact comparison the windows use.
    """
    if window_end(k_min, t0, size, step) > t:
        return k_min
    k = max(k_min + 1, math.floor((t - t0 - size) / step) + 1)
    while window_end(k, t0, size, step) <= t:
        k += 1
    while k - 1 > k_min and window_end(k - 1, t0, size, step) > t:
        k -= 1
    return k
