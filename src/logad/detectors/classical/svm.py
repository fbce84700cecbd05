"""Linear SVM on TF-IDF event vectors (supervised; loglizer: F1 ~0.97 on HDFS)."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import RefitDetector, check_int, check_seed
from logad.detectors.classical._sklearn_common import check_positive


class SVMDetector(RefitDetector):
    """LinearSVC; score = decision_function (signed distance, positive side = anomalous)."""

    name = "svm"
    supervised = True
    needs_normal_only = False

    def __init__(self, *, C: float = 1.0, max_iter: int = 10000, features: str = "tfidf", random_state: int | None = 0) -> None:
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
        from sklearn.svm import LinearSVC

        return LinearSVC(C=float(self.C), max_iter=int(self.max_iter), random_state=self.random_state).fit(
            x, y, sample_weight=weights
        )

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.decision_function(x)
