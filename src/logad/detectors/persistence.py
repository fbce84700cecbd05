"""One saved form for every detector, classical or deep: a folder of JSON and safetensors.

    config.json         format marker and version, detector name, constructor parameters, the
                        threshold (the only place it is kept), the fitted state as JSON, the versions
                        of logad and of the libraries that made it, and a manifest of the other files
                        (size and SHA-256)
    arrays.safetensors  every fitted array (numpy; a deep model's weights are arrays too)

Why safetensors for all: it holds only arrays (loading never runs code, unlike a pickle) and its
header states every array's shape and type before any is read, checked against the file size, so a
tampered file cannot make logad allocate more than the file holds.

The folder is written as a whole (`logad.io.atomic_folder`): a kill at any moment leaves the old
complete folder or the new one. Loading checks the marker, the version and the manifest (a file
from another save, or edited, is refused) before reading arrays. Folders saved before this format
(version 1: `arrays.npz`; deep models: `weights.safetensors` + `vocab.json`) are still read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from logad.errors import InputError

FORMAT = "logad-detector"
FORMAT_VERSION = 2
CONFIG_FILE = "config.json"
ARRAYS_FILE = "arrays.safetensors"
# older folders, read only
_V1_ARRAYS = "arrays.npz"
_LEGACY_DEEP_KIND = "logad-deep-model"
_LEGACY_DEEP_FILES = ("weights.safetensors", "vocab.json")
# no detector state is near this; a bigger file is refused before it is read
MAX_CONFIG_BYTES = 256 * 1024 * 1024


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_detector_folder(directory: str | Path, config: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write `config` (JSON-able) and `arrays` as a detector folder, atomically as a whole."""
    from safetensors.numpy import save_file  # a core dependency, imported when a model is saved

    from logad.io import atomic_folder

    path = Path(directory)
    clean = {str(k): np.asarray(v, order="C") for k, v in arrays.items()}  # (ascontiguousarray makes 0-d 1-d)
    for key, value in clean.items():
        if value.dtype == object or value.dtype.kind in "USV":
            raise TypeError(f"array {key!r} has dtype {value.dtype}: only numbers and booleans are saved")
    with atomic_folder(path) as tmp:
        save_file(clean, str(tmp / ARRAYS_FILE))
        manifest = {ARRAYS_FILE: {"bytes": (tmp / ARRAYS_FILE).stat().st_size, "sha256": _sha256(tmp / ARRAYS_FILE)}}
        payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **config, "files": manifest}
        (tmp / CONFIG_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_json_file(path: Path, what: str, max_bytes: int = MAX_CONFIG_BYTES):
    """JSON of a file logad wrote; InputError (never a traceback) for a missing, oversized,
    undecodable, malformed or absurdly nested file."""
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; {what} files are read from the folder itself")
    if not path.is_file():
        raise InputError(f"{path} is missing")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path} is {size} bytes, more than any {what} holds ({max_bytes}); refused")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is corrupt: {exc}") from exc
    except RecursionError:
        raise InputError(f"{path} is corrupt: JSON nested too deeply") from None


def read_detector_folder(directory: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(config, arrays) of a saved detector folder, any version; InputError with a clear message
    for anything else."""
    from logad.io import recover_folder

    path = Path(directory)
    if not path.exists() and not recover_folder(path):
        raise InputError(f"{path}: the model folder is missing")
    if not path.is_dir():
        raise InputError(f"{path} is not a saved logad detector (not a folder)")
    config = read_json_file(path / CONFIG_FILE, "detector")
    if not isinstance(config, dict):
        raise InputError(f"{path / CONFIG_FILE} is not a logad detector config (got a JSON {type(config).__name__})")
    if config.get("kind") == _LEGACY_DEEP_KIND:
        return _read_legacy_deep(path, config)
    if config.get("format") != FORMAT:
        raise InputError(f"{path / CONFIG_FILE} is not a logad detector config (format marker missing)")
    version = config.get("format_version")
    if version == 1:
        return config, _read_npz(path / _V1_ARRAYS)
    if version != FORMAT_VERSION:
        raise InputError(f"{path / CONFIG_FILE} has format_version {version!r}; this logad reads 1 and {FORMAT_VERSION}")
    _check_manifest(path, config.get("files"))
    return config, _read_safetensors(path / ARRAYS_FILE)


def _check_manifest(path: Path, files) -> None:
    if not isinstance(files, dict) or ARRAYS_FILE not in files or not isinstance(files[ARRAYS_FILE], dict):
        raise InputError(f"{path / CONFIG_FILE} has no manifest of its files; the folder is incomplete or edited")
    for name, entry in files.items():
        f = path / str(name)
        if Path(str(name)).name != str(name) or f.is_symlink() or not f.is_file():
            raise InputError(f"{path}: {name} is missing (the folder is incomplete)")
        if not isinstance(entry, dict) or f.stat().st_size != entry.get("bytes") or _sha256(f) != entry.get("sha256"):
            raise InputError(f"{path}: {name} does not match the checksum saved with it (a mix of two saves, or edited)")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return dict(load_file(str(path)))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise InputError(f"{path} is missing or corrupt: {exc}") from exc


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a version-1 folder, each header's size checked against the file before loading."""
    import zipfile

    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            declared = sum(i.file_size for i in zf.infolist())
        if declared > 64 * max(size, 1) + (1 << 20):  # np.savez does not compress: sizes agree
            raise InputError(f"{path} declares {declared} bytes of arrays in a {size}-byte file; refused")
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path} is missing or corrupt: {exc}") from exc


def _read_legacy_deep(path: Path, config: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """A deep model saved before this format: the same content under other names."""
    weights, vocab_file = (path / f for f in _LEGACY_DEEP_FILES)
    vocab = read_json_file(vocab_file, "vocabulary")
    state = config.get("state", {})
    return (
        {"name": config.get("detector"), "params": config.get("params"), "threshold": config.get("threshold"),
         "state": {"state": state, "vocab": vocab}, "legacy": config},
        _read_safetensors(weights),
    )


def peek_name(directory: str | Path) -> str | None:
    """The detector name a saved folder holds, or None when it is not a detector folder."""
    try:
        config = read_json_file(Path(directory) / CONFIG_FILE, "detector")
    except InputError:
        return None
    if not isinstance(config, dict):
        return None
    name = config.get("detector") if config.get("kind") == _LEGACY_DEEP_KIND else config.get("name")
    return str(name) if name is not None else None
