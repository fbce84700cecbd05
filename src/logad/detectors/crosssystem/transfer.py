"""The standard cross-system experiment behind `logad transfer`.

Learn from labelled SOURCE systems and a TARGET system with few labels; report the method's
figure on the target's test part beside two baselines any reader asks for:
- `target-only`: the same model trained on the target's few labels alone;
- `source-only`: the same model trained on the sources only (zero-shot on the target).

Each method module exposes `run_transfer(setup, params, progress) -> dict` returning
`{"metrics": ..., "counts": ..., "threshold": ..., "baselines": {"target-only": {...},
"source-only": {...}}, "details": {...}}`, where every `metrics`/`counts` pair is made by
`metrics_of` (the same figures `logad evaluate` writes). A method never sees a target label that
is not in the budget (`setup.labelled`), and never picks a threshold, checkpoint or step count on
target test labels.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from logad.detectors.crosssystem.data import SystemData, label_budget, split_system
from logad.errors import InvalidParameterError, unknown_name
from logad.records import Sequence
from logad.splitting import Split

METHODS: dict[str, str] = {
    "metalog": "logad.detectors.crosssystem.metalog:run_transfer",
    "mlad": "logad.detectors.crosssystem.mlad:run_transfer",
    "crosyslog": "logad.detectors.crosssystem.crosyslog:run_transfer",
}
# methods that classify single log entries: their systems are loaded with every line's text and label
ENTRY_LEVEL = {"crosyslog"}


@dataclass
class TransferSetup:
    """Everything a method may use. `labelled` is a mask over `target_split.train`: the target
    sequences whose labels are in the budget; the other training sequences come without labels."""

    sources: list[SystemData]
    target: SystemData
    target_split: Split
    labelled: np.ndarray
    amount: float
    seed: int = 0
    # share of the target's training NORMALS labelled; None = `amount` of each class
    normal_amount: float | None = None
    source_splits: dict[str, Split] = field(default_factory=dict)
    # "honest" (default) or "original": the method reproduces its paper's split and decision rule,
    # and marks any figure whose rule looked at test labels "oracle-on-test"
    protocol: str = "honest"

    def labelled_target(self) -> tuple[list[Sequence], np.ndarray]:
        """The target training sequences in the budget, with their labels."""
        seqs = [s for s, m in zip(self.target_split.train, self.labelled) if m]
        return seqs, np.array([s.label for s in seqs], dtype=np.int64)

    def unlabelled_target(self) -> list[Sequence]:
        """Target training sequences outside the budget, their labels hidden (label=None)."""
        from dataclasses import replace

        return [replace(s, label=None, line_labels=None) for s, m in zip(self.target_split.train, self.labelled) if not m]

    def describe(self) -> dict:
        _, y = self.labelled_target()
        return {
            "sources": [s.describe() for s in self.sources],
            "target": self.target.describe(),
            "target_split": self.target_split.describe(),
            "target_labels": {
                "amount": self.amount,
                "normal_amount": self.amount if self.normal_amount is None else self.normal_amount,
                "labelled_sequences": int(self.labelled.sum()),
                "labelled_anomalies": int(y.sum()),
                "unlabelled_training_sequences": int((~self.labelled).sum()),
            },
            "seed": self.seed,
            "protocol": self.protocol,
        }


def make_setup(
    sources: list[SystemData],
    target: SystemData,
    amount: float,
    *,
    ratios: tuple[float, float, float] = (0.6, 0.1, 0.3),
    seed: int = 0,
    protocol: str = "honest",
    normal_amount: float | None = None,
) -> TransferSetup:
    """Split the target (time order where it has time) and draw its label budget: `amount` of each
    class, or `amount` of the anomalies and `normal_amount` of the normals when that is given."""
    if not sources:
        raise InvalidParameterError("a transfer needs at least one --source system")
    if protocol not in ("honest", "original"):
        raise InvalidParameterError(f"`protocol` must be 'honest' or 'original', got {protocol!r}")
    names = [s.name for s in sources]
    if target.name in names:
        raise InvalidParameterError(f"the target {target.name!r} is also a source; give different systems")
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"a source is given twice: {names}")
    split = split_system(target, ratios, seed)
    y = np.array([s.label for s in split.train], dtype=np.int64)
    mask = label_budget(y, amount, seed, normal_amount)
    return TransferSetup(
        sources=sources, target=target, target_split=split, labelled=mask, amount=amount, seed=seed,
        normal_amount=normal_amount,
        source_splits={s.name: split_system(s, ratios, seed) for s in sources}, protocol=protocol,
    )


def metrics_of(labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> dict:
    """`{"metrics": ..., "counts": ...}` exactly as `logad evaluate` writes them."""
    from logad.evaluation.metrics import binary_metrics

    metrics = binary_metrics(np.asarray(labels, dtype=int), np.asarray(scores, dtype=float), np.asarray(predicted, dtype=bool))
    counts = {k: metrics.pop(k) for k in ("tp", "fp", "tn", "fn") if k in metrics}
    return {"metrics": metrics, "counts": counts}


def method_runner(name: str):
    """The `run_transfer` function of a method, imported on first use."""
    try:
        target = METHODS[name]
    except KeyError:
        raise unknown_name("cross-system method", name, list(METHODS)) from None
    module, _, fn = target.partition(":")
    return getattr(importlib.import_module(module), fn)
