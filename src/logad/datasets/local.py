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
    """The raw log file of a single-file raw dataset (first entry of its layout)."""
    files = check_layout(info, data_dir)
    return files[info.layout[0][0]]


def raw_log_paths(info: DatasetInfo, data_dir: str | Path) -> list[Path]:
    """Every raw log file of a raw dataset: its `log_glob` under the folder (sorted), else the one
    file of its layout."""
    if not info.log_glob:
        return [raw_log_path(info, data_dir)]
    check_layout(info, data_dir)
    root = Path(data_dir)
    paths = sorted(p for p in root.glob(info.log_glob) if p.is_file() and not p.name.endswith((".part", ".verified")))
    if not paths:
        raise InputError(f"data dir {root} has no log file matching {info.log_glob!r} (the layout of {info.name!r})")
    return paths


def labels_for(info: DatasetInfo, data_dir: str | Path) -> dict[str, int] | None:
    """Session labels of a raw dataset ({session id: 0|1}); None when labels are per line."""
    files = check_layout(info, data_dir)
    if info.labels == "block_csv":
        from logad.formats.labels import read_block_labels

        return read_block_labels(files[info.layout[1][0]])
    if info.labels == "applications":
        from logad.formats.labels import read_application_labels

        apps = read_application_labels(files[info.layout[0][0]])
        # a container's sequence is named by its file, a job's by its application: label both
        labels = dict(apps)
        for path in raw_log_paths(info, data_dir):
            app = next((part for part in path.parts if part in apps), None)
            if app is not None:
                labels[str(path)] = apps[app]
        return labels
    if info.labels == "id_list":
        import re

        from logad.formats.labels import read_id_list

        anomalous = read_id_list(files[info.layout[1][0]], re.compile(info.label_ids or info.session_regex or r"\S+"))
        return _LabelsOfListed(anomalous)
    return None


class _LabelsOfListed(dict):
    """Labels from a list of anomalous ids: a listed id is 1, any other session 0 (the list is the
    whole ground truth, so an id missing from it is a normal session, not an unlabelled one)."""

    def __init__(self, anomalous: set[str]) -> None:
        super().__init__((k, 1) for k in anomalous)

    def get(self, key, default=None):  # noqa: D102 - dict.get with the list's meaning
        return super().get(key, 0)


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
