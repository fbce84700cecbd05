"""logad: log anomaly detection from raw logs to honest results.

Importing logad is light: numpy and scikit-learn are imported by the modules that need them,
torch and other heavy dependencies only behind extras.
"""

from logad.errors import (
    InputError,
    InvalidParameterError,
    LogadError,
    MissingDependencyError,
    NotFittedError,
    UnknownNameError,
)
from logad.records import LogRecord, ParsedLine, Sequence

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "InvalidParameterError",
    "LogRecord",
    "LogadError",
    "MissingDependencyError",
    "NotFittedError",
    "ParsedLine",
    "Sequence",
    "UnknownNameError",
    "__version__",
]
