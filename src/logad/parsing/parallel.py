"""Parallel parsing with identical ids: workers compute keys (masking and tokenising, the costly,
stateless part), one process places them in input order.

Keys are a pure function of a parser's settings and the line, and placement happens in input order
in a single process, so any number of workers (or Ray tasks, see distributed.py) gives exactly the
ids of one process.

What crosses the process boundary is kept small, because the parent is the serial part: a worker
sends back a block *compacted* (its distinct keys, a few hundred strings, and 4 bytes a line naming
each line's key; `compact_keys`), which the parent places with one array lookup per line
(`learn_compact`). When the lines are already a list and the platform forks, the workers inherit
the list and receive only (start, end) ranges, so the parent does not pickle the lines either.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator

from logad.parsing.compact import chunks, compact_keys, oversized

_WORKER_PARSER = None
_SHARED_LINES: list[str] | None = None  # the lines, inherited by forked workers


def settings_of(parser) -> tuple[type, dict]:
    """What a worker needs to compute keys: the parser's class and the state of a fresh parser
    with the same settings (no templates, no keys)."""
    return type(parser), parser.settings_dict()


def compact_block(parser, block: list[str]) -> tuple[list[str], bytes, int]:
    """A block's keys compacted (`compact_keys`) and how many of its lines are over the length cap."""
    return (*compact_keys(parser.keys(block)), oversized(block, parser.max_line_chars))


def _init(settings: tuple[type, dict]) -> None:
    global _WORKER_PARSER
    cls, data = settings
    _WORKER_PARSER = cls.from_dict(data)


def _of_block(block: list[str]) -> tuple[list[str], bytes, int]:
    return compact_block(_WORKER_PARSER, block)


def _of_range(span: tuple[int, int]) -> tuple[list[str], bytes, int]:
    return compact_block(_WORKER_PARSER, _SHARED_LINES[span[0]:span[1]])  # type: ignore[index]


def parallel_compact(parser, contents: Iterable[str], *, workers: int,
                     chunk_size: int = 20_000) -> Iterator[tuple[list[str], bytes, int]]:
    """Compacted keys of consecutive blocks of `contents`, computed by `workers` processes, in
    input order: (distinct keys, uint32 positions as bytes, lines over the length cap)."""
    global _SHARED_LINES
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    inherit = isinstance(contents, list) and "fork" in methods
    if inherit:
        _SHARED_LINES = contents  # set before the fork: the workers see it without pickling
        n = len(contents)
        tasks: Iterable = ((i, min(i + chunk_size, n)) for i in range(0, n, chunk_size))
        fn = _of_range
    else:
        tasks, fn = chunks(contents, chunk_size), _of_block
    try:
        with ctx.Pool(workers, initializer=_init, initargs=(settings_of(parser),)) as pool:
            # imap keeps input order; a few chunks in flight per worker bound the memory
            yield from pool.imap(fn, tasks, chunksize=1)
    finally:
        _SHARED_LINES = None


def parallel_keys(parser, contents: Iterable[str], *, workers: int, chunk_size: int = 20_000) -> Iterator[str]:
    """Keys of `contents` computed by `workers` processes, yielded in input order (expanded from
    the compact blocks; `SkeletonParser.add_many` places the compact blocks directly)."""
    import numpy as np

    for uniques, index, cut in parallel_compact(parser, contents, workers=workers, chunk_size=chunk_size):
        parser.stats["oversized"] += cut
        yield from (uniques[i] for i in np.frombuffer(index, dtype=np.uint32).tolist())
