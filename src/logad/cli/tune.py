"""`logad tune`: hyper-parameter search on Ray Tune, objective on validation only."""

from __future__ import annotations

from logad.cli.common import add_grouping_args, add_source_args, fmt_metric, load_source, parse_params


def add_parser(sub) -> None:
    tu = sub.add_parser(
        "tune",
        help="hyper-parameter search (Ray Tune + ASHA) with an objective on validation data only",
        description="Search a detector's parameters on Ray Tune. Trials fit on the training part and are scored "
        "on the validation part; the test part never reaches a trial. Runs on a local Ray, or on a cluster "
        "with --address. Writes trials.json, best.json and Ray's experiment folder under --out; retrain the "
        "best with `logad evaluate ... --params-file OUT/best.json`, or add --retrain.",
    )
    add_source_args(tu)
    add_grouping_args(tu)
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
    fixed = parse_params(args.param)
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
    loaded, name = load_source(args, progress)
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
        f"recall {m['recall']:.4f}  ROC-AUC {fmt_metric(m.get('roc_auc'))}  threshold {ev.result['threshold']['value']:.6g} "
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
