"""logad.evaluation: metrics, threshold policies, the benchmark runner."""

from logad.evaluation.metrics import binary_metrics
from logad.evaluation.thresholds import BestF1OnValidation, FixedThreshold, TrainQuantile, get_policy

__all__ = ["BestF1OnValidation", "FixedThreshold", "TrainQuantile", "binary_metrics", "get_policy"]
