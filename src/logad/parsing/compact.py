"""Blocks of lines and their compact form: the distinct keys of a block in order of first
occurrence and, per line, 4 bytes naming its key. What `SkeletonParser.learn_compact` places and
what worker processes (parallel.py, distributed.py) send back instead of a string a line."""

from __future__ import annotations

import array
import itertools
from collections.abc import Iterable, Iterator

try:  # the optional compiled core; the Python reference gives identical results
    from logad import _core  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _core = None


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive blocks of at most `size` items (a list is sliced, any other iterable streamed)."""
    if isinstance(items, list):
        for i in range(0, len(items), size):
            yield items[i:i + size]
        return
    it = iter(items)
    while True:
        block = list(itertools.islice(it, size))
        if not block:
            return
        yield block


def compact_keys(keys: list[str]) -> tuple[list[str], bytes]:
    """A block of keys as its distinct keys in order of first occurrence and, per line, the
    position of its key there (uint32 bytes)."""
    if _core is not None and isinstance(keys, list):
        return _core.compact(keys)  # the same, at C speed
    return compact_py(keys)


def compact_py(keys: Iterable[str]) -> tuple[list[str], bytes]:
    """The pure-Python reference of `compact_keys`."""
    index: dict[str, int] = {}
    setdefault = index.setdefault
    positions = array.array("I", [setdefault(k, len(index)) for k in keys])
    return list(index), positions.tobytes()


def oversized(block: list[str], cut: int) -> int:
    """Lines of a block longer than `cut` (counted in `stats`)."""
    if not block or max(map(len, block)) <= cut:  # the usual case, at C speed
        return 0
    return sum(1 for c in block if len(c) > cut)
