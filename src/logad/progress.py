"""Progress on stderr: stage messages and progress bars, never in library return values.

On a terminal a counter becomes a real progress bar (tqdm: count, rate, and the ETA when the total
is known); elsewhere (a log file, CI) it is a plain line at most every `interval` seconds with the
same count, rate and ETA; with `enabled=False` (the CLI's --quiet) nothing is written.

Library code reports with `stage(message)` and `tick(label, done, total)`; loops it owns can use
`track(iterable, label, total)`, and a download `callback(label)` (a `(done, total)` function).
"""

from __future__ import annotations

import os
import sys
import time


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


def _eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Stage lines and progress bars on stderr.

    `bars=None` draws bars when `stream` is a terminal; True or False forces either way. Silent
    when `enabled` is False, so library callers opt in (the CLI does).
    """

    def __init__(self, enabled: bool = True, interval: float = 1.0, stream=None, bars: bool | None = None) -> None:
        self.enabled = enabled
        self.interval = interval
        self.stream = stream or sys.stderr
        self.bars = _is_terminal(self.stream) if bars is None else bars
        self._t0 = time.perf_counter()
        self._last = 0.0
        self._bar = None  # (label, tqdm bar) of the counter being drawn
        self._started: dict[str, tuple[float, int]] = {}  # label -> (time, count) of its first tick

    # ------------------------------------------------------------------ stages
    def stage(self, message: str) -> None:
        if not self.enabled:
            return
        self._close_bar()
        elapsed = time.perf_counter() - self._t0
        self._write(f"[{elapsed:6.1f}s] {message}")

    # ------------------------------------------------------------------ counters
    def tick(self, label: str, done: int, total: int | None = None, unit: str = "it") -> None:
        """`done` of `total` (or of an unknown total) items of `label` so far."""
        if not self.enabled:
            return
        if self.bars and self._draw_bar(label, done, total, unit):
            return
        now = time.perf_counter()
        t_first, n_first = self._started.setdefault(label, (now, done))
        if now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._t0
        rate = (done - n_first) / (now - t_first) if now > t_first else 0.0
        text = f"[{elapsed:6.1f}s]   {label}: {done:,}" + (f"/{total:,}" if total else "")
        if rate > 0:
            text += f" ({_rate(rate, unit)}"
            if total:
                text += f", ETA {_eta((total - done) / rate)}"
            text += ")"
        self._write(text)

    def track(self, iterable, label: str, total: int | None = None, unit: str = "it"):
        """Yield from `iterable`, ticking once per item (the last count always shown)."""
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        n = 0
        for item in iterable:
            yield item
            n += 1
            self.tick(label, n, total, unit)
        self.done(label, n, total, unit)

    def callback(self, label: str, unit: str = "B"):
        """A `(done, total)` function for code that reports through a callback (downloads)."""

        def report(done: int, total: int | None = None) -> None:
            self.tick(label, done, total, unit)

        return report

    def done(self, label: str, n: int, total: int | None = None, unit: str = "it") -> None:
        """The final count of `label`: the bar completes; a plain line is written once."""
        if not self.enabled:
            return
        if self.bars and self._bar is not None and self._bar[0] == label:
            bar = self._bar[1]
            bar.n = n
            bar.refresh()
            self._close_bar()
            return
        self._last = 0.0
        self.tick(label, n, total, unit)
        self._started.pop(label, None)

    def close(self) -> None:
        self._close_bar()

    # ------------------------------------------------------------------ drawing
    def _draw_bar(self, label: str, done: int, total: int | None, unit: str) -> bool:
        if self._bar is None or self._bar[0] != label:
            self._close_bar()
            try:
                from tqdm import tqdm
            except ImportError:  # plain lines instead
                self.bars = False
                return False
            self._bar = (label, tqdm(total=total, desc=label, unit=unit, unit_scale=True, file=self.stream,
                                     dynamic_ncols=True, leave=True, mininterval=0.2, initial=0))
        bar = self._bar[1]
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(max(0, done - bar.n))
        return True

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar[1].close()
            self._bar = None

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _rate(rate: float, unit: str) -> str:
    if unit == "B":
        for u in ("B", "KB", "MB", "GB"):
            if rate < 1024 or u == "GB":
                return f"{rate:,.1f} {u}/s"
            rate /= 1024
    return f"{rate:,.0f} {unit}/s" if rate >= 10 else f"{rate:.2f} {unit}/s"


SILENT = Progress(enabled=False)
