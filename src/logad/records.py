"""The records that flow between pipeline stages: frozen, typed, small."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One raw log line split by its format.

    `line_no` is 1-based in the source file. `label` is the per-line ground truth when the log
    carries one (CFDR supercomputer logs: first field, '-' = normal -> 0), else None.
    `timestamp` is seconds since the epoch when the format has a parsable time, else None.
    """

    line_no: int
    content: str
    fields: Mapping[str, str] = field(default_factory=dict)
    timestamp: float | None = None
    label: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """A line's template. `template_id` is stable for the life of a parser state."""

    line_no: int
    template_id: int
    template: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sequence:
    """A session or window of parsed lines: the unit most detectors score.

    `label` is 1 when any line is anomalous (or the session's label says so), 0 when normal,
    None when unknown. `line_labels` holds per-line labels when the source has them.
    `line_values` (only when the loader was asked for them) holds, per line, the seconds since
    the previous line of the sequence (0.0 for the first, NaN without timestamps) followed by the
    line's parameters as numbers (NaN where a parameter is not numeric): what DeepLog's
    parameter-value model reads. `sources` names the files its lines came from (raw logs), so a
    result can be traced back to them.
    """

    sequence_id: str
    template_ids: tuple[int, ...]
    line_nos: tuple[int, ...] = ()
    start_time: float | None = None
    end_time: float | None = None
    line_labels: tuple[int, ...] | None = None
    label: int | None = None
    entity: str | None = None
    line_values: tuple[tuple[float, ...], ...] | None = None
    sources: tuple[str, ...] = ()  # the files its lines came from, in order of first appearance

    def __len__(self) -> int:
        return len(self.template_ids)
