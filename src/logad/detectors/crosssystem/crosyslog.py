"""CroSysLog (Wang et al., arXiv 2412.15445): log-ENTRY level cross-system anomaly detection.

Every log line is classified normal/anomalous. Each line's MESSAGE text (the format's Content
field: never the label field nor the header) is embedded once per unique message by a frozen
sentence encoder; an LSTM tagger reads windows of `window_size` consecutive entries and emits a
label per entry; MAML meta-trains the tagger on blocks of labelled SOURCE systems, so that a few
gradient steps on ~1,000 labelled TARGET entries adapt it to the target.

Built as the paper intends, with the original's defects fixed (seed_methods.md section 3):
- true MAML (functional weights, `torch.func.functional_call`): K inner SGD steps from the shared
  weights per task, query loss at the adapted weights, one AdamW meta-update on the mean query
  loss of all tasks; second order by default, first order on request. The original wrote the
  adapted weights into the network in place (first-order, never restored); `compat=True`
  reproduces that update rule;
- the tasks of EVERY source system are used (the original used only the first), and tasks are
  resampled every meta-iteration (the original reused one fixed draw);
- support and query blocks never overlap (the original allowed it on the target);
- the number of target adaptation steps is fixed in advance (`adapt_steps`). The original kept,
  per task, the best of 15 steps judged on the query labels; `protocol="original"` reproduces that
  and marks the figure `oracle-on-test`;
- hyper-parameters: the original searched them with Ray Tune on the target test F1; the
  experiments offer a validation-only objective instead.

This module holds the model and its maths: the configuration, the entry representation, windows of
entries, the block sampler, the LSTM tagger, MAML (and the original's in-place rule), the
meta-trained model and its persistence (the common deep-model folder format), adaptation and
prediction. Loading systems, the target's entry-level split, the decision on the evaluated entries,
the baselines and the validation-only tuning objective are `logad.experiments.crosyslog`; its only
door is `logad transfer --method crosyslog` (it is not a registered `Detector`: README, "Learn from
other systems").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError, unknown_name
from logad.progress import SILENT, Progress

DETECTOR = "crosyslog"
IGNORE = -100  # padded positions of a short window carry this label and no loss
# the original tokeniser lengths per system (tokens including [CLS]/[SEP]), seed_methods.md 3.3
ORIGINAL_MAX_LENGTHS = {"bgl": 10, "thunderbird": 17, "spirit": 16, "liberty": 13}


# -- configuration -------------------------------------------------------------------------------
@dataclass
class CroSysLogConfig:
    """Every parameter of a run; `logad.experiments.crosyslog.run_transfer(params=...)` overrides any
    of them by name."""

    # entry representation
    encoder: str = "minilm"  # "minilm" | "hashing" (tests) | a local model folder (e.g. bert-base-uncased)
    pooling: str = "mean-all"  # CroSysLog's rule; "mean" (masked) or "model" (the encoder's own)
    max_length: int | None = None  # one length for every system; None = `max_lengths` per system
    max_lengths: dict = field(default_factory=lambda: dict(ORIGINAL_MAX_LENGTHS))
    default_max_length: int = 32  # systems absent from `max_lengths`
    encoder_cache: str | None = None  # embedding cache folder (None = the default cache)
    # base learner
    window_size: int = 100
    hidden: int = 64
    layers: int = 1
    # meta-training (sources)
    meta_iterations: int = 40
    tasks_per_source: int = 2
    k_spt: int = 1000
    k_qry: int = 1000
    spt_ratio: tuple = (0.01, 0.5)
    qry_ratio: tuple = (0.01, 0.5)
    # 0.5, not the original's 2e-3..1e-2: on MiniLM vectors, meta-validation on held-out Thunderbird
    # blocks (`logad.experiments.crosyslog.tune_objective`, no target data) left 0.01 at "all normal"
    # and 0.5 near perfect
    update_lr: float = 0.5
    update_step: int = 5
    meta_lr: float = 1e-3
    weight_decay: float = 0.01  # AdamW's default
    first_order: bool = False
    compat: bool = False  # the original's in-place update rule (seed_methods.md 3.6)
    max_seconds: float | None = None  # meta-training wall-clock budget
    # target adaptation
    n_support: int | None = None  # labelled target entries; None = from `setup.amount`
    support_start: int = 0
    adapt_steps: int = 10  # FIXED in advance (never picked on query labels): 2 x update_step, as MAML tests
    adapt_lr: float | None = None  # None = update_lr
    adapt_optimizer: str = "sgd"  # the paper's plain SGD steps; "adamw" = fine-tuning with AdamW
    decision: str = "argmax"  # the paper's rule; "support-f1" = threshold of best F1 on the support
    # baselines
    target_only_steps: int = 200
    target_only_lr: float = 1e-3
    source_only: str = "supervised"  # "supervised" (plain training on the sources) or "meta" (the meta-trained weights)
    source_only_epochs: int = 5
    source_only_batch: int = 16  # windows per step
    # original protocol (target tasks as the original sampled them)
    target_tasks: int = 20
    target_k_spt: int = 1000
    target_k_qry: int = 10000
    target_spt_ratio: tuple = (0.2, 0.5)
    target_qry_ratio: tuple = (0.01, 0.5)
    target_overlap: bool = True  # the original allowed support/query overlap on the target
    oracle_steps: int = 15
    # persistence
    save_dir: str | None = None  # save the meta-trained model here
    model_dir: str | None = None  # adapt a saved meta-trained model instead of meta-training
    seed: int = 0

    # -- building from loose parameters (the CLI passes strings) ---------------------------------
    @classmethod
    def from_params(cls, params: dict | None, *, protocol: str = "honest", seed: int = 0) -> CroSysLogConfig:
        params = dict(params or {})
        names = {f.name: f for f in fields(cls)}
        for key in params:
            if key not in names:
                raise unknown_name("crosyslog parameter", key, list(names))
        base = cls(seed=seed)
        if protocol == "original":  # the original's training rule, unless the caller says otherwise
            base.compat = True
        values = asdict(base)
        for key, raw in params.items():
            values[key] = _coerce(key, raw, values[key], names[key])
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        from logad.detectors.base import check_choice, check_float, check_int
        from logad.features.sentence import POOLINGS

        check_choice("pooling", self.pooling, POOLINGS)
        check_choice("decision", self.decision, ("argmax", "support-f1"))
        check_choice("source_only", self.source_only, ("supervised", "meta"))
        check_choice("adapt_optimizer", self.adapt_optimizer, ("sgd", "adamw"))
        for name in ("window_size", "hidden", "layers", "meta_iterations", "tasks_per_source", "k_spt", "k_qry",
                     "update_step", "target_tasks", "target_k_spt", "target_k_qry", "oracle_steps",
                     "target_only_steps", "default_max_length", "source_only_epochs", "source_only_batch"):
            check_int(name, getattr(self, name), 2 if name in ("default_max_length",) else 1)
        check_int("adapt_steps", self.adapt_steps, 0)
        check_int("support_start", self.support_start, 0)
        check_int("seed", self.seed, 0)
        for name in ("k_spt", "k_qry", "target_k_spt", "target_k_qry"):
            if getattr(self, name) < self.window_size:
                raise InvalidParameterError(
                    f"`{name}` must be >= `window_size` ({self.window_size}), got {getattr(self, name)!r}")
        for name in ("update_lr", "meta_lr", "target_only_lr"):
            check_float(name, getattr(self, name), 0.0, math.inf, low_open=True)
        if self.adapt_lr is not None:
            check_float("adapt_lr", self.adapt_lr, 0.0, math.inf, low_open=True)
        check_float("weight_decay", self.weight_decay, 0.0, math.inf)
        if self.max_length is not None:
            check_int("max_length", self.max_length, 2)
        if self.n_support is not None:
            check_int("n_support", self.n_support, 1)
        if self.max_seconds is not None:
            check_float("max_seconds", self.max_seconds, 0.0, math.inf, low_open=True)
        for name in ("spt_ratio", "qry_ratio", "target_spt_ratio", "target_qry_ratio"):
            pair = getattr(self, name)
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise InvalidParameterError(f"`{name}` must be a (low, high) pair, got {pair!r}")
            lo, hi = pair
            if not (0.0 <= lo <= hi <= 1.0):
                raise InvalidParameterError(f"`{name}` must be (low, high) with 0 <= low <= high <= 1, got {(lo, hi)!r}")
        for name, value in self.max_lengths.items():
            check_int(f"max_lengths[{name!r}]", value, 2)

    @property
    def effective_adapt_lr(self) -> float:
        return self.update_lr if self.adapt_lr is None else self.adapt_lr

    def max_length_for(self, system: str) -> int:
        if self.max_length is not None:
            return self.max_length
        return int(self.max_lengths.get(system, self.default_max_length))

    def model_config(self) -> dict:
        """What a saved meta-trained model needs to be adapted later."""
        keys = ("encoder", "pooling", "max_length", "max_lengths", "default_max_length", "window_size", "hidden",
                "layers", "update_lr", "update_step", "adapt_steps", "adapt_lr", "adapt_optimizer", "decision", "first_order",
                "compat")
        return {k: getattr(self, k) for k in keys}


def _coerce(key: str, raw, default, f):
    """A parameter from the CLI (a string) or Python, converted to the type of its default."""
    if not isinstance(raw, str):
        if isinstance(default, tuple) and isinstance(raw, list):
            return tuple(raw)
        return raw
    text = raw.strip()
    if text.lower() in ("none", "null", ""):
        return None
    try:
        if key == "max_lengths":  # "bgl:10,thunderbird:17"
            out = {}
            for part in text.split(","):
                name, _, value = part.partition(":")
                out[name.strip()] = int(value)
            return out
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, tuple):
            return tuple(float(x) for x in text.strip("()[]").split(","))
        if isinstance(default, int) or f.type in ("int | None",):
            return int(text)
        if isinstance(default, float) or "float" in str(f.type):
            return float(text)
    except ValueError:
        raise InvalidParameterError(f"`{key}` cannot be read from {raw!r}") from None
    return text


# -- entry representation --------------------------------------------------------------------------
def _encoder_for(cfg: CroSysLogConfig, system: str):
    from logad.features.sentence import SentenceEncoder

    pooling = cfg.pooling if cfg.encoder != "hashing" else "model"
    max_length = cfg.max_length_for(system) if (pooling != "model" or cfg.max_length is not None) else None
    cache = False if cfg.encoder_cache == "off" else cfg.encoder_cache
    return SentenceEncoder(cfg.encoder, pooling=pooling, max_length=max_length, cache_dir=cache)


def embed_entries(texts: list[str], system: str, cfg: CroSysLogConfig) -> tuple[np.ndarray, dict]:
    """float32 (n_entries, dim) vectors of the entries' message texts (one text per entry, in file
    order): each unique message is encoded once (and cached on disk), then spread back to its
    entries. Returns the embedding cost too: unique messages, encoded per second, seconds."""
    if len(texts) == 0:
        raise InputError(f"system {system!r} has no log entries to embed")
    index: dict[str, int] = {}
    inverse = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
    encoder = _encoder_for(cfg, system)
    t0 = time.perf_counter()
    vectors = encoder.encode(list(index))
    seconds = time.perf_counter() - t0
    st = encoder.stats
    stats = {
        "entries": len(texts),
        "unique_messages": len(index),
        "encoded": st.encoded,
        "from_cache": st.cached,
        "encode_seconds": st.seconds,
        "encoded_per_second": st.encoded_per_second,
        "model_load_seconds": st.load_seconds,
        "total_seconds": seconds,
        "encoder": encoder.identity(),
    }
    return vectors[inverse], stats


# -- windows of consecutive entries ------------------------------------------------------------------
def window_ranges(start: int, stop: int, size: int, blocks: np.ndarray | None = None) -> list[tuple[int, int]]:
    """[lo, hi) ranges of at most `size` consecutive entries covering [start, stop). A window
    never spans two stored blocks (e.g. two stored windows of `bgl-text-windows`)."""
    out: list[tuple[int, int]] = []
    seg_lo = start
    for i in range(start + 1, stop + 1):
        if i == stop or (blocks is not None and blocks[i] != blocks[i - 1]):
            for lo in range(seg_lo, i, size):
                out.append((lo, min(lo + size, i)))
            seg_lo = i
    return out


def stack_windows(x: np.ndarray, y: np.ndarray | None, ranges: list[tuple[int, int]], size: int):
    """Tensors (inputs [W, size, dim], labels [W, size] with IGNORE at padding, entry index
    [W, size] with -1 at padding). Padding sits at the end of a short window, where a
    unidirectional LSTM cannot let it change the outputs of real entries."""
    torch = _torch()
    w = len(ranges)
    xs = np.zeros((w, size, x.shape[1]), dtype=np.float32)
    ys = np.full((w, size), IGNORE, dtype=np.int64)
    idx = np.full((w, size), -1, dtype=np.int64)
    for r, (lo, hi) in enumerate(ranges):
        xs[r, : hi - lo] = x[lo:hi]
        idx[r, : hi - lo] = np.arange(lo, hi)
        if y is not None:
            ys[r, : hi - lo] = y[lo:hi]
    return torch.from_numpy(xs), torch.from_numpy(ys), idx


# -- block sampler (seed_methods.md 3.4) --------------------------------------------------------------
def valid_starts(labels: np.ndarray, k: int, ratio: tuple[float, float], lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Starts s in [lo, hi - k] whose block [s, s+k) holds between ratio[0]*k and ratio[1]*k anomalies."""
    hi = len(labels) if hi is None else hi
    if hi - lo < k:
        return np.zeros(0, dtype=np.int64)
    c = np.concatenate([[0], np.cumsum(labels[lo:hi], dtype=np.int64)])
    counts = c[k:] - c[:-k]
    ok = (counts >= ratio[0] * k - 1e-9) & (counts <= ratio[1] * k + 1e-9)
    return np.flatnonzero(ok) + lo


def sample_blocks(
    labels: np.ndarray,
    n_tasks: int,
    k_spt: int,
    k_qry: int,
    spt_ratio: tuple[float, float],
    qry_ratio: tuple[float, float],
    rng: np.random.Generator,
    *,
    region: tuple[int, int] | None = None,
    allow_overlap: bool = False,
    name: str = "system",
) -> list[tuple[int, int]]:
    """(support start, query start) of `n_tasks` tasks: contiguous blocks of k_spt / k_qry entries
    whose anomaly ratios lie within the bounds. Support blocks never overlap one another, nor do
    query blocks; a task's support and query never overlap unless `allow_overlap` (the original's
    target behaviour). InputError when no valid block is left."""
    labels = np.asarray(labels, dtype=np.int64)
    lo, hi = region or (0, len(labels))
    spt = valid_starts(labels, k_spt, spt_ratio, lo, hi)
    qry = valid_starts(labels, k_qry, qry_ratio, lo, hi)
    out: list[tuple[int, int]] = []

    def fail(what: str, k: int, ratio) -> InputError:
        n_anom = int(labels[lo:hi].sum())
        return InputError(
            f"{name}: no valid {what} block for task {len(out) + 1} of {n_tasks}: need {k} consecutive entries "
            f"with an anomaly ratio in [{ratio[0]}, {ratio[1]}] (entries {lo}..{hi}: {hi - lo}, "
            f"{n_anom} anomalous); lower the block size or widen the ratio bounds"
        )

    for _ in range(n_tasks):
        if spt.size == 0:
            raise fail("support", k_spt, spt_ratio)
        s = int(spt[rng.integers(spt.size)])
        cand = qry if allow_overlap else qry[(qry + k_qry <= s) | (qry >= s + k_spt)]
        if cand.size == 0:
            raise fail("query", k_qry, qry_ratio)
        q = int(cand[rng.integers(cand.size)])
        out.append((s, q))
        spt = spt[(spt + k_spt <= s) | (spt >= s + k_spt)]  # the next supports avoid this one
        qry = qry[(qry + k_qry <= q) | (qry >= q + k_qry)]
    return out


# -- the base learner -------------------------------------------------------------------------------
def _torch():
    from logad.detectors.deep.engine import torch

    return torch()


def build_tagger(input_dim: int, hidden: int, layers: int = 1):
    """LSTM over a window of entry vectors -> per-entry logits (normal, anomalous)."""
    nn = _torch().nn

    class LSTMTagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(input_dim, hidden, num_layers=layers, batch_first=True)
            self.out = nn.Linear(hidden, 2)

        def forward(self, x):
            h, _ = self.lstm(x)
            return self.out(h)

    return LSTMTagger()


def tagger_loss(model, params: dict, batch) -> object:
    """Cross-entropy over every real entry of every window, at the weights `params`."""
    torch = _torch()
    from torch.func import functional_call

    x, y = batch
    logits = functional_call(model, params, (x,))
    return torch.nn.functional.cross_entropy(logits.reshape(-1, 2), y.reshape(-1), ignore_index=IGNORE)


# -- MAML ---------------------------------------------------------------------------------------------
def inner_adapt(model, params: dict, loss_fn: Callable, batch, steps: int, lr: float, *, create_graph: bool) -> dict:
    """`steps` SGD steps on `batch` from `params`, functionally (the inputs are not modified).
    With `create_graph` the result stays differentiable w.r.t. `params` through the gradients
    (second-order MAML); without, each gradient is a constant (first-order MAML: d fast / d params = I)."""
    torch = _torch()
    fast = dict(params)
    for _ in range(steps):
        loss = loss_fn(model, fast, batch)
        grads = torch.autograd.grad(loss, tuple(fast.values()), create_graph=create_graph)
        fast = {n: p - lr * g for (n, p), g in zip(fast.items(), grads)}
    return fast


def maml_meta_gradient(model, params: dict, loss_fn: Callable, tasks: list, steps: int, lr: float,
                       *, first_order: bool = False) -> float:
    """Accumulate into `params[...].grad` the gradient of the MEAN query loss over `tasks`, each
    query loss taken at the weights adapted on that task's support from `params`. Returns the
    mean query loss. One backward per task keeps memory at one task's graph."""
    total = 0.0
    for support, query in tasks:
        fast = inner_adapt(model, params, loss_fn, support, steps, lr, create_graph=not first_order)
        q = loss_fn(model, fast, query) / len(tasks)
        q.backward()
        total += float(q.detach())
    return total


def compat_meta_step(model, params: dict, loss_fn: Callable, tasks: list, steps: int, lr: float, opt) -> float:
    """The original's update rule (seed_methods.md 3.6): the inner SGD steps are written into the
    weights IN PLACE and never undone, then AdamW steps on the query loss at those weights; the
    next task starts where the previous one ended. (Unlike the original, every task is used.)"""
    torch = _torch()
    total = 0.0
    names = list(params)
    for support, query in tasks:
        for _ in range(steps):
            loss = loss_fn(model, params, support)
            grads = torch.autograd.grad(loss, tuple(params.values()))
            with torch.no_grad():
                for n, g in zip(names, grads):
                    params[n].sub_(lr * g)
        opt.zero_grad()
        q = loss_fn(model, params, query)
        q.backward()
        opt.step()
        total += float(q.detach()) / len(tasks)
    return total


# -- systems prepared for training ----------------------------------------------------------------------
@dataclass
class Prepared:
    """One system's entry vectors, labels and blocks, ready for windows (`name` names it in
    messages; `embedding` says what computing the vectors cost)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    blocks: np.ndarray | None
    embedding: dict


def block_batch(p: Prepared, start: int, k: int, size: int):
    """(inputs, labels) windows of the block of `k` entries of `p` from `start`."""
    x, y, _ = stack_windows(p.x, p.y, window_ranges(start, start + k, size, p.blocks), size)
    return x, y


def _sample_tasks(prepared: list[Prepared], cfg: CroSysLogConfig, rng: np.random.Generator,
                  regions: dict[str, tuple[int, int]] | None = None) -> list:
    tasks = []
    for p in prepared:
        region = (regions or {}).get(p.name)
        for s, q in sample_blocks(p.y, cfg.tasks_per_source, cfg.k_spt, cfg.k_qry, cfg.spt_ratio, cfg.qry_ratio,
                                  rng, region=region, name=f"source {p.name}"):
            tasks.append((block_batch(p, s, cfg.k_spt, cfg.window_size), block_batch(p, q, cfg.k_qry, cfg.window_size)))
    return tasks


# -- the meta-trained model -------------------------------------------------------------------------------
@dataclass
class MetaModel:
    """A meta-trained tagger: its shared weights, what built them, and how it was trained."""

    config: dict
    input_dim: int
    state: dict  # name -> tensor
    history: dict = field(default_factory=dict)

    def module(self):
        model = build_tagger(self.input_dim, self.config["hidden"], self.config["layers"])
        model.load_state_dict(self.state)
        return model

    def save(self, directory: str | Path) -> Path:
        """The common detector folder (logad.detectors.persistence), written as a whole."""
        from logad.detectors.persistence import write_detector_folder

        arrays = {k: v.detach().cpu().contiguous().numpy() for k, v in self.state.items()}
        return write_detector_folder(directory, {
            "name": DETECTOR, "params": self.config, "threshold": None,
            "state": {"input_dim": self.input_dim, "history": self.history}, "versions": {"torch": _torch().__version__},
        }, arrays)

    @classmethod
    def load(cls, directory: str | Path) -> MetaModel:
        from logad.detectors.persistence import read_detector_folder

        config, arrays = read_detector_folder(directory)
        if config.get("name") != DETECTOR:
            raise InputError(f"{directory} holds a {config.get('name')!r} model, not a {DETECTOR!r} meta-model")
        torch = _torch()
        try:
            state, params = config["state"], config["params"]
            if config.get("legacy"):  # saved before the common format: the same content under other names
                state, params = config["legacy"], config["legacy"]["crosyslog"]
            return cls(config=dict(params), input_dim=int(state["input_dim"]),
                       state={k: torch.from_numpy(v.copy()) for k, v in arrays.items()},
                       history=dict(state.get("history") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{directory}: not a complete crosyslog model ({exc})") from exc


def meta_train(
    sources: list[Prepared],
    cfg: CroSysLogConfig,
    *,
    progress: Progress = SILENT,
    regions: dict[str, tuple[int, int]] | None = None,
    on_iteration: Callable[[int, object], None] | None = None,
) -> MetaModel:
    """MAML over the tasks of every source system, resampled (seeded) each meta-iteration.
    `regions` restricts each source to an entry range (meta-validation holds the rest out);
    `on_iteration(i, model)` is called after each meta-update (for periodic validation)."""
    from logad.detectors.deep.engine import seed_everything

    torch = _torch()
    if not sources:
        raise InvalidParameterError("CroSysLog needs at least one source system")
    dims = {p.x.shape[1] for p in sources}
    if len(dims) != 1:
        raise InputError(f"the source systems' entry vectors differ in size: {sorted(dims)}")
    seed_everything(cfg.seed)
    model = build_tagger(dims.pop(), cfg.hidden, cfg.layers)
    params = dict(model.named_parameters())
    opt = torch.optim.AdamW(params.values(), lr=cfg.meta_lr, weight_decay=cfg.weight_decay)
    losses: list[float] = []
    t0 = time.perf_counter()
    stopped = "iterations"
    rule = "compat (in-place, first-order)" if cfg.compat else ("first-order MAML" if cfg.first_order else "second-order MAML")
    progress.stage(f"meta-training ({rule}) on {', '.join(p.name for p in sources)}: "
                   f"{cfg.meta_iterations} iterations x {cfg.tasks_per_source} tasks per source")
    try:
        for it in range(cfg.meta_iterations):
            rng = np.random.default_rng([cfg.seed, it])
            tasks = _sample_tasks(sources, cfg, rng, regions)
            if cfg.compat:
                loss = compat_meta_step(model, params, tagger_loss, tasks, cfg.update_step, cfg.update_lr, opt)
            else:
                opt.zero_grad()
                loss = maml_meta_gradient(model, params, tagger_loss, tasks, cfg.update_step, cfg.update_lr,
                                          first_order=cfg.first_order)
                opt.step()
            losses.append(loss)
            progress.tick("meta-iterations", it + 1, cfg.meta_iterations)
            if on_iteration is not None:
                on_iteration(it, model)
            if cfg.max_seconds is not None and time.perf_counter() - t0 > cfg.max_seconds:
                stopped = "time-budget"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"
    seconds = time.perf_counter() - t0
    history = {"query_loss": losses, "iterations": len(losses), "seconds": seconds, "stopped": stopped, "rule": rule,
               "sources": [p.name for p in sources], "tasks_per_iteration": cfg.tasks_per_source * len(sources)}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return MetaModel(config=cfg.model_config(), input_dim=model.lstm.input_size, state=state, history=history)


# -- adaptation and prediction -----------------------------------------------------------------------------
def adapt(model, state: dict, support, steps: int, lr: float, optimizer: str = "sgd", weight_decay: float = 0.0) -> dict:
    """Weights after `steps` full-batch steps on the support windows from `state`: plain SGD (the
    MAML inner rule, the paper's adaptation) or AdamW (a longer fine-tuning budget)."""
    torch = _torch()
    names = {n for n, _ in model.named_parameters()}
    params = {k: v.detach().clone().requires_grad_(True) for k, v in state.items() if k in names}
    if optimizer == "sgd":
        fast = inner_adapt(model, params, tagger_loss, support, steps, lr, create_graph=False)
        return {k: v.detach() for k, v in fast.items()}
    opt = torch.optim.AdamW(params.values(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        tagger_loss(model, params, support).backward()
        opt.step()
    return {k: v.detach() for k, v in params.items()}


def train_from_scratch(model, support, steps: int, lr: float, weight_decay: float) -> dict:
    """The target-only AdamW baseline: the same tagger, fresh weights, `steps` full-batch AdamW steps."""
    return adapt(model, dict(model.named_parameters()), support, steps, lr, "adamw", weight_decay)


def train_supervised(sources: list[Prepared], cfg: CroSysLogConfig) -> tuple[object, dict, float]:
    """The supervised source-only baseline: the same tagger trained plainly (no meta-learning) on
    every window of every source: `source_only_epochs` epochs of AdamW (lr 1e-3) over batches of
    `source_only_batch` windows."""
    from logad.detectors.deep.engine import seed_everything

    torch = _torch()
    seed_everything(cfg.seed)
    model = build_tagger(sources[0].x.shape[1], cfg.hidden, cfg.layers)
    xs, ys = [], []
    for p in sources:
        x, y, _ = stack_windows(p.x, p.y, window_ranges(0, len(p.y), cfg.window_size, p.blocks), cfg.window_size)
        xs.append(x)
        ys.append(y)
    x, y = torch.cat(xs), torch.cat(ys)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    opt = torch.optim.AdamW(params.values(), lr=1e-3, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    for _ in range(cfg.source_only_epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(order), cfg.source_only_batch):
            b = torch.from_numpy(order[i : i + cfg.source_only_batch])
            opt.zero_grad()
            tagger_loss(model, params, (x[b], y[b])).backward()
            opt.step()
    return model, {k: v.detach() for k, v in params.items()}, time.perf_counter() - t0


def anomaly_probability(model, params: dict, windows_x, idx: np.ndarray, n: int) -> np.ndarray:
    """P(anomalous) of every entry, from the windows covering them (entries outside: NaN)."""
    torch = _torch()
    from torch.func import functional_call

    with torch.no_grad():
        probs = torch.softmax(functional_call(model, params, (windows_x,)), dim=-1)[..., 1].numpy()
    out = np.full(n, np.nan)
    real = idx >= 0
    out[idx[real]] = probs[real]
    return out
