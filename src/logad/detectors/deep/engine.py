"""One training engine for every deep detector.

Seeded and deterministic on CPU, batches grouped by length (little padding), early stopping on a
validation loss with the best weights restored, progress on stderr, and interruptible: Ctrl-C
stops training and keeps the best weights seen so far (the history says it was interrupted).
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from logad.errors import InvalidParameterError, require
from logad.progress import SILENT, Progress

log = logging.getLogger(__name__)


def torch():
    """The torch module, or MissingDependencyError naming the extra."""
    return require("torch", "deep")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels."""
    t = torch()
    random.seed(seed)
    np.random.seed(seed % (2**32))
    t.manual_seed(seed)
    t.use_deterministic_algorithms(True, warn_only=True)


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 3
    min_delta: float = 1e-4
    seed: int = 0
    max_seconds: float | None = None  # a wall-clock budget; the best weights so far are kept
    grad_clip: float | None = 1.0

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InvalidParameterError(f"`{name}` must be an integer >= 1, got {v!r}")
        if not (isinstance(self.lr, int | float) and self.lr > 0):
            raise InvalidParameterError(f"`lr` must be > 0, got {self.lr!r}")


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    stopped: str = "epochs"  # "epochs" | "early-stopping" | "interrupted" | "time-budget"

    def as_dict(self) -> dict:
        return dict(vars(self))


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random | None) -> list[list[int]]:
    """Indices grouped into batches of similar length; shuffled when `rng` is given.

    Sorting by length keeps padding small. With `rng`, items of equal length are shuffled before
    cutting (else equal-length data, e.g. fixed windows, would meet the same batch mates every
    epoch) and the batch order is shuffled; without it ties go by index (deterministic evaluation).
    """
    if rng is None:
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    else:
        tiebreak = [rng.random() for _ in range(len(lengths))]
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], tiebreak[i]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def train(
    model,
    *,
    train_items: Sequence,
    val_items: Sequence,
    lengths: Callable[[Sequence], list[int]],
    loss_of: Callable[[object, list], object],
    config: TrainConfig,
    progress: Progress = SILENT,
    name: str = "model",
    optimizer=None,
    on_epoch_start: Callable[[int], None] | None = None,
    on_epoch_end: Callable[[int, float, float], None] | None = None,
    weight_of: Callable[[list], float] | None = None,
) -> History:
    """Train `model` by minimising `loss_of(model, batch_items)`; early-stop on validation loss.

    `train_items` / `val_items` are any sequences of samples; `lengths(items)` gives each
    sample's length for batching. The best weights (lowest validation loss) are restored at the
    end. With no validation items the training loss is used instead.

    `on_epoch_end(epoch, train_loss, val_loss)`, when given, is called after every epoch (before
    the early-stopping decision): the tuner reports intermediate results through it so a
    scheduler can stop a bad trial early. It must not change the model.

    `weight_of(batch_items)`, for weighted samples (e.g. unique sequences with their counts, where
    `loss_of` returns the batch's weighted mean): the total weight of a batch. Each batch's loss is
    then scaled by its weight over the epoch's mean batch weight, so an epoch follows the gradient
    of the weighted mean over ALL samples (a batch of rare samples no longer counts as much as a
    batch of frequent ones), and the reported losses are exact weighted means.
    """
    t = torch()
    config.validate()
    seed_everything(config.seed)
    rng = random.Random(config.seed)
    opt = optimizer or t.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    hist = History()
    best = math.inf
    best_state = copy.deepcopy(model.state_dict())
    bad_epochs = 0
    t0 = time.perf_counter()
    train_lengths = lengths(train_items)
    val_lengths = lengths(val_items) if len(val_items) else []
    try:
        for epoch in range(1, config.epochs + 1):
            if on_epoch_start is not None:
                on_epoch_start(epoch)
            model.train()
            total, count = 0.0, 0.0
            batches = [[train_items[i] for i in b] for b in length_batches(train_lengths, config.batch_size, rng)]
            sizes = [float(weight_of(b)) if weight_of else float(len(b)) for b in batches]
            mean_size = sum(sizes) / max(len(sizes), 1)
            for items, size in zip(batches, sizes):
                opt.zero_grad()
                loss = loss_of(model, items)
                (loss * (size / mean_size) if weight_of and mean_size > 0 else loss).backward()
                if config.grad_clip:
                    t.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                opt.step()
                total += float(loss.detach()) * size
                count += size
            train_loss = total / max(count, 1)
            val_loss = (
                _evaluate(model, val_items, val_lengths, loss_of, config.batch_size, weight_of)
                if val_lengths else train_loss
            )
            hist.train_loss.append(train_loss)
            hist.val_loss.append(val_loss)
            progress.stage(f"{name} epoch {epoch}: train loss {train_loss:.4f}, validation loss {val_loss:.4f}")
            if on_epoch_end is not None:
                on_epoch_end(epoch, train_loss, val_loss)
            if val_loss < best - config.min_delta:
                best, hist.best_epoch, bad_epochs = val_loss, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
                if bad_epochs >= config.patience:
                    hist.stopped = "early-stopping"
                    break
            if config.max_seconds is not None and time.perf_counter() - t0 > config.max_seconds:
                hist.stopped = "time-budget"
                break
    except KeyboardInterrupt:
        hist.stopped = "interrupted"
        log.warning("%s: training interrupted; keeping the best weights (epoch %d)", name, hist.best_epoch)
    model.load_state_dict(best_state)
    model.eval()
    hist.seconds = time.perf_counter() - t0
    return hist


def _evaluate(model, items, item_lengths, loss_of, batch_size, weight_of=None) -> float:
    t = torch()
    model.eval()
    total, count = 0.0, 0.0
    with t.no_grad():
        for batch in length_batches(item_lengths, batch_size, None):
            chunk = [items[i] for i in batch]
            size = float(weight_of(chunk)) if weight_of else float(len(chunk))
            total += float(loss_of(model, chunk)) * size
            count += size
    return total / count if count > 0 else 0.0
