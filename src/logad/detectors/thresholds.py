"""Threshold policies: turn scores (higher = more anomalous) into a threshold t, alarms = score > t.

They sit beside the detectors that carry a threshold (`threshold_`), below the evaluation that
chooses which data a policy may see.

Policies see training or validation data only; the caller never passes test labels.
"""

from __future__ import annotations

import numpy as np

from logad.errors import InvalidParameterError, NotFittedError, unknown_name


def _scores(scores) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise InvalidParameterError(f"`scores` must be one-dimensional, got shape {s.shape}")
    if np.isnan(s).any():
        raise InvalidParameterError("`scores` must not contain NaN")
    return s


def _check_q(q) -> float:
    if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)) or not 0.0 < float(q) <= 1.0:
        raise InvalidParameterError(f"`q` must be a number in (0, 1], got {q!r}")
    return float(q)


class ThresholdPolicy:
    """Base: `fit(scores, labels=None) -> float` sets `threshold_`; `to_dict()` describes it."""

    name: str = ""
    threshold_: float | None = None

    def fit(self, scores, labels=None) -> float:  # pragma: no cover
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"policy": self.name}

    @property
    def value(self) -> float:
        if self.threshold_ is None:
            raise NotFittedError(f"threshold policy {self.name!r} is not fitted")
        return self.threshold_


class TrainQuantile(ThresholdPolicy):
    """Threshold = the `q` quantile of normal (training or held-out) scores; about (1 - q) of
    such scores then lie above it."""

    name = "train-quantile"

    def __init__(self, q: float = 0.995) -> None:
        self.q = q
        self.threshold_ = None

    def fit(self, scores, labels=None) -> float:
        q = _check_q(self.q)
        s = _scores(scores)
        if labels is not None:
            y = np.asarray(labels)
            if y.shape != s.shape:
                raise InvalidParameterError(f"`labels` must have shape {s.shape}, got {y.shape}")
            s = s[y == 0]  # the quantile of normal scores
        if s.size == 0:
            raise InvalidParameterError("train-quantile needs at least one (normal) score, got 0")
        self.threshold_ = float(np.quantile(s, q))
        return self.threshold_

    def to_dict(self) -> dict:
        return {"policy": self.name, "q": self.q}


class FixedThreshold(ThresholdPolicy):
    """A threshold given by the user; `fit` ignores its arguments."""

    name = "fixed"

    def __init__(self, value: float | None = None) -> None:
        self.fixed_value = value
        self.threshold_ = None

    def fit(self, scores=None, labels=None) -> float:
        v = self.fixed_value
        if v is None:
            raise InvalidParameterError("the fixed threshold policy needs its value: fixed:VALUE, e.g. fixed:0.5")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise InvalidParameterError(f"a fixed threshold must be a finite number, got {v!r}")
        self.threshold_ = float(v)
        return self.threshold_

    def to_dict(self) -> dict:
        return {"policy": self.name, "fixed_value": self.fixed_value}


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, f1) maximising F1 of `scores > threshold`.

    Candidate cuts lie between adjacent distinct scores; the threshold is their midpoint (a
    margin on both sides). Below the lowest score the cut is half a gap below it (1.0 below if
    all scores are equal). Among cuts with equal F1 the highest threshold (fewest alarms) wins.
    """
    u = np.unique(scores)  # ascending distinct scores
    y = labels.astype(bool)
    pos = int(y.sum())
    # for each distinct value v_k: alarms = scores >= v_k; tp/fp counted from the top
    order = np.searchsorted(u, scores)
    tp_at = np.bincount(order, weights=y, minlength=u.size)[::-1].cumsum()[::-1]
    all_at = np.bincount(order, minlength=u.size)[::-1].cumsum()[::-1]
    f1 = 2 * tp_at / (all_at + pos)  # 2tp / (2tp + fp + fn) = 2tp / (alarms + positives)
    best = f1.max()
    k = int(np.flatnonzero(f1 >= best - 1e-12).max())  # highest cut among ties
    if k > 0:
        thr = (u[k - 1] + u[k]) / 2.0
    else:
        gap = (u[1] - u[0]) if u.size > 1 else 2.0
        thr = u[0] - gap / 2.0
    return float(thr), float(best)


class BestF1OnValidation(ThresholdPolicy):
    """Threshold maximising F1 on validation scores + labels (see `best_f1_threshold`).

    When validation holds no anomaly, falls back to the `fallback_q` quantile of the given
    (all normal) scores and says so in `to_dict()`.
    """

    name = "best-f1-validation"

    def __init__(self, fallback_q: float = 0.995) -> None:
        self.fallback_q = fallback_q
        self.threshold_ = None
        self.fallback_: str | None = None
        self.f1_: float | None = None

    def fit(self, scores, labels=None) -> float:
        q = _check_q(self.fallback_q)
        s = _scores(scores)
        if labels is None:
            raise InvalidParameterError("best-f1-validation needs validation `labels`, got None")
        y = np.asarray(labels)
        if y.shape != s.shape:
            raise InvalidParameterError(f"`labels` must have shape {s.shape}, got {y.shape}")
        if s.size == 0:
            raise InvalidParameterError("best-f1-validation needs at least one validation score, got 0")
        if not np.all(np.isin(y, (0, 1))):
            raise InvalidParameterError(f"`labels` must hold only 0 and 1, got {np.unique(y)[:5].tolist()}")
        self.fallback_, self.f1_ = None, None
        if y.sum() == 0:
            self.fallback_ = f"validation holds no anomaly: quantile {q} of the given normal scores"
            self.threshold_ = float(np.quantile(s, q))
        else:
            self.threshold_, self.f1_ = best_f1_threshold(s, y)
        return self.threshold_

    def to_dict(self) -> dict:
        d: dict = {"policy": self.name, "fallback_q": self.fallback_q}
        if self.f1_ is not None:
            d["validation_f1"] = self.f1_
        if self.fallback_ is not None:
            d["fallback"] = self.fallback_
        return d


POLICIES: dict[str, type[ThresholdPolicy]] = {
    "best-f1-validation": BestF1OnValidation,
    "train-quantile": TrainQuantile,
    "fixed": FixedThreshold,
}


# the one number a policy spec may carry after its name: `fixed:0.5`, `train-quantile:0.99`
SPEC_PARAMETER = {"fixed": "value", "train-quantile": "q", "best-f1-validation": "fallback_q"}


def get_policy(name: str, **kw) -> ThresholdPolicy:
    """A new policy by name or spec: 'best-f1-validation[:FALLBACK_Q]', 'train-quantile[:Q]' or
    'fixed:VALUE' (what `--threshold-policy` takes); keyword arguments set the same parameters."""
    name, sep, arg = str(name).partition(":")
    try:
        cls = POLICIES[name]
    except (KeyError, TypeError):
        raise unknown_name("threshold policy", str(name), list(POLICIES)) from None
    if sep:
        try:
            number = float(arg)
        except ValueError:
            raise InvalidParameterError(
                f"threshold policy {name!r} takes a number after ':', got {arg!r} (e.g. {name}:0.5)") from None
        kw[SPEC_PARAMETER[name]] = number
    try:
        return cls(**kw)
    except TypeError as exc:
        raise InvalidParameterError(f"threshold policy {name!r}: {exc}") from exc
