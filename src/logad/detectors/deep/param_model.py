"""DeepLog's parameter-value model (Du et al., CCS'17, section 3.2).

For every template, the lines of that template inside a sequence form a series of value vectors
(seconds since the previous line, then the line's numeric parameters: `Sequence.line_values`).
A small LSTM per template predicts each vector from the previous `window` ones; the prediction
errors on held-out sequences are modelled as a Gaussian; a line whose error lies far outside it
(its z-score) is a performance or parameter anomaly even when its template came in the right order.

Values are compared on a signed log scale (sign(x)·log(1+|x|)): time gaps and sizes are heavy
tailed, and on a linear scale one slow but normal step would dominate every error. Columns that
are numeric in fewer than half of a template's lines are ignored (block ids, IP addresses...). Values are standardised per template and column; a missing value is neither input
nor target. Templates seen fewer than `min_count` times get no LSTM: their vectors are compared
with the template's mean (the same Gaussian rule, without a temporal model).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from logad.detectors.deep.engine import TrainConfig, torch, train
from logad.progress import SILENT, Progress
from logad.records import Sequence

ERR_SD_FLOOR = 0.05  # in standardised units: a template whose errors never vary is not infinitely strict


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _series(sequences: list[Sequence]) -> dict[int, list[list[tuple[float, ...]]]]:
    """template id -> one list of value vectors per sequence (in line order)."""
    out: dict[int, list[list[tuple[float, ...]]]] = defaultdict(list)
    for s in sequences:
        if s.line_values is None:
            continue
        per: dict[int, list[tuple[float, ...]]] = defaultdict(list)
        for tid, v in zip(s.template_ids, s.line_values):
            if tid:
                per[tid].append(v)
        for tid, vs in per.items():
            out[tid].append(vs)
    return out


def _build_regressor(dim: int, hidden: int):
    nn = torch().nn

    class NextValues(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(2 * dim, hidden, batch_first=True)  # values + "observed" flags
            self.out = nn.Linear(hidden, dim)

        def forward(self, x):
            h, _ = self.lstm(x)
            return self.out(h[:, -1])

    return NextValues()


class ParameterValueModel:
    """Per-template LSTMs over value vectors; `line_scores` gives each line's error z-score."""

    def __init__(self, *, window: int = 3, hidden: int = 16, epochs: int = 15, lr: float = 5e-3,
                 batch_size: int = 256, min_count: int = 30, seed: int = 0) -> None:
        self.window = window
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.min_count = min_count
        self.seed = seed
        self.templates: dict[int, dict] = {}  # per template: columns, mean, sd, error Gaussian
        self.models: dict[int, object] = {}

    # -- features -------------------------------------------------------------------------------
    def _standardise(self, tid: int, vectors: list[tuple[float, ...]]) -> tuple[np.ndarray, np.ndarray]:
        """(values, observed) arrays of shape (n, dim) for the template's kept columns."""
        spec = self.templates[tid]
        cols = spec["columns"]
        raw = np.full((len(vectors), len(cols)), np.nan)
        for i, v in enumerate(vectors):
            for j, c in enumerate(cols):
                if c < len(v):
                    raw[i, j] = v[c]
        raw = _signed_log(raw)
        obs = np.isfinite(raw)
        z = (raw - np.asarray(spec["mean"])) / np.asarray(spec["sd"])
        return np.where(obs, z, 0.0), obs

    def _samples(self, tid: int, series: list[list[tuple[float, ...]]]):
        """(inputs (n, window, 2*dim), targets (n, dim), target masks (n, dim))."""
        xs, ys, ms = [], [], []
        dim = len(self.templates[tid]["columns"])
        for vectors in series:
            z, obs = self._standardise(tid, vectors)
            feats = np.concatenate([z, obs.astype(np.float64)], axis=1)
            padded = np.vstack([np.zeros((self.window, 2 * dim)), feats])
            for j in range(len(vectors)):
                xs.append(padded[j : j + self.window])
                ys.append(z[j])
                ms.append(obs[j])
        return np.asarray(xs, np.float32), np.asarray(ys, np.float32), np.asarray(ms, bool)

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, train_seqs: list[Sequence], val_seqs: list[Sequence], progress: Progress = SILENT) -> ParameterValueModel:
        train_series, val_series = _series(train_seqs), _series(val_seqs)
        for tid in sorted(train_series):
            vectors = [v for vs in train_series[tid] for v in vs]
            width = max(len(v) for v in vectors)
            raw = np.full((len(vectors), width), np.nan)
            for i, v in enumerate(vectors):
                raw[i, : len(v)] = v
            raw = _signed_log(raw)
            finite = np.isfinite(raw)
            cols = [c for c in range(width) if finite[:, c].mean() >= 0.5]
            if not cols:
                continue
            mean = [float(np.nanmean(raw[:, c])) for c in cols]
            sd = [max(float(np.nanstd(raw[:, c])), 1e-3 * (abs(m) + 1.0)) for c, m in zip(cols, mean)]
            self.templates[tid] = {"columns": cols, "mean": mean, "sd": sd, "lstm": len(vectors) >= self.min_count}
            if self.templates[tid]["lstm"]:
                self.models[tid] = self._train_one(tid, train_series[tid], val_series.get(tid, []), progress)
        # the Gaussian of errors comes from held-out sequences (training errors when there are none)
        for tid, spec in self.templates.items():
            errs = self._errors(tid, val_series.get(tid) or train_series[tid])
            spec["err_mean"] = float(errs.mean()) if errs.size else 0.0
            spec["err_sd"] = max(float(errs.std()) if errs.size else 0.0, ERR_SD_FLOOR)
        return self

    def _train_one(self, tid: int, series, val_series, progress: Progress):
        t = torch()
        x, y, m = self._samples(tid, series)
        items = list(zip(x, y, m))
        val_items = list(zip(*self._samples(tid, val_series))) if val_series else []
        t.manual_seed(self.seed + tid)
        model = _build_regressor(len(self.templates[tid]["columns"]), self.hidden)

        def loss_of(net, batch):
            bx = t.from_numpy(np.stack([b[0] for b in batch]))
            by = t.from_numpy(np.stack([b[1] for b in batch]))
            bm = t.from_numpy(np.stack([b[2] for b in batch])).float()
            return (((net(bx) - by) ** 2) * bm).sum() / bm.sum().clamp_min(1.0)

        train(model, train_items=items, val_items=val_items, lengths=lambda its: [1] * len(its), loss_of=loss_of,
              config=TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, patience=3, seed=self.seed + tid),
              progress=SILENT, name=f"deeplog values of template {tid}")
        progress.stage(f"deeplog: parameter model for template {tid} ({len(items)} lines)")
        return model

    # -- scoring --------------------------------------------------------------------------------
    def _errors(self, tid: int, series) -> np.ndarray:
        """Mean squared standardised error of every line of `series` (lines with no value: none)."""
        if not series:
            return np.zeros(0)
        x, y, m = self._samples(tid, series)
        if self.templates[tid]["lstm"]:
            t = torch()
            model = self.models[tid]
            model.eval()
            with t.no_grad():
                pred = np.concatenate([model(t.from_numpy(x[i : i + 4096])).numpy() for i in range(0, len(x), 4096)])
        else:
            pred = np.zeros_like(y)
        sq = ((pred - y) ** 2) * m
        n_obs = m.sum(axis=1)
        keep = n_obs > 0
        return sq[keep].sum(axis=1) / n_obs[keep]

    def line_scores(self, sequence: Sequence) -> np.ndarray:
        """z-score of each line's error (0 for lines without a model or without values)."""
        out = np.zeros(len(sequence.template_ids))
        if sequence.line_values is None:
            return out
        positions: dict[int, list[int]] = defaultdict(list)
        for j, tid in enumerate(sequence.template_ids):
            if tid in self.templates:
                positions[tid].append(j)
        for tid, pos in positions.items():
            spec = self.templates[tid]
            vectors = [sequence.line_values[j] for j in pos]
            x, y, m = self._samples(tid, [vectors])
            if spec["lstm"]:
                t = torch()
                model = self.models[tid]
                model.eval()
                with t.no_grad():
                    pred = model(t.from_numpy(x)).numpy()
            else:
                pred = np.zeros_like(y)
            n_obs = m.sum(axis=1)
            err = np.where(n_obs > 0, (((pred - y) ** 2) * m).sum(axis=1) / np.maximum(n_obs, 1), spec["err_mean"])
            z = (err - spec["err_mean"]) / spec["err_sd"]
            out[pos] = np.maximum(z, 0.0)
        return out

    # -- persistence ----------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "params": {"window": self.window, "hidden": self.hidden, "epochs": self.epochs, "lr": self.lr,
                       "batch_size": self.batch_size, "min_count": self.min_count, "seed": self.seed},
            "templates": [[tid, spec] for tid, spec in sorted(self.templates.items())],
        }

    def tensors(self) -> dict:
        return {f"{tid}.{k}": v for tid, model in self.models.items() for k, v in model.state_dict().items()}

    @classmethod
    def from_state(cls, state: dict, tensors: dict) -> ParameterValueModel:
        pm = cls(**state["params"])
        pm.templates = {int(tid): spec for tid, spec in state["templates"]}
        for tid, spec in pm.templates.items():
            if spec["lstm"]:
                model = _build_regressor(len(spec["columns"]), pm.hidden)
                prefix = f"{tid}."
                model.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
                model.eval()
                pm.models[tid] = model
        return pm

