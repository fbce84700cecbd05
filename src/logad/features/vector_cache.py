"""On-disk shards of vectors keyed by 20-byte digests, shared by the sentence encoder and the
template-vector cache: `.npz` files (no pickle) in one folder per representation, each written
atomically under a new name, so concurrent runs never overwrite each other."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

KEY_BYTES = 20  # sha1 digests


def cache_folder(cache_dir: str | Path | bool | None, kind: str, identity: str) -> Path | None:
    """The folder of one representation's vectors: under `cache_dir`, or by default
    `$LOGAD_CACHE/KIND` (`~/.cache/logad/KIND`), named by a digest of `identity`; None when
    `cache_dir` is False (memory only)."""
    if cache_dir is False:
        return None
    if cache_dir in (None, True):
        root = Path(os.environ.get("LOGAD_CACHE") or Path.home() / ".cache" / "logad") / kind
    else:
        root = Path(cache_dir)
    return root / hashlib.sha1(identity.encode()).hexdigest()[:16]


def load_shards(folder: Path | None, what: str) -> dict[bytes, np.ndarray]:
    """Every vector stored in `folder`, by key; a damaged shard is skipped with a warning."""
    out: dict[bytes, np.ndarray] = {}
    if folder is None or not folder.is_dir():
        return out
    for shard in sorted(folder.glob("vectors-*.npz")):
        try:
            with np.load(shard, allow_pickle=False) as npz:
                keys, vecs = npz["keys"], npz["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring a damaged %s shard %s (%s)", what, shard, exc)
            continue
        for k, v in zip(keys, vecs):
            out[bytes(k).ljust(KEY_BYTES, b"\0")] = v  # numpy strips trailing NUL bytes of S20 keys
    return out


def save_shard(folder: Path | None, identity: str, keys: list[bytes], vectors: np.ndarray, what: str) -> None:
    """Store `vectors` under `keys` as a new shard in `folder` (with `identity.txt` saying what
    representation the folder holds); a folder that cannot be written only costs a warning."""
    if folder is None or not keys:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "identity.txt").write_text(identity + "\n", encoding="utf-8")
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, keys=np.array(keys, dtype=f"S{KEY_BYTES}"), vectors=vectors.astype(np.float32))
        os.replace(tmp, folder / f"vectors-{time.time_ns()}-{os.getpid()}.npz")
    except OSError as exc:  # a read-only home must not stop a run: the vectors stay in memory
        log.warning("cannot write the %s in %s (%s)", what, folder, exc)
