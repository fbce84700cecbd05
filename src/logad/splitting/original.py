"""The originals' own data splits, by name, for `--protocol original`.

Each entry reproduces how a paper's code cut its data (seed_methods.md), so its published numbers
can be compared. They are not the default: several shuffle overlapping windows or sessions across
time, which the leakage audit then reports. A split function takes the labelled sequences in file
(or time) order plus keyword options, and returns a `Split` whose `protocol` is its name.
"""

from __future__ import annotations

from collections.abc import Callable

from logad.errors import unknown_name
from logad.records import Sequence
from logad.splitting.splits import Split

# name -> (function, one-line description); filled below and by the methods' modules
ORIGINAL_SPLITS: dict[str, tuple[Callable[..., Split], str]] = {}


def register_split(name: str, description: str):
    """Decorator: add a split function to ORIGINAL_SPLITS under `name`."""

    def deco(fn: Callable[..., Split]) -> Callable[..., Split]:
        ORIGINAL_SPLITS[name] = (fn, description)
        return fn

    return deco


def original_split(name: str, sequences: list[Sequence], **options) -> Split:
    """Run the original split `name` on `sequences`."""
    try:
        fn, _ = ORIGINAL_SPLITS[name]
    except KeyError:
        raise unknown_name("original split", name, list(ORIGINAL_SPLITS)) from None
    return fn(sequences, **options)
