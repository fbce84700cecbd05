"""`logad transfer --method crosyslog`: CroSysLog's entry-level experiment, its baselines, and a
validation-only tuning objective (seed_methods.md section 3).

Meta-train the tagger on the sources' entries (`logad.detectors.crosssystem.crosyslog`), adapt it
to the target's labelled support with a step count fixed in advance (`adapt_steps`), evaluate every
target entry after the support; beside `target-only` (fresh weights, the method's own adaptation
rule on the support; a longer AdamW budget is reported too) and `source-only` (plain supervised
training on the sources, or the meta-trained weights, applied with no adaptation).

Entry-level split of the target (honest protocol; the sequence split of the setup is not used):
the labelled support is the contiguous block of the first `n_support` target entries in file
(time) order (`support_start` moves it); the evaluated part is every target entry AFTER it. The
label budget `setup.amount` >= 1 is read as a number of labelled entries (default 1,000), < 1 as
a fraction of the target's entries. Decision: the paper's argmax, or with `decision="support-f1"`
the best-F1 threshold on the labelled support, both through the common threshold policies.

`protocol="original"` reproduces the original's meta-test (per task, the best of `oracle_steps`
steps judged on the query labels) and marks the figure `oracle-on-test`. The original searched
hyper-parameters with Ray Tune on the target test F1; `tune_objective` computes a validation-only
objective (meta-validation on held-out source blocks, or on a held-out source system) for
`logad tune`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from logad.detectors.crosssystem.crosyslog import (
    CroSysLogConfig,
    MetaModel,
    Prepared,
    adapt,
    anomaly_probability,
    block_batch,
    build_tagger,
    embed_entries,
    inner_adapt,
    meta_train,
    sample_blocks,
    stack_windows,
    tagger_loss,
    train_from_scratch,
    train_supervised,
    window_ranges,
)
from logad.detectors.deep.engine import seed_everything
from logad.detectors.deep.engine import torch as _torch
from logad.detectors.thresholds import BestF1OnValidation, FixedThreshold
from logad.errors import InputError, InvalidParameterError
from logad.evaluation.runner import ORACLE_WARNING
from logad.experiments.transfer import metrics_of
from logad.pipeline.systems import SystemData
from logad.progress import SILENT, Progress

log = logging.getLogger(__name__)

ARGMAX = 0.5  # the paper's rule: anomalous iff P(anomalous) > 0.5 (the argmax of the two classes)

# the original's Ray Tune space (searched on the TEST metric there); for `logad tune`, whose objective
# must be `tune_objective`, computed on source data only
ORIGINAL_SEARCH_SPACE = {
    "update_lr": ("loguniform", 2e-3, 1e-2),
    "meta_lr": ("loguniform", 9e-6, 9e-4),
    "hidden": ("choice", [32, 64, 128]),
}
# the same, with update_lr widened: MiniLM vectors need larger inner steps than the original's BERT
SEARCH_SPACE = {
    "update_lr": ("loguniform", 2e-3, 1.0),
    "meta_lr": ("loguniform", 9e-6, 1e-2),
    "hidden": ("choice", [32, 64, 128]),
}


# -- the target's entries -----------------------------------------------------------------------
def prepare(system: SystemData, cfg: CroSysLogConfig, progress: Progress = SILENT) -> Prepared:
    """A system's entries embedded with the configured encoder, ready for windows."""
    if system.entries is None:
        raise InputError(
            f"system {system.name!r} was loaded without its log entries: CroSysLog classifies entries "
            "(load_system(..., entries=True))")
    progress.stage(f"{system.name}: embedding {len(system.entries)} entries ({cfg.encoder}, {cfg.pooling})")
    x, stats = embed_entries(system.entries.texts, system.system, cfg)
    progress.stage(
        f"{system.name}: {stats['unique_messages']} unique messages, {stats['encoded']} encoded in "
        f"{stats['encode_seconds']:.1f}s")
    return Prepared(system.name, x, np.asarray(system.entries.labels, dtype=np.int64), system.entries.blocks, stats)


def support_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The probability threshold with the best F1 on the LABELLED SUPPORT entries (never the
    query), by the common policy (`BestF1OnValidation`); a support without anomaly keeps the
    paper's argmax rule (0.5)."""
    if labels.sum() == 0:
        return FixedThreshold(ARGMAX).fit()
    return float(BestF1OnValidation().fit(scores, labels))


def target_parts(n: int, amount: float, cfg: CroSysLogConfig) -> tuple[int, int, dict]:
    """(support start, support end, description): the labelled support block and, after it, the
    evaluated entries."""
    if cfg.n_support is not None:
        n_support, how = cfg.n_support, "`n_support` entries"
    elif amount >= 1:
        n_support, how = int(amount), "--target-labels read as a number of labelled entries"
    elif amount > 0:
        n_support, how = max(1, int(round(amount * n))), "--target-labels read as a fraction of the target's entries"
    else:
        raise InvalidParameterError(f"CroSysLog adapts from labelled target entries: the amount must be > 0, got {amount!r}")
    lo = cfg.support_start
    hi = lo + n_support
    if hi >= n:
        raise InvalidParameterError(
            f"the labelled support ({n_support} entries from entry {lo}) leaves no target entry to evaluate "
            f"(the target has {n}); label fewer entries")
    return lo, hi, {
        "rule": "contiguous support block in file (time) order; evaluated = every entry after it (no overlap)",
        "support": [lo, hi], "evaluated": [hi, n], "labelled_entries": n_support, "read_as": how,
    }


class TargetParts:
    """The target's labelled support block and the evaluated entries after it, as windows.

    Only the support's labels are read here; the evaluated entries enter as inputs only, so
    nothing decided from this object (weights, threshold) can depend on their labels."""

    def __init__(self, target: Prepared, cfg: CroSysLogConfig, amount: float) -> None:
        n = len(target.y)
        self.lo, self.hi, self.split = target_parts(n, amount, cfg)
        self.n, self.cfg = n, cfg
        size = cfg.window_size
        self.support_labels = target.y[self.lo : self.hi].copy()
        self.sx, self.sy, sidx = stack_windows(
            target.x, target.y, window_ranges(self.lo, self.hi, size, target.blocks), size)
        self.sidx = sidx - self.lo
        self.qx, _, qidx = stack_windows(target.x, None, window_ranges(self.hi, n, size, target.blocks), size)
        self.qidx = qidx - self.hi

    @property
    def support(self) -> tuple:
        return self.sx, self.sy

    def decide(self, model, params: dict) -> tuple[np.ndarray, np.ndarray, dict]:
        """(P(anomalous), predicted, threshold) of every evaluated entry."""
        scores = anomaly_probability(model, params, self.qx, self.qidx, self.n - self.hi)
        if self.cfg.decision == "support-f1":
            sup = anomaly_probability(model, params, self.sx, self.sidx, self.hi - self.lo)
            value = support_threshold(sup, self.support_labels)
            return scores, scores > value, {"value": value, "policy": "best F1 on the labelled support",
                                            "rule": "probability > value"}
        value = FixedThreshold(ARGMAX).fit()
        return scores, scores > value, {"value": value, "policy": "fixed", "rule": "argmax (the paper's rule)"}


def adapt_and_predict(meta: MetaModel, target: Prepared, cfg: CroSysLogConfig, amount: float) -> dict:
    """Adapt a meta-trained model to the target's labelled support with the FIXED step count
    `adapt_steps`, then predict every entry after the support. Returns scores, predictions,
    threshold, the split, and the adaptation time."""
    model = meta.module()
    parts = TargetParts(target, cfg, amount)
    t0 = time.perf_counter()
    adapted = adapt(model, meta.state, parts.support, cfg.adapt_steps, cfg.effective_adapt_lr, cfg.adapt_optimizer,
                    cfg.weight_decay)
    seconds = time.perf_counter() - t0
    scores, predicted, threshold = parts.decide(model, adapted)
    return {"scores": scores, "predicted": predicted, "threshold": threshold, "split": parts.split,
            "seconds": seconds, "parts": parts, "model": model}


# -- run_transfer ---------------------------------------------------------------------------------
def run_transfer(setup, params: dict | None = None, progress: Progress = SILENT) -> dict:
    """`logad transfer --method crosyslog`: meta-train on the sources' entries, adapt to the
    target's labelled support, evaluate every target entry after it; beside the target-only and
    source-only baselines. See the module docstring for the split and the label budget."""
    cfg = CroSysLogConfig.from_params(params, protocol=setup.protocol, seed=setup.seed)
    meta = None
    if cfg.model_dir:
        # a saved model brings its representation and adaptation rule; explicit params still win
        meta = MetaModel.load(cfg.model_dir)
        cfg = CroSysLogConfig.from_params({**meta.config, **(params or {})}, protocol=setup.protocol, seed=setup.seed)
    target = prepare(setup.target, cfg, progress)
    sources = [prepare(s, cfg, progress) for s in setup.sources]
    embedding = {p.name: p.embedding for p in [*sources, target]}
    if meta is not None:
        _check_compatible(meta, cfg, target)
        progress.stage(f"adapting the saved meta-trained model {cfg.model_dir}")
    else:
        meta = meta_train(sources, cfg, progress=progress)
        if cfg.save_dir:
            meta.save(cfg.save_dir)
    if setup.protocol == "original":
        return _run_original(meta, sources, target, cfg, embedding, progress)

    # the method: the meta-trained weights, adapted with a step count fixed in advance
    run = adapt_and_predict(meta, target, cfg, setup.amount)
    parts, model = run["parts"], run["model"]
    labels = target.y[parts.hi :]  # the evaluated entries' labels: read only to compute the metrics
    progress.stage(f"{target.name}: adapted on entries {parts.lo}..{parts.hi} "
                   f"({int(parts.support_labels.sum())} anomalous), evaluating {labels.size} entries after them")
    notes = []
    if parts.support_labels.sum() == 0:
        notes.append("the labelled support holds NO anomaly: adaptation can only learn what is normal, "
                     "and the target-only baseline has no anomaly to learn from")
        log.warning("%s: %s", target.name, notes[-1])

    def figures(params_: dict) -> dict:
        scores, predicted, threshold = parts.decide(model, params_)
        return {**metrics_of(labels, scores, predicted), "threshold": threshold}

    main = metrics_of(labels, run["scores"], run["predicted"])
    steps, lr = cfg.adapt_steps, cfg.effective_adapt_lr

    # target-only: the same tagger from fresh weights, trained on the support alone, (a) with the
    # method's own adaptation rule (THE baseline) and (b) with a longer AdamW budget; both fixed in advance
    seed_everything(cfg.seed)
    fresh = {k: v.detach() for k, v in build_tagger(meta.input_dim, cfg.hidden, cfg.layers).named_parameters()}
    same_rule = figures(adapt(model, fresh, parts.support, steps, lr, cfg.adapt_optimizer, cfg.weight_decay))
    seed_everything(cfg.seed)
    t1 = time.perf_counter()
    scratch = train_from_scratch(build_tagger(meta.input_dim, cfg.hidden, cfg.layers), parts.support,
                                 cfg.target_only_steps, cfg.target_only_lr, cfg.weight_decay)
    adamw_seconds = time.perf_counter() - t1
    adamw = figures(scratch)

    # source-only, zero-shot on the target: plain supervised training on the sources, and the
    # meta-trained weights without adaptation (`source_only` says which one is THE baseline)
    names = {k for k, _ in model.named_parameters()}
    _, sup_params, sup_seconds = train_supervised(sources, cfg)
    zero_shot = {
        "supervised": {**figures(sup_params),
                       "training": f"the same tagger trained plainly on every source window ({cfg.source_only_epochs} "
                                   "epochs of AdamW, lr 1e-3), applied to the target with no adaptation"},
        "meta": {**figures({k: v for k, v in meta.state.items() if k in names}),
                 "training": "the meta-trained weights, applied to the target with no adaptation"},
    }
    other = "meta" if cfg.source_only == "supervised" else "supervised"

    return {
        **main,
        "threshold": {**run["threshold"], "adapt_steps": steps, "adapt_lr": lr, "adapt_optimizer": cfg.adapt_optimizer,
                      "steps_chosen": "fixed in advance (`adapt_steps`), not on query labels"},
        "baselines": {
            "target-only": {**same_rule, "training": f"fresh weights, the method's own adaptation rule on the "
                                                     f"labelled support ({steps} full-batch {cfg.adapt_optimizer} steps, "
                                                     f"lr {lr})"},
            "source-only": zero_shot[cfg.source_only],
        },
        "details": {
            "method": "crosyslog",
            "protocol": "honest",
            "level": "entry",
            "target_split": parts.split,
            "support_anomalies": int(parts.support_labels.sum()),
            "evaluated_entries": int(labels.size),
            "evaluated_anomalies": int(labels.sum()),
            "embedding": embedding,
            "meta_training": {k: v for k, v in meta.history.items() if k != "query_loss"},
            "meta_query_loss_first_last": _first_last(meta.history.get("query_loss")),
            "seconds": {"meta_train": meta.history.get("seconds"), "adapt": run["seconds"],
                        "target_only_adamw_train": adamw_seconds, "source_only_supervised_train": sup_seconds},
            "extra_baselines": {
                "target-only-adamw": {**adamw, "training": f"fresh weights, {cfg.target_only_steps} full-batch AdamW "
                                                           f"steps (lr {cfg.target_only_lr}) on the labelled support"},
                f"source-only-{other}": zero_shot[other],
            },
            "config": asdict(cfg),
            "notes": notes,
        },
    }


def _first_last(values) -> list | None:
    return [values[0], values[-1]] if values else None


def _check_compatible(meta: MetaModel, cfg: CroSysLogConfig, target: Prepared) -> None:
    if target.x.shape[1] != meta.input_dim:
        raise InputError(
            f"the saved model reads {meta.input_dim}-d entry vectors but the target's are {target.x.shape[1]}-d: "
            f"embed with the model's encoder ({meta.config.get('encoder')!r}, {meta.config.get('pooling')!r})")
    for key in ("hidden", "layers", "window_size", "encoder", "pooling", "max_length", "max_lengths",
                "default_max_length"):
        if key in meta.config and meta.config[key] != getattr(cfg, key):
            raise InvalidParameterError(
                f"`{key}` is {getattr(cfg, key)!r} but the saved model was built with {meta.config.get(key)!r}")


def _run_original(meta: MetaModel, sources: list[Prepared], target: Prepared, cfg: CroSysLogConfig,
                  embedding: dict, progress: Progress) -> dict:
    """The original's meta-test (seed_methods.md 3.7): `target_tasks` support/query blocks of the
    target (support and query may overlap), `oracle_steps` SGD steps, and per task the best F1 over
    the steps JUDGED ON THE QUERY LABELS [LEAK], averaged over tasks. Marked oracle-on-test."""
    torch = _torch()
    model = meta.module()
    rng = np.random.default_rng(42)  # the original re-seeds its sampler with 42
    k_qry = min(cfg.target_k_qry, len(target.y) - cfg.target_k_spt) if cfg.target_overlap else cfg.target_k_qry
    tasks = sample_blocks(target.y, cfg.target_tasks, cfg.target_k_spt, k_qry, cfg.target_spt_ratio,
                          cfg.target_qry_ratio, rng, allow_overlap=cfg.target_overlap, name=f"target {target.name}")
    size, lr = cfg.window_size, cfg.effective_adapt_lr
    per_task, labels_all, scores_all, pred_all, steps_kept = [], [], [], [], []
    src_rows, scratch_rows = [], []
    for s, q in tasks:
        sx, sy = block_batch(target, s, cfg.target_k_spt, size)
        qx, _, qidx = stack_windows(target.x, None, window_ranges(q, q + k_qry, size, target.blocks), size)
        labels = target.y[q : q + k_qry]
        params = {k: v.detach().clone().requires_grad_(True) for k, v in meta.state.items()
                  if k in dict(model.named_parameters())}
        best = None
        for step in range(1, cfg.oracle_steps + 1):  # one SGD step at a time, judged on the query
            params = inner_adapt(model, params, tagger_loss, (sx, sy), 1, lr, create_graph=False)
            params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
            scores = anomaly_probability(model, params, qx, qidx - q, k_qry)
            m = metrics_of(labels, scores, scores > 0.5)
            if best is None or m["metrics"]["f1"] > best[0]["metrics"]["f1"]:
                best = (m, scores, step)
        per_task.append(best[0])
        steps_kept.append(best[2])
        labels_all.append(labels)
        scores_all.append(best[1])
        pred_all.append(best[1] > 0.5)
        src_params = {k: v for k, v in meta.state.items() if k in dict(model.named_parameters())}
        src_scores = anomaly_probability(model, src_params, qx, qidx - q, k_qry)
        src_rows.append(metrics_of(labels, src_scores, src_scores > 0.5))
        torch.manual_seed(cfg.seed)
        fresh = build_tagger(meta.input_dim, cfg.hidden, cfg.layers)
        scratch = train_from_scratch(fresh, (sx, sy), cfg.target_only_steps, cfg.target_only_lr, cfg.weight_decay)
        sc = anomaly_probability(model, scratch, qx, qidx - q, k_qry)
        scratch_rows.append(metrics_of(labels, sc, sc > 0.5))
        progress.tick("target tasks", len(per_task), len(tasks))

    def mean_of(rows: list[dict]) -> dict:
        out = {"metrics": {}, "counts": {}}
        for key in ("precision", "recall", "f1", "fpr", "accuracy"):
            out["metrics"][key] = float(np.mean([r["metrics"][key] for r in rows]))
        for key in ("tp", "fp", "tn", "fn"):
            out["counts"][key] = int(sum(r["counts"][key] for r in rows))
        out["metrics"]["averaged_over_tasks"] = len(rows)
        return out

    main = mean_of(per_task)
    overlaps = sum(1 for s, q in tasks if not (q + k_qry <= s or q >= s + cfg.target_k_spt))
    return {
        **main,
        "threshold": {"value": 0.5, "policy": "oracle-on-test", "warning": ORACLE_WARNING,
                      "rule": f"argmax after the best of {cfg.oracle_steps} adaptation steps per task, "
                              "the step chosen on the query labels (the original's meta-test)",
                      "steps_kept": steps_kept},
        "baselines": {
            "target-only": {**mean_of(scratch_rows), "threshold": {"value": 0.5, "policy": "fixed"}},
            "source-only": {**mean_of(src_rows), "threshold": {"value": 0.5, "policy": "fixed"}},
        },
        "details": {
            "method": "crosyslog",
            "protocol": "original",
            "policy": "oracle-on-test",
            "level": "entry",
            "target_tasks": [[s, q] for s, q in tasks],
            "support_query_overlapping_tasks": overlaps,
            "k_spt": cfg.target_k_spt, "k_qry": k_qry,
            "embedding": embedding,
            "meta_training": {k: v for k, v in meta.history.items() if k != "query_loss"},
            "config": asdict(cfg),
            "notes": ["metrics = mean over target tasks of each task's best step judged on its query labels "
                      "(oracle-on-test); support and query blocks may overlap, as in the original"],
        },
    }


# -- validation-only objective for `logad tune` ----------------------------------------------------
def tune_objective(
    sources: list[SystemData],
    params: dict | None = None,
    *,
    holdout: str = "blocks",
    holdout_fraction: float = 0.25,
    val_tasks: int = 2,
    validate_every: int = 0,
    report: Callable[[int, dict], None] | None = None,
    seed: int = 0,
    progress: Progress = SILENT,
) -> dict:
    """A hyper-parameter objective computed on SOURCE data only (never on a target's labels).

    `holdout="blocks"`: every source is cut in time; meta-training sees the first
    1 - `holdout_fraction` of its entries, validation tasks are drawn from the rest.
    `holdout="system"` (>= 2 sources): the last source is held out whole, as a stand-in target.
    Validation: `val_tasks` support/query blocks per held-out system (fixed draw, seed 1234), the
    meta-trained weights adapted with the fixed `adapt_steps`, then entry F1 on the query pooled
    over tasks. Returns {"objective": F1 (maximise), "mode": "max", "query_loss": ..., ...};
    `report(iteration, result)` is called every `validate_every` meta-iterations (for ASHA)."""
    cfg = CroSysLogConfig.from_params(params, seed=seed)
    if holdout not in ("blocks", "system"):
        raise InvalidParameterError(f"`holdout` must be 'blocks' or 'system', got {holdout!r}")
    prepared = [prepare(s, cfg, progress) for s in sources]
    if holdout == "system":
        if len(prepared) < 2:
            raise InvalidParameterError("`holdout='system'` needs at least two source systems")
        train_sys, val_sys = prepared[:-1], prepared[-1:]
        regions = None
        val_regions = {val_sys[0].name: (0, len(val_sys[0].y))}
    else:
        train_sys, val_sys = prepared, prepared
        cut = {p.name: int(len(p.y) * (1 - holdout_fraction)) for p in prepared}
        regions = {p.name: (0, cut[p.name]) for p in prepared}
        val_regions = {p.name: (cut[p.name], len(p.y)) for p in prepared}
    size = cfg.window_size
    val_batches = []
    rng = np.random.default_rng(1234)  # the same validation tasks for every configuration
    for p in val_sys:
        for s, q in sample_blocks(p.y, val_tasks, cfg.k_spt, cfg.k_qry, cfg.spt_ratio, cfg.qry_ratio, rng,
                                  region=val_regions[p.name], name=f"validation {p.name}"):
            qx, _, qidx = stack_windows(p.x, None, window_ranges(q, q + cfg.k_qry, size, p.blocks), size)
            val_batches.append((block_batch(p, s, cfg.k_spt, size), block_batch(p, q, cfg.k_qry, size),
                                qx, qidx - q, p.y[q : q + cfg.k_qry]))

    def evaluate(model) -> dict:
        state = {k: v.detach() for k, v in model.named_parameters()}
        labels, preds, scores, losses = [], [], [], []
        for support, query, qx, qidx, y in val_batches:
            adapted = adapt(model, state, support, cfg.adapt_steps, cfg.effective_adapt_lr, cfg.adapt_optimizer,
                            cfg.weight_decay)
            s = anomaly_probability(model, adapted, qx, qidx, len(y))
            labels.append(y)
            scores.append(s)
            preds.append(s > 0.5)
            losses.append(float(tagger_loss(model, adapted, query).detach()))
        m = metrics_of(np.concatenate(labels), np.concatenate(scores), np.concatenate(preds))
        return {"objective": m["metrics"]["f1"], "mode": "max", "metric": "meta-validation entry F1",
                "query_loss": float(np.mean(losses)), "metrics": m["metrics"]}

    def on_iteration(it: int, model) -> None:
        if report is not None and validate_every and (it + 1) % validate_every == 0:
            report(it + 1, evaluate(model))

    meta = meta_train(train_sys, cfg, progress=progress, regions=regions, on_iteration=on_iteration)
    result = evaluate(meta.module())
    result.update({"holdout": holdout, "validation_systems": [p.name for p in val_sys],
                   "validation_tasks": len(val_batches), "meta_train_seconds": meta.history["seconds"]})
    return result
