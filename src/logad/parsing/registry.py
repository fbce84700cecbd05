"""The parser registry: mode name -> parser class and its per-format presets.

    parser_for("hdfs")            # the default parser with Brain's HDFS settings
    parser_for("hdfs", "drain")   # Drain with LogPAI's HDFS settings
    load_parser("state.json")     # whichever parser wrote it

A mode is registered with `register_parser(mode, cls, preset)`: `cls` implements the `Parser`
protocol (base.py) and has a `STATE_FORMAT` marker for its saved states; `preset(format_name)`
gives the keyword arguments for a format (formats without a preset get the drain3.ini masking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.parsing.base import Parser
from logad.parsing.drain import DrainParser
from logad.parsing.presets import default_preset, drain_preset
from logad.parsing.skeleton import SkeletonParser
from logad.parsing.state import read_state


@dataclass(frozen=True)
class ParserSpec:
    """A registered parser mode."""

    mode: str
    cls: type
    preset: Callable[[str], dict]
    description: str = ""


PARSERS: dict[str, ParserSpec] = {}


def register_parser(mode: str, cls: type, preset: Callable[[str], dict], description: str = "") -> None:
    """Register (or replace) a parser mode."""
    PARSERS[mode] = ParserSpec(mode, cls, preset, description)


register_parser("default", SkeletonParser, default_preset,
                "accurate streaming grouping by constant skeleton (Brain's rule), Brain's per-system settings")
register_parser("drain", DrainParser, drain_preset, "Drain's exact grouping, LogPAI's per-system settings")

#: the registered modes, in registration order
MODES = tuple(PARSERS)


def list_parsers() -> list[str]:
    return list(PARSERS)


def _spec(mode: str) -> ParserSpec:
    spec = PARSERS.get(mode)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(str(mode), list(PARSERS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameterError(f"`mode` must be one of {', '.join(PARSERS)}, got {mode!r}{hint}")
    return spec


def parser_class(mode: str) -> type:
    """The class registered for a mode; InvalidParameterError naming the modes otherwise."""
    return _spec(mode).cls


def parser_for(format_name: str, mode: str = "default", **overrides) -> Parser:
    """A fresh parser of `mode` with the preset of a format (keyword `overrides` win)."""
    spec = _spec(mode)
    return spec.cls(**{**spec.preset(format_name), **overrides})


def parser_from_dict(data: dict) -> Parser:
    """The parser that `to_dict` data describes (found by its state format marker)."""
    fmt = data.get("format") if isinstance(data, dict) else None
    for spec in PARSERS.values():
        if fmt == spec.cls.STATE_FORMAT:
            return spec.cls.from_dict(data)
    known = " or ".join(repr(s.cls.STATE_FORMAT) for s in PARSERS.values())
    raise InputError(f"not a logad parser state (expected format {known}, got {fmt!r})")


def load_parser(path: str | Path) -> Parser:
    """Load a state saved by any registered parser."""
    try:
        return parser_from_dict(read_state(path))
    except InputError as exc:
        if str(path) in str(exc):
            raise
        raise InputError(f"parser state {str(path)!r}: {exc}") from exc
