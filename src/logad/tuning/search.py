"""A search over any trainable objective on Ray Tune, with an ASHA scheduler.

The generic entry point is `run_search(trainable, space, mode=..., settings=..., data=...)`.
`trainable(config, reporter, **data) -> float` gets one configuration, may call
`reporter.report(value, step)` after each step (an epoch) so ASHA can stop a bad trial early, and
returns the trial's final objective. Detector tuning (`logad.tuning.tuner`) is one such trainable;
a cross-system method can plug its own validation-only objective in the same way.

`data` (the split, template texts, ...) is put in Ray's object store once with
`tune.with_parameters` and shared by every trial, never re-read per trial. Ray is imported here
only inside functions (extra `distributed`). Without `address` a local Ray is started with
`cpus` CPUs and shut down at the end; with `address` the same search runs on that cluster (the
local `logad` package is shipped to the workers with the job). A Ray already initialised by the
caller is reused and left running.

Seeds: the searcher is seeded, so the same settings give the same trial configurations; each trial
seeds Python's and NumPy's generators (and torch's when loaded) with `seed` before it starts.
ASHA's stop decisions depend on the order in which concurrent trials report, which is not fixed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logad.errors import InvalidParameterError, LogadError, require
from logad.progress import SILENT, Progress
from logad.tuning.space import Dimension

log = logging.getLogger(__name__)

METRIC = "objective"
TIME_ATTR = "epoch"
SCHEDULERS = ("asha", "none")


class TuningError(LogadError):
    """A search could not produce a result (e.g. every trial failed)."""


@dataclass
class SearchSettings:
    """How to search. `max_t`, `grace_period` are in reported steps (epochs for deep detectors)."""

    num_samples: int = 8
    scheduler: str = "asha"
    max_t: int = 1
    grace_period: int = 1
    reduction_factor: float = 3.0
    cpus: int | None = None  # local Ray only; None = all cores
    cpus_per_trial: float = 1.0
    address: str | None = None
    seed: int = 0
    verbose: bool = False

    def validate(self) -> None:
        def integer(name: str, minimum: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise InvalidParameterError(f"`{name}` must be an integer >= {minimum}, got {v!r}")

        integer("num_samples", 1)
        integer("max_t", 1)
        integer("grace_period", 1)
        integer("seed", 0)
        if self.scheduler not in SCHEDULERS:
            raise InvalidParameterError(f"`scheduler` must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        if self.grace_period > self.max_t:
            raise InvalidParameterError(
                f"`grace_period` must be <= `max_t`, got grace_period={self.grace_period} and max_t={self.max_t}"
            )
        rf = self.reduction_factor
        if isinstance(rf, bool) or not isinstance(rf, int | float) or not rf > 1 or not math.isfinite(rf):
            raise InvalidParameterError(f"`reduction_factor` must be a number > 1, got {rf!r}")
        if self.cpus is not None:
            integer("cpus", 1)
            if self.address:
                raise InvalidParameterError("`cpus` sets up a local Ray; with `address` the cluster decides, got both")
        c = self.cpus_per_trial
        if isinstance(c, bool) or not isinstance(c, int | float) or not c > 0:
            raise InvalidParameterError(f"`cpus_per_trial` must be a number > 0, got {c!r}")

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class TrialRecord:
    """One trial: its configuration, final objective and every intermediate report."""

    index: int
    trial_id: str
    config: dict
    objective: float | None
    status: str  # "completed" | "stopped-early" | "error"
    iterations: list[dict] = field(default_factory=list)  # [{"step": s, "objective": v}, ...]
    seconds: float | None = None
    error: str | None = None
    reports: int = 0  # every report sent to Tune: the intermediate ones and the final one

    def as_dict(self) -> dict:
        out = dict(vars(self))
        out["objective"] = _finite(self.objective)
        out["iterations"] = [{"step": it["step"], "objective": _finite(it["objective"])} for it in self.iterations]
        return out


def _finite(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


@dataclass
class SearchResult:
    trials: list[TrialRecord]
    mode: str
    best: TrialRecord | None
    settings: SearchSettings
    experiment_path: str | None
    seconds: float
    space: dict = field(default_factory=dict)

    @property
    def stopped_early(self) -> int:
        return sum(1 for t in self.trials if t.status == "stopped-early")

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "settings": self.settings.as_dict(),
            "space": self.space,
            "experiment_path": self.experiment_path,
            "seconds": self.seconds,
            "best_trial": None if self.best is None else self.best.index,
            "stopped_early": self.stopped_early,
            "trials": [t.as_dict() for t in self.trials],
        }


class _TrialReporter:
    """The reporter a trainable receives inside a Ray trial."""

    def __init__(self, send: Callable[[dict], None], t0: float) -> None:
        self._send = send
        self._t0 = t0
        self.count = 0

    def report(self, value: float, step: int) -> None:
        self.count += 1
        self._send({METRIC: float(value), TIME_ATTR: int(step), "seconds": time.perf_counter() - self._t0})


def seed_trial(seed: int) -> None:
    """Seed the generators a trial may use (torch only if something already imported it)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2**32))
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _ray_trial(config: dict, _trainable=None, _seed: int = 0, **data) -> None:
    """What Ray runs for each trial: seed, call the trainable, report its final objective."""
    from ray import tune

    seed_trial(_seed)
    t0 = time.perf_counter()
    reporter = _TrialReporter(tune.report, t0)
    value = _trainable(dict(config), reporter, **data)
    # the final report carries no `epoch`, so ASHA takes no decision on it: it only records the result
    tune.report({METRIC: float(value), "final": True, "seconds": time.perf_counter() - t0})


def _param_space(space: dict, tune) -> dict:
    return {k: (v.to_ray(tune) if isinstance(v, Dimension) else v) for k, v in space.items()}


@contextlib.contextmanager
def ray_session(settings: SearchSettings) -> Iterator[Any]:
    """A Ray connection for the search: reuse one the caller opened, else start or join one."""
    ray = require("ray", "distributed")
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict = {"include_dashboard": False, "log_to_driver": settings.verbose, "logging_level": logging.WARNING}
    if settings.address:
        import logad

        # the workers import the driver's logad, so a cluster runs the same code unchanged
        kwargs["runtime_env"] = {"py_modules": [logad]}
        ray.init(address=settings.address, **kwargs)
    else:
        # address="local": always a new local Ray, never a cluster a `ray start` left on this machine
        ray.init(address="local", num_cpus=settings.cpus or os.cpu_count() or 1, **kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()


def _scheduler(settings: SearchSettings, mode: str):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if settings.scheduler == "none":
        return FIFOScheduler()
    # stop_last_trials=False: a trial that passes the top rung (max_t) finishes its own training
    # and sends its final objective, instead of being cut before its best weights are restored
    return ASHAScheduler(
        time_attr=TIME_ATTR,
        max_t=settings.max_t,
        grace_period=settings.grace_period,
        reduction_factor=settings.reduction_factor,
        stop_last_trials=False,
    )


def run_search(
    trainable: Callable[..., float],
    space: dict,
    *,
    mode: str,
    settings: SearchSettings | None = None,
    data: dict | None = None,
    storage_path: str | Path | None = None,
    name: str = "ray",
    progress: Progress = SILENT,
) -> SearchResult:
    """Search `space` ({name: Dimension or constant}) for the best `trainable` objective.

    `mode` is "max" or "min". `data` is shipped once to the workers and passed to every call of
    `trainable(config, reporter, **data)`. Ray's own experiment folder is written under
    `storage_path/name` (a temporary folder, removed afterwards, when `storage_path` is None).
    """
    settings = settings or SearchSettings()
    settings.validate()
    if mode not in ("max", "min"):
        raise InvalidParameterError(f"`mode` must be 'max' or 'min', got {mode!r}")
    if not space:
        raise InvalidParameterError("the search space is empty")
    if not callable(trainable):
        raise InvalidParameterError(f"`trainable` must be callable, got {type(trainable).__name__}")
    require("ray", "distributed")
    tune = require("ray.tune", "distributed")
    from ray.tune.search import BasicVariantGenerator

    tmp = None
    if storage_path is None:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="logad-tune-")
        storage_path = tmp.name
    storage = Path(storage_path).resolve()
    storage.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        with ray_session(settings):
            fn = tune.with_parameters(_ray_trial, _trainable=trainable, _seed=settings.seed, **(data or {}))
            fn = tune.with_resources(fn, {"cpu": settings.cpus_per_trial})
            tuner = tune.Tuner(
                fn,
                param_space=_param_space(space, tune),
                tune_config=tune.TuneConfig(
                    metric=METRIC,
                    mode=mode,
                    num_samples=settings.num_samples,
                    scheduler=_scheduler(settings, mode),
                    search_alg=BasicVariantGenerator(random_state=settings.seed),
                ),
                run_config=tune.RunConfig(
                    name=name, storage_path=str(storage), verbose=1 if settings.verbose else 0
                ),
            )
            progress.stage(f"searching {len(space)} parameters with Ray Tune ({settings.scheduler})")
            # Tune prints its own banner on stdout; keep stdout for the caller's results
            sink = sys.stderr if settings.verbose else io.StringIO()
            with contextlib.redirect_stdout(sink):
                grid = tuner.fit()
            trials = _records(grid)
    finally:
        if tmp is not None:
            tmp.cleanup()
    result = SearchResult(
        trials=trials,
        mode=mode,
        best=check_best(trials, mode),
        settings=settings,
        experiment_path=None if tmp is not None else str(storage / name),
        seconds=time.perf_counter() - t0,
        space={k: (v.as_dict() if isinstance(v, Dimension) else {"constant": v}) for k, v in space.items()},
    )
    return result


def check_best(trials: list[TrialRecord], mode: str) -> TrialRecord:
    """`best_trial`, or TuningError quoting the first trial error when no trial gave an objective."""
    best = best_trial(trials, mode)
    if best is None:
        errors = [t.error for t in trials if t.error]
        first = f"; first error: {errors[0]}" if errors else ""
        raise TuningError(f"no trial of {len(trials)} produced an objective{first}")
    return best


def _records(grid) -> list[TrialRecord]:
    out = []
    for r in grid:
        metrics = dict(r.metrics or {})
        trial_id = str(metrics.get("trial_id") or Path(str(r.path)).name)
        iterations: list[dict] = []
        df = r.metrics_dataframe
        if df is not None and TIME_ATTR in df.columns:
            for step, value in zip(df[TIME_ATTR].tolist(), df[METRIC].tolist()):
                if step == step:  # not NaN: an intermediate report (the final one has no step)
                    iterations.append({"step": int(step), "objective": float(value)})
        if r.error is not None:
            status, objective = "error", None
        elif metrics.get("final"):
            status, objective = "completed", float(metrics[METRIC])
        else:
            status = "stopped-early"
            objective = float(metrics[METRIC]) if METRIC in metrics else None
        out.append(
            TrialRecord(
                index=-1,
                trial_id=trial_id,
                config=dict(r.config or {}),
                objective=objective,
                status=status,
                iterations=iterations,
                seconds=metrics.get("seconds"),
                error=None if r.error is None else _first_line(r.error),
                reports=int(metrics.get("training_iteration") or 0),
            )
        )
    out.sort(key=lambda t: t.trial_id)  # Ray's ids end with the trial's creation index
    for i, t in enumerate(out):
        t.index = i
    return out


def _first_line(error) -> str:
    cause = getattr(error, "cause", None) or error
    text = f"{type(cause).__name__}: {cause}"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # Ray wraps the trial's exception; its last line holds the original message
    return lines[-1].strip() if len(lines) > 1 else text


def best_trial(trials: list[TrialRecord], mode: str) -> TrialRecord | None:
    """The best completed trial (ties: the earliest); stopped trials only when none completed."""

    def usable(ts):
        return [t for t in ts if t.objective is not None and math.isfinite(t.objective)]

    pool = usable([t for t in trials if t.status == "completed"]) or usable(
        [t for t in trials if t.status == "stopped-early"]
    )
    if not pool:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return max(pool, key=lambda t: (sign * t.objective, -t.index))
