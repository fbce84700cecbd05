"""What DeepLog and LogAnomaly share: predicting the next log key from the previous ones, and
turning those predictions into a sequence score.

Every key of a sequence is predicted from the `window` keys before it, left-padded with PAD so a
sequence shorter than the window is scored by its content (the bundled ports turned such a
session into one PAD-labelled window and ignored it); the end of the sequence is predicted too
(EOS), which catches sequences cut short. A key never seen in training is always a miss, and so
is a transition never seen in training (previous key -> key, or -> end) when
`unseen_transitions`: a softmax cannot say "never", and an LSTM gives such events small but not
tiny probabilities (HDFS sessions cut off after two keys get p(end) ~ 0.008, less surprising than
rare normal events).

Scores (`scoring`): "misses" = the papers' rule, the number of positions whose true key is not
among the `top_g` most probable; "rank" = the worst rank of a true key (a threshold on it is the
top-g rule with g picked on validation data); "surprise" = the largest -log p of a true key (rare
but possible keys count by how rare they are, not by where they rank among few keys).
"""

from __future__ import annotations

import numpy as np

from logad.records import Sequence

SPECIALS = ("<pad>", "<unk>", "<eos>")
PAD, UNK, EOS = 0, 1, 2
SCORINGS = ("surprise", "rank", "misses")


def beyond_the_cap(worst: float, n_novel: int, n_positions: int) -> float:
    """The score of a sequence holding `n_novel` events never seen in training (keys or
    transitions): above `worst`, the most any sequence without one can score, and growing with how
    many there are and what share of its positions they take. A fixed value for all of them would
    tie every such sequence, so a threshold set on one held-out normal with a single novelty could
    never be exceeded (the model would never alarm again)."""
    return worst + n_novel + n_novel / max(n_positions, 1)


def pairs(encoded: list[int], window: int) -> list[tuple[tuple[int, ...], int]]:
    """(previous `window` keys left-padded with PAD, next key) for every key and the end."""
    padded = [PAD] * window + encoded
    targets = encoded + [EOS]
    return [(tuple(padded[j : j + window]), targets[j]) for j in range(len(targets))]


class NextKeyScoring:
    """Mixin: the host provides `window`, `top_g`, `scoring`, `unseen_transitions`, `model_`
    (windows -> logits over the key vocabulary), `vocab_` and `_encode_ids(template_ids)`."""

    def _encode_ids(self, template_ids) -> list[int]:  # pragma: no cover - provided by the host
        raise NotImplementedError

    def _learn_transitions(self, sequences: list[Sequence]) -> None:
        """Every (previous key, next key) seen in training, start (PAD) and end (EOS) included."""
        self.transitions_ = {
            (w[-1], k) for s in sequences for w, k in pairs(self.vocab_.encode(s.template_ids), 1)
        }

    def _ranks(self, sequences: list[Sequence]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each sequence: the 1-based rank and the -log p of the true key at every position (and
        of the end). A novel key or transition gets a rank beyond every candidate set."""
        from logad.detectors.deep.engine import torch

        t = torch()
        per_seq = [pairs(self._encode_ids(s.template_ids), self.window) for s in sequences]
        windows = sorted({w for ps in per_seq for w, _ in ps})
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
        worst_nll, worst_rank = self._worst()
        seen = self.transitions_ if self.unseen_transitions else None
        out = []
        for ps in per_seq:
            novel = [k == UNK or (seen is not None and (w[-1], k) not in seen) for w, k in ps]
            r = np.array([worst_rank if nv else rank[row[w], k] for (w, k), nv in zip(ps, novel)], dtype=np.int64)
            s = np.array([worst_nll if nv else nll[row[w], k] for (w, k), nv in zip(ps, novel)], dtype=np.float64)
            out.append((r, s))
        return out

    def _worst(self) -> tuple[float, int]:
        """The surprise and rank given to an event never seen in training: beyond any the model gives."""
        n_keys = len(self.vocab_)
        return float(np.log(max(n_keys, 2))) + 50.0, max(n_keys, self.top_g) + 1

    def _key_scores(self, sequences: list[Sequence]) -> np.ndarray:
        ranks = self._ranks(sequences)
        if self.scoring == "misses":
            return np.array([float((r > self.top_g).sum()) for r, _ in ranks])
        worst_nll, worst_rank = self._worst()
        out = []
        for r, s in ranks:
            if self.scoring == "rank":
                novel = int((r == worst_rank).sum())
                out.append(beyond_the_cap(worst_rank, novel, r.size) if novel else
                           float(r.max()) + 0.001 * float((r > 1).sum()))
            else:
                novel = int((s == worst_nll).sum())
                out.append(beyond_the_cap(worst_nll, novel, s.size) if novel else float(s.max()))
        return np.array(out, dtype=np.float64)

    def _missed_keys(self, sequence: Sequence, fallback: bool = True) -> list[tuple[int, float]]:
        """Template ids whose key came outside the top-g (id 0 = the sequence ended unexpectedly),
        weighted by -log p of the true key, most surprising first. When every key was inside the
        top-g (a surprise score can still be high: an ensemble's averaged probabilities spread
        over more keys), the most surprising key, the one that set a "surprise" score (unless not
        `fallback`)."""
        ((r, s),) = self._ranks([sequence])
        ids = list(sequence.template_ids)
        missed = sorted(np.flatnonzero(r > self.top_g).tolist(), key=lambda j: (-s[j], j))
        if not missed and fallback and s.size:
            missed = [int(np.argmax(s))]
        return [(ids[j] if j < len(ids) else 0, float(s[j])) for j in missed]
