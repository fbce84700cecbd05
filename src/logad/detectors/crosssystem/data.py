"""Data of several systems for cross-system methods (MetaLog, MLAD, CroSysLog, `logad transfer`).

A system is loaded from a registered dataset and a local folder (`DATASET=DIR`) into a
`SystemData`: its labelled sequences, its template texts, whether the sequences are in time order,
and optionally its individual log entries (message text + label per line) for entry-level methods.

Template ids are only meaningful inside one dataset, so every cross-system vocabulary is keyed by
(dataset, template id) (`MultiSystemTemplates`): MetaLog's original looked source templates up in
the target's rows (seed_methods.md section 1.5); keying by pair makes that impossible.

Splits: chronological where the data has time; DeepLog-style session files carry no time, so
their sessions are pooled and split by a seeded, stratified shuffle, and the split says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError
from logad.progress import SILENT, Progress
from logad.records import Sequence
from logad.splitting import Split, chronological_split

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
) -> SystemData:
    """Load one system from `DATASET=DIR`.

    Raw supercomputer logs (bgl, thunderbird, spirit, liberty) are cut into count windows of
    `window` lines (default 20, MLAD's choice; `step` defaults to `window`); with `per_entity` the
    windows run over each node's own lines (the format's entity field: BGL `Node`, Thunderbird
    `User`) instead of all lines; HDFS raw logs into block sessions and session files are read as
    they are, with or without `per_entity` (so one flag can serve a mix of systems).
    `entries=True` also keeps every line's message text and label (entry-level methods).
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
    return _load_raw(info, folder, window, step, entries, progress, per_entity)


def _load_sessions(info, folder: Path, entries: bool, progress: Progress) -> SystemData:
    from logad.datasets.local import templates_for
    from logad.pipeline import load_dataset

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
    from logad.datasets.local import labels_for, raw_log_path
    from logad.pipeline import Grouping, default_grouping, load_logs

    if info.session_regex:  # sessions already follow one entity (a block, an instance)
        grouping = default_grouping(info.format, info.session_regex)
    else:
        size = window or 20
        grouping = Grouping(kind="entity" if per_entity else "count", size=size, step=step or size)
    log_path = raw_log_path(info, folder)
    labels = labels_for(info, folder)
    loaded = load_logs([log_path], format=info.format, grouping=grouping, labels=labels, progress=progress)
    entry_data = _read_entries(log_path, info.format, labels, info.session_regex) if entries else None
    return SystemData(
        name=info.name,
        system=info.format,
        sequences=[s for s in loaded.sequences if s.label is not None],
        templates=dict(loaded.templates),
        ordered_by="time",
        source=str(log_path),
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
    from logad.parsing import parser_for

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


# -- splits and label budgets ------------------------------------------------------------------
def split_system(
    data: SystemData, ratios: tuple[float, float, float] = (0.6, 0.1, 0.3), seed: int = 0
) -> Split:
    """Train / validation / test of one system: chronological when its sequences have time,
    otherwise a seeded shuffle stratified by label (the split's details say which)."""
    seqs = [s for s in data.sequences if s.label is not None]
    if data.ordered_by == "time" and any(s.start_time is not None for s in seqs):
        split = chronological_split(seqs, *ratios)
        split.details["system"] = data.name
        return split
    train_r, val_r, test_r = ratios
    if abs(train_r + val_r + test_r - 1.0) > 1e-6 or min(ratios) < 0 or train_r <= 0 or test_r <= 0:
        raise InvalidParameterError(f"ratios must be >= 0, sum to 1 with train and test > 0, got {ratios}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Sequence]] = {"train": [], "validation": [], "test": []}
    for label in (0, 1):
        idx = [i for i, s in enumerate(seqs) if s.label == label]
        idx = [idx[i] for i in rng.permutation(len(idx))]
        n_train = int(round(len(idx) * train_r))
        n_val = int(round(len(idx) * val_r))
        parts["train"] += [seqs[i] for i in idx[:n_train]]
        parts["validation"] += [seqs[i] for i in idx[n_train : n_train + n_val]]
        parts["test"] += [seqs[i] for i in idx[n_train + n_val :]]
    order = {id(s): i for i, s in enumerate(seqs)}
    for key in parts:  # back to file order inside each part
        parts[key].sort(key=lambda s: order[id(s)])
    return Split(
        train=parts["train"], validation=parts["validation"], test=parts["test"],
        protocol="stratified-shuffle",
        details={"system": data.name, "ratios": list(ratios), "seed": seed,
                 "ordered_by": "seeded shuffle, stratified by label (the data carries no timestamps)"},
    )


def label_budget(labels: np.ndarray, amount: float, seed: int = 0, normal_amount: float | None = None) -> np.ndarray:
    """Which training sequences have a known label: a boolean mask over `labels`.

    `amount` < 1 is a fraction of EACH class (so "1 %" labels 1 % of the anomalies and 1 % of
    the normal sequences); `amount` >= 1 is a number of sequences, drawn in proportion to the
    classes. `normal_amount`, when given, is the fraction (< 1, or 1 = all) of the NORMAL
    sequences labelled instead, `amount` then applying to the anomalies alone (MetaLog's code
    labels 50 % of the target's normals and ~1 % of its anomalies: normal periods are cheap to
    confirm, anomalies are not). Whenever the amount is > 0 and the part holds an anomaly, at least
    one anomaly and one normal sequence are labelled (a classifier needs both to learn anything)."""
    y = np.asarray(labels, dtype=np.int64)
    if not np.isfinite(amount) or amount < 0:
        raise InvalidParameterError(f"the target label amount must be a fraction in [0, 1) or a count >= 1, got {amount!r}")
    if normal_amount is not None and (
        isinstance(normal_amount, bool) or not np.isfinite(normal_amount) or not 0 <= normal_amount <= 1
    ):
        raise InvalidParameterError(f"the normal label amount must be a fraction in [0, 1], got {normal_amount!r}")
    mask = np.zeros(y.size, dtype=bool)
    if amount == 0 or y.size == 0:
        return mask
    rng = np.random.default_rng(seed)
    fraction = amount if amount < 1 else min(1.0, float(amount) / y.size)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        if idx.size == 0:
            continue
        share = float(normal_amount) if (label == 0 and normal_amount is not None) else fraction
        k = max(1, int(round(idx.size * share)))
        mask[rng.permutation(idx)[:k]] = True
    return mask


# -- one vocabulary over (dataset, template) -----------------------------------------------------
class MultiSystemTemplates:
    """Rows 1.. are (dataset, template id) pairs, each with its own system's text; row 0 = unknown.

    `add(name, templates)` registers a system's templates; `encode(name, ids)` maps a sequence of
    that system's template ids to rows (an id the system never registered maps to 0)."""

    UNKNOWN = 0

    def __init__(self) -> None:
        self.index: dict[tuple[str, int], int] = {}
        self.texts: list[str] = [""]
        self.owners: list[tuple[str, int] | None] = [None]

    def add(self, name: str, templates: dict[int, str]) -> MultiSystemTemplates:
        for tid in sorted(templates):
            key = (name, int(tid))
            if key not in self.index:
                self.index[key] = len(self.texts)
                self.texts.append(str(templates[tid]))
                self.owners.append(key)
        return self

    def __len__(self) -> int:
        return len(self.texts)

    def row(self, name: str, template_id: int) -> int:
        return self.index.get((name, int(template_id)), self.UNKNOWN)

    def encode(self, name: str, template_ids) -> list[int]:
        get = self.index.get
        return [get((name, int(t)), self.UNKNOWN) for t in template_ids]

    def systems(self) -> list[str]:
        return sorted({o[0] for o in self.owners if o is not None})

    def to_dict(self) -> dict:
        return {"rows": [[o[0], o[1], t] for o, t in zip(self.owners[1:], self.texts[1:])]}

    @classmethod
    def from_dict(cls, d: dict) -> MultiSystemTemplates:
        v = cls()
        for name, tid, text in d["rows"]:
            v.index[(str(name), int(tid))] = len(v.texts)
            v.texts.append(str(text))
            v.owners.append((str(name), int(tid)))
        return v
