"""Local copies of datasets: check the layout of a --data-dir and read what it holds."""

from __future__ import annotations

from pathlib import Path

from logad.datasets.registry import DatasetInfo
from logad.errors import InputError


def check_layout(info: DatasetInfo, data_dir: str | Path) -> dict[str, Path]:
    """Resolve every required file of the layout; one clear error naming what is missing."""
    root = Path(data_dir)
    if not root.exists():
        raise InputError(f"data dir {root} is missing")
    if not root.is_dir():
        raise InputError(f"data dir {root} is not a directory")
    found: dict[str, Path] = {}
    missing: list[str] = []
    for options in info.layout:
        hit = None
        for rel in options:
            for candidate in (root / rel, root / f"{rel}.gz"):
                if candidate.is_file():
                    hit = candidate
                    break
            if hit:
                break
        if hit is None:
            missing.append(" or ".join(options))
        else:
            found[options[0]] = hit
    if missing:
        present = sorted(p.name for p in root.iterdir())[:10]
        raise InputError(
            f"data dir {root} does not have the layout of dataset {info.name!r}: missing {'; '.join(missing)}"
            f" (found: {', '.join(present) or 'nothing'})"
        )
    return found


def load_session_dataset(info: DatasetInfo, data_dir: str | Path) -> dict[str, list[tuple[str, list[int]]]]:
    """The three DeepLog-style files of a sessions dataset: train, test_normal, test_abnormal."""
    from logad.formats.labels import read_session_file

    files = check_layout(info, data_dir)
    parts = {}
    for rel, path in files.items():
        part = rel.split("_", 1)[1]  # hdfs_train -> train, hdfs_test_normal -> test_normal
        parts[part] = list(read_session_file(path))
    return parts


def raw_log_path(info: DatasetInfo, data_dir: str | Path) -> Path:
    """The raw log file of a raw dataset (first entry of its layout)."""
    files = check_layout(info, data_dir)
    return files[info.layout[0][0]]


def labels_for(info: DatasetInfo, data_dir: str | Path) -> dict[str, int] | None:
    """Session labels of a raw dataset (HDFS: anomaly_label.csv); None when labels are per line."""
    if info.labels != "block_csv":
        return None
    from logad.formats.labels import read_block_labels

    files = check_layout(info, data_dir)
    return read_block_labels(files[info.layout[1][0]])


def templates_for(info: DatasetInfo, data_dir: str | Path) -> dict[int, str]:
    """Template texts of a sessions dataset ({} when it has no templates file, or it is absent):
    line k of the file is the text of template id k (1-based), as the session files use them."""
    if not info.templates:
        return {}
    root = Path(data_dir)
    for candidate in (root / info.templates, root / f"{info.templates}.gz"):
        if candidate.is_file():
            from logad.formats.reader import open_binary

            with open_binary(candidate) as fh:
                lines = fh.read().decode("utf-8", errors="replace").splitlines()
            return {i + 1: line for i, line in enumerate(lines)}
    return {}
