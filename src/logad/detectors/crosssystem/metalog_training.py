"""MetaLog's training (seed_methods.md section 1.7): the loss, the first-order MLDG step, the
original's batching, and the `Trainer` that runs them over a frozen embedding.

Per MLDG step: source loss L_s at theta, backward (g_s); theta' = theta - alpha * g_s with g_s a
constant; target loss at theta' through `torch.func.functional_call`; backward of beta * L_t(theta')
adds to theta's gradients; one Adam step on g_s + beta * grad L_t(theta'). Loss = BCE of softmax
over the two columns against (soft) targets, which for targets summing to one equals cross-entropy
with soft targets (the form computed here, stable in log space). Adam(2e-3, betas (0.9, 0.9),
eps 1e-12), LR x0.75 every 1000 steps, batches of 100 per system, 10 epochs of max(#source,
#target) batches, the shorter stream restarted and reshuffled. The checkpoint is the epoch of the
lowest validation loss (or the last epoch), never a test figure.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from logad.detectors.crosssystem.metalog_gru import pack_rows
from logad.detectors.deep.engine import seed_everything, torch
from logad.errors import InvalidParameterError
from logad.progress import SILENT, Progress

log = logging.getLogger(__name__)


# -- the loss and the MLDG step ----------------------------------------------------------------------
def soft_bce(logits, target_p):
    """BCE of softmax(logits) against soft targets [1 - p, p], averaged over items and the two
    columns (BCELoss's mean). For targets summing to one this equals soft cross-entropy."""
    t = torch()
    logp = t.log_softmax(logits, dim=1)
    target = t.stack([1.0 - target_p, target_p], dim=1)
    return -(target * logp).sum(dim=1).mean()


def mldg_backward(model, loss_at: Callable, source_batch, target_batch, *, alpha: float, beta: float):
    """First-order MLDG gradients into `model`'s `.grad` (section 1.7); returns (L_s, L_t).

    `loss_at(params, batch)` is the loss of `batch` with the model's own weights (params None)
    or with `params` (a name -> tensor dict, through `torch.func.functional_call`). The grads
    left are g_s + beta * grad L_t(theta - alpha * g_s), with g_s treated as a constant.
    """
    model.zero_grad(set_to_none=True)
    loss_s = loss_at(None, source_batch)
    loss_s.backward()
    fast = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            fast[name] = p - alpha * p.grad.detach() if p.grad is not None else p
    loss_t = loss_at(fast, target_batch)
    (beta * loss_t).backward()
    return float(loss_s.detach()), float(loss_t.detach())


# -- training ----------------------------------------------------------------------------------------
@dataclass
class Items:
    """Training or validation items: embedding rows per sequence and P(anomalous) targets."""

    rows: list[np.ndarray]
    target: np.ndarray  # float32 (n,)
    name: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def concat(cls, parts: list[Items], name: str = "") -> Items:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls([], np.zeros(0, np.float32), name)
        return cls([r for p in parts for r in p.rows], np.concatenate([p.target for p in parts]).astype(np.float32), name)


@dataclass
class MetaHistory:
    train_loss: list[float] = field(default_factory=list)
    target_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    epoch_scores: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    steps: int = 0
    seconds: float = 0.0
    mode: str = "mldg"
    stopped: str = "epochs"
    checkpoint: str = "validation"

    def as_dict(self) -> dict:
        return dict(vars(self))


def embed_rows(embedding, rows: list[np.ndarray]):
    """Padded (B, L, dim) vectors of embedding rows + lengths; padding is row 0 (masked: the GRU
    runs packed, attention is masked). An empty sequence is one unknown (zero) vector."""
    t = torch()
    lengths = [max(len(r), 1) for r in rows]
    ids = np.zeros((len(rows), max(lengths)), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return embedding[t.from_numpy(ids)], t.tensor(lengths, dtype=t.long)


def batch_inputs(embedding, rows: list[np.ndarray], gru: str = "fast", dedup: bool = True):
    """The network's inputs for `rows`: packed vectors and their `PackedRows` (the fast GRU;
    duplicates packed once with `dedup`), or padded vectors and lengths (`gru="torch"`)."""
    if gru == "torch":
        return embed_rows(embedding, rows)
    pack = pack_rows(rows, dedup=dedup)
    return embedding.index_select(0, pack.ids), pack


def _batches(n: int, size: int, rng: random.Random, lengths: list[int] | None = None, window: int = 0) -> list[list[int]]:
    """The original's shuffling: shuffle the items, cut into batches, shuffle the batch order.

    With `window` > 0 (and `lengths`), the shuffled items are sorted by length inside windows of
    `window` batches before cutting: batches hold similar lengths, so the GRU runs fewer padded
    time steps (about 1.5x faster on HDFS on CPU). Off by default (`length_buckets=0`): where
    length tracks the label (OpenStack's anomalous sessions are twice as long as its normal
    ones) length-sorted batches are nearly one class each, and a tiny model learned more slowly
    with them; the default keeps the original's random batches."""
    order = list(range(n))
    rng.shuffle(order)
    if window and lengths is not None:
        span = window * size
        order = [i for w in range(0, n, span) for i in sorted(order[w : w + span], key=lambda k: lengths[k])]
    out = [order[i : i + size] for i in range(0, n, size)]
    rng.shuffle(out)
    return out


class _Stream:
    """An endless stream of batches of one system; restarted (reshuffled) when exhausted."""

    def __init__(self, items: Items, size: int, rng: random.Random, window: int = 0) -> None:
        self.items, self.size, self.rng, self.window = items, size, rng, window
        self.lengths = [len(r) for r in items.rows]
        self.queue: list[list[int]] = []
        self.n_batches = math.ceil(len(items) / size) if len(items) else 0

    def next(self) -> list[int]:
        if not self.queue:
            self.queue = _batches(len(self.items), self.size, self.rng, self.lengths, self.window)
        return self.queue.pop(0)


class Trainer:
    """Trains an AttentionBiGRU over a frozen embedding: MLDG when both a source and a target
    stream are given, plain supervised training on whichever one is given otherwise."""

    def __init__(self, net, embedding: np.ndarray, *, epochs: int, batch_size: int, lr: float, alpha: float,
                 beta: float, lr_decay: float, lr_decay_steps: int, seed: int, checkpoint: str = "validation",
                 length_buckets: int = 0, gru: str = "fast", dedup: bool = True,
                 max_seconds: float | None = None, progress: Progress = SILENT, name: str = "metalog") -> None:
        self.t = torch()
        self.net = net
        self.embedding = self.t.from_numpy(np.ascontiguousarray(embedding, dtype=np.float32))
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.alpha, self.beta = alpha, beta
        self.lr_decay, self.lr_decay_steps = lr_decay, lr_decay_steps
        self.seed, self.checkpoint, self.max_seconds = seed, checkpoint, max_seconds
        self.length_buckets = length_buckets
        self.gru, self.dedup = gru, dedup
        self.progress, self.name = progress, name

    def tensors(self, items: Items, idx: list[int]):
        """(embedded x, lengths or packing, targets) of the items `idx`."""
        x, lengths = batch_inputs(self.embedding, [items.rows[i] for i in idx], self.gru, self.dedup)
        return x, lengths, self.t.from_numpy(items.target[idx])

    def loss_at(self, params, batch):
        x, lengths, target = batch
        if params is None:
            logits = self.net(x, lengths)
        else:
            logits = self.t.func.functional_call(self.net, params, (x, lengths))
        return soft_bce(logits, target)

    def mean_loss(self, items: Items) -> float:
        t = self.t
        self.net.eval()
        order = sorted(range(len(items)), key=lambda i: (len(items.rows[i]), i))
        total = 0.0
        with t.no_grad():
            for i in range(0, len(order), 1024):
                batch = self.tensors(items, order[i : i + 1024])
                total += float(self.loss_at(None, batch)) * len(batch[2])
        return total / max(len(items), 1)

    def fit(self, source: Items | None, target: Items | None, validation: list[Items],
            on_epoch: Callable[[int], dict | None] | None = None) -> MetaHistory:
        t = self.t
        seed_everything(self.seed)
        rng = random.Random(self.seed)
        streams = [s for s in (source, target) if s is not None and len(s)]
        if not streams:
            raise InvalidParameterError("metalog: nothing to train on (no labelled source and no target sequence)")
        mldg = source is not None and target is not None and len(source) > 0 and len(target) > 0
        src = _Stream(source if mldg else streams[0], self.batch_size, rng, self.length_buckets)
        tgt = _Stream(target, self.batch_size, rng, self.length_buckets) if mldg else None
        steps_per_epoch = max(src.n_batches, tgt.n_batches if tgt else 0)
        opt = t.optim.Adam(self.net.parameters(), lr=self.lr, betas=(0.9, 0.9), eps=1e-12)
        sched = t.optim.lr_scheduler.StepLR(opt, step_size=self.lr_decay_steps, gamma=self.lr_decay)
        hist = MetaHistory(mode="mldg" if mldg else "supervised", checkpoint=self.checkpoint)
        best, best_state = math.inf, copy.deepcopy(self.net.state_dict())
        t0 = time.perf_counter()
        counts = f"{len(src.items)} source + {len(tgt.items)} target" if mldg else f"{len(src.items)}"
        self.progress.stage(f"{self.name}: {self.epochs} epochs of {steps_per_epoch} steps ({hist.mode}, {counts} sequences)")
        try:
            for epoch in range(1, self.epochs + 1):
                self.net.train()
                t_epoch = time.perf_counter()
                tot_s = tot_t = 0.0
                for step in range(steps_per_epoch):
                    sb = self.tensors(src.items, src.next())
                    if mldg:
                        tb = self.tensors(tgt.items, tgt.next())
                        ls, lt = mldg_backward(self.net, self.loss_at, sb, tb, alpha=self.alpha, beta=self.beta)
                        tot_t += lt
                    else:
                        opt.zero_grad(set_to_none=True)
                        loss = self.loss_at(None, sb)
                        loss.backward()
                        ls = float(loss.detach())
                    opt.step()
                    sched.step()
                    hist.steps += 1
                    tot_s += ls
                    # Progress writes at most one line a second (or draws a bar on a terminal)
                    self.progress.tick(f"{self.name} epoch {epoch}/{self.epochs}", step + 1, steps_per_epoch, "steps")
                hist.train_loss.append(tot_s / max(steps_per_epoch, 1))
                hist.target_loss.append(tot_t / max(steps_per_epoch, 1) if mldg else float("nan"))
                vals = [self.mean_loss(v) for v in validation if len(v)]
                val = float(np.mean(vals)) if vals else hist.train_loss[-1]
                hist.val_loss.append(val)
                extra = on_epoch(epoch) if on_epoch is not None else None
                if extra is not None:
                    hist.epoch_scores.append({"epoch": epoch, **extra})
                self.progress.stage(
                    f"{self.name} epoch {epoch}/{self.epochs}: source loss {hist.train_loss[-1]:.4f}"
                    + (f", target loss {hist.target_loss[-1]:.4f}" if mldg else "")
                    + f", validation loss {val:.4f} ({time.perf_counter() - t_epoch:.1f}s)"
                )
                keep = val < best if self.checkpoint == "validation" else True
                if keep:
                    best, hist.best_epoch = val, epoch
                    best_state = copy.deepcopy(self.net.state_dict())
                if self.max_seconds is not None and time.perf_counter() - t0 > self.max_seconds:
                    hist.stopped = "time-budget"
                    break
        except KeyboardInterrupt:
            hist.stopped = "interrupted"
            log.warning("%s: training interrupted; keeping the weights of epoch %d", self.name, hist.best_epoch)
        self.net.load_state_dict(best_state)
        self.net.eval()
        hist.seconds = time.perf_counter() - t0
        return hist
