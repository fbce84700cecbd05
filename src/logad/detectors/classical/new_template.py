"""New-template detector: a sequence is as anomalous as the templates it holds that training
never saw (Landauer et al., FSE'24: this alone reaches F1 ~0.99 on HDFS/BGL)."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import Detector, check_choice
from logad.features.vocabulary import Vocabulary
from logad.records import Sequence

MODES = ("count", "share")


class NewTemplateDetector(Detector):
    """Score = number (``mode="count"``) or share of lines (``mode="share"``) whose template was
    unseen in training. Template id 0 (no known template) always counts as unseen."""

    explains = True
    name = "new-template"
    supervised = False
    needs_normal_only = True

    def __init__(self, *, mode: str = "count") -> None:
        self.mode = mode

    def _validate_params(self) -> None:
        check_choice("mode", self.mode, MODES)

    def _fit(self, sequences: list[Sequence], labels: np.ndarray | None) -> None:
        self.vocabulary_ = Vocabulary().fit(sequences)

    def _score(self, sequences: list[Sequence]) -> np.ndarray:
        counts = self.vocabulary_.counts(sequences)
        unseen = counts[:, 0]
        if self.mode == "count":
            return unseen
        lengths = counts.sum(axis=1)
        return np.divide(unseen, lengths, out=np.zeros_like(unseen), where=lengths > 0)

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """The unseen template ids with how often each occurs."""
        self._check_fitted()
        ids = np.fromiter(sequence.template_ids, dtype=np.int64)
        unseen = ids[self.vocabulary_.columns(ids) == 0]
        vals, cnt = np.unique(unseen, return_counts=True)
        order = np.lexsort((vals, -cnt))
        return [(int(vals[i]), float(cnt[i])) for i in order]

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return {}, {"known_ids": self.vocabulary_.ids_}

    def _set_state(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        self.vocabulary_ = Vocabulary.from_dict(
            {"kind": "vocabulary", "template_ids": arrays["known_ids"].astype(np.int64).tolist()}
        )
