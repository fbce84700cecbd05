"""Local copies of datasets: check the layout of a --data-dir and read what it holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from logad.datasets.registry import DatasetInfo
from logad.errors import InputError, InvalidParameterError

# the keys a dataset.toml of `labelled-logs` may hold
DATASET_TOML_KEYS = {
    "name": "the system's name (default: the folder's)",
    "format": "a format name (`logad formats`) or a format string with <Content> (required)",
    "logs": "globs of the log files under the folder (default: *.log, *.log.gz)",
    "labels": "a CSV of id,label (Normal/Anomaly or 0/1); the id names a session, a file or an entity",
    "session_regex": "the session id in a line's text, e.g. '(blk_-?\\d+)'",
    "session_from_path": "the session id in a file's path, e.g. '(job_\\d+)'",
    "group": "session | entity | count | time | file (default: session when a session id is given, else file)",
    "window_size": "lines or seconds of a window",
    "window_step": "step of a sliding window",
    "entity_field": "the header field naming the entity",
}


def resolve_local(info: DatasetInfo, data_dir: str | Path) -> DatasetInfo:
    """A concrete DatasetInfo for a folder of a user's own data (the generic layouts `sessions`,
    `labelled-logs`, `text-windows`); a registered dataset is returned unchanged."""
    if not info.generic:
        return info
    root = Path(data_dir)
    if not root.exists():
        raise InputError(f"data dir {root} is missing")
    if info.kind == "sessions":
        return _own_sessions(info, root)
    if info.kind == "text-windows":
        path = root if root.is_file() else _one(root, ("*.csv", "*.csv.gz"), "a text-windows CSV")
        return dataclasses.replace(info, name=f"text-windows:{_stem(path)}", layout=((str(path),),), generic=False)
    return _own_logs(info, root)


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def _one(root: Path, patterns: tuple[str, ...], what: str) -> Path:
    found = sorted({p for pat in patterns for p in root.glob(pat) if p.is_file()})
    if len(found) != 1:
        listed = ", ".join(p.name for p in sorted(root.iterdir())[:10]) or "nothing"
        raise InputError(f"{root}: expected exactly one {what} ({' or '.join(patterns)}), found {len(found)} "
                         f"(the folder holds: {listed})")
    return found[0]


def _own_sessions(info: DatasetInfo, root: Path) -> DatasetInfo:
    parts = {}
    for part in ("train", "test_normal", "test_abnormal"):
        path = _one(root, (f"*_{part}", f"*_{part}.gz", f"*_{part}.txt"), f"*_{part} session file")
        parts[part] = path
    prefix = parts["train"].name[: -len("_train")] if parts["train"].name.endswith("_train") else _stem(parts["train"])
    templates = next((p.name for p in sorted(root.glob("*_templates.csv*"))), None)
    return dataclasses.replace(
        info, name=f"sessions:{prefix or root.name}", generic=False, templates=templates,
        layout=tuple((p.name,) for p in parts.values()),
    )


def _own_logs(info: DatasetInfo, root: Path) -> DatasetInfo:
    """`labelled-logs`: what the folder's dataset.toml says (unknown keys refused with the nearest)."""
    import tomllib

    from logad.errors import no_such_parameter

    toml = root / "dataset.toml"
    if not toml.is_file():
        raise InputError(f"{root} has no dataset.toml; a labelled-logs folder describes its logs there, with keys: "
                         + "; ".join(f"{k}: {v}" for k, v in DATASET_TOML_KEYS.items()))
    try:
        spec = tomllib.loads(toml.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{toml} is not valid TOML: {exc}") from exc
    bad = [k for k in spec if k not in DATASET_TOML_KEYS]
    if bad:
        raise no_such_parameter(str(toml), bad, list(DATASET_TOML_KEYS))
    if not isinstance(spec.get("format"), str):
        raise InvalidParameterError(f"{toml}: `format` is required (a format name or a format string)")
    logs = spec.get("logs", ["*.log", "*.log.gz"])
    logs = [logs] if isinstance(logs, str) else list(logs)
    labels = spec.get("labels")
    session_regex, from_path = spec.get("session_regex"), spec.get("session_from_path")
    kind = spec.get("group") or ("session" if session_regex or from_path else "file")
    grouping = {"kind": kind}
    for key, field in (("window_size", "size"), ("window_step", "step"), ("entity_field", "entity_field")):
        if key in spec:
            grouping[field] = spec[key]
    if kind == "session":
        grouping.update(session_regex=session_regex, **({"session_from_path": from_path} if from_path else {}))
    layout = ((labels,),) if labels else ()
    return dataclasses.replace(
        info, name=str(spec.get("name") or root.name), format=spec["format"], generic=False,
        log_glob=tuple(logs), grouping=grouping, layout=layout, labels="block_csv" if labels else "none",
        session_regex=session_regex,
    )


def check_layout(info: DatasetInfo, data_dir: str | Path) -> dict[str, Path]:
    """Resolve every required file of the layout; one clear error naming what is missing."""
    root = Path(data_dir)
    if not root.exists():
        raise InputError(f"data dir {root} is missing")
    if root.is_file() and len(info.layout) == 1 and Path(info.layout[0][0]) == root:  # the one file itself
        return {info.layout[0][0]: root}
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


def session_file_names(info: DatasetInfo) -> dict[str, str]:
    """{part: file name} of a sessions dataset's layout: train, test_normal, test_abnormal."""
    return {_session_part(entry[0]): entry[0] for entry in info.layout if _session_part(entry[0])}


def _session_part(name: str) -> str | None:
    for part in ("test_abnormal", "test_normal", "train"):  # longest first: *_test_normal is no *_train
        if name.split(".")[0].endswith(f"_{part}"):
            return part
    return None


def load_session_dataset(info: DatasetInfo, data_dir: str | Path) -> dict[str, list[tuple[str, list[int]]]]:
    """The three DeepLog-style files of a sessions dataset: train, test_normal, test_abnormal."""
    from logad.formats.labels import read_session_file

    files = check_layout(info, data_dir)
    parts = {}
    for rel, path in files.items():
        parts[_session_part(rel)] = list(read_session_file(path))  # hdfs_test_normal -> test_normal
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
    globs = (info.log_glob,) if isinstance(info.log_glob, str) else info.log_glob
    paths = sorted({p for g in globs for p in root.glob(g)
                    if p.is_file() and not p.name.endswith((".part", ".verified", ".unverified"))})
    if not paths:
        raise InputError(f"data dir {root} has no log file matching {info.log_glob!r} (the layout of {info.name!r})")
    return paths


def labels_for(info: DatasetInfo, data_dir: str | Path) -> dict[str, int] | None:
    """Session labels of a raw dataset ({session id: 0|1}); None when labels are per line."""
    files = check_layout(info, data_dir)
    if info.labels == "block_csv":
        from logad.formats.labels import read_block_labels

        labels_file = files[info.layout[1][0]] if len(info.layout) > 1 else files[info.layout[0][0]]
        return read_block_labels(labels_file)
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
