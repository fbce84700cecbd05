"""LogAnomaly (Meng et al., IJCAI'19): next-key prediction from semantic and quantitative patterns.

As the paper describes (not the simplified port of seed_methods.md section 5.9, which drops the
semantics):
- every template is represented by its template2vec-style semantic vector (TF-IDF weighted GloVe
  word vectors, `logad.features.semantic`), FROZEN during training;
- for every key of a session (and an end-of-session token) the previous `window` keys are the
  input, left-padded so short sessions are scored by their content (`next_key.py`);
- a sequential LSTM reads the semantic vectors of the window; a quantitative LSTM reads, step by
  step, the count vector (over the key vocabulary) of the keys seen so far in the window; their
  last states are concatenated -> Linear -> next-key distribution;
- templates unseen in training: when their text is known (`fit(templates=...)` or `add_templates`), they are matched to
  the known template with the most cosine-similar semantic vector (LogAnomaly's rule) if the
  similarity is >= `match_similarity`; otherwise (or without text) they count as missed.

Scores are those of `next_key.py`: by default the largest surprise of a true key, with unseen
transitions counted as misses and the threshold picked on validation data; `--protocol original`
uses the paper's rule (the number of keys outside the top-g; g = 6 as in the HDFS configuration
bundled with LogBERT) with its test-tuned threshold, marked oracle-on-test.

Training and scoring work on unique (window, next key) pairs weighted by their counts.
"""

from __future__ import annotations

import numpy as np

from logad.detectors.base import check_choice, check_float, check_int
from logad.detectors.deep.base import DeepDetector, KeyVocabulary
from logad.detectors.deep.deeplog import holdout, train_next_key
from logad.detectors.deep.engine import torch
from logad.detectors.deep.next_key import PAD, SCORINGS, SPECIALS, UNK, NextKeyScoring
from logad.errors import InvalidParameterError
from logad.features.semantic import SemanticTemplates, cosine_nearest
from logad.records import Sequence


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


class LogAnomalyDetector(SemanticTemplates, NextKeyScoring, DeepDetector):
    """Score = largest surprise of a true next key (or the paper's count of top-g misses).

    Template texts come with `fit(templates={id: text})` (ids without text fall back to id-only vectors).
    """

    explains = True
    name = "loganomaly"
    supervised = False
    needs_normal_only = True
    ORIGINAL_PARAMS = {"scoring": "misses", "top_g": 6, "window": 10, "unseen_transitions": False}

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
        scoring: str = "surprise",
        unseen_transitions: bool = True,
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
        self.unseen_transitions = unseen_transitions
        self.match_similarity = match_similarity
        self.word_vectors = word_vectors

    def _validate_params(self) -> None:
        for name in ("window", "top_g", "hidden", "layers", "epochs", "batch_size", "patience"):
            check_int(name, getattr(self, name), 1)
        check_float("lr", self.lr, 0.0, 1.0, low_open=True)
        check_float("val_fraction", self.val_fraction, 0.0, 0.9)
        check_float("match_similarity", self.match_similarity, -1.0, 1.0)
        check_int("seed", self.seed, 0)
        check_choice("scoring", self.scoring, SCORINGS)
        if not isinstance(self.unseen_transitions, bool):
            raise InvalidParameterError(f"`unseen_transitions` must be True or False, got {self.unseen_transitions!r}")
        if not isinstance(self.word_vectors, str) or not self.word_vectors:
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
        return {"semantic": self._semantic_state(), "transitions": sorted(map(list, self.transitions_))}

    def _restore_state(self, state: dict) -> None:
        self._restore_semantic_state(state["semantic"])
        self.transitions_ = {(int(a), int(b)) for a, b in state["transitions"]}

    def _extra_tensors(self) -> dict:
        t = torch()
        ids, mat = self._semantic_arrays()
        return {"template_ids": t.tensor(ids), "template_vectors": t.tensor(mat)}

    def _restore_extra_tensors(self, tensors: dict) -> None:
        self._restore_semantic_arrays(tensors["template_ids"].numpy(), tensors["template_vectors"].numpy())
        self._matches = {}

    # -- keys -------------------------------------------------------------------------------------
    def _encode_ids(self, template_ids) -> list[int]:
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

    def add_templates(self, templates: dict[int, str]):
        super().add_templates(templates)
        self._matches = {}
        return self

    # -- training ---------------------------------------------------------------------------------
    def _fit(self, sequences: list[Sequence], labels) -> None:
        fit_seqs, val_seqs = holdout(sequences, self.val_fraction)
        self.vocab_ = KeyVocabulary(SPECIALS).fit(fit_seqs)
        self._fit_semantics(self.vocab_.index)
        self._matches = {}
        self._learn_transitions(sequences)
        torch().manual_seed(self.seed)
        self.model_ = self._build_model()
        self.history_ = train_next_key(self, self.model_, fit_seqs, val_seqs, "loganomaly")

    # -- scoring ----------------------------------------------------------------------------------
    def _score(self, sequences: list[Sequence]) -> np.ndarray:
        return self._key_scores(sequences)

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Template ids that came unpredicted (id 0 = the session ended unexpectedly), weighted by
        -log p of the true key, most surprising first."""
        self._check_fitted()
        return self._missed_keys(sequence)
