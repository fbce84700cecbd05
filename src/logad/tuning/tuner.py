"""`logad tune`: search a detector's constructor parameters on a split, objective on validation only.

    result = tune_detector(split, "knn", parse_space(["n_neighbors=randint:1:20"]),
                           objective="f1", settings=SearchSettings(num_samples=8), out="tune-out")

writes `trials.json`, `best.json` and Ray's experiment folder (`ray/`) under `out`. The best
configuration is retrained with `logad evaluate ... --params-file out/best.json`, or at once with
`retrain_best(...)`, which evaluates on the test part exactly once, after the search.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.io import finite_json_default
from logad.progress import SILENT, Progress
from logad.splitting import Split
from logad.tuning.objective import (
    check_objective,
    detector_trial,
    objective_mode,
    reports_epochs,
    without_test,
)
from logad.tuning.search import SearchResult, SearchSettings, run_search
from logad.tuning.space import Dimension, check_space

BEST_KIND = "logad-tune-best"
BEST_VERSION = 1
SEED_PARAMS = ("seed", "random_state")
RETRAIN_NOTE = (
    "the test figure was computed once, after the search, for the configuration chosen on validation data; "
    "no trial saw the test part"
)


@dataclass
class TuneResult:
    search: SearchResult
    detector: str
    objective: str
    fixed: dict
    best_params: dict
    out: Path | None

    @property
    def best_config(self) -> dict:
        return dict(self.search.best.config) if self.search.best else {}


def default_max_t(detector: str, fixed: dict, space: dict[str, Dimension]) -> int:
    """ASHA's top rung: the epochs a deep detector trains (fixed, the largest searched, or its
    default); 1 for a detector that reports once."""
    from logad.detectors.registry import detector_class, get_detector

    if not reports_epochs(detector_class(detector)):
        return 1
    dim = space.get("epochs")
    if dim is not None:
        return max(1, int(max(dim.corners())))
    epochs = getattr(get_detector(detector, **fixed), "epochs", None)
    return int(epochs) if isinstance(epochs, int) and epochs >= 1 else 1


def tune_detector(
    split: Split,
    detector: str,
    space: dict[str, Dimension],
    *,
    objective: str = "f1",
    fixed: dict | None = None,
    settings: SearchSettings | None = None,
    templates: dict[int, str] | None = None,
    out: str | Path | None = None,
    description: dict | None = None,
    progress: Progress = SILENT,
) -> TuneResult:
    """Search `space` for `detector` on `split`; only its train and validation parts reach a trial.

    `fixed` parameters apply to every trial. A detector with a `seed`/`random_state` parameter that
    is neither fixed nor searched gets `settings.seed` in every trial (same seed, fair comparison),
    which `best.json` records so a retrain reproduces the trial. `description` (command, dataset,
    source) is stored in `best.json`.
    """
    from logad.detectors.registry import detector_class, get_detector

    settings = settings or SearchSettings()
    fixed = dict(fixed or {})
    cls = detector_class(detector)
    for name in SEED_PARAMS:
        if name in cls._param_names() and name not in fixed and name not in space:
            fixed[name] = settings.seed
    check_space(detector, space, fixed)
    check_objective(objective, split, detector, fixed, tuple(space))
    mode = objective_mode(objective)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
    trial_split = without_test(split)  # the test part never leaves the driver
    progress.stage(
        f"tuning {detector} on {len(trial_split.train)} training and {len(trial_split.validation)} validation "
        f"sequences; objective {objective} ({mode}) on validation; test part withheld"
    )
    search = run_search(
        detector_trial,
        space,
        mode=mode,
        settings=settings,
        data={
            "detector": detector,
            "fixed": fixed,
            "split": trial_split,
            "objective": objective,
            "templates": templates or None,
        },
        storage_path=out_path,
        name="ray",
        progress=progress,
    )
    # every constructor parameter, defaults included: a retrain does not depend on later defaults
    best_params = get_detector(detector, **fixed, **search.best.config).get_params()
    result = TuneResult(search, detector, objective, fixed, best_params, out_path)
    if out_path is not None:
        write_results(result, split, out_path, description or {})
    return result


def write_results(result: TuneResult, split: Split, out: Path, description: dict) -> None:
    """trials.json (every trial) and best.json (what `--params-file` reads)."""
    from logad.io import atomic_write_text

    s = result.search
    trials = {
        "kind": "logad-tune-trials",
        "detector": result.detector,
        "objective": {"name": result.objective, "mode": s.mode, "computed_on": "validation"},
        "fixed": result.fixed,
        **s.as_dict(),
    }
    best = {
        "kind": BEST_KIND,
        "version": BEST_VERSION,
        "detector": result.detector,
        "params": result.best_params,
        "config": result.best_config,
        "objective": {
            "name": result.objective,
            "mode": s.mode,
            "value": s.best.objective,
            "computed_on": "validation",
            "trial": s.best.index,
            "status": s.best.status,
        },
        "search": {
            "trials": len(s.trials),
            "completed": sum(1 for t in s.trials if t.status == "completed"),
            "stopped_early": s.stopped_early,
            "errors": sum(1 for t in s.trials if t.status == "error"),
            "space": s.space,
            "settings": s.settings.as_dict(),
            "seconds": s.seconds,
            "experiment_path": s.experiment_path,
        },
        "split": split.describe(),
        "test_evaluated": False,
        **description,
    }
    atomic_write_text(out / "trials.json", json.dumps(trials, indent=2, default=finite_json_default) + "\n")
    atomic_write_text(out / "best.json", json.dumps(best, indent=2, default=finite_json_default) + "\n")


def load_params_file(path: str | Path) -> tuple[str | None, dict]:
    """(detector name or None, params) from a `best.json` written by `logad tune`, or from a plain
    JSON object of parameters."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--params-file {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--params-file {str(p)!r} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"--params-file {str(p)!r} must hold a JSON object, got {type(data).__name__}")
    if data.get("kind") == BEST_KIND:
        if data.get("version") != BEST_VERSION:
            raise InputError(f"--params-file {str(p)!r} has version {data.get('version')!r}; this logad reads {BEST_VERSION}")
        params = data.get("params")
        if not isinstance(params, dict):
            raise InputError(f"--params-file {str(p)!r} has no `params` object")
        return str(data.get("detector")) if data.get("detector") else None, dict(params)
    if "kind" in data:
        raise InputError(f"--params-file {str(p)!r} is a {data['kind']!r} file, not a parameters file (use best.json)")
    return None, dict(data)


def resolve_detector(given: str | None, from_file: str | None, default: str | None = None) -> str:
    """The detector to build: the one named on the command line, else the params file's."""
    if given and from_file and given != from_file:
        raise InvalidParameterError(
            f"--detector {given!r} does not match the params file, which holds {from_file!r} parameters"
        )
    name = given or from_file or default
    if not name:
        raise InvalidParameterError("give --detector NAME (or a --params-file that names one)")
    return name


def retrain_best(
    result: TuneResult,
    split: Split,
    *,
    templates: dict[int, str] | None = None,
    progress: Progress = SILENT,
):
    """Fit the best configuration on the training part, threshold on validation, score test once.

    Returns the `Evaluation` of `logad evaluate`, with a `tuning` note in its result; writes it to
    `out/retrain.json` when the search had an output folder.
    """
    from logad.detectors.registry import get_detector
    from logad.evaluation.runner import evaluate_detector

    progress.stage(f"retraining the best {result.detector} configuration; scoring the test part once")
    t0 = time.perf_counter()
    ev = evaluate_detector(get_detector(result.detector, **result.best_params), split, progress=progress, templates=templates)
    ev.result["tuning"] = {
        "objective": result.objective,
        "validation_objective": result.search.best.objective,
        "config": result.best_config,
        "note": RETRAIN_NOTE,
        "seconds": time.perf_counter() - t0,
    }
    if result.out is not None:
        from logad.io import atomic_write_text

        atomic_write_text(result.out / "retrain.json", json.dumps(ev.result, indent=2, default=finite_json_default) + "\n")
    return ev
