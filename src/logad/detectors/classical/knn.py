"""k-nearest-neighbour detector (LightAD, ICSE'24): score = distance to the k-th nearest
training sequence. Works on unique training vectors with multiplicities, which gives exactly the
k-th distance over the full (duplicated) training set at a fraction of the cost."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import VectorDetector, check_int
from logad.records import Sequence

# rows x training rows x features up to which the neighbours are found by brute force in numpy
BRUTE_FORCE_WORK = 2_000_000_000


def nearest_rows(train: np.ndarray, x: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean (distances, indices) of the `m` nearest rows of `train` to each row of `x`, nearest
    first, by brute force in chunks of about 10M pairs. Squared distances as |a|^2 + |b|^2 - 2ab
    (exact for the integer count vectors; clipped at 0 against rounding otherwise)."""
    train = np.asarray(train, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    n = train.shape[0]
    train_sq = np.einsum("ij,ij->i", train, train)
    dist = np.empty((x.shape[0], m))
    index = np.empty((x.shape[0], m), dtype=np.int64)
    step = max(1, 10_000_000 // max(1, n))
    for a in range(0, x.shape[0], step):
        q = x[a:a + step]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + train_sq[None, :] - 2.0 * (q @ train.T)
        np.maximum(d2, 0.0, out=d2)
        idx = np.argpartition(d2, m - 1, axis=1)[:, :m] if m < n else np.broadcast_to(np.arange(n), d2.shape)
        part = np.take_along_axis(d2, idx, axis=1)
        order = np.argsort(part, axis=1, kind="stable")
        index[a:a + step] = np.take_along_axis(idx, order, axis=1)
        dist[a:a + step] = np.sqrt(np.take_along_axis(part, order, axis=1))
    return dist, index


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
        self.train_x_, self.train_w_ = x, weights
        self._tree = None  # sklearn's search tree, built on first use by a search too big for numpy

    def _kneighbors(self, x: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices) of the `m` nearest unique training rows of each row of `x`, nearest
        first. Small searches in numpy (importing sklearn.neighbors costs a second, more than the
        search); big ones (rows x training rows x features > BRUTE_FORCE_WORK) in sklearn's tree."""
        train = self.train_x_
        if x.shape[0] * train.shape[0] * max(1, train.shape[1]) > BRUTE_FORCE_WORK:
            if getattr(self, "_tree", None) is None:
                from sklearn.neighbors import NearestNeighbors

                self._tree = NearestNeighbors(algorithm="auto").fit(train)
            return self._tree.kneighbors(x, n_neighbors=m)
        return nearest_rows(train, x, m)

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        k = int(self.n_neighbors)
        n_unique = self.train_x_.shape[0]
        # the k nearest duplicated points lie among the k nearest unique ones
        m = min(k, n_unique)
        dist, idx = self._kneighbors(x, m)
        cum = np.cumsum(self.train_w_[idx], axis=1)
        # first neighbour at which the multiplicities reach k; if never (k > training size), the last
        pos = np.minimum((cum < k).sum(axis=1), m - 1)
        return dist[np.arange(x.shape[0]), pos]

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Templates whose counts differ most from the nearest training vector."""
        self._check_fitted()
        x = self.vectorizer_.transform([sequence])
        _, idx = self._kneighbors(x, 1)
        diff = x[0] - self.train_x_[idx[0, 0]]
        return self._explain_residuals(sequence, diff * diff)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"train_x": self.train_x_, "train_w": self.train_w_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        x, w = arrays["train_x"], arrays["train_w"]
        if x.ndim != 2 or x.shape[1] != self.vectorizer_.n_features or w.shape != (x.shape[0],):
            raise ValueError("training matrix does not match the saved vectorizer")
        self._fit_matrix(x, None, w)
