"""k-nearest-neighbour detector (LightAD, ICSE'24): score = distance to the k-th nearest
training sequence. Works on unique training vectors with multiplicities, which gives exactly the
k-th distance over the full (duplicated) training set at a fraction of the cost."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import VectorDetector, check_int
from logad.records import Sequence


class KNNDetector(VectorDetector):
    """Euclidean distance to the `n_neighbors`-th nearest normal training vector."""

    explains = True
    name = "knn"
    supervised = False
    needs_normal_only = True

    def __init__(self, *, n_neighbors: int = 1, features: str = "counts") -> None:
        self.n_neighbors = n_neighbors
        self.features = features

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int("n_neighbors", self.n_neighbors, 1)

    def _fit_matrix(self, x: np.ndarray, y: np.ndarray | None, weights: np.ndarray) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.train_x_, self.train_w_ = x, weights
        self.nn_ = NearestNeighbors(algorithm="auto").fit(x)

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        k = int(self.n_neighbors)
        n_unique = self.train_x_.shape[0]
        # the k nearest duplicated points lie among the k nearest unique ones
        m = min(k, n_unique)
        dist, idx = self.nn_.kneighbors(x, n_neighbors=m)
        cum = np.cumsum(self.train_w_[idx], axis=1)
        # first neighbour at which the multiplicities reach k; if never (k > training size), the last
        pos = np.minimum((cum < k).sum(axis=1), m - 1)
        return dist[np.arange(x.shape[0]), pos]

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Templates whose counts differ most from the nearest training vector."""
        self._check_fitted()
        x = self.vectorizer_.transform([sequence])
        _, idx = self.nn_.kneighbors(x, n_neighbors=1)
        diff = x[0] - self.train_x_[idx[0, 0]]
        return self._explain_residuals(sequence, diff * diff)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"train_x": self.train_x_, "train_w": self.train_w_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        x, w = arrays["train_x"], arrays["train_w"]
        if x.ndim != 2 or x.shape[1] != self.vectorizer_.n_features or w.shape != (x.shape[0],):
            raise ValueError("training matrix does not match the saved vectorizer")
        self._fit_matrix(x, None, w)
