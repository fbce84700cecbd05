"""LogClustering (Lin et al., ICSE'16; loglizer): cluster normal training vectors under a cosine
distance threshold; score = cosine distance to the nearest cluster representative (mean)."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import VectorDetector, check_float, check_int
from logad.records import Sequence


def _normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def cosine_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of row-normalised matrices; zero vs zero = 0, zero vs other = 1."""
    d = 1.0 - a @ b.T
    za = ~a.any(axis=1)
    zb = ~b.any(axis=1)
    d[np.ix_(za, zb)] = 0.0
    return np.clip(d, 0.0, 2.0)


class LogClusteringDetector(VectorDetector):
    """Agglomerative (average-linkage) clustering of unique normal vectors cut at `max_dist`;
    above `max_linkage_rows` unique vectors, loglizer's online clustering instead (linear)."""

    explains = True
    name = "log-clustering"
    supervised = False
    needs_normal_only = True

    def __init__(self, *, max_dist: float = 0.3, features: str = "tfidf", max_linkage_rows: int = 5000) -> None:
        self.max_dist = max_dist
        self.features = features
        self.max_linkage_rows = max_linkage_rows

    def _validate_params(self) -> None:
        super()._validate_params()
        check_float("max_dist", self.max_dist, 0.0, 2.0)
        check_int("max_linkage_rows", self.max_linkage_rows, 2)

    def _fit_matrix(self, x: np.ndarray, y: np.ndarray | None, weights: np.ndarray) -> None:
        xn = _normalize(x)
        n = x.shape[0]
        if n == 1:
            labels = np.zeros(1, dtype=np.int64)
        elif n <= self.max_linkage_rows:
            from scipy.cluster.hierarchy import fcluster, linkage
            from scipy.spatial.distance import squareform

            dist = cosine_distances(xn, xn)
            np.fill_diagonal(dist, 0.0)
            dist = (dist + dist.T) / 2.0  # exact symmetry for squareform
            z = linkage(squareform(dist, checks=False), method="average")
            labels = fcluster(z, t=float(self.max_dist), criterion="distance") - 1
        else:
            labels = self._online(xn, weights)
        k = int(labels.max()) + 1
        reps = np.zeros((k, x.shape[1]))
        tot = np.zeros(k)
        np.add.at(reps, labels, x * weights[:, None])
        np.add.at(tot, labels, weights)
        self.representatives_ = _normalize(reps / tot[:, None])

    def _online(self, xn: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Assign rows (heaviest first) to the nearest representative within max_dist, else
        open a new cluster; representatives are running weighted means."""
        order = np.argsort(-weights, kind="stable")
        labels = np.empty(xn.shape[0], dtype=np.int64)
        sums: list[np.ndarray] = []
        reps = np.zeros((0, xn.shape[1]))
        for i in order:
            if reps.shape[0]:
                d = cosine_distances(xn[i : i + 1], reps)[0]
                j = int(np.argmin(d))
                if d[j] <= self.max_dist:
                    labels[i] = j
                    sums[j] = sums[j] + weights[i] * xn[i]
                    reps[j] = _normalize(sums[j][None, :])[0]
                    continue
            labels[i] = len(sums)
            sums.append(weights[i] * xn[i])
            reps = np.vstack([reps, xn[i : i + 1]])
        return labels

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        return cosine_distances(_normalize(x), self.representatives_).min(axis=1)

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Templates where the sequence differs most from its nearest representative."""
        self._check_fitted()
        xn = _normalize(self.vectorizer_.transform([sequence]))
        j = int(np.argmin(cosine_distances(xn, self.representatives_)[0]))
        diff = xn[0] - self.representatives_[j]
        return self._explain_residuals(sequence, diff * diff)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"representatives": self.representatives_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        reps = arrays["representatives"]
        if reps.ndim != 2 or reps.shape[1] != self.vectorizer_.n_features:
            raise ValueError("representatives do not match the saved vectorizer")
        self.representatives_ = reps
