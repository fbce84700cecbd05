"""Sources that are not HTTP: files followed as they grow (`--tail`), and standard input.

A `Follower` reads complete lines from a file, journals them through `Service.ingest` with the
file's identity and the byte position after them (`meta["tail"]`), and waits until they are
durable before reading on. The engine keeps the latest position per file (it is part of the
checkpoint, and replaying the journal brings it up to date), so after a restart the file is
read on from the first line not yet journaled: none lost, none twice.

Rotation (the path now names another file: `mv log log.1` then a new `log`): the old file is read
to its end, then the new one from its start. Truncation (the same file, now shorter than the
position: `copytruncate`): read again from the start (a file truncated and rewritten past the old
position before the next poll cannot be told from one that grew). A last line without a newline is
taken when the file is rotated away, not while it may still be written. A file rotated while the
service was stopped is read from the start of the new file; what the old one got after the stop
is not looked for.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from logad.service.lines import decode_text

log = logging.getLogger("logad.service")
BATCH_LINES = 5000
BATCH_BYTES = 4 * 1024 * 1024


class _Reader:
    def __init__(self, service, name: str) -> None:
        self.service = service
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _send(self, lines: list[str], source: str, meta: dict | None = None) -> bool:
        """Journal lines, waiting out backpressure; False when the service is stopping."""
        from logad.service.config import Unavailable

        while not self._stop.is_set():
            try:
                self.service.ingest(lines, [source] * len(lines), meta=meta).result()
                return True
            except Unavailable as exc:
                if self.service.stopping or exc.reason in ("failed", "journal"):
                    return False
                self._stop.wait(min(1.0, exc.retry_after))
        return False

    def _run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class Follower(_Reader):
    """Follows one file (see the module docstring)."""

    def __init__(self, service, path: str, position: dict | None) -> None:
        super().__init__(service, f"logad-tail-{os.path.basename(path)}")
        self.path = str(path)
        self.position = position

    def _run(self) -> None:
        poll = self.service.config.tail_poll
        fh, ident, pos = None, None, 0
        buf = b""
        while not self._stop.is_set():
            if fh is None:
                try:
                    fh = open(self.path, "rb")  # noqa: SIM115 - kept open while followed
                except FileNotFoundError:
                    self._stop.wait(poll)
                    continue
                st = os.fstat(fh.fileno())
                ident = (st.st_dev, st.st_ino)
                p = self.position
                if p and (p.get("dev"), p.get("inode")) == ident and st.st_size >= p.get("pos", 0):
                    pos = int(p["pos"])
                    log.info("tail %s: resuming at byte %d", self.path, pos)
                else:
                    pos = 0
                    log.info("tail %s: reading from the start", self.path)
                fh.seek(pos)
                buf = b""
            chunk = fh.read(BATCH_BYTES)
            if chunk:
                buf += chunk
                cut = buf.rfind(b"\n")
                if cut >= 0:
                    whole, buf = buf[:cut + 1], buf[cut + 1:]
                    if not self._emit(whole, pos, ident):
                        break
                    pos += len(whole)
                continue
            # at the end: rotated, truncated, or just waiting for more
            try:
                st = os.stat(self.path)
                now_ident = (st.st_dev, st.st_ino)
            except FileNotFoundError:
                now_ident, st = None, None
            if now_ident is not None and now_ident != ident:
                rest = fh.read()  # what the old file got before it was moved away
                tail = buf + rest
                if tail:
                    if not tail.endswith(b"\n"):
                        tail += b"\n"
                    if not self._emit(tail, pos, ident):
                        break
                log.info("tail %s: rotated, following the new file", self.path)
                fh.close()
                fh, self.position = None, None
                continue
            if st is not None and st.st_size < pos + len(buf):
                log.info("tail %s: truncated (size %d < position %d), reading from the start", self.path,
                         st.st_size, pos)
                fh.seek(0)
                pos, buf = 0, b""
                continue
            self._stop.wait(poll)
        if fh is not None:
            fh.close()

    def _emit(self, data: bytes, pos: int, ident) -> bool:
        lines, _ = decode_text(data, check_binary=False) if data else ([], 0)
        end = pos + len(data)
        step = BATCH_LINES
        consumed = pos
        raw_lines = data.split(b"\n")
        for lo in range(0, len(lines), step):
            part = lines[lo:lo + step]
            consumed += sum(len(b) + 1 for b in raw_lines[lo:lo + step])
            meta = {"tail": {"path": self.path, "dev": ident[0], "inode": ident[1], "pos": min(consumed, end)}}
            if not self._send(part, self.path, meta):
                return False
        return True


class StdinReader(_Reader):
    """Reads lines from standard input; at its end, flushes (the end of the stream)."""

    def __init__(self, service) -> None:
        super().__init__(service, "logad-stdin")

    def _run(self) -> None:
        stream = sys.stdin.buffer
        batch: list[bytes] = []
        size = 0
        last = time.monotonic()
        for raw in stream:
            batch.append(raw)
            size += len(raw)
            if len(batch) >= BATCH_LINES or size >= BATCH_BYTES or time.monotonic() - last > 0.2:
                if not self._send(decode_text(b"".join(batch), check_binary=False)[0], "stdin"):
                    return
                batch, size, last = [], 0, time.monotonic()
            if self._stop.is_set():
                return
        if batch:
            data = b"".join(batch)
            if not data.endswith(b"\n"):
                data += b"\n"
            if not self._send(decode_text(data, check_binary=False)[0], "stdin"):
                return
        try:
            self.service.flush().result(timeout=600)
        except Exception as exc:  # noqa: BLE001 - reported; the service keeps its journal
            log.warning("stdin: the flush at the end of input failed: %s", exc)
        log.info("stdin: end of input, flushed")
        self.service.stdin_done.set()
