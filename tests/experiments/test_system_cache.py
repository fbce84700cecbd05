"""The on-disk cache of loaded systems (logad.pipeline.system_cache): the same system back, rebuilt
when its files change, a damaged entry ignored."""

from __future__ import annotations

import gzip
import os

import numpy as np

from logad.pipeline import system_cache
from logad.pipeline.systems import load_system

LINES = [
    "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.363779 R02-M1-N0-C:J12-U11 RAS KERNEL INFO "
    "instruction cache parity error corrected",
    "- 1117838573 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.53.276129 R02-M1-N0-C:J12-U11 RAS KERNEL INFO "
    "generating core.2275",
    "KERNDTLB 1117838575 2005.06.03 R03-M1-N0-C:J12-U11 2005-06-03-15.42.55.000000 R03-M1-N0-C:J12-U11 RAS KERNEL "
    "FATAL data TLB error interrupt",
]


def _bgl(folder, n=60):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "BGL.log").write_text("\n".join(LINES[i % 3] for i in range(n)) + "\n", encoding="utf-8")
    return folder


def _same(a, b):
    assert a.sequences == b.sequences and a.templates == b.templates and a.details == b.details
    assert (a.name, a.system, a.ordered_by, a.source) == (b.name, b.system, b.ordered_by, b.source)
    if a.entries is not None:
        assert a.entries.texts == b.entries.texts and np.array_equal(a.entries.labels, b.entries.labels)
        assert np.array_equal(a.entries.timestamps, b.entries.timestamps, equal_nan=True)


def test_a_cached_system_is_the_loaded_one(tmp_path):
    folder, cache = _bgl(tmp_path / "bgl"), tmp_path / "cache"
    for kw in ({}, {"per_entity": True}, {"entries": True, "window": 7}):
        cold = load_system(f"bgl={folder}", cache=cache, **kw)
        warm = load_system(f"bgl={folder}", cache=cache, **kw)
        _same(cold, warm)
        _same(cold, load_system(f"bgl={folder}", **kw))  # and the uncached load
    assert len(list(cache.glob("*.json.gz"))) == 3  # one entry per option set


def test_a_changed_file_is_parsed_again_and_a_damaged_entry_ignored(tmp_path):
    folder, cache = _bgl(tmp_path / "bgl"), tmp_path / "cache"
    first = load_system(f"bgl={folder}", cache=cache)
    (folder / "BGL.log").write_text("\n".join(LINES[:2] * 40) + "\n", encoding="utf-8")
    os.utime(folder / "BGL.log", ns=(1, 1))
    second = load_system(f"bgl={folder}", cache=cache)
    assert sum(s.label for s in second.sequences) == 0 < sum(s.label for s in first.sequences)
    for entry in cache.glob("*.json.gz"):
        entry.write_bytes(b"not gzip")
    again = load_system(f"bgl={folder}", cache=cache)  # rebuilt, and written again
    _same(second, again)
    valid = 0
    for entry in cache.glob("*.json.gz"):
        if entry.read_bytes()[:2] == b"\x1f\x8b":
            with gzip.open(entry, "rt") as fh:
                valid += fh.read(1) == "{"
    assert valid == 1


def test_no_cache_by_default_and_an_unwritable_folder_only_warns(tmp_path, caplog):
    folder = _bgl(tmp_path / "bgl")
    assert system_cache.cache_root(None) is None and system_cache.cache_root(False) is None
    blocked = tmp_path / "file"
    blocked.write_text("x")
    data = load_system(f"bgl={folder}", cache=blocked / "sub")
    assert len(data.sequences) == 3 and "cannot write the system cache" in caplog.text
