"""Invariants mining (Lou et al., USENIX ATC'10; loglizer): normal executions keep linear
relations between event counts (e.g. every "open" has one "close"); score = number of such
relations a sequence breaks.

Kept simple and fast: invariants have support 2 (``a*x_i == b*x_j`` for small coprime a, b) or
3 (candidate from the null direction of the 3x3 Gram matrix, rounded to small integers), and
must hold on at least `percentage` of the (weighted) training sequences in which any of their
templates occurs. A template never seen in training breaks the implicit invariant
"count of unseen templates == 0", which adds 1 to the score.
"""

from __future__ import annotations

from itertools import combinations
from math import gcd

import numpy as np

from logad.detectors.base import VectorDetector, check_float, check_int
from logad.records import Sequence


class InvariantsMiningDetector(VectorDetector):
    """Score = number of mined invariants violated (+1 when unseen templates occur)."""

    explains = True
    name = "invariants-mining"
    supervised = False
    needs_normal_only = True
    features = "counts"  # invariants are relations between integer counts; not a parameter

    def __init__(
        self,
        *,
        percentage: float = 0.98,
        max_support: int = 3,
        max_coefficient: int = 3,
        max_candidates: int = 50_000,
    ) -> None:
        self.percentage = percentage
        self.max_support = max_support
        self.max_coefficient = max_coefficient
        self.max_candidates = max_candidates

    def _validate_params(self) -> None:
        check_float("percentage", self.percentage, 0.0, 1.0, low_open=True)
        check_int("max_support", self.max_support, 2)
        if self.max_support > 3:
            from logad.errors import InvalidParameterError

            raise InvalidParameterError(f"`max_support` must be 2 or 3, got {self.max_support!r}")
        check_int("max_coefficient", self.max_coefficient, 1)
        check_int("max_candidates", self.max_candidates, 1)

    # -- mining ---------------------------------------------------------------------------------
    def _holds(self, x: np.ndarray, w: np.ndarray, cols: list[int], coef: np.ndarray) -> bool:
        sub = x[:, cols]
        active = (sub > 0).any(axis=1)
        if not active.any():
            return False
        ok = np.abs(sub[active] @ coef) < 0.5
        return float(w[active][ok].sum()) >= self.percentage * float(w[active].sum())

    def _fit_matrix(self, x: np.ndarray, y: np.ndarray | None, weights: np.ndarray) -> None:
        cmax = int(self.max_coefficient)
        d = x.shape[1]
        cols = [j for j in range(1, d) if (x[:, j] > 0).any()]  # column 0 = unseen, skip
        ratios = [(a, b) for a in range(1, cmax + 1) for b in range(1, cmax + 1) if gcd(a, b) == 1]
        invariants: list[tuple[list[int], np.ndarray]] = []
        in_pair: set[frozenset[int]] = set()
        budget = int(self.max_candidates)
        for i, j in combinations(cols, 2):
            if budget <= 0:
                break
            budget -= 1
            xi, xj = x[:, i], x[:, j]
            active = (xi > 0) | (xj > 0)
            wa = weights[active]
            best, best_share = None, -1.0
            for a, b in ratios:
                share = float(wa[(a * xi[active] == b * xj[active])].sum()) / float(wa.sum())
                if share > best_share:
                    best, best_share = (a, b), share
            if best is not None and best_share >= self.percentage:
                invariants.append(([i, j], np.array([best[0], -best[1]], dtype=np.float64)))
                in_pair.add(frozenset((i, j)))
        if self.max_support >= 3 and budget > 0:
            gram = (x * weights[:, None]).T @ x  # rows where a support is all-zero add nothing
            triples = [
                t for t in combinations(cols, 3)
                if not any(frozenset(p) in in_pair for p in combinations(t, 2))
            ][:budget]
            if triples:
                idx = np.array(triples)
                g = gram[idx[:, :, None], idx[:, None, :]]  # (T, 3, 3)
                scale = np.maximum(np.trace(g, axis1=1, axis2=2), 1e-12)
                evals, evecs = np.linalg.eigh(g)
                for t, ev, vec, sc in zip(triples, evals[:, 0], evecs[:, :, 0], scale):
                    if ev > 1e-3 * sc:  # no near-exact null direction
                        continue
                    nz = np.abs(vec) > 1e-6
                    if not nz.all():
                        continue  # a support-2 relation, already tested
                    v = vec / np.abs(vec).min()
                    coef = np.round(v)
                    if np.abs(v - coef).max() > 0.05 or np.abs(coef).max() > cmax:
                        continue
                    if self._holds(x, weights, list(t), coef):
                        invariants.append((list(t), coef))
        m = len(invariants)
        self.inv_cols_ = np.full((m, 3), -1, dtype=np.int64)
        self.inv_coef_ = np.zeros((m, 3), dtype=np.float64)
        for r, (c, coef) in enumerate(invariants):
            self.inv_cols_[r, : len(c)] = c
            self.inv_coef_[r, : len(c)] = coef

    # -- scoring --------------------------------------------------------------------------------
    def _violations(self, x: np.ndarray) -> np.ndarray:
        """Boolean (n, m): which invariants each row breaks."""
        if self.inv_cols_.shape[0] == 0:
            return np.zeros((x.shape[0], 0), dtype=bool)
        pad = np.hstack([x, np.zeros((x.shape[0], 1))])  # index -1 -> this zero column
        vals = (pad[:, self.inv_cols_] * self.inv_coef_[None, :, :]).sum(axis=2)
        return np.abs(vals) > 0.5

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:
        return self._violations(x).sum(axis=1) + (x[:, 0] > 0)

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Templates in broken invariants, weighted by how many they break (0 = unseen)."""
        self._check_fitted()
        x = self.vectorizer_.transform([sequence])
        contrib = np.zeros(x.shape[1])
        broken = self._violations(x)[0]
        for cols in self.inv_cols_[broken]:
            for c in cols[cols >= 0]:
                contrib[c] += 1.0
        contrib[0] += float(x[0, 0] > 0)
        return self._explain_residuals(sequence, contrib)

    @property
    def invariants(self) -> list[dict[int, int]]:
        """Mined invariants as {template id: coefficient} (sum of coef * count == 0)."""
        self._check_fitted()
        out = []
        for cols, coef in zip(self.inv_cols_, self.inv_coef_):
            out.append({int(self.vectorizer_.column_template(int(c))): int(k) for c, k in zip(cols, coef) if c >= 0})
        return out

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"inv_cols": self.inv_cols_, "inv_coef": self.inv_coef_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        cols, coef = arrays["inv_cols"].astype(np.int64), arrays["inv_coef"].astype(np.float64)
        if cols.ndim != 2 or cols.shape[1] != 3 or coef.shape != cols.shape or cols.max(initial=0) >= self.vectorizer_.n_features:
            raise ValueError("invariant arrays do not match the saved vectorizer")
        self.inv_cols_, self.inv_coef_ = cols, coef
