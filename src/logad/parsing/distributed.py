"""Parsing on a Ray cluster (`pip install 'logad[distributed]'`): Ray tasks compute the keys of
chunks of lines, the driver places them in input order. The ids are exactly those of one process
on one machine, whatever the number of machines (same scheme as parallel.py).

The driver reads the files and splits headers; the tasks do the masking and tokenising. A bounded
number of chunks is in flight, so memory stays bounded on huge files.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from logad.errors import require
from logad.parsing.parallel import chunks, settings_of


def ray_keys(
    parser,
    contents: Iterable[str],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    chunk_size: int = 20_000,
    in_flight: int = 8,
) -> Iterator[str]:
    """Keys of `contents` computed by Ray tasks, yielded in input order. Starts a local Ray (with
    `num_cpus`) unless one is running or `address` names a cluster."""
    ray = require("ray", "distributed")
    if not ray.is_initialized():
        if address:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)

    @ray.remote
    def keys_task(settings: dict, block: list[str]) -> list[str]:
        from logad.parsing.skeleton import SkeletonParser

        return SkeletonParser.from_dict(settings).keys(block)

    settings = ray.put(settings_of(parser))
    cut = parser.max_line_chars
    pending: deque = deque()
    for block in chunks(contents, chunk_size):
        parser.stats["oversized"] += sum(1 for c in block if len(c) > cut)
        pending.append(keys_task.remote(settings, block))
        if len(pending) >= in_flight:
            yield from ray.get(pending.popleft())
    while pending:
        yield from ray.get(pending.popleft())


def add_many_ray(parser, contents: Iterable[str], **kwargs) -> list[int]:
    """`parser.add_many` with the keys computed on Ray (same ids as one process)."""
    return parser.learn_keys(ray_keys(parser, contents, **kwargs))
