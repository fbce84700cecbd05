"""Ingestion and processing over the last minutes, one sample a second (`GET /v1/rates`, the
dashboard's rate and queue figures): a daemon thread reads the service's counters (lines
acknowledged, lines processed, the queue, alarms stored); nothing here is persisted."""

from __future__ import annotations

import collections
import threading
import time


class RateHistory:
    def __init__(self, service, *, seconds: int = 900, every: float = 1.0) -> None:
        self.service = service
        self.every = every
        self.samples: collections.deque = collections.deque(maxlen=int(seconds / every) + 1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        s = self.service
        e = s.engine
        c = e.counters if e is not None else {}
        received = s.journal.next_offset - 1 if s.journal is not None else 0
        processed = e.next_offset - 1 if e is not None else 0
        alarms = c.get("alarms_sequence", 0) + c.get("alarms_new_template", 0)
        self.samples.append((time.time(), received, processed, s.queued_lines, alarms))

    def start(self) -> RateHistory:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="logad-rates", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a figure for people; never takes the service down
                pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def series(self, seconds: float = 300.0) -> dict:
        """Per second over the last `seconds`: lines acknowledged and processed per second, the
        queue (lines acknowledged, not yet processed) and alarms per second."""
        items = list(self.samples)
        if items:
            cut = items[-1][0] - seconds
            items = [x for x in items if x[0] >= cut] or items[-1:]
        t, rec, proc, queue, alarms = [], [], [], [], []
        for a, b in zip(items, items[1:]):
            dt = max(1e-6, b[0] - a[0])
            t.append(b[0])
            rec.append((b[1] - a[1]) / dt)
            proc.append((b[2] - a[2]) / dt)
            queue.append(b[3])
            alarms.append((b[4] - a[4]) / dt)
        return {"every_seconds": self.every, "time": t, "received_per_s": rec, "processed_per_s": proc,
                "queue_lines": queue, "alarms_per_s": alarms}
