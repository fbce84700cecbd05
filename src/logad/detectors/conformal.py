"""Cross-conformal alarm budgets: the fold models themselves score new sequences.

`AlarmBudget` (thresholds.py) puts one threshold on a final model from out-of-fold scores of
other models. That is only right when every model gives a normal sequence the same score; learned
scores move from fit to fit (a common HDFS session scored 1.39 by one DeepLog and 1.29 by another),
and with sessions that repeat by the hundred a threshold between two such values flags a whole
session type. Here nothing is transferred between models: each of the K fold models compares a
new sequence with the fold it did not see, and the conformal p-value pools the K comparisons,

    p(x) = (1 + sum_k #{i in fold k : s_k(x_i) >= s_k(x)}) / (n + 1),

(Vovk's cross-conformal p-value; a new exchangeable normal has p <= B with probability close to
B, at most about 2B). The score is 1 - p (higher = more anomalous) and a budget B is the threshold
1 - B - 1/(2(n + 1)): alarm iff p <= B. Scoring costs K models.
"""

from __future__ import annotations

import numpy as np

from logad.detectors.base import Detector, check_int
from logad.errors import InvalidParameterError
from logad.progress import SILENT


class CrossConformal(Detector):
    """K copies of `base` (registered detector name, with `base_params`), each fitted without one
    fold of the normal training sequences; `score` is 1 - the cross-conformal p-value."""

    name = "cross-conformal"
    needs_normal_only = True

    def __init__(self, *, base: str = "knn", base_params: dict | None = None, folds: int = 5,
                 fold_order: str = "shuffled", fold_seed: int = 0) -> None:
        self.base = base
        self.base_params = base_params
        self.folds = folds
        self.fold_order = fold_order
        self.fold_seed = fold_seed

    @classmethod
    def around(cls, detector: Detector, *, folds: int = 5, fold_order: str = "shuffled") -> CrossConformal:
        """A cross-conformal wrapper of `detector`'s kind and parameters (it is not fitted)."""
        return cls(base=detector.name, base_params=dict(detector.get_params()), folds=folds, fold_order=fold_order)

    # what the members can do, the wrapper can do
    def _template(self) -> Detector:
        from logad.detectors.registry import get_detector

        return get_detector(self.base, **(self.base_params or {}))

    @property
    def supervised(self) -> bool:  # type: ignore[override]
        from logad.detectors.registry import detector_class

        return bool(detector_class(self.base).supervised)

    @property
    def uses_templates(self) -> bool:  # type: ignore[override]
        from logad.detectors.registry import detector_class

        return bool(detector_class(self.base).uses_templates)

    @property
    def explains(self) -> bool:  # type: ignore[override]
        from logad.detectors.registry import detector_class

        return bool(detector_class(self.base).explains)

    @property
    def localises(self) -> bool:  # type: ignore[override]
        from logad.detectors.registry import detector_class

        return bool(detector_class(self.base).localises)

    def needs_line_values(self) -> bool:
        return self._template().needs_line_values()

    def _validate_params(self) -> None:
        from logad.detectors.registry import detector_class
        from logad.detectors.thresholds import _check_folds

        detector_class(self.base)  # an unknown name raises with a did-you-mean
        if self.base == self.name:
            raise InvalidParameterError("`base` must be another detector than 'cross-conformal'")
        if self.base_params is not None and not isinstance(self.base_params, dict):
            raise InvalidParameterError(f"`base_params` must be a dict, got {self.base_params!r}")
        _check_folds(self.folds, self.fold_order)
        check_int("fold_seed", self.fold_seed, 0)

    def fit(self, sequences, labels=None, *, templates=None, progress=None, on_epoch_end=None) -> CrossConformal:
        self._templates = templates
        return super().fit(sequences, labels, templates=None, progress=progress, on_epoch_end=None)

    def _fit(self, sequences, labels) -> None:
        from logad.detectors.thresholds import cross_fitted_scores, fold_indices

        if self.supervised:
            raise InvalidParameterError(
                f"cross-conformal budgets take a semi-supervised base detector, got the supervised {self.base!r}")
        n = len(sequences)
        folds = min(int(self.folds), n)
        if n < 2:
            raise InvalidParameterError(f"cross-conformal budgets need at least 2 normal sequences, got {n}")
        members: list[Detector] = []
        oof = cross_fitted_scores(self._template(), sequences, folds=folds, fold_order=self.fold_order,
                                  seed=self.fold_seed, templates=getattr(self, "_templates", None),
                                  progress=self._progress or SILENT, keep_models=members)
        parts = fold_indices(n, folds, self.fold_order, self.fold_seed)
        self.members_ = members
        self.reference_ = [np.sort(oof[p]) for p in parts]  # each member's out-of-fold scores
        self.n_reference_ = n
        self._templates = None

    def add_templates(self, templates):
        for m in getattr(self, "members_", []):
            m.add_templates(templates)
        return self

    def p_values(self, sequences) -> np.ndarray:
        """The cross-conformal p-value of every sequence (small = unlike the training normals)."""
        self._check_fitted()
        seqs = list(sequences)
        count = np.zeros(len(seqs))
        for member, ref in zip(self.members_, self.reference_):
            s = member.score(seqs)
            count += ref.size - np.searchsorted(ref, s, side="left")  # #{ref >= s}
        return (1.0 + count) / (self.n_reference_ + 1.0)

    def _score(self, sequences) -> np.ndarray:
        return 1.0 - self.p_values(sequences)

    def budget_threshold(self, budget: float) -> float:
        """The threshold on `score` that alarms iff p <= budget (p moves in steps of 1/(n + 1)).
        With fewer than 1/budget - 1 reference scores no p reaches the budget: the threshold then
        alarms on sequences beyond every reference score (p = 1/(n + 1)); `budget_warning` says so."""
        from logad.detectors.thresholds import _check_budget

        step = 1.0 / (self.n_reference_ + 1.0)
        return 1.0 - max(_check_budget(budget), step) - 0.5 * step

    def budget_warning(self, budget: float) -> str | None:
        n = self.n_reference_
        if 1.0 / (n + 1.0) <= budget:
            return None
        return (f"a {budget:g} alarm budget needs at least {int(np.ceil(1 / budget - 1 - 1e-9))} normal sequences, got "
                f"{n}: the model alarms on sequences beyond every out-of-fold score, so expect more than the budget's "
                "alarms on new normal data")

    def explain(self, sequence):
        return self.members_[0].explain(sequence)

    def localise(self, sequence):
        return self.members_[0].localise(sequence)

    # -- persistence: every member's own state, side by side ------------------------------------
    def _versions(self) -> dict[str, str]:
        return self.members_[0]._versions()

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        states, arrays = [], {}
        for k, m in enumerate(self.members_):
            st, arr = m._get_state()
            states.append(st)
            arrays.update({f"member{k}.{name}": a for name, a in arr.items()})
            arrays[f"reference{k}"] = self.reference_[k]
        return {"members": states, "n_reference": self.n_reference_}, arrays

    def _set_state(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        members, reference = [], []
        for k, st in enumerate(state["members"]):
            prefix = f"member{k}."
            m = self._template()
            m._validate_params()
            m._set_state(st, {name[len(prefix):]: a for name, a in arrays.items() if name.startswith(prefix)})
            m._fitted = True
            members.append(m)
            reference.append(np.sort(np.asarray(arrays[f"reference{k}"], dtype=np.float64)))
        if not members:
            raise InvalidParameterError("a cross-conformal detector holds no member")
        self.members_, self.reference_ = members, reference
        self.n_reference_ = int(state["n_reference"])
        if self.n_reference_ != sum(r.size for r in reference):
            raise InvalidParameterError("the saved reference scores do not add up to their count")
