"""Isolation forest (Liu et al., ICDM'08) on event-count vectors, fitted on normal sequences."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import RefitDetector, check_int, check_seed
from logad.detectors.classical._sklearn_common import check_max_samples


class IsolationForestDetector(RefitDetector):
    """Score = -sklearn ``score_samples`` (higher = easier to isolate = more anomalous).

    Trained on the full multiset of training vectors (duplicates matter: they are what makes a
    pattern normal), rebuilt in canonical order from unique rows + counts, so a refit on load
    is identical. Default features add the sequence length: isolation trees cannot split on
    the all-zero unseen column of normal training data, and with few distinct normal patterns
    plain counts leave iForest near chance; the length column gives it a usable axis.
    """

    name = "isolation-forest"
    supervised = False
    needs_normal_only = True

    def __init__(
        self, *, n_estimators: int = 100, max_samples: int | float | str = "auto", features: str = "counts+length", random_state: int | None = 0
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.features = features
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int("n_estimators", self.n_estimators, 1)
        check_max_samples(self.max_samples)
        check_seed(self.random_state)

    def _build_and_fit(self, x, y, weights):
        from sklearn.ensemble import IsolationForest

        full = np.repeat(x, weights.astype(np.int64), axis=0)
        return IsolationForest(
            n_estimators=int(self.n_estimators), max_samples=self.max_samples, random_state=self.random_state
        ).fit(full)

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        return -self.estimator_.score_samples(x)  # sklearn: higher = more normal; flip once, here
