"""Decision tree on event counts (supervised; loglizer: F1 ~0.998 on HDFS)."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import RefitDetector, check_seed
from logad.detectors.classical._sklearn_common import check_max_depth
from logad.detectors.classical.cart import GiniTree


class DecisionTreeDetector(RefitDetector):
    """Score = predicted probability of the anomalous class (the weighted anomaly fraction of the
    row's leaf). Fitted on unique (vector, label) rows weighted by their multiplicity, which is the
    same impurity as the duplicated data."""

    name = "decision-tree"
    max_score = 1.0  # a probability
    supervised = True
    needs_normal_only = False

    def __init__(self, *, max_depth: int | None = None, features: str = "counts", random_state: int | None = 0) -> None:
        self.max_depth = max_depth
        self.features = features
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_max_depth(self.max_depth)
        check_seed(self.random_state)

    def _build_and_fit(self, x, y, weights):
        # our CART (cart.py), not sklearn's: the same tree, without sklearn's 1 s import
        return GiniTree(max_depth=self.max_depth, random_state=self.random_state).fit(x, y, sample_weight=weights)

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(x)[:, 1]
