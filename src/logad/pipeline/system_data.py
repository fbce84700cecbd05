"""What a cross-system method gets of one system: its labelled sequences, template texts and,
for entry-level methods, every log entry's message and label."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from logad.records import Sequence

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

    def as_loaded(self):
        """The same sequences as `load_dataset` returns them (`logad evaluate` on stored windows)."""
        from logad.pipeline.logs import LoadedLogs

        return LoadedLogs(sequences=list(self.sequences), source=self.source, grouping={"kind": "stored windows"},
                          templates=dict(self.templates))

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
