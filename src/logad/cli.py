"""The `logad` command line. Thin: parses arguments, calls the library, prints.

Every error logad raises on purpose is printed as one line `logad: error: ...` with exit code 2;
no traceback unless --debug.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from logad.errors import InvalidParameterError, LogadError

EXIT_ERROR = 2


# ----------------------------------------------------------------------------- helpers


def _parse_params(pairs: list[str] | None) -> dict:
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


def _params_file(args, default: str | None = None) -> tuple[str, dict]:
    """(detector, params) from --detector and --params-file (a `logad tune` best.json or a JSON
    object of parameters); explicit --param values override the file's."""
    from logad.tuning.tuner import load_params_file, resolve_detector

    file_detector, params = (None, {})
    if getattr(args, "params_file", None):
        file_detector, params = load_params_file(args.params_file)
    return resolve_detector(args.detector, file_detector, default), params


def _grouping_from_args(args, format_name: str):
    from logad.pipeline import Grouping, default_grouping

    if getattr(args, "group", None) is None:
        g = default_grouping(format_name, getattr(args, "session_regex", None))
        if getattr(args, "window_size", None) is not None:
            g.size = args.window_size
        if getattr(args, "window_step", None) is not None:
            g.step = args.window_step
        return g
    return Grouping(
        kind=args.group,
        size=args.window_size if args.window_size is not None else (100 if args.group in ("count",) else None),
        step=args.window_step,
        session_regex=args.session_regex or (r"(blk_-?\d+)" if args.group == "session" else None),
        entity_field=args.entity_field,
    )


def _add_grouping_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("grouping lines into sequences")
    g.add_argument("--group", choices=["session", "entity", "count", "time"], help="default: by the format")
    g.add_argument("--window-size", type=float, help="lines (count/entity) or seconds (time)")
    g.add_argument("--window-step", type=float, help="step; default = size (no overlap)")
    g.add_argument("--session-regex", help=r"session id regex, e.g. '(blk_-?\d+)'")
    g.add_argument("--entity-field", help="header field naming the entity, e.g. Node")


def _add_source_args(p: argparse.ArgumentParser) -> None:
    s = p.add_argument_group("data source (a dataset, or your own files)")
    s.add_argument("--dataset", help="registered dataset name (see `logad data list`)")
    s.add_argument("--data-dir", help="local folder in the layout of the dataset's download")
    s.add_argument("--logs", nargs="+", metavar="FILE", help="raw log files (plain or gzip)")
    s.add_argument("--format", help="format name (see `logad formats`) or a format string")
    s.add_argument("--labels", help="session labels CSV (id,Normal|Anomaly), e.g. HDFS anomaly_label.csv")
    s.add_argument("--input-data", nargs="+", metavar="CSV", help="LogPAI structured CSVs (EventId per line)")


def _wants_values(detector_name: str, params: dict) -> bool:
    """Whether the detector, with these parameters, reads per-line values (parameter models)."""
    from logad.detectors.registry import get_detector

    return bool(getattr(get_detector(detector_name, **params), "uses_line_values", False))


def _load_source(args, progress, with_values: bool = False):
    from logad.pipeline import load_dataset, load_logs, load_structured

    if getattr(args, "input_data", None):
        grouping = _grouping_from_args(args, "structured")
        return load_structured(args.input_data, grouping=grouping, progress=progress), Path(args.input_data[0]).name

    if args.dataset:
        if not args.data_dir:
            raise InvalidParameterError(
                f"--dataset {args.dataset} needs --data-dir DIR (a local copy; `logad data fetch {args.dataset}` downloads it)"
            )
        from logad.datasets.registry import get_dataset

        info = get_dataset(args.dataset)
        grouping = _grouping_from_args(args, info.format) if (args.group or args.window_size) else None
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
            args.logs, format=args.format, grouping=_grouping_from_args(args, fmt.name), labels=labels, progress=progress,
            with_values=with_values,
        )
        return loaded, Path(args.logs[0]).name
    raise InvalidParameterError("give --dataset NAME --data-dir DIR, or --logs FILE... --format NAME")


def _write_json(path: str, payload: dict) -> None:
    from logad.io import atomic_write_text

    atomic_write_text(path, json.dumps(payload, indent=2, default=_json_default) + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ----------------------------------------------------------------------------- commands


def cmd_demo(args) -> int:
    from logad.demo.run import run_demo

    return run_demo(scale=args.scale, seed=args.seed, out_dir=args.out, quiet=args.quiet)


def cmd_formats(args) -> int:
    from logad.formats.registry import get_format, list_formats

    for name in list_formats():
        print(f"{name:12s} {get_format(name).header}")
    return 0


def cmd_parse(args) -> int:
    import array
    import csv
    import itertools
    import tempfile

    from logad.errors import InvalidParameterError
    from logad.formats.reader import ReadReport, read_records
    from logad.formats.registry import get_format
    from logad.io import atomic_writer
    from logad.parsing.presets import parser_for
    from logad.parsing.skeleton import SkeletonParser
    from logad.parsing.state import load_parser

    if args.workers < 1:
        raise InvalidParameterError(f"`--workers` must be >= 1, got {args.workers}")
    fmt = get_format(args.format)
    if args.state and Path(args.state).exists():
        parser = load_parser(args.state)
    else:
        parser = parser_for(fmt.name, args.mode)
    batch = isinstance(parser, SkeletonParser) and not args.match_only
    if (args.workers > 1 or args.engine == "ray") and not batch:
        raise InvalidParameterError("`--workers` and `--engine ray` need the default parser mode and learning "
                                    f"(got mode {type(parser).__name__}, match_only={args.match_only})")
    n_before = len(parser.templates)
    reports = []

    def records(keep_reports: bool = True):
        for path in args.files:
            report = ReadReport(path=str(path))
            if keep_reports:
                reports.append(report)
            for rec in read_records(path, fmt, report=report):
                yield path, rec

    with atomic_writer(args.out) as fh, tempfile.TemporaryFile() as id_file:
        w = csv.writer(fh)
        w.writerow(["file", "line_no", "template_id", "template", "parameters"])
        if batch:
            # two passes, so every row carries the FINAL id of its line (a template learnt late can
            # merge an earlier one; rows written before would carry the absorbed id). Pass 1 learns
            # blocks of lines (keys in bulk, in worker processes or Ray tasks, placed in order) and
            # spools the ids to a temporary file (memory stays bounded); pass 2 reads the files
            # again and writes each line with its resolved id, final template and parameters.
            it = records()
            while True:
                block = [rec.content for _, rec in itertools.islice(it, 200_000)]
                if not block:
                    break
                if args.engine == "ray":
                    from logad.parsing.distributed import add_many_ray

                    ids = add_many_ray(parser, block, address=args.address, num_cpus=args.workers)
                else:
                    ids = parser.add_many(block, workers=args.workers)
                array.array("q", ids).tofile(id_file)
            id_file.seek(0)
            it = records(keep_reports=False)
            final: dict[int, int] = {}
            while True:
                block = list(itertools.islice(it, 200_000))
                if not block:
                    break
                ids = array.array("q")
                ids.fromfile(id_file, len(block))
                for (path, rec), tid in zip(block, ids):
                    r = final.get(tid)
                    if r is None:
                        r = final[tid] = parser.resolve(tid)
                    params = parser.parameters(rec.content, r)
                    w.writerow([path, rec.line_no, r, parser.templates_text(r), " ".join(params)])
        else:
            for path, rec in records():
                parsed = parser.match(rec.content, rec.line_no) if args.match_only else parser.add(rec.content, rec.line_no)
                if parsed is None:
                    w.writerow([path, rec.line_no, 0, "", ""])
                else:
                    params = parser.parameters(rec.content, parsed.template_id)
                    w.writerow([path, rec.line_no, parsed.template_id, parsed.template, " ".join(params)])
    # templates may generalise after a line was written: write the final table beside the rows
    templates_path = Path(args.out).with_suffix(".templates.csv")
    with atomic_writer(templates_path) as fh:
        w = csv.writer(fh)
        w.writerow(["template_id", "template", "alias_of"])
        for tid, tpl in sorted(parser.templates.items()):
            alias = parser.resolve(tid) if isinstance(parser, SkeletonParser) else tid
            w.writerow([tid, tpl, alias if alias != tid else ""])
    if args.state and not args.match_only:
        parser.save(args.state)
    for r in reports:
        print(r.summary(), file=sys.stderr)
    stats = getattr(parser, "stats", None)
    if stats and (stats.get("empty") or stats.get("oversized")):
        print(f"parser: {stats['empty']} lines without tokens, {stats['oversized']} cut to "
              f"{parser.max_line_chars} characters (all parsed)", file=sys.stderr)
    if isinstance(parser, SkeletonParser):
        kinds = [c.value for c in parser.changes().values()]
        print(f"templates: {kinds.count('created')} new, {kinds.count('updated')} generalised, "
              f"{kinds.count('merged')} merged into another (their ids stay valid)", file=sys.stderr)
    print(
        f"parsed {sum(r.records for r in reports)} lines into {len(parser.templates)} templates "
        f"({len(parser.templates) - n_before} new) -> {args.out}, {templates_path}",
        file=sys.stderr,
    )
    return 0


def cmd_data(args) -> int:
    from logad.datasets.registry import get_dataset, list_datasets

    if args.data_cmd == "list":
        for name in list_datasets():
            info = get_dataset(name)
            print(f"{name:28s} {info.kind:9s} {info.description}")
        return 0
    if args.data_cmd == "info":
        info = get_dataset(args.name)
        print(json.dumps(info.as_dict() if hasattr(info, "as_dict") else _dataclass_dict(info), indent=2, default=str))
        return 0
    if args.data_cmd == "fetch":
        from logad.datasets.fetch import fetch

        dest = Path(args.dest or Path.home() / ".cache" / "logad" / args.name)
        path = fetch(args.name, dest, allow_unverified=args.allow_unverified, base_url_override=args.base_url)
        print(f"{args.name}: ready in {path}")
        return 0
    raise InvalidParameterError(f"unknown data command {args.data_cmd!r}")


def _dataclass_dict(obj) -> dict:
    import dataclasses

    return dataclasses.asdict(obj)


def cmd_evaluate(args) -> int:
    from logad.detectors.registry import get_detector
    from logad.evaluation.runner import evaluate_detector, write_predictions
    from logad.pipeline import make_split
    from logad.progress import Progress
    from logad.splitting.audit import format_audit

    progress = Progress(enabled=not args.quiet)
    args.detector, file_params = _params_file(args)
    params = {**file_params, **_parse_params(args.param)}
    split_name = args.split
    if args.protocol == "original":
        from logad.detectors.registry import detector_class

        cls = detector_class(args.detector)
        # the paper's own settings and decision rule, then the caller's explicit parameters
        params = {**getattr(cls, "ORIGINAL_PARAMS", {}), **params}
        if split_name == "auto" and getattr(cls, "ORIGINAL_SPLIT", None):
            split_name = cls.ORIGINAL_SPLIT  # the paper's own data split
    loaded, name = _load_source(args, progress, with_values=_wants_values(args.detector, params))
    split = make_split(loaded, split_name, tuple(args.ratios))
    detector = get_detector(args.detector, **params)
    ev = evaluate_detector(
        detector, split, policy=args.threshold_policy, protocol=args.protocol, progress=progress,
        templates=loaded.templates,
    )
    ev.result["dataset"] = name
    ev.result["data"] = loaded.summary()
    if args.params_file:
        ev.result["params_file"] = str(args.params_file)
    m = ev.result["metrics"]
    print(format_audit(ev.result["audit"]))
    for note in (ev.result["threshold"].get("warning"), ev.result.get("test_selection")):
        if note:  # the original protocols that read test labels say so
            print(f"NOTE: {note}")
    print(
        f"{name} {args.detector}: F1 {m['f1']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  "
        f"FPR {m['fpr']:.5f}  ROC-AUC {_fmt(m.get('roc_auc'))}  threshold {ev.result['threshold']['value']:.6g} "
        f"({ev.result['threshold'].get('policy')})"
    )
    if args.json:
        _write_json(args.json, ev.result)
    if args.predictions:
        write_predictions(args.predictions, ev)
    return 0


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def cmd_bench(args) -> int:
    from logad.detectors.registry import get_detector
    from logad.evaluation.runner import RESULT_COLUMNS, evaluate_detector, markdown_table, result_row
    from logad.pipeline import load_dataset, make_split
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    rows = []
    results = []
    for spec in args.datasets:
        name, _, data_dir = spec.partition("=")
        if not data_dir:
            raise InvalidParameterError(f"--datasets entries look like NAME=DIR, got {spec!r}")
        loaded = load_dataset(name, data_dir, progress=progress)
        split = make_split(loaded, "auto")
        for det_name in args.detectors.split(","):
            ev = evaluate_detector(get_detector(det_name.strip()), split, progress=progress, templates=loaded.templates)
            rows.append(result_row(name, ev))
            results.append({"dataset": name, **ev.result})
    table = markdown_table(rows, RESULT_COLUMNS)
    print(table)
    if args.out:
        from logad.io import atomic_write_text

        atomic_write_text(args.out, table + "\n")
    if args.json:
        _write_json(args.json, {"results": results})
    return 0


def cmd_train(args) -> int:
    from logad.model import train_model
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    args.detector, file_params = _params_file(args, default="knn")
    loaded, name = _load_source(
        args, progress, with_values=_wants_values(args.detector, {**file_params, **_parse_params(args.param)})
    )
    model = train_model(
        loaded,
        detector=args.detector,
        params={**file_params, **_parse_params(args.param)},
        quantile=args.quantile,
        format_name="structured" if args.input_data else (args.format or _dataset_format(args.dataset)),
        progress=progress,
    )
    model.save(args.save)
    print(f"trained {args.detector} on {name}: threshold {model.threshold:.6g}; saved to {args.save}")
    return 0


def _dataset_format(name: str | None) -> str:
    from logad.datasets.registry import get_dataset

    return get_dataset(name).format if name else ""


def cmd_tune(args) -> int:
    from logad.pipeline import make_split
    from logad.progress import Progress
    from logad.tuning.objective import objective_mode
    from logad.tuning.search import SearchSettings
    from logad.tuning.space import check_space, parse_space
    from logad.tuning.tuner import default_max_t, retrain_best, tune_detector

    progress = Progress(enabled=not args.quiet)
    objective_mode(args.objective)  # an unknown objective fails before any data is read
    space = parse_space(args.space)
    fixed = _parse_params(args.param)
    check_space(args.detector, space, fixed)  # bad names and values fail before any data is read
    num_samples = args.num_samples
    if num_samples is None:
        num_samples = 1 if all(d.kind == "grid" for d in space.values()) else 8
    settings = SearchSettings(
        num_samples=num_samples,
        scheduler=args.scheduler,
        max_t=args.max_t if args.max_t is not None else default_max_t(args.detector, fixed, space),
        grace_period=args.grace_period,
        reduction_factor=args.reduction_factor,
        cpus=args.cpus,
        cpus_per_trial=args.cpus_per_trial,
        address=args.address,
        seed=args.seed,
        verbose=args.verbose,
    )
    settings.validate()
    loaded, name = _load_source(args, progress)
    split = make_split(loaded, args.split, tuple(args.ratios))
    description = {"command": ["logad", *args.argv], "dataset": name, "data": loaded.summary()}
    result = tune_detector(
        split, args.detector, space, objective=args.objective, fixed=fixed, settings=settings,
        templates=loaded.templates, out=args.out, description=description, progress=progress,
    )
    s = result.search
    print(_trials_table(s, list(space)))
    best = s.best
    print(
        f"{len(s.trials)} trials in {s.seconds:.1f}s, {s.stopped_early} stopped early by {settings.scheduler}; "
        f"best (trial {best.index}, {best.status}): {args.objective} {best.objective:.4f} on validation with "
        + ", ".join(f"{k}={v!r}" for k, v in result.best_config.items())
    )
    print(f"wrote {args.out}/trials.json, {args.out}/best.json and Ray's experiment folder {s.experiment_path}")
    if not args.retrain:
        print(f"retrain and evaluate on test: logad evaluate ... --params-file {args.out}/best.json")
        return 0
    ev = retrain_best(result, split, templates=loaded.templates, progress=progress)
    m = ev.result["metrics"]
    print(f"NOTE: {ev.result['tuning']['note']}")
    print(
        f"{name} {args.detector} (best config) on test: F1 {m['f1']:.4f}  precision {m['precision']:.4f}  "
        f"recall {m['recall']:.4f}  ROC-AUC {_fmt(m.get('roc_auc'))}  threshold {ev.result['threshold']['value']:.6g} "
        f"({ev.result['threshold'].get('policy')}) -> {args.out}/retrain.json"
    )
    return 0


def _trials_table(search, names: list[str]) -> str:
    from logad.evaluation.runner import markdown_table

    rows = []
    for t in search.trials:
        row = {"trial": str(t.index), "status": t.status, "objective": t.objective, "reports": str(t.reports),
               "seconds": t.seconds}
        row.update({n: _short(t.config.get(n)) for n in names})
        if t.error:
            row["status"] = f"error: {t.error[:60]}"
        rows.append(row)
    columns = [("trial", "trial"), *[(n, n) for n in names], ("objective", "objective"), ("reports", "reports"),
               ("seconds", "s"), ("status", "status")]
    return markdown_table(rows, columns)


def _short(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return v if v is None else str(v)


def cmd_transfer(args) -> int:
    import time

    from logad.detectors.crosssystem.data import load_system
    from logad.detectors.crosssystem.transfer import ENTRY_LEVEL, make_setup, method_runner
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    run = method_runner(args.method)  # an unknown method fails before any data is read
    if args.target_labels is None or not args.target_labels > 0:
        raise InvalidParameterError(f"--target-labels must be > 0 (a fraction < 1 or a count >= 1), got {args.target_labels!r}")
    entries = args.method in ENTRY_LEVEL
    if args.target_normal_labels is not None and entries:
        raise InvalidParameterError(
            f"--target-normal-labels applies to sequence-level methods; {args.method!r} labels entries "
            "(give their number with --target-labels)"
        )
    specs = [spec for group in args.source for spec in group]
    how = dict(window=args.window, step=args.step, entries=entries, per_entity=args.per_node, progress=progress)
    sources = [load_system(spec, **how) for spec in specs]
    target = load_system(args.target, **how)
    setup = make_setup(sources, target, args.target_labels, ratios=tuple(args.ratios), seed=args.seed,
                       protocol=args.protocol, normal_amount=args.target_normal_labels)
    params = _parse_params(args.param)
    t0 = time.perf_counter()
    result = run(setup, params, progress)
    seconds = time.perf_counter() - t0
    out = {
        "method": args.method,
        "protocol": args.protocol,
        "params": params,
        "setup": setup.describe(),
        **result,
        "seconds": round(seconds, 3),
    }
    rows = [(args.method, result)] + list(result.get("baselines", {}).items())
    print(f"{args.method}: {' + '.join(s.name for s in sources)} -> {target.name}, "
          f"{int(setup.labelled.sum())} labelled target sequences ({args.protocol} protocol)")
    print(f"{'model':<22} {'F1':>6} {'precision':>9} {'recall':>7} {'FPR':>6}")
    for name, r in rows:
        m = r["metrics"]
        fpr = m.get("fpr")
        print(f"{name:<22} {m['f1']:>6.3f} {m['precision']:>9.3f} {m['recall']:>7.3f} "
              f"{'' if fpr is None else format(fpr, '.3f'):>6}")
    policy = (result.get("threshold") or {}).get("policy")
    if policy == "oracle-on-test":
        print("NOTE: the method's figure used a rule tuned on the test labels (oracle-on-test), as its paper did")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, default=_json_default) + "\n")
        print(f"wrote {args.json}")
    return 0


def cmd_detect(args) -> int:
    from logad.model import TrainedModel
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    model = TrainedModel.load(args.model)
    files = list(args.files or []) + list(args.input_data or [])
    out = args.out or args.output
    if not files:
        raise InvalidParameterError("give log files to scan, or --input-data STRUCTURED.csv")
    if not out:
        raise InvalidParameterError("give --out (or --output) for the results CSV")
    if bool(args.input_data) != model.structured:
        kind = "structured CSVs (--input-data)" if model.structured else "raw log files"
        raise InvalidParameterError(f"this model was trained on {kind}; give the same kind of input")
    summary = model.detect(files, out, progress=progress)
    print(
        f"{summary['sequences']} sequences, {summary['alarms']} alarms -> {out}"
        f" ({summary['unknown_template_lines']} lines with a template unseen in training)"
    )
    return 0


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from logad import __version__

    p = argparse.ArgumentParser(prog="logad", description="Log anomaly detection from raw logs to honest results.")
    p.add_argument("--version", action="version", version=f"logad {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="simulate a small system and a cluster, detect injected failures (no download)")
    d.add_argument("--scale", type=float, default=1.0, help="size of the simulated logs (default 1.0)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", help="keep the simulated logs and results in this folder")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    f = sub.add_parser("formats", help="list the known log formats")
    f.set_defaults(func=cmd_formats)

    pa = sub.add_parser("parse", help="parse raw log lines into templates")
    pa.add_argument("files", nargs="+", metavar="FILE")
    pa.add_argument("--format", required=True, help="format name or format string with <Content>")
    pa.add_argument("--state", help="parser state JSON: loaded if it exists, saved after parsing")
    pa.add_argument("--match-only", action="store_true", help="never learn: unmatched lines get template id 0")
    pa.add_argument("--mode", choices=["default", "drain"], default="default",
                    help="parser for a new state: default (accurate, streaming) or drain (Drain's exact grouping)")
    pa.add_argument("--workers", type=int, default=1, help="processes computing keys (same ids as 1; default 1)")
    pa.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="ray: compute keys as Ray tasks (pip install 'logad[distributed]')")
    pa.add_argument("--address", help="Ray cluster address (default: start a local Ray with --workers CPUs)")
    pa.add_argument("--out", required=True, help="output CSV: file,line_no,template_id,template,parameters")
    pa.set_defaults(func=cmd_parse)

    da = sub.add_parser("data", help="public datasets: list, info, fetch")
    dsub = da.add_subparsers(dest="data_cmd", required=True, metavar="ACTION")
    dsub.add_parser("list", help="list registered datasets")
    di = dsub.add_parser("info", help="show a dataset's sources, checksums and layout")
    di.add_argument("name")
    dfe = dsub.add_parser("fetch", help="download, verify and unpack a dataset")
    dfe.add_argument("name")
    dfe.add_argument("--dest", help="target folder (default ~/.cache/logad/NAME)")
    dfe.add_argument("--allow-unverified", action="store_true", help="accept files without a published checksum")
    dfe.add_argument("--base-url", help=argparse.SUPPRESS)  # mirrors and tests
    da.set_defaults(func=cmd_data)

    ev = sub.add_parser("evaluate", help="train and evaluate one detector with an honest split")
    _add_source_args(ev)
    _add_grouping_args(ev)
    ev.add_argument("--detector", help="detector name (required unless --params-file names one)")
    ev.add_argument("--param", action="append", metavar="NAME=VALUE", help="detector parameter (repeatable)")
    ev.add_argument("--params-file", metavar="JSON", help="parameters from `logad tune`'s best.json (--param overrides)")
    ev.add_argument("--split", default="auto", help="chronological | session-files (default: by dataset)")
    ev.add_argument("--ratios", type=float, nargs=3, default=[0.6, 0.1, 0.3], metavar=("TRAIN", "VAL", "TEST"))
    ev.add_argument("--threshold-policy", help="best-f1-validation (default) | train-quantile | fixed")
    ev.add_argument(
        "--protocol",
        choices=["honest", "original"],
        default="honest",
        help="original = the paper's decision rule; where it tunes on test labels the result is marked oracle-on-test",
    )
    ev.add_argument("--json", help="write the full result JSON here")
    ev.add_argument("--predictions", help="write sequence_id,score,predicted,label per test sequence")
    ev.add_argument("--quiet", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    be = sub.add_parser("bench", help="datasets x detectors matrix as a Markdown table")
    be.add_argument("--datasets", nargs="+", required=True, metavar="NAME=DIR")
    be.add_argument("--detectors", required=True, help="comma-separated detector names")
    be.add_argument("--out", help="write the Markdown table here")
    be.add_argument("--json", help="write all results here")
    be.add_argument("--quiet", action="store_true")
    be.set_defaults(func=cmd_bench)

    tr = sub.add_parser("train", help="learn normal behaviour from your logs and save a model")
    _add_source_args(tr)
    _add_grouping_args(tr)
    tr.add_argument("--detector", help="detector name (default: the --params-file's, else knn)")
    tr.add_argument("--param", action="append", metavar="NAME=VALUE")
    tr.add_argument("--params-file", metavar="JSON", help="parameters from `logad tune`'s best.json (--param overrides)")
    tr.add_argument("--quantile", type=float, default=0.999, help="threshold = this quantile of held-out normal scores")
    tr.add_argument("--save", required=True, metavar="DIR")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)

    tu = sub.add_parser(
        "tune",
        help="hyper-parameter search (Ray Tune + ASHA) with an objective on validation data only",
        description="Search a detector's parameters on Ray Tune. Trials fit on the training part and are scored "
        "on the validation part; the test part never reaches a trial. Runs on a local Ray, or on a cluster "
        "with --address. Writes trials.json, best.json and Ray's experiment folder under --out; retrain the "
        "best with `logad evaluate ... --params-file OUT/best.json`, or add --retrain.",
    )
    _add_source_args(tu)
    _add_grouping_args(tu)
    tu.add_argument("--detector", required=True)
    tu.add_argument(
        "--space", action="append", required=True, metavar="NAME=KIND:ARGS",
        help="searched parameter (repeatable): choice:A,B,C | grid:A,B,C | uniform:LO:HI | loguniform:LO:HI | "
        "randint:LO:HI | lograndint:LO:HI (integer ranges include both ends)",
    )
    tu.add_argument("--param", action="append", metavar="NAME=VALUE", help="fixed detector parameter (repeatable)")
    tu.add_argument("--objective", default="f1", help="f1 | roc-auc | pr-auc | val-loss (deep detectors); default f1")
    tu.add_argument("--num-samples", type=int, help="sampled configurations (x each grid point); default 8, 1 for a pure grid")
    tu.add_argument("--scheduler", choices=["asha", "none"], default="asha")
    tu.add_argument("--max-t", type=int, help="ASHA's top rung in epochs (default: the detector's epochs; 1 if it reports once)")
    tu.add_argument("--grace-period", type=int, default=1, help="epochs before ASHA may stop a trial (default 1)")
    tu.add_argument("--reduction-factor", type=float, default=3.0, help="ASHA keeps 1/this of trials per rung (default 3)")
    tu.add_argument("--cpus", type=int, help="CPUs of the local Ray (default: all cores)")
    tu.add_argument("--cpus-per-trial", type=float, default=1.0)
    tu.add_argument("--address", help="a Ray cluster to run on (ray.init(address=...)), e.g. auto or HOST:6379")
    tu.add_argument("--seed", type=int, default=0, help="seeds the searcher and every trial")
    tu.add_argument("--split", default="auto", help="chronological | session-files (default: by dataset)")
    tu.add_argument("--ratios", type=float, nargs=3, default=[0.6, 0.1, 0.3], metavar=("TRAIN", "VAL", "TEST"))
    tu.add_argument("--out", required=True, metavar="DIR", help="writes trials.json, best.json and ray/ here")
    tu.add_argument("--retrain", action="store_true", help="then fit the best on training and score the test part once")
    tu.add_argument("--verbose", action="store_true", help="show Ray Tune's own progress output")
    tu.add_argument("--quiet", action="store_true")
    tu.set_defaults(func=cmd_tune)

    tf = sub.add_parser(
        "transfer", help="cross-system experiment: learn from source systems, adapt to a target with few labels"
    )
    tf.add_argument("--method", required=True, help="metalog | mlad | crosyslog")
    tf.add_argument("--source", action="append", nargs="+", required=True, metavar="DATASET[=DIR]",
                    help="labelled source system(s) (repeatable); DIR defaults to the dataset's data folder")
    tf.add_argument("--target", required=True, metavar="DATASET[=DIR]")
    tf.add_argument("--target-labels", type=float, required=True, metavar="AMOUNT",
                    help="labels of the target's training part: a fraction (< 1) of each class, or a count (>= 1; "
                    "entry-level methods read it as a number of labelled entries)")
    tf.add_argument("--target-normal-labels", type=float, metavar="FRACTION",
                    help="label this fraction of the target's training NORMALS instead, --target-labels then "
                    "counting anomalies only (MetaLog's code labels 0.5 of the normals)")
    tf.add_argument("--protocol", choices=["honest", "original"], default="honest")
    tf.add_argument("--param", action="append", metavar="NAME=VALUE", help="method parameter (repeatable)")
    tf.add_argument("--window", type=int, help="count window of raw supercomputer logs (default 20)")
    tf.add_argument("--step", type=int, help="window step (default: the window)")
    tf.add_argument("--per-node", action="store_true",
                    help="windows over each node's own lines (the format's node field) instead of all lines")
    tf.add_argument("--ratios", type=float, nargs=3, default=[0.6, 0.1, 0.3], metavar=("TRAIN", "VAL", "TEST"))
    tf.add_argument("--seed", type=int, default=0)
    tf.add_argument("--json", metavar="OUT", help="write metrics, baselines and setup as JSON")
    tf.add_argument("--quiet", action="store_true")
    tf.set_defaults(func=cmd_transfer)

    de = sub.add_parser("detect", help="flag anomalous sequences in new logs with a saved model")
    de.add_argument("files", nargs="*", metavar="FILE")
    de.add_argument("--input-data", nargs="+", metavar="CSV", help="LogPAI structured CSVs instead of raw logs")
    de.add_argument("--model", required=True, metavar="DIR")
    de.add_argument("--out", help="results CSV: one row per sequence with score, alarm and explanation")
    de.add_argument("--output", help=argparse.SUPPRESS)  # the Morpheus inference script's name for --out
    de.add_argument("--quiet", action="store_true")
    de.set_defaults(func=cmd_detect)
    __import__("logad.detectors.crosssystem.mlad_cli", fromlist=["add_parser"]).add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded by `logad tune` in best.json
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="logad: %(message)s")
    try:
        return int(args.func(args) or 0)
    except LogadError as exc:
        if args.debug:
            raise
        print(f"logad: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, UnicodeError, ValueError, MemoryError) as exc:
        if args.debug:
            raise
        print(f"logad: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("logad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
