"""What every command shares: reading --param and --params-file, the data-source and grouping
arguments, loading the data they name, writing JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from logad.errors import InvalidParameterError


def parse_params(pairs: list[str] | None) -> dict:
    """`--param k=v` pairs -> kwargs, values read as JSON when they parse (numbers, true, null)."""
    out: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InvalidParameterError(f"--param must look like name=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def params_file(args, default: str | None = None) -> tuple[str, dict]:
    """(detector, params) from --detector and --params-file (a `logad tune` best.json or a JSON
    object of parameters); explicit --param values override the file's."""
    from logad.tuning.tuner import load_params_file, resolve_detector

    file_detector, params = (None, {})
    if getattr(args, "params_file", None):
        file_detector, params = load_params_file(args.params_file)
    return resolve_detector(args.detector, file_detector, default), params


def detector_params(args, file_params: dict | None = None) -> dict:
    """A detector's parameters: the --params-file's, then the --config file's, then --param flags."""
    return {**(file_params or {}), **getattr(args, "config_params", {}), **parse_params(getattr(args, "param", None))}


def describe_threshold(info: dict) -> str:
    """How a threshold was made, in a few words: `train-quantile q=0.999 of 12 held-out normal sequences`."""
    text = str(info.get("policy", "?"))
    if "q" in info:
        text += f" q={info['q']}"
    if "fixed_value" in info:
        text += f" = {info['fixed_value']}"
    if info.get("n_scores") is not None and "fixed_value" not in info:
        text += f" of {info['n_scores']} {info.get('scores_from', 'scores')}"
    return text


def grouping_from_args(args, format_name: str):
    from logad.pipeline import Grouping, default_grouping

    from_path = getattr(args, "session_from_path", None)
    timeout = getattr(args, "session_timeout", None)
    kind = getattr(args, "group", None) or ("session" if from_path else None)
    if kind is None:
        g = default_grouping(format_name, getattr(args, "session_regex", None))
        if getattr(args, "window_size", None) is not None:
            g.size = args.window_size
        if getattr(args, "window_step", None) is not None:
            g.step = args.window_step
        if timeout is not None:
            g.timeout = timeout
        return g.validated()
    if from_path and kind != "session":
        raise InvalidParameterError(f"--session-from-path makes sessions; it cannot go with --group {kind}")
    text_regex = args.session_regex or (r"(blk_-?\d+)" if kind == "session" and not from_path else None)
    return Grouping(
        kind=kind,
        size=args.window_size if args.window_size is not None else (100 if kind == "count" else None),
        step=args.window_step,
        session_regex=text_regex,
        entity_field=args.entity_field,
        timeout=timeout,
        session_from_path=from_path,
    ).validated()


def add_grouping_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("grouping lines into sequences")
    g.add_argument("--group", choices=["session", "entity", "count", "time", "file"],
                   help="default: by the format; file = one sequence per input file (container, worker, process logs)")
    g.add_argument("--window-size", type=float,
                   help="lines (count/entity/file windows) or seconds (time); default: whole entity or file")
    g.add_argument("--window-step", type=float, help="step; default = size (no overlap)")
    g.add_argument("--session-regex", help=r"session id regex on the line, e.g. '(blk_-?\d+)'")
    g.add_argument("--session-from-path", metavar="REGEX",
                   help=r"the session id is in the file's path: its first group, e.g. '(application_\d+_\d+)'")
    g.add_argument("--session-timeout", type=float, metavar="SECONDS",
                   help="a session closes after this much log time without a line (a later line starts a new one)")
    g.add_argument("--entity-field", help="header field naming the entity, e.g. Node")


def add_source_args(p: argparse.ArgumentParser) -> None:
    s = p.add_argument_group("data source (a dataset, or your own files)")
    s.add_argument("--dataset", help="registered dataset name (see `logad data list`)")
    s.add_argument("--data-dir", help="local folder in the layout of the dataset's download")
    s.add_argument("--logs", nargs="+", metavar="FILE", help="raw log files (plain or gzip)")
    s.add_argument("--format", help="format name (see `logad formats`) or a format string")
    s.add_argument("--labels", help="session labels CSV (id,Normal|Anomaly), e.g. HDFS anomaly_label.csv")
    s.add_argument("--input-data", nargs="+", metavar="CSV", help="LogPAI structured CSVs (EventId per line)")
    s.add_argument("--multiline", metavar="RULE",
                   help="continuation lines (stack traces) joined to the record before them: any (every line not "
                        "matching the format), none, or a regex of such lines; default: the format's (any for "
                        "hadoop, spark, zookeeper; none otherwise)")


def wants_values(detector_name: str, params: dict) -> bool:
    """Whether the detector, with these parameters, reads per-line values (parameter models)."""
    from logad.detectors.registry import get_detector

    return get_detector(detector_name, **params).needs_line_values()


def load_source(args, progress, with_values: bool = False):
    from logad.pipeline import load_dataset, load_logs, load_structured

    if getattr(args, "input_data", None):
        grouping = grouping_from_args(args, "structured")
        return load_structured(args.input_data, grouping=grouping, progress=progress), files_name(args.input_data)

    if args.dataset:
        if not args.data_dir:
            raise InvalidParameterError(
                f"--dataset {args.dataset} needs --data-dir DIR (a local copy; `logad data fetch {args.dataset}` downloads it)"
            )
        from logad.datasets.registry import get_dataset

        info = get_dataset(args.dataset)
        custom = args.group or args.window_size or args.session_from_path or args.session_timeout
        grouping = grouping_from_args(args, info.format) if custom else None
        loaded = load_dataset(args.dataset, args.data_dir, grouping=grouping, progress=progress, with_values=with_values)
        return loaded, args.dataset
    if args.logs:
        if not args.format:
            raise InvalidParameterError("--logs needs --format NAME or a format string")
        from logad.formats.labels import read_block_labels
        from logad.formats.registry import get_format

        fmt = get_format(args.format)
        labels = read_block_labels(args.labels) if args.labels else None
        loaded = load_logs(
            args.logs, format=args.format, grouping=grouping_from_args(args, fmt.name), labels=labels, progress=progress,
            with_values=with_values, multiline=args.multiline,
        )
        return loaded, files_name(args.logs)
    raise InvalidParameterError("give --dataset NAME --data-dir DIR, or --logs FILE... --format NAME")


def files_name(paths: list[str]) -> str:
    """A short name for the inputs of a run: `a.log`, or `a.log and 11 more files`."""
    first = Path(paths[0]).name
    return first if len(paths) == 1 else f"{first} and {len(paths) - 1} more files"


def fmt_metric(v) -> str:
    return "-" if v is None else f"{v:.4f}"
