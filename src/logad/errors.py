"""One small error hierarchy. Messages quote the argument and the value received."""

from __future__ import annotations


class LogadError(Exception):
    """Base class of every error logad raises on purpose (the CLI prints these in one line)."""


class InvalidParameterError(LogadError, ValueError):
    """A parameter or argument has a value logad cannot use."""


class NotFittedError(LogadError):
    """A model was used before `fit` was called."""


class InputError(LogadError):
    """A log file, label file or data folder cannot be read as asked."""


class UnknownNameError(LogadError, KeyError):
    """A registry lookup (format, dataset, detector) failed; the message names the nearest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(LogadError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class ChecksumError(LogadError):
    """A downloaded file does not have the expected checksum."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> UnknownNameError:
    """Build an UnknownNameError with a 'did you mean' hint."""
    import difflib

    close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known))})")


def no_such_parameter(owner: str, bad: list[str], valid: list[str]) -> InvalidParameterError:
    """InvalidParameterError for parameter names `owner` does not have, each with its nearest valid
    name, and the valid ones listed."""
    import difflib

    hints = []
    for name in bad:
        close = difflib.get_close_matches(name, valid, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return InvalidParameterError(f"{owner} has no parameter {', '.join(hints)}; valid: {', '.join(valid) or 'none'}")


def require(module: str, extra: str):
    """Import an optional dependency lazily, or raise MissingDependencyError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is needed for this feature: pip install 'logad[{extra}]' ({exc})"
        ) from exc
