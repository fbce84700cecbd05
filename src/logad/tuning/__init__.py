"""Hyper-parameter search on Ray Tune (extra `distributed`), objective on validation data only.

- `space`: search spaces from `--space NAME=KIND:ARGS`;
- `objective`: validation-only objectives and the detector trial (the test part never reaches a trial);
- `search`: the generic Ray Tune + ASHA machinery over any `trainable(config, reporter, **data) -> float`;
- `tuner`: `logad tune` (detector search, results files, `--params-file`, retraining the best).

Importing this package does not import Ray.
"""

from logad.tuning.objective import OBJECTIVES, detector_trial, metric_of, without_test
from logad.tuning.search import SearchResult, SearchSettings, TrialRecord, TuningError, run_search
from logad.tuning.space import Dimension, parse_dimension, parse_space
from logad.tuning.tuner import TuneResult, load_params_file, retrain_best, tune_detector

__all__ = [
    "OBJECTIVES",
    "Dimension",
    "SearchResult",
    "SearchSettings",
    "TrialRecord",
    "TuneResult",
    "TuningError",
    "detector_trial",
    "load_params_file",
    "metric_of",
    "parse_dimension",
    "parse_space",
    "retrain_best",
    "run_search",
    "tune_detector",
    "without_test",
]
