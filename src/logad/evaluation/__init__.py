"""logad.evaluation: metrics and the benchmark runner (threshold policies live in logad.detectors.thresholds)."""

from logad.evaluation.metrics import binary_metrics

__all__ = ["binary_metrics"]
