"""The standard cross-system experiment behind `logad transfer`: how a system is split, how many
of the target's labels a method may read, and the setup every method's harness receives.

Learn from labelled SOURCE systems and a TARGET system with few labels; report the method's
figure on the target's test part beside two baselines any reader asks for:
- `target-only`: the same model trained on the target's few labels alone;
- `source-only`: the same model trained on the sources only (zero-shot on the target).

Splits: chronological where the data has time; DeepLog-style session files carry no time, so
their sessions are pooled and split by a seeded, stratified shuffle, and the split says so.

Each method's experiment module (`logad.experiments.metalog`, `.mlad`, `.crosyslog`) exposes
`run_transfer(setup, params, progress) -> dict` returning `{"metrics": ..., "counts": ...,
"threshold": ..., "baselines": {"target-only": {...}, "source-only": {...}}, "details": {...}}`, where every `metrics`/`counts` pair is made by
`metrics_of` (the same figures `logad evaluate` writes). A method never sees a target label that
is not in the budget (`setup.labelled`), and never picks a threshold, checkpoint or step count on
target test labels.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from logad.errors import InvalidParameterError, unknown_name
from logad.pipeline.systems import SystemData
from logad.records import Sequence
from logad.splitting import Split, chronological_split

METHODS: dict[str, str] = {
    "metalog": "logad.experiments.metalog:run_transfer",
    "mlad": "logad.experiments.mlad:run_transfer",
    "crosyslog": "logad.experiments.crosyslog:run_transfer",
}
# methods that classify single log entries: their systems are loaded with every line's text and label
ENTRY_LEVEL = {"crosyslog"}
# named label settings: the share of the target's training NORMALS labelled beside `amount` of its
# anomalies. "each-class" = `amount` of each class (issue 19's 1 %/1 %); "metalog-code" = half of the
# normals, as MetaLog's released code labels them (MetaLog then keeps its original pseudo-label rule)
LABEL_SETTINGS: dict[str, float | None] = {"each-class": None, "metalog-code": 0.5}


# -- splits and label budgets ------------------------------------------------------------------
def split_system(
    data: SystemData, ratios: tuple[float, float, float] = (0.6, 0.1, 0.3), seed: int = 0
) -> Split:
    """Train / validation / test of one system: chronological when its sequences have time,
    otherwise a seeded shuffle stratified by label (the split's details say which)."""
    seqs = [s for s in data.sequences if s.label is not None]
    if data.ordered_by == "time" and any(s.start_time is not None for s in seqs):
        split = chronological_split(seqs, *ratios)
        split.details["system"] = data.name
        return split
    train_r, val_r, test_r = ratios
    if abs(train_r + val_r + test_r - 1.0) > 1e-6 or min(ratios) < 0 or train_r <= 0 or test_r <= 0:
        raise InvalidParameterError(f"ratios must be >= 0, sum to 1 with train and test > 0, got {ratios}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Sequence]] = {"train": [], "validation": [], "test": []}
    for label in (0, 1):
        idx = [i for i, s in enumerate(seqs) if s.label == label]
        idx = [idx[i] for i in rng.permutation(len(idx))]
        n_train = int(round(len(idx) * train_r))
        n_val = int(round(len(idx) * val_r))
        parts["train"] += [seqs[i] for i in idx[:n_train]]
        parts["validation"] += [seqs[i] for i in idx[n_train : n_train + n_val]]
        parts["test"] += [seqs[i] for i in idx[n_train + n_val :]]
    order = {id(s): i for i, s in enumerate(seqs)}
    for key in parts:  # back to file order inside each part
        parts[key].sort(key=lambda s: order[id(s)])
    return Split(
        train=parts["train"], validation=parts["validation"], test=parts["test"],
        protocol="stratified-shuffle",
        details={"system": data.name, "ratios": list(ratios), "seed": seed,
                 "ordered_by": "seeded shuffle, stratified by label (the data carries no timestamps)"},
    )


def label_budget(labels: np.ndarray, amount: float, seed: int = 0, normal_amount: float | None = None) -> np.ndarray:
    """Which training sequences have a known label: a boolean mask over `labels`.

    `amount` < 1 is a fraction of EACH class (so "1 %" labels 1 % of the anomalies and 1 % of
    the normal sequences); `amount` >= 1 is a number of sequences, drawn in proportion to the
    classes. `normal_amount`, when given, is the fraction (< 1, or 1 = all) of the NORMAL
    sequences labelled instead, `amount` then applying to the anomalies alone (MetaLog's code
    labels 50 % of the target's normals and ~1 % of its anomalies: normal periods are cheap to
    confirm, anomalies are not). Whenever the amount is > 0 and the part holds an anomaly, at least
    one anomaly and one normal sequence are labelled (a classifier needs both to learn anything)."""
    y = np.asarray(labels, dtype=np.int64)
    if not np.isfinite(amount) or amount < 0:
        raise InvalidParameterError(f"the target label amount must be a fraction in [0, 1) or a count >= 1, got {amount!r}")
    if normal_amount is not None and (
        isinstance(normal_amount, bool) or not np.isfinite(normal_amount) or not 0 <= normal_amount <= 1
    ):
        raise InvalidParameterError(f"the normal label amount must be a fraction in [0, 1], got {normal_amount!r}")
    mask = np.zeros(y.size, dtype=bool)
    if amount == 0 or y.size == 0:
        return mask
    rng = np.random.default_rng(seed)
    fraction = amount if amount < 1 else min(1.0, float(amount) / y.size)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        if idx.size == 0:
            continue
        share = float(normal_amount) if (label == 0 and normal_amount is not None) else fraction
        k = max(1, int(round(idx.size * share)))
        mask[rng.permutation(idx)[:k]] = True
    return mask


# -- the experiment ------------------------------------------------------------------------------
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
    label_setting: str | None = None  # a LABEL_SETTINGS name, when the budget was given by name

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
            **({"label_setting": self.label_setting} if self.label_setting else {}),
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
    label_setting: str | None = None,
) -> TransferSetup:
    """Split the target (time order where it has time) and draw its label budget: `amount` of each
    class, or `amount` of the anomalies and `normal_amount` of the normals when that is given (or
    named by `label_setting`, a LABEL_SETTINGS name)."""
    if label_setting is not None:
        if label_setting not in LABEL_SETTINGS:
            raise unknown_name("label setting", label_setting, list(LABEL_SETTINGS))
        if normal_amount is not None and normal_amount != LABEL_SETTINGS[label_setting]:
            raise InvalidParameterError(
                f"the label setting {label_setting!r} labels {LABEL_SETTINGS[label_setting]} of the normals; "
                f"a share of labelled normals ({normal_amount}) was given as well"
            )
        normal_amount = LABEL_SETTINGS[label_setting]
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
        label_setting=label_setting,
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
