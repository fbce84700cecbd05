"""Results of sequences rolled up to a unit a user cares about (a job, a host, a request): the
unit is anomalous when any of its sequences is, alarmed when any of its sequences alarms, and its
score is its sequences' largest.

The unit of a sequence is the first group (or the whole match) of a regex searched in its id, else
in the paths of the files its lines came from; a sequence where the regex finds nothing is its own
unit, so nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from logad.errors import InvalidParameterError
from logad.records import Sequence


def unit_of(pattern: str, option: str = "--rollup"):
    """A function sequence -> unit name for `pattern` (InvalidParameterError naming `option` for a
    bad regex)."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise InvalidParameterError(f"`{option}` is not a valid regex: {pattern!r} ({exc})") from exc

    def name(m: re.Match) -> str:
        return m.group(1) if rx.groups else m.group(0)

    def unit(s: Sequence) -> str:
        for text in (s.sequence_id, *s.sources):
            m = rx.search(text)
            if m:
                return name(m)
        return s.sequence_id

    return unit


@dataclass
class Rollup:
    units: list[str]
    scores: np.ndarray  # the largest score of each unit's sequences
    alarms: np.ndarray  # bool: any of its sequences alarmed
    labels: np.ndarray | None  # 1 when any of its labelled sequences is anomalous; None without labels
    sequences: np.ndarray  # how many sequences each unit has
    alarmed_sequences: np.ndarray  # how many of them alarmed


def roll_up(sequences: list[Sequence], scores, alarms, pattern: str) -> Rollup:
    unit = unit_of(pattern)
    index: dict[str, int] = {}
    rows = np.fromiter((index.setdefault(unit(s), len(index)) for s in sequences), dtype=np.int64, count=len(sequences))
    n = len(index)
    scores = np.asarray(scores, dtype=np.float64)
    unit_scores = np.full(n, -np.inf)
    np.maximum.at(unit_scores, rows, scores)
    unit_alarms = np.zeros(n, dtype=bool)
    np.logical_or.at(unit_alarms, rows, np.asarray(alarms, dtype=bool))
    labels = None
    if sequences and all(s.label is not None for s in sequences):
        labels = np.zeros(n, dtype=np.int64)
        np.maximum.at(labels, rows, np.array([s.label for s in sequences], dtype=np.int64))
    alarmed = np.bincount(rows, weights=np.asarray(alarms, dtype=np.float64), minlength=n).astype(np.int64)
    return Rollup(list(index), unit_scores, unit_alarms, labels, np.bincount(rows, minlength=n), alarmed)


def rollup_result(sequences: list[Sequence], scores, alarms, pattern: str) -> dict:
    """What `logad evaluate --rollup` adds to its result: the unit-level metrics beside the
    sequence-level ones (same threshold: a unit alarms when one of its sequences does)."""
    from logad.evaluation.metrics import binary_metrics

    r = roll_up(sequences, scores, alarms, pattern)
    out: dict = {"regex": pattern, "units": len(r.units), "sequences_per_unit": float(r.sequences.mean()) if r.units else 0.0}
    if r.labels is not None:
        metrics = binary_metrics(r.labels, r.scores, r.alarms)
        out["counts"] = {k: metrics.pop(k) for k in ("tp", "fp", "tn", "fn") if k in metrics}
        out["metrics"] = metrics
        out["anomalous_units"] = int(r.labels.sum())
    return out
