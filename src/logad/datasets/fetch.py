"""Download a dataset: resumable, verified by checksum, never a half file under the final name.

Each file goes to `<name>.part`; an existing `.part` is resumed with an HTTP Range request (a
server that ignores Range makes us restart from zero). Only a file whose checksum matches is
renamed to its final name (atomically), then archives are unpacked safely.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from logad.datasets.registry import DatasetInfo, RemoteFile, get_dataset
from logad.errors import ChecksumError, InputError

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, remote: RemoteFile) -> str | None:
    """Raise ChecksumError on mismatch; return the sha256 (for files with no published checksum)."""
    if remote.sha256:
        got = _digest(path, "sha256")
        if got != remote.sha256:
            raise ChecksumError(f"{path.name}: sha256 {got} does not match the published {remote.sha256}")
        return got
    if remote.md5:
        got = _digest(path, "md5")
        if got != remote.md5:
            raise ChecksumError(f"{path.name}: md5 {got} does not match the published {remote.md5}")
        return None
    return _digest(path, "sha256")


class TruncatedTransfer(InputError):
    """The server closed the transfer before sending every byte it announced (the .part is kept)."""


# a read waits this long for a byte; a transfer slower than MIN_RATE bytes/s over RATE_WINDOW s is given up
READ_TIMEOUT = 60.0
MIN_RATE = 1024.0
RATE_WINDOW = 60.0


def _download(url: str, part: Path, progress: Callable[[int, int | None], None] | None) -> int | None:
    """Append the rest of `url` to `part` (resuming with Range); returns the total size the server
    announced, or None. What was received is always kept in `part` for the next run to resume. A
    transfer shorter than announced raises TruncatedTransfer; one slower than MIN_RATE bytes/s
    over RATE_WINDOW seconds (a stalled or hostile server) raises InputError."""
    import http.client
    import time

    read_timeout, min_rate, rate_window = READ_TIMEOUT, MIN_RATE, RATE_WINDOW
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "logad"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=read_timeout)  # noqa: S310 - http(s) URLs from the registry
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range past the end: the part is complete already
            return have
        raise InputError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise InputError(f"download of {url} failed: {getattr(exc, 'reason', exc)}") from exc
    with resp:
        resumed = have and resp.status == 206
        mode = "ab" if resumed else "wb"  # a server that ignores Range sends the whole file: restart
        total = resp.headers.get("Content-Length")
        total_n = int(total) + (have if resumed else 0) if total and total.isdigit() else None
        done = have if resumed else 0
        window_start, window_bytes = time.monotonic(), 0
        with open(part, mode) as fh:
            try:
                while True:
                    block = resp.read1(CHUNK)  # whatever has arrived: a trickle cannot block a full chunk
                    if not block:
                        break
                    fh.write(block)
                    done += len(block)
                    window_bytes += len(block)
                    now = time.monotonic()
                    if now - window_start >= rate_window:
                        if window_bytes / (now - window_start) < min_rate:
                            raise InputError(
                                f"download of {url} stalled ({window_bytes} bytes in {now - window_start:.0f} s); "
                                f"the {done} bytes received are kept in {part.name}: run again to resume")
                        window_start, window_bytes = now, 0
                    if progress:
                        progress(done, total_n)
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                raise TruncatedTransfer(
                    f"download of {url} broke off after {done} bytes ({exc}); they are kept in {part.name}: "
                    "run again to resume") from exc
            finally:
                fh.flush()
                os.fsync(fh.fileno())
    if total_n is not None and done < total_n:
        raise TruncatedTransfer(f"download of {url} ended after {done} of {total_n} bytes; they are kept in "
                                f"{part.name}: run again to resume")
    return total_n


# an archive unpacking to more than this many times its own size is refused (a zip bomb); the
# LogHub archives unpack to 5-15 times their size
MAX_UNPACK_RATIO = 100


def _safe_extract(archive: Path, dest: Path) -> None:
    """Unpack every member inside `dest`, or none: members are all checked before any is written."""
    dest_resolved = dest.resolve()
    limit = MAX_UNPACK_RATIO * max(archive.stat().st_size, 1 << 20)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            total = 0
            for info in zf.infolist():
                target = (dest / info.filename).resolve()
                if dest_resolved not in target.parents and target != dest_resolved:
                    raise InputError(f"{archive.name}: member {info.filename!r} would leave the target folder")
                total += info.file_size
            if total > limit:
                raise InputError(f"{archive.name} would unpack to {total} bytes, more than {MAX_UNPACK_RATIO} times "
                                 "its size: refused (a damaged or hostile archive)")
            zf.extractall(dest)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            total = 0
            for m in members:  # the same filter extractall applies, on every member first
                try:
                    tarfile.data_filter(m, str(dest))
                except tarfile.FilterError as exc:
                    raise InputError(f"{archive.name}: member {m.name!r} is refused ({exc}); nothing was unpacked") \
                        from exc
                total += m.size
            if total > limit:
                raise InputError(f"{archive.name} would unpack to {total} bytes, more than {MAX_UNPACK_RATIO} times "
                                 "its size: refused (a damaged or hostile archive)")
            tf.extractall(dest, members=members, filter="data")
        return
    raise InputError(f"{archive.name} is neither a zip nor a tar archive")


def fetch(
    dataset: str | DatasetInfo,
    dest_dir: str | Path,
    *,
    allow_unverified: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    base_url_override: str | None = None,
) -> Path:
    """Download, verify and unpack every file of a dataset into dest_dir; returns dest_dir."""
    info = get_dataset(dataset) if isinstance(dataset, str) else dataset
    if not info.files:
        raise InputError(
            f"dataset {info.name!r} has no public download known to logad; put a local copy in the layout "
            f"{[opts[0] for opts in info.layout]} and pass its folder as --data-dir"
        )
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for remote in info.files:
        if not (remote.md5 or remote.sha256) and not allow_unverified:
            raise ChecksumError(
                f"{remote.filename} of {info.name!r} has no published checksum; "
                "pass --allow-unverified to accept it (the sha256 is printed so you can pin it)"
            )
        url = remote.url
        if base_url_override:
            url = base_url_override.rstrip("/") + "/" + Path(remote.filename).name
        final = dest / remote.filename
        final.parent.mkdir(parents=True, exist_ok=True)
        published = bool(remote.md5 or remote.sha256)
        # `.verified` only for a file whose published checksum matched; a file without one is
        # `.unverified` (with its size and sha256), complete by the size its server announced
        marker = final.with_name(final.name + (".verified" if published else ".unverified"))
        if final.exists() and marker.exists():
            log.info("%s already present (%s)", final, "verified" if published else "unverified: no published checksum")
        else:
            part = final.with_name(final.name + ".part")
            try:
                announced = _download(url, part, progress)
            except InputError as exc:
                if not remote.optional:
                    raise
                log.warning("%s (optional: %s is only needed by semantic methods; skipped)", exc, remote.filename)
                continue
            try:
                sha = verify(part, remote)
            except ChecksumError:
                if announced is None or part.stat().st_size >= announced:
                    part.unlink(missing_ok=True)  # complete but wrong: a bad part must not be resumed later
                raise
            if not published and announced is None:
                log.warning("%s: the server gave no size and there is no published checksum: "
                            "logad cannot tell whether the file is complete", final.name)
            os.replace(part, final)
            marker.write_text(f"{sha or remote.md5 or ''} {final.stat().st_size}\n", encoding="utf-8")
            if sha and not published:
                log.warning("%s: no published checksum; sha256 %s", final.name, sha)
        if remote.archive:
            _safe_extract(final, dest)
    return dest


def remove_partial(dest_dir: str | Path) -> int:
    """Delete leftover .part files (a clean restart); returns how many."""
    n = 0
    for part in Path(dest_dir).rglob("*.part"):
        part.unlink()
        n += 1
    return n


__all__ = ["fetch", "remove_partial", "verify"]
