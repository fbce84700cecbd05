"""An on-disk cache of loaded systems (parsed, grouped, labelled), reused between runs.

Parsing a raw log and cutting it into sessions or windows is the costly part of loading a system
(hdfs_2pct: 222,579 lines, ~3 s of CPU); the cross-system experiments load the same systems in
every run. A loaded `SystemData` is stored as gzipped JSON (no pickle) under
`$LOGAD_CACHE/systems` (`~/.cache/logad/systems`), named by a digest of everything that decides
its content: the dataset, the loading options, every input file's path, size and modification
time, and the source code of the modules that parse, window and label (so a changed parser never
reads an old entry). A damaged or unreadable entry is ignored (and rebuilt); an unwritable cache
folder only costs a warning.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from logad.pipeline.system_data import EntryData, SystemData
from logad.records import Sequence

log = logging.getLogger(__name__)

FORMAT = 1
# the code whose behaviour decides a loaded system's content
_CODE = ("datasets", "formats", "parsing", "windowing", "pipeline/logs.py", "pipeline/systems.py", "records.py")
_code_digest: str | None = None


def cache_root(cache: bool | str | Path | None) -> Path | None:
    """The cache folder: `cache` itself when a path, the default folder when True, None when off."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return Path(os.environ.get("LOGAD_CACHE") or Path.home() / ".cache" / "logad") / "systems"
    return Path(cache)


def code_digest() -> str:
    global _code_digest
    if _code_digest is None:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for part in _CODE:
            p = root / part
            for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
        _code_digest = h.hexdigest()
    return _code_digest


def key_of(dataset: str, folder: Path, options: dict) -> str:
    """The entry's name: a digest of the dataset, options, input files and code."""
    files = []
    for f in sorted(Path(folder).rglob("*")) if Path(folder).is_dir() else []:
        if f.is_file():
            st = f.stat()
            files.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    ident = json.dumps({"format": FORMAT, "dataset": dataset, "options": options, "files": files,
                        "code": code_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _dump(data) -> dict:
    seqs = []
    for s in data.sequences:
        if s.line_values is not None:
            raise ValueError("sequences with line values are not cached")
        seqs.append([s.sequence_id, list(s.template_ids), list(s.line_nos), _num(s.start_time), _num(s.end_time),
                     None if s.line_labels is None else list(s.line_labels), s.label, s.entity, list(s.sources)])
    out = {"format": FORMAT, "name": data.name, "system": data.system, "templates": [[k, v] for k, v in data.templates.items()],
           "ordered_by": data.ordered_by, "source": data.source, "details": data.details, "sequences": seqs}
    if data.entries is not None:
        e = data.entries
        out["entries"] = {
            "texts": list(e.texts), "labels": e.labels.tolist(),
            "timestamps": None if e.timestamps is None else [_num(float(x)) for x in e.timestamps],
            "blocks": None if e.blocks is None else e.blocks.tolist(),
        }
    return out


def _load(obj: dict):
    seqs = [Sequence(sequence_id=i, template_ids=tuple(t), line_nos=tuple(n), start_time=st, end_time=et,
                     line_labels=None if ll is None else tuple(ll), label=lab, entity=ent, sources=tuple(src))
            for i, t, n, st, et, ll, lab, ent, src in obj["sequences"]]
    entries = None
    if obj.get("entries") is not None:
        e = obj["entries"]
        entries = EntryData(
            texts=list(e["texts"]), labels=np.asarray(e["labels"], dtype=np.int64),
            timestamps=None if e["timestamps"] is None else np.array([np.nan if x is None else x for x in e["timestamps"]], dtype=np.float64),
            blocks=None if e["blocks"] is None else np.asarray(e["blocks"]),
        )
    return SystemData(name=obj["name"], system=obj["system"], sequences=seqs,
                      templates={int(k): v for k, v in obj["templates"]}, ordered_by=obj["ordered_by"],
                      source=obj["source"], entries=entries, details=obj["details"])


def read(root: Path | None, key: str):
    """The cached system, or None (absent, damaged, or of another format)."""
    if root is None:
        return None
    path = root / f"{key}.json.gz"
    if not path.is_file():
        return None
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            obj = json.load(fh)
        if obj.get("format") != FORMAT:
            return None
        return _load(obj)
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        log.warning("ignoring a damaged cached system %s (%s)", path, exc)
        return None


def write(root: Path | None, key: str, data) -> None:
    """Store `data` under `key`, atomically (a new file renamed into place)."""
    if root is None:
        return
    try:
        obj = _dump(data)
    except ValueError:
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3) as fh:
            fh.write(json.dumps(obj, separators=(",", ":")).encode("utf-8"))
        os.replace(tmp, root / f"{key}.json.gz")
    except OSError as exc:
        log.warning("cannot write the system cache in %s (%s)", root, exc)
