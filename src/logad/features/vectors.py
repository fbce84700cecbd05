"""Fixed-width feature vectors for sequences: counts, TF-IDF, counts + length, presence.

Dense float64 is fine here: template vocabularies are small (tens to a few hundred ids).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from logad.errors import InputError, InvalidParameterError, NotFittedError, unknown_name
from logad.features.vocabulary import Vocabulary
from logad.records import Sequence

KINDS = ("counts", "tfidf", "counts+length", "presence")


def check_kind(kind: object) -> str:
    """Validate a vectorizer kind; InvalidParameterError with a did-you-mean otherwise."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidParameterError(f"`features`: {unknown_name('feature kind', str(kind), KINDS)}")
    return kind


class SequenceVectorizer:
    """Turn sequences into vectors over the training vocabulary.

    kinds:
      - ``counts``: how often each template occurs (column 0 counts unseen templates);
      - ``tfidf``: counts times loglizer's idf ``log(N / df)`` learned on training; a column never
        seen in training (df = 0, the unseen column) gets the idf of the rarest possible template,
        ``log(N)``, instead of loglizer's ``log(N / 1e-8)`` blow-up;
      - ``counts+length``: counts plus a last column with the number of lines;
      - ``presence``: 1.0 where a template occurs, else 0.0.
    """

    def __init__(self, *, kind: str = "counts") -> None:
        self.kind = kind
        self.vocabulary_: Vocabulary | None = None
        self.idf_: np.ndarray | None = None

    def fit(self, sequences: Iterable[Sequence]) -> SequenceVectorizer:
        """Learn the vocabulary (and idf for tfidf) from training sequences."""
        check_kind(self.kind)
        seqs = list(sequences)
        if not seqs:
            raise InvalidParameterError("`sequences` must not be empty, got 0 sequences")
        self.vocabulary_ = Vocabulary().fit(seqs)
        self.idf_ = None
        if self.kind == "tfidf":
            counts = self.vocabulary_.counts(seqs)
            df = (counts > 0).sum(axis=0).astype(np.float64)
            self.idf_ = np.log(len(seqs) / np.maximum(df, 1.0))
        return self

    @property
    def n_features(self) -> int:
        vocab = self._check()
        return len(vocab) + (1 if self.kind == "counts+length" else 0)

    def _check(self) -> Vocabulary:
        if self.vocabulary_ is None:
            raise NotFittedError("SequenceVectorizer is not fitted; call fit(sequences) first")
        return self.vocabulary_

    def transform(self, sequences: Iterable[Sequence]) -> np.ndarray:
        """Matrix (n_sequences, n_features) float64."""
        vocab = self._check()
        seqs = list(sequences)
        x = vocab.counts(seqs)
        if self.kind == "tfidf":
            x *= self.idf_
        elif self.kind == "presence":
            x = (x > 0).astype(np.float64)
        elif self.kind == "counts+length":
            lengths = np.array([len(s.template_ids) for s in seqs], dtype=np.float64).reshape(-1, 1)
            x = np.hstack([x, lengths])
        return x

    def fit_transform(self, sequences: Iterable[Sequence]) -> np.ndarray:
        seqs = list(sequences)
        return self.fit(seqs).transform(seqs)

    def column_template(self, column: int) -> int | None:
        """Template id behind a feature column; None for the unseen and length columns."""
        vocab = self._check()
        if column >= len(vocab):
            return None
        return vocab.column_template(column)

    def to_dict(self) -> dict:
        vocab = self._check()
        return {
            "kind": self.kind,
            "vocabulary": vocab.to_dict(),
            "idf": None if self.idf_ is None else [float(v) for v in self.idf_],
        }

    @classmethod
    def from_dict(cls, data: dict) -> SequenceVectorizer:
        try:
            vec = cls(kind=check_kind(data["kind"]))
            vec.vocabulary_ = Vocabulary.from_dict(data["vocabulary"])
            idf = data.get("idf")
            vec.idf_ = None if idf is None else np.asarray(idf, dtype=np.float64)
            if vec.kind == "tfidf" and (vec.idf_ is None or vec.idf_.shape != (len(vec.vocabulary_),)):
                raise ValueError("idf missing or of the wrong length")
        except (AttributeError, KeyError, TypeError, ValueError, LookupError) as exc:
            raise InputError(f"not a saved SequenceVectorizer: {exc}") from exc
        return vec
