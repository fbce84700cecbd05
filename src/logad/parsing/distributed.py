"""Parsing on a Ray cluster (`pip install 'logad[distributed]'`): Ray tasks compute the keys of
chunks of lines, the driver places them in input order. The ids are exactly those of one process
on one machine, whatever the number of machines (same scheme as parallel.py).

The driver reads the files and splits headers; the tasks do the masking and tokenising and send
each block back compacted (its distinct keys and 4 bytes a line), which the driver places with one
array lookup per line. A bounded number of chunks is in flight, so memory stays bounded on huge
files.
"""

from __future__ import annotations

import array
from collections import deque
from collections.abc import Iterable, Iterator

from logad.errors import require
from logad.parsing.compact import chunks
from logad.parsing.parallel import compact_block, settings_of


def ray_compact(
    parser,
    contents: Iterable[str],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    chunk_size: int = 20_000,
    in_flight: int = 8,
) -> Iterator[tuple[list[str], bytes, int]]:
    """Compacted keys (see parallel.py) of consecutive blocks of `contents`, computed by Ray tasks,
    in input order. Starts a local Ray (with `num_cpus`) unless one is running or `address` names a
    cluster."""
    ray = require("ray", "distributed")
    if not ray.is_initialized():
        if address:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)

    @ray.remote
    def compact_task(settings: tuple[type, dict], block: list[str]) -> tuple[list[str], bytes, int]:
        cls, data = settings
        return compact_block(cls.from_dict(data), block)

    settings = ray.put(settings_of(parser))
    pending: deque = deque()
    for block in chunks(contents, chunk_size):
        pending.append((compact_task.remote(settings, block), block))
        if len(pending) >= in_flight:
            ref, sent = pending.popleft()
            yield (*ray.get(ref), sent)
    while pending:
        ref, sent = pending.popleft()
        yield (*ray.get(ref), sent)


def ray_keys(parser, contents: Iterable[str], **kwargs) -> Iterator[str]:
    """Keys of `contents` computed by Ray tasks, yielded in input order (expanded from the compact
    blocks; `add_many_ray` places the compact blocks directly)."""
    for uniques, index, oversized, _ in ray_compact(parser, contents, **kwargs):
        parser.stats["oversized"] += oversized
        yield from (uniques[i] for i in array.array("I", index))


def add_many_ray(parser, contents: Iterable[str], **kwargs) -> list[int]:
    """`parser.add_many` with the keys computed on Ray (same ids as one process)."""
    ids: list[int] = []
    for uniques, index, oversized, block in ray_compact(parser, contents, **kwargs):
        parser.stats["oversized"] += oversized
        ids += parser.learn_block(uniques, index, block)
    return ids
