"""The online detector: journal, processor, checkpoints, sinks and sources, without HTTP.

`Service(config).start()` loads the model, claims the state folder for it (a folder made by
another model is refused), opens the journal, restores the last checkpoint and replays the journal
records after it (so a restart after `kill -9` continues exactly where the acknowledged lines
left off), then processes new records in one thread. `ingest(lines, sources)` returns a future
that resolves once the lines are fsynced in the journal: that is when a request is acknowledged.
`flush()` ends the stream (every open window closes) and resolves once that is processed.

Durability and exactly-once alarms (see also journal.py and store.py):
1. lines are journaled and fsynced before they are acknowledged;
2. the processor handles records in journal order; its alarms have deterministic keys and are
   stored (with their outbox entries) in one transaction per batch;
3. every `checkpoint_seconds` (or `checkpoint_lines`), between two records, the engine state is
   committed with the number of the next record to process; journal segments that hold only
   older records, and no line still open in a window, are deleted;
4. after a crash the checkpoint is restored and the records after it are processed again: the
   same alarms come out, those stored already are skipped by key, none is sent twice.
"""

from __future__ import annotations

import collections
import concurrent.futures
import fcntl
import hashlib
import logging
import math
import os
import threading
import time
from pathlib import Path

from logad.errors import InputError
from logad.service.config import ServeConfig, Unavailable, WrongShard, parse_shard, shard_of
from logad.service.journal import FLUSH, LINES, Journal, JournalError, Record

log = logging.getLogger("logad.service")


def model_identity(directory: str | Path, model) -> dict:
    """What a state folder remembers of its model: a digest of every file of the model folder."""
    root = Path(directory)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            rel = p.relative_to(root).as_posix()
            h.update(rel.encode() + b"\0" + str(p.stat().st_size).encode() + b"\0")
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return {"digest": h.hexdigest(), "path": str(root.resolve()), "detector": model.detector.name,
            "format": model.format_name, "grouping": model.grouping, "threshold": model.threshold}


class Service:
    """See the module docstring. Thread-safe: `ingest`/`flush` may be called from any thread."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config.validated()
        self.state_dir = Path(self.config.state_dir)
        self.model = None
        self.engine = None
        self.journal: Journal | None = None
        self.store = None
        self.metrics = None
        self.queued_lines = 0
        self.open_lines = 0
        self.ready = False
        self.failed: BaseException | None = None
        self.stopping = False
        self.closing = False  # the HTTP server is stopping: requests that wait answer now
        self.processed_rseq = -1  # the last record processed
        self.started_at = time.time()
        self.shard = parse_shard(self.config.shard) if self.config.shard else None
        self._queue: collections.deque[Record] = collections.deque()
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._waiters: dict[int, list[concurrent.futures.Future]] = {}
        self._thread: threading.Thread | None = None
        self._lockfile = None
        self._rate = 0.0  # processed lines/s (smoothed), for Retry-After
        # close -> stored, the latest alarms, by what closed their sequence (a line, or a flush)
        # and (decided_*) from any sequence closing to its being scored and, if it alarms, stored
        self._latencies = {k: collections.deque(maxlen=50_000)
                           for k in ("line", "flush", "decided_line", "decided_flush")}
        self._last_ckpt = (time.monotonic(), 0, -1)
        self._held_at = 0.0
        self.sinks = None
        self.rates = None  # RateHistory, once started
        self.sources: list = []
        self.replayed = {"records": 0, "lines": 0, "seconds": 0.0}
        self.stdin_done = threading.Event()
        # cleared, the processor waits before its next record (maintenance, tests of backpressure)
        self.processing = threading.Event()
        self.processing.set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Service:
        from logad.model import TrainedModel
        from logad.service.engine import Engine
        from logad.service.lines import LineParser
        from logad.service.metrics import Metrics
        from logad.service.store import Store

        c = self.config
        t0 = time.perf_counter()
        self.model = TrainedModel.load(c.model)
        identity = model_identity(c.model, self.model)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_state()
        self.store = Store(self.state_dir / "state.db")
        fresh = self.store.claim(identity)
        self.metrics = Metrics(self)
        self.journal = Journal(self.state_dir / "journal", segment_bytes=c.journal_segment_bytes, sync=c.fsync)
        self.journal.fsync_seconds = self.metrics.fsync.observe
        self.journal.open()
        parser = LineParser(self.model)
        self.engine = Engine(self.model, parser, read_lines=self.journal.read_lines, sources_of=self.journal.sources_of,
                             max_alarm_lines=c.max_alarm_lines)
        ckpt = self.store.load_checkpoint()
        if ckpt is not None:
            self.engine.load(ckpt[2])
        if self.journal.next_rseq < self.engine.next_rseq:
            raise InputError(f"{self.state_dir}: the checkpoint covers journal record {self.engine.next_rseq - 1}, "
                             f"but the journal ends at {self.journal.next_rseq - 1} (journal files lost?)")
        log.info("starting: model %s (%s, %s grouping, threshold %.6g), state %s (%s), journal records %d.., "
                 "lines 1..%d", c.model, self.model.detector.name, parser.grouping.kind, self.model.threshold,
                 self.state_dir, "new" if fresh else "resumed", self.engine.next_rseq, self.journal.next_offset - 1)
        self.engine.warm_up()
        self._replay()
        self.open_lines = self.engine.windower.held_lines
        self.processed_rseq = self.engine.next_rseq - 1
        self.journal.on_durable = self._enqueue
        self._thread = threading.Thread(target=self._process_loop, name="logad-processor", daemon=True)
        self._thread.start()
        if c.webhook or c.alertmanager or c.alertmanager_webhook:
            from logad.service.sinks import SinkWorker

            self.sinks = SinkWorker(self).start()
        from logad.service.tail import Follower, StdinReader

        for path in c.tail:
            self.sources.append(Follower(self, path, self.engine.positions.get(str(path))).start())
        if c.stdin:
            self.sources.append(StdinReader(self).start())
        from logad.service.rates import RateHistory

        self.rates = RateHistory(self).start()
        self.ready = True
        log.info("ready in %.2f s (replayed %d records, %d lines)", time.perf_counter() - t0,
                 self.replayed["records"], self.replayed["lines"])
        return self

    def _lock_state(self) -> None:
        fh = open(self.state_dir / "lock", "a+")  # noqa: SIM115 - held for the service's life
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise InputError(f"state folder {str(self.state_dir)!r} is in use by another logad serve") from None
        fh.truncate(0)
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lockfile = fh

    def _replay(self) -> None:
        t0 = time.perf_counter()
        for rec in self.journal.records(self.engine.next_rseq):
            self._handle(rec, replay=True)
            self.replayed["records"] += 1
            self.replayed["lines"] += rec.n
        self.replayed["seconds"] = time.perf_counter() - t0
        if self.replayed["records"]:
            self.checkpoint()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop sources, write what is queued, process it (up to `timeout`), checkpoint, close."""
        if self.stopping:
            return
        self.stopping = True
        self.ready = False
        self.processing.set()
        for s in self.sources:
            s.stop()
        if self.journal is not None:
            self.journal.close()
        deadline = time.monotonic() + timeout
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.sinks is not None:
            self.sinks.stop()
        if self.rates is not None:
            self.rates.stop()
        if self.engine is not None and self.failed is None and not (self._thread and self._thread.is_alive()):
            try:
                self.checkpoint()
            except Exception:  # noqa: BLE001 - the journal still holds everything
                log.exception("final checkpoint failed (the next start replays the journal)")
        if self.store is not None:
            self.store.close()
        if self._lockfile is not None:
            self._lockfile.close()
        log.info("stopped")

    # ------------------------------------------------------------------ ingestion
    def check_shard(self, sources) -> None:
        if self.shard is None:
            return
        i, n = self.shard
        for src in set(sources):
            if shard_of(src, n) != i:
                raise WrongShard(f"source {src!r} belongs to shard {shard_of(src, n)}/{n}; this instance serves {i}/{n}")

    def ingest(self, lines: list[str], sources: list[str], *, meta: dict | None = None,
               split=None) -> concurrent.futures.Future:
        """Journal lines; the future resolves (with the Record) once they are durable. Raises
        Unavailable when not ready or the queue is full (backpressure), WrongShard for a source
        of another instance."""
        self._check_available()
        n = len(lines)
        with self._lock:
            if self.queued_lines + n > self.config.max_queue_lines and self.queued_lines > 0:
                raise Unavailable(f"the queue holds {self.queued_lines} lines (limit {self.config.max_queue_lines}); "
                                  "retry later", 429, self._retry_after(), "queue_full")
            self.queued_lines += n
        meta = dict(meta or {})
        meta.setdefault("received", time.time())
        try:
            return self.journal.submit(LINES, lines, sources, meta, split)
        except JournalError as exc:
            with self._lock:
                self.queued_lines -= n
            raise Unavailable(str(exc), 503, 30, "journal") from exc

    def flush(self) -> concurrent.futures.Future:
        """End the stream: every open window closes. Resolves with a summary once processed."""
        self._check_available()
        done: concurrent.futures.Future = concurrent.futures.Future()
        try:
            fut = self.journal.submit(FLUSH, [], [], {"received": time.time()})
        except JournalError as exc:
            raise Unavailable(str(exc), 503, 30, "journal") from exc
        def written(f: concurrent.futures.Future) -> None:
            if f.exception() is not None:
                done.set_exception(f.exception())
                return
            rec = f.result()
            self.when_processed(rec.rseq).add_done_callback(lambda _: done.set_result(self._flush_summary(rec)))

        fut.add_done_callback(written)
        return done

    def _flush_summary(self, rec: Record) -> dict:
        done = self.engine.flushed.get(rec.rseq, {})
        return {"flushed": True, "record": rec.rseq, "offset": rec.first_offset - 1, **done}

    def when_processed(self, rseq: int) -> concurrent.futures.Future:
        """A future resolved once record `rseq` has been processed (and its alarms stored)."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self.processed_rseq >= rseq:
                fut.set_result(rseq)
            else:
                self._waiters.setdefault(rseq, []).append(fut)
        return fut

    def _check_available(self) -> None:
        if self.failed is not None:
            raise Unavailable(f"the service failed: {self.failed}", 503, 60, "failed")
        if not self.ready or self.stopping:
            raise Unavailable("the service is starting or stopping", 503, 1, "not_ready")
        if self.journal.failed is not None:
            raise Unavailable(f"the journal cannot be written: {self.journal.failed}", 503, 30, "journal")

    def _retry_after(self) -> int:
        rate = self._rate or 10_000.0
        return int(min(60, max(1, math.ceil(self.queued_lines / rate))))

    def _enqueue(self, records: list[Record]) -> None:
        """Called by the journal's writer thread once records are durable."""
        with self._cv:
            self._queue.extend(records)
            self._cv.notify()

    # ------------------------------------------------------------------ processing
    def _process_loop(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not (self.stopping and self._journal_done()):
                    self._cv.wait(timeout=0.5)
                    if not self._queue and self._ckpt_due():
                        break
                if not self._queue:
                    if self.stopping and self._journal_done():
                        return
                    rec = None
                else:
                    rec = self._queue.popleft()
            try:
                if rec is not None:
                    self.processing.wait()
                    t0 = time.perf_counter()
                    self._handle(rec)
                    dt = time.perf_counter() - t0
                    if rec.n and dt > 0:
                        self._rate = 0.8 * self._rate + 0.2 * (rec.n / dt) if self._rate else rec.n / dt
                    received = rec.meta.get("received")
                    if received is not None:
                        self.metrics.processing.observe(max(0.0, time.time() - received))
                    with self._lock:
                        self.queued_lines -= rec.n
                        self.processed_rseq = rec.rseq
                        waiters = self._waiters.pop(rec.rseq, [])
                        for r in [r for r in self._waiters if r < rec.rseq]:
                            waiters += self._waiters.pop(r)
                    for w in waiters:
                        w.set_result(rec.rseq)
                    if time.monotonic() - self._held_at > 1.0:
                        self.open_lines = self.engine.windower.held_lines
                        self._held_at = time.monotonic()
                if self._ckpt_due() or (rec is not None and rec.kind == FLUSH):
                    self.checkpoint()
            except Exception as exc:  # noqa: BLE001 - the service reports it and stops taking lines
                log.exception("processing failed at journal record %s; no more lines are accepted",
                              getattr(rec, "rseq", "?"))
                self.failed = exc
                self.ready = False
                return

    def _journal_done(self) -> bool:
        return self.journal is None or not self.journal.writing

    def _handle(self, rec: Record, replay: bool = False) -> None:
        sinks = self._sink_names()
        engine = self.engine
        for alarms in engine.process(rec):
            ids = self.store.commit(alarms, sinks) if alarms else []
            now = time.time()
            decided, engine.decided = engine.decided, []
            if not replay:
                for closed_at, cause in decided:
                    self._latencies["decided_" + cause].append(max(0.0, now - closed_at))
            for a, aid in zip(alarms, ids):
                if aid is None:
                    continue
                if not replay and a.get("closed_at") is not None:
                    lat = max(0.0, now - a["closed_at"])
                    self.metrics.alarm_latency.observe(lat)
                    self._latencies[a.get("closed_by", "line")].append(lat)
            if self.sinks is not None and any(i is not None for i in ids):
                self.sinks.wake()

    def _sink_names(self) -> list[str]:
        c = self.config
        return ([f"webhook:{u}" for u in c.webhook] + [f"alertmanager:{u}" for u in c.alertmanager]
                + [f"am-webhook:{u}" for u in c.alertmanager_webhook])

    def _ckpt_due(self) -> bool:
        t, lines, rseq = self._last_ckpt
        e = self.engine
        if e is None or e.next_rseq == rseq:
            return False
        return time.monotonic() - t >= self.config.checkpoint_seconds or e.counters["lines"] - lines >= \
            self.config.checkpoint_lines

    def checkpoint(self) -> None:
        """Commit the engine state (between two records), then delete journal segments no longer
        needed (every record in them processed, no line of them open in a window)."""
        e = self.engine
        state = e.state()
        self.store.commit([], [], (e.next_rseq, e.next_offset, state))
        self._last_ckpt = (time.monotonic(), e.counters["lines"], e.next_rseq)
        self.open_lines = e.windower.held_lines
        oldest = e.oldest_open_line(state)
        keep_from = e.next_offset if oldest is None else oldest
        dropped = self.journal.drop_before(e.next_rseq, keep_from)
        log.debug("checkpoint at record %d (line %d); %d journal segments dropped", e.next_rseq, e.next_offset - 1,
                  dropped)

    # ------------------------------------------------------------------ status
    def latency_percentiles(self) -> dict:
        """Seconds from a sequence closing to its alarm being stored (the latest 50,000 alarms),
        for sequences a line closed ("line") and those a flush closed ("flush"); and from any
        sequence closing to its being decided: scored, and stored when it alarms ("decided_line",
        "decided_flush")."""
        out = {}
        for cause, values in self._latencies.items():
            lat = sorted(values)
            if not lat:
                out[cause] = {"n": 0}
                continue

            def q(p: float, lat=lat) -> float:
                return lat[min(len(lat) - 1, int(math.ceil(p * len(lat))) - 1)]

            out[cause] = {"n": len(lat), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": lat[-1]}
        return out

    def reset_latencies(self) -> None:
        for values in self._latencies.values():
            values.clear()

    def status(self) -> dict:
        e = self.engine
        m = self.model
        return {
            "ready": self.ready,
            "failed": None if self.failed is None else str(self.failed),
            "model": {"path": self.config.model, "detector": m.detector.name if m else None,
                      "format": m.format_name if m else None, "grouping": e.parser.grouping.describe() if e else None,
                      "threshold": m.threshold if m else None},
            "journal": {"lines": self.journal.next_offset - 1 if self.journal else 0,
                        "records": self.journal.next_rseq if self.journal else 0,
                        "bytes": self.journal.size_bytes if self.journal else 0},
            "processed": {"record": self.processed_rseq, "offset": e.next_offset - 1 if e else 0},
            "stream": e.stream if e else 0,
            "queue": {"lines": self.queued_lines, "limit": self.config.max_queue_lines},
            "open_lines": self.open_lines,
            "counters": dict(e.counters) if e else {},
            "alarm_latency_seconds": self.latency_percentiles(),
            "processing_rate_lines_per_s": round(self._rate, 1),
            "replayed_at_start": self.replayed,
            "sinks": self.store.outbox_counts() if self.store and self.sinks else {},
            "feedback": self.store.feedback_counts() if self.store else {},
            "shard": self.config.shard,
            "uptime_seconds": round(time.time() - self.started_at, 3),
        }
