"""Template-id vocabulary: which template ids a model saw in training, and their columns.

Column 0 is reserved for "unseen": every template id not seen in training (and template id 0,
which the pipeline uses for "matches no known template") is counted there, never dropped, so
detectors can react to new templates.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

import numpy as np

from logad.errors import InputError, InvalidParameterError, NotFittedError
from logad.records import Sequence

UNSEEN = 0  # column index of unseen templates
UNKNOWN_TEMPLATE_ID = 0  # the pipeline's id for lines matching no known template
# Columns a vocabulary keeps at most: a log with this many templates in its training part is
# almost always one event split into many (a parameter the masking missed); beyond it the rarest
# templates count as unseen, so a feature matrix stays within memory.
MAX_COLUMNS = 10_000
# a count matrix larger than this is refused with a message instead of exhausting memory
MATRIX_BYTES = 4 << 30

log = logging.getLogger(__name__)


class Vocabulary:
    """Map training template ids to column indices 1..n; anything else goes to column 0.

    At most `max_columns` templates get a column (the most frequent in training; ties by id);
    `dropped_` says how many did not (they count as unseen, and a warning says so)."""

    def __init__(self, max_columns: int = MAX_COLUMNS) -> None:
        self.max_columns = max_columns
        self.ids_: np.ndarray | None = None  # sorted known template ids; column = position + 1
        self.dropped_ = 0

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, sequences: Iterable[Sequence]) -> Vocabulary:
        """Learn the set of template ids seen in `sequences` (id 0 stays "unseen")."""
        counts: Counter[int] = Counter()
        for s in sequences:
            counts.update(s.template_ids)
        counts.pop(UNKNOWN_TEMPLATE_ID, None)
        keep = list(counts)
        self.dropped_ = max(0, len(keep) - self.max_columns)
        if self.dropped_:
            keep = sorted(keep, key=lambda t: (-counts[t], t))[: self.max_columns]
            log.warning("%d templates in the training data; the %d most frequent get a feature column, the other %d "
                        "count as unseen (so many templates usually means a parameter the parser's masking missed)",
                        len(counts), self.max_columns, self.dropped_)
        self.ids_ = np.array(sorted(keep), dtype=np.int64)
        return self

    def _check(self) -> np.ndarray:
        if self.ids_ is None:
            raise NotFittedError("Vocabulary is not fitted; call fit(sequences) first")
        return self.ids_

    # -- lookups -------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of columns, including the unseen column."""
        return len(self._check()) + 1

    @property
    def template_ids(self) -> list[int]:
        """Known template ids in column order (column i+1 holds template_ids[i])."""
        return [int(t) for t in self._check()]

    def column_template(self, column: int) -> int | None:
        """Template id of a column, None for the unseen column."""
        ids = self._check()
        return None if column == UNSEEN else int(ids[column - 1])

    def columns(self, template_ids: Iterable[int]) -> np.ndarray:
        """Column index of each template id (vectorised; unseen ids -> 0)."""
        ids = self._check()
        arr = np.fromiter(template_ids, dtype=np.int64)
        if ids.size == 0 or arr.size == 0:
            return np.zeros(arr.shape, dtype=np.int64)
        pos = np.searchsorted(ids, arr)
        pos_c = np.minimum(pos, ids.size - 1)
        known = ids[pos_c] == arr
        return np.where(known, pos_c + 1, UNSEEN).astype(np.int64)

    def counts(self, sequences: list[Sequence]) -> np.ndarray:
        """Event-count matrix (n_sequences, len(self)) as float64."""
        n = len(sequences)
        width = len(self)
        if n * width * 8 > MATRIX_BYTES:
            raise InvalidParameterError(
                f"a count matrix of {n} sequences x {width} templates would take {n * width * 8 / 2**30:.1f} GiB "
                f"(more than {MATRIX_BYTES / 2**30:.0f}); fewer, longer sequences (a larger window) or a parser "
                "that makes fewer templates keeps it in memory")
        lengths = np.fromiter((len(s.template_ids) for s in sequences), dtype=np.int64, count=n)
        flat = np.fromiter((t for s in sequences for t in s.template_ids), dtype=np.int64, count=int(lengths.sum()))
        cols = self.columns(flat)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        # bincount is the fast scatter-add here (np.add.at is much slower on millions of lines)
        out = np.bincount(rows * width + cols, minlength=n * width).astype(np.float64)
        return out.reshape(n, width)

    # -- serialization -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON-able description."""
        return {"kind": "vocabulary", "template_ids": self.template_ids}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        """Inverse of `to_dict`; InputError on malformed input."""
        try:
            if data.get("kind") != "vocabulary":
                raise ValueError(f"kind is {data.get('kind')!r}")
            ids = np.array(sorted(int(t) for t in data["template_ids"]), dtype=np.int64)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a saved Vocabulary: {exc}") from exc
        vocab = cls()
        vocab.ids_ = ids
        return vocab
