"""PCA detector (Xu et al., SOSP'09; loglizer): model the normal subspace of event-count vectors,
score = squared prediction error (SPE), the squared length of a vector's residual outside it."""

from __future__ import annotations

import numpy as np

from logad.detectors.base import VectorDetector, check_float, check_int
from logad.errors import InvalidParameterError
from logad.records import Sequence


class PCADetector(VectorDetector):
    """PCA on (weighted, deduplicated) normal training vectors; score = SPE.

    ``n_components``: a float in (0, 1) keeps the fewest components explaining that share of
    variance (loglizer's 0.95 default); an int >= 1 keeps that many.
    """

    explains = True
    name = "pca"
    supervised = False
    needs_normal_only = True

    def __init__(self, *, n_components: float | int = 0.95, features: str = "tfidf") -> None:
        self.n_components = n_components
        self.features = features

    def _validate_params(self) -> None:
        super()._validate_params()
        nc = self.n_components
        if isinstance(nc, bool) or not isinstance(nc, (int, float, np.integer, np.floating)):
            raise InvalidParameterError(f"`n_components` must be a float in (0, 1) or an int >= 1, got {nc!r}")
        if isinstance(nc, (int, np.integer)):
            check_int("n_components", nc, 1)
        else:
            check_float("n_components", nc, 0.0, 1.0, low_open=True, high_open=True)

    def _fit_matrix(self, x: np.ndarray, y: np.ndarray | None, weights: np.ndarray) -> None:
        w = weights / weights.sum()
        self.mean_ = w @ x
        xc = x - self.mean_
        cov = (xc * w[:, None]).T @ xc  # weighted covariance = covariance of the duplicated data
        evals, evecs = np.linalg.eigh(cov)
        order = np.argsort(evals)[::-1]
        evals, evecs = np.clip(evals[order], 0.0, None), evecs[:, order]
        total = evals.sum()
        if isinstance(self.n_components, (int, np.integer)):
            k = min(int(self.n_components), x.shape[1])
        elif total <= 0:
            k = 0  # all training vectors identical: the normal "subspace" is the mean alone
        else:
            ratio = np.cumsum(evals) / total
            k = int(np.searchsorted(ratio, float(self.n_components)) + 1)
        self.components_ = np.ascontiguousarray(evecs[:, :k])  # (d, k)

    def _residual(self, x: np.ndarray) -> np.ndarray:
        xc = x - self.mean_
        return xc - (xc @ self.components_) @ self.components_.T

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        r = self._residual(x)
        return np.einsum("ij,ij->i", r, r)

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Templates with the largest squared residual (their share of the SPE)."""
        self._check_fitted()
        r = self._residual(self.vectorizer_.transform([sequence]))[0]
        return self._explain_residuals(sequence, r * r)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "components": self.components_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        d = self.vectorizer_.n_features
        self.mean_, self.components_ = arrays["mean"], arrays["components"]
        if self.mean_.shape != (d,) or self.components_.ndim != 2 or self.components_.shape[0] != d:
            raise ValueError("PCA arrays do not match the saved vectorizer")
