"""Sequences of a registered dataset from its local copy, and the split a user asks for."""

from __future__ import annotations

from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.pipeline.logs import LoadedLogs, default_grouping, load_logs
from logad.progress import SILENT, Progress
from logad.records import Sequence
from logad.splitting import Split, chronological_split, session_files_split
from logad.windowing.grouping import Grouping


def load_dataset(
    name,
    data_dir: str | Path,
    *,
    grouping: Grouping | None = None,
    progress: Progress = SILENT,
    with_values: bool = False,
) -> LoadedLogs:
    """Sequences of a dataset (a registered name or DatasetInfo, or one of the layouts for a user's
    own data: `sessions`, `labelled-logs`, `text-windows`) from a local folder in its layout."""
    from logad.datasets.local import (
        check_layout,
        labels_for,
        load_session_dataset,
        raw_log_paths,
        resolve_local,
        session_file_names,
        templates_for,
    )
    from logad.datasets.registry import DatasetInfo, get_dataset

    info = resolve_local(name if isinstance(name, DatasetInfo) else get_dataset(name), data_dir)
    name = info.name
    check_layout(info, data_dir)
    if info.kind == "text-windows":
        from logad.pipeline.text_windows import read_text_windows

        return read_text_windows(info, Path(data_dir), progress).as_loaded()
    if info.kind == "sessions":
        parts = load_session_dataset(info, data_dir)
        files = session_file_names(info)

        def to_seqs(part: str, label: int) -> list[Sequence]:
            origin = (files[part],)  # the file a session came from: its side of the dataset's own split
            return [
                Sequence(sequence_id=sid, template_ids=tuple(keys), label=label, sources=origin)
                for sid, keys in parts[part]
            ]

        train = to_seqs("train", 0)
        test_normal = to_seqs("test_normal", 0)
        test_abnormal = to_seqs("test_abnormal", 1)
        split = session_files_split(train, test_normal, test_abnormal)
        progress.stage(
            f"{name}: {len(train)} training, {len(test_normal)} normal and {len(test_abnormal)} "
            "abnormal test sessions"
        )
        return LoadedLogs(
            sequences=train + test_normal + test_abnormal,
            source=str(data_dir),
            grouping={"kind": "session", "from": "session files"},
            split=split,
            templates=templates_for(info, data_dir),
        )
    if info.kind != "raw":
        raise InputError(f"dataset {name!r} is a {info.kind} dataset (parsing ground truth), not a detection dataset; "
                         "detection datasets: `logad data list`")
    paths = raw_log_paths(info, data_dir)
    labels = labels_for(info, data_dir)
    if grouping is None:
        grouping = Grouping.from_dict(info.grouping) if info.grouping else default_grouping(info.format, info.session_regex)
    return load_logs(paths, format=info.format, grouping=grouping, labels=labels, progress=progress,
                     with_values=with_values)


def make_split(
    loaded: LoadedLogs,
    protocol: str = "chronological",
    ratios: tuple[float, float, float] = (0.6, 0.1, 0.3),
) -> Split:
    """The split the user asked for. Sequences with an unknown label are left out of scoring."""
    if protocol in ("default", "auto"):
        protocol = "session-files" if loaded.split is not None else "chronological"
    if protocol == "session-files":
        if loaded.split is None:
            raise InvalidParameterError("protocol 'session-files' needs a dataset of DeepLog-style session files")
        return loaded.split
    if protocol == "chronological":
        if loaded.split is not None:
            raise InvalidParameterError(
                "session files carry no time; use --split session-files (the default for this dataset)"
            )
        labelled = [s for s in loaded.sequences if s.label is not None]
        return chronological_split(labelled, *ratios)
    from logad.errors import unknown_name
    from logad.splitting import PROTOCOLS
    from logad.splitting.original import ORIGINAL_SPLITS, original_split

    if protocol in ORIGINAL_SPLITS:
        labelled = [s for s in loaded.sequences if s.label is not None]
        return original_split(protocol, labelled)
    raise unknown_name("split protocol", protocol, list(PROTOCOLS) + list(ORIGINAL_SPLITS))
