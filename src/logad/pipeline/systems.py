"""Whole systems for cross-system experiments (MetaLog, MLAD, CroSysLog, `logad transfer`, `logad mlad`).

A system is loaded from a registered dataset and a local folder (`DATASET=DIR`) into a
`SystemData`: its labelled sequences, its template texts, whether the sequences are in time order,
and optionally its individual log entries (message text + label per line) for entry-level methods.
How a system is split and how many of its labels an experiment may read is the experiments'
business (`logad.experiments.transfer`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError
from logad.pipeline.system_data import EntryData, SystemData
from logad.pipeline.text_windows import read_text_windows
from logad.progress import SILENT, Progress

log = logging.getLogger(__name__)

def parse_spec(spec: str) -> tuple[str, Path]:
    """`DATASET=DIR` -> (dataset, dir). A bare `DATASET` means the folder `logad data fetch` uses."""
    name, sep, folder = spec.partition("=")
    name = name.strip()
    if not name:
        raise InvalidParameterError(f"a system is given as DATASET or DATASET=DIR, got {spec!r}")
    if not sep:
        return name, Path.home() / ".cache" / "logad" / name
    return name, Path(folder).expanduser()


def load_system(
    spec: str,
    *,
    window: int | None = None,
    step: int | None = None,
    entries: bool = False,
    per_entity: bool = False,
    progress: Progress = SILENT,
    cache: bool | str | Path | None = None,
) -> SystemData:
    """Load one system from `DATASET=DIR`.

    Raw supercomputer logs (bgl, thunderbird, spirit, liberty) are cut into count windows of
    `window` lines (default 20, MLAD's choice; `step` defaults to `window`); with `per_entity` the
    windows run over each node's own lines (the format's entity field: BGL `Node`, Thunderbird
    `User`) instead of all lines; HDFS raw logs into block sessions and session files are read as
    they are, with or without `per_entity` (so one flag can serve a mix of systems).
    `entries=True` also keeps every line's message text and label (entry-level methods).
    `cache` (True = `$LOGAD_CACHE/systems`, or a folder): a raw log's parsed and grouped system is
    stored there and read back by later runs with the same files, options and code
    (`logad.pipeline.system_cache`).
    """
    from logad.datasets.local import resolve_local
    from logad.datasets.registry import get_dataset

    name, folder = parse_spec(spec)
    info = resolve_local(get_dataset(name), folder)
    if info.kind == "sessions":
        return _load_sessions(info, folder, entries, progress)
    if info.kind == "text-windows":
        return read_text_windows(info, folder, progress)
    if info.kind != "raw":
        raise InputError(f"dataset {info.name!r} is a {info.kind} dataset (parsing ground truth), not a detection dataset")
    from logad.pipeline import system_cache

    root = system_cache.cache_root(cache)
    key = system_cache.key_of(info.name, folder, {"window": window, "step": step, "entries": entries,
                                                   "per_entity": per_entity}) if root is not None else ""
    data = system_cache.read(root, key)
    if data is not None:
        progress.stage(f"{info.name}: {len(data.sequences)} sequences read from the system cache")
        return data
    data = _load_raw(info, folder, window, step, entries, progress, per_entity)
    system_cache.write(root, key, data)
    return data


def _load_sessions(info, folder: Path, entries: bool, progress: Progress) -> SystemData:
    from logad.datasets.local import session_file_names, templates_for
    from logad.pipeline.datasets import load_dataset

    if entries:
        raise InvalidParameterError(
            f"dataset {info.name!r} holds template-id sessions: it has no log entries for an entry-level method"
        )
    loaded = load_dataset(info, folder, progress=progress)
    templates = templates_for(info, folder)
    if not templates:
        log.warning("%s: no template texts (%s) in %s: semantic methods cannot represent its templates",
                    info.name, info.templates, folder)
    return SystemData(
        name=info.name,
        system=info.format,
        sequences=[s for s in loaded.sequences if s.label is not None],
        templates=templates,
        ordered_by="file order (no timestamps)",
        source=str(folder),
        # each session records its file (Sequence.sources): the dataset's own split, kept by `logad transfer`
        details={"grouping": "session files", "split_files": session_file_names(info)},
    )


def _load_raw(info, folder: Path, window: int | None, step: int | None, entries: bool, progress: Progress,
              per_entity: bool = False) -> SystemData:
    from logad.datasets.local import labels_for, raw_log_paths
    from logad.pipeline.logs import default_grouping, load_logs
    from logad.windowing.grouping import Grouping

    if info.grouping:  # the dataset's own unit (Hadoop: a container's log)
        grouping = Grouping.from_dict(info.grouping)
    elif info.session_regex:  # sessions already follow one entity (a block, an instance)
        grouping = default_grouping(info.format, info.session_regex)
    else:
        size = window or 20
        grouping = Grouping(kind="entity" if per_entity else "count", size=size, step=step or size)
    paths = raw_log_paths(info, folder)
    log_path = paths[0]
    labels = labels_for(info, folder)
    loaded = load_logs(paths, format=info.format, grouping=grouping, labels=labels, progress=progress)
    if entries and len(paths) > 1:
        raise InvalidParameterError(f"dataset {info.name!r} spans {len(paths)} files; entry-level methods read one log")
    entry_data = _read_entries(log_path, info.format, labels, info.session_regex) if entries else None
    return SystemData(
        name=info.name,
        system=info.format,
        sequences=[s for s in loaded.sequences if s.label is not None],
        templates=dict(loaded.templates),
        ordered_by="time",
        source=str(log_path) if len(paths) == 1 else f"{len(paths)} files under {folder}",
        entries=entry_data,
        details={"grouping": grouping.describe(), "read": [r.as_dict() for r in loaded.reports]},
    )


def _read_entries(path: Path, format_name: str, session_labels: dict[str, int] | None, session_regex: str | None) -> EntryData:
    """Message text (the format's Content field: no label, no header) and label of every line."""
    from logad.formats.reader import ReadReport, read_records
    from logad.formats.registry import get_format

    extract = None
    if session_labels is not None and session_regex:
        from logad.windowing.grouping import identifier_extractor

        extract = identifier_extractor(session_regex)
    texts: list[str] = []
    labels: list[int] = []
    times: list[float] = []
    report = ReadReport(path=str(path))
    for rec in read_records(path, get_format(format_name), report=report):
        if rec.label is not None:
            label = rec.label
        elif extract is not None:  # HDFS: a line is anomalous when a block it names is
            label = int(any(session_labels.get(k, 0) for k in extract(rec.content)))
        else:
            label = 0
        texts.append(rec.content)
        labels.append(int(label))
        times.append(np.nan if rec.timestamp is None else float(rec.timestamp))
    # no warning of unmatched lines here: load_logs read this same file with this format just before
    # and reported them (printed twice before)
    return EntryData(texts=texts, labels=np.asarray(labels, dtype=np.int64), timestamps=np.asarray(times, dtype=np.float64))
