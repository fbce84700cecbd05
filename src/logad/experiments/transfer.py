"""The standard cross-system experiment behind `logad transfer`: how a system is split, how many
of the target's labels a method may read, and the setup every method's harness receives.

Learn from labelled SOURCE systems and a TARGET system with few labels; report the method's
figure on the target's test part beside two baselines any reader asks for:
- `target-only`: the same model trained on the target's few labels alone;
- `source-only`: the same model trained on the sources only (zero-shot on the target).

Splits of the target: a dataset's own train/test files where it has them (session files; its
training file gives the validation part too), else chronological where the data has time, else a
seeded shuffle stratified by label (whole groups with `groups`, so sessions of one job or host never
land on both sides); `split="pooled"` pools a session dataset as well. The split says how it was made.

Each method's experiment module (`logad.experiments.metalog`, `.mlad`, `.crosyslog`) exposes
`run_transfer(setup, params, progress) -> dict` returning `{"metrics": ..., "counts": ...,
"threshold": ..., "baselines": {"target-only": {...}, "source-only": {...}}, "details": {...}}`, where every `metrics`/`counts` pair is made by
`metrics_of` (the same figures `logad evaluate` writes). A method never sees a target label that
is not in the budget (`setup.labelled`), and never picks a threshold, checkpoint or step count on
target test labels.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field

import numpy as np

from logad.errors import InputError, InvalidParameterError, unknown_name
from logad.evaluation.rollup import unit_of
from logad.pipeline.systems import SystemData
from logad.records import Sequence
from logad.splitting import Split, chronological_split, session_files_split

log = logging.getLogger(__name__)

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
# how a system is split: "auto" keeps a dataset's own train/test files where it has them (session
# files); "pooled" pools every sequence (chronological where there is time, else a seeded shuffle)
SPLITS = ("auto", "pooled")


def split_system(
    data: SystemData, ratios: tuple[float, float, float] = (0.6, 0.1, 0.3), seed: int = 0, *,
    split: str = "pooled", groups: str | None = None,
) -> Split:
    """Train / validation / test of one system (the split's details say how it was made).

    `split="auto"` keeps the dataset's own split where it has one (session files: train and
    validation from its training file, test = its test files). Otherwise: chronological when its
    sequences have time, else a seeded shuffle stratified by label. `groups` is a regex whose first
    group in a sequence's id (else in its file paths) names its group (a job, a host, a VM): the
    shuffle then puts whole groups on one side, stratified by whether a group holds an anomaly,
    since sessions of one group share what a model learns and a group on both sides leaks."""
    if split not in SPLITS:
        raise unknown_name("split", split, list(SPLITS))
    seqs = [s for s in data.sequences if s.label is not None]
    group_of = unit_of(groups, option="--split-groups") if groups else None
    if split == "auto" and data.details.get("split_files"):
        out = _own_split(data, seqs, ratios)
    elif data.ordered_by == "time" and any(s.start_time is not None for s in seqs):
        out = chronological_split(seqs, *ratios)
    else:
        out = _shuffle_split(seqs, ratios, seed, group_of)
        out.details["seed"] = seed
    out.details["system"] = data.name
    if group_of is not None:
        out.details["groups"] = _group_audit(out, groups, group_of)
        if out.details["groups"]["on_both_sides"]:  # only a shuffle can move whole groups
            log.warning("%s: %d groups of --split-groups %r have sequences on both sides of the %s split",
                        data.name, out.details["groups"]["on_both_sides"], groups, out.protocol)
    return out


def _check_ratios(ratios: tuple[float, float, float]) -> None:
    train_r, val_r, test_r = ratios
    if abs(train_r + val_r + test_r - 1.0) > 1e-6 or min(ratios) < 0 or train_r <= 0 or test_r <= 0:
        raise InvalidParameterError(f"ratios must be >= 0, sum to 1 with train and test > 0, got {ratios}")


def _own_split(data: SystemData, seqs: list[Sequence], ratios: tuple[float, float, float]) -> Split:
    """The dataset's own files: train and validation from its training file (the validation share
    of the training period as `ratios` give it, taken from the file's end), test = its test files."""
    _check_ratios(ratios)
    files: dict[str, str] = data.details["split_files"]
    part_of = {name: part for part, name in files.items()}
    parts: dict[str, list[Sequence]] = {part: [] for part in ("train", "test_normal", "test_abnormal")}
    for s in seqs:
        part = next((part_of[f] for f in s.sources if f in part_of), None)
        if part is None:
            raise InputError(f"{data.name}: sequence {s.sequence_id!r} names none of the dataset's files "
                             f"({', '.join(files.values())}), so its own split cannot be kept; use --split pooled")
        parts[part].append(s)
    share = ratios[1] / (ratios[0] + ratios[1])
    split = session_files_split(parts["train"], parts["test_normal"], parts["test_abnormal"], validation=share)
    split.details.update(
        ratios=list(ratios), files=dict(files),
        ordered_by=f"the dataset's own split: train on {files['train']} (its last {share:.0%} = validation), "
                   f"test = {files['test_normal']} + {files['test_abnormal']}",
    )
    return split


def _shuffle_split(seqs: list[Sequence], ratios: tuple[float, float, float], seed: int, group_of=None) -> Split:
    """A seeded shuffle of whole groups (each sequence its own without `group_of`), stratified by
    whether a group holds an anomaly; a group goes to the part its middle falls in. With one
    sequence per group this is exactly the per-sequence stratified shuffle."""
    _check_ratios(ratios)
    train_r, val_r, _ = ratios
    keys = range(len(seqs)) if group_of is None else (group_of(s) for s in seqs)
    members: dict = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    groups = list(members.values())
    anomalous = [any(seqs[i].label == 1 for i in g) for g in groups]
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for label in (False, True):
        stratum = [g for g, a in zip(groups, anomalous) if a == label]
        stratum = [stratum[i] for i in rng.permutation(len(stratum))]
        n = sum(len(g) for g in stratum)
        n_train, n_val = int(round(n * train_r)), int(round(n * val_r))
        done = 0
        for g in stratum:
            middle = done + len(g) / 2
            parts["train" if middle < n_train else "validation" if middle < n_train + n_val else "test"] += g
            done += len(g)
    how = "seeded shuffle, stratified by label (the data carries no timestamps)"
    if group_of is not None:
        how = "seeded shuffle of whole groups, stratified by whether a group holds an anomaly (no timestamps)"
    train, val, test = ([seqs[i] for i in sorted(parts[k])] for k in ("train", "validation", "test"))  # file order
    return Split(train=train, validation=val, test=test,
                 protocol="stratified-shuffle" if group_of is None else "stratified-group-shuffle",
                 details={"ratios": list(ratios), "ordered_by": how})


def _group_audit(split: Split, regex: str, group_of) -> dict:
    """How many groups the split holds, how many hold an anomaly, and how many lie on both sides
    (training period vs test)."""
    before = {group_of(s) for s in split.train + split.validation}
    after = {group_of(s) for s in split.test}
    anomalous = {group_of(s) for s in split.train + split.validation + split.test if s.label == 1}
    return {"regex": regex, "groups": len(before | after), "anomalous_groups": len(anomalous),
            "on_both_sides": len(before & after)}


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
    split: str = "auto",
    groups: str | None = None,
) -> TransferSetup:
    """Split the target (`split_system` with `split` and `groups`) and draw its label budget:
    `amount` of each class, or `amount` of the anomalies and `normal_amount` of the normals when
    that is given (or named by `label_setting`, a LABEL_SETTINGS name)."""
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
    target_split = split_system(target, ratios, seed, split=split, groups=groups)
    y = np.array([s.label for s in target_split.train], dtype=np.int64)
    mask = label_budget(y, amount, seed, normal_amount)
    # sources stay pooled: their test part is never scored, and a session dataset's own training
    # file holds no anomaly for a supervised method to learn from
    return TransferSetup(
        sources=sources, target=target, target_split=target_split, labelled=mask, amount=amount, seed=seed,
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
