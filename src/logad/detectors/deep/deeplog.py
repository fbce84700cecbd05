"""DeepLog (Du et al., CCS'17): an LSTM learns which log key comes next in normal sessions; a
session is anomalous when its keys are not among the top-g predictions.

Faithful to the paper, with the bundled port's bugs fixed (seed_methods.md §5.9):
- every key is predicted, from a left-padded window, so sessions shorter than the window are
  scored by their content instead of silently yielding one PAD-labelled window;
- the end of a session is predicted too (an `<eos>` key), which catches sessions cut short,
  instead of counting a PAD label as a miss in every session;
- keys unseen in training are always misses;
- the threshold on the number of misses comes from validation data, never from test labels.

Training and scoring work on unique (window, next key) pairs with their counts as weights: HDFS
sessions repeat heavily, so this shrinks the work by orders of magnitude without changing the loss.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from logad.detectors.base import check_choice, check_float, check_int
from logad.detectors.deep.base import DeepDetector, KeyVocabulary
from logad.detectors.deep.engine import TrainConfig, torch, train
from logad.progress import SILENT
from logad.records import Sequence

SPECIALS = ("<pad>", "<unk>", "<eos>")
PAD, UNK, EOS = 0, 1, 2


def _pairs(encoded: list[int], window: int) -> list[tuple[tuple[int, ...], int]]:
    """(previous `window` keys left-padded with PAD, next key) for every key and the end."""
    padded = [PAD] * window + encoded
    targets = encoded + [EOS]
    return [(tuple(padded[j : j + window]), targets[j]) for j in range(len(targets))]


def _build_lstm(vocab_size: int, embed_dim: int, hidden: int, layers: int):
    nn = torch().nn

    class NextKeyLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
            self.lstm = nn.LSTM(embed_dim, hidden, num_layers=layers, batch_first=True)
            self.out = nn.Linear(hidden, vocab_size)

        def forward(self, windows):
            h, _ = self.lstm(self.embed(windows))
            return self.out(h[:, -1])

    return NextKeyLSTM()


class DeepLogDetector(DeepDetector):
    """Score = number of keys (and session end) outside the top-g predictions."""

    name = "deeplog"
    supervised = False
    needs_normal_only = True
    # `--protocol original`: the paper's rule (misses outside the top-9, threshold on their count)
    ORIGINAL_PARAMS = {"scoring": "misses", "top_g": 9, "window": 10}

    def __init__(
        self,
        *,
        window: int = 10,
        top_g: int = 9,
        embed_dim: int = 32,
        hidden: int = 64,
        layers: int = 2,
        epochs: int = 30,
        batch_size: int = 256,
        lr: float = 2e-3,
        patience: int = 3,
        val_fraction: float = 0.1,
        seed: int = 0,
        max_train_seconds: float | None = None,
        scoring: str = "surprise",
    ) -> None:
        self.window = window
        self.top_g = top_g
        self.embed_dim = embed_dim
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.max_train_seconds = max_train_seconds
        self.scoring = scoring

    def _validate_params(self) -> None:
        for name in ("window", "top_g", "embed_dim", "hidden", "layers", "epochs", "batch_size", "patience"):
            check_int(name, getattr(self, name), 1)
        check_float("lr", self.lr, 0.0, 1.0, low_open=True)
        check_float("val_fraction", self.val_fraction, 0.0, 0.9)
        check_int("seed", self.seed, 0)
        check_choice("scoring", self.scoring, ("surprise", "rank", "misses"))

    def _build_model(self):
        return _build_lstm(len(self.vocab_), self.embed_dim, self.hidden, self.layers)

    # -- training -------------------------------------------------------------------------------
    def _samples(self, sequences: list[Sequence]) -> list[tuple[tuple[int, ...], int, float]]:
        counts: Counter = Counter()
        for s in sequences:
            counts.update(_pairs(self.vocab_.encode(s.template_ids), self.window))
        return [(w, t, float(c)) for (w, t), c in sorted(counts.items())]

    def _fit(self, sequences: list[Sequence], labels) -> None:
        t = torch()
        n_val = int(round(len(sequences) * self.val_fraction)) if len(sequences) > 1 else 0
        fit_seqs, val_seqs = sequences[: len(sequences) - n_val], sequences[len(sequences) - n_val :]
        self.vocab_ = KeyVocabulary(SPECIALS).fit(fit_seqs)
        train_items = self._samples(fit_seqs)
        val_items = self._samples(val_seqs)
        t.manual_seed(self.seed)
        self.model_ = self._build_model()

        def loss_of(model, items):
            x = t.tensor([w for w, _, _ in items], dtype=t.long)
            y = t.tensor([k for _, k, _ in items], dtype=t.long)
            weight = t.tensor([c for _, _, c in items], dtype=t.float32)
            per_item = t.nn.functional.cross_entropy(model(x), y, reduction="none")
            return (per_item * weight).sum() / weight.sum()

        config = TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, patience=self.patience, seed=self.seed,
            max_seconds=self.max_train_seconds,
        )
        self.history_ = train(
            self.model_, train_items=train_items, val_items=val_items,
            lengths=lambda items: [self.window] * len(items), loss_of=loss_of, config=config,
            progress=getattr(self, "progress", SILENT), name="deeplog", on_epoch_end=self.on_epoch_end,
        )

    # -- scoring --------------------------------------------------------------------------------
    def _ranks(self, sequences: list[Sequence]) -> list[np.ndarray]:
        """For each sequence, the 1-based rank of the true next key (and of the session end) among
        the model's predictions at every position; unseen keys get the worst rank."""
        t = torch()
        per_seq = [_pairs(self.vocab_.encode(s.template_ids), self.window) for s in sequences]
        windows = sorted({w for pairs in per_seq for w, _ in pairs})
        row = {w: i for i, w in enumerate(windows)}
        n_keys = len(self.vocab_)
        rank = np.zeros((len(windows), n_keys), dtype=np.int32)
        nll = np.zeros((len(windows), n_keys), dtype=np.float64)
        self.model_.eval()
        with t.no_grad():
            for i in range(0, len(windows), 4096):
                x = t.tensor(windows[i : i + 4096], dtype=t.long)
                logits = self.model_(x)
                nll[i : i + len(x)] = (-t.log_softmax(logits, dim=1)).double().numpy()
                order = logits.argsort(dim=1, descending=True, stable=True).numpy()
                # rank[w, key] = position of key in the descending order, 1-based
                np.put_along_axis(rank[i : i + len(x)], order, np.arange(1, n_keys + 1, dtype=np.int32)[None, :], axis=1)
        out = []
        worst_nll = float(np.log(max(n_keys, 2))) + 50.0  # an unseen key: beyond any seen surprise
        for pairs in per_seq:
            r = np.array([n_keys if k == UNK else rank[row[w], k] for w, k in pairs], dtype=np.int64)
            s = np.array([worst_nll if k == UNK else nll[row[w], k] for w, k in pairs], dtype=np.float64)
            out.append((r, s))
        return out

    def _misses(self, sequences: list[Sequence]) -> list[list[int]]:
        """For each sequence, the positions (len = end of session) whose key was not in the top-g."""
        return [np.flatnonzero(r > self.top_g).tolist() for r, _ in self._ranks(sequences)]

    def _score(self, sequences: list[Sequence]) -> np.ndarray:
        ranks = self._ranks(sequences)
        if self.scoring == "misses":  # the paper's rule: number of keys outside the top-g
            return np.array([float((r > self.top_g).sum()) for r, _ in ranks])
        if self.scoring == "rank":
            # the worst rank of a true key: a threshold g on it is DeepLog's top-g rule with g
            # picked on validation data instead of fixed in advance
            return np.array([float(r.max()) + 0.001 * float((r > 1).sum()) for r, _ in ranks])
        # "surprise": the largest -log p of a true key in the session; a key that is possible but
        # rare in normal runs (HDFS's 'Unexpected error trying to delete block', seen in 2 of 5,583
        # training sessions) ranks high among few keys yet has a small probability
        return np.array([float(s.max()) for _, s in ranks])

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """The template ids that came unpredicted (id 0 = the session ended unexpectedly)."""
        self._check_fitted()
        (missed,) = self._misses([sequence])
        ids = list(sequence.template_ids)
        return [(ids[j] if j < len(ids) else 0, 1.0) for j in missed]
