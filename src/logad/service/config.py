"""The options of `logad serve`, validated in one place (flags, the TOML file and Python callers
all end up here)."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path

from logad.errors import InvalidParameterError, LogadError

MiB = 1024 * 1024


@dataclass
class ServeConfig:
    """Everything `logad serve` needs. Sizes are bytes, times seconds.

    host/port: where to listen (127.0.0.1 unless told otherwise; any other address needs
    `token_file`). tail: files to follow; stdin: read lines from standard input. webhook /
    alertmanager / alertmanager_webhook: URLs alarms are sent to (as logad's JSON, into
    Alertmanager's API, or in the JSON Alertmanager sends its webhook receivers). max_body_bytes: a larger request gets 413.
    max_queue_lines: lines accepted but not yet processed before requests get 429.
    checkpoint_seconds / checkpoint_lines: how often the state is checkpointed (whichever first).
    on_error: what a request with lines not in the model's format gets by default ("reject": 422
    and nothing accepted; "skip": the other lines accepted, those counted). shard: "I/N" accepts
    only sources whose hash falls in shard I of N (several instances split the work by source).
    """

    model: str
    state_dir: str
    host: str = "127.0.0.1"
    port: int = 8080
    token_file: str | None = None
    tail: tuple[str, ...] = ()
    stdin: bool = False
    webhook: tuple[str, ...] = ()
    alertmanager: tuple[str, ...] = ()
    alertmanager_webhook: tuple[str, ...] = ()
    max_body_bytes: int = 8 * MiB
    max_queue_lines: int = 500_000
    checkpoint_seconds: float = 10.0
    checkpoint_lines: int = 1_000_000
    max_alarm_lines: int = 100
    on_error: str = "reject"
    shard: str | None = None
    sink_attempts: int = 10
    sink_timeout: float = 5.0
    sink_retry_seconds: float = 1.0  # the first retry's delay; each next one doubles (at most 5 minutes)
    journal_segment_bytes: int = 64 * MiB
    fsync: bool = True
    tail_poll: float = 0.25
    access_log: bool = False
    dashboard: bool = True  # the live dashboard at GET / (dashboard.py)
    default_source: str = "http"
    extra: dict = field(default_factory=dict)  # not options: what tests and tools attach

    def validated(self) -> ServeConfig:
        c = dataclasses.replace(self, tail=tuple(self.tail), webhook=tuple(self.webhook),
                                alertmanager=tuple(self.alertmanager), alertmanager_webhook=tuple(self.alertmanager_webhook))
        if not c.model:
            raise InvalidParameterError("give --model DIR (a folder `logad train --save` wrote)")
        if not c.state_dir:
            raise InvalidParameterError("give --state-dir DIR (where the journal, checkpoint and alarms are kept)")
        if isinstance(c.port, bool) or not isinstance(c.port, int) or not 0 <= c.port <= 65535:
            raise InvalidParameterError(f"`port` must be an integer in [0, 65535], got {c.port!r}")
        for name in ("max_body_bytes", "max_queue_lines", "checkpoint_lines", "max_alarm_lines", "sink_attempts",
                     "journal_segment_bytes"):
            v = getattr(c, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidParameterError(f"`{name}` must be an integer >= 1, got {v!r}")
        for name in ("checkpoint_seconds", "sink_timeout", "sink_retry_seconds", "tail_poll"):
            v = getattr(c, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (v > 0 and math.isfinite(v)):
                raise InvalidParameterError(f"`{name}` must be a number > 0, got {v!r}")
        if c.on_error not in ("reject", "skip"):
            raise InvalidParameterError(f"`on_error` must be 'reject' or 'skip', got {c.on_error!r}")
        if c.shard is not None:
            parse_shard(c.shard)
        for url in c.webhook + c.alertmanager + c.alertmanager_webhook:
            if not (url.startswith("http://") or url.startswith("https://")):
                raise InvalidParameterError(f"a sink URL must start with http:// or https://, got {url!r}")
        if not is_loopback(c.host) and not c.token_file:
            raise InvalidParameterError(
                f"listening on {c.host!r} (not a loopback address) needs --token-file FILE: every request must then "
                "carry 'Authorization: Bearer <token>'")
        if c.token_file is not None:
            read_token(c.token_file)
        return c

    def token(self) -> str | None:
        return read_token(self.token_file) if self.token_file else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise InvalidParameterError(f"token file {path!r} does not exist")
    token = p.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise InvalidParameterError(f"the token in {path!r} must be at least 16 characters, got {len(token)}")
    return token


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise InvalidParameterError(f"`shard` must look like I/N (e.g. 0/2), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise InvalidParameterError(f"`shard` I/N needs 0 <= I < N, got {text!r}")
    return i, n


def shard_of(source: str, n: int) -> int:
    """The shard (0..n-1) a source belongs to: a stable hash, the same in every process and
    version, so a shipper or router can send each source to its instance."""
    import zlib

    return zlib.crc32(source.encode("utf-8", errors="replace")) % n


class Unavailable(LogadError):
    """The service cannot take lines now; `status` 429 (queue full) or 503, `retry_after` seconds."""

    def __init__(self, message: str, status: int = 503, retry_after: int = 1, reason: str = "unavailable") -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.reason = reason


class WrongShard(LogadError):
    """Lines of a source that another instance serves."""
