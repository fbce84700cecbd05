"""Progress on stderr: stage messages and a throttled counter, never in library return values."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints `label: n items (rate/s)` at most every `interval` seconds to stderr.

    Silent when `enabled` is False, so library callers opt in (the CLI does).
    """

    def __init__(self, enabled: bool = True, interval: float = 1.0, stream=None) -> None:
        self.enabled = enabled
        self.interval = interval
        self.stream = stream or sys.stderr
        self._t0 = time.perf_counter()
        self._last = 0.0

    def stage(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self._t0
            self._write(f"[{elapsed:6.1f}s] {message}")

    def tick(self, label: str, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._t0
        of = f"/{total}" if total else ""
        self._write(f"[{elapsed:6.1f}s]   {label}: {done}{of}")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


SILENT = Progress(enabled=False)
