"""The detector protocol, shared plumbing, and non-pickle persistence.

Conventions (sklearn/pyod): keyword-only ``__init__`` stores parameters; ``fit`` validates them,
learns, returns ``self``; ``score`` returns float64 (n,) where HIGHER = MORE ANOMALOUS;
``predict`` = ``score > threshold_``; ``threshold_`` is set by a threshold policy
(``logad.detectors.thresholds``), never by the detector itself.

Persistence: one folder format for every detector (`logad.detectors.persistence`): JSON for
parameters, threshold and small state, safetensors for arrays; loading runs no foreign code.
Models whose fitted state is not plain arrays (sklearn trees, forests, SVMs, logistic regression,
isolation forest) save their deduplicated training matrix, labels and weights instead and refit
deterministically (same data order, same seed) on load, so scores after loading are identical.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from logad.errors import InputError, InvalidParameterError, NotFittedError
from logad.features.vectors import SequenceVectorizer, check_kind
from logad.progress import SILENT, Progress
from logad.records import Sequence


# -- parameter checks (messages quote the argument and the value) -------------------------------
def check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameterError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = np.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise InvalidParameterError(f"`{name}` must be a number in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


def check_seed(value: Any) -> int | None:
    if value is None:
        return None
    return check_int("random_state", value, 0)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidParameterError(f"`{name}` must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def unique_rows(x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Deduplicate rows of `x` (jointly with labels `y` when given).

    Returns (unique rows, their labels or None, counts) in a canonical (sorted) order, so that
    fitting on the result is independent of input order. HDFS has ~5% unique sessions, so this
    shrinks most work by ~20x.
    """
    if y is None:
        u, counts = np.unique(x, axis=0, return_counts=True)
        return u, None, counts.astype(np.float64)
    joint = np.hstack([x, np.asarray(y, dtype=np.float64).reshape(-1, 1)])
    u, counts = np.unique(joint, axis=0, return_counts=True)
    return u[:, :-1], u[:, -1].astype(np.int64), counts.astype(np.float64)


class Detector:
    """Base class of every detector. Subclasses implement `_fit` and `_score`.

    Class attributes: `name` (registry name), `supervised` (fit needs labels with both classes),
    `needs_normal_only` (semi-supervised: fit on normal sequences; given labels, rows with
    label == 1 are dropped), and what else a detector can do, declared so that callers never probe
    with `hasattr`:
    - `uses_templates`: reads the template texts `fit(templates=...)` gives (semantic detectors);
    - `reports_epochs`: calls `fit(on_epoch_end=...)` after every training epoch (a tuner's hook);
    - `explains`: `explain(sequence)` names the templates that drove a score;
    - `localises`: `localise(sequence)` names the positions of the lines to blame;
    - `needs_line_values()`: reads `Sequence.line_values` (parameter values), given its parameters;
    - `max_score`: the largest score it can give (a threshold there can never be exceeded).
    """

    name: ClassVar[str] = ""
    supervised: ClassVar[bool] = False
    needs_normal_only: ClassVar[bool] = True
    uses_templates: ClassVar[bool] = False
    reports_epochs: ClassVar[bool] = False
    explains: ClassVar[bool] = False
    localises: ClassVar[bool] = False
    # the largest score the detector can give (1.0 for a probability), None when unbounded
    max_score: ClassVar[float | None] = None
    # parameters added after models were saved without them, with the value those models had (a
    # new default must not change what an old saved model is: DeepLog's n_models came at 3)
    saved_without: ClassVar[dict] = {}

    threshold_: float | None = None
    # the hooks `fit` was handed, for the fit in progress (never saved): subclasses read these
    _progress: Progress = SILENT
    _on_epoch_end: Callable[[int, float, float], None] | None = None

    def needs_line_values(self) -> bool:
        """Whether scoring reads `Sequence.line_values` (a loader then extracts them)."""
        return False

    def add_templates(self, templates: dict[int, str]) -> Detector:
        """Texts of templates ({id: text}) for a detector that `uses_templates`: `fit` passes the
        ones it is given; call it again with texts of templates that appear after fitting. Other
        detectors ignore them."""
        return self

    # -- parameters ----------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def get_params(self) -> dict:
        """The constructor parameters, as given (sklearn style)."""
        return {p: getattr(self, p) for p in self._param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        """Raise InvalidParameterError on a bad parameter value (called by `fit`)."""

    # -- fit / score ---------------------------------------------------------------------------
    def fit(
        self,
        sequences: Iterable[Sequence],
        labels: np.ndarray | None = None,
        *,
        templates: dict[int, str] | None = None,
        progress: Progress | None = None,
        on_epoch_end: Callable[[int, float, float], None] | None = None,
    ) -> Detector:
        """Learn from `sequences` (with `labels` for supervised detectors); returns self.

        `templates` ({id: text}) are read by detectors that represent templates by their meaning
        (`uses_templates`), ignored by the others; `progress` receives stage messages;
        `on_epoch_end(epoch, train_loss, val_loss)` is called after every epoch of a detector that
        `reports_epochs`."""
        self._validate_params()
        if templates and self.uses_templates:
            self.add_templates(templates)
        self._progress = progress or SILENT
        self._on_epoch_end = on_epoch_end
        seqs = list(sequences)
        if not seqs:
            raise InvalidParameterError("`sequences` must not be empty, got 0 sequences")
        y = self._check_labels(seqs, labels)
        if not self.supervised and y is not None:
            keep = np.flatnonzero(y == 0)
            if keep.size == 0:
                raise InvalidParameterError(
                    f"detector {self.name!r} fits on normal sequences, but every given label is 1"
                )
            seqs = [seqs[i] for i in keep]
            y = None
        self._fitted = False
        self.threshold_ = None  # a refit invalidates any earlier threshold
        try:
            self._fit(seqs, y)
        finally:
            self._progress, self._on_epoch_end = SILENT, None  # hooks of one fit are not kept
        self._fitted = True
        return self

    def _check_labels(self, seqs: list[Sequence], labels: np.ndarray | None) -> np.ndarray | None:
        if labels is None:
            if not self.supervised:
                return None
            if any(s.label is None for s in seqs):
                raise InvalidParameterError(
                    f"detector {self.name!r} is supervised: pass `labels` or sequences with labels"
                )
            labels = np.array([s.label for s in seqs])
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != len(seqs):
            raise InvalidParameterError(f"`labels` must have shape ({len(seqs)},), got {y.shape}")
        if not np.all(np.isin(y, (0, 1))):
            raise InvalidParameterError(f"`labels` must hold only 0 and 1, got {np.unique(y)[:5].tolist()}")
        y = y.astype(np.int64)
        if self.supervised and np.unique(y).size < 2:
            raise InvalidParameterError(
                f"detector {self.name!r} is supervised and needs both classes in `labels`, got only {int(y[0])}"
            )
        return y

    def _check_fitted(self) -> None:
        if not getattr(self, "_fitted", False):
            raise NotFittedError(f"detector {self.name!r} is not fitted; call fit(sequences) first")

    def score(self, sequences: Iterable[Sequence]) -> np.ndarray:
        """Anomaly scores, float64 (n,); higher = more anomalous."""
        self._check_fitted()
        seqs = list(sequences)
        if not seqs:
            return np.zeros(0, dtype=np.float64)
        out = np.asarray(self._score(seqs), dtype=np.float64).reshape(len(seqs))
        return out

    def predict(self, sequences: Iterable[Sequence]) -> np.ndarray:
        """Boolean alarms: score > threshold_."""
        self._check_fitted()
        if self.threshold_ is None:
            raise NotFittedError(
                f"detector {self.name!r} has no threshold_; set one with a policy from logad.detectors.thresholds"
            )
        return self.score(sequences) > self.threshold_

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Template ids driving the score of `sequence`, most important first (id 0 = unseen)."""
        raise NotImplementedError(f"detector {self.name!r} does not explain its scores")

    def _fit(self, sequences: list[Sequence], labels: np.ndarray | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def _score(self, sequences: list[Sequence]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- persistence ---------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Fitted state as (JSON-able dict, arrays)."""
        raise NotImplementedError

    def _set_state(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def save(self, directory: str | Path) -> Path:
        """Save to `directory` (one folder, written as a whole; see logad.detectors.persistence)."""
        from logad.detectors.persistence import write_detector_folder

        self._check_fitted()
        state, arrays = self._get_state()
        config = {
            "name": self.name,
            "params": self.get_params(),
            "threshold": self.threshold_,
            "state": state,
            "versions": self._versions(),
        }
        return write_detector_folder(directory, config, arrays)

    def _versions(self) -> dict[str, str]:
        """The versions of what made the fitted state (recorded, shown when a load fails).
        scikit-learn's from its installed metadata: importing it to ask took a second."""
        from importlib import metadata

        from logad import __version__

        try:
            sklearn_version = metadata.version("scikit-learn")
        except metadata.PackageNotFoundError:
            sklearn_version = "not installed"
        return {"logad": __version__, "numpy": np.__version__, "scikit-learn": sklearn_version}

    @classmethod
    def load(cls, directory: str | Path) -> Detector:
        """Load a detector saved by `save`. On the base class, dispatches on the saved name."""
        from logad.detectors.persistence import read_detector_folder

        config, arrays = read_detector_folder(directory)
        name = config.get("name")
        target = cls
        if cls is Detector or not cls.name:
            from logad.detectors.registry import detector_class

            try:
                target = detector_class(str(name))
            except LookupError as exc:
                raise InputError(f"{str(directory)!r} holds an unknown detector {name!r}") from exc
        elif name != cls.name:
            raise InputError(f"{str(directory)!r} holds a {name!r} detector, not {cls.name!r}")
        params = config.get("params")
        if not isinstance(params, dict) or not isinstance(config.get("state"), dict):
            raise InputError(f"{str(directory)!r} holds an incomplete {name!r} detector (no params or state)")
        try:
            det = target(**{**target.saved_without, **params})
            det._validate_params()
            det._set_state(config["state"], arrays)
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError,
                InvalidParameterError) as exc:
            made_by = config.get("versions") or {}
            raise InputError(f"{str(directory)!r} holds a corrupt or incompatible {name!r} detector "
                             f"(saved by {made_by or 'an unknown version'}): {exc!r}") from exc
        det._fitted = True
        det.threshold_ = check_threshold(config.get("threshold"), str(directory))
        return det


def never_alarms(detector: Detector, threshold: float) -> str | None:
    """A warning when no score of `detector` can exceed `threshold` (the model would be silent)."""
    bound = detector.max_score
    if bound is not None and threshold >= bound:
        return (f"the threshold {threshold:.6g} is the largest score {detector.name!r} can give ({bound:g}): "
                "no sequence can exceed it, so this model will never alarm")
    return None


def check_threshold(value, where: str) -> float | None:
    """A saved threshold: None (not set) or a number that is not NaN; InputError otherwise (a NaN
    threshold would never alarm, silently)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or np.isnan(value):
        raise InputError(f"{where}: the saved threshold {value!r} is not a number")
    return float(value)


class VectorDetector(Detector):
    """A detector working on `SequenceVectorizer` features (parameter `features`).

    Subclasses implement `_fit_matrix(x, y, weights)` on deduplicated rows (with counts as
    weights) and `_score_matrix(x)` on unique rows; this class deduplicates and maps back.
    """

    features: str = "counts"

    def _validate_params(self) -> None:
        check_kind(self.features)

    def _fit(self, sequences: list[Sequence], labels: np.ndarray | None) -> None:
        self.vectorizer_ = SequenceVectorizer(kind=self.features).fit(sequences)
        x = self.vectorizer_.transform(sequences)
        xu, yu, w = unique_rows(x, labels)
        self._fit_matrix(xu, yu, w)

    def _score(self, sequences: list[Sequence]) -> np.ndarray:
        x = self.vectorizer_.transform(sequences)
        return self.score_matrix(x)

    def score_matrix(self, x: np.ndarray) -> np.ndarray:
        """Score a feature matrix, scoring each distinct row once."""
        u, inverse = np.unique(x, axis=0, return_inverse=True)
        return np.asarray(self._score_matrix(u), dtype=np.float64)[inverse.reshape(-1)]

    def _fit_matrix(self, x: np.ndarray, y: np.ndarray | None, weights: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _score_matrix(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return {"vectorizer": self.vectorizer_.to_dict()}, self._get_arrays()

    def _set_state(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        self.vectorizer_ = SequenceVectorizer.from_dict(state["vectorizer"])
        self._set_arrays(arrays)

    def _get_arrays(self) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _explain_residuals(self, sequence: Sequence, contrib: np.ndarray) -> list[tuple[int, float]]:
        """Turn per-column contributions into (template id, weight) pairs, largest first.

        The unseen column reports template id 0; the length column (if any) is skipped.
        """
        out: list[tuple[int, float]] = []
        for col in np.argsort(-contrib, kind="stable"):
            if contrib[col] <= 0:
                break
            tid = self.vectorizer_.column_template(int(col))
            if tid is None and col != 0:
                continue  # length column
            out.append((0 if tid is None else tid, float(contrib[col])))
        return out


class RefitDetector(VectorDetector):
    """A vector detector around an estimator (sklearn's or our tree) whose state is not plain arrays.

    Save stores the deduplicated training matrix, labels and counts; load refits the same
    estimator on the same canonical data with the same seed, which is deterministic, so scores
    are identical after loading.
    """

    def _fit_matrix(self, x: np.ndarray, y: np.ndarray | None, weights: np.ndarray) -> None:
        self.train_x_, self.train_y_, self.train_w_ = x, y, weights
        self.estimator_ = self._build_and_fit(x, y, weights)

    def _build_and_fit(self, x: np.ndarray, y: np.ndarray | None, weights: np.ndarray):  # pragma: no cover
        raise NotImplementedError

    def _get_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"train_x": self.train_x_, "train_w": self.train_w_}
        if self.train_y_ is not None:
            arrays["train_y"] = self.train_y_
        return arrays

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        x = arrays["train_x"]
        w = arrays["train_w"]
        y = arrays.get("train_y")
        if x.ndim != 2 or x.shape[1] != self.vectorizer_.n_features or w.shape != (x.shape[0],):
            raise ValueError("training matrix does not match the saved vectorizer")
        self._fit_matrix(x, y, w)
