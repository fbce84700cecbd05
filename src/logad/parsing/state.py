"""Saved parser states: JSON written atomically, with a format marker and a version.

Which parser a state belongs to is decided by the registry (`logad.parsing.registry.load_parser`);
this module knows no parser, so every parser can build on it without an import circle.
"""

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


class SavedState:
    """`save` / `load` for a parser that has `to_dict` / `from_dict`."""

    def save(self, path: str | Path) -> None:
        """Write the state as JSON atomically (a kill at any moment leaves the last good file)."""
        write_state(path, self.to_dict())  # type: ignore[attr-defined]

    @classmethod
    def load(cls, path: str | Path):
        """Read a state written by `save`; InputError for a missing, corrupt or foreign file."""
        return cls.from_dict(read_state(path))  # type: ignore[attr-defined]


def check_ids(templates: dict, alias: dict[int, int], next_id: int) -> None:
    """InputError for a state a resolve would loop on or a new template would overwrite: an alias
    cycle, a live template that is also an alias, or a next id not above every id given out."""
    both = set(alias) & set(templates)
    if both:
        raise InputError(f"skeleton state lists template {min(both)} as live and as merged into another")
    for start in alias:
        seen = {start}
        tid = alias[start]
        while tid in alias:
            if tid in seen:
                raise InputError(f"skeleton state has an alias cycle through template {tid}")
            seen.add(tid)
            tid = alias[tid]
    highest = max([0, *templates, *alias, *alias.values()])
    if next_id <= highest:
        raise InputError(f"skeleton state's next_id {next_id} is not above the ids it has given out (up to "
                         f"{highest}): a new template would overwrite an old one")
