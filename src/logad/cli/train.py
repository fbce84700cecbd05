"""`logad train` (learn normal operation, save a model) and `logad detect` (flag new logs with it)."""

from __future__ import annotations

import argparse
import sys

from logad.cli.common import (
    add_grouping_args,
    add_source_args,
    describe_threshold,
    detector_params,
    load_source,
    params_file,
    wants_values,
)
from logad.cli.config import add_config_arg
from logad.cli.evaluate import add_budget_args, budget_policy
from logad.errors import InvalidParameterError


def add_parser(sub) -> None:
    tr = sub.add_parser("train", help="learn normal behaviour from your logs and save a model")
    add_source_args(tr)
    add_grouping_args(tr)
    tr.add_argument("--detector", help="detector name (default: the --params-file's, else knn)")
    tr.add_argument("--param", action="append", metavar="NAME=VALUE")
    tr.add_argument("--params-file", metavar="JSON", help="parameters from `logad tune`'s best.json (--param overrides)")
    tr.add_argument("--threshold-policy", default="alarm-budget:0.001",
                    help="alarm-budget:B (default 0.001: flag this share of normal operation, from out-of-fold "
                         "scores of every normal sequence) | train-quantile:Q (this quantile of the held-out normal "
                         "scores) | fixed:VALUE")
    tr.add_argument("--quantile", type=float, help=argparse.SUPPRESS)  # older spelling of train-quantile:Q
    tr.add_argument("--holdout", type=float, default=0.1,
                    help="with train-quantile:Q, the share of the normal sequences (the latest) held out to set the "
                         "threshold (default 0.1)")
    add_budget_args(tr)
    tr.add_argument("--save", metavar="DIR", help="model folder to write (required; or `save` in --config)")
    tr.add_argument("--quiet", action="store_true")
    add_config_arg(tr)
    tr.set_defaults(func=cmd_train)
    de = sub.add_parser("detect", help="flag anomalous sequences in new logs with a saved model")
    de.add_argument("files", nargs="*", metavar="FILE")
    de.add_argument("--input-data", nargs="+", metavar="CSV", help="LogPAI structured CSVs instead of raw logs")
    de.add_argument("--model", required=True, metavar="DIR")
    de.add_argument("--out", help="results CSV: one row per sequence with score, alarm and explanation")
    de.add_argument("--output", help=argparse.SUPPRESS)  # the Morpheus inference script's name for --out
    de.add_argument("--rollup", metavar="REGEX",
                    help="also write OUT.rollup.csv: one row per unit (the regex's first group in the sequence id or "
                         "file path), alarmed when one of its sequences is")
    de.add_argument("--report", metavar="HTML", help="write the HTML report of the alarms here (see `logad report`)")
    de.add_argument("--quiet", action="store_true")
    # --engine ray (issue 15 item 6): parse and score the files in parallel on a Ray cluster, same CSV
    de.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="local (one process) or ray: files parsed and sequences scored in parallel on a Ray "
                         "cluster, the same output (needs logad[distributed]; the files at the same path on every node)")
    de.add_argument("--address", default="auto",
                    help="--engine ray: the cluster (auto = a running one, else a local one; local; ray://HOST:10001)")
    de.set_defaults(func=cmd_detect)


def cmd_train(args) -> int:
    from logad.model import train_model
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    if not args.save:
        raise InvalidParameterError("give --save DIR (the model folder to write), or `save` in the --config file")
    if args.quantile is not None:
        args.threshold_policy = f"train-quantile:{args.quantile}"
    policy, policy_kw = budget_policy(args, default="alarm-budget:0.001")
    args.detector, file_params = params_file(args, default="knn")
    params = detector_params(args, file_params)
    loaded, name = load_source(args, progress, with_values=wants_values(args.detector, params))
    model = train_model(
        loaded,
        detector=args.detector,
        params=params,
        policy=policy,
        policy_kw=policy_kw,
        holdout=args.holdout,
        format_name="structured" if args.input_data else (args.format or _dataset_format(args.dataset)),
        progress=progress,
    )
    model.save(args.save)
    info = model.threshold_info
    budget = f", alarm budget {info['budget']:g}" if isinstance(info.get("budget"), int | float) else ""
    print(f"trained {args.detector} on {name}: threshold {model.threshold:.6g} ({describe_threshold(info)}{budget}); "
          f"saved to {args.save}")
    if info.get("warning"):
        print(f"warning: {info['warning']}", file=sys.stderr)
    return 0


def _dataset_format(name: str | None) -> str:
    from logad.datasets.registry import get_dataset

    return get_dataset(name).format if name else ""


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
    if args.engine == "ray":
        from logad.service.cluster import detect_on_ray

        summary = detect_on_ray(model, args.model, files, out, address=args.address, progress=progress,
                                rollup=args.rollup)
    else:
        summary = model.detect(files, out, progress=progress, rollup=args.rollup)
    print(
        f"{summary['sequences']} sequences, {summary['alarms']} alarms -> {out}"
        f" ({summary['unknown_template_lines']} lines with a template unseen in training)"
    )
    if args.rollup:
        print(f"{summary['units']} units, {summary['unit_alarms']} alarmed -> {summary['rollup_path']}")
    if args.report:
        from logad.cli.report import write_flag_report

        write_flag_report(args.report, "detect", out, model=args.model)
    return 0
