"""Random forest on event counts (supervised)."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import RefitDetector, check_int, check_seed
from logad.detectors.classical._sklearn_common import check_max_depth


class RandomForestDetector(RefitDetector):
    """Score = predicted probability of the anomalous class (mean over trees).

    Fitted on the full multiset of (vector, label) rows, rebuilt in canonical order from unique
    rows + counts: weighting unique rows instead would change what bootstrap samples draw (and
    in practice starves rare anomaly patterns), so the forest sees the duplicated data.
    """

    name = "random-forest"
    max_score = 1.0  # a probability
    supervised = True
    needs_normal_only = False

    def __init__(
        self, *, n_estimators: int = 100, max_depth: int | None = None, features: str = "counts", random_state: int | None = 0
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.features = features
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int("n_estimators", self.n_estimators, 1)
        check_max_depth(self.max_depth)
        check_seed(self.random_state)

    def _build_and_fit(self, x, y, weights):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=int(self.n_estimators), max_depth=self.max_depth, random_state=self.random_state
        ).fit(np.repeat(x, reps := weights.astype(np.int64), axis=0), np.repeat(y, reps))

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(x)[:, 1]
