"""Parameter checks shared by the sklearn-backed detectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from logad.detectors.base import check_float, check_int
from logad.errors import InvalidParameterError


def check_max_depth(value: Any) -> None:
    if value is not None:
        check_int("max_depth", value, 1)


def check_max_samples(value: Any) -> None:
    if value == "auto":
        return
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        check_int("max_samples", value, 1)
    elif isinstance(value, float):
        check_float("max_samples", value, 0.0, 1.0, low_open=True)
    else:
        raise InvalidParameterError(f"`max_samples` must be 'auto', an int >= 1 or a float in (0, 1], got {value!r}")


def check_positive(name: str, value: Any) -> None:
    check_float(name, value, 0.0, float("inf"), low_open=True, high_open=True)
