"""Reading saved parser states, whichever parser wrote them."""

from __future__ import annotations

import json
from pathlib import Path

from logad.errors import InputError
from logad.io import atomic_write_text


def write_state(path: str | Path, data: dict) -> None:
    """Write a state as JSON atomically: a reader (or a restart after a kill at any moment) sees
    the old complete file or the new complete file."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False) + "\n")


def check_header(data, state_format: str, version: int, what: str) -> None:
    """InputError unless `data` is a state of `state_format` at `version`."""
    if not isinstance(data, dict) or data.get("format") != state_format:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"not a logad {what} state (expected format {state_format!r}, got {found!r})")
    if data.get("version") != version:
        raise InputError(f"{what} state version {data.get('version')!r} is not supported (expected {version})")


class SavedState:
    """`save` / `load` for a parser that has `to_dict` / `from_dict`."""

    def save(self, path: str | Path) -> None:
        """Write the state as JSON atomically (a kill at any moment leaves the last good file)."""
        write_state(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path):
        """Read a state written by `save`; InputError for a missing, corrupt or foreign file."""
        return cls.from_dict(read_state(path))


def read_state(path: str | Path) -> dict:
    """The JSON data of a state file; InputError for a missing or unreadable file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"parser state {str(p)!r} does not exist")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"parser state {str(p)!r} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise InputError(f"parser state {str(p)!r} is corrupt: JSON nested too deeply") from None


def parser_from_dict(data: dict):
    """The parser (default or Drain) that `to_dict` data describes."""
    from logad.parsing.drain import STATE_FORMAT as DRAIN_FORMAT
    from logad.parsing.drain import DrainParser
    from logad.parsing.skeleton import STATE_FORMAT as SKELETON_FORMAT
    from logad.parsing.skeleton import SkeletonParser

    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt == SKELETON_FORMAT:
        return SkeletonParser.from_dict(data)
    if fmt == DRAIN_FORMAT:
        return DrainParser.from_dict(data)
    raise InputError(f"not a logad parser state (expected format {SKELETON_FORMAT!r} or {DRAIN_FORMAT!r}, got {fmt!r})")


def load_parser(path: str | Path):
    """Load a state saved by either parser (`SkeletonParser` or `DrainParser`)."""
    try:
        return parser_from_dict(read_state(path))
    except InputError as exc:
        if str(path) in str(exc):
            raise
        raise InputError(f"parser state {str(path)!r}: {exc}") from exc
