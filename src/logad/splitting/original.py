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

# name -> (function, one-line description); filled below
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


TEST_SELECTION_NOTE = (
    "the test set was SELECTED USING THE TEST LABELS as the original evaluates "
    "(only anomalous windows with few anomalous lines, normal windows subsampled in proportion); "
    "the figure is comparable to the paper's, not an estimate on unselected new data"
)


@register_split(
    "morpheus",
    "NVIDIA Morpheus log-sequence-ad / InterpretableSAD: normal windows shuffled (seed 42), the first "
    "train_size to training, the other normal windows and every anomalous window to test; the test set "
    "then keeps the anomalous windows with <= 10% anomalous lines and a proportional share of the normal ones",
)
def morpheus_split(
    sequences: list[Sequence],
    *,
    train_size: int | None = None,
    seed: int = 42,
    ratio: float | None = 0.1,
) -> Split:
    """The split of the Morpheus notebook (seed_methods.md §4.2 and §4.6).

    - normal windows shuffled (NumPy RandomState(`seed`) permutation, what pandas'
      ``sample(frac=1, random_state=42)`` does); the first `train_size` train the model. No
      validation part: the detector holds out its own share of training windows for early
      stopping, as the original did, and the original decides by argmax (no threshold to pick).
      `train_size` None: the card's 10,000, or half of the normal windows when there are fewer
      than 20,000, so small data keeps normal windows on both sides;
    - test = the remaining normal windows + ALL anomalous windows, then, as the notebook evaluates
      (§4.6): only anomalous windows whose anomalous lines are <= `ratio` x their length are kept,
      and the first floor(n_normal x kept / all anomalous) normal windows. This selection reads
      the test labels (line labels included), so it belongs to this split, the one place that
      defines the original's test set; `details["test_selection"]` says so and the runner copies it
      into the result. `ratio=None` keeps the whole test set.

    Sliding windows overlap, so shuffled training and test windows share lines: the leakage audit
    reports it.
    """
    import numpy as np

    from logad.errors import InvalidParameterError

    normal = [s for s in sequences if s.label == 0]
    abnormal = [s for s in sequences if s.label == 1]
    if len(normal) < 2:
        raise InvalidParameterError(f"the morpheus split needs at least 2 normal windows, got {len(normal)}")
    if train_size is None:
        train_size = 10_000 if len(normal) >= 20_000 else len(normal) // 2
    if isinstance(train_size, bool) or not isinstance(train_size, int) or not 1 <= train_size < len(normal):
        raise InvalidParameterError(
            f"`train_size` must be an integer in [1, {len(normal) - 1}] (normal windows - 1), got {train_size!r}"
        )
    order = np.random.RandomState(seed).permutation(len(normal))
    shuffled = [normal[i] for i in order]
    train, test_normal = shuffled[:train_size], shuffled[train_size:]
    details: dict = {"train_size": train_size, "seed": seed, "shuffled": "normal windows"}
    test_abnormal = abnormal
    if ratio is not None:
        if not 0 < ratio <= 1:
            raise InvalidParameterError(f"`ratio` must be in (0, 1] or None, got {ratio!r}")
        test_abnormal = [s for s in abnormal if _few_anomalous_lines(s, ratio)]
        n_keep = int(len(test_normal) * len(test_abnormal) / len(abnormal)) if abnormal else len(test_normal)
        details["test_selection"] = (
            f"kept {len(test_abnormal)} of {len(abnormal)} anomalous test windows (anomalous lines <= "
            f"{ratio:g} x length) and the first {n_keep} of {len(test_normal)} normal ones: {TEST_SELECTION_NOTE}"
        )
        test_normal = test_normal[:n_keep]
    return Split(train=train, validation=[], test=test_normal + test_abnormal, protocol="morpheus", details=details)


def _few_anomalous_lines(s: Sequence, ratio: float) -> bool:
    if s.line_labels is None:  # no per-line labels (sessions labelled as a whole): cannot judge, keep
        return True
    return sum(1 for x in s.line_labels if x) <= ratio * len(s.line_labels)


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
        details={"order": order, "seed": seed, "train_ratio": train, "dev_ratio": dev,
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


# -- MLAD (third-party code, seed_methods.md 2.7) -------------------------------------------------
@register_split("mlad-balanced", "MLAD third-party: test = every anomalous sequence + as many normal ones drawn "
                "at random (seed 42); train = the remaining normal sequences; no validation")
def mlad_balanced_split(sequences: list[Sequence], seed: int = 42) -> Split:
    """The third-party MLAD split: a test set balanced 50/50 (every anomaly and as many normal
    sequences drawn at random), the other normal sequences to training, no validation part. F1 on
    a balanced test set is not comparable with a chronological split's."""
    import numpy as np

    from logad.errors import InvalidParameterError

    labelled = [s for s in sequences if s.label is not None]
    anomalies = [s for s in labelled if s.label == 1]
    normal = [s for s in labelled if s.label == 0]
    rng = np.random.default_rng(seed)
    pick = set(rng.permutation(len(normal))[: len(anomalies)].tolist())
    test_normal = [s for i, s in enumerate(normal) if i in pick]
    train_part = [s for i, s in enumerate(normal) if i not in pick]
    if not train_part:
        raise InvalidParameterError("the mlad-balanced split leaves no normal sequence for training")
    return Split(train=train_part, validation=[], test=test_normal + anomalies, protocol="mlad-balanced",
                 details={"seed": seed, "test_rule": "all anomalies + as many random normal sequences"})
