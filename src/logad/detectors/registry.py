"""Lazy name -> "module:Class" table of detectors; modules are imported on first use."""

from __future__ import annotations

import importlib

from logad.errors import unknown_name

_TABLE: dict[str, str] = {
    "new-template": "logad.detectors.classical.new_template:NewTemplateDetector",
    "pca": "logad.detectors.classical.pca:PCADetector",
    "invariants-mining": "logad.detectors.classical.invariants_mining:InvariantsMiningDetector",
    "log-clustering": "logad.detectors.classical.log_clustering:LogClusteringDetector",
    "isolation-forest": "logad.detectors.classical.isolation_forest:IsolationForestDetector",
    "knn": "logad.detectors.classical.knn:KNNDetector",
    "decision-tree": "logad.detectors.classical.decision_tree:DecisionTreeDetector",
    "logistic-regression": "logad.detectors.classical.logistic_regression:LogisticRegressionDetector",
    "svm": "logad.detectors.classical.svm:SVMDetector",
    "random-forest": "logad.detectors.classical.random_forest:RandomForestDetector",
}

# Deep detectors (extra `deep`): torch is imported when one is used, not before.
DEEP: dict[str, str] = {
    "deeplog": "logad.detectors.deep.deeplog:DeepLogDetector",
    "loganomaly": "logad.detectors.deep.loganomaly:LogAnomalyDetector",
    "logbert": "logad.detectors.deep.logbert:LogBERTDetector",
    "logrobust": "logad.detectors.deep.logrobust:LogRobustDetector",
    "lstm-w2v": "logad.detectors.deep.lstm_w2v:LSTMW2VDetector",
    "mlad": "logad.detectors.crosssystem.mlad:MLADDetector",
    "metalog": "logad.detectors.crosssystem.metalog:MetaLogDetector",
}
_TABLE.update(DEEP)


def register(name: str, target: str) -> None:
    """Add a detector as "package.module:Class" (used by other detector families)."""
    _TABLE[name] = target


def list_detectors(family: str | None = None) -> list[str]:
    """Registered detector names, sorted; `family` "classical" or "deep" narrows the list."""
    if family is None:
        return sorted(_TABLE)
    if family == "deep":
        return sorted(DEEP)
    if family == "classical":
        return sorted(n for n in _TABLE if n not in DEEP)
    raise unknown_name("detector family", family, ["classical", "deep"])


def torch_available() -> bool:
    """Whether the deep detectors can run (torch importable). A broken torch raises, not hides."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def detector_class(name: str) -> type:
    """The class registered under `name`; UnknownNameError with a did-you-mean otherwise."""
    try:
        target = _TABLE[name]
    except (KeyError, TypeError):
        raise unknown_name("detector", str(name), list(_TABLE)) from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def get_detector(name: str, **params):
    """A new, unfitted detector `name` with `params` (a bad parameter name raises
    InvalidParameterError naming the valid ones)."""
    from logad.errors import no_such_parameter

    cls = detector_class(name)
    valid = cls._param_names()
    bad = [p for p in params if p not in valid]
    if bad:
        raise no_such_parameter(f"detector {name!r}", bad, valid)
    return cls(**params)
