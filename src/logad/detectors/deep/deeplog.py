"""DeepLog (Du et al., CCS'17): an LSTM learns which log key comes next in normal sessions; a
session is anomalous when its keys are not among the top-g predictions.

Faithful to the paper, with the bundled port's bugs fixed (seed_methods.md §5.9); the next-key
machinery shared with LogAnomaly is in `next_key.py`:
- every key is predicted, from a left-padded window, so sessions shorter than the window are
  scored by their content instead of silently yielding one PAD-labelled window;
- the end of a session is predicted too (an `<eos>` key), which catches sessions cut short,
  instead of counting a PAD label as a miss in every session;
- keys unseen in training are always misses; so are transitions never seen in training when
  `unseen_transitions` (DeepLog's own rule for unseen keys, applied to the transitions the model
  was shown: see `next_key.py` for why a softmax needs it);
- the threshold comes from validation data, never from test labels. The default score is the
  largest surprise (-log p) of a true key; `--protocol original` uses the paper's rule (misses
  outside the top-9) with its test-tuned threshold, marked oracle-on-test.

With `parameter_model=True` and sequences that carry values (`Sequence.line_values`: loaders
called with `with_values=True`; `logad evaluate/train/detect` do it for this option), the paper's
parameter-value model (`param_model.py`: a small LSTM per template over the time gaps and numeric
parameters of its lines) runs beside the key model. The two are combined into one score: each is
divided by its own 99.5 % quantile on DeepLog's internal held-out sequences, and the larger ratio
is the score (1.0 = as unusual as the rarest normal sequences, for either model). It is off by
default: it pays where anomalies show in timings or values (the paper used it for OpenStack VM
creation times); on HDFS, whose anomalies are in the workflow, it only adds false alarms
(hdfs_2pct, chronological split, validation-picked threshold: F1 0.834 without it, 0.585 with it).

Training and scoring work on unique (window, next key) pairs with their counts as weights: HDFS
sessions repeat heavily, so this shrinks the work by orders of magnitude without changing the loss.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from logad.detectors.base import check_choice, check_float, check_int
from logad.detectors.deep.base import DeepDetector, KeyVocabulary
from logad.detectors.deep.engine import TrainConfig, torch, train
from logad.detectors.deep.next_key import PAD, SCORINGS, SPECIALS, NextKeyScoring, pairs
from logad.errors import InvalidParameterError
from logad.records import Sequence


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


def _build_next_key_ensemble(members: list):
    """Next-key nets trained from different seeds: the returned "logits" are the log of their
    mean probabilities (softmax of them gives that mean), so ranks and surprises are the ensemble's."""
    t = torch()

    class NextKeyEnsemble(t.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = t.nn.ModuleList(members)

        def forward(self, windows):
            prob = t.stack([t.softmax(m(windows), dim=1) for m in self.members]).mean(0)
            return t.log(prob.clamp_min(1e-30))

    return NextKeyEnsemble()


def train_next_key(detector, model, fit_seqs: list[Sequence], val_seqs: list[Sequence], name: str,
                   seed: int | None = None, report_epochs: bool = True):
    """Train a windows -> next-key model on unique (window, next key) pairs weighted by counts
    (batch order from `seed`, default the detector's). `report_epochs`: call the detector's
    per-epoch callback (a tuner's report); an ensemble reports its first member's epochs only."""
    t = torch()

    def samples(sequences: list[Sequence]) -> list[tuple[tuple[int, ...], int, float]]:
        counts: Counter = Counter()
        for s in sequences:
            counts.update(pairs(detector._encode_ids(s.template_ids), detector.window))
        return [(w, k, float(c)) for (w, k), c in sorted(counts.items())]

    def loss_of(net, items):
        x = t.tensor([w for w, _, _ in items], dtype=t.long)
        y = t.tensor([k for _, k, _ in items], dtype=t.long)
        weight = t.tensor([c for _, _, c in items], dtype=t.float32)
        per_item = t.nn.functional.cross_entropy(net(x), y, reduction="none")
        return (per_item * weight).sum() / weight.sum()

    config = TrainConfig(
        epochs=detector.epochs, batch_size=detector.batch_size, lr=detector.lr, patience=detector.patience,
        seed=detector.seed if seed is None else seed, max_seconds=detector.max_train_seconds,
    )
    return train(
        model, train_items=samples(fit_seqs), val_items=samples(val_seqs),
        lengths=lambda items: [detector.window] * len(items), loss_of=loss_of, config=config,
        progress=detector._progress, name=name, on_epoch_end=detector._on_epoch_end if report_epochs else None,
        weight_of=lambda items: sum(c for _, _, c in items),
    )


def holdout(sequences: list[Sequence], fraction: float) -> tuple[list[Sequence], list[Sequence]]:
    """(fit part, held-out tail) of the training sequences, for early stopping."""
    n_val = int(round(len(sequences) * fraction)) if len(sequences) > 1 else 0
    return sequences[: len(sequences) - n_val], sequences[len(sequences) - n_val :]


class DeepLogDetector(NextKeyScoring, DeepDetector):
    """Score = largest surprise of a true key (or the paper's count of top-g misses).

    `n_models` (default 3): a seed ensemble, member i from seed + i, next-key probabilities averaged.
    Adopted by the seed-stability rule of benchmarks/README.md (issue 19 item 2) on hdfs_2pct's
    training period; `n_models=1` is one net (a third of the training and scoring time).
    """

    explains = True
    name = "deeplog"
    saved_without = {"n_models": 1}  # models saved before the ensemble are one net
    supervised = False
    needs_normal_only = True
    # `--protocol original`: the paper's rule (misses outside the top-9, threshold on their count)
    ORIGINAL_PARAMS = {"scoring": "misses", "top_g": 9, "window": 10, "unseen_transitions": False}

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
        unseen_transitions: bool = True,
        parameter_model: bool = False,
        param_window: int = 3,
        n_models: int = 3,
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
        self.unseen_transitions = unseen_transitions
        self.parameter_model = parameter_model
        self.param_window = param_window
        self.n_models = n_models

    def needs_line_values(self) -> bool:
        """Loaders extract line values for this detector when its parameter model is on."""
        return bool(self.parameter_model)

    def _validate_params(self) -> None:
        for name in ("window", "top_g", "embed_dim", "hidden", "layers", "epochs", "batch_size", "patience", "param_window",
                     "n_models"):
            check_int(name, getattr(self, name), 1)
        check_float("lr", self.lr, 0.0, 1.0, low_open=True)
        check_float("val_fraction", self.val_fraction, 0.0, 0.9)
        check_int("seed", self.seed, 0)
        check_choice("scoring", self.scoring, SCORINGS)
        for name in ("unseen_transitions", "parameter_model"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidParameterError(f"`{name}` must be True or False, got {getattr(self, name)!r}")

    def _build_model(self):
        if self.n_models == 1:  # one net (the saved layout of models without an ensemble)
            return self._new_net()
        return _build_next_key_ensemble([self._new_net() for _ in range(self.n_models)])

    def _new_net(self):
        return _build_lstm(len(self.vocab_), self.embed_dim, self.hidden, self.layers)

    def _encode_ids(self, template_ids) -> list[int]:
        return self.vocab_.encode(template_ids)

    # -- persistence ----------------------------------------------------------------------------
    def _state(self) -> dict:
        pm = self.param_model_
        return {
            "transitions": sorted(map(list, self.transitions_)),
            "parameter_model": None if pm is None else pm.state(),
            "score_refs": list(self.score_refs_) if self.score_refs_ else None,
        }

    def _restore_state(self, state: dict) -> None:
        self.transitions_ = {(int(a), int(b)) for a, b in state["transitions"]}
        self._param_state = state.get("parameter_model")
        refs = state.get("score_refs")
        self.score_refs_ = None if refs is None else (float(refs[0]), float(refs[1]))
        self.param_model_ = None

    def _extra_tensors(self) -> dict:
        return {} if self.param_model_ is None else {f"param.{k}": v for k, v in self.param_model_.tensors().items()}

    def _restore_extra_tensors(self, tensors: dict) -> None:
        if self._param_state is not None:
            from logad.detectors.deep.param_model import ParameterValueModel

            sub = {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")}
            self.param_model_ = ParameterValueModel.from_state(self._param_state, sub)

    # -- training -------------------------------------------------------------------------------
    def _fit(self, sequences: list[Sequence], labels) -> None:
        fit_seqs, val_seqs = holdout(sequences, self.val_fraction)
        self.vocab_ = KeyVocabulary(SPECIALS).fit(fit_seqs)
        self._learn_transitions(sequences)
        # set before training: a tuner's per-epoch callback scores the current weights
        self.param_model_, self.score_refs_ = None, None
        # a seed ensemble's members share the data; member i starts from seed + i (weights and
        # batch order) and stops early on its own validation loss
        members, self.histories_ = [], []
        for i in range(self.n_models):
            torch().manual_seed(self.seed + i)
            net = self._new_net()
            self.model_ = net  # what a per-epoch callback scores while this member trains
            name = "deeplog" if self.n_models == 1 else f"deeplog {i + 1}/{self.n_models}"
            self.histories_.append(train_next_key(self, net, fit_seqs, val_seqs, name, seed=self.seed + i,
                                                  report_epochs=i == 0))
            members.append(net)
        self.history_ = self.histories_[0]
        self.model_ = members[0] if self.n_models == 1 else _build_next_key_ensemble(members)
        if self.parameter_model and any(s.line_values is not None for s in fit_seqs):
            from logad.detectors.deep.param_model import ParameterValueModel

            self.param_model_ = ParameterValueModel(window=self.param_window, seed=self.seed).fit(
                fit_seqs, val_seqs, self._progress
            )
            ref = val_seqs or fit_seqs
            key_ref = float(np.quantile(self._key_scores(ref), 0.995))
            param_ref = float(np.quantile(self._param_scores(ref), 0.995))
            # a zero reference (every held-out sequence perfectly ordinary) must not divide by zero
            self.score_refs_ = (key_ref if key_ref > 0 else 1.0, param_ref if param_ref > 0 else 1.0)

    # -- scoring --------------------------------------------------------------------------------
    def _param_scores(self, sequences: list[Sequence]) -> np.ndarray:
        """Per sequence: the largest error z-score of its lines' values (0 without values)."""
        pm = self.param_model_
        return np.array([float(pm.line_scores(s).max(initial=0.0)) for s in sequences])

    def _score(self, sequences: list[Sequence]) -> np.ndarray:
        keys = self._key_scores(sequences)
        if self.param_model_ is None:
            return keys
        key_ref, param_ref = self.score_refs_
        return np.maximum(keys / key_ref, self._param_scores(sequences) / param_ref)

    def _misses(self, sequences: list[Sequence]) -> list[list[int]]:
        """For each sequence, the positions (len = end of session) whose key was not in the top-g."""
        return [np.flatnonzero(r > self.top_g).tolist() for r, _ in self._ranks(sequences)]

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Template ids whose key came unpredicted (id 0 = the session ended unexpectedly), weighted
        by -log p of the true key; then templates whose line values were unusual (weight = the
        line's error z-score over the parameter model's reference); most unusual first."""
        self._check_fitted()
        out = self._missed_keys(sequence, fallback=False)
        if self.param_model_ is not None:
            ids = list(sequence.template_ids)
            z = self.param_model_.line_scores(sequence) / self.score_refs_[1]
            out += sorted(((ids[j], float(z[j])) for j in np.flatnonzero(z > 1.0)), key=lambda kv: -kv[1])
        return out or self._missed_keys(sequence)  # nothing missed or unusual: the most surprising key
