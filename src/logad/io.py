"""Atomic file writes: a reader never sees a half-written output or state file; JSON results."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, f".{path.name}.")
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an output gets the user's usual mode
        kw = {"newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None, **kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_writer(path) as fh:
        fh.write(text)


def json_default(o):
    """JSON for what results hold besides plain types: NumPy scalars and arrays, paths."""
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def finite_json_default(o):
    """As `json_default`, with a NumPy NaN or infinity written as null (strict JSON for browsers)."""
    import numpy as np

    if isinstance(o, np.floating) and not np.isfinite(o):
        return None
    return json_default(o)


def write_json(path: str | Path, payload: dict) -> None:
    """`payload` as indented JSON, written atomically (the folder is created when missing)."""
    atomic_write_text(path, json.dumps(payload, indent=2, default=json_default) + "\n")


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Build a folder in a fresh temporary sibling, then put it in place of `path` as a whole.

    A reader (or a restart after a kill at any moment) finds the old complete folder, the new
    complete folder, or, during the instant between two renames, none; never a mix of the two.
    Nothing is written through what already stands at `path` (a link planted inside the old folder
    is removed with it, never followed). A `path` that is itself a symbolic link is refused."""
    import shutil

    path = Path(path)
    if path.is_symlink():
        from logad.errors import InputError

        raise InputError(f"{path} is a symbolic link; give the folder itself (logad never writes through a link)")
    if path.exists() and not path.is_dir():
        from logad.errors import InputError

        raise InputError(f"{path} exists and is not a folder")
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover_folder(path)
    remove_stale_temporaries(parent, f".{path.name}.")
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        _fsync_tree(tmp)
        if not path.exists():
            os.replace(tmp, path)
        elif _exchange(tmp, path):  # one atomic step: `path` is never missing
            shutil.rmtree(tmp, ignore_errors=True)  # `tmp` now holds the old folder
        else:  # two renames; a kill between them leaves the old folder aside, restored by recover_folder
            old = Path(tempfile.mkdtemp(prefix=_temp_prefix(path.name), suffix=".old", dir=parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where it is not available."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def recover_folder(path: str | Path) -> bool:
    """Put back a folder a writer killed between its two renames left aside (see atomic_folder);
    True when it did. Readers call it when `path` is missing."""
    path = Path(path)
    if path.exists() or not path.parent.is_dir():
        return False
    prefix = f".{path.name}."
    for aside in sorted(path.parent.glob(f"{prefix}*.old")):
        pid = aside.name[len(prefix):].partition(".")[0]
        if pid.isdigit() and not _writer_alive(int(pid)) and (aside / path.name).is_dir():
            os.replace(aside / path.name, path)
            return True
    return False


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_prefix(name: str) -> str:
    # the writer's pid is in the name, so a later run can tell a dead writer's leftovers from a
    # live writer's work in progress
    return f".{name}.{os.getpid()}."


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder: Path, prefix: str) -> int:
    """Remove what a killed writer left in `folder` (hidden `.NAME.PID.*.tmp` / `.old` entries of
    a process that no longer runs); returns how many. Only names this module makes are touched."""
    import shutil

    removed = 0
    for entry in folder.glob(f"{prefix}*"):
        pid = entry.name[len(prefix):].partition(".")[0]
        if entry.name.endswith((".tmp", ".old")) and pid.isdigit() and not _writer_alive(int(pid)):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
            removed += 1
    return removed


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*"), reverse=True):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    fsync_dir(root)


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(path: str | Path, what: str) -> Iterator[None]:
    """Hold `PATH.lock` for the duration (one writer at a time, across processes); a second holder
    gets one clear InputError instead of a silent lost update. The lock dies with its process, so a
    killed run never leaves it held."""
    import fcntl

    from logad.errors import InputError

    lock = Path(str(path) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise InputError(f"{what} {path} is in use by {holder}; wait for it to finish, or use another one") \
                from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
