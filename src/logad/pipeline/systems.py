"""Whole systems for cross-system experiments (MetaLog, MLAD, CroSysLog, `logad transfer`, `logad mlad`).

A system is loaded from a registered dataset and a local folder (`DATASET=DIR`) into a
`SystemData`: its labelled sequences, its template texts, whether the sequences are in time order,
and optionally its individual log entries (message text + label per line) for entry-level methods.
How a system is split and how many of its labels an experiment may read is the experiments'
business (`logad.experiments.transfer`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError
from logad.progress import SILENT, Progress
from logad.records import Sequence

log = logging.getLogger(__name__)

TEXT_WINDOW_SEPARATOR = " ;-; "


@dataclass
class EntryData:
    """Individual log entries of a system, in file order: the message text given to an encoder
    (never the label field or the header) and the entry's label."""

    texts: list[str]
    labels: np.ndarray  # int64, 0 normal / 1 anomalous, one per entry
    timestamps: np.ndarray | None = None  # seconds, NaN when unknown
    blocks: np.ndarray | None = None  # entries of one block (e.g. one stored window) share a number

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class SystemData:
    """One system's data. `name` is the dataset name (the namespace of its template ids),
    `system` the kind of system it logs (hdfs, bgl, ...)."""

    name: str
    system: str
    sequences: list[Sequence]
    templates: dict[int, str]
    ordered_by: str  # "time" or "file order (no timestamps)"
    source: str
    entries: EntryData | None = None
    details: dict = field(default_factory=dict)

    def describe(self) -> dict:
        out = {
            "name": self.name,
            "system": self.system,
            "source": self.source,
            "sequences": len(self.sequences),
            "anomalous_sequences": sum(1 for s in self.sequences if s.label == 1),
            "templates": len(self.templates),
            "ordered_by": self.ordered_by,
            **self.details,
        }
        if self.entries is not None:
            out["entries"] = len(self.entries)
            out["anomalous_entries"] = int(self.entries.labels.sum())
        return out


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
    from logad.datasets.registry import get_dataset

    name, folder = parse_spec(spec)
    info = get_dataset(name)
    if info.kind == "sessions":
        return _load_sessions(info, folder, entries, progress)
    if info.kind == "text-windows":
        return _load_text_windows(info, folder, progress)
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
    from logad.datasets.local import templates_for
    from logad.pipeline.datasets import load_dataset

    if entries:
        raise InvalidParameterError(
            f"dataset {info.name!r} holds template-id sessions: it has no log entries for an entry-level method"
        )
    loaded = load_dataset(info.name, folder, progress=progress)
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
        details={"grouping": "session files"},
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
    if report.unmatched:
        log.warning("%s", report.summary())
    return EntryData(texts=texts, labels=np.asarray(labels, dtype=np.int64), timestamps=np.asarray(times, dtype=np.float64))


def _load_text_windows(info, folder: Path, progress: Progress) -> SystemData:
    """Stored windows of messages (`Content` joined by ' ;-; ', `item_Label` per message)."""
    import csv
    import io
    import json

    from logad.datasets.local import raw_log_path
    from logad.formats.reader import open_binary
    from logad.parsing.presets import parser_for

    path = raw_log_path(info, folder)
    with open_binary(path) as fh:
        text = fh.read().decode("utf-8", errors="replace")
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "Content" not in rows[0] or "item_Label" not in rows[0]:
        raise InputError(f"{path}: expected columns Content,Label,item_Label (a text-windows CSV)")
    texts: list[str] = []
    labels: list[int] = []
    blocks: list[int] = []
    sequences: list[Sequence] = []
    parser = parser_for(info.format)
    for w, row in enumerate(rows):
        messages = row["Content"].split(TEXT_WINDOW_SEPARATOR)
        try:
            item = [int(x) for x in json.loads(row["item_Label"])]
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path} row {w + 2}: item_Label is not a list of 0/1 ({exc})") from exc
        if len(item) != len(messages):
            raise InputError(f"{path} row {w + 2}: {len(messages)} messages but {len(item)} item labels")
        ids = tuple(parser.add(m, len(texts) + j + 1).template_id for j, m in enumerate(messages))
        sequences.append(Sequence(
            sequence_id=f"window{w}", template_ids=ids,
            line_nos=tuple(range(len(texts) + 1, len(texts) + len(messages) + 1)),
            line_labels=tuple(item), label=int(any(item)),
        ))
        texts.extend(messages)
        labels.extend(item)
        blocks.extend([w] * len(messages))
    progress.stage(f"{info.name}: {len(rows)} stored windows, {len(texts)} entries")
    return SystemData(
        name=info.name,
        system=info.format,
        sequences=sequences,
        templates=dict(parser.templates),
        ordered_by="file order (no timestamps)",
        source=str(path),
        entries=EntryData(texts=texts, labels=np.asarray(labels, dtype=np.int64), blocks=np.asarray(blocks)),
        details={"grouping": "stored windows"},
    )
