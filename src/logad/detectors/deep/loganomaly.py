"""LogAnomaly (Meng et al., IJCAI'19): next-key prediction from semantic and quantitative patterns.

As the paper describes (not the simplified port of seed_methods.md section 5.9, which drops the
semantics):
- every template is represented by its template2vec-style semantic vector (TF-IDF weighted GloVe
  word vectors, `logad.features.semantic`), FROZEN during training;
- for every key of a session (and an end-of-session token) the previous `window` keys are the
  input, left-padded with a zero vector so short sessions are scored by their content;
- a sequential LSTM reads the semantic vectors of the window; a quantitative LSTM reads, step by
  step, the count vector (over the key vocabulary) of the keys seen so far in the window; their
  last states are concatenated -> Linear -> next-key distribution;
- a position is *missed* when the true key is not among the `top_g` most probable keys.

Score (`scoring="misses"`, the paper's rule): the NUMBER of missed positions (counts, not a
ratio, so one wrong key in a long session is as visible as in a short one; `"ratio"` divides by
the positions, `"surprise"` is the largest -log p of a true key).

Templates unseen in training: when their text is known (`set_templates`), they are matched to the
known template with the most cosine-similar semantic vector (LogAnomaly's rule) if the similarity
is >= `match_similarity`; otherwise (or without text) they count as missed.

Training and scoring work on unique (window, next key) pairs weighted by their counts.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from logad.detectors.base import check_choice, check_float, check_int
from logad.detectors.deep.base import DeepDetector, KeyVocabulary
from logad.detectors.deep.engine import TrainConfig, torch, train
from logad.features.semantic import SemanticTemplates, cosine_nearest
from logad.progress import SILENT
from logad.records import Sequence

SPECIALS = ("<pad>", "<unk>", "<eos>")
PAD, UNK, EOS = 0, 1, 2


def _pairs(encoded: list[int], window: int) -> list[tuple[tuple[int, ...], int]]:
    """(previous `window` keys left-padded with PAD, next key) for every key and the end."""
    padded = [PAD] * window + encoded
    targets = encoded + [EOS]
    return [(tuple(padded[j : j + window]), targets[j]) for j in range(len(targets))]


def _build_net(semantic: np.ndarray, hidden: int, layers: int):
    t = torch()
    nn = t.nn
    n_keys, dim = semantic.shape

    class LogAnomalyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("semantic", t.tensor(semantic, dtype=t.float32))  # frozen inputs
            self.seq_lstm = nn.LSTM(dim, hidden, num_layers=layers, batch_first=True)
            self.qnt_lstm = nn.LSTM(n_keys, hidden, num_layers=layers, batch_first=True)
            self.out = nn.Linear(2 * hidden, n_keys)

        def forward(self, windows):
            sem = self.semantic[windows]  # (B, h, dim); PAD/UNK rows are zero
            onehot = nn.functional.one_hot(windows, n_keys).float()
            onehot[..., PAD] = 0.0
            counts = onehot.cumsum(dim=1)  # count vector of the window so far, per step
            hs, _ = self.seq_lstm(sem)
            hq, _ = self.qnt_lstm(counts)
            return self.out(t.cat([hs[:, -1], hq[:, -1]], dim=1))

    return LogAnomalyNet()


class LogAnomalyDetector(SemanticTemplates, DeepDetector):
    """Score = number of keys (and session end) outside the top-g next-key predictions.

    Call `set_templates({id: text})` before `fit` (ids without text fall back to id-only vectors).
    """

    name = "loganomaly"
    supervised = False
    needs_normal_only = True

    def __init__(
        self,
        *,
        window: int = 10,
        top_g: int = 9,
        hidden: int = 64,
        layers: int = 2,
        epochs: int = 30,
        batch_size: int = 256,
        lr: float = 2e-3,
        patience: int = 3,
        val_fraction: float = 0.1,
        seed: int = 0,
        max_train_seconds: float | None = None,
        scoring: str = "misses",
        match_similarity: float = 0.9,
        word_vectors: str = "glove50",
    ) -> None:
        self.window = window
        self.top_g = top_g
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
        self.match_similarity = match_similarity
        self.word_vectors = word_vectors

    def _validate_params(self) -> None:
        for name in ("window", "top_g", "hidden", "layers", "epochs", "batch_size", "patience"):
            check_int(name, getattr(self, name), 1)
        check_float("lr", self.lr, 0.0, 1.0, low_open=True)
        check_float("val_fraction", self.val_fraction, 0.0, 0.9)
        check_float("match_similarity", self.match_similarity, -1.0, 1.0)
        check_int("seed", self.seed, 0)
        check_choice("scoring", self.scoring, ("misses", "ratio", "surprise"))
        if not isinstance(self.word_vectors, str) or not self.word_vectors:
            from logad.errors import InvalidParameterError

            raise InvalidParameterError(f"`word_vectors` must be 'glove50' or a file path, got {self.word_vectors!r}")

    # -- model ------------------------------------------------------------------------------------
    def _semantic_matrix(self) -> np.ndarray:
        mat = np.zeros((len(self.vocab_), self.dim_), dtype=np.float32)
        for tid, idx in self.vocab_.index.items():
            v = getattr(self, "vectors_", {}).get(tid)
            if v is not None:
                mat[idx] = v
        return mat

    def _build_model(self):
        return _build_net(self._semantic_matrix(), self.hidden, self.layers)

    def _state(self) -> dict:
        return {"semantic": self._semantic_state(), "history": getattr(self, "history_", None) and self.history_.as_dict()}

    def _restore_state(self, state: dict) -> None:
        self._restore_semantic_state(state["semantic"])

    def _extra_tensors(self) -> dict:
        t = torch()
        ids, mat = self._semantic_arrays()
        return {"template_ids": t.tensor(ids), "template_vectors": t.tensor(mat)}

    def _restore_extra_tensors(self, tensors: dict) -> None:
        self._restore_semantic_arrays(tensors["template_ids"].numpy(), tensors["template_vectors"].numpy())
        self._matches = {}

    # -- keys -------------------------------------------------------------------------------------
    def _encode(self, template_ids) -> list[int]:
        """Model indices; an unseen id goes to its nearest known template (cosine >= threshold) or UNK."""
        index = self.vocab_.index
        out = []
        for tid in template_ids:
            idx = index.get(tid)
            out.append(idx if idx is not None else self._match(tid))
        return out

    def _match(self, tid: int) -> int:
        cache = self.__dict__.setdefault("_matches", {})
        if tid in cache:
            return cache[tid]
        result = UNK
        vec = self._vector_of(tid) if tid != 0 else None
        if vec is not None and self.vocab_.index:
            keys = sorted(self.vocab_.index)
            mat = np.stack([self.vectors_[k] for k in keys])
            row, sim = cosine_nearest(vec, mat)
            if row >= 0 and sim >= self.match_similarity:
                result = self.vocab_.index[keys[row]]
        cache[tid] = result
        return result

    def set_templates(self, templates: dict[int, str]):
        super().set_templates(templates)
        self._matches = {}
        return self

    # -- training ---------------------------------------------------------------------------------
    def _samples(self, sequences: list[Sequence]) -> list[tuple[tuple[int, ...], int, float]]:
        counts: Counter = Counter()
        for s in sequences:
            counts.update(_pairs(self.vocab_.encode(s.template_ids), self.window))
        return [(w, k, float(c)) for (w, k), c in sorted(counts.items())]

    def _fit(self, sequences: list[Sequence], labels) -> None:
        t = torch()
        n_val = int(round(len(sequences) * self.val_fraction)) if len(sequences) > 1 else 0
        fit_seqs, val_seqs = sequences[: len(sequences) - n_val], sequences[len(sequences) - n_val :]
        self.vocab_ = KeyVocabulary(SPECIALS).fit(fit_seqs)
        self._fit_semantics(self.vocab_.index)
        self._matches = {}
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
            progress=getattr(self, "progress", SILENT), name="loganomaly", on_epoch_end=self.on_epoch_end,
        )

    # -- scoring ----------------------------------------------------------------------------------
    def _ranks(self, sequences: list[Sequence]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sequence: 1-based rank and -log p of the true key at every position (and the end);
        unmatched unseen keys get the worst rank."""
        t = torch()
        per_seq = [_pairs(self._encode(s.template_ids), self.window) for s in sequences]
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
                np.put_along_axis(rank[i : i + len(x)], order, np.arange(1, n_keys + 1, dtype=np.int32)[None, :], axis=1)
        worst_nll = float(np.log(max(n_keys, 2))) + 50.0
        out = []
        for pairs in per_seq:
            r = np.array([n_keys + 1 if k == UNK else rank[row[w], k] for w, k in pairs], dtype=np.int64)
            s = np.array([worst_nll if k == UNK else nll[row[w], k] for w, k in pairs], dtype=np.float64)
            out.append((r, s))
        return out

    def _score(self, sequences: list[Sequence]) -> np.ndarray:
        ranks = self._ranks(sequences)
        if self.scoring == "surprise":
            return np.array([float(s.max()) for _, s in ranks])
        misses = np.array([float((r > self.top_g).sum()) for r, _ in ranks])
        if self.scoring == "ratio":
            return misses / np.array([float(len(r)) for r, _ in ranks])
        return misses

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """The template ids that came unpredicted (id 0 = the session ended unexpectedly), weighted
        by -log p of the true key, most surprising first."""
        self._check_fitted()
        ((r, s),) = self._ranks([sequence])
        ids = list(sequence.template_ids)
        missed = np.flatnonzero(r > self.top_g)
        order = sorted(missed.tolist(), key=lambda j: (-s[j], j))
        return [(ids[j] if j < len(ids) else 0, float(s[j])) for j in order]
