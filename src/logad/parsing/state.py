"""Reading saved parser states, whichever parser wrote them."""

from __future__ import annotations

import json
from pathlib import Path

from logad.errors import InputError


def read_state(path: str | Path) -> dict:
    """The JSON data of a state file; InputError for a missing or unreadable file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"parser state {str(p)!r} does not exist")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"parser state {str(p)!r} is not valid JSON: {exc}") from exc


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
