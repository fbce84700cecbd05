"""Threshold policies: turn scores (higher = more anomalous) into a threshold t, alarms = score > t.

They sit beside the detectors that carry a threshold (`threshold_`), below the evaluation that
chooses which data a policy may see.

Policies see training or validation data only; the caller never passes test labels.

`AlarmBudget` (`alarm-budget:B`) is the one that answers "flag about B of normal operation": it
takes OUT-OF-FOLD scores of all training normals (`cross_fitted_scores`: k copies of the detector,
each fitted without one fold and scoring that fold) and sets the threshold at their conformal
(1 - B) quantile. A model's scores of its own training data are lower than its scores of new
normal data (it has seen them), and a small held-out tail is too short for a 0.1 % quantile;
out-of-fold scores are scores of data the scoring model has not seen, for every training normal.
"""

from __future__ import annotations

import math

import numpy as np

from logad.errors import InvalidParameterError, NotFittedError, unknown_name
from logad.progress import SILENT, Progress


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
    """Base: `fit(scores, labels=None) -> float` sets `threshold_`; `to_dict()` describes it.

    `alarm_budget` is the share of normal sequences the policy means to flag (None when it does
    not aim at one: best F1 on anomalies, a fixed value); results print it beside the achieved FPR."""

    name: str = ""
    threshold_: float | None = None

    @property
    def alarm_budget(self) -> float | None:
        return None

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

    @property
    def alarm_budget(self) -> float | None:
        return _implied_budget(self.q)

    def to_dict(self) -> dict:
        return {"policy": self.name, "q": self.q}


def _implied_budget(q) -> float | None:
    """1 - q, rounded off float noise (1 - 0.995 = 0.005, not 0.0050000000000000044)."""
    try:
        return round(1.0 - float(q), 12)
    except (TypeError, ValueError):
        return None


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


def scores_needed_for_quantile(q: float) -> int | None:
    """How many scores the `q` quantile needs to be more than their largest's neighbour: the n
    with n * (1 - q) >= 1 (1 - 0.9 is a little under 0.1 in floating point: 10, not 11);
    None for q >= 1 (no number is enough)."""
    return math.ceil(1.0 / (1.0 - q) - 1e-9) if q < 1 else None


def too_few_for_quantile(q: float, n: int, what: str = "normal scores") -> str | None:
    """A warning when the `q` quantile of `n` scores says little: it is only more than their
    largest's neighbour when n * (1 - q) >= 1, so with fewer scores new normal data crosses it far
    more often than 1 - q (about 1 / (n + 1) of the time)."""
    needed = scores_needed_for_quantile(q)
    if needed is not None and n >= needed:
        return None
    return (f"the threshold is the {q} quantile of only {n} {what} (it needs at least {needed or 'infinitely many'} "
            f"for that quantile): expect about 1/{n + 1} of new normal sequences to alarm, not {1 - q:.3g}")


class BestF1OnValidation(ThresholdPolicy):
    """Threshold maximising F1 on validation scores + labels (see `best_f1_threshold`).

    When validation holds no anomaly, falls back to the `fallback_q` quantile of the given
    (all normal) scores and says so in `to_dict()`, with a warning when they are too few for
    that quantile (`too_few_for_quantile`).
    """

    name = "best-f1-validation"

    def __init__(self, fallback_q: float = 0.995) -> None:
        self.fallback_q = fallback_q
        self.threshold_ = None
        self.fallback_: str | None = None
        self.f1_: float | None = None
        self.n_scores_: int | None = None
        self.warning_: str | None = None

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
        self.fallback_, self.f1_, self.warning_ = None, None, None
        self.n_scores_ = int(s.size)
        if y.sum() == 0:
            self.fallback_ = f"validation holds no anomaly: quantile {q} of the {s.size} given normal scores"
            self.threshold_ = float(np.quantile(s, q))
            self.warning_ = too_few_for_quantile(q, s.size, "normal validation scores")
        else:
            self.threshold_, self.f1_ = best_f1_threshold(s, y)
        return self.threshold_

    @property
    def applied(self) -> str | None:
        """The rule the fitted threshold came from, in a few words (None before `fit`)."""
        if self.n_scores_ is None:
            return None
        if self.fallback_ is not None:
            return f"quantile {self.fallback_q} of {self.n_scores_} validation normals (no validation anomaly)"
        return f"best F1 on {self.n_scores_} validation sequences"

    @property
    def alarm_budget(self) -> float | None:
        return _implied_budget(self.fallback_q) if self.fallback_ is not None else None

    def to_dict(self) -> dict:
        d: dict = {"policy": self.name, "fallback_q": self.fallback_q}
        if self.f1_ is not None:
            d["validation_f1"] = self.f1_
        if self.fallback_ is not None:
            d["fallback"] = self.fallback_
        if self.n_scores_ is not None:
            d["n_scores"] = self.n_scores_
            d["applied"] = self.applied
        if self.warning_ is not None:
            d["warning"] = self.warning_
        return d

def _check_budget(budget) -> float:
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(budget) < 1.0:
        raise InvalidParameterError(f"`budget` must be a share of normal sequences in (0, 1), e.g. 0.01, got {budget!r}")
    return float(budget)


FOLD_ORDERS = ("blocks", "shuffled")
# how the fold models' out-of-fold scores decide: one threshold for a final model (cross-fit), or
# the fold models score new sequences themselves (cross-conformal, logad.detectors.conformal)
BUDGET_METHODS = ("cross-fit", "cross-conformal")


def _check_folds(folds, fold_order) -> tuple[int, str]:
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer, float, np.floating)) \
            or float(folds) != int(folds) or int(folds) < 2:
        raise InvalidParameterError(f"`folds` must be an integer >= 2, got {folds!r}")
    if fold_order not in FOLD_ORDERS:
        raise InvalidParameterError(f"`fold_order` must be one of {', '.join(map(repr, FOLD_ORDERS))}, got {fold_order!r}")
    return int(folds), fold_order


def conformal_threshold(scores, budget: float) -> tuple[float, str | None]:
    """(threshold, warning): the ceil((n + 1)(1 - budget))-th smallest of n normal scores.

    A new normal score exchangeable with these exceeds it with probability at most `budget`
    (split-conformal bound; ties only lower the rate). With fewer than 1/budget - 1 scores the bound
    needs a rank beyond the largest score: the largest is used and the warning says so."""
    s = np.sort(_scores(scores))
    budget = _check_budget(budget)
    n = s.size
    if n == 0:
        raise InvalidParameterError("alarm-budget needs at least one normal score, got 0")
    k = math.ceil((n + 1) * (1.0 - budget) - 1e-9)
    if k > n:
        need = math.ceil(1.0 / budget - 1.0 - 1e-9)
        return float(s[-1]), (f"a {budget:g} alarm budget needs at least {need} normal scores, got {n}: the threshold "
                              "is their largest, so expect more than the budget's alarms on new normal data")
    return float(s[k - 1]), None


class AlarmBudget(ThresholdPolicy):
    """Flag about `budget` of normal operation: the conformal (1 - budget) quantile of out-of-fold
    scores of ALL training normals (`cross_fitted_scores` makes them with `folds` copies of the
    detector; `fit` takes those scores). `fold_order`: "shuffled" (the default, by the rule in
    benchmarks/README.md) = a seeded random partition; "blocks" = consecutive blocks in the given
    (time) order, so each fold is also a stretch of time the scoring model has not seen.
    `method`: "cross-fit" puts this threshold on a model fitted on all of them; "cross-conformal"
    makes the fold models the model (`logad.detectors.conformal.CrossConformal`: each scores a new
    sequence against its own fold; the callers, `evaluate_detector` and `train_model`, build it)."""

    name = "alarm-budget"

    def __init__(self, budget: float = 0.01, folds: int = 5, fold_order: str = "shuffled",
                 method: str = "cross-fit") -> None:
        self.budget = budget
        self.folds = folds
        self.fold_order = fold_order
        self.method = method
        self.threshold_ = None
        self.n_scores_: int | None = None
        self.warning_: str | None = None
        self.folds_used_: int | None = None

    def folds_for(self, n: int) -> int:
        """The folds to cut `n` normal sequences into: `folds`, or n (one sequence per fold) when
        there are fewer; recorded in `to_dict()`."""
        folds, _ = _check_folds(self.folds, self.fold_order)
        if n < 2:
            raise InvalidParameterError(f"an alarm budget needs at least 2 normal sequences to cross-fit, got {n}")
        self.folds_used_ = min(folds, n)
        return self.folds_used_

    @property
    def alarm_budget(self) -> float | None:
        return self.budget

    def check(self) -> AlarmBudget:
        """Validate the parameters (before any expensive cross-fitting)."""
        _check_budget(self.budget)
        _check_folds(self.folds, self.fold_order)
        if self.method not in BUDGET_METHODS:
            raise InvalidParameterError(
                f"`method` must be one of {', '.join(map(repr, BUDGET_METHODS))}, got {self.method!r}")
        return self

    def fit(self, scores, labels=None) -> float:
        """`scores`: out-of-fold scores of normal sequences (with `labels`, only label-0 ones count)."""
        self.check()
        s = _scores(scores)
        if labels is not None:
            y = np.asarray(labels)
            if y.shape != s.shape:
                raise InvalidParameterError(f"`labels` must have shape {s.shape}, got {y.shape}")
            s = s[y == 0]
        self.threshold_, self.warning_ = conformal_threshold(s, self.budget)
        self.n_scores_ = int(s.size)
        return self.threshold_

    def to_dict(self) -> dict:
        used = self.folds_used_ or self.folds
        d: dict = {"policy": self.name, "budget": self.budget, "folds": used, "fold_order": self.fold_order,
                   "method": self.method}
        if used != self.folds:
            d["folds_asked"] = self.folds
        if self.n_scores_ is not None:
            d["n_scores"] = self.n_scores_
            d["scores_from"] = f"out-of-fold scores of the training normals ({used} models, each without one fold)"
        if self.warning_:
            d["warning"] = self.warning_
        return d


def fold_indices(n: int, folds: int, fold_order: str = "shuffled", seed: int = 0) -> list[np.ndarray]:
    """`folds` disjoint index arrays covering range(n): consecutive blocks, or a seeded shuffle."""
    folds, fold_order = _check_folds(folds, fold_order)
    if n < folds:
        raise InvalidParameterError(f"cross-fitting with {folds} folds needs at least {folds} sequences, got {n}")
    order = np.arange(n) if fold_order == "blocks" else np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def cross_fitted_scores(
    detector,
    normals: list,
    *,
    anomalies: list | None = None,
    folds: int = 5,
    fold_order: str = "shuffled",
    seed: int = 0,
    templates: dict[int, str] | None = None,
    progress: Progress = SILENT,
    keep_models: list | None = None,
) -> np.ndarray:
    """Out-of-fold scores of `normals` (in their order): for each fold, a fresh detector with
    `detector`'s parameters is fitted on the other folds and scores this one. The fitted copies
    are appended to `keep_models` when a list is given (fold order; `fold_indices` gives the folds).

    A supervised detector also needs `anomalies` (they are cut into the same number of folds, and
    each copy is fitted with the anomalies outside its fold); only normal scores are returned.
    `detector` itself is neither fitted nor changed."""
    normals = list(normals)
    anomalies = list(anomalies or [])
    supervised = bool(getattr(detector, "supervised", False))
    parts = fold_indices(len(normals), folds, fold_order, seed)
    if supervised and len(anomalies) < folds:
        raise InvalidParameterError(
            f"cross-fitting the supervised {detector.name!r} needs at least {folds} training anomalies, got {len(anomalies)}")
    bad_parts = fold_indices(len(anomalies), folds, fold_order, seed) if supervised else None
    out = np.empty(len(normals), dtype=np.float64)
    params = detector.get_params()
    for j, part in enumerate(parts):
        held = set(part.tolist())
        fit_seqs = [s for i, s in enumerate(normals) if i not in held]
        labels = None
        if supervised:
            bad_held = set(bad_parts[j].tolist())
            bad = [s for i, s in enumerate(anomalies) if i not in bad_held]
            fit_seqs = fit_seqs + bad
            labels = np.r_[np.zeros(len(fit_seqs) - len(bad), dtype=int), np.ones(len(bad), dtype=int)]
        progress.stage(f"alarm budget: fold {j + 1}/{len(parts)}, fitting {detector.name} on {len(fit_seqs)} sequences, "
                       f"scoring {len(part)} held-out normal ones")
        copy = type(detector)(**params)
        copy.fit(fit_seqs, labels, templates=templates)
        out[part] = copy.score([normals[i] for i in part])
        if keep_models is not None:
            keep_models.append(copy)
    return out


POLICIES: dict[str, type[ThresholdPolicy]] = {
    "best-f1-validation": BestF1OnValidation,
    "train-quantile": TrainQuantile,
    "fixed": FixedThreshold,
    "alarm-budget": AlarmBudget,
}


# the one number a policy spec may carry after its name: `fixed:0.5`, `train-quantile:0.99`
SPEC_PARAMETER = {"fixed": "value", "train-quantile": "q", "best-f1-validation": "fallback_q", "alarm-budget": "budget"}


def get_policy(name: str, **kw) -> ThresholdPolicy:
    """A new policy by name or spec: 'best-f1-validation[:FALLBACK_Q]', 'train-quantile[:Q]',
    'alarm-budget[:BUDGET]' or 'fixed:VALUE' (what `--threshold-policy` takes); keyword arguments
    set the same parameters."""
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
