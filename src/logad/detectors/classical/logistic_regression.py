"""Logistic regression on TF-IDF event vectors (supervised; loglizer's setup)."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import RefitDetector, check_int, check_seed
from logad.detectors.classical._sklearn_common import check_positive


class LogisticRegressionDetector(RefitDetector):
    """Score = predicted probability of the anomalous class. Weighted unique rows give the same
    loss as the duplicated data."""

    name = "logistic-regression"
    max_score = 1.0  # a probability
    supervised = True
    needs_normal_only = False

    def __init__(self, *, C: float = 100.0, max_iter: int = 1000, features: str = "tfidf", random_state: int | None = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.features = features
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_positive("C", self.C)
        check_int("max_iter", self.max_iter, 1)
        check_seed(self.random_state)

    def _build_and_fit(self, x, y, weights):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=float(self.C), max_iter=int(self.max_iter), random_state=self.random_state).fit(
            x, y, sample_weight=weights
        )

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(x)[:, 1]
