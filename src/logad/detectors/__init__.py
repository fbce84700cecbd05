"""logad.detectors: the detector protocol (`Detector`) and the lazy registry."""

from logad.detectors.base import Detector
from logad.detectors.registry import detector_class, get_detector, list_detectors

__all__ = ["Detector", "detector_class", "get_detector", "list_detectors"]
