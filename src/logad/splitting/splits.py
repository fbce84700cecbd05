"""Splits. The default is chronological: train on the past, validate on the end of the
training period, test on the future. Nothing here looks at test labels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from logad.errors import InvalidParameterError
from logad.records import Sequence


@dataclass
class Split:
    """Three lists of sequences and how they were made."""

    train: list[Sequence]
    validation: list[Sequence]
    test: list[Sequence]
    protocol: str
    details: dict = field(default_factory=dict)

    def describe(self) -> dict:
        def count(seqs: list[Sequence]) -> dict:
            return {"sequences": len(seqs), "anomalous": sum(1 for s in seqs if s.label == 1)}

        counts = {"train": count(self.train), "validation": count(self.validation), "test": count(self.test)}
        # details never replace the counts (a split's "test" rule once hid its test count)
        extra = {(f"{k}_detail" if k in counts or k == "protocol" else k): v for k, v in self.details.items()}
        return {"protocol": self.protocol, **counts, **extra}


PROTOCOLS: dict[str, str] = {
    "chronological": "sort sequences by start time; train / validation / test = 0.6 / 0.1 / 0.3 of them, "
    "validation taken from the end of the training period",
    "session-files": "DeepLog-style files: train on *_train (normal sessions; the last 10% held out "
    "as validation), test on *_test_normal + *_test_abnormal",
}


def _check_ratios(train: float, validation: float, test: float) -> None:
    for name, value in (("train", train), ("validation", validation), ("test", test)):
        if not (isinstance(value, int | float) and 0 <= value <= 1 and math.isfinite(value)):
            raise InvalidParameterError(f"`{name}` ratio must be in [0, 1], got {value!r}")
    if train <= 0 or test <= 0:
        raise InvalidParameterError(f"`train` and `test` ratios must be > 0, got {train} and {test}")
    if abs(train + validation + test - 1.0) > 1e-6:
        raise InvalidParameterError(
            f"ratios must sum to 1, got train={train} + validation={validation} + test={test}"
        )


def chronological_split(
    sequences: list[Sequence], train: float = 0.6, validation: float = 0.1, test: float = 0.3
) -> Split:
    """Split by sequence start time (stable: file order among equal or missing times).

    The first `train + validation` share is the training period; its last `validation` share is the
    validation set, so validation is later than training and earlier than test.
    """
    _check_ratios(train, validation, test)
    if len(sequences) < 3:
        raise InvalidParameterError(f"a split needs at least 3 sequences, got {len(sequences)}")
    starts = np.array([s.start_time if s.start_time is not None else np.nan for s in sequences], dtype=float)
    have_time = not np.all(np.isnan(starts))
    if have_time:
        # missing times sort with their predecessor: fill forward, keep file order as tie-break
        filled = starts.copy()
        last = np.nanmin(starts)
        for i, t in enumerate(filled):
            if np.isnan(t):
                filled[i] = last
            else:
                last = t
        order = np.argsort(filled, kind="stable")
    else:
        order = np.arange(len(sequences))
    n = len(sequences)
    n_period = max(1, round(n * (train + validation)))
    n_period = min(n_period, n - 1)
    n_val = round(n * validation)
    n_train = max(1, n_period - n_val)
    ordered = [sequences[i] for i in order]
    split = Split(
        train=ordered[:n_train],
        validation=ordered[n_train:n_period],
        test=ordered[n_period:],
        protocol="chronological",
        details={
            "ratios": [train, validation, test],
            "ordered_by": "start_time" if have_time else "file order (no timestamps)",
        },
    )
    if have_time and split.test and split.train:
        split.details["train_end"] = _max_time(split.train + split.validation)
        split.details["test_start"] = _min_time(split.test)
    return split


def _max_time(seqs: list[Sequence]) -> float | None:
    times = [s.start_time for s in seqs if s.start_time is not None]
    return max(times) if times else None


def _min_time(seqs: list[Sequence]) -> float | None:
    times = [s.start_time for s in seqs if s.start_time is not None]
    return min(times) if times else None


def session_files_split(
    train: list[Sequence], test_normal: list[Sequence], test_abnormal: list[Sequence], validation: float = 0.1
) -> Split:
    """DeepLog-style protocol: the training file holds normal sessions only; its last share
    (file order) is held out as validation so thresholds never see the test files."""
    if not train:
        raise InvalidParameterError("the training file holds no session")
    if not 0 <= validation < 1:
        raise InvalidParameterError(f"`validation` must be in [0, 1), got {validation!r}")
    n_val = round(len(train) * validation)
    n_fit = len(train) - n_val
    return Split(
        train=train[:n_fit],
        validation=train[n_fit:],
        test=test_normal + test_abnormal,
        protocol="session-files",
        details={"validation_share_of_train_file": validation},
    )
