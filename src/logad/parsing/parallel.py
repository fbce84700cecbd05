"""Parallel parsing with identical ids: workers compute keys (masking and tokenising, the costly,
stateless part), one process places them in input order (a dictionary lookup per line).

Keys are a pure function of a parser's settings and the line, and placement happens in input order
in a single process, so any number of workers (or Ray tasks, see distributed.py) gives exactly the
ids of one process.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable, Iterator

_WORKER_PARSER = None


def chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while True:
        block = list(itertools.islice(it, size))
        if not block:
            return
        yield block


def settings_of(parser) -> dict:
    """The settings part of a parser's state (what a worker needs to compute keys)."""
    d = parser.to_dict()
    return {"format": d["format"], "version": d["version"], "params": d["params"], "next_id": 1,
            "templates": [], "alias": [], "keys": []}


def _init(settings: dict) -> None:
    global _WORKER_PARSER
    from logad.parsing.skeleton import SkeletonParser

    _WORKER_PARSER = SkeletonParser.from_dict(settings)


def _keys(block: list[str]) -> list[str]:
    return _WORKER_PARSER.keys(block)  # type: ignore[union-attr]


def parallel_keys(parser, contents: Iterable[str], *, workers: int, chunk_size: int = 20_000) -> Iterator[str]:
    """Keys of `contents` computed by `workers` processes, yielded in input order."""
    cut = parser.max_line_chars

    def counted(block_iter):
        for block in block_iter:
            parser.stats["oversized"] += sum(1 for c in block if len(c) > cut)
            yield block

    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(settings_of(parser),)) as pool:
        # imap keeps input order; a few chunks in flight per worker bound the memory
        for keys in pool.imap(_keys, counted(chunks(contents, chunk_size)), chunksize=1):
            yield from keys
