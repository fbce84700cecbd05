"""The originals' own data splits, by name, for `--protocol original`.

Each entry reproduces how a paper's code cut its data (seed_methods.md), so its published numbers
can be compared. They are not the default: several shuffle overlapping windows or sessions across
time, which the leakage audit then reports. A split function takes the labelled sequences in file
(or time) order plus keyword options, and returns a `Split` whose `protocol` is its name.
"""

from __future__ import annotations

from collections.abc import Callable

from logad.errors import unknown_name
from logad.records import Sequence
from logad.splitting.splits import Split

# name -> (function, one-line description); filled below and by the methods' modules
ORIGINAL_SPLITS: dict[str, tuple[Callable[..., Split], str]] = {}


def register_split(name: str, description: str):
    """Decorator: add a split function to ORIGINAL_SPLITS under `name`."""

    def deco(fn: Callable[..., Split]) -> Callable[..., Split]:
        ORIGINAL_SPLITS[name] = (fn, description)
        return fn

    return deco


def original_split(name: str, sequences: list[Sequence], **options) -> Split:
    """Run the original split `name` on `sequences`."""
    try:
        fn, _ = ORIGINAL_SPLITS[name]
    except KeyError:
        raise unknown_name("original split", name, list(ORIGINAL_SPLITS)) from None
    return fn(sequences, **options)


# -- MetaLog (ICSE'24) cutters: preprocessing/datacutter/SimpleCutting.py (seed_methods.md 1.2) ----
def _metalog_order(sequences: list[Sequence], seed: int) -> tuple[list[Sequence], str]:
    """The instance order the cutters take a prefix of. MetaLog orders HDFS blocks by first
    appearance and BGL windows node by node (file order); sequences without any time (DeepLog
    session files, whose files put every anomaly last) get a seeded shuffle instead."""
    import random

    if any(s.start_time is not None for s in sequences):
        return list(sequences), "file order"
    out = list(sequences)
    random.Random(f"order-{seed}").shuffle(out)
    return out, "seeded shuffle (the data carries no time)"


def _metalog_cut(
    sequences: list[Sequence], train: float, dev: float, *, keep_anomalies: float | None, seed: int, name: str
) -> Split:
    import random

    from logad.errors import InvalidParameterError

    if keep_anomalies is not None and not 0 <= keep_anomalies <= 1:
        raise InvalidParameterError(f"`keep_anomalies` must be in [0, 1], got {keep_anomalies!r}")
    ordered, order = _metalog_order(sequences, seed)
    rng = random.Random(seed)
    n = len(ordered)
    n_train, n_dev = int(n * train), int(n * dev)
    prefix = ordered[: n_train + n_dev]
    rng.shuffle(prefix)  # the prefix is shuffled, the test suffix is not
    train_part, dev_part, test_part = prefix[:n_train], prefix[n_train:], ordered[n_train + n_dev :]
    dropped = 0
    if keep_anomalies is not None:  # the _filter variants: each training anomaly kept with this probability
        kept = []
        for s in train_part:
            if s.label == 1 and rng.random() >= keep_anomalies:
                dropped += 1
                continue
            kept.append(s)
        train_part = kept
    return Split(
        train=train_part, validation=dev_part, test=test_part, protocol=name,
        details={"order": order, "seed": seed, "train": train, "dev": dev,
                 "keep_anomalies": keep_anomalies, "dropped_training_anomalies": dropped,
                 "note": "MetaLog never uses its dev part"},
    )


@register_split("cut_by_415", "MetaLog source cut: shuffled first 50% -> train 40% + dev 10%; test = last 50% (file order)")
def cut_by_415(sequences: list[Sequence], *, seed: int = 6) -> Split:
    return _metalog_cut(sequences, 0.4, 0.1, keep_anomalies=None, seed=seed, name="cut_by_415")


@register_split(
    "cut_by_316_filter",
    "MetaLog target cut (HDFS->BGL): shuffled first 40% -> train 30% (each anomaly kept with p=0.01) + dev 10%; test = last 60%",
)
def cut_by_316_filter(sequences: list[Sequence], *, seed: int = 6, keep_anomalies: float = 0.01) -> Split:
    return _metalog_cut(sequences, 0.3, 0.1, keep_anomalies=keep_anomalies, seed=seed, name="cut_by_316_filter")


@register_split(
    "cut_by_253_filter",
    "MetaLog target cut (BGL->HDFS): shuffled first 70% -> train 20% (each anomaly kept with p=0.01) + dev 50%; test = last 30%",
)
def cut_by_253_filter(sequences: list[Sequence], *, seed: int = 6, keep_anomalies: float = 0.01) -> Split:
    return _metalog_cut(sequences, 0.2, 0.5, keep_anomalies=keep_anomalies, seed=seed, name="cut_by_253_filter")


@register_split("cut_all", "MetaLog source cut (BGL->HDFS): every instance, shuffled, is training data (no test part)")
def cut_all(sequences: list[Sequence], *, seed: int = 6) -> Split:
    return _metalog_cut(sequences, 1.0, 0.0, keep_anomalies=None, seed=seed, name="cut_all")
