"""What the benchmark scripts share: finding the real data, and skipping cleanly without it."""

from __future__ import annotations

from pathlib import Path


def data_dir_or_none(path: str | Path, *needed: str) -> Path | None:
    """The data folder, or None once it has said why there is nothing to measure: the folder is
    absent, or lacks one of the `needed` sub-folders. Benchmarks then exit 0 (no shared data is a
    normal state of a checkout, not an error)."""
    data = Path(path)
    if not data.exists():
        print(f"no data at {data}: nothing to measure")
        return None
    missing = [name for name in needed if not (data / name).exists()]
    if missing:
        print(f"no {', '.join(missing)} under {data}: nothing to measure")
        return None
    return data
