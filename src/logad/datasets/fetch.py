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


def _download(url: str, part: Path, progress: Callable[[int, int | None], None] | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "logad"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=60)  # noqa: S310 - http(s) URLs from the registry
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range past the end: the part is complete already
            return
        raise InputError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise InputError(f"download of {url} failed: {exc.reason}") from exc
    with resp:
        resumed = have and resp.status == 206
        mode = "ab" if resumed else "wb"  # a server that ignores Range sends the whole file: restart
        total = resp.headers.get("Content-Length")
        total_n = int(total) + (have if resumed else 0) if total else None
        done = have if resumed else 0
        with open(part, mode) as fh:
            for block in iter(lambda: resp.read(CHUNK), b""):
                fh.write(block)
                done += len(block)
                if progress:
                    progress(done, total_n)
            fh.flush()
            os.fsync(fh.fileno())


def _safe_extract(archive: Path, dest: Path) -> None:
    dest_resolved = dest.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                target = (dest / member).resolve()
                if dest_resolved not in target.parents and target != dest_resolved:
                    raise InputError(f"{archive.name}: member {member!r} would leave the target folder")
            zf.extractall(dest)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")  # refuses absolute paths, '..' and links out
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
        marker = final.with_name(final.name + ".verified")
        if final.exists() and marker.exists():
            log.info("%s already present and verified", final)
        else:
            part = final.with_name(final.name + ".part")
            try:
                _download(url, part, progress)
            except InputError as exc:
                if not remote.optional:
                    raise
                log.warning("%s (optional: %s is only needed by semantic methods; skipped)", exc, remote.filename)
                continue
            try:
                sha = verify(part, remote)
            except ChecksumError:
                part.unlink(missing_ok=True)  # a bad part must not be resumed later
                raise
            os.replace(part, final)
            marker.write_text((sha or remote.md5 or "") + "\n", encoding="utf-8")
            if sha and not (remote.md5 or remote.sha256):
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
